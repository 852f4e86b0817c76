// The doctor's HTTP probe of the backend: one request with the main config's TLS and token
// settings (caFile, certFile, keyFile, tokenFile) and a timeout, through dockin-cni's own client
// (so the doctor sees what the plugin will see); never throws.
import { requestOnceWithConfig } from "../plugin/webhook.ts";

export interface BackendAuth {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  tokenFile?: string | undefined;
}

export type ProbeResult = { ok: true; status: number; body: string } | { ok: false; error: string };

/** One request to the backend through dockin-cni's own HTTP client, TLS and token handling. */
export async function probe(
  url: string,
  auth: BackendAuth,
  opts: { method?: string; timeoutMs: number },
): Promise<ProbeResult> {
  try {
    const reply = await requestOnceWithConfig(opts.method ?? "GET", url, {
      ...auth,
      timeoutMs: opts.timeoutMs,
      maxReplyBytes: 1 << 20,
    });
    return { ok: true, status: reply.status, body: reply.body };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
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
