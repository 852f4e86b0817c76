// What a test run may leave on the machine, seen from outside. scripts/test.ts gives the run a tag
// (DOCKIN_TEST_RUN, 4 hex digits) that the harness's `rand()` puts into every random name, so the
// run's own things are told from those of other runs going on at the same time on this machine:
// network namespaces and links named `dk…<tag>…`, iptables rules naming them (or a container id
// holding the tag, as portmap's do), and processes left without their test (parent gone) whose
// command line or environment holds the tag (a stand-in delegate gets CNI_NETNS=…dk-<tag>…).
// Temp dirs are named `dk…` or `dockin-…` by every test (they carry no tag). A snapshot before the
// run and one after: what is new and still there fails the run.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The run's tag: 4 hex digits (rand() puts it into every name). */
export function newTag(): string {
  return Math.floor(Math.random() * 0x10000)
    .toString(16)
    .padStart(4, "0");
}

export interface Snapshot {
  namespaces: Set<string>;
  links: Set<string>;
  /** Entries of the temp dir named as the suite names its temp dirs (`dk…`, `dockin-…`). */
  temps: Set<string>;
  /** `table: rule` lines of iptables -S that are CNI's or name a suite link. */
  iptables: Set<string>;
  processes: Map<number, { ppid: number; cmd: string }>;
}

/** Names the suite gives to what it makes: namespaces and links start with `dk`. */
export const SUITE_NAME = /^dk/;
const TABLES = ["nat", "filter"] as const;

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return r.status === 0 ? r.stdout : "";
}

function namespaces(tag: string): Set<string> {
  return new Set(
    run("ip", ["netns", "list"])
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "")
      .filter((n) => SUITE_NAME.test(n) && n.includes(tag)),
  );
}

function links(tag: string): Set<string> {
  const list = JSON.parse(run("ip", ["-j", "link", "show"]) || "[]") as { ifname?: string }[];
  return new Set(list.map((l) => l.ifname ?? "").filter((n) => SUITE_NAME.test(n) && n.includes(tag)));
}

/** iptables -S lines of the run (holding its tag), and portmap's shared chains (by name). */
function iptables(tag: string): Set<string> {
  const out = new Set<string>();
  for (const table of TABLES) {
    for (const line of run("iptables", ["-w", "-t", table, "-S"]).split("\n")) {
      if (line.includes(tag) || line.includes("CNI-HOSTPORT-")) out.add(`${table}: ${line}`);
    }
  }
  return out;
}

/** The run's processes: the tag in the command line or the environment. */
function processes(tag: string): Map<number, { ppid: number; cmd: string }> {
  const out = new Map<number, { ppid: number; cmd: string }>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8");
      if (cmd.includes(tag) || environ.includes(tag)) out.set(pid, { ppid, cmd });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The suite's temp dirs and files: every test names its own `dk…` or `dockin-…` in the temp dir. */
function temps(): Set<string> {
  return new Set(readdirSync(tmpdir()).filter((n) => /^(dk|dockin-)/.test(n)));
}

export function snapshot(tag: string): Snapshot {
  return {
    namespaces: namespaces(tag),
    links: links(tag),
    temps: temps(),
    iptables: iptables(tag),
    processes: processes(tag),
  };
}

/**
 * Whether a process was left behind: its parent is init (the test that started it is gone), or a
 * process of the run that was itself left behind.
 */
function orphaned(pid: number, procs: Snapshot["processes"]): boolean {
  let p = procs.get(pid);
  for (let n = 0; p !== undefined && n < 64; n++) {
    if (p.ppid <= 1) return true;
    p = procs.get(p.ppid);
  }
  return false;
}

/** What is in `after` and not in `before` and holds the run's tag, one line each. */
export function leftovers(tag: string, before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const n of after.namespaces) if (!before.namespaces.has(n)) out.push(`network namespace ${n}`);
  for (const l of after.links) if (!before.links.has(l)) out.push(`link ${l}`);
  // Temp names carry no tag: another run's at the same time would count (CI runs alone).
  for (const t of after.temps) if (!before.temps.has(t)) out.push(`temp ${join(tmpdir(), t)}`);
  // portmap's shared chains (no tag) are removeIdlePortmapChains's, or someone else's.
  for (const r of after.iptables) if (!before.iptables.has(r) && r.includes(tag)) out.push(`iptables ${r}`);
  for (const [pid, p] of after.processes) {
    if (before.processes.get(pid)?.cmd === p.cmd || pid === process.pid) continue;
    if (!orphaned(pid, after.processes)) continue;
    out.push(`process ${pid} (parent ${p.ppid}): ${p.cmd}`);
  }
  return out;
}

/** portmap's shared chains: made at a host's first portmap ADD, never removed by portmap. */
const PORTMAP_CHAINS = [
  "CNI-HOSTPORT-DNAT",
  "CNI-HOSTPORT-SNAT",
  "CNI-HOSTPORT-MASQ",
  "CNI-HOSTPORT-SETMARK",
];

/**
 * Removes portmap's shared chains when the run made them (absent `before`) and no container uses
 * them any more (CNI-HOSTPORT-DNAT has no rule of its own). Returns what it removed.
 */
export function removeIdlePortmapChains(before: Snapshot): string[] {
  const had = (s: Set<string>, chain: string) => s.has(`nat: -N ${chain}`);
  const now = iptables("CNI-HOSTPORT-");
  const made = PORTMAP_CHAINS.filter((c) => had(now, c) && !had(before.iptables, c));
  if (made.length === 0) return [];
  const inUse = [...now].some((l) => l.startsWith("nat: -A CNI-HOSTPORT-DNAT "));
  if (inUse) return [];
  const removed: string[] = [];
  // First the rules that jump to them (from the built-in chains), then the chains.
  for (const line of now) {
    const rule = line.slice("nat: ".length);
    if (!rule.startsWith("-A ") || !made.some((c) => rule.endsWith(`-j ${c}`))) continue;
    if (made.some((c) => rule.startsWith(`-A ${c} `))) continue;
    const args = splitRule(rule.replace(/^-A /, "-D "));
    if (spawnSync("iptables", ["-w", "-t", "nat", ...args]).status === 0) removed.push(rule);
  }
  for (const c of made) {
    spawnSync("iptables", ["-w", "-t", "nat", "-F", c]);
    if (spawnSync("iptables", ["-w", "-t", "nat", "-X", c]).status === 0) removed.push(`-X ${c}`);
  }
  return removed;
}

/** An iptables -S rule split into arguments (quoted comments kept whole). */
export function splitRule(rule: string): string[] {
  const args: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(rule); m !== null; m = re.exec(rule)) args.push(m[1] ?? m[2] ?? "");
  return args;
}
