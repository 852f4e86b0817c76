// How much etcd holds per pod: fills a one-member etcd with pods through the etcd store (each pod on
// two networks, a 64-hex container id and a node, like the webhook writes them), then reads etcd's
// own figures: keys, database size as written, and after compaction and defragmentation. The
// per-pod figures scale the layout to 150,000 pods in docs/etcd.md.
//
// Usage: bun bench/etcd-size.ts [pods]
import { randomBytes } from "node:crypto";
import { type PodRequest, planPod } from "../src/rm/allocate.ts";
import { type EtcdStore, openEtcdStore } from "../src/rm/etcd-store.ts";
import { EtcdCluster } from "../test/etcd/cluster.ts";

const pods = Number(process.argv[2] ?? 20_000);
const cluster = await EtcdCluster.start({ size: 1 });
try {
  const store = (await openEtcdStore({ endpoints: cluster.endpoints })) as EtcdStore;
  const now = new Date().toISOString();
  for (const [name, subnet] of [
    ["pods", "10.64.0.0/14"],
    ["storage", "10.128.0.0/14"],
  ] as const) {
    await store.putNetwork(name, () => ({ name, spec: { subnet }, created: now, updated: now }));
  }
  // biome-ignore lint/complexity/useLiteralKeys: the raw client, for etcd's own figures
  const client = store["client"];
  const status = async () => {
    const s = await client.maintenance.status({});
    return { dbSize: Number(s.dbSize), revision: s.header.revision };
  };
  const before = await status();
  let next = 0;
  let bytes = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let i = next++; i < pods; i = next++) {
        const ns = `team-${i % 200}`;
        const name = `web-${randomBytes(5).toString("hex")}-${randomBytes(3).toString("hex")}`;
        const request: PodRequest = {
          attachments: [
            { network: "pods", ips: [] },
            { network: "storage", ips: [] },
          ],
          policy: "default-networks",
          sticky: false,
          containerId: randomBytes(32).toString("hex"),
          node: `node-${String(i % 5000).padStart(4, "0")}.example.internal`,
        };
        const record = await store.updatePod(ns, name, (e, v) => planPod(ns, name, e, request, v, now));
        bytes += JSON.stringify(record).length;
      }
    }),
  );
  const fillRate = pods / ((performance.now() - t) / 1000);
  const written = await status();
  await client.kv.compact({ revision: written.revision, physical: true });
  await client.maintenance.defragment({});
  const compacted = await status();
  const perPod = (compacted.dbSize - before.dbSize) / pods;
  const mib = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;
  console.log(
    `etcd size: ${pods} pods on 2 networks each, through the etcd store (${fillRate.toFixed(0)} pods/s, 32 clients)`,
  );
  console.log(`| figure | value |`);
  console.log(`| ------ | ----- |`);
  console.log(`| keys written per pod | 1 pod record + 2 address keys (+ 2 cursor puts, 1 revision each) |`);
  console.log(`| pod record (JSON) | ${(bytes / pods).toFixed(0)} bytes on average |`);
  console.log(`| database after the fill (history kept) | ${mib(written.dbSize)} |`);
  console.log(
    `| after compaction + defragmentation | ${mib(compacted.dbSize)} (${perPod.toFixed(0)} bytes per pod) |`,
  );
  console.log(`| 150,000 pods, scaled | ${mib(perPod * 150_000)} compacted |`);
  console.log(
    `| history per pod created (before compaction) | ${((written.dbSize - before.dbSize) / pods).toFixed(0)} bytes |`,
  );
  await store.close();
} finally {
  await cluster.stop();
}
