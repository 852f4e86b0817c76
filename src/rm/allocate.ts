// Address allocation and pod planning, written once for every store. A store runs `planPod` inside
// one of its transactions (SQLite: BEGIN IMMEDIATE; a compare-and-swap store: on a snapshot, then
// commits the returned change only if nothing it read has moved, else runs it again). The plan
// reads the store only through `AllocationView` and never writes: the store applies `PodChange`.
import { type Family, formatIP, parseIP } from "../net/ip.ts";
import { RmError } from "./errors.ts";
import type { Address, Attachment, AttachmentRequest, Network, PodRecord, Pool } from "./model.ts";
import { addressProblem, poolSize, poolsOf } from "./pool.ts";

export interface AllocationKey {
  network: string;
  family: Family;
  value: bigint;
}

/** What a plan may read, consistent within one transaction. */
export interface AllocationView {
  network(name: string): Network | undefined;
  /** `namespace/name` of the pod holding the address, if any. */
  owner(network: string, family: Family, value: bigint): string | undefined;
  /** Allocated addresses of a network's pool of one family, at or after `from`, ascending. */
  allocatedFrom(network: string, family: Family, from: bigint): Iterable<bigint>;
  /** The last address handed out from the range (allocation resumes after it), if any. */
  cursor(network: string, family: Family): bigint | undefined;
}

/** The writes of one pod operation; `record: null` deletes the pod. */
export interface PodChange {
  record: PodRecord | null;
  allocate: AllocationKey[];
  release: AllocationKey[];
  cursors: AllocationKey[];
  /** How the history records the releases (default "released"; "gc" for garbage collection). */
  releaseAs?: "released" | "gc";
  /** A copy of a pod as it was, not a change of holder (`rm migrate`): the history records nothing. */
  copy?: boolean;
}

/** What a pod should be: its attachments and where it came from. */
export interface PodRequest {
  attachments: AttachmentRequest[];
  policy?: string;
  sticky: boolean;
  containerId?: string;
  node?: string;
}

/** The 32-hex-digit text of an address value: sorts like the number (the stores' key form). */
export function addressKey(value: bigint): string {
  return value.toString(16).padStart(32, "0");
}

export function keyValue(key: string): bigint {
  return BigInt(`0x${key}`);
}

export const ownerOf = (namespace: string, name: string): string => `${namespace}/${name}`;

/** The first address of lo..hi that is neither reserved nor allocated (`allocated` ascending from lo). */
function firstFreeIn(
  lo: bigint,
  hi: bigint,
  allocated: Iterable<bigint>,
  reserved: Set<bigint>,
): bigint | undefined {
  let c = lo;
  while (c <= hi && reserved.has(c)) c++;
  for (const a of allocated) {
    if (c > hi) return undefined;
    if (a < c) continue;
    if (a > c) return c;
    c++;
    while (c <= hi && reserved.has(c)) c++;
  }
  return c <= hi ? c : undefined;
}

/**
 * The next free address of a pool, round robin from the cursor (as host-local does: a released
 * address is not handed out again until the range has wrapped, which keeps stale ARP entries and
 * late packets away from the next pod). Undefined when the pool is full.
 */
export function findFree(view: AllocationView, network: string, pool: Pool): bigint | undefined {
  const { start, end, family } = pool;
  if (end < start) return undefined;
  const cursor = view.cursor(network, family);
  const from = cursor !== undefined && cursor >= start && cursor < end ? cursor + 1n : start;
  const first = firstFreeIn(from, end, view.allocatedFrom(network, family, from), pool.reserved);
  if (first !== undefined || from === start) return first;
  return firstFreeIn(start, from - 1n, view.allocatedFrom(network, family, start), pool.reserved);
}

function countFrom(view: AllocationView, network: string, pool: Pool): bigint {
  let n = 0n;
  for (const a of view.allocatedFrom(network, pool.family, pool.start)) {
    if (a > pool.end) break;
    n++;
  }
  return n;
}

/** Gives attachments their interface names and the master, keeping the names an existing pod has. */
function nameAttachments(requests: AttachmentRequest[], existing: PodRecord | undefined) {
  const before = new Map((existing?.attachments ?? []).map((a) => [a.network, a]));
  const explicit = new Set(requests.flatMap((r) => (r.ifName === undefined ? [] : [r.ifName])));
  const used = new Set(explicit);
  const names: (string | undefined)[] = requests.map((r) => {
    if (r.ifName !== undefined) return r.ifName;
    const old = before.get(r.network)?.ifName;
    if (old !== undefined && !used.has(old)) {
      used.add(old);
      return old;
    }
    return undefined;
  });
  let master = requests.findIndex((r) => r.master === true);
  if (master < 0)
    master = requests.findIndex((r) => before.get(r.network)?.master === true && r.master !== false);
  if (master < 0) master = requests.findIndex((r) => r.master !== false);
  if (master < 0)
    throw new RmError("BadRequest", "invalid pod: networks: every attachment says master: false");
  if (names[master] === undefined && !used.has("eth0")) {
    names[master] = "eth0";
    used.add("eth0");
  }
  let n = 1;
  return requests.map((r, i) => {
    let ifName = names[i];
    if (ifName === undefined) {
      while (used.has(`net${n}`)) n++;
      ifName = `net${n}`;
      used.add(ifName);
    }
    return { request: r, ifName, master: i === master };
  });
}

