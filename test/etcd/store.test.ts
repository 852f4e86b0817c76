// The store contract against a real three-member etcd cluster: the very suite SQLite passes, each
// test under its own key prefix; then what only a distributed store has to show.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type PodRequest, planPod, recordOnly } from "../../src/rm/allocate.ts";
import { RmError } from "../../src/rm/errors.ts";
import { type EtcdStore, openEtcdStore } from "../../src/rm/etcd-store.ts";
import type { Network } from "../../src/rm/model.ts";
import type { Store } from "../../src/rm/store.ts";
import { runHistorySuite } from "../rm/history-suite.ts";
import { runStoreSuite } from "../rm/store-suite.ts";
import { EtcdCluster } from "./cluster.ts";

let cluster: EtcdCluster | undefined;
before(async () => {
  cluster = await EtcdCluster.start({ size: 3 });
});
after(async () => {
  await cluster?.stop();
});

let n = 0;
const prefixes = new WeakMap<Store, string>();
const endpoints = (): string[] => {
  assert.ok(cluster, "the etcd cluster did not start");
  return cluster.endpoints;
};

async function open(prefix = `/test-${process.pid}-${n++}`): Promise<Store> {
  const store = await openEtcdStore({ endpoints: endpoints(), prefix });
  prefixes.set(store, prefix);
  return store;
}

runStoreSuite("etcd (3 members)", () => open(), {
  reopen: async (store) => {
    const prefix = prefixes.get(store);
    assert.ok(prefix);
    await store.close();
    return open(prefix);
  },
});

runHistorySuite("etcd (3 members)", () => open(), {
  reopen: async (store) => {
    const prefix = prefixes.get(store);
    assert.ok(prefix);
    await store.close();
    return open(prefix);
  },
});

describe("etcd store", () => {
  it("refuses a layout version newer than it knows", async () => {
    const prefix = `/newer-${process.pid}`;
    const store = (await open(prefix)) as EtcdStore;
    try {
      // biome-ignore lint/complexity/useLiteralKeys: a private field, on purpose
      await store["kv"].put({ key: store.keys.schema(), value: Buffer.from("99") });
    } finally {
      await store.close();
    }
    await assert.rejects(open(prefix), /layout .* version 99/);
  });

  it("seeds the history of a layout written before there was one, once", async () => {
    const prefix = `/seed-${process.pid}`;
    let store = (await open(prefix)) as EtcdStore;
    try {
      await store.putNetwork("n", (e) => ({
        name: "n",
        spec: { subnet: "10.0.0.0/24" },
        created: e?.created ?? "x",
        updated: "x",
      }));
      const req: PodRequest = { attachments: [{ network: "n", ips: ["10.0.0.9"] }], sticky: true };
      // A pod as an older dockin wrote it: no event, and no marker.
      await store.updatePod("ns", "p", (e, view) => ({
        ...planPod("ns", "p", e, req, view, "2026-01-01T00:00:00.000Z"),
        copy: true,
      }));
      assert.deepEqual(await store.history({ limit: 10 }), []);
      // biome-ignore lint/complexity/useLiteralKeys: a private field, on purpose
      await store["kv"].deleteRange({ key: store.keys.historySeeded() });
      for (let i = 0; i < 2; i++) {
        await store.close();
        store = (await open(prefix)) as EtcdStore;
        assert.deepEqual(
          (await store.history({ limit: 10 })).map(
            (e) => `${e.time} ${e.event} ${e.address} ${e.namespace}/${e.name}`,
          ),
          ["2026-01-01T00:00:00.000Z reserved 10.0.0.9 ns/p"],
        );
      }
    } finally {
      await store.close();
    }
  });

  it("refuses a pod change larger than one etcd transaction with a 400 that says how to fix it", async () => {
    const store = await open();
    try {
      const attachments = [];
      for (let i = 0; i < 30; i++) {
        const name = `big-${i}`;
        await store.putNetwork(name, () => ({
          name,
          spec: { subnet: `10.${i}.0.0/24` },
          created: "x",
          updated: "x",
        }));
        attachments.push({ network: name, ips: [], master: i === 0 });
      }
      const request: PodRequest = { attachments, sticky: false };
      await assert.rejects(
        store.updatePod("ns", "wide", (e, view) => planPod("ns", "wide", e, request, view, "x")),
        (err: unknown) => err instanceof RmError && err.status === 400 && /--max-txn-ops/.test(err.message),
      );
      assert.equal(await store.getPod("ns", "wide"), undefined, "nothing was written");
    } finally {
      await store.close();
    }
  });

  it("answers 503 once closed", async () => {
    const store = await open();
    await store.close();
    await assert.rejects(store.ping(), /store is closed/);
  });
});

/**
 * Writes a key from another process while the caller waits: a writer that moves a key between a
 * decision's snapshot and its commit (the decision runs synchronously, so nothing else in this
 * process can). The commit must then fail and the decision run again.
 */
