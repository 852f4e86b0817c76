// The embedded store: one SQLite file through the runtime's built-in node:sqlite (no native addon
// to build, nothing to download: it ships inside the pinned Bun; bun:sqlite is the same SQLite at
// the same cost per statement, BENCHMARKS.md "Where an allocation's time goes"). WAL mode, so
// readers never wait for the writer; synchronous=FULL by default, so every commit is fsynced
// before the RM answers (see docs/rm.md for why not NORMAL). Writes are group-committed: those of
// one event-loop turn share one BEGIN IMMEDIATE transaction and one fsync, each in its own
// savepoint.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Family } from "../net/ip.ts";
import { type AllocationKey, type AllocationView, addressKey, keyValue, type PodChange } from "./allocate.ts";
import { RmError } from "./errors.ts";
import {
  EventIds,
  type HistoryDraft,
  type HistoryEvent,
  type HistoryQuery,
  idFloor,
  networkDeleted,
  podEvents,
  seedEvents,
  timeOfId,
} from "./history.ts";
import type { Network, PodRecord, Policy } from "./model.ts";
import { missingNetworks, networkInUse } from "./rules.ts";
import type { HeldAddress, ListPodsOptions, PoolUsage, Store } from "./store.ts";
import { WriterLock } from "./writer-lock.ts";

