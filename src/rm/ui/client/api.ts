// The console's client of /api/v1: the same endpoints the CLI uses, with the session cookie and
// the page's CSRF token on writes. Errors keep the API's own message, split by field path.
import type { HistoryEvent } from "../../history.ts";
import type { AddressReply } from "../../history-api.ts";
import { bareAddress } from "../../pod-match.ts";

export interface NetworkView {
  name: string;
  subnet: string;
  gateway?: string;
  rangeStart?: string;
  rangeEnd?: string;
  exclude?: string[];
  size: number | string;
  allocated: number;
  free: number | string;
  ipv6?: Omit<NetworkView, "name" | "ipv6" | "created" | "updated">;
  created: string;
  updated: string;
}

export interface PodView {
  namespace: string;
  name: string;
  policy?: string;
  sticky: boolean;
  containerId?: string;
  node?: string;
  created: string;
  updated: string;
  networks: {
    network: string;
    ifName: string;
    master: boolean;
    ip?: string;
    addresses: { address: string; gateway?: string; fixed: boolean }[];
  }[];
}

export interface AttachmentRequest {
  network: string;
  ifName?: string;
  master?: boolean;
  ip?: string;
  ips?: string[];
}

export interface Policy {
  name: string;
  namespace?: string;
  podPrefix?: string;
  networks: { network: string; ifName?: string; master?: boolean }[];
  sticky: boolean;
  priority: number;
}

// The history endpoints' replies: the server's own types (type-only: nothing of the server is
// bundled).
export type { HistoryEvent } from "../../history.ts";
export type { AddressReply as AddressAnswer } from "../../history-api.ts";

/** A failed API call: the reply's {code, reason, message}, with the problems by field path. */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  /** Field path (e.g. "subnet", "networks[0].ip") -> its problems. */
  readonly fields: Map<string, string[]>;

  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.fields = fieldProblems(message);
  }

  /** Whether the endpoint itself is missing (an RM that predates it), not the object asked for. */
  get noEndpoint(): boolean {
    return this.status === 404 && this.message.startsWith("no such endpoint");
  }
}

const PATH = /^(\(body\)|[A-Za-z][\w]*(?:\.[A-Za-z]\w*|\[\d+\])*): (.*)$/s;

/**
 * The API's validation message "invalid network: subnet: …; gateway: …" split by field path.
 * A problem's own text may hold "; " ("unknown field; did you mean …"): a part that does not start
 * with a path belongs to the one before it.
 */
export function fieldProblems(message: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const m = /^invalid [\w ]+?: (.*)$/s.exec(message);
  if (m === null) return out;
  let last: string[] | undefined;
  for (const part of (m[1] ?? "").split("; ")) {
    const p = PATH.exec(part);
    if (p === null) {
      if (last !== undefined) last[last.length - 1] += `; ${part}`;
      continue;
    }
    const path = p[1] ?? "";
    last = out.get(path) ?? [];
    last.push(p[2] ?? "");
    out.set(path, last);
  }
  return out;
}

const csrf = (): string => document.querySelector<HTMLMetaElement>('meta[name="dockin-csrf"]')?.content ?? "";

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") headers["x-dockin-csrf"] = csrf();
  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const o = (parsed ?? {}) as { reason?: string; message?: string };
    if (res.status === 401) location.assign("/ui/login");
    throw new ApiError(res.status, o.reason ?? res.statusText, o.message ?? (text || res.statusText));
  }
  return parsed as T;
}

export const enc = encodeURIComponent;

/** The address of a pod's "10.250.0.4/16" (the API gives each address with its prefix length). */
export const bare = bareAddress;

/**
 * A page of the pods a search names, and how many match in all: the RM filters (`GET
 * /api/v1/pods?q=`, the predicate of src/rm/pod-match.ts), so a page never fetches every pod.
 */
export async function searchPods(
  q: string,
  offset = 0,
  limit = 1000,
  only: { network?: string; address?: string } = {},
): Promise<{ items: PodView[]; total: number }> {
  const query = new URLSearchParams({ q, offset: String(offset), limit: String(limit), ...only });
  return api<{ items: PodView[]; total: number }>("GET", `/api/v1/pods?${query}`);
}

/** Every pod attached to `network` (the RM filters), through the listing's pages. */
export const podsOn = (network: string): Promise<PodView[]> => listing(`network=${enc(network)}&`);

/** Every pod, through the listing's pages (what an address map needs). */
export const allPods = (): Promise<PodView[]> => listing("");

/**
 * Every pod of a plain listing (`filter`: its query's own parameters, each ending in "&"), 1000 at
 * a time from where the last page ended, so that the RM reads each pod once.
 */
async function listing(filter: string): Promise<PodView[]> {
  const out: PodView[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await api<{ items: PodView[]; next?: string }>(
      "GET",
      `/api/v1/pods?${filter}limit=1000${after === undefined ? "" : `&after=${enc(after)}`}`,
    );
    out.push(...page.items);
    if (page.next === undefined || page.items.length === 0) return out;
    after = page.next;
  }
}

/** Pages of history events, newest first, at most `max` of them; undefined when the RM has no history. */
export async function history(query: Record<string, string>, max = 500): Promise<HistoryEvent[] | undefined> {
  const out: HistoryEvent[] = [];
  let after: string | null = null;
  try {
    do {
      const q = new URLSearchParams({ ...query, limit: String(Math.min(200, max - out.length)) });
      if (after !== null) q.set("after", after);
      const page: { items: HistoryEvent[]; next: string | null } = await api("GET", `/api/v1/history?${q}`);
      out.push(...page.items);
      after = page.items.length === 0 ? null : (page.next ?? null);
    } while (after !== null && out.length < max);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
  return out;
}

/** Who holds (or held at `at`) an address; undefined when the RM has no history endpoint. */
export async function addressAt(ip: string, at?: string): Promise<AddressReply | undefined> {
  try {
    return await api<AddressReply>(
      "GET",
      `/api/v1/addresses/${enc(ip)}${at === undefined ? "" : `?at=${enc(at)}`}`,
    );
  } catch (err) {
    if (err instanceof ApiError && err.noEndpoint) return undefined;
    throw err;
  }
}

export const NO_HISTORY = "history not available on this RM";
