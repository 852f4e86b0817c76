// Copies one store into another through the Store interface (SQLite to etcd, or back), then reads
// both again and compares everything: networks, policies, every pod record, every address held,
// and the allocation cursors. The target must be empty; the source should not be served meanwhile
// (stop the RM first: the verification catches a write that slipped in, but cannot undo it).
import { type Family, parseIP } from "../net/ip.ts";
import type { AllocationKey, PodChange } from "./allocate.ts";
import type { HistoryEvent } from "./history.ts";
import type { PodRecord } from "./model.ts";
import { missingNetworks } from "./rules.ts";
import { type Store, walkPods } from "./store.ts";

export interface MigrateReport {
  networks: number;
  policies: number;
  pods: number;
  addresses: number;
  cursors: number;
  /** Address history events. */
  events: number;
}

export interface MigrateOptions {
  /** Pods copied at once (default 32). */
  concurrency?: number;
  progress?: (line: string) => void;
}

/**
 * A pod name no client can create (namespaces start with a letter or digit): `verify` reads who
 * holds each address through read-only decisions on it, which write nothing.
 */
const PROBE = { namespace: ".dockin-migrate", name: "verify" };

function addressesOf(pod: PodRecord): AllocationKey[] {
  return pod.attachments.flatMap((att) =>
    att.addresses.flatMap((a) => {
      const value = parseIP(a.ip)?.value;
      return value === undefined ? [] : [{ network: att.network, family: a.family, value }];
    }),
  );
}

async function allPods(store: Store): Promise<PodRecord[]> {
  const out: PodRecord[] = [];
  for await (const pod of walkPods(store)) out.push(pod);
  return out;
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (i < items.length) {
        const item = items[i++] as T;
        await fn(item);
      }
    }),
  );
}

export async function migrate(from: Store, to: Store, options: MigrateOptions = {}): Promise<MigrateReport> {
  const say = options.progress ?? (() => {});
  const [networksThere, policiesThere, podsThere, eventsThere] = await Promise.all([
    to.listNetworks(),
    to.listPolicies(),
    to.countPods(),
    to.history({ limit: 1 }),
  ]);
  if (networksThere.length + policiesThere.length + podsThere + eventsThere.length > 0) {
    throw new Error(
      `the target ${to.description} is not empty (${networksThere.length} network(s), ${policiesThere.length} policy(ies), ${podsThere} pod(s)${eventsThere.length > 0 ? ", address history" : ""})`,
    );
  }

  const networks = await from.listNetworks();
  const policies = await from.listPolicies();
  // The target refuses a policy naming a missing network (older RMs could leave one): say so
  // before anything is written, rather than half-way.
  const names = new Set(networks.map((n) => n.name));
  const broken = policies.flatMap((p) => {
    const missing = missingNetworks(p, (n) => names.has(n));
    return missing === undefined ? [] : [`policy "${p.name}": ${missing.message}`];
  });
  if (broken.length > 0) {
    throw new Error(
      `the source ${from.description} has policies naming networks it does not have (${broken.join("; ")}); fix or delete those policies, then migrate again`,
    );
  }
  for (const n of networks) await to.putNetwork(n.name, () => n);
  say(`copied ${networks.length} network(s)`);
  for (const p of policies) await to.putPolicy(p.name, () => p);
  say(`copied ${policies.length} policy(ies)`);

  const pods = await allPods(from);
  let addresses = 0;
  let done = 0;
  await pool(pods, options.concurrency ?? 32, async (pod) => {
    const allocate = addressesOf(pod);
    addresses += allocate.length;
    const change: PodChange = { record: pod, allocate, release: [], cursors: [], copy: true };
    await to.updatePod(pod.namespace, pod.name, () => change);
    if (++done % 10_000 === 0) say(`copied ${done} of ${pods.length} pods`);
  });
  say(`copied ${pods.length} pod(s) holding ${addresses} address(es)`);

  const cursors = await from.cursors();
  await to.putCursors(cursors);

  let events = 0;
  for await (const page of historyPages(from)) {
    await to.importHistory(page);
    events += page.length;
    if (events % 100_000 < page.length) say(`copied ${events} history event(s)`);
  }
  say(`copied ${events} address history event(s)`);

  await verify(from, to);
  say("verified: both stores hold the same networks, policies, pods, addresses, cursors and history");
  return {
    networks: networks.length,
    policies: policies.length,
    pods: pods.length,
    addresses,
    cursors: cursors.length,
    events,
  };
}

/** A store's whole address history, newest first, a page at a time. */
async function* historyPages(store: Store, size = 1000): AsyncGenerator<HistoryEvent[]> {
  let after: string | undefined;
  for (;;) {
    const page = await store.history(after === undefined ? { limit: size } : { limit: size, after });
    if (page.length > 0) yield page;
    const last = page[page.length - 1];
    if (last === undefined || page.length < size) return;
    after = last.id;
  }
}

