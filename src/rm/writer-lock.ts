// The SQLite store's one-writer guard. The store answers reads from memory between its own writes,
// so a second writer on the same file would make those answers stale. The guard is `<db>.lock`, a
// small SQLite database of its own on which the store keeps a write transaction open while it
// runs: SQLite's lock on it is a POSIX record lock, which the kernel drops when the process ends,
// however it ends (kill -9, an OOM kill, a container restarted in a new pid namespace). So no
// holder is ever judged alive or dead from a recorded pid, and nothing is left for an operator to
// remove. The holder's pid, host and start time are recorded in it for the message of the one
// refused. The file stays when the lock is given up: removing it could let two processes lock two
// files under one name. An RM before this guard wrote `<db>.writer` (src/cni/lockfile.ts), which is
// still honoured while its holder runs.
import { rmSync } from "node:fs";
import { hostname } from "node:os";
import { DatabaseSync } from "node:sqlite";
import { lockHolder, ownPidns } from "../cni/lockfile.ts";
import { processIdentity, stillRunning } from "../cni/process.ts";

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

const errcode = (err: unknown): number | undefined =>
  typeof (err as { errcode?: unknown }).errcode === "number"
    ? (err as { errcode: number }).errcode
    : undefined;

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
    return undefined; // no table yet: the holder is between taking the lock and recording itself
  }
}

/** Why `db` cannot be written here: another holder, or this very process. */
function refusal(
  db: string,
  lock: string,
  holder: WriterLockHolder | undefined,
  me: WriterLockHolder,
): Error {
  if (holder !== undefined && holder.pid === me.pid && holder.start === me.start && holder.pidns === me.pidns)
    return new Error(`"${db}" is open already in this process (once is enough)`);
  const who =
    holder === undefined
      ? ""
      : ` (pid ${holder.pid} on ${holder.host}, in pid namespace ${holder.pidns}, since ${holder.since})`;
  return new Error(
    `"${db}" is in use by another dockin RM${who}: a store answers from memory what it wrote, so two ` +
      "on one file would give stale answers; stop the other one first, or give this one another file " +
      `(its lock, ${lock}, ends with the process that holds it)`,
  );
}

/**
 * The lock file of an RM from before this guard, `<db>.writer`: refused while its holder may still
 * run; once it is gone, the file is removed.
 */
function legacyRefusal(db: string): Error | undefined {
  const lock = `${db}.writer`;
  const holder = lockHolder(lock);
  if (holder === undefined) return undefined;
  const sameNs = holder.pidns === undefined || holder.pidns === ownPidns();
  if (sameNs && !stillRunning(holder)) {
    rmSync(lock, { force: true });
    return undefined;
  }
  return new Error(
    `"${db}" is in use by an earlier dockin RM (pid ${holder.pid}${sameNs ? "" : ` in pid namespace ${holder.pidns}`}), ` +
      `by its lock file ${lock}: stop it first${sameNs ? "" : ", and remove that file once it is gone"}`,
  );
}

/** The one-writer lock on a store's database file. */
export class WriterLock {
  private released = false;
  private readonly db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.db = db;
  }

  /** Takes the lock for database file `db`, or throws naming who holds it. */
  static take(db: string): WriterLock {
    const path = `${db}.lock`;
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
      throw new Error(`taking the writer lock ${path}`, { cause: err });
    }
    const lockOrRefuse = () => {
      try {
        conn.exec("BEGIN IMMEDIATE");
      } catch (err) {
        const busy = errcode(err) === SQLITE_BUSY;
        const holder = busy ? recordedHolder(conn) : undefined;
        conn.close();
        throw busy
          ? refusal(db, path, holder, me)
          : new Error(`taking the writer lock ${path}`, { cause: err });
      }
    };
    lockOrRefuse();
    try {
      const legacy = legacyRefusal(db);
      if (legacy !== undefined) throw legacy;
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
      throw err;
    }
    // Held from here until release, however the process ends: another process's BEGIN IMMEDIATE
    // is refused at once. (Between the commit and this, another RM may have taken it: then this
    // one is refused.)
    lockOrRefuse();
    return new WriterLock(conn);
  }

  /** Gives the lock up (the kernel would at the process's end anyway). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.db.close();
  }
}
