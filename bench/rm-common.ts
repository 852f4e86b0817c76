// Shared by the RM benchmarks: the RM and a bare Bun.serve server (on the RM's runtime, the pinned
// Bun) as child processes, autocannon through its programmatic API, medians.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const bun = join(root, "node_modules", "@oven", "bun-linux-x64", "bin", "bun");
export const dockin = join(root, "dist", "bin", "dockin");

export interface CannonResult {
  requests: { average: number; total: number };
  latency: { p99: number; average: number };
  non2xx: number;
  errors: number;
}

interface CannonOptions {
  url: string;
  connections: number;
  duration: number;
  requests?: { method?: string; path?: string; setupRequest?: (req: { path: string }) => { path: string } }[];
}

// autocannon ships no types: its API is typed here for what the benchmarks use.
const autocannon = createRequire(import.meta.url)("autocannon") as (
  opts: CannonOptions,
) => Promise<CannonResult>;

export function cannon(opts: CannonOptions): Promise<CannonResult> {
  return autocannon(opts);
}

export { median } from "./stats.ts";

export interface Child {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

function waitForUrl(proc: ChildProcess, pattern: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${text}`)), 15_000);
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const m = pattern.exec(text);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        // From here on the output is drained unread (the RM logs every write).
        proc.stdout?.off("data", onData);
        proc.stderr?.off("data", onData);
        proc.stdout?.resume();
        proc.stderr?.resume();
        resolve(m[1]);
      }
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    proc.once("exit", (code) => reject(new Error(`${what} exited (${code}): ${text}`)));
  });
}

const stopper = (proc: ChildProcess) => () =>
  new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once("exit", () => resolve());
    proc.kill("SIGTERM");
  });

/** `dockin rm serve` on a free loopback port over `store` (dist/bin/dockin, or another build's). */
export async function startRm(store: string, extra: string[] = [], exe = dockin): Promise<Child> {
  if (!existsSync(exe)) throw new Error(`${exe} is missing: run \`npm run build\``);
  const proc = spawn(exe, ["rm", "serve", "--listen", "127.0.0.1:0", "--store", store, ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const url = await waitForUrl(proc, /"msg":"listening".*?"url":"([^"]+)"/, "the RM");
  return { url, proc, stop: stopper(proc) };
}

/**
 * A bare `Bun.serve` server on the pinned Bun answering every request with `body` (the same headers
 * as the RM): the RM serves on Bun.serve, so this is the bare server of its runtime.
 */
export async function startBare(body: string): Promise<Child> {
  const code = `
    const body = process.env.BODY;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 65,
      fetch: () => new Response(body, { headers: { "content-type": "application/json" } }),
    });
    console.log("url=http://127.0.0.1:" + server.port);
    process.on("SIGTERM", () => process.exit(0));
  `;
  const proc = spawn(bun, ["-e", code], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, BODY: body },
  });
  const url = await waitForUrl(proc, /url=(\S+)/, "the bare server");
  return { url, proc, stop: stopper(proc) };
}

export async function call(url: string, method: string, body?: unknown): Promise<unknown> {
  const init: RequestInit = { method };
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(url, init);
  const json = (await r.json()) as unknown;
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** PUTs `count` new pods on `network` from `concurrency` clients; resolves with allocations per second. */
export async function allocate(
  url: string,
  network: string,
  prefix: string,
  count: number,
  concurrency = 16,
): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const r = await fetch(`${url}/api/v1/pods/alloc/${prefix}-${i}`, {
        method: "PUT",
        body: JSON.stringify({ networks: [{ network }] }),
      });
      if (r.status !== 201) throw new Error(`allocation ${i}: HTTP ${r.status} ${await r.text()}`);
      await r.arrayBuffer().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}
