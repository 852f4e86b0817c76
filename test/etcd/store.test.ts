// The store contract against a real three-member etcd cluster: the very suite SQLite passes, each
// test under its own key prefix; then what only a distributed store has to show.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type EtcdStore, openEtcdStore } from "../../src/rm/etcd-store.ts";
import type { Store } from "../../src/rm/store.ts";
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

  it("answers 503 once closed", async () => {
    const store = await open();
    await store.close();
    await assert.rejects(store.ping(), /store is closed/);
  });
});
