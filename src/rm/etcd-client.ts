// The etcd connection: endpoints and TLS from the command line, one client given every member (it
// spreads requests over them and steps around a member that fails, see etcd3's circuit breakers),
// a deadline on every request, and the retry loop every store operation runs in.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import tls from "node:tls";
import { Etcd3, type IOptions, isRecoverableError, type KVClient } from "etcd3";
import { errorText } from "../cni/errors.ts";
import { RmError } from "./errors.ts";

export interface EtcdTlsFiles {
  /** CA bundle (PEM) that signed the members' certificates. */
  ca?: string;
  /** Client certificate and key (PEM) when the members require client certificates. */
  cert?: string;
  key?: string;
}

export interface EtcdOptions {
  endpoints: string[];
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Key prefix (default `/dockin`); the layout version follows it (`/dockin/v1/...`). */
  prefix?: string;
  /** How long one store operation may take, retries included (default 10 s): then a 503. */
  deadlineMs?: number;
  /** How long one request to one member may take before the next try (default 2 s). */
  requestTimeoutMs?: number;
}

/** Parses `http://a:2379,http://b:2379` (the part after `etcd:`); every member, one scheme. */
export function parseEndpoints(text: string): string[] {
  const endpoints = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (endpoints.length === 0) {
    throw new Error(`etcd:${text}: no endpoint (etcd:http://10.0.0.1:2379,http://10.0.0.2:2379,…)`);
  }
  for (const e of endpoints) {
    let url: URL;
    try {
      url = new URL(e);
    } catch {
      throw new Error(`etcd endpoint "${e}": not a URL (expected http://HOST:PORT or https://HOST:PORT)`);
    }
    if ((url.protocol !== "http:" && url.protocol !== "https:") || url.port === "" || url.pathname !== "/") {
      throw new Error(`etcd endpoint "${e}": expected http://HOST:PORT or https://HOST:PORT`);
    }
  }
  const schemes = new Set(endpoints.map((e) => new URL(e).protocol));
  if (schemes.size > 1) throw new Error(`etcd:${text}: mixes http and https endpoints`);
  return endpoints;
}

