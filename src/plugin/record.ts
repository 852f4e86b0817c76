// The attachment record: what ADD attached for one (container, interface), written atomically to
// cacheDir before the first delegate runs, so that DEL, CHECK and GC work from it alone.
// Format documented in docs/plugin.md.
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { CniError, ErrorCode, errorText } from "../cni/errors.ts";
import type { Logger } from "../cni/log.ts";
import { joinPath } from "../cni/path.ts";
import { type ProcessIdentity, processIdentity, stillRunning } from "../cni/process.ts";
import type { Result } from "../cni/result.ts";
import type { PodIdentity } from "./identity.ts";
import type { PlannedAddress } from "./reply.ts";

export const RECORD_FORMAT = 1;

export interface RecordPlugin {
  type: string;
  /** The cniVersion spoken to this plugin. */
  cniVersion: string;
  /** The config sent, without `prevResult`. */
  config: Record<string, unknown>;
}

export interface RecordNetwork {
  name: string;
  ifName: string;
  master: boolean;
  addresses: PlannedAddress[];
  /** The policy-routing table of a non-master network with a gateway. */
  table?: number;
  plugins: RecordPlugin[];
  /** The network file's `disableCheck`: CHECK leaves its plugins alone, as libcni does. */
  disableCheck?: boolean;
  /** The chain's final result (1.x shape), once attached. */
  result?: Result;
}

export interface AttachmentRecord {
  format: number;
  containerId: string;
  ifName: string;
  netns: string;
  /** CNI_ARGS as sent to the delegates. */
  args: string;
  pod: PodIdentity;
  /** The runtime's cniVersion at ADD. */
  cniVersion: string;
  /** `adding` until every network is attached, then `attached`. */
  state: "adding" | "attached";
  created: string;
  /** The ADD's process, to tell an ADD in progress from one that died half-way (`addInProgress`). */
  owner?: ProcessIdentity;
  networks: RecordNetwork[];
}

/**
 * Whether the record is that of an ADD running now: state `adding` and the process that wrote it
 * still alive (same pid, same start time). An `adding` record whose process is gone is an ADD that
 * died half-way (killed, node crash); one without an owner (written by an older dockin-cni) counts
 * as such too.
 */
export function addInProgress(record: AttachmentRecord): boolean {
  if (record.state !== "adding" || record.owner === undefined) return false;
  return stillRunning(record.owner);
}

/** A record in state `adding`, as written before the first delegate runs, owned by this process. */
export function newRecord(
  fields: Omit<AttachmentRecord, "format" | "state" | "created" | "owner">,
): AttachmentRecord {
  const record: AttachmentRecord = {
    format: RECORD_FORMAT,
    ...fields,
    state: "adding",
    created: new Date().toISOString(),
  };
  const owner = processIdentity(process.pid);
  if (owner !== undefined) record.owner = owner;
  return record;
}

/** `<containerId>:<ifName>.json`: neither a container id nor an interface name may hold ':'. */
export function recordPath(cacheDir: string, containerId: string, ifName: string): string {
  return joinPath(cacheDir, `${containerId}:${ifName}.json`);
}

/**
 * Writes the record atomically: a temp file (0600), then a rename over the old one, so a reader
 * sees the old record or the new one, whenever the writer is killed.
 *
 * Not fsynced: it guards against the death of a process, not of the machine. A machine crash
 * takes everything the delegates made with it (the pod's namespace, its links, routes and
 * rules, the bridges' iptables rules: none survives a reboot), and a record lost or emptied by one
 * is what DEL already copes with (it asks the backend, and sets an unreadable record aside). The
 * fsyncs cost every ADD about 0.7 ms before its first delegate could start (BENCHMARKS.md).
 *
 * writeFileSync on the descriptor, not fs.writeSync: it writes the whole text (or throws: a full
 * disk, a size limit), and writeSync's first call in a process costs 0.3-0.55 ms (its argument
 * checks' module).
 */
