// Structured logs for short-lived plugin processes: one JSON line per event, written
// synchronously (the process may exit right after), to a file and, for errors, to stderr.
// Lines logged before the configuration names the file are kept and written once it does.
// Never to stdout: that is the protocol channel.
import { appendFileSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { utf8Length } from "../net/chars.ts";
import { errorText } from "./errors.ts";
import { writeAllSync } from "./fd-io.ts";
import { takeLockFile } from "./lockfile.ts";
import { dirName } from "./path.ts";

export const LEVELS = ["error", "warn", "info", "debug"] as const;
export type Level = (typeof LEVELS)[number];

export function isLevel(v: unknown): v is Level {
  return typeof v === "string" && (LEVELS as readonly string[]).includes(v);
}

export type Fields = Record<string, unknown>;

export interface LoggerOptions {
  /** Lines at or above this level are written; `debug` writes everything. */
  level?: Level;
  /** Errors (and warnings) also go to stderr when set; the default. */
  stderr?: boolean;
  /** The file is rotated to `<file>.1` before a line would take it past this size. */
  maxBytes?: number;
  /**
   * Where every line at or above the level goes, instead of a file (a long-running server's
   * stderr stream, which may be a pipe or a socket that a synchronous write would block on).
   */
  sink?: (line: string) => void;
}

const rank = (level: Level): number => LEVELS.indexOf(level);

export class Logger {
  private level: Level;
  private readonly stderr: boolean;
  private readonly maxBytes: number;
  private file: string | undefined;
  private pending: { level: Level; line: string }[] | undefined = [];
  private readonly context: Fields;
  private readonly sink: ((line: string) => void) | undefined;

  constructor(context: Fields = {}, options: LoggerOptions = {}) {
    this.context = context;
    this.level = options.level ?? "info";
    this.stderr = options.stderr ?? true;
    this.maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.sink = options.sink;
    // A sink needs no file name: nothing is held back.
    if (this.sink !== undefined) this.pending = undefined;
  }

  /** Names the log file and level once the config is read, and writes what was held back. */
  configure(file: string | undefined, level: Level | undefined): void {
    this.file = file === "" ? undefined : file;
    if (level !== undefined) this.level = level;
    const held = this.pending ?? [];
    this.pending = undefined;
    let lines = "";
    for (const p of held) if (rank(p.level) <= rank(this.level)) lines += p.line;
    if (lines !== "") this.writeFile(lines);
  }

  /** Adds fields to every later line (pod, container…). */
  with(fields: Fields): void {
    Object.assign(this.context, fields);
  }

  error(msg: string, fields?: Fields): void {
    this.log("error", msg, fields);
  }
  warn(msg: string, fields?: Fields): void {
    this.log("warn", msg, fields);
  }
  info(msg: string, fields?: Fields): void {
    this.log("info", msg, fields);
  }
  debug(msg: string, fields?: Fields): void {
    this.log("debug", msg, fields);
  }

  /** Whether a line at `level` would be written (or held until the level is known). */
  enabled(level: Level): boolean {
    return this.pending !== undefined || rank(level) <= rank(this.level);
  }

  log(level: Level, msg: string, fields?: Fields): void {
    const wanted = rank(level) <= rank(this.level);
    const toStderr = this.sink === undefined && this.stderr && rank(level) <= rank("warn");
    // A line nobody will read is not built (a plugin run logs its debug lines at info level).
    if (!wanted && !toStderr && this.pending === undefined) return;
    const entry: Fields = { time: new Date().toISOString(), level, msg, ...this.context, ...fields };
    // The line's own keys win over fields of the same name (their place in the line stays first).
    entry.time = new Date().toISOString();
    entry.level = level;
    entry.msg = msg;
    const line = `${JSON.stringify(entry, errorsAsText)}\n`;
    if (this.sink !== undefined) {
      if (wanted) this.sink(line);
      return;
    }
    if (toStderr) {
      try {
        writeAllSync(2, line); // whole lines: Bun's stderr may be non-blocking
      } catch {
        // stderr closed: the file still gets the line
      }
    }
    if (this.pending !== undefined) {
      this.pending.push({ level, line });
      return;
    }
    if (wanted) this.writeFile(line);
  }

  private writeFile(text: string): void {
    const file = this.file;
    if (file === undefined) return;
    try {
      try {
        this.append(file, text);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        // The log directory does not exist yet: make it, then try once more.
        mkdirSync(dirName(file), { recursive: true, mode: 0o755 });
        this.append(file, text);
      }
    } catch (err) {
      try {
        writeAllSync(2, `dockin: cannot write log file ${this.file}: ${(err as Error).message}\n`);
      } catch {
        // nowhere left to report it
      }
    }
  }

  /** Appends to the file, first moving it to `<file>.1` when the text would take it past maxBytes. */
  private append(file: string, text: string): void {
    const room = this.maxBytes - utf8Length(text);
    if (sizeOf(file) > Math.max(room, 0)) rotate(file, room);
    appendFileSync(file, text, { mode: 0o600 });
  }
}

const sizeOf = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

/**
 * Moves `file` to `<file>.1`, several plugin processes writing it at once. Only the holder of
 * `<file>.lock` (created O_EXCL, naming its process) rotates, and only when the file is still past
 * `room` once it holds the lock: a process that saw the file too large just before another one
 * rotated it finds the new, small file, and leaves it (a rename of its own would move the new file
 * over `.1`, and every line of the old one would be lost). A process that finds the lock taken
 * does not wait: it appends to the file as it is, which the holder's rename then moves to `.1`
 * with its lines. A lock whose process is gone (killed while rotating) is cleared.
 */
function rotate(file: string, room: number): void {
  const lock = `${file}.lock`;
  if (!takeLock(lock)) return;
  try {
    if (sizeOf(file) > Math.max(room, 0)) renameSync(file, `${file}.1`);
  } finally {
    rmSync(lock, { force: true });
  }
}

/** The rotation lock, when no live process holds it; any failure but a holder: no rotation. */
function takeLock(lock: string): boolean {
  try {
    return takeLockFile(lock);
  } catch {
    return false;
  }
}

/** JSON replacer: an Error becomes its message and its causes' (JSON.stringify prints it as {}). */
function errorsAsText(_key: string, value: unknown): unknown {
  return value instanceof Error ? errorText(value) : value;
}
