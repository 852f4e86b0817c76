// A Kubernetes node as the CRI suite plays it: an RM (`dockin rm serve` on SQLite) holding the
// networks and a policy, the CNI dirs installed by `sh setup.sh install` (the README's node), and
// a containerd of its own (config, root, state, socket under a temp dir; never the system's)
// whose CRI plugin uses those dirs. Everything made here is undone by cleanup(), which also
// sweeps what a failed test may leave (sandboxes, shims, mounts, namespaces, bridges, cgroups).
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { rand, root, sh, trySh } from "../../plugin/harness.ts";
import { type RmProcess, startRmProcess } from "../../rm/helpers.ts";
import { CriClient, type PodSandboxConfig } from "./cri.ts";
import { BUSYBOX_IMAGE, buildImageArchive, PAUSE_IMAGE } from "./images.ts";

export const REFERENCE = "/usr/lib/cni";
/** The reference plugins a node's bin dir holds (containerd runs `loopback` itself for `lo`). */
const NODE_PLUGINS = ["bridge", "portmap", "loopback", "host-local", "static"];

export const haveContainerd = (): boolean => existsSync("/usr/bin/containerd") && existsSync("/usr/bin/ctr");

export interface NetworkDef {
  /** The webhook type, the network config's name and the RM network's name. */
  name: string;
  subnet: string;
  gateway: string;
  ipv6?: { subnet: string; gateway: string };
}

export interface NodeOptions {
  /** The networks and the order of the policy's attachments: the first is the master. */
  networks: NetworkDef[];
  /** The master's config made a conflist chaining portmap, as docs/install.md tells for hostPorts. */
  portmap: boolean;
  /**
   * Instead of an installed node, containerd reads this one conflist (written to `<dir>/plain.d`)
   * with the plugins of `binDir`: the bench's plain-bridge baseline.
   */
  plainCni?: { binDir: string; conflist: Record<string, unknown> };
}

/** Random private /24s (and a /64) for one run, so that runs on this machine do not collide. */
export function randomNetworks(id: string): NetworkDef[] {
  const a = 100 + Math.floor(Math.random() * 100);
  const b = Math.floor(Math.random() * 250);
  const v6 = Math.floor(Math.random() * 0xffff).toString(16);
  return [
    {
      name: `biz${id}`,
      subnet: `10.${a}.${b}.0/24`,
      gateway: `10.${a}.${b}.1`,
      ipv6: { subnet: `fd42:${v6}:1::/64`, gateway: `fd42:${v6}:1::1` },
    },
    { name: `sto${id}`, subnet: `10.${a}.${b + 1}.0/24`, gateway: `10.${a}.${b + 1}.1` },
  ];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await sleep(100);
  }
}

export class CriNode {
  readonly id = rand(3);
  readonly dir = mkdtempSync(join(tmpdir(), "dk-cri-"));
  readonly cniConfDir = join(this.dir, "etc", "cni", "net.d");
  readonly binDir = join(this.dir, "opt", "cni", "bin");
  readonly dockinConfDir = join(this.dir, "etc", "cni", "dockin", "net.d");
  readonly cacheDir = join(this.dir, "var", "lib", "cni", "dockin");
  readonly cniLog = join(this.dir, "var", "log", "dockin-cni.log");
  readonly socket = join(this.dir, "run", "containerd.sock");
  readonly containerdLog = join(this.dir, "containerd.log");
  readonly cgroupParent: string;
  readonly networks: NetworkDef[];
  readonly options: NodeOptions;
  rm: RmProcess | undefined;
  rmPort = 0;
  cri!: CriClient;
  containerd: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  /** Network namespaces containerd made for our sandboxes (swept if a test fails). */
  readonly netns = new Set<string>();
  /**
   * Host dirs containerd 1.6 makes whatever its config says: /run/containerd/s for the shims'
   * sockets, and libcni's result cache /var/lib/cni/results. Those that were not there before are
   * removed after, when empty (deepest first).
   */
  readonly madeHostDirs = [
    "/run/containerd/s",
    "/run/containerd",
    "/var/lib/cni/results",
    "/var/lib/cni",
  ].filter((d) => !existsSync(d));

  constructor(options: NodeOptions) {
    this.options = options;
    this.networks = options.networks;
    this.cgroupParent = `/dockin-cri-${this.id}`;
  }

