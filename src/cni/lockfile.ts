// A lock between processes as a file created O_EXCL that names its holder (pid and start time),
// so that a lock whose holder was killed is recognised and cleared instead of held forever. Used
// by the plugins' log rotation (src/cni/log.ts) and by the SQLite store, whose one writer it
// guards (src/rm/sqlite-store.ts).
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { type ProcessIdentity, processIdentity, stillRunning } from "./process.ts";

/**
 * Takes `lock`: true when this process now holds it, false when a live process does. A lock left
 * by a process that is gone is cleared and taken. Throws on any other failure (the directory
 * missing or not writable).
 */
export function takeLockFile(lock: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, "wx", 0o600);
      try {
        writeSync(fd, JSON.stringify(processIdentity(process.pid) ?? { pid: process.pid }));
      } finally {
        closeSync(fd);
      }
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (!clearStaleLock(lock)) return false;
  }
  return false;
}

/** Gives `lock` up, if this process holds it. */
export function releaseLockFile(lock: string): void {
  if (lockHolder(lock)?.pid === process.pid) rmSync(lock, { force: true });
}

/** The holder a lock file names; undefined while it is being written (or unreadable). */
export function lockHolder(lock: string): ProcessIdentity | undefined {
  try {
    const v = JSON.parse(readFileSync(lock, "utf8")) as Partial<ProcessIdentity>;
    return typeof v.pid === "number" && typeof v.start === "number"
      ? { pid: v.pid, start: v.start }
      : undefined;
  } catch {
    return undefined;
  }
}

/** A lock without a readable holder is given this long (ms) before it counts as left behind. */
const UNREADABLE_LOCK_MS = 10_000;

/** Removes the lock when its holder is gone; true when it did (or the lock was gone already). */
function clearStaleLock(lock: string): boolean {
  const holder = lockHolder(lock);
  if (holder === undefined) {
    let age: number;
    try {
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      return true;
    }
    if (age < UNREADABLE_LOCK_MS) return false;
  } else if (stillRunning(holder)) return false;
  // Moved aside first, so that of two processes clearing it only one succeeds; what was moved may
  // be a lock another process took meanwhile, which is put back.
  const aside = `${lock}.${process.pid}.stale`;
  try {
    renameSync(lock, aside);
  } catch {
    return true;
  }
  const moved = lockHolder(aside);
  if (moved !== undefined && stillRunning(moved)) {
    try {
      linkSync(aside, lock);
    } catch {
      // a third process holds the lock now
    }
    rmSync(aside, { force: true });
    return false;
  }
  rmSync(aside, { force: true });
  return true;
}
