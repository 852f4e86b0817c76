// The RM with a store holding 100,000 pods against the same RM with 1,000 pods, side by side in one
// run: webhook lookups of random pods (64 connections, autocannon) and allocations per second
// (16 concurrent clients, synchronous=FULL). Interleaved rounds, medians.
//
// Usage: npm run build && bun bench/rm-scale.ts [rounds] [pods]
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RmService } from "../src/rm/service.ts";
import { openSqliteStore } from "../src/rm/sqlite-store.ts";
import { allocate, type CannonResult, cannon, median, startRm } from "./rm-common.ts";

const rounds = Number(process.argv[2] ?? 3);
const big = Number(process.argv[3] ?? 100_000);
const small = 1000;
const dir = mkdtempSync(join(tmpdir(), "dockin-bench-scale-"));

/** Fills a store through the service (the real allocation path), two networks per pod. */
async function fill(path: string, pods: number): Promise<number> {
  const store = await openSqliteStore(path, { synchronous: "normal" }); // the fill only; the RM runs FULL
  const service = new RmService(store);
  await service.putNetwork("a", { subnet: "10.0.0.0/12", gateway: "10.0.0.1" });
  await service.putNetwork("b", { subnet: "10.16.0.0/12", gateway: "10.16.0.1" });
  const started = process.hrtime.bigint();
  for (let i = 0; i < pods; i++) {
    await service.putPod(`ns-${i % 50}`, `pod-${i}`, { networks: [{ network: "a" }, { network: "b" }] });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await store.close();
  return pods / seconds;
}

try {
  const bigPath = join(dir, "big.db");
  const smallPath = join(dir, "small.db");
  const fillRate = await fill(bigPath, big);
  await fill(smallPath, small);
  console.log(
    `filled ${big} pods at ${Math.round(fillRate)}/s (in-process, synchronous=NORMAL); file ${(statSync(bigPath).size / 1e6).toFixed(1)} MB`,
  );
  const rms = {
    [`${small} pods`]: await startRm(`sqlite:${smallPath}`),
    [`${big} pods`]: await startRm(`sqlite:${bigPath}`),
  };
  try {
    const lookups: Record<string, CannonResult[]> = Object.fromEntries(Object.keys(rms).map((k) => [k, []]));
    const allocs: Record<string, number[]> = Object.fromEntries(Object.keys(rms).map((k) => [k, []]));
    for (let r = 0; r < rounds; r++) {
      for (const [name, rm] of Object.entries(rms)) {
        const size = name.startsWith(String(small)) ? small : big;
        const random = {
          setupRequest: (req: { path: string }) => {
            const i = Math.floor(Math.random() * size);
            return {
              ...req,
              path: `/rmController/getPodMultiNetwork?podName=pod-${i}&podNamespace=ns-${i % 50}`,
            };
          },
        };
        lookups[name]?.push(await cannon({ url: rm.url, connections: 64, duration: 3, requests: [random] }));
        allocs[name]?.push(await allocate(rm.url, "a", `r${r}`, 200));
      }
    }
    console.log(`${rounds} interleaved rounds, medians`);
    console.log(
      "| store | webhook lookups/s (random pod, 64 conns) | p99 | allocations/s (FULL, 16 clients) |",
    );
    console.log("| --- | --- | --- | --- |");
    for (const name of Object.keys(rms)) {
      const l = lookups[name] ?? [];
      const bad = l.reduce((n, x) => n + x.non2xx + x.errors, 0);
      console.log(
        `| ${name} | ${Math.round(median(l.map((x) => x.requests.average)))}${bad > 0 ? ` (${bad} errors!)` : ""} | ${median(l.map((x) => x.latency.p99))} ms | ${Math.round(median(allocs[name] ?? []))} |`,
      );
    }
  } finally {
    for (const rm of Object.values(rms)) await rm.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
