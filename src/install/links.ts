// The host's links as install and doctor see them, through iproute2's JSON output (`ip -j`), and
// the few changes install makes for an uplink: create the network's bridge, enslave the NIC, set
// both up. The reference bridge plugin never enslaves an interface: it only creates the bridge and
// the pods' veths, so an uplink is install's job (and, after a reboot, dockin-cni's at the first
// pod: src/plugin/uplink.ts).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { type IpLink, type LinkFacts, linkFacts } from "../plugin/uplink.ts";

export interface LinkInfo extends LinkFacts {
  name: string;
}

/** Runs `ip`; throws when it cannot run at all (no iproute2), which is not "no such link". */
function ip(args: readonly string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.error !== undefined) {
    throw new Error(
      `cannot run ip (${r.error.message}): dockin reads and changes this host's links with iproute2's ip; install iproute2`,
    );
  }
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr.trim() };
}

/** The link named `name`, or undefined when there is none. */
export function linkInfo(name: string): LinkInfo | undefined {
  const shown = ip(["-j", "-d", "addr", "show", "dev", name]);
  if (!shown.ok) return undefined;
  const [l] = JSON.parse(shown.stdout) as IpLink[];
  return l === undefined ? undefined : { name, ...linkFacts(l) };
}

/** The links enslaved to `bridge`, with their kinds. */
export function bridgePorts(bridge: string): { name: string; kind: string | undefined }[] {
  const r = ip(["-j", "-d", "link", "show", "master", bridge]);
  if (!r.ok) return [];
  return (JSON.parse(r.stdout) as IpLink[]).map((l) => ({
    name: l.ifname ?? "?",
    kind: l.linkinfo?.info_kind,
  }));
}

/** Runs one `ip` change; throws with iproute2's message. */
export function ipChange(args: readonly string[]): void {
  const r = ip(args);
  if (!r.ok) throw new Error(`ip ${args.join(" ")}: ${r.stderr || "failed"}`);
}

/** Whether IPv4 forwarding is on in this network namespace, or undefined when it cannot be read. */
export function ipv4Forwarding(): boolean | undefined {
  try {
    return readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim() === "1";
  } catch {
    return undefined;
  }
}