/** Reads the TLS files named on the command line (`--etcd-ca`, `--etcd-cert`, `--etcd-key`). */
export function readTls(files: EtcdTlsFiles): EtcdOptions["tls"] {
  if (files.ca === undefined && files.cert === undefined && files.key === undefined) return undefined;
  if ((files.cert === undefined) !== (files.key === undefined)) {
    throw new Error("--etcd-cert and --etcd-key go together");
  }
  const read = (flag: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${flag} ${path}: ${errorText(err)}`);
    }
  };
  const tls: NonNullable<EtcdOptions["tls"]> = {};
  const ca = read("--etcd-ca", files.ca);
  const cert = read("--etcd-cert", files.cert);
  const key = read("--etcd-key", files.key);
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  return tls;
}

let sniGuarded = false;

/**
 * grpc-js gives TLS the endpoint's host as its SNI server name even when the host is an IP address.
 * RFC 6066 forbids an IP there: Node drops it with a warning (DEP0123), and Bun refuses the
 * connection ("Setting the TLS ServerName to an IP address is not permitted"), so an RM on Bun
 * never reached an etcd named by IP. tls.connect is wrapped, once, to leave out an IP server name
 * before it is used, which is what Node does anyway: no SNI is sent, and the member's certificate
 * is still checked against the IP (the host), as the TLS tests show with a certificate that lacks
 * it. Only an IP server name is touched; a DNS name goes through as given.
 */
function noIpServerName(): void {
  if (sniGuarded) return;
  sniGuarded = true;
  const connect = tls.connect;
  (tls as { connect: (...args: unknown[]) => tls.TLSSocket }).connect = (...args: unknown[]) => {
    const [first] = args;
    if (typeof first === "object" && first !== null && "servername" in first) {
      const { servername, ...rest } = first as tls.ConnectionOptions;
      if (typeof servername === "string" && isIP(servername) !== 0) args[0] = rest;
    }
    return (connect as (...a: unknown[]) => tls.TLSSocket)(...args);
  };
}

export function connect(options: EtcdOptions): Etcd3 {
  const tls = options.tls;
  const https = options.endpoints.every((e) => e.startsWith("https:"));
  if (tls !== undefined && !https) {
    throw new Error("etcd TLS options need https:// endpoints");
  }
  const config: IOptions = {
    hosts: options.endpoints,
    dialTimeout: options.requestTimeoutMs ?? 2000,
    grpcOptions: {
      // Notice a dead member's connection quickly (a killed member, a cut network).
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 3_000,
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    },
  };
  if (tls !== undefined) {
    if (options.endpoints.some((e) => isIP(new URL(e).hostname.replace(/^\[|\]$/g, "")) !== 0))
      noIpServerName();
    // grpc-js takes the system CAs when the root certificate is null (the type says Buffer).
    config.credentials = { rootCertificate: tls.ca ?? (null as unknown as Buffer) };
    if (tls.key !== undefined) config.credentials.privateKey = tls.key;
    if (tls.cert !== undefined) config.credentials.certChain = tls.cert;
  }
  return new Etcd3(config);
}

/** Whether an etcd failure may pass by itself: a member down, an election, a compaction race. */
export function isTransient(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  if (isRecoverableError(err as Error)) return true;
  if ((err as { isBrokenCircuitError?: boolean }).isBrokenCircuitError === true) return true;
  const message = String((err as Error).message ?? "");
  return /leader changed|no leader|request timed out|timed out waiting|too many requests|server stopped|raft: stopped|required revision|connection|ECONNREFUSED|UNAVAILABLE|No connection established/i.test(
    message,
  );
}

/** Thrown by an attempt whose compare-and-swap lost to another writer: run it again. */
export class Retry extends Error {
  override readonly name = "Retry";
}

export interface Attempt {
  /** Call options for one request: a deadline within the operation's. */
  call(): { deadline: Date };
  attempt: number;
  /** How many earlier attempts lost a compare-and-swap to another writer. */
  conflicts: number;
}

/**
 * Runs `fn` until it returns, retrying lost compare-and-swaps (`Retry`) and transient etcd failures
 * with a short, growing, jittered pause, until the deadline: then a 503 that says what failed.
 */
export async function retrying<T>(
  what: string,
  options: { deadlineMs: number; requestTimeoutMs: number },
  fn: (a: Attempt) => Promise<T>,
  /** Said after the fix when a transaction is larger than the cluster allows. */
  tooLargeHint = "",
): Promise<T> {
  const end = Date.now() + options.deadlineMs;
  let last: unknown;
  let conflicts = 0;
  for (let attempt = 0; ; attempt++) {
    const a: Attempt = {
      attempt,
      conflicts,
      call: () => ({ deadline: new Date(Math.min(end, Date.now() + options.requestTimeoutMs)) }),
    };
    try {
      return await fn(a);
    } catch (err) {
      if (err instanceof Retry) conflicts++;
      else if (!isTransient(err)) {
        if (err instanceof RmError || !isEtcdError(err)) throw err;
        if (/too many operations in txn request/i.test(errorText(err))) {
          throw new RmError(
            "BadRequest",
            `${what}: the transaction has more operations than the etcd cluster allows (--max-txn-ops, 128 by default): raise --max-txn-ops on every etcd member${tooLargeHint}`,
            { cause: err },
          );
        }
        throw new RmError("Internal", `${what}: etcd: ${errorText(err)}`, { cause: err });
      }
      last = err;
    }
    const left = end - Date.now();
    if (left <= 0) {
      throw new RmError(
        "Unavailable",
        `${what}: etcd did not complete it within ${options.deadlineMs} ms (${attemptsText(attempt + 1, conflicts)}): ${errorText(last)}`,
        { cause: last },
      );
    }
    // Conflicts retry at once for the first few rounds (another writer just won; the next read
    // sees it); failures back off (an election takes a few hundred milliseconds).
    const base =
      last instanceof Retry
        ? conflicts <= 3
          ? 0
          : Math.min(50, 2 ** conflicts)
        : 25 * 2 ** Math.min(attempt, 5);
    const pause = Math.min(left, base === 0 ? 0 : base / 2 + Math.random() * base);
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  }
}

function attemptsText(attempts: number, conflicts: number): string {
  return `${attempts} attempt(s), ${conflicts} lost to concurrent writers`;
}

function isEtcdError(err: unknown): boolean {
  const name = (err as { constructor?: { name?: string } })?.constructor?.name ?? "";
  return /^(GRPC|Etcd)/.test(name);
}

export type { KVClient };
