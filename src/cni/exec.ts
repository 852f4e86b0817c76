// Running a delegate plugin: find it, give it an explicit environment, its config on stdin and a
// deadline, then read its result or error. `dockin-cni` runs `bridge` this way.
import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { join } from "node:path";
import { CniError, ErrorCode } from "./errors.ts";
import type { Verb } from "./version.ts";

export interface DelegateEnv {
  command: Verb;
  containerId?: string;
  netns?: string;
  ifName?: string;
  args?: string;
  /** Directories the delegate searches for its own delegates (e.g. bridge for its IPAM plugin). */
  path: readonly string[];
}

/** Why a plugin type is not a plain executable name, or undefined when it is one. */
export function pluginNameProblem(type: string): string | undefined {
  if (type === "") return "is empty";
  if (type.includes("/") || type === "." || type === "..") return "must be a plain name, not a path";
  if (!/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(type))
    return "may hold only letters, digits, '_', '.', '+' and '-'";
  return undefined;
}

/** The path of plugin `type` in the first of `dirs` that has it as an executable file. */
export function findPlugin(type: string, dirs: readonly string[]): string {
  const problem = pluginNameProblem(type);
  if (problem !== undefined) {
    throw new CniError(ErrorCode.InvalidConfig, `plugin type "${type}" ${problem}`);
  }
  for (const dir of dirs) {
    const file = join(dir, type);
    try {
      if (statSync(file).isFile()) {
        accessSync(file, constants.X_OK);
        return file;
      }
    } catch {
      // not here; try the next directory
    }
  }
  throw new CniError(
    ErrorCode.PluginNotAvailable,
    `failed to find plugin "${type}" in path [${dirs.join(" ")}]: install it there or fix binDir/CNI_PATH`,
  );
}

export interface ExecOptions {
  file: string;
  env: DelegateEnv;
  /** The config: an object is sent as JSON; a string is sent as it is (already JSON text). */
  stdin: unknown;
  timeoutMs: number;
  /** Variables from our own environment to pass on (PATH by default, so bridge finds iptables). */
  inherit?: readonly string[];
}

function delegateEnvironment(opts: ExecOptions): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const name of opts.inherit ?? ["PATH"]) {
    const value = process.env[name];
    if (value !== undefined) out[name] = value;
  }
  const e = opts.env;
  out.CNI_COMMAND = e.command;
  if (e.containerId !== undefined) out.CNI_CONTAINERID = e.containerId;
  if (e.netns !== undefined) out.CNI_NETNS = e.netns;
  if (e.ifName !== undefined) out.CNI_IFNAME = e.ifName;
  if (e.args !== undefined) out.CNI_ARGS = e.args;
  out.CNI_PATH = e.path.join(":");
  return out;
}

const MAX_OUTPUT = 4 * 1024 * 1024;

/**
 * Runs a plugin and returns its parsed stdout (undefined when empty, as for DEL). A failure is
 * thrown as a CniError carrying the plugin's own code and message; a plugin still running at the
 * deadline is killed and reported as error 11 (try again later).
 */
export function execPlugin(opts: ExecOptions): Promise<unknown> {
  const name = opts.file.slice(opts.file.lastIndexOf("/") + 1);
  const what = `${name} ${opts.env.command}`;
  return new Promise((resolve, reject) => {
    // Its own process group, so that the deadline kills whatever it started too (bridge runs its
    // IPAM plugin; a shell script runs its commands), not only the process we started.
    const child = spawn(opts.file, [], {
      env: delegateEnvironment(opts),
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, opts.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes <= MAX_OUTPUT) out.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (err.length < 64) err.push(chunk);
    });
    child.stdin.on("error", () => {
      // The plugin may exit without reading stdin; its exit status tells what happened.
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(
        new CniError(ErrorCode.PluginNotAvailable, `running ${what} (${opts.file}): ${e.message}`, {
          cause: e,
        }),
      );
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8").trim();
      const stderr = Buffer.concat(err).toString("utf8").trim().slice(0, 2000);
      if (timedOut) {
        reject(
          new CniError(
            ErrorCode.TryAgainLater,
            `${what} did not finish within ${opts.timeoutMs} ms and was killed`,
          ),
        );
        return;
      }
      let parsed: unknown;
      try {
        parsed = stdout === "" ? undefined : JSON.parse(stdout);
      } catch {
        parsed = undefined;
        if (code === 0) {
          reject(
            new CniError(
              ErrorCode.DecodeFailure,
              `${what} printed output that is not JSON: ${stdout.slice(0, 200)}`,
            ),
          );
          return;
        }
      }
      if (code === 0) {
        resolve(parsed);
        return;
      }
      const obj = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>;
      // A failure must never carry code 0 (bridge 1.1.1 prints one when its IPAM's exec fails).
      const delegateCode =
        typeof obj.code === "number" && obj.code !== 0 ? obj.code : ErrorCode.DelegateFailed;
      const msg =
        typeof obj.msg === "string"
          ? obj.msg
          : stderr || stdout || `exited with ${signal ?? `status ${code}`}`;
      const details = typeof obj.details === "string" && obj.details !== "" ? `; ${obj.details}` : "";
      reject(new CniError(delegateCode, `${what} failed: ${msg}${details}`, { details: stderr }));
    });
    child.stdin.end(typeof opts.stdin === "string" ? opts.stdin : JSON.stringify(opts.stdin));
  });
}
