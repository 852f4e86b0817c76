// Runs an IPAM plugin executable the way a runtime does: CNI_* variables, config on stdin.
import { execFile } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Case, Command, Json } from "./corpus.ts";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const OURS = join(ROOT, "dist", "bin", "dockin-ipam");
export const STATIC = "/usr/lib/cni/static";

export interface Outcome {
  ok: boolean;
  stdout: string;
  stderr: string;
  /** stdout parsed; undefined when empty. */
  json: unknown;
}

export function invoke(
  bin: string,
  command: Command,
  stdin: string,
  cniArgs: string | undefined,
  overrides: Record<string, string | null> = {},
): Promise<Outcome> {
  const env: Record<string, string> = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: "dockin-diff-1",
    CNI_NETNS: "/var/run/netns/dockin-diff",
    CNI_IFNAME: "eth0",
    CNI_PATH: "/usr/lib/cni",
  };
  if (cniArgs !== undefined) env.CNI_ARGS = cniArgs;
  for (const [key, value] of Object.entries(overrides)) {
    if (value === null) delete env[key];
    else env[key] = value;
  }
  return new Promise((resolvePromise, reject) => {
    const child = execFile(bin, [], { env, timeout: 20_000, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") {
        reject(new Error(`running ${bin} ${command}: ${err.message}`, { cause: err }));
        return;
      }
      let json: unknown;
      if (stdout.trim() !== "") {
        try {
          json = JSON.parse(stdout);
        } catch {
          reject(new Error(`${bin} ${command} printed something that is not JSON on stdout:\n${stdout}`));
          return;
        }
      }
      resolvePromise({ ok: err === null, stdout, stderr, json });
    });
    // A plugin may exit before reading stdin (a missing variable): that is not our failure.
    child.stdin?.on("error", () => {});
    child.stdin?.end(stdin);
  });
}

/** The stdin a case sends at `version`, its prevResult resolved (running ADD through `bin` for "add"). */
export async function stdinFor(c: Case, version: string, bin: string): Promise<string> {
  if (typeof c.config === "function") return c.config(version);
  const config: Json = { cniVersion: version, ...c.config };
  if (c.prevResult === "add") {
    const add = await invoke(bin, "ADD", JSON.stringify(config), c.cniArgs, c.env);
    if (!add.ok) throw new Error(`ADD before CHECK failed through ${bin}: ${add.stdout}`);
    config.prevResult = add.json;
  } else if (c.prevResult !== undefined) {
    config.prevResult = c.prevResult(version);
  }
  return JSON.stringify(config);
}

export async function runCase(c: Case, version: string, bin: string): Promise<Outcome & { stdin: string }> {
  const stdin = await stdinFor(c, version, bin);
  const out = await invoke(bin, c.command ?? "ADD", stdin, c.cniArgs, c.env);
  return { ...out, stdin };
}
