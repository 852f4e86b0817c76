// Webhook lookups per second and p99 latency at 64 connections (autocannon), the RM against a bare
// Bun.serve server on the same runtime answering the same bytes, and optionally another build's RM
// (e.g. the Node build of an earlier commit) on the same data, interleaved in one run.
//
// Usage: npm run build && bun bench/rm-webhook.ts [rounds] [seconds] [another dockin executable]
//   (8 rounds of 2 s each side by default: short interleaved runs, so that load from elsewhere
//   on the machine falls on both sides alike; "vs bare" is the median of the per-round ratios)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CannonResult, call, cannon, median, startBare, startRm } from "./rm-common.ts";

const rounds = Number(process.argv[2] ?? 8);
const seconds = Number(process.argv[3] ?? 2);
const otherExe = process.argv[4];
const pods = 1000;
const dir = mkdtempSync(join(tmpdir(), "dockin-bench-rm-"));
const rm = await startRm(`sqlite:${join(dir, "rm.db")}`);
const other =
  otherExe === undefined ? undefined : await startRm(`sqlite:${join(dir, "other.db")}`, [], otherExe);
try {
  for (const server of other === undefined ? [rm] : [rm, other]) {
    await call(`${server.url}/api/v1/networks/test`, "PUT", { subnet: "10.10.0.0/16", gateway: "10.10.0.1" });
    await call(`${server.url}/api/v1/networks/dockin`, "PUT", {
      subnet: "10.11.0.0/16",
      gateway: "10.11.0.1",
    });
    for (let i = 0; i < pods; i++) {
      await call(`${server.url}/api/v1/pods/bench/pod-${i}`, "PUT", {
        networks: [{ network: "test" }, { network: "dockin" }],
      });
    }
  }
  const path = "/rmController/getPodMultiNetwork?podName=pod-7&podNamespace=bench";
  const reply = await fetch(`${rm.url}${path}`, { headers: { "x-request-id": "bench" } });
  const body = await reply.text();
  const bare = await startBare(body);
  try {
    const runs: Record<string, CannonResult[]> = {
      bare: [],
      rm: [],
      ...(other === undefined ? {} : { "other rm": [] }),
      "bare, random paths": [],
      "rm (1000 pods, random)": [],
      ...(other === undefined ? {} : { "other rm (1000 pods, random)": [] }),
    };
    const random = {
      path,
      setupRequest: (req: { path: string }) => ({
        ...req,
        path: `/rmController/getPodMultiNetwork?podName=pod-${Math.floor(Math.random() * pods)}&podNamespace=bench`,
      }),
    };
    // Warm-up of each side, then interleaved rounds.
    await cannon({ url: `${bare.url}${path}`, connections: 64, duration: 1 });
    await cannon({ url: `${rm.url}${path}`, connections: 64, duration: 1 });
    if (other !== undefined) await cannon({ url: `${other.url}${path}`, connections: 64, duration: 1 });
    for (let r = 0; r < rounds; r++) {
      runs.bare?.push(await cannon({ url: `${bare.url}${path}`, connections: 64, duration: seconds }));
      runs.rm?.push(await cannon({ url: `${rm.url}${path}`, connections: 64, duration: seconds }));
      if (other !== undefined)
        runs["other rm"]?.push(
          await cannon({ url: `${other.url}${path}`, connections: 64, duration: seconds }),
        );
      // The random pod costs the client too (autocannon's setupRequest): the bare server gets the
      // same random paths, so that this pair compares like with like.
      runs["bare, random paths"]?.push(
        await cannon({ url: bare.url, connections: 64, duration: seconds, requests: [random] }),
      );
      runs["rm (1000 pods, random)"]?.push(
        await cannon({ url: rm.url, connections: 64, duration: seconds, requests: [random] }),
      );
      if (other !== undefined)
        runs["other rm (1000 pods, random)"]?.push(
          await cannon({ url: other.url, connections: 64, duration: seconds, requests: [random] }),
        );
    }
    const bareRounds = (runs.bare ?? []).map((x) => x.requests.average);
    console.log(
      `webhook lookups, 64 connections, ${rounds} x ${seconds} s interleaved, medians (reply ${body.length} bytes; "vs bare": median of per-round ratios to the bare run of the same paths)`,
    );
    console.log("| server | requests/s | p99 latency | vs bare |");
    console.log("| --- | --- | --- | --- |");
    for (const [name, results] of Object.entries(runs)) {
      const rps = median(results.map((x) => x.requests.average));
      const p99 = median(results.map((x) => x.latency.p99));
      const bad = results.reduce((n, x) => n + x.non2xx + x.errors, 0);
      const ref = name.includes("random")
        ? (runs["bare, random paths"] ?? []).map((x) => x.requests.average)
        : bareRounds;
      const ratio = median(results.map((x, i) => x.requests.average / (ref[i] ?? Number.NaN)));
      console.log(
        `| ${name} | ${Math.round(rps)} | ${p99} ms | ${ratio.toFixed(2)}x |${bad > 0 ? ` (${bad} errors!)` : ""}`,
      );
    }
  } finally {
    await bare.stop();
  }
} finally {
  await rm.stop();
  await other?.stop();
  rmSync(dir, { recursive: true, force: true });
}
