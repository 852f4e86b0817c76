// Test harness for dockin-cni: real plugins, real namespaces, a real webhook on port 0.
// Everything made here is registered for cleanup, which runs even when a test fails.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PLUGIN = process.env.DOCKIN_CNI_BIN ?? join(root, "dist", "bin", "dockin-cni");
export const IPAM = join(root, "dist", "bin", "dockin-ipam");
export const REFERENCE = "/usr/lib/cni";
export const VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export const CHECK_VERSIONS = VERSIONS.filter((v) => v >= "0.4.0");

/**
 * A random hex name part of 2n digits. Under scripts/test.ts it starts with the run's tag
 * (DOCKIN_TEST_RUN), so that the run's leak check (test/leaks.ts) tells its own namespaces, links,
 * rules and processes from other runs'; short ones grow by the tag's 4 digits, longer ones (n >= 5,
 * used inside 15-character link names) keep their length.
 */
export const rand = (n = 4): string => {
  const random = randomBytes(n).toString("hex");
  const tag = process.env.DOCKIN_TEST_RUN;
  if (tag === undefined || !/^[0-9a-f]{4}$/.test(tag)) return random;
  return n >= 5 ? `${tag}${random.slice(4)}` : `${tag}${random}`;
};

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
export function trySh(cmd: string, args: string[]): boolean {
  try {
    sh(cmd, args);
    return true;
  } catch {
    return false;
  }
}

export interface WebhookRequest {
  method: string;
  url: URL;
  headers: IncomingMessage["headers"];
  body: string;
}

export type Handler = (req: WebhookRequest, res: ServerResponse) => void;

/** A real HTTP webhook on 127.0.0.1:0; `replies` maps podName to a reply body, or set `handler`. */
export class Webhook {
  server: Server;
  port = 0;
  requests: WebhookRequest[] = [];
  replies = new Map<string, unknown>();
  handler: Handler | undefined;

  scheme: "http" | "https";

  constructor(server?: Server, scheme: "http" | "https" = "http") {
    this.scheme = scheme;
    this.server = server ?? createServer();
    this.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const r: WebhookRequest = {
          method: req.method ?? "",
          url: new URL(req.url ?? "/", "http://x"),
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        };
        this.requests.push(r);
        if (this.handler) return this.handler(r, res);
        const name = r.url.searchParams.get("podName") ?? "";
        const reply = this.replies.get(name);
        if (reply === undefined) {
          res.writeHead(404, { "content-type": "application/json" });
          res.end(JSON.stringify({ code: 404, message: `no pod ${name}` }));
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(typeof reply === "string" ? reply : JSON.stringify(reply));
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    const a = this.server.address();
    this.port = typeof a === "object" && a !== null ? a.port : 0;
    return `${this.url()}`;
  }
  url(path = "/rmController/getPodMultiNetwork"): string {
    return `${this.scheme}://127.0.0.1:${this.port}${path}`;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export interface Net {
  name: string;
  bridge: string;
}

/** One test's world: temp dirs, binDir with the real delegates, namespaces, bridges. */
export class World {
  dir: string;
  binDir: string;
  confDir: string;
  cacheDir: string;
  logFile: string;
  namespaces: string[] = [];
  bridges: string[] = [];
  webhook = new Webhook();
  backend = "";
  extra: Record<string, unknown> = {};
  /** Run first at cleanup: what a test made beyond namespaces and bridges (stand-in processes…). */
  private readonly undo: (() => void)[] = [];

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "dk-cni-"));
    this.binDir = join(this.dir, "bin");
    this.confDir = join(this.dir, "net.d");
    this.cacheDir = join(this.dir, "cache");
    this.logFile = join(this.dir, "dockin-cni.log");
    mkdirSync(this.binDir);
    mkdirSync(this.confDir);
    symlinkSync(join(REFERENCE, "bridge"), join(this.binDir, "bridge"));
    symlinkSync(IPAM, join(this.binDir, "dockin-ipam"));
  }

  async start(): Promise<this> {
    this.backend = await this.webhook.start();
    return this;
  }

  /** A network config in confDir using a fresh bridge; `text` overrides the file's content. */
  network(name: string, extra: Record<string, unknown> = {}, file = `${name}.json`): Net {
    const bridge = `dkb${rand(5)}`;
    this.bridges.push(bridge);
    const conf = { cniVersion: "1.0.0", name, type: "bridge", bridge, ...extra };
    writeFileSync(join(this.confDir, file), `${JSON.stringify(conf, null, 2)}\n`);
    return { name, bridge };
  }