/** Schema versions in order; the database's `user_version` says how many have been applied. */
export const MIGRATIONS: readonly { name: string; sql: string; after?: (db: DatabaseSync) => void }[] = [
  {
    name: "networks, pods, allocations, cursors, policies",
    sql: `
      CREATE TABLE networks (
        name TEXT PRIMARY KEY, spec TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL
      ) STRICT;
      CREATE TABLE pods (
        namespace TEXT NOT NULL, name TEXT NOT NULL, record TEXT NOT NULL,
        PRIMARY KEY (namespace, name)
      ) STRICT, WITHOUT ROWID;
      -- One row per address held: the primary key is what keeps an address to one pod.
      CREATE TABLE allocations (
        network TEXT NOT NULL, family INTEGER NOT NULL, addr TEXT NOT NULL, owner TEXT NOT NULL,
        PRIMARY KEY (network, family, addr)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE cursors (
        network TEXT NOT NULL, family INTEGER NOT NULL, addr TEXT NOT NULL,
        PRIMARY KEY (network, family)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE policies (name TEXT PRIMARY KEY, spec TEXT NOT NULL) STRICT;
    `,
  },
  {
    // etcd lists pods by the bytes of `namespace/name`, which differs from (namespace, name) for
    // namespaces that are prefixes of others ("a" and "a-b": '-' sorts before '/'); both stores
    // list in etcd's order, so that pages and `rm migrate` see one order.
    name: "pods in the order of their namespace/name text",
    sql: "CREATE INDEX pods_by_key ON pods (namespace || '/' || name);",
  },
  {
    // Address history (history.ts): ids sort by time, so each index ends with the id and every
    // query (an address, a pod, a network, newest first, from a time or a page on) is one range.
    // The rows are stored in address order, so "who had this address at T" reads one contiguous
    // run of rows and no index.
    name: "address history",
    sql: `
      CREATE TABLE history (
        address TEXT NOT NULL, id TEXT NOT NULL, event TEXT NOT NULL, network TEXT NOT NULL,
        namespace TEXT NOT NULL, name TEXT NOT NULL, container TEXT, node TEXT,
        PRIMARY KEY (address, id)
      ) STRICT, WITHOUT ROWID;
      CREATE UNIQUE INDEX history_by_id ON history (id);
      CREATE INDEX history_by_pod ON history (namespace, name, id);
      CREATE INDEX history_by_network ON history (network, id);
    `,
    // The addresses held at the upgrade, as events at each pod's last update (history.ts seedEvents).
    after: (db) => {
      const ins = db.prepare(
        `INSERT INTO history (id, event, network, address, namespace, name, container, node)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const row of db.prepare("SELECT record FROM pods").iterate()) {
        for (const e of seedEvents(JSON.parse(str(row as Row, "record")) as PodRecord))
          ins.run(e.id, e.event, e.network, e.address, e.namespace, e.name, e.containerId, e.node);
      }
    },
  },
  {
    // The events of the latest writes, in the order they were written, before they join `history`.
    // A write's events go here, in its transaction: one row at the end of one table, where
    // `history` takes four (the table and its three indexes), each on a page of its own, and
    // every page a commit changes is written and fsynced once more. Once `foldRows` rows are
    // here, one write moves them all into `history` (SqliteStore.fold), a page taking many rows.
    name: "recent address history",
    sql: `
      CREATE TABLE history_recent (
        seq INTEGER PRIMARY KEY, address TEXT NOT NULL, id TEXT NOT NULL, event TEXT NOT NULL,
        network TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, container TEXT, node TEXT
      ) STRICT;
    `,
  },
];

/** Events kept in `history_recent` before they are folded into `history` (a query reads them all). */
export const HISTORY_FOLD_ROWS = 256;

/** The columns of an event row, in both history tables. */
const EVENT_COLUMNS = "id, event, network, address, namespace, name, container, node";

export type Synchronous = "full" | "normal";

export interface SqliteOptions {
  /** `full` (default): fsync at every commit. `normal`: survives kill -9 but not power loss. */
  synchronous?: Synchronous;
  /** Record address history (default true; off only to measure what it costs). */
  history?: boolean;
  /** Recent events kept apart before they join the indexed history (default HISTORY_FOLD_ROWS). */
  foldRows?: number;
}

type Row = Record<string, unknown>;

const str = (row: Row | undefined, key: string): string => String(row?.[key] ?? "");

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Opens (creating and migrating as needed) the SQLite store at `path`. */
export async function openSqliteStore(path: string, options: SqliteOptions = {}): Promise<Store> {
  return new SqliteStore(path, options);
}

class SqliteStore implements Store {
  readonly description: string;
  private readonly db: DatabaseSync;
  private readonly stmts = new Map<string, StatementSync>();
  private readonly ids = new EventIds();
  private readonly recordHistory: boolean;
  private readonly foldRows: number;
  /** Rows in history_recent (as of the last write that committed, plus the current batch's). */
  private recentRows = 0;
  private foldQueued = false;
  private closed = false;
  /** `<path>.lock`: this store answers reads from memory, so it must be the file's only writer. */
  private readonly lock: WriterLock | undefined;

  constructor(path: string, options: SqliteOptions) {
    this.description = `sqlite:${path}`;
    this.recordHistory = options.history ?? true;
    this.foldRows = Math.max(1, options.foldRows ?? HISTORY_FOLD_ROWS);
    if (path !== ":memory:") {
      mkdirSync(dirname(path), { recursive: true });
      this.lock = WriterLock.take(path);
    }
    try {
      this.db = new DatabaseSync(path);
    } catch (err) {
      this.unlock();
      throw new Error(`opening SQLite database "${path}"`, { cause: err });
    }
    try {
      const mode = this.db.prepare("PRAGMA journal_mode = WAL").get();
      if (path !== ":memory:" && str(mode, "journal_mode") !== "wal") {
        throw new Error(`"${path}" refused WAL mode (journal_mode is ${str(mode, "journal_mode")})`);
      }
      this.db.exec(`PRAGMA synchronous = ${options.synchronous === "normal" ? "NORMAL" : "FULL"}`);
      this.db.exec("PRAGMA busy_timeout = 5000");
      // The group commit gives each write a savepoint, and SQLite copies every page a write
      // changes into the savepoint's journal first: past 64 KiB (a few writes into a batch) that
      // journal spills to a temporary file, one pwrite per page. In memory it stays a copy.
      this.db.exec("PRAGMA temp_store = MEMORY");
      this.migrate();
      this.recentRows = Number(this.db.prepare("SELECT count(*) AS n FROM history_recent").get()?.n ?? 0);
    } catch (err) {
      this.db.close();
      this.unlock();
      throw err;
    }
  }

  private unlock(): void {
    this.lock?.release();
  }

  private migrate(): void {
    const version = Number(this.db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
    if (version > MIGRATIONS.length) {
      throw new Error(
        `the database is at schema version ${version}, newer than this dockin knows (${MIGRATIONS.length}); upgrade dockin`,
      );
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      const m = MIGRATIONS[v];
      if (m === undefined) break;
      this.tx(() => {
        this.db.exec(m.sql);
        m.after?.(this.db);
        this.db.exec(`PRAGMA user_version = ${v + 1}`);
      });
    }
  }

  private stmt(sql: string): StatementSync {
    let s = this.stmts.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /**
   * Bumped once each group commit has ended (committed or rolled back): a pod record parsed outside
   * any write at the current generation is what the database holds (this RM is its only writer),
   * so a lookup is answered from memory (`podSync`). Reads inside a write never count as current;
   * `tx` runs only the schema migrations, before anything is read.
   */
  private generation = 0;

  private tx<T>(fn: () => T): T {
    if (this.closed) throw new RmError("Unavailable", "the store is closed");
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      this.db.exec("COMMIT");
      return out;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw err;
    }
  }

  private queue: { fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private flushScheduled = false;

  /**
   * Runs a write in the next group commit: every write asked for in one event-loop turn runs in one
   * transaction, each inside its own savepoint (a write that throws is rolled back alone), and all
   * of them are acknowledged after the one COMMIT (one fsync) succeeds. Each write is still atomic
   * and sees the ones before it; concurrent allocations share the cost of the fsync.
   */
  private write<T>(fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new RmError("Unavailable", "the store is closed"));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    const recentBefore = this.recentRows;
    try {
      if (this.closed) throw new RmError("Unavailable", "the store is closed");
      this.db.exec("BEGIN IMMEDIATE");
      for (const op of batch) {
        const recent = this.recentRows;
        this.db.exec("SAVEPOINT op");
        try {
          const value = op.fn();
          this.db.exec("RELEASE op");
          outcomes.push({ ok: true, value });
        } catch (err) {
          this.db.exec("ROLLBACK TO op");
          this.db.exec("RELEASE op");
          this.recentRows = recent;
          outcomes.push({ ok: false, value: err });
        }
      }
      this.db.exec("COMMIT");
    } catch (err) {
      this.recentRows = recentBefore;
      if (!this.closed && this.db.isTransaction) this.db.exec("ROLLBACK");
      // Nothing of the batch was written: parsed records read inside it may be of rolled-back text,
      // which the text comparison of the next read catches.
      for (const op of batch) op.reject(err);
      return;
    } finally {
      this.generation++;
    }
    batch.forEach((op, i) => {
      const o = outcomes[i];
      if (o?.ok) op.resolve(o.value);
      else op.reject(o?.value);
    });
    if (this.recentRows >= this.foldRows && !this.foldQueued) {
      // A write of its own in the next group commit; a failure leaves the rows where they are,
      // still read by every query, for the next write past the bound to try again.
      this.foldQueued = true;
      this.write(() => this.fold()).then(
        () => {
          this.foldQueued = false;
        },
        () => {
          this.foldQueued = false;
        },
      );
    }
  }

  /** Moves the recent events into `history` (an event already there, by id, is the same event). */
  private fold(): void {
    this.stmt(
      `INSERT OR IGNORE INTO history (${EVENT_COLUMNS})
       SELECT ${EVENT_COLUMNS} FROM history_recent ORDER BY seq`,
    ).run();
    this.stmt("DELETE FROM history_recent").run();
    this.recentRows = 0;
  }

  private check(): void {
    if (this.closed) throw new RmError("Unavailable", "the store is closed");
  }

  // ---- networks

  /**
   * Parsed networks, reused while the stored row is the same (compared on every read, as pods are),
   * and frozen because they are shared: every allocation reads its network, and a spec that stays
   * the same object keeps its parsed pools (pool.ts poolsOf).
   */
  private readonly networks = new Map<string, { text: string; network: Network }>();

  private networkSync(name: string): Network | undefined {
    const row = this.stmt("SELECT spec, created, updated FROM networks WHERE name = ?").get(name);
    return row === undefined ? undefined : this.networkOf(name, row);
  }

  /** The network of a row (spec, created, updated), parsed once while the row stays the same. */
  private networkOf(name: string, row: Record<string, unknown>): Network {
    const created = str(row, "created");
    const updated = str(row, "updated");
    const text = `${created} ${updated} ${str(row, "spec")}`;
    const hit = this.networks.get(name);
    if (hit !== undefined && hit.text === text) return hit.network;
    const network = deepFreeze({ name, spec: JSON.parse(str(row, "spec")), created, updated });
    if (this.networks.size >= 10_000) this.networks.clear();
    this.networks.set(name, { text, network });
    return network;
  }

  async putNetwork(
    name: string,
    decide: (existing: Network | undefined, allocated: HeldAddress[], others: Network[]) => Network,
  ): Promise<{ network: Network; created: boolean }> {
    return this.write(() => {
      const existing = this.networkSync(name);
      const allocated = this.stmt("SELECT family, addr, owner FROM allocations WHERE network = ?")
        .all(name)
        .map((r) => ({
          family: Number(r.family) as Family,
          value: keyValue(str(r, "addr")),
          owner: str(r, "owner"),
        }));
      const others = this.networkRows().filter((n) => n.name !== name);
      const network = decide(existing, allocated, others);
      this.stmt(
        `INSERT INTO networks (name, spec, created, updated) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated = excluded.updated`,
      ).run(name, JSON.stringify(network.spec), network.created, network.updated);
      return { network, created: existing === undefined };
    });
  }

  async getNetwork(name: string): Promise<Network | undefined> {
    this.check();
    return this.networkSync(name);
  }

  private networkRows(): Network[] {
    return this.stmt("SELECT name, spec, created, updated FROM networks ORDER BY name")
      .all()
      .map((row) => this.networkOf(str(row, "name"), row));
  }

  async listNetworks(): Promise<Network[]> {
    this.check();
    return this.networkRows();
  }

  async deleteNetwork(name: string): Promise<void> {
    await this.write(() => {
      if (this.networkSync(name) === undefined) throw new RmError("NotFound", `network "${name}" not found`);
      const n = Number(
        this.stmt("SELECT count(*) AS n FROM allocations WHERE network = ?").get(name)?.n ?? 0,
      );
      if (n > 0) {
        throw new RmError(
          "Conflict",
          `network "${name}" still has ${n} allocated address(es); delete its pods first`,
        );
      }
      const inUse = networkInUse(name, this.policiesSync());
      if (inUse !== undefined) throw inUse;
      this.stmt("DELETE FROM networks WHERE name = ?").run(name);
      this.stmt("DELETE FROM cursors WHERE network = ?").run(name);
      this.writeHistory([networkDeleted(name)]);
    });
  }

  async usage(): Promise<PoolUsage[]> {
    this.check();
    return this.stmt("SELECT network, family, count(*) AS n FROM allocations GROUP BY network, family")
      .all()
      .map((r) => ({
        network: str(r, "network"),
        family: Number(r.family) as Family,
        allocated: Number(r.n),
      }));
  }

  // ---- pods

  /**
   * Parsed records by pod. One read outside any write transaction, at the current `generation`,
   * is answered from here without reading SQLite: no write has happened since, and this RM is the
   * database's only writer. Each SQLite read takes the WAL's read lock, about 22 µs and 43% of a
   * webhook lookup's CPU (BENCHMARKS.md). Inside a write, or once a write has run, the row is read
   * again, and the parsed record is still reused while the stored text is the same. Records are
   * frozen because they are shared: callers build new ones to change.
   */
  private readonly parsed = new Map<string, { text: string; record: PodRecord; generation: number }>();

  private podSync(namespace: string, name: string): PodRecord | undefined {
    const key = `${namespace}/${name}`;
    const hit = this.parsed.get(key);
    // -1: read inside a write, which may yet roll back; never current.
    const generation = this.db.isTransaction ? -1 : this.generation;
    if (hit !== undefined && generation >= 0 && hit.generation === generation) return hit.record;
    const row = this.stmt("SELECT record FROM pods WHERE namespace = ? AND name = ?").get(namespace, name);
    if (row === undefined) {
      this.parsed.delete(key);
      return undefined;
    }
    const text = str(row, "record");
    if (hit !== undefined && hit.text === text) {
      hit.generation = generation;
      return hit.record;
    }
    const record = deepFreeze(JSON.parse(text) as PodRecord);
    this.parsed.delete(key);
    this.parsed.set(key, { text, record, generation });
    // Oldest first out: the map keeps insertion order.
    if (this.parsed.size > 20_000) this.parsed.delete(this.parsed.keys().next().value ?? "");
    return record;
  }

  private readonly view: AllocationView = {
    network: (name) => this.networkSync(name),
    owner: (network, family, value) => {
      const row = this.stmt(
        "SELECT owner FROM allocations WHERE network = ? AND family = ? AND addr = ?",
      ).get(network, family, addressKey(value));
      return row === undefined ? undefined : str(row, "owner");
    },
    allocatedFrom: (network, family, from) => {
      const key = addressKey(from);
      // Usually nothing is held past the cursor (allocation goes round the range in order): a
      // probe says so for a fifth of the ordered scan's cost (SQLite 3.54 spends about 3 µs
      // more on any statement with an ORDER BY, though the key already gives the order).
      const any = this.stmt(
        "SELECT 1 AS x FROM allocations WHERE network = ? AND family = ? AND addr >= ? LIMIT 1",
      ).get(network, family, key);
      if (any === undefined) return [];
      // One cached statement: the planner finishes (or abandons, which resets it) each scan
      // before it starts the next.
      const rows = this.stmt(
        "SELECT addr FROM allocations WHERE network = ? AND family = ? AND addr >= ? ORDER BY addr",
      ).iterate(network, family, key);
      return (function* () {
        for (const row of rows) yield keyValue(str(row as Row, "addr"));
      })();
    },
    cursor: (network, family) => {
      const row = this.stmt("SELECT addr FROM cursors WHERE network = ? AND family = ?").get(network, family);
      return row === undefined ? undefined : keyValue(str(row, "addr"));
    },
  };

  private apply(namespace: string, name: string, existing: PodRecord | undefined, change: PodChange): void {
    const owner = `${namespace}/${name}`;
    const del = this.stmt(
      "DELETE FROM allocations WHERE network = ? AND family = ? AND addr = ? AND owner = ?",
    );
    for (const r of change.release) del.run(r.network, r.family, addressKey(r.value), owner);
    const ins = this.stmt("INSERT INTO allocations (network, family, addr, owner) VALUES (?, ?, ?, ?)");
    for (const a of change.allocate) {
      try {
        ins.run(a.network, a.family, addressKey(a.value), owner);
      } catch (err) {
        if (String((err as { code?: unknown }).code) === "ERR_SQLITE_ERROR" && /UNIQUE/.test(String(err))) {
          throw new RmError(
            "Conflict",
            `an address of network "${a.network}" is already held by another pod`,
            {
              cause: err,
            },
          );
        }
        throw err;
      }
    }
    this.writeCursors(change.cursors);
    if (change.record === null) {
      this.stmt("DELETE FROM pods WHERE namespace = ? AND name = ?").run(namespace, name);
    } else {
      this.stmt(
        `INSERT INTO pods (namespace, name, record) VALUES (?, ?, ?)
         ON CONFLICT (namespace, name) DO UPDATE SET record = excluded.record`,
      ).run(namespace, name, JSON.stringify(change.record));
    }
    this.writeHistory(podEvents(namespace, name, existing, change));
  }

  /** A write's events, into history_recent (the migration's comment says why), ids in order. */
  private writeHistory(drafts: readonly HistoryDraft[]): void {
    if (!this.recordHistory || drafts.length === 0) return;
    const ins = this.stmt(`INSERT INTO history_recent (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const d of drafts)
      ins.run(this.ids.next(), d.event, d.network, d.address, d.namespace, d.name, d.containerId, d.node);
    this.recentRows += drafts.length;
  }

  private insertEvents(events: readonly HistoryEvent[]): void {
    const ins = this.stmt(`INSERT INTO history (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const e of events)
      ins.run(e.id, e.event, e.network, e.address, e.namespace, e.name, e.containerId, e.node);
  }

  private writeCursors(cursors: readonly AllocationKey[]): void {
    const cur = this.stmt(
      `INSERT INTO cursors (network, family, addr) VALUES (?, ?, ?)
       ON CONFLICT (network, family) DO UPDATE SET addr = excluded.addr`,
    );
    for (const c of cursors) cur.run(c.network, c.family, addressKey(c.value));
  }

  async updatePod(
    namespace: string,
    name: string,
    decide: (existing: PodRecord | undefined, view: AllocationView) => PodChange | undefined,
  ): Promise<PodRecord | undefined> {
    return this.write(() => {
      const existing = this.podSync(namespace, name);
      const change = decide(existing, this.view);
      if (change === undefined) return existing;
      this.apply(namespace, name, existing, change);
      return change.record ?? undefined;
    });
  }

  async getPod(namespace: string, name: string): Promise<PodRecord | undefined> {
    this.check();
    return this.podSync(namespace, name);
  }

  async listPods(options: ListPodsOptions = {}): Promise<PodRecord[]> {
    this.check();
    const where: string[] = [];
    const params: string[] = [];
    if (options.namespace !== undefined) {
      where.push("namespace = ?");
      params.push(options.namespace);
    }
    if (options.after !== undefined) {
      where.push("namespace || '/' || name > ?");
      params.push(options.after);
    }
    const limit = options.limit === undefined ? -1 : Math.max(0, Math.floor(options.limit));
    const sql = `SELECT record FROM pods ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY namespace || '/' || name LIMIT ${limit}`;
    return this.stmt(sql)
      .all(...params)
      .map((row) => JSON.parse(str(row, "record")) as PodRecord);
  }

  async cursors(): Promise<AllocationKey[]> {
    this.check();
    return this.stmt("SELECT network, family, addr FROM cursors ORDER BY network, family")
      .all()
      .map((row) => ({
        network: str(row, "network"),
        family: Number(row.family) === 6 ? 6 : 4,
        value: keyValue(str(row, "addr")),
      }));
  }

  async putCursors(cursors: readonly AllocationKey[]): Promise<void> {
    await this.write(() => this.writeCursors(cursors));
  }

  async countPods(): Promise<number> {
    this.check();
    return Number(this.stmt("SELECT count(*) AS n FROM pods").get()?.n ?? 0);
  }

  // ---- policies

  async putPolicy(
    name: string,
    decide: (existing: Policy | undefined) => Policy,
  ): Promise<{ policy: Policy; created: boolean }> {
    return this.write(() => {
      const existing = this.policySync(name);
      const policy = decide(existing);
      const missing = missingNetworks(policy, (network) => this.networkSync(network) !== undefined);
      if (missing !== undefined) throw missing;
      this.stmt(
        "INSERT INTO policies (name, spec) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET spec = excluded.spec",
      ).run(name, JSON.stringify(policy));
      return { policy, created: existing === undefined };
    });
  }

  private policySync(name: string): Policy | undefined {
    const row = this.stmt("SELECT spec FROM policies WHERE name = ?").get(name);
    return row === undefined ? undefined : (JSON.parse(str(row, "spec")) as Policy);
  }

  async getPolicy(name: string): Promise<Policy | undefined> {
    this.check();
    return this.policySync(name);
  }

  private policiesSync(): Policy[] {
    return this.stmt("SELECT spec FROM policies ORDER BY name")
      .all()
      .map((row) => JSON.parse(str(row, "spec")) as Policy);
  }

  async listPolicies(): Promise<Policy[]> {
    this.check();
    return this.policiesSync();
  }

  async deletePolicy(name: string): Promise<boolean> {
    return this.write(() => Number(this.stmt("DELETE FROM policies WHERE name = ?").run(name).changes) > 0);
  }

  // ---- history

  async history(query: HistoryQuery): Promise<HistoryEvent[]> {
    this.check();
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (clause: string, ...values: string[]) => {
      where.push(clause);
      params.push(...values);
    };
    if (query.address !== undefined) add("address = ?", query.address);
    if (query.pod !== undefined) add("namespace = ? AND name = ?", query.pod.namespace, query.pod.name);
    if (query.network !== undefined) add("network = ?", query.network);
    if (query.since !== undefined) add("id >= ?", idFloor(query.since));
    if (query.until !== undefined) add("id < ?", idFloor(query.until + 1));
    if (query.after !== undefined) add("id < ?", query.after);
    const limit = Math.max(0, Math.floor(query.limit));
    params.push(limit);
    // The same query on both tables (history by its indexes, the few recent rows by a scan),
    // newest first of the two.
    const filter = `${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
    const rows = [
      ...this.stmt(`SELECT ${EVENT_COLUMNS} FROM history ${filter}`).all(...params),
      ...this.stmt(`SELECT ${EVENT_COLUMNS} FROM history_recent ${filter}`).all(...params),
    ];
    rows.sort((a, b) => (str(a, "id") < str(b, "id") ? 1 : -1));
    return rows.slice(0, limit).map((r) => {
      const id = str(r, "id");
      return {
        id,
        time: timeOfId(id),
        event: str(r, "event") as HistoryEvent["event"],
        network: str(r, "network"),
        address: str(r, "address"),
        namespace: str(r, "namespace"),
        name: str(r, "name"),
        containerId: r.container === null ? null : str(r, "container"),
        node: r.node === null ? null : str(r, "node"),
      };
    });
  }

  async importHistory(events: readonly HistoryEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.write(() => this.insertEvents(events));
  }

  async pruneHistory(
    before: number,
    limit: number,
    from?: string,
  ): Promise<{ deleted: number; next: string | undefined }> {
    const max = Math.max(0, Math.floor(limit));
    return this.write(() => {
      // The recent events join the rest first, so that an address's latest event is among them.
      if (this.recentRows > 0) this.fold();
      const rows = this.stmt(
        "SELECT id, address, network FROM history WHERE id > ? AND id < ? ORDER BY id LIMIT ?",
      ).all(from ?? "", idFloor(before), max);
      // A newer event of the same address and network, looked for among the address's rows (the
      // primary key range; `+` keeps SQLite off the network index, which would scan the network).
      const newer = this.stmt(
        "SELECT 1 AS x FROM history WHERE address = ? AND id > ? AND +network = ? LIMIT 1",
      );
      const del = this.stmt("DELETE FROM history WHERE address = ? AND id = ?");
      let deleted = 0;
      for (const r of rows) {
        const address = str(r, "address");
        const id = str(r, "id");
        if (address === "" || newer.get(address, id, str(r, "network")) !== undefined) {
          del.run(address, id);
          deleted++;
        }
      }
      const last = rows[rows.length - 1];
      return { deleted, next: rows.length < max || last === undefined ? undefined : str(last, "id") };
    });
  }

  async ping(): Promise<void> {
    this.check();
    this.stmt("SELECT 1").get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stmts.clear();
    this.db.close();
    this.unlock();
  }
}