  get bridges(): string[] {
    return this.networks.map((n) => `dk-${n.name}`);
  }

  get webhook(): string {
    return `http://127.0.0.1:${this.rmPort}/rmController/getPodMultiNetwork`;
  }

  get rmUrl(): string {
    return `http://127.0.0.1:${this.rmPort}`;
  }

  /** RM, networks, policy; the installed node; containerd; the images. */
  async start(policy: { namespace: string }): Promise<void> {
    await this.startRm();
    for (const n of this.networks) {
      const { name, ...body } = n;
      await this.api("PUT", `/api/v1/networks/${name}`, body);
    }
    await this.api("PUT", "/api/v1/policies/pods", {
      namespace: policy.namespace,
      networks: this.networks.map((n, i) =>
        i === 0 ? { network: n.name, master: true } : { network: n.name },
      ),
    });
    this.install();
    await this.startContainerd();
    await this.importImages();
  }

  async startRm(): Promise<void> {
    const listen = this.rmPort === 0 ? [] : ["--listen", `127.0.0.1:${this.rmPort}`];
    // startRmProcess listens on 127.0.0.1:0 unless told a port (the later --listen wins).
    this.rm = await startRmProcess(["--store", `sqlite:${join(this.dir, "rm.db")}`, ...listen]);
    this.rmPort = Number(new URL(this.rm.url).port);
  }

  async stopRm(): Promise<void> {
    await this.rm?.stop();
    this.rm = undefined;
  }

