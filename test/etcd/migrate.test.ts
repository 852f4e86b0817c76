// `dockin rm migrate`: a real SQLite store copied into a real etcd cluster, verified, and the copy
// serving on (the cursor came along); a non-empty target refused; a difference found by verify().
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type PodRequest, planPod, releasePod } from "../../src/rm/allocate.ts";
import { openEtcdStore } from "../../src/rm/etcd-store.ts";
import { verify } from "../../src/rm/migrate.ts";
import type { PodRecord } from "../../src/rm/model.ts";
import { openSqliteStore } from "../../src/rm/sqlite-store.ts";
import type { Store } from "../../src/rm/store.ts";
import { runDockin } from "../rm/helpers.ts";
import { EtcdCluster } from "./cluster.ts";

const NOW = "2026-01-01T00:00:00.000Z";
const req = (network: string, ips: string[] = [], sticky = true): PodRequest => ({
  attachments: [{ network, ips }],
  sticky,
});
const put = (store: Store, ns: string, name: string, r: PodRequest) =>
  store.updatePod(ns, name, (e, v) => planPod(ns, name, e, r, v, NOW));
const ips = (p: PodRecord | undefined) => (p?.attachments ?? []).flatMap((a) => a.addresses.map((x) => x.ip));

describe("dockin rm migrate", () => {
  let cluster: EtcdCluster | undefined;
  const dir = mkdtempSync(join(tmpdir(), "dockin-migrate-"));
  const db = join(dir, "rm.db");
  const prefix = `/migrate-${process.pid}`;
  /** `dockin rm migrate` from the SQLite file into the cluster, under the test's prefix. */
  const migrateArgs = (c: EtcdCluster) => [
    "rm",
    "migrate",
    "--from",
    `sqlite:${db}`,
    "--to",
    c.storeSpec,
    "--etcd-prefix",
    prefix,
  ];

  before(async () => {
    cluster = await EtcdCluster.start({ size: 3 });
    const sqlite = await openSqliteStore(db);
    try {
      await sqlite.putNetwork("a", () => ({
        name: "a",
        spec: { subnet: "10.1.0.0/24" },
        created: NOW,
        updated: NOW,
      }));
      await sqlite.putNetwork("d", () => ({
        name: "d",
        spec: { subnet: "10.2.0.0/24", ipv6: { subnet: "fd00:2::/120" } },
        created: NOW,
        updated: NOW,
      }));
      await sqlite.putPolicy("web", () => ({
        name: "web",
        namespace: "prod",
        networks: [{ network: "a", ips: [] }],
        sticky: false,
        priority: 3,
        created: NOW,
        updated: NOW,
      }));
      for (let i = 0; i < 250; i++) await put(sqlite, `ns${i % 3}`, `p${i}`, req("a", [], i % 2 === 0));
      for (let i = 0; i < 20; i++) await put(sqlite, "dual", `q${i}`, req("d"));
      await put(sqlite, "fixed", "f", req("d", ["10.2.0.200", "fd00:2::c8"]));
      // Released addresses stay behind the cursor: the copy must continue after .250, not reuse .1.
      await sqlite.updatePod("ns0", "p0", (e) => (e ? releasePod(e) : undefined));
    } finally {
      await sqlite.close();
    }
  });

  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("copies a SQLite store into etcd and verifies it; the copy allocates on from the cursor", async () => {
    assert.ok(cluster);
    const r = await runDockin(migrateArgs(cluster));
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /2 network\(s\), 1 policy\(ies\), 270 pod\(s\), 291 address\(es\), 3 cursor\(s\), 293 history event\(s\); verified/,
    );
    const etcd = await openEtcdStore({ endpoints: cluster.endpoints, prefix });
    const sqlite = await openSqliteStore(db);
    try {
      await verify(sqlite, etcd);
      // The history came over as it was (ids and times), and the copy itself recorded nothing.
      const history = await sqlite.history({ limit: 1000 });
      assert.equal(history.length, 293);
      assert.deepEqual(await etcd.history({ limit: 1000 }), history);
      assert.deepEqual(
        (await etcd.history({ address: "10.1.0.1", limit: 10 })).map(
          (e) => `${e.event} ${e.namespace}/${e.name}`,
        ),
        ["released ns0/p0", "allocated ns0/p0"],
      );
      assert.deepEqual(ips(await etcd.getPod("fixed", "f")), ["10.2.0.200", "fd00:2::c8"]);
      assert.equal((await etcd.getPolicy("web"))?.priority, 3);
      assert.deepEqual(ips(await put(etcd, "new", "n", req("a"))), ["10.1.0.251"]);
      await assert.rejects(
        put(etcd, "new", "m", req("a", ["10.1.0.7"])),
        /10\.1\.0\.7 in network "a" is already held by pod ns0\/p6/,
      );
      // A difference the verification must see.
      await assert.rejects(verify(sqlite, etcd), /pod new\/n only in etcd/);
    } finally {
      await Promise.all([etcd.close(), sqlite.close()]);
    }
  });

  it("refuses a target that is not empty, and bad arguments", async () => {
    assert.ok(cluster);
    const again = await runDockin(migrateArgs(cluster));
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /is not empty \(2 network\(s\), 1 policy\(ies\), 271 pod\(s\), address history\)/,
    );
    const missing = await runDockin(["rm", "migrate", "--from", `sqlite:${db}`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--from and --to are required/);
    const bad = await runDockin(["rm", "migrate", "--from", `sqlite:${db}`, "--to", "etcd:localhost"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /etcd endpoint "localhost": /);
  });
});
