// The webhook's plain-http GET over a socket of the runtime's own (Bun.connect), read on the event
// loop: fetch costs an ADD about 1.5 ms more CPU (its HTTP client thread and machinery;
// BENCHMARKS.md), which every pod pays. HTTP/1.1 with `connection: close`, one request per
// connection; a reply framed by content-length, by chunks or by the server closing, informational
// replies skipped, header lines ended by CRLF or a bare LF, as fetch reads them, under the same
// size cap and the same error classes (TooLarge, TransportError; the messages are this client's).
// The fetch path (http-fetch.ts) takes everything else: https, a proxy in the environment, a body
// to send, credentials in the URL (fetch sends them as basic authentication), and a compressed
// reply (never asked for here: this client sends no accept-encoding).
import { decodeUtf8, isDigits, isHex, isWord } from "../net/chars.ts";
import { type Exchange, type Reply, TooLarge, TransportError, transportMessage } from "./http-fetch.ts";

/** The reply is compressed: the exchange is done again through fetch, which inflates it. */
export class NeedsFetch extends Error {}

/** The environment variables that make fetch send plain-http requests through a proxy. */
const PROXY_VARIABLES = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];

/** Whether this client takes the exchange (else fetch does). */
export function rawApplies(ex: Exchange, env: NodeJS.ProcessEnv = process.env): boolean {
  if (ex.url.protocol !== "http:" || ex.method !== "GET" || ex.body !== undefined) return false;
  if (ex.url.username !== "" || ex.url.password !== "") return false;
  for (const name of PROXY_VARIABLES) if (env[name]) return false;
  return true;
}

/** The most bytes of header blocks a reply may send (status lines and headers, 1xx ones too). */
const MAX_HEAD = 64 * 1024;

/**
 * Connects under way. A cancelled one cannot be stopped: it keeps the event loop alive until the
 * kernel gives up (about two minutes when SYNs go unanswered), so a one-shot process exits once its
 * work is done while any is (src/bin).
 */
let connecting = 0;
export const connectsUnderWay = (): number => connecting;

/**
 * Where the blank line that ends a header block ends, in `bytes` from `from` on: the LF of an
 * empty line (a line ends with LF, a CR before it dropped); -1 when it has not come yet.
 */
function headEnd(bytes: Uint8Array, from: number): number {
  for (let i = Math.max(from, 1); i < bytes.length; i++) {
    if (bytes[i] !== 10) continue;
    if (bytes[i - 1] === 10 || (bytes[i - 1] === 13 && i >= 2 && bytes[i - 2] === 10)) return i;
  }
  return -1;
}

/** Where the next LF is in `bytes` at or after `from`, or -1. */
function lineEnd(bytes: Uint8Array, from: number): number {
  for (let i = from; i < bytes.length; i++) if (bytes[i] === 10) return i;
  return -1;
}

/** A line's text without its trailing CR. */
const lineText = (bytes: Uint8Array): string =>
  latin1(bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.subarray(0, -1) : bytes);

const latin1 = (bytes: Uint8Array): string => {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
};

/** An HTTP token (a header name): letters, digits and these marks. */
const isToken = (text: string): boolean => isWord(text, "!#$%&'*+.^_`|~-");

/**
 * A header name as HTTP allows it (a token), and a value without line breaks or NUL, in Latin-1
 * (what fetch sends; it refuses anything beyond).
 */
function checkHeader(name: string, value: string): void {
  if (!isToken(name)) throw new TransportError(`invalid header name "${name}"`);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 10 || c === 13 || c === 0)
      throw new TransportError(`invalid value for header "${name}": a line break`);
    if (c > 0xff) throw new TransportError(`invalid value for header "${name}": a character beyond Latin-1`);
  }
}

/** Text of characters up to U+00FF as one byte each (checked by requestText). */
function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** The request's bytes. */
function requestText(ex: Exchange): string {
  let text = `GET ${ex.url.pathname}${ex.url.search} HTTP/1.1\r\nhost: ${ex.url.host}\r\nconnection: close\r\n`;
  for (const name of Object.keys(ex.headers)) {
    const value = ex.headers[name]!;
    checkHeader(name, value);
    text += `${name}: ${value}\r\n`;
  }
  return `${text}\r\n`;
}

/** A header value without the spaces and tabs around it (HTTP's optional white space only). */
function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text[start] === " " || text[start] === "\t")) start++;
  while (end > start && (text[end - 1] === " " || text[end - 1] === "\t")) end--;
  return text.slice(start, end);
}

/** A content-length: digits, or the same digits repeated in a list (a header sent twice). */
function contentLength(value: string): number {
  const parts = value.split(",");
  const first = trimOws(parts[0] ?? "");
  if (!isDigits(first) || first.length > 15)
    throw new TransportError(`the reply's content-length "${value}" is not a number`);
  for (const part of parts) {
    if (trimOws(part) !== first)
      throw new TransportError(`the reply's content-length "${value}" is not one number`);
  }
  return Number(first);
}

