// A lock between processes as a file created O_EXCL that names its holder (pid and start time),
// so that a lock whose holder was killed is recognised and cleared instead of held forever. Used
// by the plugins' log rotation (src/cni/log.ts), where it costs no module load (node:sqlite would).
// It is not race-free: when three processes meet one stale lock, the clearing can move a fresh
// lock aside while a third takes the name, and two hold it; for a rotation that costs at most a
// rotated file's lines. The SQLite store's one-writer guard, where two holders would cost stale
// answers, is a kernel lock instead (src/rm/writer-lock.ts), which reads these files only to honour
// the lock of an RM from before it.
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { type ProcessIdentity, processIdentity, stillRunning } from "./process.ts";

/** A lock's holder: its process, and the pid namespace its pid belongs to. */
export interface LockHolder extends ProcessIdentity {
  /** `/proc/self/ns/pid` of the holder ("pid:[4026531836]"); absent in locks written before it. */
  pidns?: string;
}

/** This process's pid namespace, as a lock names it. */
export function ownPidns(): string | undefined {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return undefined;
  }
}

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
        const me = processIdentity(process.pid) ?? { pid: process.pid };
        const pidns = ownPidns();
        writeSync(fd, JSON.stringify(pidns === undefined ? me : { ...me, pidns }));
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
  if (isMine(lockHolder(lock))) rmSync(lock, { force: true });
}

/** Whether a holder is this very process (its pid in this pid namespace). */
export function isMine(holder: LockHolder | undefined): boolean {
  if (holder === undefined || holder.pid !== process.pid) return false;
  return holder.pidns === undefined || holder.pidns === ownPidns();
}

/**
 * Whether the holder may still run. A holder in another pid namespace (another container on the
 * same file) cannot be looked up in this one's /proc: it counts as running, never cleared.
 */
export function mayRun(holder: LockHolder): boolean {
  if (holder.pidns !== undefined && holder.pidns !== ownPidns()) return true;
  return stillRunning(holder);
}

/** The holder a lock file names; undefined while it is being written (or unreadable). */
export function lockHolder(lock: string): LockHolder | undefined {
  try {
    const v = JSON.parse(readFileSync(lock, "utf8")) as Partial<LockHolder>;
    if (typeof v.pid !== "number" || typeof v.start !== "number") return undefined;
    const holder: LockHolder = { pid: v.pid, start: v.start };
    if (typeof v.pidns === "string") holder.pidns = v.pidns;
    return holder;
  } catch {
    return undefined;
  }
}

/** A lock without a readable holder is given this long (ms) before it counts as left behind. */
const UNREADABLE_LOCK_MS = 10_000;

/**
 * What stands at `lock`: nothing; a lock left behind (its holder gone, or unreadable for longer
 * than a holder takes to write it); or a lock that holds (`holder` undefined while it is being
 * written).
 */
export type LockState = { state: "none" } | { state: "left" } | { state: "held"; holder?: LockHolder };

export function lockState(lock: string): LockState {
  const holder = lockHolder(lock);
  if (holder !== undefined) return mayRun(holder) ? { state: "held", holder } : { state: "left" };
  let age: number;
  try {
    age = Date.now() - statSync(lock).mtimeMs;
  } catch {
    return { state: "none" };
  }
  return age < UNREADABLE_LOCK_MS ? { state: "held" } : { state: "left" };
}

/** Removes the lock when its holder is gone; true when it did (or the lock was gone already). */
function clearStaleLock(lock: string): boolean {
  const found = lockState(lock);
  if (found.state === "none") return true;
  if (found.state === "held") return false;
  // Moved aside first, so that of two processes clearing it only one succeeds; what was moved may
  // be a lock another process took meanwhile, which is put back.
  const aside = `${lock}.${process.pid}.stale`;
  try {
    renameSync(lock, aside);
  } catch {
    return true;
  }
  const moved = lockHolder(aside);
  if (moved !== undefined && mayRun(moved)) {
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
