// The webhook client: one GET per attempt, bounded retries with backoff inside one overall
// deadline, a cap on the reply size, https with a CA bundle and an optional client certificate,
// an optional bearer token read from a file (never logged). node:http(s) is loaded on first use
// with process.getBuiltinModule: `import("node:http")` would build an ES module namespace, whose
// lazy WebSocket/MessageEvent exports load undici, crypto and http2 (about 35 ms).
import { readFileSync } from "node:fs";
import type { ClientRequest, IncomingMessage, RequestOptions } from "node:http";
import { hostname } from "node:os";
import { CniError, describe, ErrorCode } from "../cni/errors.ts";
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

/** `backend?podName=…&podNamespace=…&containerId=…[&podUid=…&node=…]`, URL-escaped. */
export function podQueryUrl(backend: string, pod: PodIdentity, containerId: string): string {
  const url = new URL(backend);
  url.searchParams.set("podName", pod.name);
  if (pod.namespace !== undefined) url.searchParams.set("podNamespace", pod.namespace);
  url.searchParams.set("containerId", pod.infraContainerId ?? containerId);
  if (pod.uid !== undefined) url.searchParams.set("podUid", pod.uid);
  url.searchParams.set("node", hostname());
  return url.toString();
}

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new CniError(ErrorCode.InvalidConfig, `reading ${what} "${path}": ${(err as Error).message}`);
  }
}

async function requestOnce(
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
  opts: WebhookOptions,
): Promise<HttpReply> {
  const options: RequestOptions & { ca?: string; cert?: string; key?: string } = {
    method,
    headers,
    timeout: timeoutMs,
  };
  let request: (u: URL, o: RequestOptions, cb: (res: IncomingMessage) => void) => ClientRequest;
  if (url.protocol === "https:") {
    if (opts.caFile) options.ca = readSecretFile(opts.caFile, "caFile");
    if (opts.certFile) options.cert = readSecretFile(opts.certFile, "certFile");
    if (opts.keyFile) options.key = readSecretFile(opts.keyFile, "keyFile");
    request = (process.getBuiltinModule("node:https") as typeof import("node:https")).request;
  } else {
    request = (process.getBuiltinModule("node:http") as typeof import("node:http")).request;
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    // `timeout` above only covers idle sockets; this bounds the whole exchange.
    const timer = setTimeout(() => {
      req.destroy();
      fail(new Retryable(`no complete reply within ${timeoutMs} ms`));
    }, timeoutMs);
    const req = request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxReplyBytes) {
          res.destroy();
          req.destroy();
          fail(
            new CniError(ErrorCode.BackendRefused, `the reply is larger than ${opts.maxReplyBytes} bytes`),
          );
          return;
        }
        chunks.push(chunk);
      });
      res.on("error", (err) => fail(new Retryable(err.message)));
      res.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.on("timeout", () => {
      req.destroy();
      fail(new Retryable(`no reply within ${timeoutMs} ms`));
    });
    req.on("error", (err) => fail(new Retryable(err.message)));
    req.end(body);
  });
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
      call.onAttempt?.(attempt, `HTTP ${reply.status}`, Date.now() - attemptStarted);
      if (reply.body.trim() === "") return undefined;
      try {
        return JSON.parse(reply.body);
      } catch (err) {
        throw new CniError(
          ErrorCode.BackendRefused,
          `${method} ${safeUrl(url)}: the reply is not JSON (${(err as Error).message}): ${reply.body.slice(0, 80)}`,
        );
      }
    } catch (err) {
      call.onAttempt?.(attempt, describe(err), Date.now() - attemptStarted);
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