interface Head {
  status: number;
  headers: Map<string, string>;
}

/** Parses one header block (its lines, without the blank one); throws when it is not an HTTP reply. */
function parseHead(lines: string[]): Head {
  const first = lines[0] ?? "";
  // "HTTP/1.1 200 OK": the version, a space, three digits, then a space or the end of the line.
  const version = first.slice(0, 8);
  const code = first.slice(9, 12);
  if (
    (version !== "HTTP/1.1" && version !== "HTTP/1.0") ||
    first[8] !== " " ||
    code.length !== 3 ||
    !isDigits(code) ||
    (first.length > 12 && first[12] !== " ")
  ) {
    throw new TransportError(`the reply is not HTTP: "${first.slice(0, 40)}"`);
  }
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new TransportError(`a malformed header line in the reply: "${line.slice(0, 40)}"`);
    const name = line.slice(0, colon).toLowerCase();
    if (!isToken(name))
      throw new TransportError(`a malformed header line in the reply: "${line.slice(0, 40)}"`);
    const value = trimOws(line.slice(colon + 1));
    const before = headers.get(name);
    headers.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  return { status: Number(code), headers };
}

/**
 * The body's framing once the final head is in: `feed` takes the bytes as they come and says
 * whether the body is complete; `closed` says, when the server closes, whether it was complete then.
 */
interface Framing {
  feed(bytes: Uint8Array): boolean;
  closed(): boolean;
}

/** The framing of `head`'s body; a declared length above `max` is refused before any of it is read. */
function framingOf(head: Head, take: (bytes: Uint8Array) => void, max: number): Framing {
  const encoding = (head.headers.get("transfer-encoding") ?? "").toLowerCase();
  if (head.status === 204 || head.status === 304) return { feed: () => true, closed: () => true };
  if (encoding.split(",").some((e) => e.trim() === "chunked")) return chunked(take);
  const length = head.headers.get("content-length");
  if (length !== undefined) {
    let left = contentLength(length);
    if (left > max) throw new TooLarge(`the reply is larger than ${max} bytes`);
    return {
      feed(bytes) {
        const part = bytes.length > left ? bytes.subarray(0, left) : bytes;
        if (part.length > 0) take(part);
        left -= part.length;
        return left === 0;
      },
      closed: () => left === 0,
    };
  }
  return {
    feed(bytes) {
      if (bytes.length > 0) take(bytes);
      return false;
    },
    closed: () => true,
  };
}

