// The address history contract, run against every Store implementation (SQLite in
// sqlite-store.test.ts, a real etcd cluster in test/etcd/store.test.ts). Each `open()` gives a new,
// empty store.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type PodRequest, planPod, recordOnly, releasePod } from "../../src/rm/allocate.ts";
import { RmError } from "../../src/rm/errors.ts";
import { type EventKind, type HistoryEvent, idFloor, timeOfId } from "../../src/rm/history.ts";
import { addressAt } from "../../src/rm/history-api.ts";
import type { Network, NetworkSpec, PodRecord } from "../../src/rm/model.ts";
import type { Store } from "../../src/rm/store.ts";

export interface HistorySuiteOptions {
  /** Closes the store and opens it again on the same data. */
  reopen?: (store: Store) => Promise<Store>;
}

const NOW = "2026-01-01T00:00:00.000Z";

const network =
  (name: string, spec: NetworkSpec) =>
  (existing: Network | undefined): Network => ({
    name,
    spec,
    created: existing?.created ?? NOW,
    updated: NOW,
  });

function request(network: string, extra: Partial<PodRequest> & { ips?: string[] } = {}): PodRequest {
  const { ips = [], ...rest } = extra;
  return { attachments: [{ network, ips }], sticky: false, ...rest };
}

async function putPod(store: Store, ns: string, name: string, req: PodRequest): Promise<PodRecord> {
  const pod = await store.updatePod(ns, name, (existing, view) =>
    planPod(ns, name, existing, req, view, NOW),
  );
  assert.ok(pod);
  return pod;
}

const release = (store: Store, ns: string, name: string, as?: "gc") =>
  store.updatePod(ns, name, (e) =>
    e === undefined ? undefined : releasePod(e, as === undefined ? {} : { as }),
  );

const all = (store: Store, query: Partial<Parameters<Store["history"]>[0]> = {}) =>
  store.history({ limit: 10_000, ...query });

const brief = (events: HistoryEvent[]) =>
  events.map(
    (e) => `${e.event} ${e.network} ${e.address} ${e.namespace}/${e.name} ${e.containerId} ${e.node}`,
  );

/** An event at a chosen time (ms), as `rm migrate` would import it. */
function event(
  ms: number,
  n: number,
  kind: EventKind,
  address: string,
  pod: string,
  net = "n",
): HistoryEvent {
  const id = `${idFloor(ms)}${n.toString(16).padStart(6, "0")}abcdef`;
  const [namespace = "", name = ""] = pod.split("/");
  return {
    id,
    time: timeOfId(id),
    event: kind,
    network: net,
    address,
    namespace,
    name,
    containerId: `c-${name}`,
    node: "node-1",
  };
}

const T0 = Date.parse("2026-11-30T13:00:00Z");
const MIN = 60_000;

