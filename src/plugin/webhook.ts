// The webhook client: one GET per attempt, bounded retries with backoff inside one overall
// deadline, a cap on the reply size, https with a CA bundle and an optional client certificate,
// an optional bearer token read from a file (never logged). The exchange itself is http-raw.ts's
// (a plain-http GET) or fetch's (http-fetch.ts).
import { readFileSync } from "node:fs";
import { CniError, ErrorCode, errorText } from "../cni/errors.ts";
import { type Exchange, fetchExchange, type Reply, TooLarge, TransportError } from "./http-fetch.ts";
import { NeedsFetch, rawApplies, rawExchange } from "./http-raw.ts";
import type { PodIdentity } from "./identity.ts";

export interface WebhookOptions {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  tokenFile?: string | undefined;
  timeoutMs: number;
  deadlineMs: number;
  retries: number;
  maxReplyBytes: number;
}

export interface HttpReply {
  status: number;
  body: string;
}

/** A failure worth another attempt (transport, timeout, 5xx, 429); anything else is final. */
class Retryable extends Error {}

/** The URL without credentials or query, for messages and logs. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

/**
 * The node's name as os.hostname() gives it (the kernel's, in our UTS namespace), read from /proc:
 * node:os would cost every ADD a module load (BENCHMARKS.md).
 */
function nodeName(): string {
  try {
    return readFileSync("/proc/sys/kernel/hostname", "utf8").trim();
  } catch {
    return "";
  }
}

/** `backend?podName=…&podNamespace=…&containerId=…[&podUid=…&node=…]`, URL-escaped. */
export function podQueryUrl(backend: string, pod: PodIdentity, containerId: string): string {
  const url = new URL(backend);
  url.searchParams.set("podName", pod.name);
  if (pod.namespace !== undefined) url.searchParams.set("podNamespace", pod.namespace);
  url.searchParams.set("containerId", pod.infraContainerId ?? containerId);
  if (pod.uid !== undefined) url.searchParams.set("podUid", pod.uid);
  const node = nodeName();
  if (node !== "") url.searchParams.set("node", node);
  return url.toString();
}

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new CniError(ErrorCode.InvalidConfig, `reading ${what} "${path}": ${(err as Error).message}`);
  }
}

/**
 * One exchange: a plain-http GET on the plugin's own socket (http-raw.ts), anything else, and a
 * reply that came compressed, through fetch.
 */
async function exchange(ex: Exchange, onCancel: (cancel: () => void) => void): Promise<Reply> {
  if (!rawApplies(ex)) return fetchExchange(ex, onCancel);
  try {
    return await rawExchange(ex, onCancel);
  } catch (err) {
    if (err instanceof NeedsFetch) return fetchExchange(ex, onCancel);
    throw err;
  }
}

