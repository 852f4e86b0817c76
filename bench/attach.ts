// A pod's attach and detach against what a user compares it with, side by side in one run
// (interleaved rounds, the order rotated every round):
//   - Go: the reference `bridge` with the reference `static` IPAM, called directly with the same
//     two networks and addresses, one after the other (what the Go original and Multus do);
//   - dockin-cni (dist/bin) attaching the same two networks, asked by a webhook on loopback;
//   - optionally another build of dockin-cni (e.g. the Node build of an earlier commit), with its
//     own dockin-ipam: pass the directory that holds both;
//   - dockin-ipam ADD against Go `static` ADD, called directly (an IPAM plugin's whole cost), and
//     again with the environment dockin-cni gives the delegate that runs it (IPAM_ENV: the JIT and
//     the allocator's purging off), as bridge runs it inside a pod's attach;
//   - an empty executable compiled by the same Bun (the runtime's start-up: the floor), and one that
//     only reads its stdin and writes it back (the least any IPAM plugin does: its floor).
// Prints the median wall clock, the mean CPU of the process tree (the kernel counts it in 10 ms
// ticks: only a mean over many rounds means anything) and the median of the per-round ratios to
// the Go run of the same round.
//
// Every timed executable, ours and Go's, is first put in the same page-cache state: read whole (as
// an install leaves it; the default) or, with --page-cache=faulted, dropped from the cache, so
// that the first (untimed) round faults it in as the first run after a boot does (cni-runs.ts).
//
// Usage (root): npm run build && bun bench/attach.ts [--page-cache=read|faulted] [rounds] [dir of another build]
//   (30 rounds by default; `bun` is node_modules/@oven/bun-linux-x64/bin/bun)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { JIT_POLICY } from "../scripts/build.ts";
import { IPAM_ENV } from "../src/plugin/delegate.ts";
import {
  benchArgs,
  benchBuilds,
  cniEnv as callEnv,
  removeHostState,
  runPlugin as run,
  settlePageCache,
  timedExecutables,
} from "./cni-runs.ts";
import { bun } from "./rm-common.ts";
import { median } from "./stats.ts";

/** dockin-ipam run as bridge runs it under dockin-cni. */
const IN_CHAIN = "dockin-ipam ADD, IPAM_ENV (as in a pod's chain)";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { args, pageCache } = benchArgs();
const rounds = Number(args[0] ?? 30);
const otherDir = args[1];
const builds = benchBuilds(root, otherDir);

const tag = Math.random().toString(16).slice(2, 8);
const work = mkdtempSync(join(tmpdir(), "dk-bench-attach-"));
const bridges = [`dkbA${tag}`, `dkbB${tag}`];
const namespaces = new Set<string>();

/** A bin dir per build: its own dockin-ipam beside the reference bridge and static. */
function binDirFor(name: string, dir: string): string {
  const bin = join(work, `bin-${Object.keys(builds).indexOf(name)}`);
  mkdirSync(bin);
  symlinkSync("/usr/lib/cni/bridge", join(bin, "bridge"));
  symlinkSync("/usr/lib/cni/static", join(bin, "static"));
  symlinkSync(join(dir, "dockin-ipam"), join(bin, "dockin-ipam"));
  return bin;
}

const confDir = join(work, "net.d");
mkdirSync(confDir);
writeFileSync(
  join(confDir, "a.json"),
  JSON.stringify({ cniVersion: "1.0.0", name: "a", type: "bridge", bridge: bridges[0] }),
);
writeFileSync(
  join(confDir, "b.json"),
  JSON.stringify({ cniVersion: "1.0.0", name: "b", type: "bridge", bridge: bridges[1] }),
);

const networks = [
  { type: "a", podIp: "10.71.0.2", subnetMask: "24", gateway: "10.71.0.1", ifName: "eth0", master: true },
  { type: "b", podIp: "10.72.0.2", subnetMask: "24", gateway: "10.72.0.1", ifName: "net1" },
];
const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ code: 0, data: networks }));
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const port = (server.address() as { port: number }).port;

const mainConfigs = Object.fromEntries(
  Object.entries(builds).map(([name, dir], i) => [
    name,
    JSON.stringify({
      cniVersion: "1.0.0",
      name: "dockin-cni",
      type: "dockin-cni",
      confDir,
      binDir: binDirFor(name, dir),
      cacheDir: join(work, `cache-${i}`),
      logFile: join(work, `dockin-cni-${i}.log`),
      logLevel: "info",
      backend: `http://127.0.0.1:${port}/rmController/getPodMultiNetwork`,
    }),
  ]),
);