export function runHistorySuite(
  name: string,
  open: () => Promise<Store>,
  options: HistorySuiteOptions = {},
): void {
  const withStore = (fn: (store: Store) => Promise<void>) => async () => {
    const store = await open();
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  };

  describe(`history contract: ${name}`, () => {
    it(
      "records allocated, reserved, reassigned, released and gc with the pod, sandbox and node, newest first",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24", ipv6: { subnet: "fd00::/64" } }));
        await putPod(store, "shop", "web-0", request("n", { containerId: "c1", node: "node-1" }));
        await putPod(
          store,
          "shop",
          "db-0",
          request("n", { ips: ["10.0.0.50"], containerId: "d1", node: "node-2" }),
        );
        // The web pod moves to another sandbox on another node: it keeps its addresses.
        await store.updatePod("shop", "web-0", (e) =>
          e === undefined ? undefined : recordOnly({ ...e, containerId: "c2", node: "node-3" }),
        );
        // A change that moves nothing records nothing.
        await store.updatePod("shop", "web-0", (e) =>
          e === undefined ? undefined : recordOnly({ ...e, updated: NOW }),
        );
        await release(store, "shop", "web-0");
        await release(store, "shop", "db-0", "gc");
        const events = await all(store);
        assert.deepEqual(brief(events).reverse(), [
          "allocated n 10.0.0.1 shop/web-0 c1 node-1",
          "allocated n fd00::1 shop/web-0 c1 node-1",
          "reserved n 10.0.0.50 shop/db-0 d1 node-2",
          "allocated n fd00::2 shop/db-0 d1 node-2",
          "reassigned n 10.0.0.1 shop/web-0 c2 node-3",
          "reassigned n fd00::1 shop/web-0 c2 node-3",
          "released n 10.0.0.1 shop/web-0 c2 node-3",
          "released n fd00::1 shop/web-0 c2 node-3",
          "gc n 10.0.0.50 shop/db-0 d1 node-2",
          "gc n fd00::2 shop/db-0 d1 node-2",
        ]);
        const ids = events.map((e) => e.id);
        assert.equal(new Set(ids).size, ids.length, "ids are unique");
        assert.deepEqual([...ids].sort().reverse(), ids, "newest first is by id");
        for (const e of events) assert.match(e.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      }),
    );

    it(
      "records a sandbox leaving a sticky pod, and a new address of a pod that changes networks",
      withStore(async (store) => {
        await store.putNetwork("a", network("a", { subnet: "10.1.0.0/24" }));
        await store.putNetwork("b", network("b", { subnet: "10.2.0.0/24" }));
        const pod = await putPod(store, "ns", "p", request("a", { containerId: "c1", sticky: true }));
        const { containerId: _gone, ...detached } = pod;
        await store.updatePod("ns", "p", () => recordOnly(detached));
        await putPod(store, "ns", "p", request("b"));
        assert.deepEqual(brief(await all(store)).reverse(), [
          "allocated a 10.1.0.1 ns/p c1 null",
          "reassigned a 10.1.0.1 ns/p null null",
          "released a 10.1.0.1 ns/p null null",
          "allocated b 10.2.0.1 ns/p null null",
        ]);
      }),
    );

    it(
      "records nothing for a change the store refuses or a decision that throws",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        await putPod(store, "ns", "p", request("n", { ips: ["10.0.0.9"] }));
        await assert.rejects(
          putPod(store, "ns", "q", request("n", { ips: ["10.0.0.9"] })),
          (err: unknown) => {
            assert.ok(err instanceof RmError && err.reason === "Conflict");
            return true;
          },
        );
        await assert.rejects(
          store.updatePod("ns", "q", () => {
            throw new Error("boom");
          }),
          /boom/,
        );
        await assert.rejects(store.deleteNetwork("n"), /allocated/);
        assert.deepEqual(brief(await all(store)), ["reserved n 10.0.0.9 ns/p null null"]);
      }),
    );

    it(
      "records the deletion of a network (no address: the network held none)",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        await putPod(store, "ns", "p", request("n"));
        await release(store, "ns", "p");
        await store.deleteNetwork("n");
        const [last] = await all(store, { network: "n" });
        assert.deepEqual(last && brief([last]), ["network-deleted n  / null null"]);
      }),
    );

    it(
      "filters by address, pod, network and time, each alone and together",
      withStore(async (store) => {
        await store.importHistory([
          event(T0, 0, "allocated", "10.0.0.1", "shop/web-0"),
          event(T0 + 1 * MIN, 0, "allocated", "10.0.0.2", "shop/web-1"),
          event(T0 + 2 * MIN, 0, "released", "10.0.0.1", "shop/web-0"),
          event(T0 + 3 * MIN, 0, "allocated", "10.0.0.1", "shop/web-1", "m"),
          event(T0 + 4 * MIN, 0, "allocated", "10.0.0.1", "other/web-0"),
          event(T0 + 5 * MIN, 0, "allocated", "10.0.0.10", "shop/web-0"),
        ]);
        const mins = (events: HistoryEvent[]) => events.map((e) => (Date.parse(e.time) - T0) / MIN);
        assert.deepEqual(mins(await all(store)), [5, 4, 3, 2, 1, 0]);
        assert.deepEqual(mins(await all(store, { address: "10.0.0.1" })), [4, 3, 2, 0]);
        assert.deepEqual(mins(await all(store, { pod: { namespace: "shop", name: "web-0" } })), [5, 2, 0]);
        assert.deepEqual(mins(await all(store, { network: "m" })), [3]);
        assert.deepEqual(mins(await all(store, { since: T0 + MIN, until: T0 + 3 * MIN })), [3, 2, 1]);
        assert.deepEqual(
          mins(await all(store, { address: "10.0.0.1", network: "n", until: T0 + 3 * MIN })),
          [2, 0],
        );
        assert.deepEqual(
          mins(await all(store, { address: "10.0.0.1", pod: { namespace: "shop", name: "web-1" } })),
          [3],
        );
        assert.deepEqual(await all(store, { address: "10.0.0.3" }), []);
      }),
    );

    it(
      "pages newest first: `after` continues where a page ended, every event once",
      withStore(async (store) => {
        const events = Array.from({ length: 23 }, (_, i) =>
          event(
            T0 + Math.floor(i / 3) * 1000,
            i % 3,
            i % 2 ? "released" : "allocated",
            `10.0.0.${i % 4}`,
            "ns/p",
          ),
        );
        await store.importHistory(events);
        for (const query of [
          {},
          { address: "10.0.0.1" },
          { pod: { namespace: "ns", name: "p" } },
          { network: "n" },
        ]) {
          const want = (await all(store, query)).map((e) => e.id);
          assert.ok(want.length > 0);
          const got: string[] = [];
          let after: string | undefined;
          for (;;) {
            const page = await store.history({
              ...query,
              limit: 4,
              ...(after === undefined ? {} : { after }),
            });
            got.push(...page.map((e) => e.id));
            if (page.length < 4) break;
            after = page[page.length - 1]?.id;
          }
          assert.deepEqual(got, want);
        }
        assert.deepEqual(
          (await all(store)).map((e) => e.id),
          events.map((e) => e.id).reverse(),
        );
      }),
    );

    it(
      "imports events with their ids and times unchanged",
      withStore(async (store) => {
        const events = [
          event(T0, 1, "reserved", "fd00::5", "ns/p"),
          { ...event(T0 + MIN, 2, "released", "fd00::5", "ns/p"), containerId: null, node: null },
        ];
        await store.importHistory(events);
        assert.deepEqual(await all(store), [...events].reverse());
      }),
    );

    it(
      "prunes events older than a time but keeps the latest of each address in each network",
      withStore(async (store) => {
        await store.importHistory([
          event(T0, 0, "allocated", "10.0.0.1", "ns/a"), // pruned: 10.0.0.1 in n has newer events
          event(T0 + MIN, 0, "released", "10.0.0.1", "ns/a"), // pruned
          event(T0 + 2 * MIN, 0, "allocated", "10.0.0.1", "ns/b"), // kept: the latest of 10.0.0.1 in n
          event(T0 + 3 * MIN, 0, "allocated", "10.0.0.1", "ns/c", "m"), // kept: the latest in m
          event(T0 + 4 * MIN, 0, "allocated", "10.0.0.2", "ns/d"), // pruned: 10.0.0.2 changed since
          { ...event(T0 + 5 * MIN, 0, "network-deleted", "", "/"), network: "old" }, // pruned: no address
          event(T0 + 20 * MIN, 0, "released", "10.0.0.2", "ns/d"), // recent
        ]);
        const cutoff = T0 + 10 * MIN;
        // Two steps: the first looks at 2 events (both go), the second at the rest before the cutoff.
        const first = await store.pruneHistory(cutoff, 2);
        assert.equal(first.deleted, 2);
        assert.ok(first.next !== undefined);
        assert.deepEqual(await store.pruneHistory(cutoff, 100, first.next), { deleted: 2, next: undefined });
        // What is left before the cutoff is kept: a new pass deletes nothing.
        assert.deepEqual(await store.pruneHistory(cutoff, 100), { deleted: 0, next: undefined });
        assert.deepEqual(
          (await all(store)).map((e) => `${(Date.parse(e.time) - T0) / MIN} ${e.name}`),
          ["20 d", "3 c", "2 b"],
        );
        const held = await addressAt(store, "10.0.0.1", new URLSearchParams());
        assert.equal(held.holder?.name, "c");
      }),
    );

    it(
      "answers who held an address at a time: in each network its latest event then",
      withStore(async (store) => {
        await store.importHistory([
          event(T0, 0, "allocated", "10.0.0.7", "shop/web-0"),
          event(T0 + 10 * MIN, 0, "reassigned", "10.0.0.7", "shop/web-0"),
          event(T0 + 20 * MIN, 0, "released", "10.0.0.7", "shop/web-0"),
          event(T0 + 30 * MIN, 0, "reserved", "10.0.0.7", "shop/db-0"),
          event(T0 + 31 * MIN, 0, "allocated", "10.0.0.7", "lab/x", "m"),
          event(T0 + 32 * MIN, 0, "gc", "10.0.0.7", "lab/x", "m"),
        ]);
        const at = async (ms: number | undefined) => {
          const q = new URLSearchParams(ms === undefined ? {} : { at: new Date(ms).toISOString() });
          const r = await addressAt(store, "10.0.0.7", q);
          return r.holder === null ? null : `${r.holder.namespace}/${r.holder.name} ${r.holder.since}`;
        };
        const iso = (ms: number) => new Date(ms).toISOString();
        assert.equal(await at(T0 - 1), null);
        assert.equal(await at(T0), `shop/web-0 ${iso(T0)}`);
        assert.equal(await at(T0 + 15 * MIN), `shop/web-0 ${iso(T0 + 10 * MIN)}`);
        assert.equal(await at(T0 + 25 * MIN), null);
        // Network m's pod took the address later, but in another network: the holder is the newest.
        assert.equal(await at(T0 + 31 * MIN), `lab/x ${iso(T0 + 31 * MIN)}`);
        // m's pod is gone: network n's holder remains.
        assert.equal(await at(T0 + 40 * MIN), `shop/db-0 ${iso(T0 + 30 * MIN)}`);
        assert.equal(await at(undefined), `shop/db-0 ${iso(T0 + 30 * MIN)}`);
        const reply = await addressAt(
          store,
          "10.0.0.7",
          new URLSearchParams({ at: "2026-11-30T14:15:00+01:00" }),
        );
        assert.equal(reply.at, iso(T0 + 15 * MIN));
        assert.deepEqual(
          reply.history.map((e) => e.event),
          ["reassigned", "allocated"],
        );
      }),
    );

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      it("keeps the history across a restart", async () => {
        let store = await open();
        try {
          await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
          await putPod(store, "ns", "p", request("n"));
          const before = await all(store);
          store = await reopen(store);
          assert.deepEqual(await all(store), before);
          // Ids keep increasing after a restart (the clock moved on).
          await release(store, "ns", "p");
          const [newest] = await all(store);
          assert.ok(newest !== undefined && newest.id > (before[0]?.id ?? ""));
        } finally {
          await store.close();
        }
      });
    }
  });
}
