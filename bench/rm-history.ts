// What address history costs and how fast it answers, on SQLite (synchronous=FULL, the default):
//  1. allocations per second through the RM's API (PUT /api/v1/pods/…, 16 concurrent clients) with
//     history recorded and with it off, interleaved rounds in one run, medians;
//  2. "who had this address at T" (GET /api/v1/addresses/{ip}?at=T's query, history-api.ts
//     addressAt) on a store holding 1,000,000 events: random addresses at random times, p50/p99.
// Both RMs run in this process (the store's `history: false` has no command-line flag). Run it on
// the pinned Bun, the runtime the RM ships on.
//
// Usage: bun bench/rm-history.ts [rounds] [allocations-per-round] [events] [both|alloc|holder]
//   (bun is node_modules/@oven/bun-linux-x64/bin/bun)
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planPod } from "../src/rm/allocate.ts";
import { type HistoryEvent, idFloor, timeOfId } from "../src/rm/history.ts";
import { addressAt } from "../src/rm/history-api.ts";
import { streamLogger } from "../src/rm/log.ts";
import { RmServer } from "../src/rm/server.ts";
import { RmService } from "../src/rm/service.ts";
import { HISTORY_FOLD_ROWS, openSqliteStore } from "../src/rm/sqlite-store.ts";
import type { Store } from "../src/rm/store.ts";
import { allocate, call, median } from "./rm-common.ts";
import { percentile } from "./stats.ts";

const rounds = Number(process.argv[2] ?? 7);
const count = Number(process.argv[3] ?? 400);
const total = Number(process.argv[4] ?? 1_000_000);
const which = process.argv[5] ?? "both";
const dir = mkdtempSync(join(tmpdir(), "dockin-bench-history-"));

async function serve(store: Store): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = new RmServer({ service: new RmService(store), logger: streamLogger("error") });
  await server.listen("127.0.0.1", 0);
  return { url: server.url, stop: () => server.close(1000) };
}

async function throughput(): Promise<void> {
  const on = await openSqliteStore(join(dir, "on.db"));
  const off = await openSqliteStore(join(dir, "off.db"), { history: false });
  const rms = { on: await serve(on), off: await serve(off) };
  try {
    for (const rm of Object.values(rms))
      await call(`${rm.url}/api/v1/networks/n`, "PUT", { subnet: "10.0.0.0/12" });
    const rates = { off: [] as number[], on: [] as number[] };
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first, so neither always runs on the warmer (or the busier) machine.
      const order = r % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const);
      for (const k of order) rates[k].push(await allocate(rms[k].url, "n", `r${r}`, count));
      // Each round's pair ran back to back: their ratio cancels the machine's slower swings.
      ratios.push((rates.on[r] ?? 0) / (rates.off[r] ?? 1));
    }
    const events = (await on.history({ limit: 1_000_000 })).length;
    console.log(`allocations per second, ${rounds} rounds of ${count}, 16 concurrent clients, medians`);
    console.log("| case | per second | vs history off |");
    console.log("| --- | --- | --- |");
    console.log(`| history off | ${Math.round(median(rates.off))} | 1.00x |`);
    console.log(
      `| history on (${events} events written) | ${Math.round(median(rates.on))} | ${(median(rates.on) / median(rates.off)).toFixed(2)}x |`,
    );
    console.log(
      `median of the rounds' on/off ratios (each pair ran back to back): ${median(ratios).toFixed(2)}x`,
    );
    console.log(
      `rounds, off: ${rates.off.map(Math.round).join(" ")}; on: ${rates.on.map(Math.round).join(" ")}`,
    );
  } finally {
    await rms.on.stop();
    await rms.off.stop();
    await on.close();
    await off.close();
  }
}

async function holderAt(): Promise<void> {
  const path = join(dir, "million.db");
  const store = await openSqliteStore(path, { synchronous: "normal" });
  try {
    // 90 days of churn on a /16: each event takes or frees a random address, in time order.
    const span = 90 * 86_400_000;
    const start = Date.parse("2026-09-01T00:00:00Z");
    const held = new Map<number, string>();
    let n = 0;
    const filled = process.hrtime.bigint();
    while (n < total) {
      const batch: HistoryEvent[] = [];
      for (let i = 0; i < 20_000 && n < total; i++, n++) {
        const ms = start + Math.floor((n * span) / total);
        const id = `${idFloor(ms)}${(n % 0xffffff).toString(16).padStart(6, "0")}00be0c`;
        const host = Math.floor(Math.random() * 65_536);
        const owner = held.get(host);
        const address = `10.250.${host >> 8}.${host & 255}`;
        const pod = owner ?? `web-${n}`;
        if (owner === undefined) held.set(host, pod);
        else held.delete(host);
        batch.push({
          id,
          time: timeOfId(id),
          event: owner === undefined ? "allocated" : "released",
          network: "n",
          address,
          namespace: "shop",
          name: pod,
          containerId: `c${n}`,
          node: `node-${n % 50}`,
        });
      }
      await store.importHistory(batch);
    }
    // The latest events wait in history_recent, which a query reads whole (no index): leave it one
    // event short of its fold, the most a query ever reads there.
    await store.putNetwork("recent", (existing) => ({
      name: "recent",
      spec: { subnet: "10.251.0.0/16" },
      created: existing?.created ?? new Date().toISOString(),
      updated: new Date().toISOString(),
    }));
    const request = { attachments: [{ network: "recent", ips: [] }], sticky: false };
    for (let i = 0; i < HISTORY_FOLD_ROWS - 1; i++) {
      await store.updatePod("recent", `p-${i}`, (existing, view) =>
        planPod("recent", `p-${i}`, existing, request, view, new Date().toISOString()),
      );
    }
    const fillSeconds = Number(process.hrtime.bigint() - filled) / 1e9;
    console.log(
      `"who had it at T" on ${total} events (${(statSync(path).size / 1e6).toFixed(0)} MB SQLite file, filled in ${fillSeconds.toFixed(0)} s) and ${HISTORY_FOLD_ROWS - 1} recent ones not yet folded, random address and time:`,
    );
    console.log("| pass | queries | wall p50 | wall p99 | wall max | CPU p50 | CPU p99 | had a holder |");
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (let pass = 1; pass <= 3; pass++) {
      // Wall time counts the time this process waited for a core; CPU time (user + system) does not.
      const wall: number[] = [];
      const cpu: number[] = [];
      let holders = 0;
      for (let i = 0; i < 3000; i++) {
        const host = Math.floor(Math.random() * 65_536);
        const ip = `10.250.${host >> 8}.${host & 255}`;
        const at = new Date(start + Math.floor(Math.random() * span)).toISOString();
        const c = process.cpuUsage();
        const t = process.hrtime.bigint();
        const reply = await addressAt(store, ip, new URLSearchParams({ at }));
        wall.push(Number(process.hrtime.bigint() - t) / 1e6);
        const used = process.cpuUsage(c);
        cpu.push((used.user + used.system) / 1000);
        if (reply.holder !== null) holders++;
      }
      const ms = (x: number) => `${x.toFixed(2)} ms`;
      console.log(
        `| ${pass} | ${wall.length} | ${ms(percentile(wall, 50))} | ${ms(percentile(wall, 99))} | ${ms(Math.max(...wall))} | ${ms(percentile(cpu, 50))} | ${ms(percentile(cpu, 99))} | ${Math.round((holders / wall.length) * 100)}% |`,
      );
    }
  } finally {
    await store.close();
  }
}

try {
  if (which !== "holder") await throughput();
  if (which !== "alloc") await holderAt();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