  async api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.rmUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status >= 400 && !(method === "GET" && res.status === 404))
      throw new Error(`RM ${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  }

  /**
   * The node as the README installs it: `sh setup.sh install <webhook> <types>` with the seed's
   * directory variables pointing into the temp root, the cache and log under it too. The plugins
   * installed are this build's dist/bin/dockin, the executable that ships. The bin dir gets the
   * reference plugins,
   * as a node's /opt/cni/bin has them. For hostPorts the master's network config becomes the
   * conflist docs/install.md shows (install's own bridge, isGateway, portmap chained).
   */
  install(): void {
    mkdirSync(this.binDir, { recursive: true });
    for (const p of NODE_PLUGINS) symlinkSync(join(REFERENCE, p), join(this.binDir, p));
    const types = this.networks.map((n) => n.name).join(",");
    const r = spawnSync(
      "sh",
      [
        join(root, "setup.sh"),
        "install",
        this.webhook,
        types,
        "--cache-dir",
        this.cacheDir,
        "--log-file",
        this.cniLog,
        "--log-level",
        "debug",
      ],
      {
        encoding: "utf8",
        env: {
          PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
          CNI_CONF_PATH: this.cniConfDir,
          BIN_DIR: this.binDir,
          DOCKIN_CONF_DIR: this.dockinConfDir,
          NOTIFY_URL: `${this.rmUrl}/rmController/podDetached`,
          DOCKIN_LINK_DIR: "", // no link in the host's /usr/local/bin
        },
      },
    );
    if (r.status !== 0) throw new Error(`setup.sh install failed (${r.status}): ${r.stderr}${r.stdout}`);
    if (this.options.portmap) this.chainPortmap();
  }

  /**
   * The hostPort edit docs/install.md tells an operator to make: the master network's config
   * replaced by the `.conflist` shown there (bridge, then portmap), taken from the doc itself,
   * with the network's name and the bridge install chose for it.
   */
  chainPortmap(): void {
    const master = this.networks[0]!.name;
    const installed = join(this.dockinConfDir, `${master}.json`);
    const { bridge } = JSON.parse(readFileSync(installed, "utf8")) as { bridge: string };
    const doc = readFileSync(join(root, "docs", "install.md"), "utf8");
    const block = [...doc.matchAll(/```json\n([\s\S]*?)```/g)]
      .map((m) => m[1] ?? "")
      .find((b) => b.includes('"portmap"'));
    if (block === undefined) throw new Error("docs/install.md no longer shows the portmap conflist");
    const conflist = JSON.parse(block.replace(/^ {3}/gm, "")) as {
      name: string;
      plugins: Record<string, unknown>[];
    };
    conflist.name = master;
    const first = conflist.plugins[0];
    if (first?.type !== "bridge")
      throw new Error("docs/install.md's portmap conflist does not start with bridge");
    first.bridge = bridge;
    writeFileSync(join(this.dockinConfDir, `${master}.conflist`), JSON.stringify(conflist));
    rmSync(installed);
  }

  containerdConfig(): string {
    const d = join(this.dir, "containerd");
    const cri = '[plugins."io.containerd.grpc.v1.cri"]';
    let cni = { confDir: this.cniConfDir, binDir: this.binDir };
    if (this.options.plainCni !== undefined) {
      cni = { confDir: join(this.dir, "plain.d"), binDir: this.options.plainCni.binDir };
      mkdirSync(cni.confDir, { recursive: true });
      writeFileSync(join(cni.confDir, "10-plain.conflist"), JSON.stringify(this.options.plainCni.conflist));
    }
    return [
      "version = 2",
      `root = "${d}/root"`,
      `state = "${d}/state"`,
      // Plugins that would touch the host's own paths or that this suite does not use.
      'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
      "[grpc]",
      `  address = "${this.socket}"`,
      "[ttrpc]",
      `  address = "${this.socket}.ttrpc"`,
      // The legacy v1 runtime is needed by the tasks service; its runc root goes here too.
      '[plugins."io.containerd.runtime.v1.linux"]',
      `  runtime_root = "${d}/runc-v1"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${d}/opt"`,
      cri,
      `  sandbox_image = "${PAUSE_IMAGE}"`,
      // root may not lower OOM scores on these VMs: without this runc fails every sandbox.
      "  restrict_oom_score_adj = true",
      "  disable_apparmor = true",
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      `${cri.slice(0, -1)}.containerd]`,
      '  snapshotter = "overlayfs"',
      '  default_runtime_name = "runc"',
      `${cri.slice(0, -1)}.containerd.runtimes.runc]`,
      '  runtime_type = "io.containerd.runc.v2"',
      `${cri.slice(0, -1)}.containerd.runtimes.runc.options]`,
      // systemd is not PID 1 here: cgroupfs, under the suite's own cgroup parent.
      "  SystemdCgroup = false",
      `  Root = "${d}/runc"`,
      `${cri.slice(0, -1)}.cni]`,
      `  bin_dir = "${cni.binDir}"`,
      `  conf_dir = "${cni.confDir}"`,
      "  max_conf_num = 1",
      "",
    ].join("\n");
  }

  async startContainerd(): Promise<void> {
    mkdirSync(join(this.dir, "run"), { recursive: true });
    const conf = join(this.dir, "containerd.toml");
    writeFileSync(conf, this.containerdConfig());
    const log = openSync(this.containerdLog, "a");
    const child = spawn("containerd", ["--config", conf, "--log-level", "info"], {
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    this.containerd = child;
    this.#exited = new Promise((r) => child.once("exit", () => r()));
    this.cri?.close();
    this.cri = new CriClient(this.socket);
    await waitFor("containerd's CRI to answer Version", async () => {
      if (child.exitCode !== null)
        throw new Error(`containerd exited ${child.exitCode}: ${this.tail(this.containerdLog)}`);
      return this.cri.version();
    });
  }

  /** Stops containerd (its shims, and so the sandboxes, keep running) and waits for it to exit. */
  async stopContainerd(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.containerd;
    if (child === undefined) return;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await this.#exited;
    this.containerd = undefined;
  }

  tail(file: string, lines = 30): string {
    try {
      return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  async importImages(): Promise<void> {
    const archive = buildImageArchive(join(this.dir, "images"));
    execFileSync("ctr", ["--address", this.socket, "-n", "k8s.io", "images", "import", archive], {
      stdio: "pipe",
    });
    // The CRI plugin learns of imported images from containerd's events, a moment later.
    for (const image of [PAUSE_IMAGE, BUSYBOX_IMAGE])
      await waitFor(`the CRI plugin to see ${image}`, () => this.cri.imageId(image));
  }

  /** A sandbox config as kubelet makes it, under the suite's cgroup parent. */
  sandboxConfig(namespace: string, name: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
    return {
      metadata: { name, namespace, uid: `uid-${this.id}-${namespace}-${name}`, attempt: 0 },
      hostname: name,
      labels: { "dockin-test": this.id, "io.kubernetes.pod.name": name },
      linux: { cgroup_parent: this.cgroupParent },
      ...extra,
    };
  }

  /** The netns path containerd made for a sandbox (from the verbose status), remembered for the sweep. */
  async netnsOf(sandboxId: string): Promise<string> {
    const status = await this.cri.podSandboxStatus(sandboxId, true);
    const info = JSON.parse(status.info.info ?? "{}") as {
      runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } };
    };
    const path = info.runtimeSpec?.linux?.namespaces?.find((n) => n.type === "network")?.path;
    if (path === undefined)
      throw new Error(`sandbox ${sandboxId} has no network namespace path: ${status.info.info}`);
    this.netns.add(path);
    return path;
  }

  /** Stops and removes every sandbox of this node (its containers go with it). */
  async removeAllSandboxes(): Promise<void> {
    const list = await this.cri.listPodSandbox();
    await Promise.all(
      list.map(async (s) => {
        await this.cri.stopPodSandbox(s.id);
        await this.cri.removePodSandbox(s.id);
      }),
    );
  }

  /** Veths on our bridges, attachment records, our netns paths still there. */
  leftovers(): string[] {
    const found: string[] = [];
    for (const br of this.bridges) {
      if (!trySh("ip", ["link", "show", br])) continue;
      const ports = sh("ip", ["-o", "link", "show", "master", br]).trim();
      if (ports) found.push(`ports on ${br}: ${ports}`);
    }
    if (existsSync(this.cacheDir)) for (const f of readdirSync(this.cacheDir)) found.push(`record ${f}`);
    for (const ns of this.netns) if (existsSync(ns)) found.push(`netns ${ns}`);
    return found;
  }

  /** Pids of containerd-shim processes serving our containerd (found by its socket). */
  shims(): number[] {
    const pids: number[] = [];
    for (const p of readdirSync("/proc")) {
      if (!/^\d+$/.test(p)) continue;
      try {
        const argv = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
        if (argv[0]?.includes("containerd-shim") && argv.includes(this.socket)) pids.push(Number(p));
      } catch {
        // gone
      }
    }
    return pids;
  }

  /** Mount points under the temp root, deepest first. */
  mounts(): string[] {
    const points = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[4] ?? "")
      .filter((m) => m.startsWith(`${this.dir}/`));
    return [...new Set(points)].sort((a, b) => b.length - a.length);
  }

  async cleanup(): Promise<void> {
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        problems.push(`${what}: ${String(err)}`);
      }
    };
    if (this.containerd !== undefined) {
      // The RM is needed by nothing here (DEL works from the records), but the release is nicer.
      await attempt("remove sandboxes", () => this.removeAllSandboxes());
      await attempt("stop containerd", () => this.stopContainerd());
    }
    this.cri?.close();
    for (const pid of this.shims()) await attempt(`kill shim ${pid}`, () => process.kill(pid, "SIGKILL"));
    await waitFor("our shims to exit", () => (this.shims().length === 0 ? true : undefined), 10_000).catch(
      () => undefined,
    );
    for (const m of this.mounts()) {
      if (spawnSync("umount", [m]).status !== 0) spawnSync("umount", ["-l", m]);
    }
    for (const ns of this.netns)
      if (existsSync(ns)) await attempt(`netns ${ns}`, () => sh("ip", ["netns", "del", basename(ns)]));
    for (const br of this.bridges) trySh("ip", ["link", "del", br]);
    this.removeCgroups();
    for (const d of this.madeHostDirs) spawnSync("rmdir", [d], { stdio: "ignore" });
    await this.stopRm();
    rmSync(this.dir, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(`cleanup: ${problems.join("; ")}`);
  }

  removeCgroups(): void {
    const base = "/sys/fs/cgroup";
    const name = this.cgroupParent.slice(1);
    for (const c of readdirSync(base)) {
      const dir = join(base, c, name);
      if (!existsSync(dir)) continue;
      // runc removes each sandbox's cgroup; a failed test may leave some: children first.
      for (const child of readdirSync(dir, { withFileTypes: true }))
        if (child.isDirectory()) spawnSync("rmdir", [join(dir, child.name)]);
      spawnSync("rmdir", [dir]);
    }
  }
}