function writeFromElsewhere(key: Buffer, value: string): void {
  const code = `const { Etcd3 } = require("etcd3");
    const w = JSON.parse(process.env.WRITE);
    const c = new Etcd3({ hosts: w.hosts });
    c.put(Buffer.from(w.key, "base64")).value(w.value).then(() => c.close(), (e) => { console.error(e); process.exit(1); });`;
  execFileSync(process.execPath, ["-e", code], {
    cwd: join(import.meta.dirname, "..", ".."),
    env: {
      ...process.env,
      WRITE: JSON.stringify({ hosts: endpoints(), key: key.toString("base64"), value }),
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

describe("etcd store: compare-and-swap against another writer", () => {
  const NOW = "2026-01-01T00:00:00.000Z";
  const net = (subnet: string) => (e: Network | undefined) => ({
    name: "n",
    spec: { subnet },
    created: e?.created ?? NOW,
    updated: NOW,
  });
  const req: PodRequest = { attachments: [{ network: "n", ips: [] }], sticky: true };

  it("takes another address when the one it chose is taken between snapshot and commit", async () => {
    const store = (await open()) as EtcdStore;
    try {
      await store.putNetwork("n", net("10.0.0.0/24"));
      let runs = 0;
      const pod = await store.updatePod("ns", "p", (e, view) => {
        const change = planPod("ns", "p", e, req, view, NOW);
        if (runs++ === 0) {
          const taken = change.allocate[0];
          assert.ok(taken);
          writeFromElsewhere(store.keys.addr("n", 4, taken.value), "ns/intruder");
        }
        return change;
      });
      assert.equal(runs, 2);
      assert.deepEqual(
        pod?.attachments[0]?.addresses.map((a) => a.ip),
        ["10.0.0.2"],
      );
      assert.deepEqual(await store.usage(), [{ network: "n", family: 4, allocated: 2 }]);
      assert.equal(store.stats.conflicts, 1);
      // The history holds the change that committed, once; the lost attempt's address never shows.
      assert.deepEqual(
        (await store.history({ limit: 10 })).map((e) => `${e.event} ${e.address} ${e.namespace}/${e.name}`),
        ["allocated 10.0.0.2 ns/p"],
      );
    } finally {
      await store.close();
    }
  });

  it("runs a pod's decision again when the pod was written between snapshot and commit", async () => {
    const store = (await open()) as EtcdStore;
    try {
      let runs = 0;
      const seen: (string | undefined)[] = [];
      await store.updatePod("ns", "p", (e) => {
        seen.push(e?.containerId);
        if (runs++ === 0) {
          const other = {
            namespace: "ns",
            name: "p",
            attachments: [],
            sticky: true,
            containerId: "theirs",
            created: NOW,
            updated: NOW,
          };
          writeFromElsewhere(store.keys.pod("ns", "p"), JSON.stringify(other));
        }
        return e === undefined
          ? recordOnly({
              namespace: "ns",
              name: "p",
              attachments: [],
              sticky: true,
              containerId: "mine",
              created: NOW,
              updated: NOW,
            })
          : undefined;
      });
      assert.deepEqual(seen, [undefined, "theirs"]);
      assert.equal((await store.getPod("ns", "p"))?.containerId, "theirs");
    } finally {
      await store.close();
    }
  });

  it("refuses to shrink a network past an address taken between snapshot and commit", async () => {
    const store = (await open()) as EtcdStore;
    try {
      await store.putNetwork("n", net("10.0.0.0/24"));
      let runs = 0;
      await assert.rejects(
        store.putNetwork("n", (existing, allocated) => {
          if (runs++ === 0) writeFromElsewhere(store.keys.addr("n", 4, 0x0a0000c8n), "ns/late"); // 10.0.0.200
          if (allocated.some((a) => a.value >= 0x0a000080n))
            throw new RmError("Conflict", "10.0.0.200 is held");
          return net("10.0.0.0/25")(existing);
        }),
        /10\.0\.0\.200 is held/,
      );
      assert.equal(runs, 2);
      assert.equal((await store.getNetwork("n"))?.spec.subnet, "10.0.0.0/24");
    } finally {
      await store.close();
    }
  });

  it("gives two replicas racing on one pool different addresses", async () => {
    const prefix = `/race-${process.pid}`;
    const [a, b] = (await Promise.all([open(prefix), open(prefix)])) as [EtcdStore, EtcdStore];
    try {
      await a.putNetwork("n", net("10.0.0.0/22"));
      const pods = await Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          (i % 2 === 0 ? a : b).updatePod("ns", `p${i}`, (e, v) => planPod("ns", `p${i}`, e, req, v, NOW)),
        ),
      );
      const ips = pods.map((p) => p?.attachments[0]?.addresses[0]?.ip);
      assert.equal(new Set(ips).size, 400);
      // The race did happen, and was lost and retried rather than won twice.
      assert.ok(a.stats.conflicts + b.stats.conflicts > 0, "the two stores never collided");
      assert.deepEqual(await a.usage(), [{ network: "n", family: 4, allocated: 400 }]);
      // One event per allocation, whatever the retries: none lost, none twice.
      const events = await b.history({ limit: 1000 });
      assert.equal(events.length, 400);
      assert.deepEqual(new Set(events.map((e) => e.address)), new Set(ips));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
