// A real etcd cluster for tests and benchmarks: N members of Debian's /usr/bin/etcd on free
// loopback ports, data in a temp dir, timeouts tuned for loopback so it elects a leader in well
// under a second. `stop()` kills every member and removes the data; so does the process exiting.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ETCD = process.env.DOCKIN_ETCD ?? "/usr/bin/etcd";

export interface Member {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logFile: string;
  process: ChildProcess | undefined;
}

export interface ClusterOptions {
  size?: number;
  /** Heartbeat and election timeout (ms); loopback needs little. */
  heartbeatMs?: number;
  electionMs?: number;
  /** Where the data dirs go (default: a new temp dir). */
  dir?: string;
  /** Extra etcd flags for every member (e.g. TLS). */
  extraArgs?: (member: Member) => string[];
  /** Client URL scheme (https when extraArgs sets up TLS). */
  scheme?: "http" | "https";
}

/** Free loopback ports, all different (held open together, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import("node:net").Server>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import("node:net").AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const live = new Set<EtcdCluster>();
process.on("exit", () => {
  for (const c of live) c.stopSync();
});

export class EtcdCluster {
  readonly dir: string;
  readonly members: Member[];
  private readonly options: ClusterOptions;
  private readonly ownDir: boolean;

  private constructor(dir: string, ownDir: boolean, members: Member[], options: ClusterOptions) {
    this.dir = dir;
    this.ownDir = ownDir;
    this.members = members;
    this.options = options;
  }

  /** Starts every member and waits until the cluster has a leader and every member answers. */
  static async start(options: ClusterOptions = {}): Promise<EtcdCluster> {
    if (!existsSync(ETCD)) throw new Error(`${ETCD} not found: install Debian's etcd-server (./dev setup)`);
    const size = options.size ?? 3;
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const ownDir = options.dir === undefined;
      const dir = options.dir ?? mkdtempSync(join(tmpdir(), "dockin-etcd-"));
      mkdirSync(dir, { recursive: true });
      const ports = await freePorts(size * 2);
      const scheme = options.scheme ?? "http";
      const members: Member[] = Array.from({ length: size }, (_, i) => ({
        name: `m${i}`,
        clientUrl: `${scheme}://127.0.0.1:${ports[2 * i]}`,
        peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
        dataDir: join(dir, `m${i}.etcd`),
        logFile: join(dir, `m${i}.log`),
        process: undefined,
      }));
      const cluster = new EtcdCluster(dir, ownDir, members, options);
      live.add(cluster);
      try {
        for (let i = 0; i < size; i++) cluster.spawn(i);
        await cluster.waitHealthy(15_000);
        return cluster;
      } catch (err) {
        lastError = err;
        await cluster.stop();
        for (const m of members) rmSync(m.dataDir, { recursive: true, force: true });
      }
    }
    throw lastError;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** `etcd:URL,URL,…` for `--store`. */
  get storeSpec(): string {
    return `etcd:${this.endpoints.join(",")}`;
  }

  private spawn(i: number): void {
    const m = this.members[i];
    if (m === undefined) throw new Error(`no member ${i}`);
    const initial = this.members.map((x) => `${x.name}=${x.peerUrl}`).join(",");
    const log = openSync(m.logFile, "a");
    const args = [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${initial}`,
      "--initial-cluster-state=new",
      `--initial-cluster-token=dockin-${this.dir.slice(-6)}`,
      `--heartbeat-interval=${this.options.heartbeatMs ?? 25}`,
      `--election-timeout=${this.options.electionMs ?? 250}`,
      "--logger=zap",
      "--log-level=warn",
      ...(this.options.extraArgs?.(m) ?? []),
    ];
    const child = spawn(ETCD, args, { stdio: ["ignore", log, log] });
    closeSync(log);
    m.process = child;
    child.once("exit", () => {
      if (m.process === child) m.process = undefined;
    });
  }

  /** Waits until every running member reports healthy (it has a leader and answers). */
  async waitHealthy(timeoutMs = 15_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    const running = this.members.filter((m) => m.process !== undefined);
    for (const m of running) {
      for (;;) {
        if (m.process === undefined) throw new Error(`etcd member ${m.name} exited:\n${this.logTail(m)}`);
        if (await healthy(m)) break;
        if (Date.now() > end)
          throw new Error(`etcd member ${m.name} not healthy in time:\n${this.logTail(m)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  logTail(m: Member): string {
    try {
      return readFileSync(m.logFile, "utf8").split("\n").slice(-15).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** Kills member `i` (SIGKILL by default) and waits for it to be gone. */
  async kill(i: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.members[i]?.process;
    if (child === undefined) return;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await gone;
  }

  /** Starts member `i` again on its data and ports, and waits for the cluster to be healthy. */
  async restart(i: number): Promise<void> {
    if (this.members[i]?.process !== undefined) return;
    this.spawn(i);
    await this.waitHealthy();
  }

  stopSync(): void {
    for (const m of this.members) {
      if (m.process?.pid !== undefined) {
        try {
          process.kill(m.process.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((_, i) => this.kill(i)));
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }
}

async function healthy(m: Member): Promise<boolean> {
  if (m.clientUrl.startsWith("https:")) return true; // TLS clusters: the caller checks with its client
  try {
    const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return body.health === "true";
  } catch {
    return false;
  }
}
