// A network behind an uplink: its bridge enslaves one of the node's NICs (`uplink` in the bridge
// plugin's config, which the bridge plugin itself ignores). `dockin install` makes it so, but the
// kernel keeps no link across a reboot, and the bridge plugin would re-create the bridge at the
// first pod without its NIC: pods that cannot reach their gateway, and nothing that says so. So
// every ADD checks that the NIC is the bridge's port (one readlink of sysfs) and, when it is not,
// makes it so as install does, with install's refusals: a NIC that is missing, is a bridge or the
// loopback, is another bridge's port or holds addresses (enslaving it would cut the node off that network) fails
// the ADD, naming the NIC and the fix.
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
 * Makes `u.nic` a port of `u.bridge` (creating the bridge, up, when it is missing), unless it is
 * one already; throws a CniError naming the NIC and the fix when it may not be one (the caller
 * names the network). `network` names it in the log, `confDir` says where its file is.
 */
export async function ensureUplink(
  u: Uplink,
  { network, confDir, log }: { network: string; confDir: string; log: Logger },
): Promise<void> {
  const { bridge, nic } = u;
  const refuse = (why: string, fix: string) =>
    new CniError(
      ErrorCode.InvalidConfig,
      `its uplink ${nic} ${why}, so the bridge ${bridge} cannot enslave it; ${fix}`,
    );
  const problem = ifNameProblem(nic);
  if (problem !== undefined) {
    throw refuse(
      `is not an interface name (it ${problem})`,
      `fix "uplink" in the network's file in ${confDir}`,
    );
  }
  if (enslaved(u)) return;
  const shown = await ip(["-j", "-d", "addr", "show", "dev", nic]);
  const [link] = shown.ok ? (JSON.parse(shown.stdout) as IpLink[]) : [];
  if (link === undefined) {
    throw refuse(
      "does not exist on this node",
      `create it, or name this node's NIC in "uplink" of the network's file in ${confDir}`,
    );
  }
  if (link.master === bridge) return; // enslaved, where sysfs could not tell
  if (link.linkinfo?.info_kind === "bridge" || (link.flags ?? []).includes("LOOPBACK")) {
    throw refuse(
      link.linkinfo?.info_kind === "bridge" ? "is a bridge" : "is the loopback interface",
      `name a NIC (or VLAN interface) in "uplink" of the network's file in ${confDir}`,
    );
  }
  if (link.master !== undefined) {
    throw refuse(
      `is already enslaved to ${link.master}`,
      `free it (ip link set ${nic} nomaster) or name another NIC in "uplink" of the network's file in ${confDir}`,
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
  // As `dockin install` does. A concurrent ADD may have made the bridge first.
  const made = await ip(["link", "add", bridge, "type", "bridge"]);
  const created = made.ok;
  if (!made.ok && !/exists/i.test(made.stderr)) {
    throw new CniError(
      ErrorCode.IOFailure,
      `creating the bridge ${bridge} for its uplink ${nic}: ${made.stderr}`,
    );
  }
  for (const args of [
    ["link", "set", bridge, "up"],
    ["link", "set", nic, "master", bridge, "up"],
  ]) {
    const r = await ip(args);
    if (!r.ok) {
      throw new CniError(ErrorCode.IOFailure, `enslaving its uplink: ip ${args.join(" ")}: ${r.stderr}`);
    }
  }
  log.warn(
    `uplink ${nic} was not a port of ${bridge} (after a reboot?): ${created ? `created ${bridge} and ` : ""}enslaved it`,
    { network },
  );
}
