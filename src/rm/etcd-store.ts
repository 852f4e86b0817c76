// The distributed store: the RM's records on an etcd cluster, so several RM replicas can serve at
// once. Every read is linearizable (etcd's default: the member confirms with the leader first), so
// a reply reflects every write acknowledged by any replica; nothing is cached between requests.
//
// A decision (`updatePod`, `putNetwork`) reads a snapshot at one revision and commits with one etcd
// transaction guarded by compare-and-swap: the pod's key has not moved since the snapshot, the
// networks it read have not moved, and every address it takes has no key yet (createRevision 0).
// Another writer winning any of those makes etcd refuse the whole transaction, and the decision
// runs again on a fresh snapshot, within the operation's deadline. docs/etcd.md has the layout.
import type { Etcd3, IRequestOp, KVClient } from "etcd3";
import { formatIP } from "../net/ip.ts";
import { type AllocationKey, type AllocationView, addressKey, keyValue, type PodChange } from "./allocate.ts";
import { RmError } from "./errors.ts";
import { type Read, ReadBatcher } from "./etcd-batch.ts";
import {
  type Attempt,
  connect,
  type EtcdOptions,
  type EtcdTlsFiles,
  parseEndpoints,
  Retry,
  readTls,
  retrying,
} from "./etcd-client.ts";
import { Keys, prefixEnd, SCHEMA_VERSION } from "./etcd-keys.ts";
import { decodeNetwork, encodeNetwork, Inflight, Lanes, Snapshot } from "./etcd-view.ts";
import {
  decodeEvent,
  EventIds,
  encodeEvent,
  type HistoryEvent,
  type HistoryQuery,
  idFloor,
  matches,
  networkDeleted,
  podEvents,
  seedEvents,
} from "./history.ts";
import type { Network, PodRecord, Policy } from "./model.ts";
import { missingNetworks, networkInUse } from "./rules.ts";
import type { HeldAddress, ListPodsOptions, PoolUsage, Store } from "./store.ts";

const utf8 = (b: Buffer): string => b.toString("utf8");
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const next = (rev: string): string => (BigInt(rev) + 1n).toString();
/** The key right after `key`: where a page continues. */
const after = (key: Buffer): Buffer => Buffer.concat([key, Buffer.from([0])]);

/** Connects to the cluster, checks (or writes) the layout version, and returns the store. */
export async function openEtcdStore(options: EtcdOptions): Promise<Store> {
  const store = new EtcdStore(options);
  try {
    await store.init();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** What the command line says about an etcd store besides its endpoints. */
export interface EtcdFlags extends EtcdTlsFiles {
  /** Key prefix (`--etcd-prefix`, default `/dockin`). */
  prefix?: string;
}

/** Opens `etcd:http://a:2379,http://b:2379` with the TLS files and prefix from the command line. */
export async function openEtcdStoreFromSpec(spec: string, flags: EtcdFlags = {}): Promise<Store> {
  const endpoints = parseEndpoints(spec.replace(/^etcd:/, ""));
  const options: EtcdOptions = { endpoints };
  const tls = readTls(flags);
  if (tls !== undefined) options.tls = tls;
  if (flags.prefix !== undefined) options.prefix = flags.prefix;
  return openEtcdStore(options);
}

/** Runs tasks with the same key one after another (a pod's updates in this process). */
class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const done = prev.then(fn, fn);
    const tail = done.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return done;
  }
}

export class EtcdStore implements Store {
  readonly description: string;
  readonly keys: Keys;
  private readonly client: Etcd3;
  private readonly kv: KVClient;
  private readonly timing: { deadlineMs: number; requestTimeoutMs: number };
  private readonly inflight = new Inflight();
  private readonly lanes = new Lanes();
  private readonly reads: ReadBatcher;
  private readonly pods = new KeyedQueue();
  private readonly ids = new EventIds();
  private closed = false;
  /** Counters for benchmarks and logs: commits and compare-and-swap losses. */
  readonly stats = { commits: 0, conflicts: 0 };

  constructor(options: EtcdOptions) {
    const prefix = options.prefix ?? "/dockin";
    this.keys = new Keys(prefix);
    this.description = `etcd:${options.endpoints.join(",")}${prefix === "/dockin" ? "" : ` (prefix ${prefix})`}`;
    this.timing = {
      deadlineMs: options.deadlineMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 2_000,
    };
    this.client = connect(options);
    this.kv = this.client.kv;
    this.reads = new ReadBatcher(this.kv, this.timing.requestTimeoutMs);
  }