/**
 * Plans a pod's attachments against the store: names interfaces (stable), checks fixed addresses,
 * keeps the addresses the pod already holds on a network, allocates the rest.
 */
export function planPod(
  namespace: string,
  name: string,
  existing: PodRecord | undefined,
  request: PodRequest,
  view: AllocationView,
  now: string,
): PodChange {
  const owner = ownerOf(namespace, name);
  const named = nameAttachments(request.attachments, existing);
  const before = new Map((existing?.attachments ?? []).map((a) => [a.network, a]));
  const change: PodChange = { record: null, allocate: [], release: [], cursors: [] };
  const kept = new Set<string>();
  const attachments: Attachment[] = [];

  for (const { request: r, ifName, master } of named) {
    const network = view.network(r.network);
    if (network === undefined) throw new RmError("NotFound", `network "${r.network}" not found`);
    const pools = poolsOf(network.spec);
    const addresses: Address[] = [];
    for (const text of r.ips) {
      const ip = parseIP(text);
      if (ip !== undefined && !pools.some((p) => p.family === ip.family)) {
        throw new RmError(
          "BadRequest",
          `invalid pod: ${text}: network "${r.network}" has no IPv${ip.family} subnet`,
        );
      }
    }
    for (const pool of pools) {
      const fixedText = r.ips.find((t) => parseIP(t)?.family === pool.family);
      const old = before.get(r.network)?.addresses.find((a) => a.family === pool.family);
      if (fixedText !== undefined) {
        const value = parseIP(fixedText)?.value ?? 0n;
        const problem = addressProblem(pool, value);
        if (problem !== undefined)
          throw new RmError("BadRequest", `invalid pod: network "${r.network}": ${problem}`);
        const holder = view.owner(r.network, pool.family, value);
        if (holder !== undefined && holder !== owner) {
          throw new RmError(
            "Conflict",
            `${fixedText} in network "${r.network}" is already held by pod ${holder}`,
          );
        }
        if (holder === undefined) change.allocate.push({ network: r.network, family: pool.family, value });
        else kept.add(`${r.network}|${fixedText}`);
        addresses.push({ family: pool.family, ip: fixedText, fixed: true });
        continue;
      }
      if (old !== undefined) {
        const value = parseIP(old.ip)?.value;
        if (value !== undefined && addressProblem(pool, value) === undefined) {
          kept.add(`${r.network}|${old.ip}`);
          addresses.push({ family: pool.family, ip: old.ip, fixed: old.fixed });
          continue;
        }
      }
      const value = findFree(view, r.network, pool);
      if (value === undefined) {
        const size = poolSize(pool);
        throw new RmError(
          "PoolExhausted",
          `network "${r.network}" has no free IPv${pool.family} address (${countFrom(view, r.network, pool)} in use of ${size} in its range)`,
        );
      }
      change.allocate.push({ network: r.network, family: pool.family, value });
      change.cursors.push({ network: r.network, family: pool.family, value });
      addresses.push({ family: pool.family, ip: formatIP({ family: pool.family, value }), fixed: false });
    }
    attachments.push({ network: r.network, ifName, master, addresses });
  }

  for (const att of existing?.attachments ?? []) {
    for (const a of att.addresses) {
      if (kept.has(`${att.network}|${a.ip}`)) continue;
      const value = parseIP(a.ip)?.value;
      if (value !== undefined) change.release.push({ network: att.network, family: a.family, value });
    }
  }
  // An address released and taken again in the same change (e.g. made fixed) is neither.
  change.release = change.release.filter(
    (r) =>
      !change.allocate.some((a) => a.network === r.network && a.family === r.family && a.value === r.value),
  );
  change.allocate = change.allocate.filter(
    (a) =>
      !(existing?.attachments ?? []).some(
        (att) =>
          att.network === a.network &&
          att.addresses.some((x) => x.family === a.family && parseIP(x.ip)?.value === a.value),
      ),
  );

  const record: PodRecord = {
    namespace,
    name,
    attachments,
    sticky: request.sticky,
    created: existing?.created ?? now,
    updated: now,
  };
  if (request.policy !== undefined) record.policy = request.policy;
  const containerId = request.containerId ?? existing?.containerId;
  if (containerId !== undefined) record.containerId = containerId;
  const node = request.node ?? existing?.node;
  if (node !== undefined) record.node = node;
  change.record = record;
  return change;
}

/** The change that deletes a pod and releases every address it holds (`as`: how history records it). */
export function releasePod(existing: PodRecord, options: { as?: "released" | "gc" } = {}): PodChange {
  const release: AllocationKey[] = [];
  for (const att of existing.attachments) {
    for (const a of att.addresses) {
      const value = parseIP(a.ip)?.value;
      if (value !== undefined) release.push({ network: att.network, family: a.family, value });
    }
  }
  const change: PodChange = { record: null, allocate: [], release, cursors: [] };
  if (options.as !== undefined) change.releaseAs = options.as;
  return change;
}

/** A change that only rewrites the record (no address moves). */
export function recordOnly(record: PodRecord): PodChange {
  return { record, allocate: [], release: [], cursors: [] };
}
