// What an allocation decision reads on etcd: a snapshot at one revision, loaded as the decision
// asks for it. `AllocationView` is synchronous, so a read the snapshot does not hold yet is noted
// and the decision stopped (`Miss`); the store loads every noted key at the same revision and runs
// the decision again (decisions are pure and may run more than once). A new pod costs three reads:
// its key, its networks (with their cursors), one page of addresses after the cursor.
import type { Family } from "../net/ip.ts";
import type { AllocationKey, AllocationView } from "./allocate.ts";
import type { Attempt, KVClient } from "./etcd-client.ts";
import { type Keys, prefixEnd } from "./etcd-keys.ts";
import type { Network } from "./model.ts";

/** Addresses read per page when a decision walks a pool. */
const PAGE = 256;

const maxOf = (family: Family): bigint => (family === 4 ? 2n ** 32n - 1n : 2n ** 128n - 1n);

/** Stops a decision that read something the snapshot has not loaded yet. */
class Miss extends Error {
  override readonly name = "Miss";
}

type Need =
  | { kind: "network"; name: string }
  | { kind: "scan"; network: string; family: Family; from: bigint }
  | { kind: "owner"; network: string; family: Family; value: bigint };

/** A loaded stretch of a pool: every allocated address in from..to (inclusive), in order. */
interface Interval {
  from: bigint;
  to: bigint;
  values: bigint[];
  owners: Map<bigint, string>;
}

export interface NetworkRead {
  network: Network | undefined;
  /** The key's mod revision ("0" when absent): the commit checks it did not move. */
  mod: string;
}

export function decodeNetwork(name: string, value: Buffer): Network {
  const v = JSON.parse(value.toString("utf8")) as Omit<Network, "name">;
  return { name, spec: v.spec, created: v.created, updated: v.updated };
}

export function encodeNetwork(network: Network): Buffer {
  return Buffer.from(
    JSON.stringify({ spec: network.spec, created: network.created, updated: network.updated }),
  );
}

const pk = (network: string, family: Family) => `${network}|${family}`;

/**
 * Addresses this process is committing (or committed at a revision a snapshot may predate). A
 * decision sees them as taken, so concurrent allocations in one RM pick different addresses
 * instead of racing for the same one; etcd's compare-and-swap stays the only guarantee.
 */
export class Inflight {
  private readonly pools = new Map<string, Map<bigint, number>>();

  add(keys: AllocationKey[]): void {
    for (const k of keys) {
      let pool = this.pools.get(pk(k.network, k.family));
      if (pool === undefined) {
        pool = new Map();
        this.pools.set(pk(k.network, k.family), pool);
      }
      pool.set(k.value, Number.POSITIVE_INFINITY);
    }
  }

  /** The allocations are in etcd from `revision` on: snapshots at or after it show them. */
  committed(keys: AllocationKey[], revision: number): void {
    for (const k of keys) this.pools.get(pk(k.network, k.family))?.set(k.value, revision);
  }

  drop(keys: AllocationKey[]): void {
    for (const k of keys) this.pools.get(pk(k.network, k.family))?.delete(k.value);
  }

  /** Revisions of the snapshots decisions are using now (how many at each). */
  private readonly active = new Map<number, number>();

  /** A decision starts on a snapshot at `revision`; `leave` when it is done. */
  enter(revision: number): void {
    this.active.set(revision, (this.active.get(revision) ?? 0) + 1);
    // What the oldest snapshot in use shows already needs no overlay for anyone.
    this.prune(Math.min(...this.active.keys()));
  }

  leave(revision: number): void {
    const n = (this.active.get(revision) ?? 1) - 1;
    if (n > 0) this.active.set(revision, n);
    else this.active.delete(revision);
  }

  private prune(revision: number): void {
    for (const [key, pool] of this.pools) {
      for (const [value, rev] of pool) if (rev <= revision) pool.delete(value);
      if (pool.size === 0) this.pools.delete(key);
    }
  }