async function requestOnce(
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
  opts: WebhookOptions,
  onSent: (() => void) | undefined,
): Promise<HttpReply> {
  const ex: Exchange = { method, url, headers, body, maxBodyBytes: opts.maxReplyBytes, onSent };
  if (url.protocol === "https:") {
    const tls: NonNullable<Exchange["tls"]> = {};
    if (opts.caFile) tls.ca = readSecretFile(opts.caFile, "caFile");
    if (opts.certFile) tls.cert = readSecretFile(opts.certFile, "certFile");
    if (opts.keyFile) tls.key = readSecretFile(opts.keyFile, "keyFile");
    ex.tls = tls;
  }
  let cancel: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cancel?.();
      reject(new Retryable(`no complete reply within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    const reply = await Promise.race([exchange(ex, (c) => (cancel = c)), timeout]);
    return { status: reply.status, body: reply.body };
  } catch (err) {
    if (err instanceof TooLarge) throw new CniError(ErrorCode.BackendRefused, err.message);
    if (err instanceof TransportError) throw new Retryable(err.message);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One request with the plugin's TLS and token settings, and no retry: what `dockin doctor` uses
 * to check a backend exactly as the plugin will reach it. Any status is a reply; a transport
 * failure, a timeout or an unreadable TLS/token file throws.
 */
export async function requestOnceWithConfig(
  method: string,
  url: string,
  opts: Pick<WebhookOptions, "caFile" | "certFile" | "keyFile" | "tokenFile" | "timeoutMs" | "maxReplyBytes">,
): Promise<HttpReply> {
  const headers: Record<string, string> = { accept: "application/json", "user-agent": "dockin-doctor" };
  if (opts.tokenFile) headers.authorization = `Bearer ${readSecretFile(opts.tokenFile, "tokenFile").trim()}`;
  const full: WebhookOptions = { ...opts, deadlineMs: opts.timeoutMs, retries: 0 };
  return requestOnce(method, new URL(url), headers, undefined, opts.timeoutMs, full, undefined);
}

/** What a non-2xx reply said: its JSON `message` when it has one, else the start of the body. */
function replyMessage(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "object" && parsed !== null && "message" in parsed) {
      return String((parsed as { message: unknown }).message);
    }
  } catch {
    // not JSON
  }
  return body.slice(0, 200).trim();
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  /** The attempt number is passed for logs. */
  onAttempt?: (attempt: number, outcome: string, ms: number) => void;
  /**
   * Called each time a request has been written: until the reply is read, the caller's own work
   * overlaps with the backend's (the reply waits in the socket buffer).
   */
  onSent?: () => void;
}

/**
 * Calls the webhook and returns the reply's parsed JSON (2xx). A transport failure, 5xx or 429
 * is retried with backoff while the deadline allows, then reported as error 11 (try again later).
 */
export async function callWebhook(
  url: string,
  opts: WebhookOptions,
  call: CallOptions = {},
): Promise<unknown> {
  const target = new URL(url);
  const started = Date.now();
  const deadline = started + opts.deadlineMs;
  const method = call.method ?? "GET";
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  let lastError = "";
  for (let attempt = 0; attempt <= opts.retries; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": "dockin-cni",
      "x-request-timeout-ms": String(remaining),
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (opts.tokenFile) {
      headers.authorization = `Bearer ${readSecretFile(opts.tokenFile, "tokenFile").trim()}`;
    }
    const attemptStarted = Date.now();
    try {
      const reply = await requestOnce(
        method,
        target,
        headers,
        body,
        Math.min(opts.timeoutMs, remaining),
        opts,
        call.onSent,
      );
      if (reply.status >= 500 || reply.status === 429) {
        throw new Retryable(`HTTP ${reply.status}: ${replyMessage(reply.body)}`);
      }
      if (reply.status < 200 || reply.status >= 300) {
        throw new CniError(
          ErrorCode.BackendRefused,
          `${method} ${safeUrl(url)}: HTTP ${reply.status}: ${replyMessage(reply.body)}`,
        );
      }
      let parsed: unknown;
      try {
        parsed = reply.body.trim() === "" ? undefined : JSON.parse(reply.body);
      } catch (err) {
        throw new CniError(
          ErrorCode.BackendRefused,
          `${method} ${safeUrl(url)}: the reply is not JSON (${(err as Error).message}): ${reply.body.slice(0, 80)}`,
        );
      }
      call.onAttempt?.(attempt, `HTTP ${reply.status}`, Date.now() - attemptStarted);
      return parsed;
    } catch (err) {
      call.onAttempt?.(attempt, errorText(err), Date.now() - attemptStarted);
      if (!(err instanceof Retryable)) {
        if (
          err instanceof CniError &&
          err.code === ErrorCode.BackendRefused &&
          !err.message.startsWith(method)
        ) {
          throw new CniError(err.code, `${method} ${safeUrl(url)}: ${err.message}`);
        }
        throw err;
      }
      lastError = err.message;
    }
    const backoff = Math.min(100 * 2 ** attempt, 2_000);
    if (attempt < opts.retries) {
      if (deadline - Date.now() <= backoff) break;
      await new Promise((r) => setTimeout(r, backoff));
    }
  }
  throw new CniError(
    ErrorCode.TryAgainLater,
    `${method} ${safeUrl(url)} failed after ${Date.now() - started} ms: ${lastError || "no time left"}`,
  );
}
