// Source-based policy routing for non-master networks with a gateway: a table of its own (the
// subnet and a default route via the gateway) and a rule `from <address> lookup <table>`, so that
// replies leave by the interface the request came in on. Done with iproute2 inside the pod's
// netns: `ip -n <name> -batch -` for a named namespace (the runtimes' usual /var/run/netns/<name>),
// else `nsenter --net=<path> ip -batch -`; one process per network and family.
import { accessSync, constants, existsSync } from "node:fs";
import { sameFile } from "../cni/env.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { runProcess } from "../cni/exec.ts";
import { formatPrefix, networkOf, parsePrefix } from "../net/ip.ts";
import type { RecordNetwork } from "./record.ts";

/** Tables are `TABLE_BASE + the entry's position in the reply`; the rule's priority equals it. */
export const TABLE_BASE = 1000;

const SYSTEM_DIRS = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
const found = new Map<string, string>();

/** The path of a system tool (`ip`, `nsenter`), found once in SYSTEM_DIRS. */
function tool(name: string): string {
  const cached = found.get(name);
  if (cached) return cached;
  for (const dir of SYSTEM_DIRS) {
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      found.set(name, `${dir}/${name}`);
      return `${dir}/${name}`;
    } catch {
      // next
    }
  }
  throw new CniError(
    ErrorCode.PluginNotAvailable,
    `"${name}" not found in ${SYSTEM_DIRS.join(":")} (install iproute2 / util-linux)`,
  );
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where `ip -n <name>` opens a named namespace (iproute2's NETNS_RUN_DIR). */
const NETNS_RUN_DIR = "/var/run/netns";

/**
 * The command that runs `ip args` inside `netns`: `ip -n <name>` when the namespace is a named one
 * (one process, where nsenter and ip are two: about 1 ms of every non-master network's attach),
 * else nsenter. The name is used only when NETNS_RUN_DIR/<name> is that very namespace.
 */
export function ipIn(netns: string, args: readonly string[]): { file: string; args: string[] } {
  const name = netns.slice(netns.lastIndexOf("/") + 1);
  const named = name !== "" && name !== "." && name !== ".." && netns.endsWith(`/netns/${name}`);
  if (named && sameFile(`${NETNS_RUN_DIR}/${name}`, netns)) {
    return { file: tool("ip"), args: ["-n", name, ...args] };
  }
  return { file: tool("nsenter"), args: [`--net=${netns}`, tool("ip"), ...args] };
}

/** Runs a system tool with only PATH in its environment; its stderr trimmed. */
async function runTool(
  command: { file: string; args: string[] },
  input: string | Promise<string> | undefined,
  timeoutMs = 10_000,
): Promise<Run> {
  const run = await runProcess(command.file, command.args, {
    env: { PATH: SYSTEM_DIRS.join(":") },
    input: input ?? "",
    timeoutMs,
    group: false,
  });
  return { code: run.code ?? 1, stdout: run.stdout, stderr: run.stderr.trim() };
}

const runIn = (
  netns: string,
  args: string[],
  input: string | Promise<string> | undefined,
  timeoutMs?: number,
) => runTool(ipIn(netns, args), input, timeoutMs);

/** `ip args` in this process's own network namespace (the host's, for a plugin). */
export const runIp = (args: string[]): Promise<Run> => runTool({ file: tool("ip"), args }, "");

export interface PolicyAddress {
  /** ip/len */
  address: string;
  gateway: string;
  family: 4 | 6;
}

/** The addresses of a network that get policy routing: those with a gateway (non-master only). */
export function policyAddresses(net: RecordNetwork): PolicyAddress[] {
  if (net.master || net.table === undefined) return [];
  const out: PolicyAddress[] = [];
  for (const a of net.addresses) {
    if (a.gateway !== undefined) out.push({ address: a.address, gateway: a.gateway, family: a.family });
  }
  return out;
}

/** iproute2 batch lines per family (`ip -batch` takes no family option per line). */
function commands(net: RecordNetwork, verb: "add" | "del"): Map<4 | 6, string[]> {
  const table = net.table!;
  const out = new Map<4 | 6, string[]>();
  for (const a of policyAddresses(net)) {
    const prefix = parsePrefix(a.address)!;
    const host = a.address.split("/")[0]!;
    const lines = out.get(a.family) ?? [];
    if (verb === "add") {
      lines.push(`route add ${formatPrefix(networkOf(prefix))} dev ${net.ifName} table ${table}`);
      lines.push(`route add default via ${a.gateway} dev ${net.ifName} table ${table} onlink`);
    }
    lines.push(`rule ${verb} from ${host} lookup ${table} priority ${table}`);
    out.set(a.family, lines);
  }
  return out;
}

/**
 * Adds the network's table and rules once `attached` (its chain's ADD) has resolved; throws with
 * iproute2's message on failure. Each family's `ip -batch -` starts at once and reads its commands
 * when the interface is there: its start-up (about 1.5 ms, most of it loading iproute2's
 * libraries and entering the namespace) overlaps the chain instead of following it. When
 * `attached` rejects, the processes get no command and exit; this resolves once they have.
 */
export async function addPolicy(
  netns: string,
  net: RecordNetwork,
  attached: Promise<unknown> = Promise.resolve(),
): Promise<void> {
  const runs: Promise<Run>[] = [];
  for (const [family, lines] of commands(net, "add")) {
    const input = attached.then(() => `${lines.join("\n")}\n`);
    input.catch(() => {}); // a failed chain is reported by its caller, even if `ip` never started
    runs.push(runIn(netns, [`-${family}`, "-batch", "-"], input));
  }
  const outcomes = await Promise.allSettled(runs);
  let chainFailed = false;
  await attached.catch(() => {
    chainFailed = true;
  });
  if (chainFailed) return;
  for (const outcome of outcomes) {
    if (outcome.status === "rejected") throw outcome.reason;
    if (outcome.value.code !== 0) {
      throw new CniError(
        ErrorCode.DelegateFailed,
        `adding policy routing for network "${net.name}" (${net.ifName}, table ${net.table}): ${outcome.value.stderr}`,
      );
    }
  }
}

/** Removes the network's rules (its routes go with the interface); missing ones are fine. */
export async function removePolicy(netns: string, net: RecordNetwork): Promise<void> {
  for (const [family, lines] of commands(net, "del")) {
    await runIn(netns, [`-${family}`, "-force", "-batch", "-"], `${lines.join("\n")}\n`);
  }
}

interface IpRule {
  src?: string;
  table?: string;
  priority?: number;
}
interface IpRoute {
  dst?: string;
  gateway?: string;
  dev?: string;
}

/** What is missing of the network's policy routing (empty when all is there). */
export async function checkPolicy(netns: string, net: RecordNetwork): Promise<string[]> {
  const problems: string[] = [];
  for (const family of [4, 6] as const) {
    const wanted = policyAddresses(net).filter((a) => a.family === family);
    if (wanted.length === 0) continue;
    const rules = await runIn(netns, [`-${family}`, "-j", "rule", "show"], undefined);
    const routes = await runIn(
      netns,
      [`-${family}`, "-j", "route", "show", "table", String(net.table)],
      undefined,
    );
    if (rules.code !== 0) {
      problems.push(`cannot list rules: ${rules.stderr}`);
      continue;
    }
    const ruleList = JSON.parse(rules.stdout || "[]") as IpRule[];
    const routeList = routes.code === 0 ? (JSON.parse(routes.stdout || "[]") as IpRoute[]) : [];
    for (const a of wanted) {
      const host = a.address.split("/")[0]!;
      if (!ruleList.some((r) => r.src === host && String(r.table) === String(net.table))) {
        problems.push(`rule "from ${host} lookup ${net.table}" is missing`);
      }
      if (!routeList.some((r) => r.dst === "default" && r.gateway === a.gateway && r.dev === net.ifName)) {
        problems.push(`default route via ${a.gateway} dev ${net.ifName} in table ${net.table} is missing`);
      }
    }
  }
  return problems;
}

/**
 * The interfaces in the pod's netns other than loopback; none when the netns is gone (its veths
 * went with it). Used by DEL when neither the record nor the backend can say what is attached.
 */
export async function podLinks(netns: string): Promise<string[]> {
  if (netns === "" || !existsSync(netns)) return [];
  const run = await runIn(netns, ["-j", "link", "show"], undefined);
  if (run.code !== 0) {
    throw new CniError(ErrorCode.IOFailure, `listing the interfaces in ${netns}: ${run.stderr}`);
  }
  const links = JSON.parse(run.stdout || "[]") as { ifname: string }[];
  const names: string[] = [];
  for (const l of links) if (l.ifname !== "lo") names.push(l.ifname);
  return names;
}
