// Kubernetes' own path, end to end: this suite plays kubelet against a real containerd (Debian's
// 1.6, its CRI plugin built in), whose CRI plugin calls the CNI plugins of a node installed by
// `sh setup.sh install` with the arguments a pod carries; the networks come from a real RM
// (`dockin rm serve` on SQLite) through a policy. Sandboxes run the pause image, containers the
// busybox image, both made here from Debian's busybox-static.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { IPAM, nsAddresses, PLUGIN, sh, trySh } from "../../plugin/harness.ts";
import type { CriError, PodSandboxConfig } from "./cri.ts";
import { BUSYBOX, BUSYBOX_IMAGE, INDEX_HTML } from "./images.ts";
import { CriNode, haveContainerd, randomNetworks, waitFor } from "./node.ts";

const haveTools = haveContainerd() && existsSync(BUSYBOX) && existsSync(PLUGIN) && existsSync(IPAM);
const NS = "shop";

interface RmPod {
  containerId?: string;
  networks: {
    network: string;
    ifName: string;
    master?: boolean;
    addresses: { address: string; gateway?: string }[];
  }[];
}

/** The CNI ADDs dockin-cni logged for a sandbox (one JSON line per verb done). */
function adds(node: CriNode, sandboxId: string): number {
  if (!existsSync(node.cniLog)) return 0;
  return readFileSync(node.cniLog, "utf8")
    .split("\n")
    .filter((l) => l.includes('"ADD done"') && l.includes(sandboxId)).length;
}

/** The namespaces containerd's netns helper made (cni-<uuid>), to see none is left by a failure. */
const cniNetns = (): string[] =>
  existsSync("/var/run/netns") ? readdirSync("/var/run/netns").filter((n) => n.startsWith("cni-")) : [];

test("containerd, ctr, busybox-static and the built plugins are here (./dev installs and builds them)", () => {
  assert.ok(
    haveTools,
    "containerd, /usr/bin/busybox or dist/bin missing: apt-get install containerd busybox-static; npm run build",
  );
});

