// A network behind an uplink: its bridge enslaves one of the node's NICs (`uplink` in the bridge
// plugin's config, which the bridge plugin itself ignores). `dockin install` makes it so, but the
// kernel keeps no link across a reboot, and the bridge plugin would re-create the bridge at the
// first pod without its NIC: pods that cannot reach their gateway, and nothing that says so. So
// every ADD checks, once the network's chain has attached, that the NIC is the bridge's port (one
// readlink of sysfs) and, when it is not, enslaves it, with install's refusals: a NIC that is
// missing, is a bridge or the loopback, is another bridge's port or holds addresses (enslaving it
// would cut the node off that network) fails the ADD, naming the NIC and the fix.
import { readlinkSync } from "node:fs";
import { ifNameProblem } from "../cni/checks.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { Logger } from "../cni/log.ts";
import type { RecordNetwork } from "./record.ts";
import { runIp } from "./routing.ts";

export interface Uplink {
  bridge: string;
  nic: string;
}

type Json = Record<string, unknown>;

/** A bridge plugin config's bridge: its `bridge`, else the bridge plugin's default. */
export const bridgeNameOf = (config: Json): string =>
  typeof config.bridge === "string" && config.bridge !== "" ? config.bridge : "cni0";

/** The uplink a bridge plugin config asks for, if any (its `uplink`, which the plugin ignores). */
export function uplinkOfConfig(config: Json): Uplink | undefined {
  if (typeof config.uplink !== "string" || config.uplink === "") return undefined;
  return { bridge: bridgeNameOf(config), nic: config.uplink };
}

/** The uplink a network's chain asks for, if any: its bridge plugin's `uplink`. */
export function uplinkOf(net: RecordNetwork): Uplink | undefined {
  const main = net.plugins[0]?.config;
  return main?.type === "bridge" ? uplinkOfConfig(main) : undefined;
}

/** The bridge (or bond…) `link` is a port of now, as sysfs says; undefined when none (or no such link). */
export function sysfsMaster(link: string): string | undefined {
  try {
    const master = readlinkSync(`/sys/class/net/${link}/master`);
    return master.slice(master.lastIndexOf("/") + 1);
  } catch {
    return undefined;
  }
}

/** What of a link matters to an uplink, as `ip -j -d addr show dev NAME` gives it. */
export interface LinkFacts {
  /** The bridge (or bond…) it is a port of. */
  master: string | undefined;
  /** `bridge`, `veth`, `vlan`… (undefined for a plain NIC). */
  kind: string | undefined;
  up: boolean;
  /** The loopback interface (`lo`), which no bridge can enslave. */
  loopback: boolean;
  /** Addresses with scope global, as `a.b.c.d/len`. */
  addresses: string[];
}

/** One link of `ip -j -d addr show`'s output. */
export interface IpLink {
  ifname?: string;
  master?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string };
  addr_info?: { local?: string; prefixlen?: number; scope?: string }[];
}

export function linkFacts(l: IpLink): LinkFacts {
  const addresses: string[] = [];
  for (const a of l.addr_info ?? [])
    if (a.scope === "global" && a.local !== undefined) addresses.push(`${a.local}/${a.prefixlen}`);
  const flags = l.flags ?? [];
  return {
    master: l.master,
    kind: l.linkinfo?.info_kind,
    up: flags.includes("UP"),
    loopback: flags.includes("LOOPBACK"),
    addresses,
  };
}

/**
 * Whether a NIC may be `bridge`'s uplink, by the rules install, doctor and dockin-cni share: it is
 * its port already; or free to become one; or it may not, being a bridge, the loopback, another
 * bridge's port, or holding addresses (enslaving it would cut the host off that network).
 */
export type UplinkVerdict =
  | { is: "port" }
  | { is: "free" }
  | { is: "bridge" }
  | { is: "loopback" }
  | { is: "taken"; master: string }
  | { is: "holds"; addresses: string[] };

export function uplinkVerdict(nic: LinkFacts, bridge: string): UplinkVerdict {
  if (nic.master === bridge) return { is: "port" };
  if (nic.kind === "bridge") return { is: "bridge" };
  if (nic.loopback) return { is: "loopback" };
  if (nic.master !== undefined) return { is: "taken", master: nic.master };
  if (nic.addresses.length > 0) return { is: "holds", addresses: nic.addresses };
  return { is: "free" };
}

