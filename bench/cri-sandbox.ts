// RunPodSandbox through containerd's CRI, as kubelet calls it, side by side in one run:
//   A. dockin-cni attaching two networks (the RM on SQLite through a policy, the node installed by
//      setup.sh, as test/e2e/cri sets it up),
//   A1. the same node with a one-network policy (like for like with B),
//   B. the same sandbox on a plain conflist: the reference `bridge` with the Go `static` IPAM,
//      one network, no webhook.
// A and A1 run on one containerd (the installed node), B on another (each with its own root,
// state, socket and CNI dirs under a temp dir); the rounds rotate the three cases. Each round times RunPodSandbox, then StopPodSandbox (CNI
// DEL and the sandbox's stop), then removes the sandbox. Prints medians (and p90) in ms.
//
// Usage (root): npm run build && bun bench/cri-sandbox.ts [rounds]   (20 rounds by default)
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { CriNode, randomNetworks } from "../test/e2e/cri/node.ts";
import { median } from "./stats.ts";

const rounds = Number(process.argv[2] ?? 20);
const id = Math.random().toString(16).slice(2, 8);
const nets = randomNetworks(id).map(({ ipv6: _, ...ipv4 }) => ipv4);
const plainBridge = `dkpl${id}`;
const plainNet = `10.${90 + Math.floor(Math.random() * 9)}.${Math.floor(Math.random() * 250)}`;

const dockin = new CriNode({ networks: nets, portmap: false });
const plain = new CriNode({
  networks: [],
  portmap: false,
  plainCni: {
    binDir: "/usr/lib/cni",
    conflist: {
      cniVersion: "1.0.0",
      name: "plain",
      plugins: [
        {
          type: "bridge",
          bridge: plainBridge,
          isGateway: true,
          ipam: {
            type: "static",
            addresses: [{ address: `${plainNet}.2/24`, gateway: `${plainNet}.1` }],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
      ],
    },
  },
});

const p90 = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))] ?? 0;

interface Case {
  label: string;
  node: CriNode;
  /** The pod's namespace: the policy that gives it its networks (A, A1). */
  namespace: string;
  run: number[];
  stop: number[];
}

async function round(c: Case, name: string, record = true): Promise<void> {
  const config = c.node.sandboxConfig(c.namespace, name);
  let t = performance.now();
  const sandbox = await c.node.cri.runPodSandbox(config);
  const run = performance.now() - t;
  t = performance.now();
  await c.node.cri.stopPodSandbox(sandbox);
  const stop = performance.now() - t;
  await c.node.cri.removePodSandbox(sandbox);
  if (record) {
    c.run.push(run);
    c.stop.push(stop);
  }
}

try {
  await dockin.start({ namespace: "bench" });
  // A second policy on the same RM and node: one network only, for a like-for-like row against B.
  await dockin.api("PUT", "/api/v1/policies/one", {
    namespace: "bench1",
    networks: [{ network: nets[0]?.name, master: true }],
  });
  await plain.startContainerd();
  await plain.importImages();
  const cases: Case[] = [
    {
      label: "A. dockin-cni, two networks (RM, policy)",
      node: dockin,
      namespace: "bench",
      run: [],
      stop: [],
    },
    {
      label: "A1. dockin-cni, one network (RM, policy)",
      node: dockin,
      namespace: "bench1",
      run: [],
      stop: [],
    },
    { label: "B. bridge + static, one network", node: plain, namespace: "bench", run: [], stop: [] },
  ];
  // One warm-up round each (images unpacked, caches filled), not counted.
  for (const c of cases) await round(c, "warm", false);
  const load = [loadavg()[0] ?? 0];
  for (let i = 0; i < rounds; i++) {
    // Rotated, so that every case follows every other equally often.
    for (let k = 0; k < cases.length; k++) await round(cases[(i + k) % cases.length] as Case, `pod-${i}`);
    load.push(loadavg()[0] ?? 0);
  }
  const cell = (xs: number[], w: number) => median(xs).toFixed(0).padStart(w);
  const tail = (xs: number[]) => p90(xs).toFixed(0).padStart(6);
  console.log(
    `containerd ${(await dockin.cri.version()).runtime_version}, ${rounds} rounds, load ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)}`,
  );
  console.log(
    `${"case (ms)".padEnd(44)} ${"run".padStart(6)} ${"p90".padStart(6)} ${"stop".padStart(8)} ${"p90".padStart(6)}`,
  );
  for (const c of cases)
    console.log(`${c.label.padEnd(44)} ${cell(c.run, 6)} ${tail(c.run)} ${cell(c.stop, 8)} ${tail(c.stop)}`);
  const [a, a1, b] = cases.map((c) => median(c.run)) as [number, number, number];
  console.log(
    `RunPodSandbox medians: two networks cost ${(a - b).toFixed(0)} ms more than the plain bridge, one network ${(a1 - b).toFixed(0)} ms more`,
  );
} finally {
  await dockin.cleanup();
  await plain.cleanup();
  try {
    execFileSync("ip", ["link", "del", plainBridge], { stdio: "ignore" });
  } catch {
    // never made
  }
}
