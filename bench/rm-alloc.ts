// Allocations per second through the RM's API (PUT /api/v1/pods/…, 16 concurrent clients), with
// synchronous=FULL (the default) and NORMAL, against the floor of the same durability: bare SQLite
// transactions inserting one row each in WAL mode (what one allocation must at least cost).
// Interleaved rounds, medians.
//
// Optionally another build's RM (e.g. the Node build of an earlier commit) at FULL, interleaved:
// each round runs it and this build back to back, and the ratio of the two is printed.
// Run it on the pinned Bun, so that the bare SQLite floor runs on the RM's runtime.
//
// Usage: npm run build && bun bench/rm-alloc.ts [rounds] [allocations-per-round] [another dockin]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { allocate, call, median, startRm } from "./rm-common.ts";

const rounds = Number(process.argv[2] ?? 5);
const count = Number(process.argv[3] ?? 400);
const otherExe = process.argv[4];
const dir = mkdtempSync(join(tmpdir(), "dockin-bench-alloc-"));

function bareSqlite(path: string, sync: "FULL" | "NORMAL", n: number, offset: number): number {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${sync};
    CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v TEXT) STRICT, WITHOUT ROWID;`);
  const ins = db.prepare("INSERT INTO t (k, v) VALUES (?, ?)");
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    db.exec("BEGIN IMMEDIATE");
    ins.run(`k${offset + i}`, "x".repeat(200));
    db.exec("COMMIT");
  }
  const rate = n / (Number(process.hrtime.bigint() - started) / 1e9);
  db.close();
  return rate;
}

const full = await startRm(`sqlite:${join(dir, "full.db")}`);
const normal = await startRm(`sqlite:${join(dir, "normal.db")}`, ["--sqlite-sync", "normal"]);
const other =
  otherExe === undefined ? undefined : await startRm(`sqlite:${join(dir, "other.db")}`, [], otherExe);
try {
  for (const rm of other === undefined ? [full, normal] : [full, normal, other])
    await call(`${rm.url}/api/v1/networks/n`, "PUT", { subnet: "10.0.0.0/12" });
  const rates: Record<string, number[]> = {
    "bare SQLite insert, FULL": [],
    "RM allocation, FULL (default)": [],
    "bare SQLite insert, NORMAL": [],
    "RM allocation, NORMAL": [],
    ...(other === undefined ? {} : { "other RM allocation, FULL": [] }),
  };
  for (let r = 0; r < rounds; r++) {
    rates["bare SQLite insert, FULL"]?.push(bareSqlite(join(dir, "bare-full.db"), "FULL", count, r * count));
    // This build and the other back to back, each going first every other round, so that their
    // ratio in a round cancels the machine's slower swings.
    const pair: [string, string][] = [["RM allocation, FULL (default)", full.url]];
    if (other !== undefined) pair[r % 2 === 0 ? "push" : "unshift"](["other RM allocation, FULL", other.url]);
    for (const [k, url] of pair) rates[k]?.push(await allocate(url, "n", `r${r}`, count));
    rates["bare SQLite insert, NORMAL"]?.push(
      bareSqlite(join(dir, "bare-normal.db"), "NORMAL", count, r * count),
    );
    rates["RM allocation, NORMAL"]?.push(await allocate(normal.url, "n", `r${r}`, count));
  }
  console.log(`allocations per second, ${rounds} rounds of ${count}, 16 concurrent clients, medians`);
  console.log("| case | per second | vs bare SQLite of the same mode |");
  console.log("| --- | --- | --- |");
  const m = (k: string) => median(rates[k] ?? []);
  for (const k of Object.keys(rates)) {
    const ref = k.includes("FULL") ? m("bare SQLite insert, FULL") : m("bare SQLite insert, NORMAL");
    console.log(`| ${k} | ${Math.round(m(k))} | ${(m(k) / ref).toFixed(2)}x |`);
  }
  const mine = rates["RM allocation, FULL (default)"] ?? [];
  const theirs = rates["other RM allocation, FULL"];
  if (theirs !== undefined) {
    const paired = median(mine.map((x, r) => x / (theirs[r] ?? Number.NaN)));
    console.log(
      `this RM / the other, FULL: ${(median(mine) / median(theirs)).toFixed(2)}x of the medians, ${paired.toFixed(2)}x paired (the median of the rounds' ratios)`,
    );
  }
  for (const [k, v] of Object.entries(rates)) console.log(`rounds, ${k}: ${v.map(Math.round).join(" ")}`);
} finally {
  await full.stop();
  await normal.stop();
  await other?.stop();
  rmSync(dir, { recursive: true, force: true });
}