  private run<T>(what: string, fn: (a: Attempt) => Promise<T>, tooLargeHint?: string): Promise<T> {
    if (this.closed) return Promise.reject(new RmError("Unavailable", "the store is closed"));
    return retrying(what, this.timing, fn, tooLargeHint);
  }

  /** Writes the layout version on an empty prefix; refuses a newer one. */
  async init(): Promise<void> {
    await this.run("reading the etcd layout version", async (a) => {
      const key = this.keys.schema();
      const res = await this.kv.txn(
        {
          compare: [{ key, target: "Create", result: "Equal", create_revision: 0 }],
          success: [{ request_put: { key, value: Buffer.from(String(SCHEMA_VERSION)) } }],
          failure: [{ request_range: { key } }],
        },
        a.call(),
      );
      if (res.succeeded) return;
      const have = Number(utf8(res.responses[0]?.response_range.kvs[0]?.value ?? Buffer.from("0")));
      if (!(have >= 1 && have <= SCHEMA_VERSION)) {
        throw new Error(
          `etcd layout under ${this.keys.root} is version ${have}, not one this dockin knows (${SCHEMA_VERSION}); upgrade dockin`,
        );
      }
    });
    await this.seedHistory();
  }

  /**
   * A layout written before there was a history (no marker): the addresses its pods hold become
   * events (history.ts seedEvents), then the marker. Seed ids derive from what they record, so
   * two replicas seeding at once write the same keys.
   */
  private async seedHistory(): Promise<void> {
    const marker = this.keys.historySeeded();
    const seeded = await this.run("reading the history marker", async (a) => {
      const res = await this.kv.range({ key: marker, count_only: true }, a.call());
      return Number(res.count) > 0;
    });
    if (seeded) return;
    const base = this.keys.pods();
    let from = base;
    for (;;) {
      const page = await this.run("reading pods to seed the history", (a) =>
        this.rangeAll(a, from, prefixEnd(base), { limit: 500 }),
      );
      await this.importHistory(page.kvs.flatMap((kv) => seedEvents(JSON.parse(utf8(kv.value)) as PodRecord)));
      const last = page.kvs[page.kvs.length - 1];
      if (last === undefined || page.kvs.length < 500) break;
      from = after(last.key);
    }
    await this.run("writing the history marker", async (a) => {
      await this.kv.put({ key: marker, value: Buffer.from("1") }, a.call());
    });
  }

