// RunPodSandbox through containerd's CRI, as kubelet calls it, side by side in one run:
//   A. dockin-cni attaching two networks (the RM on SQLite through a policy, the node installed by
//      setup.sh, as test/e2e/cri sets it up),
//   B. the same sandbox on a plain conflist: the reference `bridge` with the Go `static` IPAM,
//      one network, no webhook.
// Each case has a containerd of its own (its own root, state, socket and CNI dirs under a temp
// dir); the rounds alternate A and B. Each round times RunPodSandbox, then StopPodSandbox (CNI
// DEL and the sandbox's stop), then removes the sandbox. Prints medians (and p90) in ms.
//
// Usage (root): npm run build && node bench/cri-sandbox.ts [rounds]   (20 rounds by default)
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

interface Times {
  run: number[];
  stop: number[];
}

async function round(node: CriNode, name: string, times: Times): Promise<void> {
  const config = node.sandboxConfig("bench", name);
  let t = performance.now();
  const sandbox = await node.cri.runPodSandbox(config);
  times.run.push(performance.now() - t);
  t = performance.now();
  await node.cri.stopPodSandbox(sandbox);
  times.stop.push(performance.now() - t);
  await node.cri.removePodSandbox(sandbox);
}

try {
  await dockin.start({ namespace: "bench" });
  await plain.startContainerd();
  await plain.importImages();
  const a: Times = { run: [], stop: [] };
  const b: Times = { run: [], stop: [] };
  // One warm-up round each (images unpacked, caches filled), not counted.
  await round(dockin, "warm", { run: [], stop: [] });
  await round(plain, "warm", { run: [], stop: [] });
  const load = [loadavg()[0] ?? 0];
  for (let i = 0; i < rounds; i++) {
    const order: [CriNode, Times][] =
      i % 2 === 0
        ? [
            [dockin, a],
            [plain, b],
          ]
        : [
            [plain, b],
            [dockin, a],
          ];
    for (const [node, times] of order) await round(node, `pod-${i}`, times);
    load.push(loadavg()[0] ?? 0);
  }
  const row = (label: string, t: Times) =>
    `${label.padEnd(44)} ${median(t.run).toFixed(0).padStart(6)} ${p90(t.run).toFixed(0).padStart(6)} ${median(t.stop).toFixed(0).padStart(8)} ${p90(t.stop).toFixed(0).padStart(6)}`;
  console.log(
    `containerd ${(await dockin.cri.version()).runtime_version}, ${rounds} rounds, load ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)}`,
  );
  console.log(
    `${"case (ms)".padEnd(44)} ${"run".padStart(6)} ${"p90".padStart(6)} ${"stop".padStart(8)} ${"p90".padStart(6)}`,
  );
  console.log(row("A. dockin-cni, two networks (RM, policy)", a));
  console.log(row("B. bridge + static, one network", b));
  console.log(
    `RunPodSandbox: dockin-cni costs ${(median(a.run) - median(b.run)).toFixed(0)} ms more at the median`,
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
