// The soak's world: the built executables in dist/bin called as executables (whatever runtime
// they are built for), a real RM (`dockin rm serve` on SQLite, port 0), real namespaces and the
// real bridge, a tmpfs as the cache dir (so that the disk can be filled). Everything it makes
// carries a random prefix and is removed by cleanup(), on failure too.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
// The plugin tests' shell helpers: the soak runs commands as the tests do.
import { sh, trySh } from "../../test/plugin/harness.ts";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = process.env.DOCKIN_BIN_DIR ?? join(root, "dist", "bin");
export const REFERENCE = "/usr/lib/cni";
const PAGE = 4096;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const rand = (n = 3) => randomBytes(n).toString("hex");

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** The printed JSON, if any. */
  json: Record<string, unknown> | undefined;
}

/**
 * Runs an executable with `stdin`; `killAfterMs` sends SIGKILL to its process group (the plugin
 * and the delegates it started, as a cgroup kill would) after that long.
 */
export function exec(
  file: string,
  env: Record<string, string>,
  stdin: string,
  killAfterMs?: number,
): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(file, [], { env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.stdin.on("error", () => {}); // killed before it read its config
    child.on("error", reject);
    const timer =
      killAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            try {
              process.kill(-child.pid!, "SIGKILL");
            } catch {
              // already gone
            }
          }, killAfterMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString();
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      const ms = performance.now() - started;
      resolvePromise({ code, signal, stdout, stderr: Buffer.concat(err).toString(), ms, json });
    });
    child.stdin.end(stdin);
  });
}

/** `dockin rm serve` on a SQLite file; started on port 0, restarted on the port it got. */
export class Rm {
  proc: ChildProcess | undefined;
  url = "";
  port = 0;
  log = "";

  readonly db: string;

  constructor(db: string) {
    this.db = db;
  }

