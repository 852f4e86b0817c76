// One HTTP/1.1 exchange on a fresh connection (`Connection: close`), over node:net or node:tls.
// The plugin makes one or two requests per run; node:http's first request costs several
// milliseconds of lazy initialisation (parser, IncomingMessage, header validation) that this
// small client does not, and node:net is already loaded by child_process.
import { isIP, connect as netConnect, type Socket } from "node:net";

export interface Exchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string | undefined;
  /** Replies with a larger body are refused (`TooLarge`). */
  maxBodyBytes: number;
  tls?: { ca?: string; cert?: string; key?: string };
  /** Called once the request has been handed to the socket (the caller may work meanwhile). */
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

const MAX_HEAD = 64 * 1024;

/** Decodes a chunked body; undefined while incomplete. */
export function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf("\r\n", at);
    if (eol < 0) return undefined;
    const size = Number.parseInt(data.subarray(at, eol).toString("latin1").split(";")[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) throw new TransportError("malformed chunked encoding");
    if (size === 0) return Buffer.concat(parts);
    const start = eol + 2;
    if (data.length < start + size + 2) return undefined;
    parts.push(data.subarray(start, start + size));
    at = start + size + 2;
  }
}

interface Head {
  status: number;
  headers: Map<string, string>;
  bodyStart: number;
}

/**
 * The final reply's head, after any informational (1xx) replies, which HTTP/1.1 lets a server send
 * before it (100 Continue, 103 Early Hints) and which a client skips (RFC 9110 §15.2). 101 would
 * switch protocols, which this client never asks for: an error.
 */
function finalHead(data: Buffer): Head | undefined {
  let at = 0;
  for (;;) {
    const head = parseHead(data.subarray(at));
    if (head === undefined) return undefined;
    if (head.status === 101)
      throw new TransportError("the server switched protocols (101), which was not asked for");
    if (head.status >= 200 || head.status < 100) return { ...head, bodyStart: at + head.bodyStart };
    at += head.bodyStart;
  }
}

function parseHead(data: Buffer): Head | undefined {
  const end = data.indexOf("\r\n\r\n");
  if (end < 0) {
    if (data.length > MAX_HEAD) throw new TransportError("reply headers too large");
    return undefined;
  }
  const lines = data.subarray(0, end).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (!m) throw new TransportError(`not an HTTP/1.x reply: ${JSON.stringify((lines[0] ?? "").slice(0, 40))}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(m[1]), headers, bodyStart: end + 4 };
}

/** The body when the reply is complete (`ended`: the server closed), else undefined. */
function bodyOf(data: Buffer, head: Head, ended: boolean, max: number): Buffer | undefined {
  const raw = data.subarray(head.bodyStart);
  if (head.status === 204 || head.status === 304) return Buffer.alloc(0);
  if ((head.headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked")) {
    const body = dechunk(raw);
    if (body === undefined && raw.length > max + MAX_HEAD)
      throw new TooLarge(`the reply is larger than ${max} bytes`);
    if (body !== undefined && body.length > max) throw new TooLarge(`the reply is larger than ${max} bytes`);
    if (body === undefined && ended) throw new TransportError("connection closed in the middle of the reply");
    return body;
  }
  const lengthText = head.headers.get("content-length");
  if (lengthText !== undefined) {
    const length = Number(lengthText);
    if (!Number.isInteger(length) || length < 0) throw new TransportError(`bad content-length ${lengthText}`);
    if (length > max) throw new TooLarge(`the reply is larger than ${max} bytes`);
    if (raw.length >= length) return raw.subarray(0, length);
    if (ended) throw new TransportError("connection closed in the middle of the reply");
    return undefined;
  }
  if (raw.length > max) throw new TooLarge(`the reply is larger than ${max} bytes`);
  return ended ? raw : undefined;
}

/** Sends one request and reads the whole reply. The caller bounds the time by destroying `onSocket`'s socket. */
export function exchange(ex: Exchange, onSocket: (s: Socket) => void): Promise<Reply> {
  const host = ex.url.hostname.replace(/^\[(.*)\]$/, "$1");
  const https = ex.url.protocol === "https:";
  const port = Number(ex.url.port || (https ? 443 : 80));
  return new Promise((resolve, reject) => {
    let socket: Socket;
    let done = false;
    const finish = (err: Error | undefined, reply?: Reply) => {
      if (done) return;
      done = true;
      socket.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const send = () => {
      const body = ex.body === undefined ? undefined : Buffer.from(ex.body);
      let head = `${ex.method} ${ex.url.pathname}${ex.url.search} HTTP/1.1\r\nhost: ${ex.url.host}\r\nconnection: close\r\n`;
      for (const [k, v] of Object.entries(ex.headers)) {
        if (/[\r\n]/.test(k + v)) throw new TransportError(`header ${k} holds a line break`);
        head += `${k}: ${v}\r\n`;
      }
      if (body !== undefined) head += `content-length: ${body.length}\r\n`;
      socket.write(`${head}\r\n`);
      if (body !== undefined) socket.write(body);
      ex.onSent?.();
    };
    if (https) {
      const tls = process.getBuiltinModule("node:tls") as typeof import("node:tls");
      socket = tls.connect({
        host,
        port,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ...ex.tls,
      });
      socket.once("secureConnect", () => {
        try {
          send();
        } catch (err) {
          finish(err as Error);
        }
      });
    } else {
      socket = netConnect({ host, port });
      socket.once("connect", () => {
        try {
          send();
        } catch (err) {
          finish(err as Error);
        }
      });
    }
    onSocket(socket);
    let data: Buffer = Buffer.alloc(0);
    let head: Head | undefined;
    const progress = (ended: boolean) => {
      try {
        head ??= finalHead(data);
        if (head === undefined) {
          if (ended) finish(new TransportError("connection closed before a reply"));
          return;
        }
        const body = bodyOf(data, head, ended, ex.maxBodyBytes);
        if (body !== undefined)
          finish(undefined, { status: head.status, headers: head.headers, body: body.toString("utf8") });
      } catch (err) {
        finish(err as Error);
      }
    };
    socket.on("data", (chunk: Buffer) => {
      data = data.length === 0 ? chunk : Buffer.concat([data, chunk]);
      progress(false);
    });
    socket.on("end", () => progress(true));
    socket.on("close", () => progress(true));
    socket.on("error", (err) => finish(new TransportError(err.message)));
  });
}
