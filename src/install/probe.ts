// The doctor's HTTP probe of the backend: one request with the main config's TLS and token
// settings (caFile, certFile, keyFile, tokenFile) and a timeout; never throws.
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";

export interface BackendAuth {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  tokenFile?: string | undefined;
}

export type ProbeResult =
  | { ok: true; status: number; body: string }
  | { ok: false; error: string; code?: string };

/** The seed endpoint's path: a backend URL ending with it belongs to a Dockin RM at the prefix. */
const SEED_PATH = "/rmController/getPodMultiNetwork";

/** The RM's base URL for a backend URL that looks like the Dockin RM's webhook, else undefined. */
export function rmBase(backend: string): string | undefined {
  let url: URL;
  try {
    url = new URL(backend);
  } catch {
    return undefined;
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (!path.endsWith(SEED_PATH)) return undefined;
  return `${url.origin}${path.slice(0, -SEED_PATH.length)}`;
}

export function probe(
  url: string,
  auth: BackendAuth,
  opts: { method?: string; timeoutMs: number },
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let options: RequestOptions;
    try {
      const headers: Record<string, string> = { accept: "application/json" };
      if (auth.tokenFile !== undefined) {
        headers.authorization = `Bearer ${readFileSync(auth.tokenFile, "utf8").trim()}`;
      }
      options = { method: opts.method ?? "GET", headers, timeout: opts.timeoutMs };
      if (auth.caFile !== undefined) options.ca = readFileSync(auth.caFile);
      if (auth.certFile !== undefined) options.cert = readFileSync(auth.certFile);
      if (auth.keyFile !== undefined) options.key = readFileSync(auth.keyFile);
    } catch (err) {
      resolve({ ok: false, error: `reading the TLS or token files: ${(err as Error).message}` });
      return;
    }
    let req: ReturnType<typeof httpRequest>;
    try {
      req = url.startsWith("https:") ? httpsRequest(url, options) : httpRequest(url, options);
    } catch (err) {
      resolve({ ok: false, error: (err as Error).message });
      return;
    }
    req.on("timeout", () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on("error", (err: NodeJS.ErrnoException) => {
      const r: ProbeResult = { ok: false, error: err.message };
      if (err.code !== undefined) r.code = err.code;
      resolve(r);
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= 1 << 20) chunks.push(c);
      });
      res.on("end", () =>
        resolve({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
      res.on("error", (err) => resolve({ ok: false, error: err.message }));
    });
    req.end();
  });
}

/** Network names from a `GET /api/v1/networks` body: an array, or an object holding one. */
export function networkNames(body: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const obj = parsed as Record<string, unknown> | null;
  const list = Array.isArray(parsed)
    ? parsed
    : [obj?.networks, obj?.items, obj?.data].find((v): v is unknown[] => Array.isArray(v));
  if (list === undefined) return undefined;
  return list.flatMap((n) =>
    typeof n === "string"
      ? [n]
      : typeof n === "object" && n !== null && typeof (n as { name?: unknown }).name === "string"
        ? [(n as { name: string }).name]
        : [],
  );
}
