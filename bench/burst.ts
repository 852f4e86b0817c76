// A node's burst: N pods (110 by default, kubelet's default pod limit) with two networks each, all
// ADDed at once, then all DELeted at once, as after a node reboot or a drain. Side by side in one
// run, alternating:
//   - Go: each pod's two networks by the reference `bridge` + `static`, one after the other, all
//     pods at once (what the Go original and Multus do);
//   - dockin-cni (dist/bin), asked by a webhook on loopback that gives every pod its own addresses;
//   - optionally another build of dockin-cni with its own dockin-ipam (a directory holding both).
// Prints each burst's wall clock (median over the rounds), the median of the per-round ratios to
// the Go burst, and their spread (lowest, quartiles, highest: the machine moves them by several
// percent from round to round). Every ADD and DEL must succeed.
//
// Every timed executable, ours and Go's, is first put in the same page-cache state (read whole, or
// with --page-cache=faulted dropped and faulted back in by a VERSION call; cni-runs.ts).
//
// Usage (root): npm run build && bun bench/burst.ts [--page-cache=read|faulted] [rounds] [pods] [dir of another build]
//   (3 rounds of 110 pods by default)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  benchArgs,
  benchBuilds,
  cniEnv as callEnv,
  removeHostState,
  runPlugin as run,
  settlePageCache,
  timedExecutables,
} from "./cni-runs.ts";
import { median, percentile } from "./stats.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { args, pageCache } = benchArgs();
const rounds = Number(args[0] ?? 3);
const count = Number(args[1] ?? 110);
const otherDir = args[2];
if (count > 250) throw new Error("at most 250 pods: one /24 per network");
const builds = benchBuilds(root, otherDir);

const tag = Math.random().toString(16).slice(2, 8);
const work = mkdtempSync(join(tmpdir(), "dk-bench-burst-"));
const bridges = [`dkbA${tag}`, `dkbB${tag}`];
const namespaces = new Set<string>();
const confDir = join(work, "net.d");
mkdirSync(confDir);
for (const [i, type] of ["a", "b"].entries()) {
  writeFileSync(
    join(confDir, `${type}.json`),
    JSON.stringify({ cniVersion: "1.0.0", name: type, type: "bridge", bridge: bridges[i] }),
  );
}

/** Pod k's addresses: 10.81.0.(k+2) on the master network, 10.82.0.(k+2) on the other. */
const podNetworks = (k: number) => [
  {
    type: "a",
    podIp: `10.81.0.${k + 2}`,
    subnetMask: "24",
    gateway: "10.81.0.1",
    ifName: "eth0",
    master: true,
  },
  { type: "b", podIp: `10.82.0.${k + 2}`, subnetMask: "24", gateway: "10.82.0.1", ifName: "net1" },
];
const server = createServer((req, res) => {
  const name = new URL(req.url ?? "/", "http://x").searchParams.get("podName") ?? "";
  const k = Number(/(\d+)$/.exec(name)?.[1] ?? Number.NaN);
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ code: 0, data: podNetworks(k) }));
});
server.maxConnections = 10_000;
await new Promise<void>((r) => server.listen(0, "127.0.0.1", 511, r));
const port = (server.address() as { port: number }).port;

const mainConfigs = Object.fromEntries(
  Object.entries(builds).map(([name, dir], i) => {
    const bin = join(work, `bin-${i}`);
    mkdirSync(bin);
    symlinkSync("/usr/lib/cni/bridge", join(bin, "bridge"));
    symlinkSync(join(dir, "dockin-ipam"), join(bin, "dockin-ipam"));
    const config = JSON.stringify({
      cniVersion: "1.0.0",
      name: "dockin-cni",
      type: "dockin-cni",
      confDir,
      binDir: bin,
      cacheDir: join(work, `cache-${i}`),
      logFile: join(work, `dockin-cni-${i}.log`),
      logLevel: "info",
      backend: `http://127.0.0.1:${port}/rmController/getPodMultiNetwork`,
    });
    return [name, config];
  }),
);

const goConfig = (k: number, n: 0 | 1) => {
  const net = podNetworks(k)[n]!;
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: net.type,
    type: "bridge",
    bridge: bridges[n],
    ipam: {
      type: "static",
      addresses: [{ address: `${net.podIp}/24`, gateway: net.gateway }],
      ...(n === 0 ? { routes: [{ dst: "0.0.0.0/0", gw: net.gateway }] } : {}),
    },
  });
};

const cniEnv = (command: string, ns: string, cid: string, pod: string, ifName = "eth0") =>
  callEnv(command, { ns, cid, pod, podNamespace: "burst", ifName });

