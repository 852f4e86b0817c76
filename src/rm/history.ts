// Address history: every change of who holds an address, as an event the store writes in the very
// transaction that makes the change. The events are derived here, once for every store, from what
// a pod operation changes (`podEvents`); a store calls it when it applies a change, after the
// decision, so a decision that runs again (etcd retries) never records twice: only the change
// that commits carries events.
//
// An event's id is its time (milliseconds, 12 hex digits), a counter within the millisecond and a
// random tag of this process (6 hex digits each): ids sort like the events' order in this process,
// any store can range over a time span by id, and `rm migrate` carries them over unchanged.
import { createHash, randomBytes } from "node:crypto";
import { formatIP, parseIP } from "../net/ip.ts";
import type { AllocationKey, PodChange } from "./allocate.ts";
import type { PodRecord } from "./model.ts";

export const EVENT_KINDS = [
  "allocated",
  "reserved",
  "released",
  "reassigned",
  "gc",
  "network-deleted",
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** An event as the API shows it. */
export interface HistoryEvent {
  id: string;
  /** RFC 3339, UTC, milliseconds (the time in the id). */
  time: string;
  event: EventKind;
  network: string;
  /** The address without prefix length ("" for network-deleted: no address). */
  address: string;
  namespace: string;
  name: string;
  containerId: string | null;
  node: string | null;
}

/** An event before the store stamps it with an id (and so a time). */
export type HistoryDraft = Omit<HistoryEvent, "id" | "time">;

/** Which events a store lists: every given filter applies; newest first. */
export interface HistoryQuery {
  /** Canonical address text (formatIP). */
  address?: string;
  pod?: { namespace: string; name: string };
  network?: string;
  /** Milliseconds since the epoch, inclusive. */
  since?: number;
  /** Milliseconds since the epoch, inclusive. */
  until?: number;
  /** Only events older than this id (paging). */
  after?: string;
  limit: number;
}

/** Events kinds after which the pod named in the event holds the address. */
export const HOLDING: ReadonlySet<EventKind> = new Set(["allocated", "reserved", "reassigned"]);

const ID = /^[0-9a-f]{24}$/;
export const isEventId = (text: string): boolean => ID.test(text);

/** The smallest id of an event at `ms` or later. */
export const idFloor = (ms: number): string => Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");

export const timeOfId = (id: string): string => new Date(Number.parseInt(id.slice(0, 12), 16)).toISOString();

/** Hands out ids in increasing order in this process, even when the clock steps back. */
export class EventIds {
  private lastMs = 0;
  private counter = 0;
  private readonly tag = randomBytes(3).toString("hex");

  next(now = Date.now()): string {
    if (now > this.lastMs) {
      this.lastMs = now;
      this.counter = 0;
    } else if (++this.counter > 0xffffff) {
      this.lastMs++;
      this.counter = 0;
    }
    return `${idFloor(this.lastMs)}${this.counter.toString(16).padStart(6, "0")}${this.tag}`;
  }

  /** The events of one transaction, stamped in order. */
  stamp(drafts: readonly HistoryDraft[]): HistoryEvent[] {
    return drafts.map((d) => {
      const id = this.next();
      return { id, time: timeOfId(id), ...d };
    });
  }
}

const sameKey = (a: AllocationKey, b: AllocationKey): boolean =>
  a.network === b.network && a.family === b.family && a.value === b.value;

function fixedIn(record: PodRecord | null | undefined, key: AllocationKey): boolean {
  const att = record?.attachments.find((a) => a.network === key.network);
  return (
    att?.addresses.some((x) => x.fixed && x.family === key.family && parseIP(x.ip)?.value === key.value) ??
    false
  );
}

/**
 * The events of a pod change: each address taken (reserved when the pod names it, allocated when
 * the RM picked it), each address let go (released, or gc), and, when the pod moved to another
 * sandbox or node (or left its sandbox), each address it keeps (reassigned).
 */
export function podEvents(
  namespace: string,
  name: string,
  existing: PodRecord | undefined,
  change: PodChange,
): HistoryDraft[] {
  const out: HistoryDraft[] = [];
  if (change.copy === true) return out;
  const holder = (r: PodRecord | null | undefined) => ({
    namespace,
    name,
    containerId: r?.containerId ?? null,
    node: r?.node ?? null,
  });
  const address = (k: AllocationKey) => formatIP({ family: k.family, value: k.value });
  for (const k of change.release) {
    out.push({
      event: change.releaseAs ?? "released",
      network: k.network,
      address: address(k),
      ...holder(existing),
    });
  }
  const record = change.record;
  for (const k of change.allocate) {
    out.push({
      event: fixedIn(record, k) ? "reserved" : "allocated",
      network: k.network,
      address: address(k),
      ...holder(record),
    });
  }
  if (
    existing !== undefined &&
    record !== null &&
    ((existing.containerId ?? null) !== (record.containerId ?? null) ||
      (existing.node ?? null) !== (record.node ?? null))
  ) {
    for (const att of record.attachments) {
      for (const a of att.addresses) {
        const value = parseIP(a.ip)?.value;
        if (value === undefined) continue;
        const key = { network: att.network, family: a.family, value };
        if (change.allocate.some((x) => sameKey(x, key))) continue;
        out.push({ event: "reassigned", network: att.network, address: formatIP(key), ...holder(record) });
      }
    }
  }
  return out;
}

/**
 * Events standing for the addresses a pod held before its store kept history (an upgrade): one per
 * address, at the pod's last update (by then it held the address, whenever it took it), with ids
 * derived from what they record, so that seeding twice (two replicas at once) writes the same events.
 */
export function seedEvents(pod: PodRecord): HistoryEvent[] {
  const updated = Date.parse(pod.updated);
  const ms = Number.isFinite(updated) ? updated : 0;
  const out: HistoryEvent[] = [];
  for (const att of pod.attachments) {
    for (const a of att.addresses) {
      const ip = parseIP(a.ip);
      if (ip === undefined) continue;
      const address = formatIP(ip);
      const tag = createHash("sha256")
        .update(`${pod.namespace}/${pod.name}|${att.network}|${address}`)
        .digest("hex");
      const id = `${idFloor(ms)}${tag.slice(0, 12)}`;
      out.push({
        id,
        time: timeOfId(id),
        event: a.fixed ? "reserved" : "allocated",
        network: att.network,
        address,
        namespace: pod.namespace,
        name: pod.name,
        containerId: pod.containerId ?? null,
        node: pod.node ?? null,
      });
    }
  }
  return out;
}

/** The event of a network's deletion (it held no address any more: the store refuses otherwise). */
export function networkDeleted(network: string): HistoryDraft {
  return {
    event: "network-deleted",
    network,
    address: "",
    namespace: "",
    name: "",
    containerId: null,
    node: null,
  };
}

/** Whether an event passes a query's filters (for stores that filter after reading an index). */
export function matches(e: HistoryEvent, q: HistoryQuery): boolean {
  if (q.address !== undefined && e.address !== q.address) return false;
  if (q.pod !== undefined && (e.namespace !== q.pod.namespace || e.name !== q.pod.name)) return false;
  if (q.network !== undefined && e.network !== q.network) return false;
  if (q.since !== undefined && e.id < idFloor(q.since)) return false;
  if (q.until !== undefined && e.id >= idFloor(q.until + 1)) return false;
  if (q.after !== undefined && e.id >= q.after) return false;
  return true;
}

/** The stored form of an event's body (the id is the key). */
export function encodeEvent(e: HistoryDraft): string {
  return JSON.stringify([e.event, e.network, e.address, e.namespace, e.name, e.containerId, e.node]);
}

export function decodeEvent(id: string, text: string): HistoryEvent {
  const [event, network, address, namespace, name, containerId, node] = JSON.parse(text) as [
    EventKind,
    string,
    string,
    string,
    string,
    string | null,
    string | null,
  ];
  return { id, time: timeOfId(id), event, network, address, namespace, name, containerId, node };
}