  async start(): Promise<void> {
    const proc = spawn(
      join(BIN, "dockin"),
      ["rm", "serve", "--listen", `127.0.0.1:${this.port}`, "--store", `sqlite:${this.db}`],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    this.proc = proc;
    this.url = await new Promise<string>((resolvePromise, reject) => {
      let seen = "";
      let found = false;
      const timer = setTimeout(() => fail("the RM did not start within 30 s"), 30_000);
      const fail = (why: string) => {
        clearTimeout(timer);
        reject(new Error(`${why}\n${seen.slice(-2000)}`));
      };
      proc.once("exit", (code) => fail(`the RM exited with status ${code}`));
      proc.stderr!.on("data", (chunk: Buffer) => {
        // Kept short: the RM logs every request; only the end matters when it fails.
        this.log = (this.log + chunk.toString()).slice(-20_000);
        if (found) return;
        seen += chunk.toString();
        const url = /"msg":"listening".*?"url":"([^"]+)"/.exec(seen)?.[1];
        if (url === undefined) return;
        found = true;
        clearTimeout(timer);
        proc.removeAllListeners("exit");
        resolvePromise(url);
      });
    });
    this.port = Number(new URL(this.url).port);
  }

  get up(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill(signal);
    await exited; // the port stays: the plugins' config names it, and start() binds it again
  }

  /** The RM's resident memory (KiB) and open file descriptors, from /proc. */
  usage(): { rssKiB: number; fds: number } {
    const pid = this.proc?.pid;
    if (pid === undefined || !this.up) return { rssKiB: Number.NaN, fds: Number.NaN };
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    return { rssKiB, fds: readdirSync(`/proc/${pid}/fd`).length };
  }

  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}: ${text}`);
    return text === "" ? undefined : JSON.parse(text);
  }
}

export interface NetworkDef {
  name: string;
  bridge: string;
  subnet: string;
  prefixLen: number;
  gateway: string;
  ifName: string;
}

export interface Pod {
  name: string;
  netns: string;
  containerId: string;
}

export interface HeldAddress {
  pod: string;
  network: string;
  address: string;
}

export class World {
  readonly tag = rand();
  readonly prefix = `dks${this.tag}`;
  readonly dir = mkdtempSync(join(tmpdir(), "dk-soak-"));
  readonly binDir = join(this.dir, "bin");
  readonly confDir = join(this.dir, "net.d");
  readonly disk = join(this.dir, "disk");
  readonly cacheDir = join(this.disk, "cache");
  readonly filler = join(this.disk, "filler");
  readonly logFile = join(this.dir, "dockin-cni.log");
  readonly rm = new Rm(join(this.dir, "rm.db"));
  readonly networks: NetworkDef[];
  readonly namespaces: string[] = [];
  private mounted = false;
  private nsCount = 0;

  constructor() {
    this.networks = [
      {
        name: "a",
        bridge: `${this.prefix}a`,
        subnet: "10.213.0.0",
        prefixLen: 22,
        gateway: "10.213.0.1",
        ifName: "eth0",
      },
      {
        name: "b",
        bridge: `${this.prefix}b`,
        subnet: "10.214.0.0",
        prefixLen: 22,
        gateway: "10.214.0.1",
        ifName: "net1",
      },
    ];
  }

  async setup(): Promise<void> {
    for (const f of ["dockin-cni", "dockin-ipam", "dockin"]) {
      if (!existsSync(join(BIN, f))) throw new Error(`${join(BIN, f)} is missing: run \`npm run build\``);
    }
    for (const f of ["bridge", "static"]) {
      if (!existsSync(join(REFERENCE, f))) {
        throw new Error(`${REFERENCE}/${f} is missing: apt-get install containernetworking-plugins`);
      }
    }
    mkdirSync(this.binDir);
    mkdirSync(this.confDir);
    mkdirSync(this.disk);
    symlinkSync(join(REFERENCE, "bridge"), join(this.binDir, "bridge"));
    symlinkSync(join(REFERENCE, "static"), join(this.binDir, "static"));
    symlinkSync(join(BIN, "dockin-ipam"), join(this.binDir, "dockin-ipam"));
    sh("mount", ["-t", "tmpfs", "-o", "size=16m,mode=0700", this.prefix, this.disk]);
    this.mounted = true;
    mkdirSync(this.cacheDir, { mode: 0o700 });
    await this.rm.start();
    for (const net of this.networks) {
      writeFileSync(
        join(this.confDir, `${net.name}.json`),
        JSON.stringify({ cniVersion: "1.0.0", name: net.name, type: "bridge", bridge: net.bridge }),
      );
      await this.rm.request("PUT", `/api/v1/networks/${net.name}`, {
        subnet: `${net.subnet}/${net.prefixLen}`,
        gateway: net.gateway,
      });
    }
    await this.rm.request("PUT", "/api/v1/policies/soak", {
      namespace: "soak",
      podPrefix: "p-",
      sticky: false,
      networks: this.networks.map((n, i) => ({ network: n.name, ifName: n.ifName, master: i === 0 })),
    });
  }

  /** A new pod in a new namespace (kept for reuse by the caller, removed by cleanup). */
  pod(name: string): Pod {
    return { name, netns: this.netns(), containerId: `c${rand(8)}` };
  }

  netns(): string {
    const ns = `${this.prefix}-${this.nsCount++}`;
    sh("ip", ["netns", "add", ns]);
    this.namespaces.push(ns);
    return ns;
  }

  mainConfig(): Record<string, unknown> {
    const backend = `http://127.0.0.1:${this.rm.port}/rmController/getPodMultiNetwork`;
    return {
      cniVersion: "1.1.0",
      name: "dockin-cni",
      type: "dockin-cni",
      confDir: this.confDir,
      binDir: this.binDir,
      cacheDir: this.cacheDir,
      logFile: this.logFile,
      logLevel: "info",
      backend,
      notifyUrl: backend.replace(/getPodMultiNetwork$/, "podDetached"),
    };
  }

  env(command: string, pod: Pod, ifName = "eth0", path = [this.binDir, REFERENCE]): Record<string, string> {
    return {
      PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: command,
      CNI_CONTAINERID: pod.containerId,
      CNI_NETNS: `/var/run/netns/${pod.netns}`,
      CNI_IFNAME: ifName,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=soak;K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}`,
      CNI_PATH: path.join(":"),
    };
  }

  /** dockin-cni, as a runtime calls it. */
  cni(command: "ADD" | "DEL" | "CHECK", pod: Pod, killAfterMs?: number): Promise<Run> {
    return exec(
      join(BIN, "dockin-cni"),
      this.env(command, pod),
      JSON.stringify(this.mainConfig()),
      killAfterMs,
    );
  }

  /** DEL as a runtime does it: retried (up to `tries` times, 200 ms apart) until it succeeds. */
  async del(pod: Pod, tries = 5): Promise<Run> {
    let run = await this.cni("DEL", pod);
    for (let i = 1; i < tries && run.code !== 0; i++) {
      await sleep(200);
      run = await this.cni("DEL", pod);
    }
    return run;
  }

  /** The Go reference: `bridge` with `static` IPAM for one network of a pod, at `address`. */
  reference(command: "ADD" | "DEL", pod: Pod, net: NetworkDef, address: string): Promise<Run> {
    const config = {
      cniVersion: "1.0.0",
      name: net.name,
      type: "bridge",
      bridge: net.bridge,
      ipam: { type: "static", addresses: [{ address, gateway: net.gateway }] },
    };
    return exec(
      join(REFERENCE, "bridge"),
      this.env(command, pod, net.ifName, [REFERENCE]),
      JSON.stringify(config),
    );
  }

  /** Fills the cache disk so that `freePages` pages are left; unfill() undoes it. */
  fill(freePages: number): void {
    writeFileSync(this.filler, "");
    const free = statfsSync(this.disk).bavail;
    writeFileSync(this.filler, Buffer.alloc(Math.max(0, free - freePages) * PAGE));
  }
  unfill(): void {
    rmSync(this.filler, { force: true });
  }

  /** Record files in the cache dir, and records set aside as unreadable. */
  records(): { records: string[]; setAside: string[] } {
    const names = existsSync(this.cacheDir) ? readdirSync(this.cacheDir) : [];
    return {
      records: names.filter((n) => !n.includes(".unreadable-")),
      setAside: names.filter((n) => n.includes(".unreadable-")),
    };
  }

  /** Every address the RM holds for the soak's pods. */
  async held(): Promise<HeldAddress[]> {
    const out: HeldAddress[] = [];
    let after: string | undefined;
    for (;;) {
      const page = (await this.rm.request(
        "GET",
        `/api/v1/pods?namespace=soak&limit=1000${after === undefined ? "" : `&after=${encodeURIComponent(after)}`}`,
      )) as { items: { name: string; networks: { network: string; ip?: string }[] }[]; next?: string };
      for (const pod of page.items) {
        for (const n of pod.networks) {
          if (n.ip !== undefined) out.push({ pod: pod.name, network: n.network, address: n.ip });
        }
      }
      if (page.next === undefined || page.items.length === 0) return out;
      after = page.next;
    }
  }

  /** Interfaces (but lo) of a pod's namespace with their global IPv4 addresses. */
  links(ns: string): Record<string, string[]> {
    const list = JSON.parse(sh("ip", ["-n", ns, "-j", "addr", "show"]) || "[]") as {
      ifname: string;
      addr_info: { local: string; prefixlen: number; scope: string; family: string }[];
    }[];
    const out: Record<string, string[]> = {};
    for (const l of list) {
      if (l.ifname === "lo") continue;
      out[l.ifname] = l.addr_info
        .filter((a) => a.scope === "global" && a.family === "inet")
        .map((a) => `${a.local}/${a.prefixlen}`);
    }
    return out;
  }

  /** Policy rules (not the kernel's three defaults) in a namespace. */
  rules(ns: string): string[] {
    const list = JSON.parse(sh("ip", ["-n", ns, "-j", "rule", "show"]) || "[]") as {
      priority: number;
      src?: string;
      table?: string;
    }[];
    return list
      .filter((r) => ![0, 32766, 32767].includes(r.priority))
      .map((r) => `${r.priority}: from ${r.src ?? "all"} lookup ${r.table ?? "?"}`);
  }

  /** Host links made for this world that are not its bridges (veths on them, strays). */
  hostLinksLeft(): string[] {
    const list = JSON.parse(sh("ip", ["-j", "link", "show"]) || "[]") as {
      ifname: string;
      master?: string;
    }[];
    const bridges = new Set(this.networks.map((n) => n.bridge));
    return list
      .filter(
        (l) =>
          (l.master !== undefined && bridges.has(l.master)) ||
          (l.ifname.startsWith(this.prefix) && !bridges.has(l.ifname)),
      )
      .map((l) => `${l.ifname}${l.master === undefined ? "" : ` (on ${l.master})`}`);
  }

  /** Namespaces named with this world's prefix that it does not know about. */
  strayNamespaces(): string[] {
    const known = new Set(this.namespaces);
    return sh("ip", ["netns", "list"])
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "")
      .filter((n) => n.startsWith(this.prefix) && !known.has(n));
  }

  async cleanup(): Promise<void> {
    await this.rm.stop("SIGTERM").catch(() => {});
    for (const ns of this.namespaces) trySh("ip", ["netns", "del", ns]);
    for (const net of this.networks) trySh("ip", ["link", "del", net.bridge]);
    if (this.mounted && !trySh("umount", [this.disk])) trySh("umount", ["-l", this.disk]);
    this.mounted = false;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
