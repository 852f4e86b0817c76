// The history endpoints (server.ts routes them): GET /api/v1/history pages through events, newest
// first; GET /api/v1/addresses/{ip} answers who held an address at a time (or now) and shows its
// latest events. Query parameters are checked here, each bad one named with its fix.
import { formatIP, parseIP } from "../net/ip.ts";
import { RmError } from "./errors.ts";
import { type HistoryEvent, type HistoryQuery, HOLDING, isEventId } from "./history.ts";
import type { Store } from "./store.ts";
import { namespaceProblem, networkNameProblem, podNameProblem } from "./validate.ts";

/** Events per page of GET /api/v1/history without `limit`, and the most one page may hold. */
export const HISTORY_PAGE = 100;
export const HISTORY_MAX_PAGE = 1000;
/** Events GET /api/v1/addresses/{ip} shows. */
export const ADDRESS_EVENTS = 20;

const TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})$/;

const bad = (param: string, problem: string): RmError =>
  new RmError("BadRequest", `invalid query: ${param}: ${problem}`);

/** An RFC 3339 time with its zone (Z or an offset), in ms since the epoch. */
export function parseTime(param: string, text: string): number {
  // An unescaped '+' of an offset arrives as a space ("14:05:00 01:00"): read it as the '+' it was.
  const fixed = text.replace(/ (\d{2}:\d{2})$/, "+$1");
  const ms = TIME.test(fixed) ? Date.parse(fixed.replace(" ", "T")) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw bad(
      param,
      `"${text}" is not an RFC 3339 time with a zone (e.g. 2026-11-30T14:05:00Z or 2026-11-30T14:05:00+01:00)`,
    );
  }
  return ms;
}

/** An integer query parameter from `min` to `max`; `fallback` when it is absent. */
export function parseInteger(
  query: URLSearchParams,
  param: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = query.get(param);
  const n = text === null ? fallback : Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw bad(param, `"${text}" is not an integer from ${min} to ${max}`);
  }
  return n;
}

/** An address without prefix, in canonical text. */
export function parseAddress(param: string, text: string): string {
  const ip = parseIP(text);
  if (ip === undefined) {
    const hint = text.includes("/") ? " (give the address without its prefix length)" : "";
    throw bad(param, `"${text}" is not an IPv4 or IPv6 address${hint}`);
  }
  return formatIP(ip);
}

function checkParams(query: URLSearchParams, known: readonly string[]): void {
  for (const key of new Set(query.keys())) {
    if (!known.includes(key)) throw bad(key, `unknown parameter (expected ${known.join(", ")})`);
    if (query.getAll(key).length > 1) throw bad(key, "given more than once");
  }
}

/** Parses the query of GET /api/v1/history. */
export function parseHistoryQuery(query: URLSearchParams): HistoryQuery {
  checkParams(query, ["address", "pod", "network", "since", "until", "limit", "after"]);
  const q: HistoryQuery = { limit: parseInteger(query, "limit", HISTORY_PAGE, 1, HISTORY_MAX_PAGE) };
  const address = query.get("address");
  if (address !== null) q.address = parseAddress("address", address);
  const pod = query.get("pod");
  if (pod !== null) {
    const slash = pod.indexOf("/");
    const namespace = pod.slice(0, slash);
    const name = pod.slice(slash + 1);
    const problem =
      slash < 0 ? `"${pod}" is not namespace/name` : (namespaceProblem(namespace) ?? podNameProblem(name));
    if (problem !== undefined) throw bad("pod", `${problem} (e.g. pod=shop/web-0)`);
    q.pod = { namespace, name };
  }
  const network = query.get("network");
  if (network !== null) {
    const problem = networkNameProblem(network);
    if (problem !== undefined) throw bad("network", problem);
    q.network = network;
  }
  const since = query.get("since");
  if (since !== null) q.since = parseTime("since", since);
  const until = query.get("until");
  if (until !== null) q.until = parseTime("until", until);
  if (q.since !== undefined && q.until !== undefined && q.since > q.until)
    throw bad("until", `"${until}" is before since "${since}"; swap them`);
  const after = query.get("after");
  if (after !== null) {
    if (!isEventId(after))
      throw bad("after", `"${after}" is not an event id (pass the "next" of the previous page)`);
    q.after = after;
  }
  return q;
}

export interface HistoryPage {
  items: HistoryEvent[];
  next: string | null;
}

/** One page of events; `next` continues it (null on the last page). */
export async function historyPage(store: Store, query: HistoryQuery): Promise<HistoryPage> {
  // One more than asked: a full page says there is another only when there is.
  const found = await store.history({ ...query, limit: query.limit + 1 });
  const items = found.slice(0, query.limit);
  const last = items[items.length - 1];
  return { items, next: found.length > query.limit && last !== undefined ? last.id : null };
}

export interface Holder {
  network: string;
  namespace: string;
  name: string;
  containerId: string | null;
  node: string | null;
  since: string;
}

export interface AddressReply {
  address: string;
  at: string | null;
  holder: Holder | null;
  history: HistoryEvent[];
}

/**
 * Who held an address at `at` (ms; undefined: now): in each network, the latest event of the address
 * at or before then says whether a pod held it; of those holding, the most recent. `since` is the
 * time of that event (the holder's sandbox and node are as of then).
 */
export async function addressAt(store: Store, text: string, query: URLSearchParams): Promise<AddressReply> {
  checkParams(query, ["at"]);
  const atText = query.get("at");
  const address = parseAddress("ip", text);
  const at = atText === null ? undefined : parseTime("at", atText);
  const base: HistoryQuery = at === undefined ? { address, limit: 500 } : { address, until: at, limit: 500 };
  const latest = new Map<string, HistoryEvent>();
  const history: HistoryEvent[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.history(after === undefined ? base : { ...base, after });
    for (const e of page) {
      if (history.length < ADDRESS_EVENTS) history.push(e);
      if (!latest.has(e.network)) latest.set(e.network, e);
    }
    const last = page[page.length - 1];
    if (last === undefined || page.length < base.limit) break;
    after = last.id;
  }
  let holder: Holder | null = null;
  for (const e of latest.values()) {
    if (!HOLDING.has(e.event) || (holder !== null && holder.since >= e.time)) continue;
    const { network, namespace, name, containerId, node } = e;
    holder = { network, namespace, name, containerId, node, since: e.time };
  }
  return { address, at: at === undefined ? null : new Date(at).toISOString(), holder, history };
}
