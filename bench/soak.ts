// The soak and fault suite (issue 13): against the built executables in dist/bin (called as
// executables), a real RM on SQLite, real namespaces and the real bridge.
//   1. a burst of pods with two networks each (ADD all at once, then DEL all at once), and the
//      same burst through the Go reference (`bridge` + `static` IPAM, the same addresses);
//   2. ADD/DEL cycles from parallel workers, then a leak check (links, namespaces, ip rules,
//      records, RM allocations, RM file descriptors and memory from /proc);
//   3. the faults: the RM stopped and restarted during ADDs, the RM killed (-9) during ADDs, ADDs
//      with the RM down, the plugin killed (-9) at random points of ADD, the cache disk full at
//      each record write, corrupt records of every kind, DEL with the RM down; each with the RM
//      up and down where that means something. Each checks that nothing is left, nothing acknowledged is lost, and
//      no address is held twice.
//
// Usage (root): ./dev soak [--short|--full] [--cycles N]   (or: npm run build && bun bench/soak.ts …)
// --short (the default) is what test/soak/soak.test.ts runs in CI; --full is the run by hand
// whose figures are in BENCHMARKS.md. Exit status 1 when any check failed.
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Pod, type Run, sleep, World } from "./soak/world.ts";
import { median, percentile } from "./stats.ts";

export interface SoakOptions {
  /** Pods in the burst (110 in the full run, as a node's pod limit). */
  burst: number;
  cycles: number;
  workers: number;
  /** RM memory and descriptors are sampled every this many cycles. */
  sampleEvery: number;
  /** Plugin kill -9 rounds. */
  kills: number;
  out: (line: string) => void;
}

export const SHORT: Omit<SoakOptions, "out"> = {
  burst: 30,
  cycles: 300,
  workers: 4,
  sampleEvery: 100,
  kills: 6,
};
export const FULL: Omit<SoakOptions, "out"> = {
  burst: 110,
  cycles: 4000,
  workers: 8,
  sampleEvery: 1000,
  kills: 30,
};

export interface SoakReport {
  problems: string[];
  figures: Record<string, number | string>;
}

/** What a successful ADD acknowledged: the pod and its addresses (per interface). */
interface Ack {
  pod: Pod;
  addresses: Record<string, string>;
}

