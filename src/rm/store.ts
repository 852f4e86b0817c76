// The RM's store, declared here by the code that uses it (service.ts). Two implementations: the
// embedded SQLite store (sqlite-store.ts) and a distributed one on a compare-and-swap key-value
// store (etcd, another issue). Both must pass test/rm/store-suite.ts.
//
// Every operation is atomic. Operations that decide something from what they read (pods,
// networks) take a pure function: a store calls it inside its transaction (SQLite) or on a
// consistent snapshot whose keys it then compares on commit, calling it again when they moved
// (etcd). Those functions read the store only through their arguments and may run more than once.
import type { Family } from "../net/ip.ts";
import type { AllocationKey, AllocationView, PodChange } from "./allocate.ts";
import type { HistoryEvent, HistoryQuery } from "./history.ts";
import type { Network, PodRecord, Policy } from "./model.ts";

export interface PoolUsage {
  network: string;
  family: 4 | 6;
  allocated: number;
}

export interface ListPodsOptions {
  namespace?: string;
  /**
   * Only pods after this `namespace/name` (paging). Pods come in the order of the text
   * `namespace/name`, byte by byte (as etcd orders keys): "a-b/x" comes before "a/y".
   */
  after?: string;
  limit?: number;
}

/** An address allocated in a network: its family, its value and the pod (`namespace/name`) holding it. */
export interface HeldAddress {
  family: Family;
  value: bigint;
  owner: string;
}

export interface Store {
  /** What the store is, for logs and /readyz (e.g. `sqlite:/var/lib/dockin/rm.db`). */
  readonly description: string;

  /**
   * Creates or replaces a network. `decide` gets the current network (if any), the addresses
   * allocated in it and every other network (all read in the write's transaction), and returns
   * the network to write or throws (e.g. a 409 when an allocated address would fall outside the
   * new subnet, or when the subnet overlaps another network's).
   */
  putNetwork(
    name: string,
    decide: (existing: Network | undefined, allocated: HeldAddress[], others: Network[]) => Network,
  ): Promise<{ network: Network; created: boolean }>;
  getNetwork(name: string): Promise<Network | undefined>;
  listNetworks(): Promise<Network[]>;
  /**
   * Deletes a network; throws a 409 while it has allocated addresses or a policy names it
   * (`networkInUse` of rules.ts), 404 when unknown. The checks and the delete are one transaction.
   */
  deleteNetwork(name: string): Promise<void>;
  /** How many addresses are allocated, per network and family. */
  usage(): Promise<PoolUsage[]>;

  /**
   * Reads, decides and writes one pod atomically. `decide` returns the change to apply
   * (allocations, releases, the new record or null to delete it) or undefined to write nothing.
   * Returns the pod as it is afterwards (undefined when deleted or absent). The store rejects an
   * allocation of an address already held (a 409): two pods never share an address of a network.
   */
  updatePod(
    namespace: string,
    name: string,
    decide: (existing: PodRecord | undefined, view: AllocationView) => PodChange | undefined,
  ): Promise<PodRecord | undefined>;
  getPod(namespace: string, name: string): Promise<PodRecord | undefined>;
  listPods(options?: ListPodsOptions): Promise<PodRecord[]>;
  countPods(): Promise<number>;

  /** The allocation cursor of every pool that has one (where its next allocation starts looking). */
  cursors(): Promise<AllocationKey[]>;
  /** Sets allocation cursors (`rm migrate` carries them over); other pools' are left as they are. */
  putCursors(cursors: readonly AllocationKey[]): Promise<void>;

  /**
   * Creates or replaces a policy. `decide` gets the current policy (if any) and returns the one to
   * write (or throws). The store refuses it with a 404 when a network it names does not exist
   * (`missingNetworks` of rules.ts), checked in the same transaction as the write.
   */
  putPolicy(
    name: string,
    decide: (existing: Policy | undefined) => Policy,
  ): Promise<{ policy: Policy; created: boolean }>;
  getPolicy(name: string): Promise<Policy | undefined>;
  listPolicies(): Promise<Policy[]>;
  /** Deletes a policy; false when there was none. */
  deletePolicy(name: string): Promise<boolean>;

  /**
   * Address history (history.ts). Every operation that changes who holds an address (updatePod,
   * deleteNetwork) writes its events in the same transaction, from the change that commits.
   * `history` lists events newest first (by id), every filter of the query applying.
   */
  history(query: HistoryQuery): Promise<HistoryEvent[]>;
  /** Writes events as they are, ids included (`rm migrate`). */
  importHistory(events: readonly HistoryEvent[]): Promise<void>;
  /**
   * One step of pruning: looks at up to `limit` events older than `before` (ms), oldest first and
   * after the id `from` when given, and deletes those that are not the latest event of their
   * address in their network (so that who holds an address stays known however long ago it was
   * taken). Returns how many it deleted and where the next step starts (undefined: done).
   */
  pruneHistory(
    before: number,
    limit: number,
    from?: string,
  ): Promise<{ deleted: number; next: string | undefined }>;

  /** A cheap round trip proving the store answers (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Every pod of `store` in the listing's order (after `options.after`, in `options.namespace`), read
 * `chunk` at a time from where the last read ended: each pod once, however many there are.
 */
export async function* walkPods(
  store: Pick<Store, "listPods">,
  options: Omit<ListPodsOptions, "limit"> = {},
  chunk = 1000,
): AsyncGenerator<PodRecord> {
  let after = options.after;
  for (;;) {
    const page = await store.listPods({
      ...options,
      limit: chunk,
      ...(after === undefined ? {} : { after }),
    });
    yield* page;
    const last = page[page.length - 1];
    if (last === undefined || page.length < chunk) return;
    after = `${last.namespace}/${last.name}`;
  }
}
