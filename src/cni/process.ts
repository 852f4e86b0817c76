// Which process is which, across processes: a pid and the process's start time, so that a pid the
// kernel has since given to another process does not pass for the one recorded (Linux /proc).
import { readFileSync } from "node:fs";

/** A process as the kernel knows it: its pid and its start time (clock ticks after boot). */
export interface ProcessIdentity {
  pid: number;
  start: number;
}

/** The identity of a running process (field 22 of /proc/<pid>/stat), or undefined when it is gone or a zombie. */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined;
  }
  // The fields after the command name, which is in parentheses and may hold anything.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const start = Number(fields[19]);
  if (fields[0] === "Z" || fields[0] === "X" || !Number.isInteger(start)) return undefined;
  return { pid, start };
}

/** Whether `who` still runs: the same pid with the same start time. */
export function stillRunning(who: ProcessIdentity): boolean {
  return processIdentity(who.pid)?.start === who.start;
}
