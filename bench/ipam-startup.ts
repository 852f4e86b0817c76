// dockin-ipam start-up against the pinned `node -e 0`, side by side: interleaved runs, medians.
// The plugin case is a whole ADD with a typical dual-stack config (addresses, routes, dns) and
// containerd's CNI_ARGS, as a runtime runs it; the static plugin is shown for scale.
//
// Usage: npm run build && node bench/ipam-startup.ts [rounds] [other dockin-ipam build...]
// (200 rounds by default; other builds, e.g. of a patched tree, run in the same interleaving)
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./stats.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const node = join(root, "node_modules", ".bin", "node");
const ipam = join(root, "dist", "bin", "dockin-ipam");
const rounds = Number(process.argv[2] ?? 200);

if (!existsSync(ipam)) throw new Error(`${ipam} is missing: run \`npm run build\` first`);

const config = JSON.stringify({
  cniVersion: "1.0.0",
  name: "net1",
  type: "bridge",
  bridge: "cni0",
  ipam: {
    type: "dockin-ipam",
    addresses: [
      { address: "192.168.1.2/24", gateway: "192.168.1.1" },
      { address: "fd00:1::2/64", gateway: "fd00:1::1" },
    ],
    routes: [{ dst: "0.0.0.0/0" }, { dst: "10.0.0.0/8", gw: "192.168.1.254" }, { dst: "::/0" }],
    dns: { nameservers: ["192.168.1.53"], domain: "example.com", search: ["example.com"] },
  },
});
const cniEnv = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "4f1c2d3e",
  CNI_NETNS: "/var/run/netns/bench",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
  CNI_ARGS:
    "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=4f1c2d3e",
};

interface Case {
  name: string;
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}
const cases: Case[] = [
  { name: "node -e 0 (pinned Node 24, reference)", file: node, args: ["-e", "0"], env: {} },
  { name: "dist/bin/dockin-ipam ADD", file: ipam, args: [], env: cniEnv },
];
for (const other of process.argv.slice(3)) {
  cases.push({ name: `${other} ADD`, file: resolve(other), args: [], env: cniEnv });
}
if (existsSync("/usr/lib/cni/static")) {
  cases.push({
    name: "/usr/lib/cni/static ADD (Go, for scale)",
    file: "/usr/lib/cni/static",
    args: [],
    env: cniEnv,
  });
}

function once(c: Case): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(c.file, c.args, { env: c.env, input: config, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${c.name}: exit ${r.status}: ${r.stderr}${r.stdout}`);
  return ms;
}

for (const c of cases) once(c); // warm the page cache
const times = cases.map(() => [] as number[]);
for (let i = 0; i < rounds; i++) {
  cases.forEach((c, k) => {
    times[k]?.push(once(c));
  });
}
const ref = median(times[0]!);
console.log(`dockin-ipam start-up, median of ${rounds} interleaved runs (wall clock of spawn to exit)`);
cases.forEach((c, k) => {
  const m = median(times[k]!);
  console.log(`  ${c.name.padEnd(42)} ${m.toFixed(1).padStart(6)} ms  ${(m / ref).toFixed(2)}x`);
});
