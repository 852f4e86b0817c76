// Pod churn of a simulated 1,000-node cluster through two RM replicas on a three-member etcd: a
// policy gives every pod an address; each node starts with a few pods (created through the
// webhook, as the plugin does); then for a while clients delete a random pod of a random node (the
// plugin's release) and create a new one, each through either replica. Prints the churn rate, the
// latency of creations and deletions (p50, p99), and checks that the pool is whole again once every
// pod is deleted (no address leaked).
//
// Usage: npm run build && bun bench/etcd-churn.ts [nodes] [pods-per-node] [seconds] [clients] [replicas]
//   (replicas: 2 by default; 1 shows what the collisions between replicas cost)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EtcdCluster } from "../test/etcd/cluster.ts";
import { type Child, call, startRm } from "./rm-common.ts";

const nodes = Number(process.argv[2] ?? 1000);
const perNode = Number(process.argv[3] ?? 5);
const seconds = Number(process.argv[4] ?? 30);
const clients = Number(process.argv[5] ?? 32);
const replicaCount = Number(process.argv[6] ?? 2);
const dir = mkdtempSync(join(tmpdir(), "dockin-bench-churn-"));

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

interface Pod {
  ns: string;
  name: string;
  containerId: string;
}

let cluster: EtcdCluster | undefined;
const replicas: Child[] = [];
try {
  cluster = await EtcdCluster.start({ size: 3, dir: join(dir, "etcd") });
  for (let i = 0; i < replicaCount; i++) replicas.push(await startRm(cluster.storeSpec));
  const [a] = replicas as [Child];
  await call(`${a.url}/api/v1/networks/pods`, "PUT", { subnet: "10.64.0.0/16", gateway: "10.64.0.1" });
  await call(`${a.url}/api/v1/policies/all`, "PUT", { podPrefix: "", networks: [{ network: "pods" }] });

  let seq = 0;
  let turn = 0;
  const replica = () => replicas[turn++ % replicas.length]?.url ?? "";
  const create = async (node: number): Promise<Pod> => {
    const n = seq++;
    const pod = { ns: `ns-${n % 50}`, name: `pod-${n}`, containerId: `c${n}` };
    const q = new URLSearchParams({
      podName: pod.name,
      podNamespace: pod.ns,
      containerId: pod.containerId,
      node: `node-${node}`,
    });
    const r = await fetch(`${replica()}/rmController/getPodMultiNetwork?${q}`);
    const body = (await r.json()) as { code?: number; data?: { podIp?: string }[] };
    if (r.status !== 200 || body.data?.[0]?.podIp === undefined)
      throw new Error(`creating ${pod.ns}/${pod.name}: ${r.status} ${JSON.stringify(body)}`);
    return pod;
  };
  const remove = async (pod: Pod): Promise<void> => {
    const r = await fetch(`${replica()}/api/v1/pods/${pod.ns}/${pod.name}/release`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ containerId: pod.containerId }),
    });
    const body = (await r.json()) as { released?: boolean };
    if (r.status !== 200 || body.released !== true)
      throw new Error(`deleting ${pod.ns}/${pod.name}: ${r.status} ${JSON.stringify(body)}`);
  };
  const parallel = async (n: number, fn: (i: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        for (let i = next++; i < n; i = next++) await fn(i);
      }),
    );
  };

  // The cluster's pods: `perNode` on each node.
  const onNode: Pod[][] = Array.from({ length: nodes }, () => []);
  let t = performance.now();
  await parallel(nodes * perNode, async (i) => {
    onNode[i % nodes]?.push(await create(i % nodes));
  });
  const fill = ((nodes * perNode) / (performance.now() - t)) * 1000;

  // Churn: delete a random pod of a random node, create its replacement there.
  const creates: number[] = [];
  const deletes: number[] = [];
  const busy = new Set<number>();
  const end = performance.now() + seconds * 1000;
  t = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        let node = Math.floor(Math.random() * nodes);
        while (busy.has(node)) node = (node + 1) % nodes;
        busy.add(node);
        const pods = onNode[node] ?? [];
        const victim = pods.splice(Math.floor(Math.random() * pods.length), 1)[0];
        if (victim !== undefined) {
          const d = performance.now();
          await remove(victim);
          deletes.push(performance.now() - d);
        }
        const c = performance.now();
        pods.push(await create(node));
        creates.push(performance.now() - c);
        busy.delete(node);
      }
    }),
  );
  const churnSeconds = (performance.now() - t) / 1000;

  // Every pod gone: the pool must be whole again.
  const all = onNode.flat();
  await parallel(all.length, async (i) => {
    const pod = all[i];
    if (pod !== undefined) await remove(pod);
  });
  const net = (await call(`${a.url}/api/v1/networks/pods`, "GET")) as { allocated?: unknown; free?: unknown };
  const left = (await call(`${replicas[replicas.length - 1]?.url}/api/v1/pods?limit=100000`, "GET")) as
    | { items?: unknown[] }
    | unknown[];
  const podsLeft = Array.isArray(left) ? left.length : (left.items?.length ?? -1);

  const ms = (x: number) => `${x.toFixed(1)} ms`;
  console.log(
    `churn: ${nodes} nodes x ${perNode} pods through ${replicaCount} RM replica(s) on a 3-member etcd, ${clients} clients, ${seconds} s`,
  );
  console.log(`| figure | value |`);
  console.log(`| ------ | ----- |`);
  console.log(`| initial pods created (webhook + policy) | ${nodes * perNode} at ${fill.toFixed(0)}/s |`);
  console.log(
    `| churn (one pod deleted + one created) | ${(creates.length / churnSeconds).toFixed(0)} pods/s (${creates.length} in ${churnSeconds.toFixed(1)} s) |`,
  );
  console.log(
    `| creation latency p50 / p99 | ${ms(quantile(creates, 0.5))} / ${ms(quantile(creates, 0.99))} |`,
  );
  console.log(
    `| deletion latency p50 / p99 | ${ms(quantile(deletes, 0.5))} / ${ms(quantile(deletes, 0.99))} |`,
  );
  console.log(
    `| after deleting every pod | ${podsLeft} pods, allocated ${JSON.stringify(net.allocated)}, free ${JSON.stringify(net.free)} |`,
  );
  if (podsLeft !== 0 || JSON.stringify(net.allocated).match(/[1-9]/)) {
    console.error("LEAK: the pool is not whole again");
    process.exitCode = 1;
  }
} finally {
  for (const r of replicas) await r.stop();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}
