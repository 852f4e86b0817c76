// One HTTP exchange through the runtime's fetch. On Bun, fetch is native: it needs neither
// node:net nor node:tls nor the stream machinery that loading them brings, which cost a plugin
// about a quarter of its own start-up (BENCHMARKS.md). TLS settings go in Bun's `tls` option.
import { decodeUtf8 } from "../net/chars.ts";

export interface Exchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string | undefined;
  /** Replies with a larger body are refused (`TooLarge`). */
  maxBodyBytes: number;
  tls?: { ca?: string; cert?: string; key?: string };
  /** Called once the request is under way (the caller may work meanwhile). */
  onSent?: (() => void) | undefined;
}

export interface Reply {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** The reply's body is larger than allowed. */
export class TooLarge extends Error {}
/** The connection failed or the reply could not be read (worth another attempt). */
export class TransportError extends Error {}

/** fetch's init as Bun takes it: `tls` carries the CA and the client certificate. */
interface BunRequestInit extends RequestInit {
  tls?: Exchange["tls"];
}

/**
 * What failed, for an operator: the system error's code as Node words it ("connect ECONNREFUSED"),
 * without the runtime's advice to the script's author ("pass `verbose: true`…").
 */
export function transportMessage(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === "ECONNREFUSED") return "connect ECONNREFUSED (nothing listens there)";
  const message = String((err as Error).message ?? err)
    .replace(/\s*For more information, pass `verbose: true`.*$/s, "")
    .replace(/\s*Is the computer able to access the url\?/, "");
  return typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
}

/** The exchange; `onCancel` receives what aborts it (the caller's deadline). */
export async function fetchExchange(ex: Exchange, onCancel: (cancel: () => void) => void): Promise<Reply> {
  const abort = new AbortController();
  onCancel(() => abort.abort());
  const init: BunRequestInit = {
    method: ex.method,
    headers: ex.headers,
    redirect: "manual",
    signal: abort.signal,
    keepalive: false, // one request per run: no connection to keep
  };
  if (ex.body !== undefined) init.body = ex.body;
  if (ex.tls !== undefined) init.tls = ex.tls;
  let res: Response;
  try {
    const pending = fetch(ex.url, init);
    ex.onSent?.(); // fetch gives no sign of the request being written: it is under way
    res = await pending;
  } catch (err) {
    throw new TransportError(transportMessage(err), { cause: err });
  }
  const headers = new Map<string, string>();
  for (const [name, value] of res.headers) headers.set(name.toLowerCase(), value);
  const declared = Number(headers.get("content-length") ?? Number.NaN);
  if (declared > ex.maxBodyBytes) {
    abort.abort();
    throw new TooLarge(`the reply is larger than ${ex.maxBodyBytes} bytes`);
  }
  const encoding = headers.get("content-encoding") ?? "identity";
  if (Number.isSafeInteger(declared) && declared >= 0 && encoding === "identity") {
    // A declared length within the bound, not compressed (fetch inflates a compressed body, which
    // can be any size: that one is counted chunk by chunk below), is read whole by the runtime
    // (the reader, through the streams' JavaScript, costs a plugin run about 0.2 ms more).
    try {
      return { status: res.status, headers, body: decodeUtf8([await res.bytes()], true) };
    } catch (err) {
      throw new TransportError(`reading the reply: ${transportMessage(err)}`, { cause: err });
    }
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    const reader = res.body?.getReader();
    for (;;) {
      const next = await reader?.read();
      if (next === undefined || next.done) break;
      size += next.value.byteLength;
      if (size > ex.maxBodyBytes) {
        abort.abort();
        throw new TooLarge(`the reply is larger than ${ex.maxBodyBytes} bytes`);
      }
      chunks.push(next.value);
    }
  } catch (err) {
    if (err instanceof TooLarge) throw err;
    throw new TransportError(`reading the reply: ${transportMessage(err)}`, { cause: err });
  }
  return { status: res.status, headers, body: decodeUtf8(chunks, true) };
}