  /** Every key/value in [start, end) at one revision, page by page (large lists stay under gRPC's limits). */
  private async rangeAll(
    a: Attempt,
    start: Buffer,
    end: Buffer,
    options: { revision?: string; limit?: number; page?: number } = {},
  ): Promise<{ kvs: { key: Buffer; value: Buffer }[]; revision: string }> {
    const kvs: { key: Buffer; value: Buffer }[] = [];
    let revision = options.revision;
    let from = start;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    for (;;) {
      const page = Math.min(options.page ?? 1000, limit - kvs.length);
      if (page <= 0) break;
      const res = await this.kv.range(
        { key: from, range_end: end, limit: page, ...(revision === undefined ? {} : { revision }) },
        a.call(),
      );
      revision ??= res.header.revision;
      kvs.push(...res.kvs);
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || last === undefined) break;
      from = after(last.key);
    }
    return { kvs, revision: revision ?? "0" };
  }

  // ---- networks

  async putNetwork(
    name: string,
    decide: (existing: Network | undefined, allocated: HeldAddress[], others: Network[]) => Network,
  ): Promise<{ network: Network; created: boolean }> {
    return this.run(`writing network "${name}"`, async (a) => {
      const key = this.keys.network(name);
      const res = await this.kv.range({ key }, a.call());
      const kv = res.kvs[0];
      const existing = kv === undefined ? undefined : decodeNetwork(name, kv.value);
      const rev = res.header.revision;
      const addrs = this.keys.addrs(name);
      const { kvs } = await this.rangeAll(a, addrs, prefixEnd(addrs), { revision: rev, page: 5000 });
      const allocated = kvs.map((x) => {
        const { family, value } = this.keys.addrParts(x.key);
        return { family, value, owner: utf8(x.value) };
      });
      const all = this.keys.networks();
      const listed = await this.rangeAll(a, all, prefixEnd(all), { revision: rev });
      const others = listed.kvs
        .map((x) => decodeNetwork(this.keys.nameIn(all, x.key), x.value))
        .filter((n) => n.name !== name);
      const network = decide(existing, allocated, others);
      // Commit only if the network is as read, no other network was written and no address of it
      // was taken since the read (a new key has a mod revision after the snapshot's).
      const txn = await this.kv.txn(
        {
          compare: [
            { key, target: "Mod", result: "Equal", mod_revision: kv?.mod_revision ?? "0" },
            { key: all, range_end: prefixEnd(all), target: "Mod", result: "Less", mod_revision: next(rev) },
            {
              key: addrs,
              range_end: prefixEnd(addrs),
              target: "Mod",
              result: "Less",
              mod_revision: next(rev),
            },
          ],
          success: [{ request_put: { key, value: encodeNetwork(network) } }],
        },
        a.call(),
      );
      if (!txn.succeeded) throw new Retry();
      return { network, created: existing === undefined };
    });
  }

  async getNetwork(name: string): Promise<Network | undefined> {
    return this.run(`reading network "${name}"`, async () => {
      const { kv } = await this.reads.get(this.keys.network(name));
      return kv === undefined ? undefined : decodeNetwork(name, kv.value);
    });
  }

  async listNetworks(): Promise<Network[]> {
    return this.run("listing networks", async (a) => {
      const start = this.keys.networks();
      const { kvs } = await this.rangeAll(a, start, prefixEnd(start));
      return kvs.map((kv) => decodeNetwork(this.keys.nameIn(start, kv.key), kv.value));
    });
  }

  async deleteNetwork(name: string): Promise<void> {
    await this.run(`deleting network "${name}"`, async (a) => {
      const key = this.keys.network(name);
      const addrs = this.keys.addrs(name);
      const res = await this.kv.range({ key }, a.call());
      const kv = res.kvs[0];
      if (kv === undefined) throw new RmError("NotFound", `network "${name}" not found`);
      const count = await this.kv.range(
        { key: addrs, range_end: prefixEnd(addrs), count_only: true, revision: res.header.revision },
        a.call(),
      );
      const n = Number(count.count);
      if (n > 0) {
        throw new RmError(
          "Conflict",
          `network "${name}" still has ${n} allocated address(es); delete its pods first`,
        );
      }
      const policies = this.keys.policies();
      const rev = res.header.revision;
      const { kvs } = await this.rangeAll(a, policies, prefixEnd(policies), { revision: rev });
      const inUse = networkInUse(
        name,
        kvs.map((x) => JSON.parse(utf8(x.value)) as Policy),
      );
      if (inUse !== undefined) throw inUse;
      const cursors = this.keys.cursors(name);
      const txn = await this.kv.txn(
        {
          compare: [
            { key, target: "Mod", result: "Equal", mod_revision: kv.mod_revision },
            // No policy written since the read (one naming this network would be among them).
            {
              key: policies,
              range_end: prefixEnd(policies),
              target: "Mod",
              result: "Less",
              mod_revision: next(rev),
            },
            // Still no address key at all in the network.
            {
              key: addrs,
              range_end: prefixEnd(addrs),
              target: "Create",
              result: "Equal",
              create_revision: 0,
            },
          ],
          success: [
            { request_delete_range: { key } },
            { request_delete_range: { key: cursors, range_end: prefixEnd(cursors) } },
            ...this.historyPuts(this.ids.stamp([networkDeleted(name)])),
          ],
        },
        a.call(),
      );
      if (!txn.succeeded) throw new Retry();
    });
  }

  async usage(): Promise<PoolUsage[]> {
    return this.run("counting allocated addresses", async (a) => {
      const start = this.keys.networks();
      const res = await this.kv.range({ key: start, range_end: prefixEnd(start), keys_only: true }, a.call());
      const rev = res.header.revision;
      const names = res.kvs.map((kv) => this.keys.nameIn(start, kv.key));
      // Every pool's count in read-only transactions of up to 128 count-only ranges, at one revision.
      const pools = names.flatMap((network) => ([4, 6] as const).map((family) => ({ network, family })));
      const counts: PoolUsage[] = [];
      for (let i = 0; i < pools.length; i += 128) {
        const chunk = pools.slice(i, i + 128);
        const txn = await this.kv.txn(
          {
            success: chunk.map(({ network, family }) => {
              const k = this.keys.addrs(network, family);
              return { request_range: { key: k, range_end: prefixEnd(k), count_only: true, revision: rev } };
            }),
          },
          a.call(),
        );
        chunk.forEach((pool, j) => {
          counts.push({ ...pool, allocated: Number(txn.responses[j]?.response_range.count ?? 0) });
        });
      }
      return counts.filter((c) => c.allocated > 0);
    });
  }

  // ---- pods

  async updatePod(
    namespace: string,
    name: string,
    decide: (existing: PodRecord | undefined, view: AllocationView) => PodChange | undefined,
  ): Promise<PodRecord | undefined> {
    const owner = `${namespace}/${name}`;
    // One update of a pod at a time in this process: they would only fail each other's compare.
    return this.pods.run(owner, () =>
      this.run(
        `updating pod ${owner}`,
        async (a) => {
          const read = await this.reads.get(this.keys.pod(namespace, name));
          const revision = read.revision;
          this.inflight.enter(Number(revision));
          try {
            return await this.decideAndCommit(namespace, name, read, a, decide);
          } finally {
            this.inflight.leave(Number(revision));
          }
        },
        ", or give the pod fewer addresses at once (each one it takes or frees costs 5 operations)",
      ),
    );
  }

  private async decideAndCommit(
    namespace: string,
    name: string,
    read: Read,
    a: Attempt,
    decide: (existing: PodRecord | undefined, view: AllocationView) => PodChange | undefined,
  ): Promise<PodRecord | undefined> {
    const revision = read.revision;
    const kv = read.kv;
    const existing = kv === undefined ? undefined : (JSON.parse(utf8(kv.value)) as PodRecord);
    const snapshot = new Snapshot(this.kv, this.keys, this.inflight, this.lanes);
    snapshot.revision = revision;
    if (a.conflicts > 0) snapshot.skew = BigInt(1 + Math.floor(Math.random() * 256));

    let change: PodChange | undefined;
    for (;;) {
      let failure: { err: unknown } | undefined;
      try {
        change = decide(existing, snapshot.view);
      } catch (err) {
        failure = { err };
      }
      // A decision that read past the snapshot runs again once it is loaded, whatever it did.
      if (snapshot.missed) {
        await snapshot.load(a);
        continue;
      }
      if (failure !== undefined) throw failure.err;
      if (change === undefined) return existing;
      // Whoever holds an address the change takes, as of the snapshot: a held one is refused
      // here (as SQLite's primary key does); one taken after the snapshot fails the compare.
      snapshot.needOwners(change.allocate);
      if (!snapshot.missed) break;
      await snapshot.load(a);
    }
    for (const x of change.allocate) {
      const holder = snapshot.known(x.network, x.family, x.value)?.owner;
      if (holder !== undefined) {
        throw new RmError(
          "Conflict",
          `${formatIP({ family: x.family, value: x.value })} in network "${x.network}" is already held by pod ${holder}`,
        );
      }
    }
    // This attempt's events: they commit with the change or not at all.
    const events = this.ids.stamp(podEvents(namespace, name, existing, change));
    const txn = this.podTxn(namespace, name, kv?.mod_revision ?? "0", snapshot, change, events);
    this.inflight.add(change.allocate);
    let committed = false;
    try {
      const out = await this.kv.txn(txn, a.call());
      committed = out.succeeded;
      if (committed) this.inflight.committed(change.allocate, Number(out.header.revision));
    } finally {
      if (!committed) this.inflight.drop(change.allocate);
    }
    if (!committed) {
      this.stats.conflicts++;
      throw new Retry();
    }
    this.stats.commits++;
    for (const c of change.cursors) {
      const mod = snapshot.networks.get(c.network)?.mod;
      if (mod !== undefined) this.lanes.set(c.network, c.family, mod, c.value);
    }
    return change.record ?? undefined;
  }

  private podTxn(
    namespace: string,
    name: string,
    podMod: string,
    snapshot: Snapshot,
    change: PodChange,
    events: readonly HistoryEvent[],
  ) {
    const owner = Buffer.from(`${namespace}/${name}`);
    const key = this.keys.pod(namespace, name);
    const compare: NonNullable<Parameters<KVClient["txn"]>[0]["compare"]> = [
      { key, target: "Mod", result: "Equal", mod_revision: podMod },
    ];
    for (const [net, read] of snapshot.networks) {
      compare.push({ key: this.keys.network(net), target: "Mod", result: "Equal", mod_revision: read.mod });
    }
    const success: IRequestOp[] = [];
    for (const x of change.allocate) {
      const k = this.keys.addr(x.network, x.family, x.value);
      compare.push({ key: k, target: "Create", result: "Equal", create_revision: 0 });
      success.push({ request_put: { key: k, value: owner } });
    }
    for (const x of change.release) {
      // Only an address this pod holds is freed (SQLite: DELETE … WHERE owner = ?).
      const k = this.keys.addr(x.network, x.family, x.value);
      success.push({
        request_txn: {
          compare: [{ key: k, target: "Value", result: "Equal", value: owner }],
          success: [{ request_delete_range: { key: k } }],
        },
      });
    }
    success.push(...this.cursorPuts(change.cursors));
    if (change.record === null) success.push({ request_delete_range: { key } });
    else success.push({ request_put: { key, value: json(change.record) } });
    success.push(...this.historyPuts(events));
    return { compare, success };
  }

  /** The keys of history events: each event's own key and its index keys, with their values. */
  private historyKeys(events: readonly HistoryEvent[]): { key: Buffer; value: string }[] {
    const keys: { key: Buffer; value: string }[] = [];
    const by = (index: "address" | "pod" | "network", value: string, e: HistoryEvent) =>
      Buffer.concat([this.keys.historyBy(index, value), Buffer.from(e.id)]);
    for (const e of events) {
      keys.push({ key: this.keys.event(e.id), value: encodeEvent(e) });
      if (e.address !== "") keys.push({ key: by("address", e.address, e), value: e.network });
      if (e.namespace !== "") keys.push({ key: by("pod", `${e.namespace}/${e.name}`, e), value: "" });
      keys.push({ key: by("network", e.network, e), value: "" });
    }
    return keys;
  }

  /** The writes of history events (`historyKeys`). */
  private historyPuts(events: readonly HistoryEvent[]): IRequestOp[] {
    return this.historyKeys(events).map(({ key, value }) => ({
      request_put: { key, value: Buffer.from(value) },
    }));
  }

  /** The deletes of history events (the inverse of historyPuts). */
  private historyDeletes(events: readonly HistoryEvent[]): IRequestOp[] {
    return this.historyKeys(events).map(({ key }) => ({ request_delete_range: { key } }));
  }

  /** Events by id, read in transactions of up to 128 gets. */
  private async eventsById(a: Attempt, ids: readonly string[], revision?: string): Promise<HistoryEvent[]> {
    const out: HistoryEvent[] = [];
    for (let i = 0; i < ids.length; i += 128) {
      const chunk = ids.slice(i, i + 128);
      const txn = await this.kv.txn(
        {
          success: chunk.map((id) => ({
            request_range: { key: this.keys.event(id), ...(revision === undefined ? {} : { revision }) },
          })),
        },
        a.call(),
      );
      chunk.forEach((id, j) => {
        const kv = txn.responses[j]?.response_range.kvs[0];
        if (kv !== undefined) out.push(decodeEvent(id, utf8(kv.value)));
      });
    }
    return out;
  }

  // ---- history

  async history(query: HistoryQuery): Promise<HistoryEvent[]> {
    const limit = Math.max(0, Math.floor(query.limit));
    if (limit === 0) return [];
    return this.run("reading the address history", async (a) => {
      // One index range, the narrowest the query allows; the other filters apply to what it yields.
      const base =
        query.address !== undefined
          ? this.keys.historyBy("address", query.address)
          : query.pod !== undefined
            ? this.keys.historyBy("pod", `${query.pod.namespace}/${query.pod.name}`)
            : query.network !== undefined
              ? this.keys.historyBy("network", query.network)
              : this.keys.events();
      const at = (id: string) => Buffer.concat([base, Buffer.from(id)]);
      const start = query.since === undefined ? base : at(idFloor(query.since));
      let end = prefixEnd(base);
      if (query.until !== undefined) end = at(idFloor(query.until + 1));
      if (query.after !== undefined && Buffer.compare(at(query.after), end) < 0) end = at(query.after);
      const out: HistoryEvent[] = [];
      let revision: string | undefined;
      while (out.length < limit && Buffer.compare(start, end) < 0) {
        const page = Math.min(1000, Math.max(limit - out.length, 16));
        const res = await this.kv.range(
          {
            key: start,
            range_end: end,
            limit: page,
            keys_only: true,
            sort_order: "Descend",
            sort_target: "Key",
            ...(revision === undefined ? {} : { revision }),
          },
          a.call(),
        );
        revision ??= res.header.revision;
        const ids = res.kvs.map((kv) => kv.key.subarray(base.length).toString("latin1"));
        const events = await this.eventsById(a, ids, revision);
        for (const e of events) if (out.length < limit && matches(e, query)) out.push(e);
        const last = res.kvs[res.kvs.length - 1];
        if (!res.more || last === undefined) break;
        end = last.key;
      }
      return out;
    });
  }

  async importHistory(events: readonly HistoryEvent[]): Promise<void> {
    // 25 events (up to 100 keys) a transaction: under etcd's default --max-txn-ops of 128.
    for (let i = 0; i < events.length; i += 25) {
      const puts = this.historyPuts(events.slice(i, i + 25));
      await this.run("writing address history", async (a) => {
        await this.kv.txn({ success: puts }, a.call());
      });
    }
  }

  async pruneHistory(
    before: number,
    limit: number,
    from?: string,
  ): Promise<{ deleted: number; next: string | undefined }> {
    const max = Math.max(0, Math.floor(limit));
    if (max === 0) return { deleted: 0, next: from };
    return this.run("pruning the address history", async (a) => {
      const base = this.keys.events();
      const start = from === undefined ? base : after(this.keys.event(from));
      const res = await this.kv.range(
        { key: start, range_end: Buffer.concat([base, Buffer.from(idFloor(before))]), limit: max },
        a.call(),
      );
      const doomed: HistoryEvent[] = [];
      for (const kv of res.kvs) {
        const e = decodeEvent(kv.key.subarray(base.length).toString("latin1"), utf8(kv.value));
        if (e.address === "" || (await this.hasNewer(a, e, res.header.revision))) doomed.push(e);
      }
      // 32 events (up to 128 keys) a transaction: etcd's default --max-txn-ops.
      for (let i = 0; i < doomed.length; i += 32) {
        await this.kv.txn({ success: this.historyDeletes(doomed.slice(i, i + 32)) }, a.call());
      }
      const last = res.kvs[res.kvs.length - 1];
      const next =
        res.kvs.length < max || last === undefined
          ? undefined
          : last.key.subarray(base.length).toString("latin1");
      return { deleted: doomed.length, next };
    });
  }

  /** Whether a later event of the same address and network exists (its index value is the network). */
  private async hasNewer(a: Attempt, e: HistoryEvent, revision: string): Promise<boolean> {
    const index = this.keys.historyBy("address", e.address);
    let from = after(Buffer.concat([index, Buffer.from(e.id)]));
    for (;;) {
      const res = await this.kv.range(
        { key: from, range_end: prefixEnd(index), limit: 500, revision },
        a.call(),
      );
      if (res.kvs.some((x) => utf8(x.value) === e.network)) return true;
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || last === undefined) return false;
      from = after(last.key);
    }
  }

  async getPod(namespace: string, name: string): Promise<PodRecord | undefined> {
    return this.run(`reading pod ${namespace}/${name}`, async () => {
      const { kv } = await this.reads.get(this.keys.pod(namespace, name));
      return kv === undefined ? undefined : (JSON.parse(utf8(kv.value)) as PodRecord);
    });
  }

  async listPods(options: ListPodsOptions = {}): Promise<PodRecord[]> {
    return this.run("listing pods", async (a) => {
      const base = this.keys.pods(options.namespace);
      let start = base;
      if (options.after !== undefined) {
        const slash = options.after.indexOf("/");
        const from = after(this.keys.pod(options.after.slice(0, slash), options.after.slice(slash + 1)));
        if (Buffer.compare(from, start) > 0) start = from;
      }
      const limit = options.limit === undefined ? undefined : Math.max(0, Math.floor(options.limit));
      if (limit === 0) return [];
      const { kvs } = await this.rangeAll(a, start, prefixEnd(base), limit === undefined ? {} : { limit });
      return kvs.map((kv) => JSON.parse(utf8(kv.value)) as PodRecord);
    });
  }

  /** The writes of `cursors`, the last of each pool only. */
  private cursorPuts(cursors: readonly AllocationKey[]): IRequestOp[] {
    const puts = new Map<string, IRequestOp>();
    for (const c of cursors) {
      const k = this.keys.cursor(c.network, c.family);
      puts.set(utf8(k), {
        request_put: { key: k, value: Buffer.from(addressKey(c.value)) },
      });
    }
    return [...puts.values()];
  }

  async cursors(): Promise<AllocationKey[]> {
    return this.run("reading the allocation cursors", async (a) => {
      const base = this.keys.cursors();
      const { kvs } = await this.rangeAll(a, base, prefixEnd(base));
      return kvs.map((kv) => {
        const [network = "", family = "4"] = this.keys.nameIn(base, kv.key).split("/");
        return {
          network,
          family: family === "6" ? 6 : 4,
          value: keyValue(kv.value.toString("latin1")),
        } satisfies AllocationKey;
      });
    });
  }

  async putCursors(cursors: readonly AllocationKey[]): Promise<void> {
    const puts = this.cursorPuts(cursors);
    if (puts.length === 0) return;
    await this.run("writing the allocation cursors", async (a) => {
      await this.kv.txn({ success: puts }, a.call());
    });
  }

  async countPods(): Promise<number> {
    return this.run("counting pods", async (a) => {
      const k = this.keys.pods();
      const res = await this.kv.range({ key: k, range_end: prefixEnd(k), count_only: true }, a.call());
      return Number(res.count);
    });
  }

  // ---- policies

  async putPolicy(
    name: string,
    decide: (existing: Policy | undefined) => Policy,
  ): Promise<{ policy: Policy; created: boolean }> {
    return this.run(`writing policy "${name}"`, async (a) => {
      const key = this.keys.policy(name);
      const res = await this.kv.range({ key }, a.call());
      const kv = res.kvs[0];
      const existing = kv === undefined ? undefined : (JSON.parse(utf8(kv.value)) as Policy);
      const policy = decide(existing);
      const names = [...new Set(policy.networks.map((att) => att.network))];
      const read = await this.kv.txn(
        {
          success: names.map((n) => ({
            request_range: { key: this.keys.network(n), keys_only: true, revision: res.header.revision },
          })),
        },
        a.call(),
      );
      // Each network as read: its creation revision (absent: none).
      const created = new Map<string, string>();
      names.forEach((n, i) => {
        const found = read.responses[i]?.response_range.kvs[0];
        if (found !== undefined) created.set(n, found.create_revision);
      });
      const missing = missingNetworks(policy, (n) => created.has(n));
      if (missing !== undefined) throw missing;
      // Commit only if the policy is as read and every network it names is still the one read
      // (a network deleted since, or deleted and created again, has another creation revision).
      const txn = await this.kv.txn(
        {
          compare: [
            { key, target: "Mod", result: "Equal", mod_revision: kv?.mod_revision ?? "0" },
            ...[...created].map(([n, rev]) => ({
              key: this.keys.network(n),
              target: "Create" as const,
              result: "Equal" as const,
              create_revision: rev,
            })),
          ],
          success: [{ request_put: { key, value: json(policy) } }],
        },
        a.call(),
      );
      if (!txn.succeeded) throw new Retry();
      return { policy, created: existing === undefined };
    });
  }

  async getPolicy(name: string): Promise<Policy | undefined> {
    return this.run(`reading policy "${name}"`, async () => {
      const { kv } = await this.reads.get(this.keys.policy(name));
      return kv === undefined ? undefined : (JSON.parse(utf8(kv.value)) as Policy);
    });
  }

  async listPolicies(): Promise<Policy[]> {
    return this.run("listing policies", async (a) => {
      const start = this.keys.policies();
      const { kvs } = await this.rangeAll(a, start, prefixEnd(start));
      return kvs.map((kv) => JSON.parse(utf8(kv.value)) as Policy);
    });
  }

  async deletePolicy(name: string): Promise<boolean> {
    return this.run(`deleting policy "${name}"`, async (a) => {
      const res = await this.kv.deleteRange({ key: this.keys.policy(name) }, a.call());
      return Number(res.deleted) > 0;
    });
  }

  async ping(): Promise<void> {
    await this.run("reaching etcd", async (a) => {
      await this.kv.range({ key: this.keys.schema(), count_only: true }, a.call());
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}
