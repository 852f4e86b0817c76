// Running a delegate plugin: find it, give it an explicit environment, its config on stdin and a
// deadline, then read its result or error. `dockin-cni` runs `bridge` this way.
import { accessSync, constants, statSync } from "node:fs";
import { decodeUtf8, isName } from "../net/chars.ts";
import { CniError, ErrorCode } from "./errors.ts";
import { joinPath } from "./path.ts";
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
  if (!isName(type, "_.+-")) return "may hold only letters, digits, '_', '.', '+' and '-'";
  return undefined;
}

/** The path of plugin `type` in the first of `dirs` that has it as an executable file. */
export function findPlugin(type: string, dirs: readonly string[]): string {
  const problem = pluginNameProblem(type);
  if (problem !== undefined) {
    throw new CniError(ErrorCode.InvalidConfig, `plugin type "${type}" ${problem}`);
  }
  for (const dir of dirs) {
    const file = joinPath(dir, type);
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
  /** Variables of ours to add (what the delegate's own delegates should get). */
  extraEnv?: Readonly<Record<string, string>>;
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
  for (const [name, value] of Object.entries(opts.extraEnv ?? {})) out[name] = value;
  return out;
}

const MAX_OUTPUT = 4 * 1024 * 1024;
const MAX_STDERR = 64 * 1024;
/** What a process may write to its stdout and stderr in all before it is killed as a runaway. */
const MAX_WRITTEN = 64 * 1024 * 1024;

/** What a finished process left: its status and what it printed. */
export interface RunOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed at the deadline. */
  timedOut: boolean;
  /** Killed for writing more than a plugin ever needs to (a runaway must not fill the disk). */
  overflowed?: boolean;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  /**
   * Written to the process's stdin. A promise: the process starts at once and waits for its input
   * (a program that reads stdin line by line, as `ip -batch -`, pays its start-up meanwhile); the
   * deadline runs from the moment the input is written. A rejected promise closes stdin empty.
   */
  input: string | Promise<string>;
  timeoutMs: number;
  /**
   * Its own process group, killed whole at the deadline (what it started goes too); otherwise
   * only the process is killed.
   */
  group: boolean;
}

/**
 * Reads `stream` to its end and returns its first `max` bytes as text; `onBytes` sees every
 * chunk's size (the runaway check). Resolves early with what it has when `stop` resolves (a
 * descendant that escaped the kill still holds the pipe open: it must not hold the caller too).
 */
async function drain(
  stream: ReadableStream<Uint8Array>,
  max: number,
  onBytes: (n: number) => void,
  stop: Promise<void>,
): Promise<string> {
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  const reader = stream.getReader();
  // A stop cancels the stream, which ends the pending read as if the pipe had closed (cheaper than
  // racing every read against the stop: Promise.race is compiled at its first call).
  let stopped = false;
  void stop.then(() => {
    stopped = true;
    reader.cancel().catch(() => {});
  });
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done || stopped) break;
      const chunk = next.value;
      onBytes(chunk.length);
      if (keptBytes < max) {
        const part = chunk.length <= max - keptBytes ? chunk : chunk.subarray(0, max - keptBytes);
        kept.push(part);
        keptBytes += part.length;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return decodeUtf8(kept, true);
}

/** How long the pipes may stay open once the process has exited (its descendants hold them). */
const LINGER_MS = 2000;

/**
 * Runs `file` with `args` through the runtime's own spawn (Bun.spawn: node:child_process costs a
 * plugin about 2 ms to load and more per spawn; BENCHMARKS.md): its stdin is `opts.input` (Bun hands
 * it over in a memfd, closed when the process object is collected), its stdout and stderr are read
 * through pipes. Resolves when it has exited and its output is read. Rejects only when it could not be started (the spawn error, with its
 * `code`: ENOENT, EACCES, ETXTBSY).
 */