  valuesFrom(network: string, family: Family, from: bigint, revision: number): bigint[] {
    const pool = this.pools.get(pk(network, family));
    if (pool === undefined) return [];
    const out: bigint[] = [];
    for (const [value, rev] of pool) if (value >= from && rev > revision) out.push(value);
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/**
 * Where this replica last allocated in each pool (its lane), and when. While it allocates
 * steadily it resumes from its own last address rather than from the shared cursor, which every
 * replica writes: two busy replicas that once collided then work apart instead of racing for the
 * same next address every time. An idle lane (or one from before the network changed) gives way
 * to the shared cursor again, which keeps round robin for the pool as a whole.
 */
export class Lanes {
  private readonly lanes = new Map<string, { value: bigint; networkMod: string; at: number }>();
  private readonly idleMs: number;

  constructor(idleMs = 2000) {
    this.idleMs = idleMs;
  }

  get(network: string, family: Family, networkMod: string): bigint | undefined {
    const lane = this.lanes.get(pk(network, family));
    if (lane === undefined || lane.networkMod !== networkMod || Date.now() - lane.at > this.idleMs)
      return undefined;
    return lane.value;
  }

  set(network: string, family: Family, networkMod: string, value: bigint): void {
    if (this.lanes.size > 10_000) this.lanes.clear();
    this.lanes.set(pk(network, family), { value, networkMod, at: Date.now() });
  }
}

export class Snapshot {
  /** The revision every read after the first is made at. */
  revision = "0";
  /**
   * How far past the shared cursor this decision starts looking. 0 keeps strict round robin; after
   * losing an address to another replica a random skew stops both racing for the same next ones.
   */
  skew = 0n;
  readonly networks = new Map<string, NetworkRead>();
  private readonly cursors = new Map<string, bigint | undefined>();
  private readonly intervals = new Map<string, Interval[]>();
  private readonly owners = new Map<string, string | undefined>();
  private needs: Need[] = [];
  private readonly kv: KVClient;
  private readonly keys: Keys;
  private readonly inflight: Inflight;

  private readonly lanes: Lanes | undefined;

  constructor(kv: KVClient, keys: Keys, inflight: Inflight, lanes?: Lanes) {
    this.lanes = lanes;
    this.kv = kv;
    this.keys = keys;
    this.inflight = inflight;
  }

  /** Whether the last decision stopped on (or swallowed) a read the snapshot lacked. */
  get missed(): boolean {
    return this.needs.length > 0;
  }

  private need(n: Need): never {
    this.needs.push(n);
    throw new Miss("the snapshot does not hold this yet");
  }

  private interval(network: string, family: Family, value: bigint): Interval | undefined {
    return this.intervals.get(pk(network, family))?.find((i) => i.from <= value && value <= i.to);
  }

  /** The holder of an address at the snapshot's revision, if the snapshot has read it. */
  known(network: string, family: Family, value: bigint): { owner: string | undefined } | undefined {
    const i = this.interval(network, family, value);
    if (i !== undefined) return { owner: i.owners.get(value) };
    const key = `${pk(network, family)}|${value}`;
    if (this.owners.has(key)) return { owner: this.owners.get(key) };
    return undefined;
  }

  readonly view: AllocationView = {
    network: (name) => {
      const read = this.networks.get(name);
      if (read === undefined) return this.need({ kind: "network", name });
      return read.network;
    },
    owner: (network, family, value) => {
      const known = this.known(network, family, value);
      if (known === undefined) return this.need({ kind: "owner", network, family, value });
      return known.owner;
    },
    cursor: (network, family) => {
      if (!this.networks.has(network)) return this.need({ kind: "network", name: network });
      const mod = this.networks.get(network)?.mod ?? "0";
      const cursor = this.lanes?.get(network, family, mod) ?? this.cursors.get(pk(network, family));
      return cursor === undefined ? undefined : cursor + this.skew;
    },
    allocatedFrom: (network, family, from) => this.walk(network, family, from),
  };

  private *walk(network: string, family: Family, from: bigint): Generator<bigint> {
    const max = maxOf(family);
    let at = from;
    while (at <= max) {
      const i = this.interval(network, family, at);
      if (i === undefined) this.need({ kind: "scan", network, family, from: at });
      const mine = this.inflight
        .valuesFrom(network, family, at, Number(this.revision))
        .filter((v) => v <= i.to);
      let m = 0;
      for (const v of i.values) {
        if (v < at) continue;
        while (m < mine.length && (mine[m] ?? 0n) < v) yield mine[m++] ?? 0n;
        if (m < mine.length && mine[m] === v) m++;
        yield v;
      }
      while (m < mine.length) yield mine[m++] ?? 0n;
      at = i.to + 1n;
    }
  }

  /** Asks for the holders of addresses a change allocates that the snapshot has not read. */
  needOwners(keys: AllocationKey[]): void {
    for (const k of keys) {
      if (this.known(k.network, k.family, k.value) === undefined)
        this.needs.push({ kind: "owner", network: k.network, family: k.family, value: k.value });
    }
  }

  /** Loads everything the last decision asked for, at the snapshot's revision. */
  async load(a: Attempt): Promise<void> {
    const needs = this.needs;
    this.needs = [];
    const rev = this.revision;
    await Promise.all(
      needs.map(async (n) => {
        if (n.kind === "network") {
          if (this.networks.has(n.name)) return;
          // One read-only transaction: the network and both cursors, at the snapshot's revision.
          const res = await this.kv.txn(
            {
              success: [
                this.keys.network(n.name),
                this.keys.cursor(n.name, 4),
                this.keys.cursor(n.name, 6),
              ].map((key) => ({ request_range: { key, revision: rev } })),
            },
            a.call(),
          );
          const [net, c4, c6] = res.responses.map((r) => r.response_range);
          if (net === undefined || c4 === undefined || c6 === undefined)
            throw new Error("etcd answered a 3-read transaction with fewer reads");
          const kv = net.kvs[0];
          this.networks.set(n.name, {
            network: kv === undefined ? undefined : decodeNetwork(n.name, kv.value),
            mod: kv?.mod_revision ?? "0",
          });
          for (const [family, res] of [
            [4, c4],
            [6, c6],
          ] as const) {
            const v = res.kvs[0]?.value.toString("latin1");
            this.cursors.set(pk(n.name, family), v === undefined ? undefined : BigInt(`0x${v}`));
          }
        } else if (n.kind === "owner") {
          const res = await this.kv.range(
            { key: this.keys.addr(n.network, n.family, n.value), revision: rev },
            a.call(),
          );
          this.owners.set(`${pk(n.network, n.family)}|${n.value}`, res.kvs[0]?.value.toString("utf8"));
        } else {
          if (this.interval(n.network, n.family, n.from) !== undefined) return;
          const res = await this.kv.range(
            {
              key: this.keys.addr(n.network, n.family, n.from),
              range_end: prefixEnd(this.keys.addrs(n.network, n.family)),
              revision: rev,
              limit: PAGE,
            },
            a.call(),
          );
          const interval: Interval = { from: n.from, to: maxOf(n.family), values: [], owners: new Map() };
          for (const kv of res.kvs) {
            const value = this.keys.addrValue(kv.key);
            interval.values.push(value);
            interval.owners.set(value, kv.value.toString("utf8"));
          }
          const last = interval.values[interval.values.length - 1];
          if (res.more && last !== undefined) interval.to = last;
          const list = this.intervals.get(pk(n.network, n.family)) ?? [];
          list.push(interval);
          this.intervals.set(pk(n.network, n.family), list);
        }
      }),
    );
  }
}
