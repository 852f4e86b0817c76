// What the plugin benchmarks share: one CNI call of a plugin executable, its environment, the
// page-cache state of the executables they time, and the removal of what a run made on the host.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readMarksFromNow, removeReadMark } from "../src/install/launcher.ts";

/** Runs a CNI plugin (or any program) with `env` and `stdin`; rejects with its output on failure. */
export function runPlugin(file: string, env: NodeJS.ProcessEnv, stdin: string): Promise<void> {
  return new Promise((done, reject) => {
    const child = spawn(file, [], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => out.push(c));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0)
        reject(new Error(`${file} ${env.CNI_COMMAND ?? ""} exited ${code}: ${Buffer.concat(out)}`));
      else done();
    });
    child.stdin.on("error", () => {}); // a program that exits without reading its stdin
    child.stdin.end(stdin);
  });
}

/** A CNI call's environment for pod `pod` of namespace `podNamespace`, its netns named `ns`. */
export function cniEnv(
  command: string,
  call: { ns: string; cid: string; pod: string; podNamespace: string; ifName?: string; path?: string },
): NodeJS.ProcessEnv {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: call.cid,
    CNI_NETNS: `/var/run/netns/${call.ns}`,
    CNI_IFNAME: call.ifName ?? "eth0",
    CNI_PATH: call.path ?? "/usr/lib/cni",
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${call.podNamespace};K8S_POD_NAME=${call.pod};K8S_POD_INFRA_CONTAINER_ID=${call.cid}`,
  };
}

/** Removes the namespaces and bridges a bench made (the bridge plugin leaves its bridges). */
export function removeHostState(namespaces: Iterable<string>, bridges: Iterable<string>): void {
  for (const ns of namespaces) execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  for (const br of bridges) {
    try {
      execFileSync("ip", ["link", "del", br], { stdio: "ignore" });
    } catch {
      // never created
    }
  }
}

/**
 * How the timed executables sit in the page cache, which moves a Bun executable's start by more
 * than anything in its code (BENCHMARKS.md, "The page cache"):
 * - `read`: read whole, as an install's copy or a `cat` leaves a file: cached in large folios,
 *   so that one fault maps many pages;
 * - `faulted`: dropped from the cache, as after a boot: the first run brings it back. dockin-cni's
 *   launcher then reads the executable whole first (its read mark, in /run, is removed here as a
 *   boot removes it); a program run directly faults it in a page at a time, and every later run
 *   pays for those small pages.
 */
export type PageCacheState = "read" | "faulted";

/**
 * Puts every file in `files` (symbolic links followed) in `state`: its cached pages dropped
 * (POSIX_FADV_DONTNEED, by GNU dd; pages that a running process maps stay), then, for `read`,
 * read whole.
 */
export function settlePageCache(files: readonly string[], state: PageCacheState): () => void {
  if (state === "faulted") for (const file of files) removeReadMark(dirname(file));
  const forgetReadMarks = readMarksFromNow();
  for (const file of new Set(files.map((f) => realpathSync(f)))) {
    execFileSync("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]);
    if (state === "read") execFileSync("dd", [`if=${file}`, "of=/dev/null", "bs=1M", "status=none"]);
  }
  // The launcher's marks the bench's runs will make, removed at its end by what this returns.
  return () => void forgetReadMarks();
}

/** A bench's positional arguments and its `--page-cache=read|faulted` (read by default). */
export function benchArgs(): { args: string[]; pageCache: PageCacheState } {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { "page-cache": { type: "string", default: "read" } },
  });
  const state = values["page-cache"];
  if (state !== "read" && state !== "faulted")
    throw new Error(`--page-cache must be read or faulted, not ${JSON.stringify(state)}`);
  return { args: positionals, pageCache: state };
}

/**
 * The builds a plugin bench times, by name: this checkout's dist/bin as "dockin-cni", and
 * `otherDir` (another build's directory holding its dockin-cni and dockin-ipam) when given.
 */
export function benchBuilds(root: string, otherDir: string | undefined): Record<string, string> {
  const builds: Record<string, string> = { "dockin-cni": join(root, "dist", "bin") };
  if (otherDir !== undefined) builds[`other (${otherDir})`] = resolve(otherDir);
  for (const dir of Object.values(builds))
    for (const f of ["dockin-cni", "dockin-ipam"])
      if (!existsSync(join(dir, f))) throw new Error(`${join(dir, f)} is missing: run \`npm run build\``);
  return builds;
}

/** The executables a plugin bench times: Go's bridge and static, and each build's two plugins. */
export const timedExecutables = (builds: Record<string, string>): string[] => [
  "/usr/lib/cni/bridge",
  "/usr/lib/cni/static",
  ...Object.values(builds).flatMap((dir) => [join(dir, "dockin-cni"), join(dir, "dockin-ipam")]),
];