/**
 * What dockin-cni hands its delegates for the same pod: the bridge configs with a fixed address.
 * The Go run gives `static` the same, and the master's default route.
 */
const goConfigs = networks.map((n) =>
  JSON.stringify({
    cniVersion: "1.0.0",
    name: n.type,
    type: "bridge",
    bridge: bridges[n.type === "a" ? 0 : 1],
    ipam: {
      type: "static",
      addresses: [{ address: `${n.podIp}/24`, gateway: n.gateway }],
      ...(n.master ? { routes: [{ dst: "0.0.0.0/0", gw: n.gateway }] } : {}),
    },
  }),
);
const ipamConfig = (type: string) =>
  JSON.stringify({
    cniVersion: "1.0.0",
    name: "ipam",
    ipam: { type, addresses: [{ address: "10.73.0.2/24", gateway: "10.73.0.1" }] },
  });

/** CPU time (user + sys, ms) of the children this process has reaped, from /proc/self/stat. */
function childrenCpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100; // cutime + cstime, USER_HZ 100
}

const cniEnv = (command: string, ns: string, cid: string, ifName = "eth0") =>
  callEnv(command, { ns, cid, pod: `web-${cid}`, podNamespace: "bench", ifName });

function netns(name: string): string {
  execFileSync("ip", ["netns", "add", name]);
  namespaces.add(name);
  return name;
}

// The floors: programs compiled by the same Bun, as the build compiles ours (bytecode, ES module,
// the JIT held back, no .env or bunfig.toml read at start): an empty one, and one that echoes its stdin.
function compile(name: string, source: string): string {
  const file = join(work, name);
  writeFileSync(`${file}.ts`, source);
  execFileSync(
    bun,
    [
      "build",
      `${file}.ts`,
      "--compile",
      "--bytecode",
      "--minify",
      "--format=esm",
      `--compile-jit-policy=${JIT_POLICY}`,
      "--no-compile-autoload-dotenv",
      "--no-compile-autoload-bunfig",
      "--outfile",
      file,
    ],
    { stdio: "ignore" },
  );
  return file;
}
const empty = compile("empty", "export {};\n");
// The echo reads stdin as the plugins do (src/cni/stdin.ts: the stream, not Bun.stdin.text(), which
// starts two thread-pool threads), decodes it and writes the text back as dockin-ipam writes its
// answer. (Written back as a Blob of the chunks, as this floor was until session 7, it took 0.8 ms
// more in a run of 150 pairs: that write starts a second thread-pool thread.)
const echo = compile(
  "echo",
  [
    "const reader = Bun.stdin.stream().getReader();",
    "const chunks = [];",
    "for (;;) { const { done, value } = await reader.read(); if (done) break; chunks.push(value); }",
    "const text = new TextDecoder().decode(Bun.concatArrayBuffers(chunks));",
    "await Bun.write(Bun.stdout, text);",
    "",
  ].join("\n"),
);

interface Sample {
  wall: number;
  cpu: number;
}
const samples: Record<string, Sample[]> = {};
const ratios: Record<string, number[]> = {};

async function timed(name: string, go: () => Promise<void>): Promise<Sample> {
  const c0 = childrenCpuMs();
  const t0 = process.hrtime.bigint();
  await go();
  const s = { wall: Number(process.hrtime.bigint() - t0) / 1e6, cpu: childrenCpuMs() - c0 };
  samples[name] = [...(samples[name] ?? []), s];
  return s;
}