/** Compares two stores' histories page by page (both in id order), without holding either whole. */
async function compareHistory(a: Store, b: Store, problems: string[]): Promise<void> {
  const left = historyPages(a);
  const right = historyPages(b);
  let pending: HistoryEvent[] = [];
  let diffs = 0;
  const note = (text: string) => {
    if (++diffs <= 5) problems.push(text);
  };
  for await (const page of left) {
    for (const e of page) {
      if (pending.length === 0) pending = (await right.next()).value ?? [];
      const other = pending.shift();
      if (other === undefined) note(`history event ${e.id} missing from ${b.description}`);
      else if (other.id !== e.id)
        note(`history event ${e.id} missing from ${b.description} (found ${other.id})`);
      else if (canon(other) !== canon(e)) note(`history event ${e.id} differs`);
      if (diffs > 5) break;
    }
    if (diffs > 5) break;
  }
  if (diffs === 0 && (pending.length > 0 || !(await right.next()).done))
    note(`history events only in ${b.description}`);
  if (diffs > 5) problems.push("… and more history differences");
}

const canon = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? String(v) : v));

/** Reads both stores in full and throws listing the differences (the first few of each kind). */
export async function verify(a: Store, b: Store): Promise<void> {
  const problems: string[] = [];
  const compare = (what: string, left: Map<string, string>, right: Map<string, string>) => {
    const diffs: string[] = [];
    for (const [k, v] of left) {
      if (!right.has(k)) diffs.push(`${what} ${k} missing from ${b.description}`);
      else if (right.get(k) !== v) diffs.push(`${what} ${k} differs`);
    }
    for (const k of right.keys()) if (!left.has(k)) diffs.push(`${what} ${k} only in ${b.description}`);
    problems.push(...diffs.slice(0, 5));
    if (diffs.length > 5) problems.push(`… and ${diffs.length - 5} more ${what} difference(s)`);
  };
  const byKey = <T>(items: T[], key: (t: T) => string) => new Map(items.map((t) => [key(t), canon(t)]));
  const [na, nb, pa, pb, ua, ub, ca, cb, podsA, podsB] = await Promise.all([
    a.listNetworks(),
    b.listNetworks(),
    a.listPolicies(),
    b.listPolicies(),
    a.usage(),
    b.usage(),
    a.cursors(),
    b.cursors(),
    allPods(a),
    allPods(b),
  ]);
  compare(
    "network",
    byKey(na, (n) => n.name),
    byKey(nb, (n) => n.name),
  );
  compare(
    "policy",
    byKey(pa, (p) => p.name),
    byKey(pb, (p) => p.name),
  );
  const pool = (u: { network: string; family: Family }) => `${u.network}/IPv${u.family}`;
  compare("address count of", byKey(ua, pool), byKey(ub, pool));
  compare("cursor of", byKey(ca, pool), byKey(cb, pool));
  compare(
    "pod",
    byKey(podsA, (p) => `${p.namespace}/${p.name}`),
    byKey(podsB, (p) => `${p.namespace}/${p.name}`),
  );
  // Every address a pod lists is held by that pod, one by one (usage only counts them).
  const holders = new Map<string, string>();
  for (let i = 0; i < podsB.length; i += 1000) {
    const batch = podsB.slice(i, i + 1000);
    // One read-only decision per batch. A lookup the store has not loaded yet may throw; the
    // store loads it and runs the decision again, so keep going and collect every lookup at once.
    await b.updatePod(PROBE.namespace, PROBE.name, (_e, view) => {
      let pending: unknown;
      for (const pod of batch) {
        for (const k of addressesOf(pod)) {
          try {
            holders.set(
              `${k.network}/${k.family}/${k.value}`,
              view.owner(k.network, k.family, k.value) ?? "(nobody)",
            );
          } catch (err) {
            pending ??= err;
          }
        }
      }
      if (pending !== undefined) throw pending;
      return undefined;
    });
  }
  for (const pod of podsB) {
    for (const k of addressesOf(pod)) {
      const holder = holders.get(`${k.network}/${k.family}/${k.value}`);
      if (holder !== `${pod.namespace}/${pod.name}` && problems.length < 50) {
        problems.push(
          `address ${k.value} of network "${k.network}" is held by ${holder}, not ${pod.namespace}/${pod.name}`,
        );
      }
    }
  }
  await compareHistory(a, b, problems);
  if (problems.length > 0) {
    throw new Error(
      `verification of ${b.description} against ${a.description} failed:\n  ${problems.join("\n  ")}`,
    );
  }
}