const strip = (a: string) => a.split("/")[0]!;
const fmt = (ms: number) => `${Math.round(ms)} ms`;
const why = (run: Run) =>
  `code ${run.code}${run.signal ? ` (${run.signal})` : ""}: ${run.stdout.trim() || run.stderr.trim().slice(-300)}`;

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const w = new World();
  const problems: string[] = [];
  const figures: Record<string, number | string> = {};
  const out = options.out;
  const fail = (where: string, what: string) => {
    problems.push(`${where}: ${what}`);
    out(`  PROBLEM ${where}: ${what}`);
  };

  /** An ADD's acknowledgement, from the namespace (the plugin prints the master's result only). */
  const ackOf = (pod: Pod): Ack => {
    const links = w.links(pod.netns);
    const addresses: Record<string, string> = {};
    for (const net of w.networks) addresses[net.ifName] = strip(links[net.ifName]?.[0] ?? "");
    return { pod, addresses };
  };

  /** Every acknowledged pod is attached with its addresses and held by the RM with the same ones. */
  const verifyAcks = async (where: string, acks: Ack[]) => {
    const held = await w.held();
    const seen = new Map<string, string>();
    for (const h of held) {
      const key = `${h.network}:${strip(h.address)}`;
      const other = seen.get(key);
      if (other !== undefined) fail(where, `address ${key} is held by ${other} and ${h.pod}`);
      seen.set(key, h.pod);
    }
    for (const ack of acks) {
      const links = w.links(ack.pod.netns);
      for (const net of w.networks) {
        const want = ack.addresses[net.ifName];
        const rm = held.find((h) => h.pod === ack.pod.name && h.network === net.name);
        if (want === undefined || want === "")
          fail(where, `${ack.pod.name} acknowledged without ${net.ifName}`);
        else if (rm === undefined)
          fail(where, `${ack.pod.name}: the RM lost its ${net.name} address ${want}`);
        else if (strip(rm.address) !== want)
          fail(where, `${ack.pod.name}: the RM holds ${rm.address} on ${net.name}, the pod has ${want}`);
        if (!links[net.ifName]?.some((a) => strip(a) === want))
          fail(where, `${ack.pod.name}: ${net.ifName} lost ${want} (${JSON.stringify(links)})`);
      }
    }
  };

  /** Nothing of any pod is left: links, namespaces' interfaces and rules, records, RM pods. */
  const leakCheck = async (where: string) => {
    for (const l of w.hostLinksLeft()) fail(where, `host link left: ${l}`);
    for (const ns of w.strayNamespaces()) fail(where, `namespace left: ${ns}`);
    for (const ns of w.namespaces) {
      const links = Object.keys(w.links(ns));
      if (links.length > 0) fail(where, `interfaces left in ${ns}: ${links.join(", ")}`);
      const rules = w.rules(ns);
      if (rules.length > 0) fail(where, `ip rules left in ${ns}: ${rules.join("; ")}`);
    }
    const { records } = w.records();
    if (records.length > 0) fail(where, `records left: ${records.join(", ")}`);
    const held = await w.held();
    if (held.length > 0)
      fail(
        where,
        `the RM still holds ${held.length} addresses (${held
          .slice(0, 4)
          .map((h) => `${h.pod}:${h.address}`)
          .join(", ")}…)`,
      );
  };

  /** The RM's GC path for notifications that never arrived: release every pod not attached. */
  const gc = async (attached: string[] = []) =>
    (await w.rm.request("POST", "/api/v1/gc", { pods: attached.map((n) => `soak/${n}`) })) as unknown;

  /** A runtime's DEL of a pod after a failed or killed ADD, or at the end of its life. */
  const delOrFail = async (where: string, pod: Pod) => {
    const run = await w.del(pod);
    if (run.code !== 0) fail(where, `DEL of ${pod.name} failed: ${why(run)}`);
    return run;
  };

  // Namespaces are reused: each step's pods get the first ones of the pool (a pod's namespace is
  // empty again once it is detached, which the leak check verifies).
  let podNo = 0;
  const pool: string[] = [];
  const podsFor = (label: string, count: number): Pod[] => {
    while (pool.length < count) pool.push(w.netns());
    return pool.slice(0, count).map((netns) => {
      podNo++;
      return { name: `p-${label}-${podNo}`, netns, containerId: `c${podNo}x${w.tag}` };
    });
  };

  try {
    await w.setup();
    out(`soak: RM at ${w.rm.url} (pid ${w.rm.proc?.pid}), work dir ${w.dir}, prefix ${w.prefix}`);
    const start = w.rm.usage();
    figures.rmRssStartMiB = +(start.rssKiB / 1024).toFixed(1);
    figures.rmFdsStart = start.fds;

    // 1. The burst.
    {
      const where = `burst of ${options.burst}`;
      out(`\n[1] ${where} pods, two networks each: ADD all at once, then DEL all at once`);
      const pods = podsFor("burst", options.burst);
      let t = performance.now();
      const adds = await Promise.all(pods.map((p) => w.cni("ADD", p)));
      const addWall = performance.now() - t;
      const acks: Ack[] = [];
      adds.forEach((run, i) => {
        if (run.code === 0) acks.push(ackOf(pods[i]!));
        else fail(where, `ADD of ${pods[i]!.name} failed: ${why(run)}`);
      });
      await verifyAcks(where, acks);
      const logBefore = logLines(w.logFile).length;
      t = performance.now();
      const dels = await Promise.all(pods.map((p) => w.cni("DEL", p)));
      const delWall = performance.now() - t;
      dels.forEach((run, i) => {
        if (run.code !== 0) fail(where, `DEL of ${pods[i]!.name} failed: ${why(run)}`);
      });
      const notes = logLines(w.logFile)
        .slice(logBefore)
        .filter((l) => l.msg === "notified" || l.msg === "notifying the RM of the detach failed");
      const notifyMs = notes.map((l) => Number(l.ms ?? Number.NaN)).filter((n) => !Number.isNaN(n));
      const notifyFailed = notes.filter((l) => l.outcome === "failed").length;
      const heldAfter = (await w.held()).length;
      out(
        `  dockin-cni: ADD wall ${fmt(addWall)}, DEL wall ${fmt(delWall)}; per call ADD median ${fmt(median(adds.map((r) => r.ms)))} max ${fmt(Math.max(...adds.map((r) => r.ms)))}, DEL median ${fmt(median(dels.map((r) => r.ms)))} max ${fmt(Math.max(...dels.map((r) => r.ms)))}`,
      );
      out(
        `  detach notifications: ${notes.length}, ${notifyFailed} failed; notify median ${fmt(median(notifyMs))}, p95 ${fmt(percentile(notifyMs, 95))}, max ${fmt(Math.max(0, ...notifyMs))} (deadline 2000 ms); RM holds ${heldAfter} addresses after the DELs`,
      );
      if (heldAfter > 0) {
        out(`  the RM's GC path releases the ${heldAfter} addresses whose notification failed`);
        await gc();
      }
      await leakCheck(where);
      // The reference: the same burst through bridge + static IPAM (Go), the same addresses.
      t = performance.now();
      const refAdds = await Promise.all(
        acks.flatMap((a) =>
          w.networks.map((n) => w.reference("ADD", a.pod, n, `${a.addresses[n.ifName]}/${n.prefixLen}`)),
        ),
      );
      const refAddWall = performance.now() - t;
      t = performance.now();
      const refDels = await Promise.all(
        acks.flatMap((a) =>
          w.networks.map((n) => w.reference("DEL", a.pod, n, `${a.addresses[n.ifName]}/${n.prefixLen}`)),
        ),
      );
      const refDelWall = performance.now() - t;
      for (const r of [...refAdds, ...refDels]) if (r.code !== 0) fail(`${where} (Go reference)`, why(r));
      out(
        `  Go bridge + static: ADD wall ${fmt(refAddWall)}, DEL wall ${fmt(refDelWall)} (${refAdds.length} bridge calls each)`,
      );
      out(
        `  ratio dockin-cni / Go: ADD ${(addWall / refAddWall).toFixed(2)}x, DEL ${(delWall / refDelWall).toFixed(2)}x`,
      );
      Object.assign(figures, {
        burstPods: options.burst,
        burstAddWallMs: Math.round(addWall),
        burstDelWallMs: Math.round(delWall),
        refAddWallMs: Math.round(refAddWall),
        refDelWallMs: Math.round(refDelWall),
        burstAddRatio: +(addWall / refAddWall).toFixed(2),
        burstDelRatio: +(delWall / refDelWall).toFixed(2),
        notifyFailed,
        notifyMedianMs: Math.round(median(notifyMs)),
        notifyMaxMs: Math.round(Math.max(0, ...notifyMs)),
      });
      await leakCheck(`${where} (Go reference)`);
    }

    // 2. The cycles.
    {
      const where = `${options.cycles} cycles`;
      out(`\n[2] ${where} of ADD then DEL, ${options.workers} workers in parallel`);
      const addMs: number[] = [];
      const delMs: number[] = [];
      const samples: { cycles: number; rssKiB: number; fds: number }[] = [{ cycles: 0, ...w.rm.usage() }];
      let done = 0;
      let next = 0;
      const namespaces = podsFor("cycle", options.workers).map((p) => p.netns);
      await Promise.all(
        namespaces.map(async (ns, worker) => {
          while (next < options.cycles) {
            const n = next++;
            const pod: Pod = { name: `p-w${worker}-${n}`, netns: ns, containerId: `c${n}x${worker}` };
            const add = await w.cni("ADD", pod);
            addMs[n] = add.ms;
            if (add.code !== 0) fail(where, `ADD ${n} failed: ${why(add)}`);
            const del = await w.cni("DEL", pod);
            delMs[n] = del.ms;
            if (del.code !== 0) fail(where, `DEL ${n} failed: ${why(del)}`);
            done++;
            if (done % options.sampleEvery === 0) {
              samples.push({ cycles: done, ...w.rm.usage() });
              const s = samples.at(-1)!;
              out(`  ${done} cycles: RM RSS ${(s.rssKiB / 1024).toFixed(1)} MiB, ${s.fds} fds`);
            }
          }
        }),
      );
      await leakCheck(where);
      const win = Math.max(20, Math.floor(options.cycles / 10));
      const first = { add: addMs.slice(0, win), del: delMs.slice(0, win) };
      const last = { add: addMs.slice(-win), del: delMs.slice(-win) };
      out(
        `  ADD median first ${win} ${fmt(median(first.add))} / last ${win} ${fmt(median(last.add))} (p95 ${fmt(percentile(first.add, 95))} / ${fmt(percentile(last.add, 95))})`,
      );
      out(
        `  DEL median first ${win} ${fmt(median(first.del))} / last ${win} ${fmt(median(last.del))} (p95 ${fmt(percentile(first.del, 95))} / ${fmt(percentile(last.del, 95))})`,
      );
      out(
        `  RM samples (cycles: RSS MiB, fds): ${samples.map((s) => `${s.cycles}: ${(s.rssKiB / 1024).toFixed(1)}, ${s.fds}`).join("; ")}`,
      );
      const fdGrowth = samples.at(-1)!.fds - samples[0]!.fds;
      if (fdGrowth > 5) fail(where, `the RM's file descriptors grew by ${fdGrowth}`);
      Object.assign(figures, {
        cycles: options.cycles,
        workers: options.workers,
        cycleAddFirstMs: Math.round(median(first.add)),
        cycleAddLastMs: Math.round(median(last.add)),
        cycleDelFirstMs: Math.round(median(first.del)),
        cycleDelLastMs: Math.round(median(last.del)),
        rmSamples: samples.map((s) => `${s.cycles}:${(s.rssKiB / 1024).toFixed(1)}MiB/${s.fds}fd`).join(" "),
      });
    }

    // 3. The faults.
    out("\n[3] faults");

    /** ADDs of `pods` at once, with `during` run meanwhile; then each pod checked and DELed. */
    const addsWith = async (where: string, pods: Pod[], during: () => Promise<void>) => {
      const ends: number[] = [];
      const adds = Promise.all(
        pods.map((p, i) => w.cni("ADD", p).finally(() => (ends[i] = performance.now()))),
      );
      const duringStarted = performance.now();
      await during();
      const duringEnded = performance.now();
      const runs = await adds;
      const across = ends.filter((t) => t > duringEnded).length;
      const acks: Ack[] = [];
      runs.forEach((run, i) => {
        const pod = pods[i]!;
        if (run.code === 0) acks.push(ackOf(pod));
        else {
          const { records } = w.records();
          const links = Object.keys(w.links(pod.netns));
          if (links.length > 0)
            fail(where, `failed ADD of ${pod.name} (${why(run)}) left ${links.join(", ")}`);
          if (records.some((r) => r.startsWith(`${pod.containerId}:`)))
            fail(where, `failed ADD of ${pod.name} left its record`);
        }
      });
      await verifyAcks(where, acks);
      for (const pod of pods) await delOrFail(where, pod);
      await leakCheck(where);
      return {
        acked: acks.length,
        failed: runs.length - acks.length,
        across,
        outageMs: Math.round(duringEnded - duringStarted),
      };
    };

    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      const where = `RM ${signal === "SIGTERM" ? "stopped" : "killed -9"} and restarted during ADDs`;
      const r = await addsWith(where, podsFor(`rm${signal}`, 10), async () => {
        // The webhook is asked first thing: stop the RM while the first ADDs are asking.
        await sleep(Math.random() * 120);
        await w.rm.stop(signal);
        await sleep(200);
        await w.rm.start();
      });
      out(
        `  ${where}: ${r.acked} acknowledged (all kept), ${r.failed} failed (nothing left); ${r.across} finished after the RM was back (back ${r.outageMs} ms after the ADDs started)`,
      );
    }

    {
      const where = "ADDs with the RM down";
      await w.rm.stop("SIGTERM");
      const pods = podsFor("down", 4);
      const runs = await Promise.all(pods.map((p) => w.cni("ADD", p)));
      await w.rm.start();
      runs.forEach((run, i) => {
        const pod = pods[i]!;
        if (run.code === 0) fail(where, `ADD of ${pod.name} succeeded without the RM`);
        else if (run.json?.code !== 11) fail(where, `ADD of ${pod.name}: expected code 11: ${why(run)}`);
        const links = Object.keys(w.links(pod.netns));
        if (links.length > 0) fail(where, `the failed ADD of ${pod.name} left ${links.join(", ")}`);
      });
      if (w.records().records.length > 0) fail(where, "a failed ADD left its record");
      for (const pod of pods) await delOrFail(where, pod);
      await leakCheck(where);
      out(
        `  ${where}: ${runs.filter((r) => r.json?.code === 11).length} of ${pods.length} failed with 11, nothing left`,
      );
    }

    {
      const where = "plugin killed -9 at random points of ADD";
      const probe = podsFor("probe", 1)[0]!;
      const probeRun = await w.cni("ADD", probe);
      if (probeRun.code !== 0) fail(where, `probe ADD failed: ${why(probeRun)}`);
      await delOrFail(where, probe);
      let killed = 0;
      for (let i = 0; i < options.kills; i++) {
        const pod = podsFor(`kill${i}`, 1)[0]!;
        const run = await w.cni("ADD", pod, Math.random() * probeRun.ms * 1.2);
        if (run.signal === "SIGKILL") killed++;
        else if (run.code === 0) await verifyAcks(where, [ackOf(pod)]);
        await delOrFail(where, pod);
        const links = Object.keys(w.links(pod.netns));
        if (links.length > 0) fail(where, `DEL after the kill left ${links.join(", ")} in ${pod.name}`);
      }
      await leakCheck(where);
      out(`  ${where}: ${killed} of ${options.kills} killed before they finished, DEL left nothing`);
    }

    /** Stops the RM when `rmDown`; after `body`, starts it again and runs the RM's GC. */
    const withRm = async (rmDown: boolean, body: () => Promise<void>) => {
      if (rmDown) await w.rm.stop("SIGTERM");
      try {
        await body();
      } finally {
        if (!w.rm.up) await w.rm.start();
      }
    };

    for (const rmDown of [false, true]) {
      const where = `cache disk full at each record write, RM ${rmDown ? "down for the DEL" : "up"}`;
      // The sizes of both writes, from an ADD with room.
      const probe = podsFor("disk", 1)[0]!;
      const ok = await w.cni("ADD", probe);
      if (ok.code !== 0) fail(where, `probe ADD failed: ${why(ok)}`);
      const attached = readRecordSize(w, probe);
      await delOrFail(where, probe);
      const pages = (b: number) => Math.ceil(b / 4096);
      // `adding` is the attached record less the results: one page fewer at most.
      for (const [write, free] of [
        [1, Math.max(0, pages(attached) - 2)],
        [2, pages(attached) * 2 - 1],
      ] as const) {
        const pod = podsFor(`disk${write}`, 1)[0]!;
        w.fill(free);
        const run = await w.cni("ADD", pod);
        w.unfill();
        if (run.code === 0) fail(where, `ADD with ${free} pages free succeeded: the write did not fail`);
        else if (run.json?.code !== 5) fail(where, `write ${write}: expected code 5: ${why(run)}`);
        const links = Object.keys(w.links(pod.netns));
        if (links.length > 0) fail(where, `write ${write}: the failed ADD left ${links.join(", ")}`);
        if (w.records().records.length > 0) fail(where, `write ${write}: a record was left`);
        await withRm(rmDown, async () => {
          await delOrFail(where, pod);
        });
      }
      if (rmDown) await gc();
      await leakCheck(where);
      out(`  ${where}: both writes failed with code 5, nothing left`);
    }

    const corruptions: [string, string][] = [
      ["truncated JSON", '{"format": 1, "containerId": "c'],
      ["empty file", ""],
      ["not an object", "[1, 2]"],
      ["a newer format", '{"format": 2, "containerId": "c"}'],
      ["no format", '{"containerId": "c"}'],
      [
        "a field of the wrong type",
        '{"format": 1, "containerId": "c", "ifName": "eth0", "netns": 7, "networks": []}',
      ],
    ];
    for (const rmDown of [false, true]) {
      const where = `corrupt records, RM ${rmDown ? "down" : "up"} at the first DEL`;
      let refused = 0;
      for (const [kind, text] of corruptions) {
        const pod = podsFor(`bad${corruptions.findIndex((c) => c[0] === kind)}`, 1)[0]!;
        const add = await w.cni("ADD", pod);
        if (add.code !== 0) {
          fail(where, `ADD failed: ${why(add)}`);
          continue;
        }
        writeFileSync(join(w.cacheDir, `${pod.containerId}:eth0.json`), text);
        await withRm(rmDown, async () => {
          const first = await w.cni("DEL", pod);
          if (rmDown) {
            if (first.code === 0)
              fail(where, `${kind}: DEL said success with the pod attached and the RM down`);
            else refused++;
            if (Object.keys(w.links(pod.netns)).length === 0)
              fail(where, `${kind}: the refused DEL detached something`);
          } else if (first.code !== 0) fail(where, `${kind}: DEL failed with the RM up: ${why(first)}`);
        });
        await delOrFail(where, pod);
        const { setAside } = w.records();
        if (setAside.length !== 1) fail(where, `${kind}: ${setAside.length} records set aside, not 1`);
        for (const f of setAside) rmSync(join(w.cacheDir, f));
      }
      await leakCheck(where);
      out(
        `  ${where}: ${corruptions.length} kinds${rmDown ? `, DEL refused (11) ${refused} times while the RM was down, then detached` : " detached through the webhook"}, each record set aside`,
      );
    }

    {
      const where = "DEL with the RM down (notifications lost), then the RM's GC";
      const pods = podsFor("rmdown", 4);
      for (const p of pods) {
        const run = await w.cni("ADD", p);
        if (run.code !== 0) fail(where, `ADD failed: ${why(run)}`);
      }
      await withRm(true, async () => {
        for (const p of pods) await delOrFail(where, p);
      });
      const held = (await w.held()).length;
      await gc();
      await leakCheck(where);
      out(
        `  ${where}: DEL succeeded from the records, the RM kept ${held} addresses until its GC released them`,
      );
    }

    const end = w.rm.usage();
    figures.rmRssEndMiB = +(end.rssKiB / 1024).toFixed(1);
    figures.rmFdsEnd = end.fds;
  } catch (err) {
    fail("soak", err instanceof Error ? (err.stack ?? err.message) : String(err));
  } finally {
    await w.cleanup();
    const left = w.strayNamespaces().length + w.hostLinksLeft().length;
    if (left > 0) fail("cleanup", `${left} links or namespaces left`);
  }
  out(problems.length === 0 ? "\nsoak: no problem found" : `\nsoak: ${problems.length} problems`);
  return { problems, figures };
}

function readRecordSize(w: World, pod: Pod): number {
  return statSync(join(w.cacheDir, `${pod.containerId}:eth0.json`)).size;
}

function logLines(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const preset = args.includes("--full") ? FULL : SHORT;
  const cyclesAt = args.indexOf("--cycles");
  const cycles = cyclesAt >= 0 ? Number(args[cyclesAt + 1]) : preset.cycles;
  if (!Number.isInteger(cycles) || cycles < 1) throw new Error("--cycles takes a positive integer");
  const started = Date.now();
  const report = await runSoak({ ...preset, cycles, out: (line) => console.log(line) });
  console.log(
    `\nfigures (${Math.round((Date.now() - started) / 1000)} s): ${JSON.stringify(report.figures)}`,
  );
  process.exitCode = report.problems.length === 0 ? 0 : 1;
}