let forgetReadMarks = () => {};
try {
  forgetReadMarks = settlePageCache([...timedExecutables(builds), empty, echo], pageCache);
  for (let i = 0; i < rounds + 3; i++) {
    const warm = i < 3;
    const round: Record<string, Sample> = {};
    const ipamNs = netns(`dk-att-${tag}-${i}-ipam`); // the IPAM cases' CNI_NETNS must exist
    const cases: [string, () => Promise<void>][] = [
      ["empty Bun executable (floor)", () => run(empty, {}, "")],
      [
        "Bun executable echoing stdin (IPAM floor)",
        () => run(echo, cniEnv("ADD", ipamNs, `e${i}`), ipamConfig("dockin-ipam")),
      ],
      [
        "Go static ADD (IPAM alone)",
        () => run("/usr/lib/cni/static", cniEnv("ADD", ipamNs, `s${i}`), ipamConfig("static")),
      ],
      [
        "dockin-ipam ADD (IPAM alone)",
        () =>
          run(
            join(builds["dockin-cni"]!, "dockin-ipam"),
            cniEnv("ADD", ipamNs, `i${i}`),
            ipamConfig("dockin-ipam"),
          ),
      ],
      [
        // As bridge runs it under dockin-cni: with what dockin-cni adds to bridge's environment.
        IN_CHAIN,
        () =>
          run(
            join(builds["dockin-cni"]!, "dockin-ipam"),
            { ...cniEnv("ADD", ipamNs, `j${i}`), ...IPAM_ENV },
            ipamConfig("dockin-ipam"),
          ),
      ],
    ];
    const pods: { name: string; ns: string; del: () => Promise<void> }[] = [];
    {
      const ns = netns(`dk-att-${tag}-${i}-go`);
      cases.push([
        "Go: bridge+static, 2 networks in sequence: ADD",
        async () => {
          await run("/usr/lib/cni/bridge", cniEnv("ADD", ns, `g${i}`, "eth0"), goConfigs[0]!);
          await run("/usr/lib/cni/bridge", cniEnv("ADD", ns, `g${i}`, "net1"), goConfigs[1]!);
        },
      ]);
      pods.push({
        name: "Go: bridge+static, 2 networks in sequence: DEL",
        ns,
        del: async () => {
          await run("/usr/lib/cni/bridge", cniEnv("DEL", ns, `g${i}`, "net1"), goConfigs[1]!);
          await run("/usr/lib/cni/bridge", cniEnv("DEL", ns, `g${i}`, "eth0"), goConfigs[0]!);
        },
      });
    }
    for (const [name, dir] of Object.entries(builds)) {
      const ns = netns(`dk-att-${tag}-${i}-${Object.keys(builds).indexOf(name)}`);
      const plugin = join(dir, "dockin-cni");
      const cid = `p${Object.keys(builds).indexOf(name)}x${i}`;
      cases.push([`${name}: 2 networks: ADD`, () => run(plugin, cniEnv("ADD", ns, cid), mainConfigs[name]!)]);
      pods.push({
        name: `${name}: 2 networks: DEL`,
        ns,
        del: () => run(plugin, cniEnv("DEL", ns, cid), mainConfigs[name]!),
      });
    }
    for (let k = 0; k < cases.length; k++) {
      const [name, go] = cases[(i + k) % cases.length]!;
      round[name] = await timed(name, go);
    }
    for (let k = 0; k < pods.length; k++) {
      const pod = pods[(i + k) % pods.length]!;
      round[pod.name] = await timed(pod.name, pod.del);
    }
    for (const ns of namespaces) execFileSync("ip", ["netns", "del", ns]);
    namespaces.clear();
    if (warm) {
      for (const k of Object.keys(samples)) samples[k]!.length = 0;
      continue;
    }
    const ratio = (name: string, ref: string) => {
      ratios[name] = [...(ratios[name] ?? []), round[name]!.wall / round[ref]!.wall];
    };
    for (const name of Object.keys(builds)) {
      ratio(`${name}: 2 networks: ADD`, "Go: bridge+static, 2 networks in sequence: ADD");
      ratio(`${name}: 2 networks: DEL`, "Go: bridge+static, 2 networks in sequence: DEL");
    }
    ratio("dockin-ipam ADD (IPAM alone)", "Go static ADD (IPAM alone)");
    ratio(IN_CHAIN, "Go static ADD (IPAM alone)");
    ratio("Bun executable echoing stdin (IPAM floor)", "Go static ADD (IPAM alone)");
  }
} finally {
  server.close();
  forgetReadMarks();
  removeHostState(namespaces, bridges);
  rmSync(work, { recursive: true, force: true });
}

const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(
  `pod attach and detach, ${rounds} interleaved rounds (load ${load}; executables ${pageCache} into the page cache); median wall, mean CPU; ratio = median of per-round wall ratios to the Go case`,
);
const width = Math.max(...Object.keys(samples).map((k) => k.length));
console.log(`| ${"case".padEnd(width)} | wall ms | cpu ms | ratio |`);
console.log(`| ${"-".repeat(width)} | --- | --- | --- |`);
for (const [name, list] of Object.entries(samples)) {
  const r = ratios[name];
  console.log(
    `| ${name.padEnd(width)} | ${median(list.map((s) => s.wall)).toFixed(1)} | ${(list.reduce((n, s) => n + s.cpu, 0) / list.length).toFixed(1)} | ${r === undefined ? "" : `${median(r).toFixed(2)}x`} |`,
  );
}
