// The SQLite store's one-writer guard. The store answers reads from memory between its own writes,
// so a second writer on the same file would make those answers stale. The guard is `<db>.lock`, a
// small SQLite database of its own on which the store keeps a write transaction open while it
// runs: SQLite's lock on it is a POSIX record lock, which the kernel drops when the process ends,
// however it ends (kill -9, an OOM kill, a container restarted in a new pid namespace). So no
// holder is ever judged alive or dead from a recorded pid, and nothing is left for an operator to
// remove. The holder's pid, host and start time are recorded in it for the message of the one
// refused. The file stays when the lock is given up: removing it could let two processes lock two
// files under one name. The database's path is resolved first (symbolic links), so two names of
// one file share one lock.
//
// An RM before this guard wrote `<db>.writer` (src/cni/lockfile.ts), which is still honoured while
// its holder runs; such an RM does not see this lock, so releases must not be mixed on one file.
import { realpathSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { isMine, lockState, mayRun, ownPidns } from "../cni/lockfile.ts";
import { processIdentity } from "../cni/process.ts";

/** SQLite's result code for a lock held by another connection. */
const SQLITE_BUSY = 5;

/** Who holds a writer lock, as it recorded itself. */
export interface WriterLockHolder {
  pid: number;
  /** The holder's start time as the kernel counts it (/proc/<pid>/stat), to tell this process apart. */
  start: number;
  /** `/proc/self/ns/pid` of the holder: a pid means something only in its own pid namespace. */
  pidns: string;
  host: string;
  /** When it took the lock (ISO 8601). */
  since: string;
}

/** The lock files this process holds: a second store on one of them is this process's mistake. */
const heldHere = new Set<string>();

const errcode = (err: unknown): number | undefined =>
  typeof (err as { errcode?: unknown }).errcode === "number"
    ? (err as { errcode: number }).errcode
    : undefined;

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The holder a lock database records, if it can be read. */
function recordedHolder(db: DatabaseSync): WriterLockHolder | undefined {
  try {
    const row = db.prepare("SELECT pid, start, pidns, host, since FROM holder").get();
    if (row === undefined) return undefined;
    return {
      pid: Number(row.pid),
      start: Number(row.start),
      pidns: String(row.pidns),
      host: String(row.host),
      since: String(row.since),
    };
  } catch {
    return undefined; // no table yet: the first holder is between taking the lock and recording itself
  }
}

/**
 * The recorded holder when it may be the one holding the lock now. The record is written before
 * the lock is taken for good, so it can be stale: this process's own earlier record, or a process
 * of this pid namespace that is gone, while another is between taking the lock and recording
 * itself.
 */
function plausibleHolder(holder: WriterLockHolder | undefined): WriterLockHolder | undefined {
  return holder === undefined || isMine(holder) || !mayRun(holder) ? undefined : holder;
}

/** Why `db` cannot be written here: another holder, or this very process. */
function refusal(db: string, lock: string, holder: WriterLockHolder | undefined): Error {
  if (heldHere.has(lock)) return new Error(`"${db}" is open already in this process (once is enough)`);
  const who =
    holder === undefined
      ? `another process holds its lock ${lock} (another dockin RM, or a tool in a transaction on that file)`
      : `it is in use by another dockin RM (pid ${holder.pid} on ${holder.host}, in pid namespace ${holder.pidns}, since ${holder.since})`;
  return new Error(
    `"${db}" has a writer already: ${who}. A store answers from memory what it wrote, so two on one ` +
      `file would give stale answers: stop the other one first (the lock, ${lock}, ends with the ` +
      "process that holds it)",
  );
}

/** A failure to use the lock file itself, with what to do about it. */
function lockFileError(db: string, lock: string, err: unknown): Error {
  let isDir = false;
  try {
    isDir = statSync(lock).isDirectory();
  } catch {
    // not there: the directory is what refused it
  }
  const why =
    errcode(err) === SQLITE_BUSY
      ? "another process keeps a read transaction open on it (a sqlite3 shell?): end it"
      : /not a database/i.test(message(err)) || isDir
        ? `${message(err)}: it is not a SQLite database; remove it once no dockin RM runs on "${db}"`
        : `${message(err)}: make ${dirname(lock)} writable by this user, with room for a small file`;
  return new Error(`taking the writer lock ${lock} of "${db}": ${why}`);
}

/**
 * The lock file of an RM from before this guard, `<db>.writer`: refused while its holder may still
 * run (or, unreadable, while it may still be being written); once it is gone, the file is removed.
 */
function legacyRefusal(db: string): Error | undefined {
  const lock = `${db}.writer`;
  const found = lockState(lock);
  if (found.state === "none") return undefined;
  if (found.state === "left") {
    rmSync(lock, { force: true });
    return undefined;
  }
  const holder = found.holder;
  if (holder === undefined) {
    return new Error(
      `"${db}" is being taken by an earlier dockin RM (its lock file ${lock} is being written): stop it first`,
    );
  }
  const sameNs = holder.pidns === undefined || holder.pidns === ownPidns();
  return new Error(
    `"${db}" is in use by an earlier dockin RM (pid ${holder.pid}${sameNs ? "" : ` in pid namespace ${holder.pidns}`}), ` +
      `by its lock file ${lock}: stop it first${sameNs ? "" : ", and remove that file once it is gone"}`,
  );
}

/** `db` with symbolic links resolved (its directory's, when the file does not exist yet). */
function realPath(db: string): string {
  try {
    return realpathSync(db);
  } catch {
    return join(realpathSync(dirname(db)), basename(db));
  }
}

/**
 * The one-writer lock on a store's database file. The lock lives as long as its connection: keep
 * the WriterLock reachable (a collected connection is closed, and the kernel drops the lock).
 */
export class WriterLock {
  private released = false;
  private readonly db: DatabaseSync;
  private readonly path: string;

  private constructor(db: DatabaseSync, path: string) {
    this.db = db;
    this.path = path;
  }

  /** Takes the lock for database file `db`, or throws naming who holds it. */
  static take(db: string): WriterLock {
    const path = `${realPath(db)}.lock`;
    const me: WriterLockHolder = {
      pid: process.pid,
      start: processIdentity(process.pid)?.start ?? 0,
      pidns: ownPidns() ?? "",
      host: hostname(),
      since: new Date().toISOString(),
    };
    let conn: DatabaseSync;
    try {
      conn = new DatabaseSync(path);
      conn.exec("PRAGMA busy_timeout = 0");
    } catch (err) {
      throw lockFileError(db, path, err);
    }
    const lockOrRefuse = () => {
      try {
        conn.exec("BEGIN IMMEDIATE");
      } catch (err) {
        const busy = errcode(err) === SQLITE_BUSY;
        const holder = busy ? plausibleHolder(recordedHolder(conn)) : undefined;
        conn.close();
        throw busy ? refusal(db, path, holder) : lockFileError(db, path, err);
      }
    };
    lockOrRefuse();
    try {
      const legacy = legacyRefusal(db);
      if (legacy !== undefined) throw legacy;
    } catch (err) {
      conn.close();
      throw err;
    }
    try {
      conn.exec(
        "CREATE TABLE IF NOT EXISTS holder (pid INTEGER, start INTEGER, pidns TEXT, host TEXT, since TEXT)",
      );
      conn.exec("DELETE FROM holder");
      conn
        .prepare("INSERT INTO holder VALUES (?, ?, ?, ?, ?)")
        .run(me.pid, me.start, me.pidns, me.host, me.since);
      // The commit waits a moment for a refused RM that is reading the record to let go.
      conn.exec("PRAGMA busy_timeout = 2000");
      conn.exec("COMMIT");
      conn.exec("PRAGMA busy_timeout = 0");
    } catch (err) {
      conn.close();
      throw lockFileError(db, path, err);
    }
    // Held from here until release, however the process ends: another process's BEGIN IMMEDIATE
    // is refused at once. (Between the commit and this, another RM may have taken it: then this
    // one is refused.)
    lockOrRefuse();
    heldHere.add(path);
    return new WriterLock(conn, path);
  }

  /** Gives the lock up (the kernel would at the process's end anyway). */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.path);
    this.db.close();
  }
}
