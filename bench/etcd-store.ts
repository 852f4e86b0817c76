// The RM on etcd against the RM on SQLite, side by side in one run: allocations per second (PUT of
// new pods, 16 concurrent clients) and webhook lookups per second with p99 (autocannon, 64
// connections, random pods of those allocated), for one `dockin rm serve` on SQLite (FULL sync),
// on a one-member etcd and on a three-member etcd (all members on this machine, loopback), rounds
// interleaved, medians.
//
// Usage: npm run build && bun bench/etcd-store.ts [rounds] [allocations-per-round] [seconds]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EtcdCluster } from "../test/etcd/cluster.ts";
import { allocate, type CannonResult, type Child, call, cannon, median, startRm } from "./rm-common.ts";

const rounds = Number(process.argv[2] ?? 3);
const count = Number(process.argv[3] ?? 500);
const seconds = Number(process.argv[4] ?? 5);
const dir = mkdtempSync(join(tmpdir(), "dockin-bench-etcd-"));

const clusters: EtcdCluster[] = [];
const rms: { name: string; rm: Child }[] = [];
try {
  const one = await EtcdCluster.start({ size: 1, dir: join(dir, "one") });
  clusters.push(one);
  const three = await EtcdCluster.start({ size: 3, dir: join(dir, "three") });
  clusters.push(three);
  rms.push({ name: "SQLite (FULL sync)", rm: await startRm(`sqlite:${join(dir, "rm.db")}`) });
  rms.push({ name: "etcd, 1 member", rm: await startRm(one.storeSpec) });
  rms.push({ name: "etcd, 3 members", rm: await startRm(three.storeSpec) });
  for (const { rm } of rms) await call(`${rm.url}/api/v1/networks/n`, "PUT", { subnet: "10.0.0.0/12" });

  const allocs: Record<string, number[]> = Object.fromEntries(rms.map(({ name }) => [name, []]));
  const lookups: Record<string, CannonResult[]> = Object.fromEntries(rms.map(({ name }) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const { name, rm } of rms) {
      allocs[name]?.push(await allocate(rm.url, "n", `r${r}`, count, 16));
      const random = {
        setupRequest: (req: { path: string }) => ({
          ...req,
          path: `/rmController/getPodMultiNetwork?podName=r0-${Math.floor(Math.random() * count)}&podNamespace=alloc`,
        }),
      };
      lookups[name]?.push(
        await cannon({ url: rm.url, connections: 64, duration: seconds, requests: [random] }),
      );
    }
  }

  const ref = rms[0]?.name ?? "";
  const refAlloc = median(allocs[ref] ?? []);
  const refLookup = median((lookups[ref] ?? []).map((x) => x.requests.average));
  console.log(
    `RM store: ${rounds} interleaved rounds of ${count} allocations (16 clients) and ${seconds} s of lookups (64 connections); medians`,
  );
  console.log("| store | allocations/s | vs SQLite | lookups/s | vs SQLite | lookup p99 | errors |");
  console.log("| ----- | ------------- | --------- | --------- | --------- | ---------- | ------ |");
  for (const { name } of rms) {
    const a = median(allocs[name] ?? []);
    const runs = lookups[name] ?? [];
    const l = median(runs.map((x) => x.requests.average));
    const p99 = median(runs.map((x) => x.latency.p99));
    const errors = runs.reduce((n, x) => n + x.errors + x.non2xx, 0);
    console.log(
      `| ${name} | ${a.toFixed(0)} | ${(a / refAlloc).toFixed(2)}x | ${l.toFixed(0)} | ${(l / refLookup).toFixed(2)}x | ${p99.toFixed(1)} ms | ${errors} |`,
    );
  }
} finally {
  for (const { rm } of rms) await rm.stop();
  for (const c of clusters) await c.stop();
  rmSync(dir, { recursive: true, force: true });
}