export async function runProcess(
  file: string,
  args: readonly string[],
  opts: RunOptions,
): Promise<RunOutcome> {
  const input = opts.input;
  const child = Bun.spawn([file, ...args], {
    env: opts.env,
    stdin: typeof input === "string" ? new TextEncoder().encode(input) : "pipe",
    stdout: "pipe",
    stderr: "pipe",
    // Its own process group (setsid), so that a kill reaches what it started too.
    detached: opts.group,
  });
  let timedOut = false;
  let overflowed = false;
  const kill = () => {
    try {
      if (opts.group) process.kill(-child.pid, "SIGKILL");
      else child.kill("SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  };
  let release: () => void = () => {};
  const stop = new Promise<void>((r) => {
    release = r;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finished = false;
  const arm = () => {
    if (finished) return; // it exited before its input came: nothing to time
    timer = setTimeout(() => {
      timedOut = true;
      kill();
      release();
    }, opts.timeoutMs);
  };
  if (typeof input === "string") arm();
  else {
    const sink = child.stdin as import("bun").FileSink;
    // Writing to a process that has exited fails (EPIPE), at once or in the promise returned:
    // its outcome says why it exited.
    const quiet = (written: unknown) => {
      if (written instanceof Promise) written.catch(() => {});
    };
    const close = (text: string) => {
      try {
        if (text !== "") quiet(sink.write(text));
        quiet(sink.end());
      } catch {
        // the same, thrown
      }
      arm();
    };
    input.then(close, () => close(""));
  }
  let written = 0;
  const count = (n: number) => {
    written += n;
    if (written > MAX_WRITTEN && !overflowed) {
      overflowed = true;
      kill();
    }
  };
  // The pipes normally close with the process; a descendant that outlives it may keep them open.
  let linger: ReturnType<typeof setTimeout> | undefined;
  const exited = child.exited.then(() => {
    linger = setTimeout(release, LINGER_MS);
  });
  try {
    const [out, err] = await Promise.all([
      drain(child.stdout, MAX_OUTPUT, count, stop),
      drain(child.stderr, MAX_STDERR, count, stop),
      exited,
    ]);
    return {
      code: child.exitCode,
      signal: typeof child.signalCode === "string" ? child.signalCode : null,
      stdout: out,
      stderr: err,
      timedOut,
      ...(overflowed ? { overflowed } : {}),
    };
  } finally {
    finished = true;
    clearTimeout(timer);
    clearTimeout(linger);
    release();
  }
}

/** The longest wait for a delegate that is busy (ETXTBSY), and the longest pause between tries. */
const BUSY_WAIT_MS = 5000;
const BUSY_PAUSE_MS = 500;

/**
 * Runs the delegate, trying again while exec fails with ETXTBSY ("text file busy": the file is
 * open for writing, as while an upgrade copies a plugin over in place), as libcni does. The
 * pauses double from 20 ms up to 500 ms and add up to at most 5 s or half the deadline, whichever
 * is less; the time spent waiting is taken off the deadline of the run that follows.
 */
async function runUnlessBusy(opts: ExecOptions): Promise<RunOutcome> {
  const budget = Math.min(BUSY_WAIT_MS, opts.timeoutMs / 2);
  let waited = 0;
  let pause = 20;
  for (;;) {
    try {
      // Its own process group, so that the deadline kills whatever it started too (bridge runs its
      // IPAM plugin; a shell script runs its commands), not only the process we started.
      return await runProcess(opts.file, [], {
        env: delegateEnvironment(opts),
        input: typeof opts.stdin === "string" ? opts.stdin : JSON.stringify(opts.stdin),
        timeoutMs: opts.timeoutMs - waited,
        group: true,
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ETXTBSY") throw e;
      if (waited + pause > budget) {
        // The code, not the runtime's message (Node: "spawn ETXTBSY"; Bun: "ETXTBSY: text file is
        // busy, posix_spawn '<path>'"): the path is named by the caller already.
        const why = `ETXTBSY: the file was still open for writing after ${waited} ms (is it being replaced?)`;
        throw Object.assign(new Error(why, { cause: e }), { code: "ETXTBSY" });
      }
    }
    await new Promise((r) => setTimeout(r, pause));
    waited += pause;
    pause = Math.min(pause * 2, BUSY_PAUSE_MS);
  }
}

/**
 * Runs a plugin and returns its parsed stdout (undefined when empty, as for DEL). A failure is
 * thrown as a CniError carrying the plugin's own code and message; a plugin still running at the
 * deadline is killed and reported as error 11 (try again later).
 */
export async function execPlugin(opts: ExecOptions): Promise<unknown> {
  const name = opts.file.slice(opts.file.lastIndexOf("/") + 1);
  const what = `${name} ${opts.env.command}`;
  let run: RunOutcome;
  try {
    run = await runUnlessBusy(opts);
  } catch (e) {
    throw new CniError(
      ErrorCode.PluginNotAvailable,
      `running ${what} (${opts.file}): ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const { code, signal } = run;
  const stdout = run.stdout.trim();
  const stderr = run.stderr.trim().slice(0, 2000);
  if (run.overflowed) {
    throw new CniError(
      ErrorCode.DelegateFailed,
      `${what} wrote more than ${MAX_WRITTEN / 1024 / 1024} MiB of output and was killed`,
    );
  }
  if (run.timedOut) {
    throw new CniError(
      ErrorCode.TryAgainLater,
      `${what} did not finish within ${opts.timeoutMs} ms and was killed`,
    );
  }
  let parsed: unknown;
  try {
    parsed = stdout === "" ? undefined : JSON.parse(stdout);
  } catch {
    parsed = undefined;
    if (code === 0) {
      throw new CniError(
        ErrorCode.DecodeFailure,
        `${what} printed output that is not JSON: ${stdout.slice(0, 200)}`,
      );
    }
  }
  if (code === 0) return parsed;
  const obj = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>;
  // A failure must never carry code 0 (bridge 1.1.1 prints one when its IPAM's exec fails).
  const delegateCode = typeof obj.code === "number" && obj.code !== 0 ? obj.code : ErrorCode.DelegateFailed;
  const msg =
    typeof obj.msg === "string" ? obj.msg : stderr || stdout || `exited with ${signal ?? `status ${code}`}`;
  const details = typeof obj.details === "string" && obj.details !== "" ? `; ${obj.details}` : "";
  throw new CniError(delegateCode, `${what} failed: ${msg}${details}`, { details: stderr });
}