describe("kubelet's path: pods through containerd's CRI get their networks from dockin-cni", {
  skip: !haveTools && "containerd, busybox-static or dist/bin missing: run ./dev setup",
}, () => {
  const id = Math.random().toString(16).slice(2, 8);
  const node = new CriNode({ networks: randomNetworks(id), portmap: true });
  const [biz, sto] = node.networks as [(typeof node.networks)[0], (typeof node.networks)[0]];

  before(async () => {
    await node.start({ namespace: NS });
  });

  after(async () => {
    const leftBefore = node.leftovers();
    await node.cleanup();
    assert.deepEqual(leftBefore, [], "the suite's own stops and removes left these");
    assert.deepEqual(node.shims(), [], "containerd shims left running");
    assert.deepEqual(node.mounts(), [], "mounts left under the temp root");
    assert.ok(!existsSync(node.dir), "the temp root is left");
    // (one another process fills meanwhile is theirs to keep)
    for (const d of node.madeHostDirs)
      assert.ok(!existsSync(d) || readdirSync(d).length > 0, `${d}, made empty by containerd, is left`);
    for (const br of node.bridges) assert.ok(!trySh("ip", ["link", "show", br]), `bridge ${br} left`);
    for (const ns of node.netns) assert.ok(!existsSync(ns), `netns ${ns} left`);
    const cgroups = readdirSync("/sys/fs/cgroup").filter((c) =>
      existsSync(join("/sys/fs/cgroup", c, node.cgroupParent)),
    );
    assert.deepEqual(cgroups, [], "cgroup parent left");
  });

  /** RunPodSandbox, then the pod's netns path (remembered for the sweep). */
  async function run(config: PodSandboxConfig): Promise<{ id: string; netns: string }> {
    const sandbox = await node.cri.runPodSandbox(config);
    return { id: sandbox, netns: await node.netnsOf(sandbox) };
  }

  async function stopAndRemove(sandbox: string): Promise<void> {
    await node.cri.stopPodSandbox(sandbox);
    await node.cri.removePodSandbox(sandbox);
  }

  async function rmPod(name: string): Promise<RmPod | undefined> {
    const r = await node.api("GET", `/api/v1/pods/${NS}/${name}`);
    return r.networks === undefined ? undefined : (r as unknown as RmPod);
  }

  test("containerd (7): the node is the one setup.sh installed, and containerd's CRI uses it", async () => {
    const version = await node.cri.version();
    assert.equal(version.runtime_name, "containerd");
    assert.equal(version.runtime_api_version, "v1");
    // containerd's config names the installed dirs, nothing else; its CRI plugin says so when it starts.
    const log = readFileSync(node.containerdLog, "utf8");
    assert.match(
      log,
      new RegExp(
        `NetworkPluginBinDir:${node.binDir} NetworkPluginConfDir:${node.cniConfDir} NetworkPluginMaxConfNum:1`,
      ),
    );
    assert.deepEqual(readdirSync(node.cniConfDir), ["00-dockin-cni.conflist"]);
    const main = JSON.parse(readFileSync(join(node.cniConfDir, "00-dockin-cni.conflist"), "utf8")) as {
      plugins: Record<string, unknown>[];
    };
    assert.deepEqual(main.plugins[0], {
      type: "dockin-cni",
      capabilities: { portMappings: true, bandwidth: true },
      confDir: node.dockinConfDir,
      binDir: node.binDir,
      cacheDir: node.cacheDir,
      logFile: node.cniLog,
      logLevel: "debug",
      backend: node.webhook,
      notifyUrl: `${node.rmUrl}/rmController/podDetached`,
    });
    // The storage network's config is install's, untouched; the master's is docs/install.md's conflist.
    assert.deepEqual(readdirSync(node.dockinConfDir).sort(), [`${biz.name}.conflist`, `${sto.name}.json`]);
    assert.deepEqual(JSON.parse(readFileSync(join(node.dockinConfDir, `${sto.name}.json`), "utf8")), {
      cniVersion: "1.0.0",
      name: sto.name,
      type: "bridge",
      bridge: `dk-${sto.name}`,
      isGateway: true, // install's default: the gateway on the bridge
      ipMasq: false,
    });
    const master = JSON.parse(readFileSync(join(node.dockinConfDir, `${biz.name}.conflist`), "utf8")) as {
      plugins: Record<string, unknown>[];
    };
    assert.deepEqual(
      master.plugins.map((p) => [p.type, p.bridge]),
      [
        ["bridge", `dk-${biz.name}`],
        ["portmap", undefined],
      ],
      "docs/install.md's conflist with install's bridge, then portmap",
    );
    for (const p of ["dockin-cni", "dockin-ipam"])
      assert.ok(existsSync(join(node.binDir, p)), `${p} installed`);
  });

  test("RunPodSandbox (1): containerd calls dockin-cni with the pod's K8S_* args; the pod gets both networks with the RM's addresses", async () => {
    const config = node.sandboxConfig(NS, "web-0");
    const pod = await run(config);
    try {
      // The RM was asked for shop/web-0 by the sandbox's id, and allocated its addresses.
      const held = await rmPod("web-0");
      assert.ok(held, "the RM holds shop/web-0 (made by the policy on the webhook query)");
      assert.equal(held.containerId, pod.id, "K8S_POD_INFRA_CONTAINER_ID reached the webhook as containerId");
      const [master, other] = held.networks;
      assert.equal(master?.network, biz.name);
      assert.equal(master?.ifName, "eth0");
      assert.equal(other?.network, sto.name);
      const masterAddrs = master.addresses.map((a) => a.address);
      const otherAddrs = other.addresses.map((a) => a.address);
      assert.equal(masterAddrs.length, 2, "dual stack master: an IPv4 and an IPv6 address");
      assert.equal(otherAddrs.length, 1);

      // The attachment record names the pod exactly as containerd's CNI_ARGS did.
      const record = JSON.parse(readFileSync(join(node.cacheDir, `${pod.id}:eth0.json`), "utf8")) as {
        pod: Record<string, string>;
      };
      assert.deepEqual(record.pod, {
        name: "web-0",
        namespace: NS,
        uid: config.metadata.uid,
        infraContainerId: pod.id,
      });

      // In the pod's namespace: eth0 and the second interface with exactly those addresses.
      const ns = basename(pod.netns);
      const addrs = nsAddresses(ns);
      assert.deepEqual(Object.keys(addrs).sort(), ["eth0", other.ifName].sort());
      assert.deepEqual([...(addrs.eth0 ?? [])].sort(), [...masterAddrs].sort());
      assert.deepEqual(addrs[other.ifName], otherAddrs);

      // The default route only on the master; the other network's own table and `from` rule.
      const main = sh("ip", ["-n", ns, "-4", "route", "show", "table", "main"]);
      const defaults = (main.match(/^default .*/gm) ?? []).map((l) => l.trimEnd());
      assert.deepEqual(defaults, [`default via ${biz.gateway} dev eth0`], main);
      const v6 = sh("ip", ["-n", ns, "-6", "route", "show", "table", "main"]);
      assert.match(v6, new RegExp(`^default via ${biz.ipv6?.gateway} dev eth0`, "m"));
      const otherIp = otherAddrs[0]?.split("/")[0] ?? "";
      const rules = sh("ip", ["-n", ns, "-4", "rule"]);
      const table = new RegExp(`from ${otherIp.replaceAll(".", "\\.")} lookup (\\S+)`).exec(rules)?.[1];
      assert.ok(table, `a rule from ${otherIp}:\n${rules}`);
      assert.match(
        sh("ip", ["-n", ns, "-4", "route", "show", "table", table]),
        new RegExp(`^default via ${sto.gateway} dev ${other.ifName}`, "m"),
      );

      // PodSandboxStatus: the master's address as network.ip, the other family in additional_ips.
      const status = await node.cri.podSandboxStatus(pod.id, true);
      assert.equal(status.status.state, "SANDBOX_READY");
      assert.deepEqual(status.status.metadata, { ...config.metadata, attempt: 0 });
      const v4 = masterAddrs.find((a) => !a.includes(":"))?.split("/")[0];
      const v6addr = masterAddrs.find((a) => a.includes(":"))?.split("/")[0];
      assert.equal(status.status.network?.ip, v4);
      assert.deepEqual(status.status.network?.additional_ips, [{ ip: v6addr }]);
      assert.equal(adds(node, pod.id), 1, "one ADD");
      const listed = await node.cri.listPodSandbox({ "io.kubernetes.pod.name": "web-0" });
      assert.deepEqual(
        listed.map((s) => [s.id, s.state]),
        [[pod.id, "SANDBOX_READY"]],
      );
      // The sandbox runs under the suite's own cgroup parent (cgroupfs), removed after the suite.
      assert.ok(
        existsSync(join("/sys/fs/cgroup/pids", node.cgroupParent, pod.id)),
        "the sandbox's cgroup is under the parent",
      );
    } finally {
      await stopAndRemove(pod.id);
    }
  });

  test("StopPodSandbox (2) runs DEL: interfaces, records and the released pod's addresses go; a second Stop and Remove succeed", async () => {
    const pod = await run(node.sandboxConfig(NS, "web-1"));
    const held = await rmPod("web-1");
    assert.ok(held);
    await node.cri.stopPodSandbox(pod.id);
    assert.equal(existsSync(pod.netns), false, "containerd removed the pod's namespace after DEL");
    assert.deepEqual(node.leftovers(), []);
    assert.equal(await rmPod("web-1"), undefined, "the RM released the policy's pod (notifyUrl)");
    const networks = (await node.api("GET", "/api/v1/networks")) as {
      items: { name: string; allocated: number }[];
    };
    for (const n of networks.items) assert.equal(n.allocated, 0, `no address held on ${n.name}`);
    await node.cri.stopPodSandbox(pod.id);
    assert.equal(
      (await node.cri.listPodSandbox({ "io.kubernetes.pod.name": "web-1" }))[0]?.state,
      "SANDBOX_NOTREADY",
    );
    await node.cri.removePodSandbox(pod.id);
    await node.cri.removePodSandbox(pod.id);
    assert.deepEqual(await node.cri.listPodSandbox({ "io.kubernetes.pod.name": "web-1" }), []);
  });

  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    test(`containerd restarted (3, ${signal}) while sandboxes run: no second ADD; Stop and Remove afterwards clean up fully`, async () => {
      const names = [`keep-${signal.toLowerCase()}-0`, `keep-${signal.toLowerCase()}-1`];
      const pods = await Promise.all(names.map((n) => run(node.sandboxConfig(NS, n))));
      const queries = async () => Promise.all(names.map(async (n) => (await rmPod(n))?.containerId));
      const before = await queries();
      await node.stopContainerd(signal);
      assert.ok(node.shims().length > 0, "the sandboxes' shims outlive containerd");
      await node.startContainerd();
      const list = await node.cri.listPodSandbox({ "dockin-test": node.id });
      for (const pod of pods) {
        assert.equal(
          list.find((s) => s.id === pod.id)?.state,
          "SANDBOX_READY",
          `sandbox ${pod.id} is ready after the restart`,
        );
        assert.equal(adds(node, pod.id), 1, "no second ADD after the restart");
        assert.ok(existsSync(pod.netns));
      }
      assert.deepEqual(await queries(), before);
      for (const pod of pods) await stopAndRemove(pod.id);
      assert.deepEqual(node.leftovers(), []);
      for (const n of names) assert.equal(await rmPod(n), undefined);
    });
  }

  test("RM down during RunPodSandbox (4): the CRI error carries dockin-cni's message, nothing is left; once the RM is back the same call succeeds", async (t) => {
    const config = node.sandboxConfig(NS, "web-2");
    const netnsBefore = cniNetns();
    await node.stopRm();
    let refused: CriError | undefined;
    try {
      await node.cri.runPodSandbox(config);
    } catch (err) {
      refused = err as CriError;
    } finally {
      await node.startRm();
    }
    assert.ok(refused, "RunPodSandbox failed");
    // What kubelet logs: `RunPodSandbox from runtime service failed: <this>`.
    assert.match(refused.details, /failed to setup network for sandbox/);
    assert.match(
      refused.details,
      new RegExp(
        `plugin type="dockin-cni" failed \\(add\\): asking the backend about pod ${NS}/web-2: GET http://127\\.0\\.0\\.1:${node.rmPort}/rmController/getPodMultiNetwork failed after \\d+ ms: connect ECONNREFUSED`,
      ),
    );
    t.diagnostic(`kubelet would log: RunPodSandbox from runtime service failed: ${refused.message}`);
    assert.deepEqual(node.leftovers(), []);
    assert.deepEqual(
      cniNetns().filter((n) => !netnsBefore.includes(n)),
      [],
      "no namespace left by the failed sandbox",
    );
    assert.deepEqual(
      await node.cri.listPodSandbox({ "io.kubernetes.pod.name": "web-2" }),
      [],
      "containerd kept no sandbox",
    );
    const pod = await run(config);
    assert.ok((await rmPod("web-2"))?.containerId === pod.id);
    assert.equal(Object.keys(nsAddresses(basename(pod.netns))).length, 2);
    await stopAndRemove(pod.id);
    assert.deepEqual(node.leftovers(), []);
  });

  test("RM refusing a pod (4): no policy for its namespace; the CRI error carries the RM's answer, nothing is left", async (t) => {
    const netnsBefore = cniNetns();
    const refused = await node.cri.runPodSandbox(node.sandboxConfig("elsewhere", "web-0")).then(
      () => assert.fail("RunPodSandbox of a pod no policy matches succeeded"),
      (err: CriError) => err,
    );
    assert.match(
      refused.details,
      /failed to setup network for sandbox "[0-9a-f]{64}": plugin type="dockin-cni" failed \(add\): /,
    );
    assert.match(refused.details, /elsewhere\/web-0/);
    t.diagnostic(`kubelet would log: RunPodSandbox from runtime service failed: ${refused.message}`);
    assert.deepEqual(node.leftovers(), []);
    assert.deepEqual(
      cniNetns().filter((n) => !netnsBefore.includes(n)),
      [],
    );
    assert.deepEqual(await node.cri.listPodSandbox({ "io.kubernetes.pod.name": "web-0" }), []);
  });

  test("20 sandboxes at once (5): all succeed with unique addresses; then all stopped and removed, nothing left", async () => {
    const names = Array.from({ length: 20 }, (_, i) => `batch-${i}`);
    const pods = await Promise.all(names.map((n) => run(node.sandboxConfig(NS, n))));
    try {
      const seen = new Map<string, string>();
      for (const [i, pod] of pods.entries()) {
        const held = await rmPod(names[i] ?? "");
        assert.equal(held?.containerId, pod.id);
        const addrs = nsAddresses(basename(pod.netns));
        const expected = (held?.networks ?? []).flatMap((n) => n.addresses.map((a) => a.address)).sort();
        assert.deepEqual(Object.values(addrs).flat().sort(), expected, `${names[i]} has the RM's addresses`);
        for (const a of expected) {
          assert.equal(seen.get(a), undefined, `${a} given to ${names[i]} and ${seen.get(a)}`);
          seen.set(a, names[i] ?? "");
        }
      }
      assert.equal(seen.size, 20 * 3);
    } finally {
      await Promise.all(pods.map((p) => stopAndRemove(p.id)));
    }
    assert.deepEqual(node.leftovers(), []);
    for (const n of names) assert.equal(await rmPod(n), undefined);
    assert.deepEqual(await node.cri.listPodSandbox({ "dockin-test": node.id }), []);
  });

  test("traffic (6): a busybox httpd behind a CRI hostPort (portmap on the master network) answers HTTP from the host; Stop removes the port's rules", async () => {
    const hostPort = 30_000 + Math.floor(Math.random() * 2_000);
    const config = node.sandboxConfig(NS, "httpd-0", {
      port_mappings: [{ protocol: "TCP", container_port: 80, host_port: hostPort }],
    });
    const pod = await run(config);
    let container: string | undefined;
    try {
      container = await node.cri.createContainer(
        pod.id,
        {
          metadata: { name: "httpd" },
          image: { image: BUSYBOX_IMAGE },
          command: ["/bin/httpd", "-f", "-p", "80", "-h", "/www"],
        },
        config,
      );
      await node.cri.startContainer(container);
      const body = await waitFor(`HTTP on 127.0.0.1:${hostPort}`, async () => {
        const res = await fetch(`http://127.0.0.1:${hostPort}/index.html`, {
          signal: AbortSignal.timeout(2_000),
        });
        return res.text();
      });
      assert.equal(body, INDEX_HTML);
      const ip = (await node.cri.podSandboxStatus(pod.id)).status.network?.ip ?? "";
      assert.match(
        sh("iptables", ["-w", "-t", "nat", "-S"]),
        new RegExp(`--dport ${hostPort} .*-j DNAT --to-destination ${ip.replaceAll(".", "\\.")}:80`),
      );
      await node.cri.stopContainer(container, 0);
      await node.cri.removeContainer(container);
      container = undefined;
      await node.cri.stopPodSandbox(pod.id);
      assert.doesNotMatch(
        sh("iptables", ["-w", "-t", "nat", "-S"]),
        new RegExp(`--dport ${hostPort} `),
        "portmap's rules left",
      );
    } finally {
      if (container !== undefined) await node.cri.removeContainer(container).catch(() => undefined);
      await stopAndRemove(pod.id);
    }
    assert.deepEqual(node.leftovers(), []);
  });
});
