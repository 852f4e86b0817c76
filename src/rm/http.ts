// HTTP plumbing for the RM on node:http: bounded JSON bodies, JSON replies, bearer tokens.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { RmError } from "./errors.ts";

export const MAX_BODY = 1024 * 1024;

/** Reads a JSON body of at most `limit` bytes; undefined when the body is empty. */
export function readJson(req: IncomingMessage, limit = MAX_BODY): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    return Promise.reject(
      new RmError("PayloadTooLarge", `request body of ${declared} bytes is over the ${limit}-byte limit`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        reject(new RmError("PayloadTooLarge", `request body is over the ${limit}-byte limit`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("error", (err) => {
      if (!done) reject(err);
      done = true;
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      const text = Buffer.concat(chunks).toString("utf8");
      if (text.trim() === "") return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new RmError("BadRequest", `malformed JSON body: ${(err as Error).message}`));
      }
    });
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  };
  if (close) headers.connection = "close";
  res.writeHead(status, headers);
  res.end(text);
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  type = "text/plain; charset=utf-8",
): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text) });
  res.end(text);
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
