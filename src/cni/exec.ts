// Running a delegate plugin: find it, give it an explicit environment, its config on stdin and a
// deadline, then read its result or error. `dockin-cni` runs `bridge` this way.
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  openSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
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
const MAX_STDERR = 64 * 1024;
/** What a process may write to its stdout and stderr files before it is killed as a runaway. */
const MAX_WRITTEN = 64 * 1024 * 1024;
const WATCH_MS = 250;

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
  /** Written to the process's stdin. */
  input: string;
  timeoutMs: number;
  /**
   * Its own process group, killed whole at the deadline (what it started goes too); otherwise
   * only the process is killed.
   */
  group: boolean;
}

/**
 * child_process is loaded at the first spawn, not at start-up: a plugin run that spawns nothing
 * (an early error, VERSION) does not pay for it, and dockin-cni loads it while the webhook
 * answers (`preloadSpawn`).
 */
function childProcess(): typeof import("node:child_process") {
  return process.getBuiltinModule("node:child_process") as typeof import("node:child_process");
}

/** Loads what running a process needs, ahead of the first run (idle time is the best moment). */
export function preloadSpawn(): void {
  childProcess();
  tmpdir();
}

let scratchCount = 0;

/**
 * An unnamed read-write file: created in the temp directory (O_EXCL, 0600) and unlinked at once;
 * only the descriptor stays. Used as a child's stdin, stdout and stderr instead of pipes: a
 * Node process's first pipe builds the stream machinery (net.Socket, Pipe handles), about 4 ms
 * of a plugin run's CPU, while a file descriptor is handed to the child as it is.
 */
function scratchFile(): number {
  scratchCount += 1;
  const path = join(
    tmpdir(),
    `.dockin-${process.pid}-${scratchCount}-${Math.random().toString(36).slice(2)}`,
  );
  const fd = openSync(path, "wx+", 0o600);
  try {
    unlinkSync(path);
  } catch {
    // left behind; harmless (empty or a config already delivered)
  }
  return fd;
}

/** The first `max` bytes of a scratch file, from its start. */
function readScratch(fd: number, max: number): string {
  const size = Math.min(fstatSync(fd).size, max);
  const buf = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const n = readSync(fd, buf, got, size - got, got);
    if (n === 0) break;
    got += n;
  }
  return buf.toString("utf8", 0, got);
}

/** Writes `text` at offset 0 without moving the file offset (the child reads from there). */
function writeScratch(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, done);
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}

/**
 * Runs `file` with `args`, its stdin, stdout and stderr in unnamed temp files (pipes when the
 * temp directory cannot take them), and resolves when it has exited. Rejects only when it could
 * not be started (the spawn error, with its `code`).
 */
export function runProcess(file: string, args: readonly string[], opts: RunOptions): Promise<RunOutcome> {
  let fds: number[];
  try {
    fds = [scratchFile(), scratchFile(), scratchFile()];
  } catch {
    return runWithPipes(file, args, opts);
  }
  const [fin, fout, ferr] = fds as [number, number, number];
  return new Promise((resolve, reject) => {
    let timedOut = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let watch: NodeJS.Timeout | undefined;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(watch);
      try {
        fn();
      } finally {
        closeAll(fds);
      }
    };
    let child: import("node:child_process").ChildProcess;
    try {
      writeScratch(fin, opts.input);
      child = childProcess().spawn(file, args, {
        env: opts.env,
        stdio: [fin, fout, ferr],
        detached: opts.group,
      });
    } catch (err) {
      settle(() => reject(err));
      return;
    }
    timer = setTimeout(() => {
      timedOut = true;
      killTree(child, opts.group);
    }, opts.timeoutMs);
    // Files apply no back-pressure, unlike pipes: watch their size instead.
    let overflowed = false;
    watch = setInterval(() => {
      try {
        if (fstatSync(fout).size + fstatSync(ferr).size > MAX_WRITTEN) {
          overflowed = true;
          killTree(child, opts.group);
        }
      } catch {
        // closed meanwhile
      }
    }, WATCH_MS);
    watch.unref();
    child.on("error", (e) => settle(() => reject(e)));
    child.on("close", (code, signal) =>
      settle(() =>
        resolve({
          code,
          signal,
          stdout: readScratch(fout, MAX_OUTPUT),
          stderr: readScratch(ferr, MAX_STDERR),
          timedOut,
          ...(overflowed ? { overflowed } : {}),
        }),
      ),
    );
  });
}

function killTree(child: import("node:child_process").ChildProcess, group: boolean): void {
  try {
    if (group && child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    else child.kill("SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

/** The same with pipes: for a temp directory that is missing or full. */
function runWithPipes(file: string, args: readonly string[], opts: RunOptions): Promise<RunOutcome> {
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn(file, args, {
      env: opts.env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: opts.group,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child, opts.group);
    }, opts.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes <= MAX_OUTPUT) out.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      errBytes += chunk.length;
      if (errBytes <= MAX_STDERR) err.push(chunk);
    });
    child.stdin.on("error", () => {
      // The process may exit without reading stdin; its exit status tells what happened.
    });
    let failed = false;
    child.on("error", (e) => {
      failed = true;
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (failed) return;
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut,
      });
    });
    child.stdin.end(opts.input);
  });
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
        const why = `${(e as Error).message}: the file was still open for writing after ${waited} ms (is it being replaced?)`;
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