  file(name: string, text: string): void {
    writeFileSync(join(this.confDir, name), text);
  }

  /** A fake delegate script in binDir. */
  fake(type: string, script: string): void {
    const path = join(this.binDir, type);
    writeFileSync(path, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  }

  netns(): string {
    const name = `dk-${rand()}`;
    sh("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    return name;
  }

  config(cniVersion: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      cniVersion,
      name: "dockin-cni",
      type: "dockin-cni",
      confDir: this.confDir,
      binDir: this.binDir,
      cacheDir: this.cacheDir,
      logFile: this.logFile,
      logLevel: "debug",
      backend: this.backend,
      timeoutMs: 2000,
      deadlineMs: 4000,
      ...this.extra,
      ...extra,
    };
  }

  records(): string[] {
    return existsSync(this.cacheDir) ? readdirSync(this.cacheDir) : [];
  }

  /** Registers something to remove at cleanup (runs before the namespaces and bridges go). */
  onCleanup(fn: () => void): void {
    this.undo.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const fn of this.undo.reverse()) {
      try {
        fn();
      } catch {
        // keep cleaning
      }
    }
    await this.webhook.stop().catch(() => {});
    for (const ns of this.namespaces) trySh("ip", ["netns", "del", ns]);
    for (const br of this.bridges) trySh("ip", ["link", "del", br]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Host veths still enslaved to this world's bridges. */
  portsLeft(): string[] {
    const out: string[] = [];
    for (const br of this.bridges) {
      if (!trySh("ip", ["link", "show", br])) continue;
      const links = JSON.parse(sh("ip", ["-j", "link", "show", "master", br])) as { ifname: string }[];
      out.push(...links.map((l) => l.ifname));
    }
    return out;
  }
}

export interface CniRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

export interface CniCall {
  command: string;
  containerId: string;
  netns?: string;
  ifName?: string;
  args?: string;
  path?: string;
  config: unknown;
  onSpawn?: (pid: number) => void;
}

/** Runs dockin-cni as a runtime does (async: the webhook lives in this process). */
export function cni(call: CniCall): Promise<CniRun> {
  return new Promise((resolvePromise, reject) => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      CNI_COMMAND: call.command,
      CNI_CONTAINERID: call.containerId,
      CNI_NETNS: call.netns === undefined || call.netns === "" ? "" : `/var/run/netns/${call.netns}`,
      CNI_IFNAME: call.ifName ?? "eth0",
      CNI_ARGS: call.args ?? "",
      CNI_PATH: call.path ?? REFERENCE,
    };
    const child = spawn(PLUGIN, [], { env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    if (child.pid !== undefined) call.onSpawn?.(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out).toString();
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolvePromise({ code, signal, stdout, stderr: Buffer.concat(err).toString(), json });
    });
    child.stdin.end(JSON.stringify(call.config));
  });
}

export const podArgs = (name: string, ns = "default", cid = "x"): string =>
  `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=uid-${name}`;

interface IpAddr {
  ifname: string;
  addr_info: { local: string; prefixlen: number; family: string; scope: string }[];
}

/** Interfaces of a namespace with their global addresses, e.g. { eth0: ["10.1.0.2/24"] }. */
export function nsAddresses(ns: string): Record<string, string[]> {
  const list = JSON.parse(sh("ip", ["-n", ns, "-j", "addr", "show"])) as IpAddr[];
  const out: Record<string, string[]> = {};
  for (const i of list) {
    if (i.ifname === "lo") continue;
    out[i.ifname] = i.addr_info.filter((a) => a.scope === "global").map((a) => `${a.local}/${a.prefixlen}`);
  }
  return out;
}

export function nsJson<T>(ns: string, args: string[]): T {
  return JSON.parse(sh("ip", ["-n", ns, "-j", ...args]) || "[]") as T;
}

export interface Entry {
  type: string;
  podIp?: string;
  subnetMask?: string | number;
  gateway?: string;
  ifName?: string;
  master?: boolean;
  ips?: { address: string; gateway?: string }[];
}
export const reply = (data: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  code: 0,
  reqId: rand(),
  message: "success",
  data,
  ...extra,
});

/** Runs `body` in a started World and cleans everything up afterwards, failed or not. */
export async function inWorld(body: (w: World) => Promise<void>): Promise<void> {
  const w = await new World().start();
  try {
    await body(w);
  } finally {
    await w.cleanup();
  }
}
