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
import { runProcess } from "../cni/exec.ts";
import type { Logger } from "../cni/log.ts";
import type { RecordNetwork } from "./record.ts";
import { SYSTEM_DIRS, tool } from "./routing.ts";

export interface Uplink {
  bridge: string;
  nic: string;
}

/** The bridge plugin's default bridge name. */
const DEFAULT_BRIDGE = "cni0";

/** The uplink a network's chain asks for, if any: its bridge plugin's `uplink`. */
export function uplinkOf(net: RecordNetwork): Uplink | undefined {
  const main = net.plugins[0]?.config;
  if (main?.type !== "bridge" || typeof main.uplink !== "string" || main.uplink === "") return undefined;
  const bridge = typeof main.bridge === "string" && main.bridge !== "" ? main.bridge : DEFAULT_BRIDGE;
  return { bridge, nic: main.uplink };
}

/** Whether `nic` is a port of `bridge` now, as sysfs says (false when it cannot say). */
function enslaved({ bridge, nic }: Uplink): boolean {
  try {
    const master = readlinkSync(`/sys/class/net/${nic}/master`);
    return master.slice(master.lastIndexOf("/") + 1) === bridge;
  } catch {
    return false;
  }
}

async function ip(args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const run = await runProcess(tool("ip"), args, {
    env: { PATH: SYSTEM_DIRS.join(":") },
    input: "",
    timeoutMs: 10_000,
    group: false,
  });
  return { ok: run.code === 0, stdout: run.stdout, stderr: run.stderr.trim() };
}

interface IpLink {
  master?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string };
  addr_info?: { local?: string; prefixlen?: number; scope?: string }[];
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
  if (enslaved(u)) return;
  const link = await showLink(nic, "addr");
  if (link === undefined)
    throw refuse("does not exist on this node", `create it, or name this node's NIC in ${inFile}`);
  if (link.master === bridge) return; // enslaved, where sysfs could not tell
  if (link.linkinfo?.info_kind === "bridge" || (link.flags ?? []).includes("LOOPBACK")) {
    throw refuse(
      link.linkinfo?.info_kind === "bridge" ? "is a bridge" : "is the loopback interface",
      `name a NIC (or VLAN interface) in ${inFile}`,
    );
  }
  if (link.master !== undefined) {
    throw refuse(
      `is already enslaved to ${link.master}`,
      `free it (ip link set ${nic} nomaster) or name another NIC in ${inFile}`,
    );
  }
  const held: string[] = [];
  for (const a of link.addr_info ?? []) if (a.scope === "global") held.push(`${a.local}/${a.prefixlen}`);
  if (held.length > 0) {
    throw refuse(
      `holds ${held.join(", ")} (enslaving it would cut this node off that network)`,
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
  const r = await ip(["link", "set", nic, "master", bridge, "up"]);
  if (!r.ok)
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
  const shown = await ip(["-j", "-d", what, "show", "dev", name]);
  if (!shown.ok) {
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