/** A chunked body, decoded as it comes (chunk extensions and trailers read past). */
function chunked(take: (bytes: Uint8Array) => void): Framing {
  let pending: Uint8Array = new Uint8Array(0);
  let left = -1; // bytes of the current chunk still to come; -1: a size line is next
  let afterChunk = false; // the CRLF after a chunk's data is next
  let trailers = false; // the last chunk was read: trailer lines until a blank one
  let done = false;
  const malformed = () => new TransportError("malformed chunked encoding in the reply");
  return {
    feed(bytes) {
      let buf = pending.length === 0 ? bytes : concat(pending, bytes);
      let at = 0;
      while (!done) {
        if (left > 0) {
          const n = Math.min(left, buf.length - at);
          if (n === 0) break;
          take(buf.subarray(at, at + n));
          at += n;
          left -= n;
          if (left === 0) afterChunk = true;
          continue;
        }
        const eol = lineEnd(buf, at);
        if (eol < 0) {
          if (buf.length - at > 4096) throw malformed();
          break;
        }
        const line = lineText(buf.subarray(at, eol));
        at = eol + 1;
        if (afterChunk) {
          if (line !== "") throw malformed();
          afterChunk = false;
          left = -1;
        } else if (trailers) {
          if (line === "") done = true;
        } else {
          const size = line.split(";")[0]!.trim();
          if (!isHex(size, 8)) throw malformed();
          left = Number.parseInt(size, 16);
          if (left === 0) trailers = true;
        }
      }
      buf = buf.subarray(at);
      pending = buf.length === 0 ? new Uint8Array(0) : buf.slice();
      return done;
    },
    // A close right after the last chunk ends the body, trailers or their blank line missing.
    closed: () => done || trailers,
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const all = new Uint8Array(a.length + b.length);
  all.set(a, 0);
  all.set(b, a.length);
  return all;
}

/** What a failed connect or socket error says, as the fetch path words it. */
const socketError = (err: unknown): TransportError =>
  new TransportError(transportMessage(err), { cause: err });

/**
 * The exchange (a plain-http GET, see rawApplies); `onCancel` receives what aborts it. Rejects with
 * TooLarge or TransportError (a header that may not be sent too), as fetchExchange does, or
 * NeedsFetch (a compressed reply).
 */
export async function rawExchange(ex: Exchange, onCancel: (cancel: () => void) => void): Promise<Reply> {
  const request = latin1Bytes(requestText(ex)); // a bad header: a TransportError, as fetch's
  const host = ex.url.hostname.startsWith("[") ? ex.url.hostname.slice(1, -1) : ex.url.hostname;
  const port = ex.url.port === "" ? 80 : Number(ex.url.port);
  return new Promise<Reply>((resolve, reject) => {
    let socket: import("bun").Socket<undefined> | undefined;
    let settled = false;
    let head: Head | undefined;
    let framing: Framing | undefined;
    let headBytes: Uint8Array = new Uint8Array(0);
    let headsDone = 0; // bytes of the informational heads read before the final one
    const body: Uint8Array[] = [];
    let size = 0;
    let unsent = request;
    const finish = (err: unknown, reply?: Reply) => {
      if (settled) return;
      settled = true;
      socket?.terminate();
      if (reply !== undefined) resolve(reply);
      else reject(err);
    };
    onCancel(() => finish(new TransportError("the exchange was cancelled")));
    const take = (bytes: Uint8Array) => {
      size += bytes.length;
      if (size > ex.maxBodyBytes) throw new TooLarge(`the reply is larger than ${ex.maxBodyBytes} bytes`);
      body.push(bytes.slice());
    };
    const complete = () =>
      finish(undefined, { status: head!.status, headers: head!.headers, body: decodeUtf8(body, true) });
    /** Reads header blocks until the final one; then hands the rest to the body's framing. */
    const onBytes = (bytes: Uint8Array) => {
      if (framing !== undefined) {
        if (framing.feed(bytes)) complete();
        return;
      }
      const scanned = headBytes.length;
      headBytes = headBytes.length === 0 ? bytes.slice() : concat(headBytes, bytes);
      const tooLarge = () => new TransportError("the reply's headers are too large");
      for (let from = Math.max(scanned - 2, 0); ; from = 0) {
        const end = headEnd(headBytes, from);
        if (end < 0) {
          if (headsDone + headBytes.length > MAX_HEAD) throw tooLarge();
          return;
        }
        if (headsDone + end + 1 > MAX_HEAD) throw tooLarge();
        const lines: string[] = [];
        for (let at = 0; ; ) {
          const eol = lineEnd(headBytes, at);
          const line = lineText(headBytes.subarray(at, eol));
          if (line === "") break;
          lines.push(line);
          at = eol + 1;
        }
        const parsed = parseHead(lines);
        headBytes = headBytes.subarray(end + 1);
        if (parsed.status === 101)
          throw new TransportError("the server switched protocols, which was not asked for");
        if (parsed.status >= 100 && parsed.status < 200) {
          headsDone += end + 1;
          continue; // informational: the final reply follows
        }
        head = parsed;
        const bodyFraming = framingOf(parsed, take, ex.maxBodyBytes);
        const encoding = (parsed.headers.get("content-encoding") || "identity").toLowerCase();
        if (encoding !== "identity") throw new NeedsFetch(`the reply is compressed (${encoding})`);
        framing = bodyFraming;
        const rest = headBytes;
        headBytes = new Uint8Array(0);
        if (framing.feed(rest)) complete();
        return;
      }
    };
    const guarded = (f: () => void) => {
      try {
        f();
      } catch (err) {
        finish(err);
      }
    };
    /** The server has closed: the reply is whole, or cut off. */
    const closed = () => {
      if (head === undefined) {
        finish(new TransportError("the connection closed before a complete reply (ECONNRESET)"));
      } else if (framing?.closed()) complete();
      else finish(new TransportError("the connection closed in the middle of the reply"));
    };
    const send = (s: import("bun").Socket<undefined>) => {
      const n = s.write(unsent);
      unsent = unsent.subarray(Math.max(n, 0));
      if (unsent.length === 0) ex.onSent?.();
    };
    connecting++;
    Bun.connect({
      hostname: host,
      port,
      socket: {
        binaryType: "uint8array",
        open(s) {
          socket = s;
          if (settled) s.terminate();
          else guarded(() => send(s));
        },
        drain(s) {
          if (unsent.length > 0) guarded(() => send(s));
        },
        data(_s, bytes) {
          if (!settled) guarded(() => onBytes(bytes));
        },
        end: closed,
        close(_s, err) {
          if (err !== undefined) finish(socketError(err));
          else closed();
        },
        error(_s, err) {
          finish(socketError(err));
        },
        connectError(_s, err) {
          finish(socketError(err));
        },
      },
    })
      .catch((err: unknown) => finish(socketError(err)))
      .finally(() => {
        connecting--;
      });
  });
}
