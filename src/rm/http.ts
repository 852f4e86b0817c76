// HTTP plumbing for the RM on Bun.serve: bounded request bodies, replies built by the handlers and
// answered as one Response, bearer tokens.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { errorText } from "../cni/errors.ts";
import { decodeUtf8 } from "../net/chars.ts";
import { RmError } from "./errors.ts";

export const MAX_BODY = 1024 * 1024;

/**
 * The reply to one request, set by its handler and answered by the server (`response()`): status,
 * headers and a text body. Bun adds `content-length` (also to a HEAD reply, whose body it drops)
 * and `date`.
 */
export class Reply {
  status = 200;
  readonly headers: Record<string, string> = {};
  body = "";

  setHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  /** Sets the status, adds `headers` to those set before, and sets the body. */
  send(status: number, headers: Record<string, string>, body = ""): void {
    this.status = status;
    Object.assign(this.headers, headers);
    this.body = body;
  }

  response(): Response {
    return new Response(this.body, { status: this.status, headers: this.headers });
  }
}

/**
 * Reads a request's body as text, at most `limit` bytes (`what` names it in the error). A declared
 * length over the limit is refused before any of the body is read; a body without a declared
 * length (chunked) is counted as it arrives.
 */
export async function readText(req: Request, limit: number, what = "request body"): Promise<string> {
  const declared = req.headers.get("content-length");
  if (declared !== null) {
    const size = Number(declared);
    if (size > limit)
      throw new RmError("PayloadTooLarge", `${what} of ${size} bytes is over the ${limit}-byte limit`);
  }
  try {
    // Bun reads exactly the declared length.
    if (declared !== null) return await req.text();
    if (req.body === null) return "";
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of req.body) {
      size += chunk.byteLength;
      if (size > limit) throw new RmError("PayloadTooLarge", `${what} is over the ${limit}-byte limit`);
      chunks.push(chunk);
    }
    return decodeUtf8(chunks, true);
  } catch (err) {
    if (err instanceof RmError || !req.signal.aborted) throw err;
    // The client went away in the middle of its body: its request, not a fault of ours (no 500).
    throw new RmError("BadRequest", `${what} cut off: the client closed the connection (${errorText(err)})`);
  }
}

/** Reads a JSON body of at most `limit` bytes; undefined when the body is empty. */
export async function readJson(req: Request, limit = MAX_BODY): Promise<unknown> {
  const text = await readText(req, limit);
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RmError("BadRequest", `malformed JSON body: ${(err as Error).message}`);
  }
}

const JSON_TYPE = "application/json";

/** A JSON reply; `close` asks the client to close the connection (a body left unread). */
export function sendJson(reply: Reply, status: number, body: unknown, close = false): void {
  reply.send(
    status,
    close ? { "content-type": JSON_TYPE, connection: "close" } : { "content-type": JSON_TYPE },
    JSON.stringify(body),
  );
}

export function sendText(
  reply: Reply,
  status: number,
  text: string,
  type = "text/plain; charset=utf-8",
): void {
  reply.send(status, { "content-type": type }, text);
}

const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

/** Bearer tokens accepted by the RM: one a line of the token file (several allow rotation). */
export class Tokens {
  private readonly digests: Buffer[];

  constructor(text: string) {
    const tokens = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    if (tokens.length === 0) throw new Error("the token file holds no token");
    this.digests = tokens.map(digest);
  }

  /** Throws 401 without credentials, 403 with a wrong token. */
  check(header: string | undefined): void {
    if (header === undefined || header === "") {
      throw new RmError("Unauthorized", "authentication required: send Authorization: Bearer <token>");
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m === null)
      throw new RmError(
        "Unauthorized",
        "authentication required: the Authorization header is not a bearer token",
      );
    const given = digest(m[1] ?? "");
    let ok = false;
    for (const d of this.digests) ok = timingSafeEqual(d, given) || ok;
    if (!ok) throw new RmError("Forbidden", "the bearer token is not accepted");
  }

  /** An HMAC-SHA-256 of `data` keyed by the first token (console sessions: src/rm/ui/session.ts). */
  sign(data: string): string {
    return mac(this.digests[0] as Buffer, data);
  }

  /** Whether `signature` is `data` signed by any accepted token: a rotated-out token's sessions end. */
  verify(data: string, signature: string): boolean {
    const given = Buffer.from(signature, "base64url");
    let ok = false;
    for (const d of this.digests) {
      const expected = Buffer.from(mac(d, data), "base64url");
      ok = (given.length === expected.length && timingSafeEqual(expected, given)) || ok;
    }
    return ok;
  }
}

const mac = (key: Buffer, data: string): string => createHmac("sha256", key).update(data).digest("base64url");