/** One burst: the namespaces made first (not timed), then every pod's ADD at once, then every DEL. */
async function burst(
  label: string,
  add: (k: number, ns: string) => Promise<void>,
  del: (k: number, ns: string) => Promise<void>,
): Promise<{ add: number; del: number }> {
  const pods = Array.from({ length: count }, (_, k) => `dk-bu-${tag}-${label}-${k}`);
  for (const ns of pods) {
    execFileSync("ip", ["netns", "add", ns]);
    namespaces.add(ns);
  }
  const t0 = process.hrtime.bigint();
  await Promise.all(pods.map((ns, k) => add(k, ns)));
  const t1 = process.hrtime.bigint();
  await Promise.all(pods.map((ns, k) => del(k, ns)));
  const t2 = process.hrtime.bigint();
  for (const ns of pods) {
    execFileSync("ip", ["netns", "del", ns]);
    namespaces.delete(ns);
  }
  return { add: Number(t1 - t0) / 1e6, del: Number(t2 - t1) / 1e6 };
}

const goBurst = () =>
  burst(
    "go",
    async (k, ns) => {
      await run("/usr/lib/cni/bridge", cniEnv("ADD", ns, `g${k}`, `pod-${k}`, "eth0"), goConfig(k, 0));
      await run("/usr/lib/cni/bridge", cniEnv("ADD", ns, `g${k}`, `pod-${k}`, "net1"), goConfig(k, 1));
    },
    async (k, ns) => {
      await run("/usr/lib/cni/bridge", cniEnv("DEL", ns, `g${k}`, `pod-${k}`, "net1"), goConfig(k, 1));
      await run("/usr/lib/cni/bridge", cniEnv("DEL", ns, `g${k}`, `pod-${k}`, "eth0"), goConfig(k, 0));
    },
  );
const dockinBurst = (name: string) => {
  const plugin = join(builds[name]!, "dockin-cni");
  const config = mainConfigs[name]!;
  const label = String(Object.keys(builds).indexOf(name));
  return burst(
    label,
    (k, ns) => run(plugin, cniEnv("ADD", ns, `d${label}x${k}`, `pod-${k}`), config),
    (k, ns) => run(plugin, cniEnv("DEL", ns, `d${label}x${k}`, `pod-${k}`), config),
  );
};

const walls: Record<string, { add: number[]; del: number[] }> = { Go: { add: [], del: [] } };
const ratios: Record<string, { add: number[]; del: number[] }> = {};
for (const name of Object.keys(builds)) {
  walls[name] = { add: [], del: [] };
  ratios[name] = { add: [], del: [] };
}
const timedFiles = timedExecutables(builds);
let forgetReadMarks = () => {};
try {
  forgetReadMarks = settlePageCache(timedFiles, pageCache);
  // Brought back in before the first round, by the least call each answers (faulted, its pages come
  // back one fault at a time, as a boot's first pod brings them).
  for (const file of timedFiles) await run(file, { CNI_COMMAND: "VERSION" }, "{}");
  for (let r = 0; r < rounds; r++) {
    const go = await goBurst();
    walls.Go?.add.push(go.add);
    walls.Go?.del.push(go.del);
    for (const name of Object.keys(builds)) {
      const b = await dockinBurst(name);
      walls[name]?.add.push(b.add);
      walls[name]?.del.push(b.del);
      ratios[name]?.add.push(b.add / go.add);
      ratios[name]?.del.push(b.del / go.del);
    }
  }
} finally {
  server.close();
  forgetReadMarks();
  removeHostState(namespaces, bridges);
  rmSync(work, { recursive: true, force: true });
}

const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(
  `burst of ${count} pods x 2 networks, ADD all at once then DEL all at once, ${rounds} rounds (load ${load}; executables ${pageCache} into the page cache); median wall, median of per-round ratios to Go; every call succeeded`,
);
console.log(
  "| burst | ADD wall ms | ADD ratio | ADD ratios: lowest, quartiles, highest | DEL wall ms | DEL ratio |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const [name, w] of Object.entries(walls)) {
  const r = ratios[name];
  const x = (list: number[] | undefined) => (list === undefined ? "" : `${median(list).toFixed(2)}x`);
  const spread = (list: number[] | undefined) =>
    list === undefined ? "" : [0, 25, 75, 100].map((p) => percentile(list, p).toFixed(2)).join(" / ");
  console.log(
    `| ${name} | ${median(w.add).toFixed(0)} | ${x(r?.add)} | ${spread(r?.add)} | ${median(w.del).toFixed(0)} | ${x(r?.del)} |`,
  );
}