export function writeRecord(cacheDir: string, record: AttachmentRecord): void {
  const path = recordPath(cacheDir, record.containerId, record.ifName);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeFileSync(fd, `${JSON.stringify(record, null, 1)}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    // The cause is inlined, not chained: logs print the chain, and would print it twice.
    throw new CniError(
      ErrorCode.IOFailure,
      `writing the attachment record ${path}: ${(err as Error).message}`,
    );
  }
}

export type ReadOutcome =
  | { kind: "found"; record: AttachmentRecord }
  | { kind: "missing" }
  | { kind: "corrupt"; reason: string };

/** Why a parsed value is not a record this build reads, or undefined when it is one. */
function notARecord(v: unknown): string | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "not a record: not a JSON object";
  const r = v as Record<string, unknown>;
  if (r.format !== RECORD_FORMAT) {
    const has = r.format === undefined ? "no format" : `format ${JSON.stringify(r.format)}`;
    return `not a record this build reads: it has ${has}, this build reads format ${RECORD_FORMAT}`;
  }
  return isRecord(r) ? undefined : "not a record: a field is missing or of the wrong type";
}

function isRecord(r: Record<string, unknown>): boolean {
  return (
    typeof r.containerId === "string" &&
    typeof r.ifName === "string" &&
    typeof r.netns === "string" &&
    Array.isArray(r.networks) &&
    allNetworks(r.networks)
  );
}

function allNetworks(list: unknown[]): boolean {
  for (const n of list) {
    if (typeof n !== "object" || n === null) return false;
    if (typeof (n as RecordNetwork).ifName !== "string" || !Array.isArray((n as RecordNetwork).plugins)) {
      return false;
    }
  }
  return true;
}

export function readRecordFile(path: string): ReadOutcome {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "missing" };
    return { kind: "corrupt", reason: (err as Error).message };
  }
  try {
    const value: unknown = JSON.parse(text);
    const problem = notARecord(value);
    return problem === undefined
      ? { kind: "found", record: value as AttachmentRecord }
      : { kind: "corrupt", reason: problem };
  } catch (err) {
    return { kind: "corrupt", reason: (err as Error).message };
  }
}

export function readRecord(cacheDir: string, containerId: string, ifName: string): ReadOutcome {
  return readRecordFile(recordPath(cacheDir, containerId, ifName));
}

/**
 * Moves an unreadable record out of the way (`<name>.json.unreadable-<ms>`, which no reader
 * lists) instead of deleting it: it is the evidence of what went wrong. Returns the new path.
 */
export function setAside(path: string): string {
  const aside = `${path}.unreadable-${Date.now()}`;
  renameSync(path, aside);
  return aside;
}

/**
 * Sets an unreadable record aside (`setAside`) and says so in the log, with why it could not be
 * read: what ADD, DEL and GC do with one. A failure to move it is logged, not thrown.
 */
export function keepUnreadable(path: string, reason: string, log: Logger): void {
  try {
    log.warn("unreadable attachment record set aside", { path, aside: setAside(path), reason });
  } catch (err) {
    log.warn("setting the unreadable attachment record aside failed", {
      path,
      reason,
      error: errorText(err),
    });
  }
}

export function removeRecord(cacheDir: string, containerId: string, ifName: string): void {
  rmSync(recordPath(cacheDir, containerId, ifName), { force: true });
}

/**
 * Removes the temp files a killed ADD left (`<record>.<pid>.tmp`, written just before the rename):
 * those whose writer is gone, or older than a minute (a temp lives for microseconds; its pid may
 * have been given to another process since). `prefix` narrows it to one record's temps: DEL clears
 * its own at once, GC all of them. A temp whose writer still runs, and is fresh, stays.
 */
export function removeStaleTemps(cacheDir: string, prefix = ""): void {
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(".tmp")) continue;
    const path = joinPath(cacheDir, name);
    const pid = Number(name.slice(name.lastIndexOf(".", name.length - 5) + 1, -".tmp".length));
    const writerGone = Number.isSafeInteger(pid) && pid > 0 && processIdentity(pid) === undefined;
    try {
      if (writerGone || Date.now() - statSync(path).mtimeMs > 60_000) rmSync(path, { force: true });
    } catch {
      // gone meanwhile
    }
  }
}

/** Every record file in cacheDir. */
export function listRecordFiles(cacheDir: string): string[] {
  try {
    return readdirSync(cacheDir)
      .filter((n) => n.endsWith(".json"))
      .map((n) => joinPath(cacheDir, n));
  } catch {
    return [];
  }
}