/**
 * Makes `u.nic` a port of `u.bridge`, unless it is one already; called once the network's chain has
 * attached, so the bridge is there, made by the bridge plugin with the network's own settings
 * (`mtu`, `vlan`, `promiscMode`). Throws a CniError naming the NIC and the fix when it may not be
 * one (the caller names the network). `network` names it in the log, `confDir` says where its file
 * is.
 */
export async function ensureUplink(
  u: Uplink,
  { network, confDir, log }: { network: string; confDir: string; log: Logger },
): Promise<void> {
  const { bridge, nic } = u;
  const inFile = `"uplink" of the network's file in ${confDir}`;
  const refuse = (why: string, fix: string) =>
    new CniError(
      ErrorCode.InvalidConfig,
      `its uplink ${nic} ${why}, so the bridge ${bridge} cannot enslave it; ${fix}`,
    );
  const problem = ifNameProblem(nic);
  if (problem !== undefined) throw refuse(`is not an interface name (it ${problem})`, `fix ${inFile}`);
  if (sysfsMaster(nic) === bridge) return;
  const link = await showLink(nic, "addr");
  if (link === undefined)
    throw refuse("does not exist on this node", `create it, or name this node's NIC in ${inFile}`);
  const verdict = uplinkVerdict(linkFacts(link), bridge);
  switch (verdict.is) {
    case "port":
      return; // enslaved, where sysfs could not tell
    case "bridge":
    case "loopback":
      throw refuse(
        verdict.is === "bridge" ? "is a bridge" : "is the loopback interface",
        `name a NIC (or VLAN interface) in ${inFile}`,
      );
    case "taken":
      throw refuse(
        `is already enslaved to ${verdict.master}`,
        `free it (ip link set ${nic} nomaster) or name another NIC in ${inFile}`,
      );
    case "holds":
      throw refuse(
        `holds ${verdict.addresses.join(", ")} (enslaving it would cut this node off that network)`,
        "use a NIC or VLAN interface for the pods alone, or move its addresses to the bridge yourself",
      );
  }
  // The bridge plugin refuses a link of the bridge's name that is not a bridge; checked again here,
  // so that a NIC never goes into a bond or a VRF of that name.
  const br = await showLink(bridge, "link");
  if (br?.linkinfo?.info_kind !== "bridge") {
    throw refuse(
      br === undefined
        ? "has no bridge to go to (it is not there)"
        : `would go to ${bridge}, which is not a bridge (it is ${br.linkinfo?.info_kind ?? "a plain link"})`,
      `check "bridge" in the network's file in ${confDir}`,
    );
  }
  const r = await runIp(["link", "set", nic, "master", bridge, "up"]);
  if (r.code !== 0)
    throw new CniError(
      ErrorCode.IOFailure,
      `enslaving its uplink: ip link set ${nic} master ${bridge} up: ${r.stderr}`,
    );
  log.warn(`uplink ${nic} was not a port of ${bridge} (after a reboot?): enslaved it`, { network });
}

/**
 * A link as `ip -j -d <what> show dev <name>` gives it; undefined when there is no such link.
 * Any other failure of `ip` (a timeout, an iproute2 without JSON output) throws, with its message.
 */
async function showLink(name: string, what: "addr" | "link"): Promise<IpLink | undefined> {
  const shown = await runIp(["-j", "-d", what, "show", "dev", name]);
  if (shown.code !== 0) {
    if (/does not exist|cannot find device/i.test(shown.stderr)) return undefined;
    throw new CniError(
      ErrorCode.IOFailure,
      `reading the link ${name}: ip ${what} show: ${shown.stderr || "failed"}`,
    );
  }
  try {
    return (JSON.parse(shown.stdout) as IpLink[])[0];
  } catch {
    throw new CniError(
      ErrorCode.IOFailure,
      `reading the link ${name}: ip -j gave no JSON (iproute2 4.14 or later is needed)`,
    );
  }
}
