// What the RM does, independent of HTTP: networks, pods, policies, the webhook's answer and the
// release of gone pods. Every method validates its input and throws RmError; server.ts maps them.
import { formatIP } from "../net/ip.ts";
import { type PodRequest, planPod, recordOnly, releasePod } from "./allocate.ts";
import { RmError } from "./errors.ts";
import type { Network, NetworkSpec, PodRecord, Policy, Pool } from "./model.ts";
import { podMatches } from "./pod-match.ts";
import { matchPolicy } from "./policy.ts";
import { addressProblem, overlappingNetworks, poolSize, poolsOf } from "./pool.ts";
import { type PoolUsage, type Store, walkPods } from "./store.ts";
import { checkName, validateNetworkSpec, validatePodSpec, validatePolicySpec } from "./validate.ts";

/** A pool's figures in API replies: numbers, or decimal strings past 2^53 (large IPv6 ranges). */
type Count = number | string;
const count = (n: bigint): Count => (n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString());

export interface PoolFigures {
  size: Count;
  allocated: number;
  free: Count;
}

export type NetworkView = NetworkSpec &
  PoolFigures & { name: string; ipv6?: NetworkSpec["ipv6"] & PoolFigures; created: string; updated: string };

export interface AddressView {
  address: string;
  gateway?: string;
  fixed: boolean;
}

export interface AttachmentView {
  network: string;
  ifName: string;
  master: boolean;
  ip?: string;
  addresses: AddressView[];
}

export type PodView = Omit<PodRecord, "attachments"> & { networks: AttachmentView[] };

/** One entry of the webhook's `data` (the seed's format; `ips` for IPv6 addresses). */
export interface WebhookEntry {
  type: string;
  podIp?: string;
  subnetMask?: string;
  gateway?: string;
  ifName: string;
  master: boolean;
  ips?: { address: string; gateway?: string }[];
}

export interface WebhookQuery {
  podName: string;
  podNamespace: string;
  containerId?: string;
  node?: string;
}

export interface ReleaseResult {
  released: boolean;
  reason: string;
  pod?: PodView;
}

const v4Mask = (length: number): string =>
  formatIP({ family: 4, value: ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - length)) - 1n) });

interface CachedNetwork {
  at: number;
  network: Network | undefined;
  pools: readonly Pool[];
}

export interface ServiceOptions {
  now?: () => string;
  /**
   * How long the webhook may answer from a network read earlier (ms; default 1000). Writes through
   * this RM drop the cache at once; the bound matters only for writes through another RM sharing
   * the store. 0 reads the network on every query.
   */
  networkCacheMs?: number;
}

/** Whether a pod record has an attachment to `network`. */
function attachedTo(record: PodRecord, network: string): boolean {
  for (const a of record.attachments) if (a.network === network) return true;
  return false;
}

/** Whether a pod record holds `address` (written as the API writes it, without a prefix length). */
function holds(record: PodRecord, address: string): boolean {
  for (const a of record.attachments) for (const x of a.addresses) if (x.ip === address) return true;
  return false;
}

export class RmService {
  readonly store: Store;
  private readonly now: () => string;
  private readonly cacheMs: number;
  private readonly networks = new Map<string, CachedNetwork>();
  /** The webhook's `data` as JSON per (frozen, shared) pod record; dropped with the network cache. */
  private answers = new WeakMap<PodRecord, { at: number; json: string }>();

  constructor(store: Store, options: ServiceOptions = {}) {
    this.store = store;
    this.now = options.now ?? (() => new Date().toISOString());
    this.cacheMs = options.networkCacheMs ?? 1000;
  }

  /** A network and its parsed pools, for the webhook's hot path. */
  private async cachedNetwork(name: string): Promise<CachedNetwork> {
    const now = Date.now();
    const hit = this.networks.get(name);
    if (hit !== undefined && now - hit.at < this.cacheMs) return hit;
    const network = await this.store.getNetwork(name);
    const entry = { at: now, network, pools: network === undefined ? [] : poolsOf(network.spec) };
    if (this.networks.size > 10_000) this.networks.clear();
    this.networks.set(name, entry);
    return entry;
  }

  // ---- networks

  async putNetwork(name: string, body: unknown): Promise<{ network: NetworkView; created: boolean }> {
    checkName("network", name);
    const spec = validateNetworkSpec(body);
    const pools = poolsOf(spec);
    const now = this.now();
    this.networks.delete(name);
    this.answers = new WeakMap();
    const { network, created } = await this.store.putNetwork(name, (existing, allocated, others) => {
      const overlaps = spec.allowOverlap ? [] : overlappingNetworks(spec, others);
      if (overlaps.length > 0) {
        throw new RmError(
          "Conflict",
          `network "${name}" (${[spec.subnet, spec.ipv6?.subnet].filter(Boolean).join(", ")}) overlaps network ${overlaps.join(", ")}: ` +
            'choose a subnet of its own, or set "allowOverlap": true (dockin networks create --allow-overlap) when the networks are separate L2 domains',
        );
      }
      const misfits: string[] = [];
      for (const a of allocated) {
        const pool = pools.find((p) => p.family === a.family);
        const ip = formatIP({ family: a.family, value: a.value });
        const problem =
          pool === undefined
            ? `the network would have no IPv${a.family} subnet`
            : addressProblem(pool, a.value);
        if (problem !== undefined) misfits.push(`${ip} (pod ${a.owner}): ${problem}`);
      }
      if (misfits.length > 0) {
        const more = misfits.length > 5 ? ` and ${misfits.length - 5} more` : "";
        throw new RmError(
          "Conflict",
          `network "${name}" cannot change: allocated addresses would not fit: ${misfits.slice(0, 5).join("; ")}${more}`,
        );
      }
      return { name, spec, created: existing?.created ?? now, updated: now };
    });
    this.networks.delete(name);
    this.answers = new WeakMap();
    return { network: this.networkView(network, await this.store.usage()), created };
  }

  private networkView(network: Network, usage: PoolUsage[]): NetworkView {
    const figures = (pool: Pool): PoolFigures => {
      const allocated =
        usage.find((u) => u.network === network.name && u.family === pool.family)?.allocated ?? 0;
      const size = poolSize(pool);
      const free = size - BigInt(allocated);
      return { size: count(size), allocated, free: count(free < 0n ? 0n : free) };
    };
    const [primary, v6] = poolsOf(network.spec);
    const { ipv6, ...top } = network.spec;
    const view: NetworkView = {
      name: network.name,
      ...top,
      ...figures(primary as Pool),
      created: network.created,
      updated: network.updated,
    };
    if (ipv6 !== undefined && v6 !== undefined) view.ipv6 = { ...ipv6, ...figures(v6) };
    return view;
  }

  async getNetwork(name: string): Promise<NetworkView> {
    checkName("network", name);
    const network = await this.store.getNetwork(name);
    if (network === undefined) throw new RmError("NotFound", `network "${name}" not found`);
    return this.networkView(network, await this.store.usage());
  }

  async listNetworks(): Promise<NetworkView[]> {
    const [networks, usage] = await Promise.all([this.store.listNetworks(), this.store.usage()]);
    return networks.map((n) => this.networkView(n, usage));
  }

  /** Deletes a network; the store refuses it (409) while a policy names it or an address is held. */
  async deleteNetwork(name: string): Promise<void> {
    checkName("network", name);
    this.networks.delete(name);
    this.answers = new WeakMap();
    await this.store.deleteNetwork(name);
    this.networks.delete(name);
    this.answers = new WeakMap();
  }

  // ---- pods

  /** A pod as the API shows it: its addresses with prefix lengths and gateways. */
  async podView(record: PodRecord, cache = new Map<string, Network | undefined>()): Promise<PodView> {
    const { attachments, ...rest } = record;
    const networks: AttachmentView[] = [];
    for (const att of attachments) {
      if (!cache.has(att.network)) cache.set(att.network, await this.store.getNetwork(att.network));
      const network = cache.get(att.network);
      const pools = network === undefined ? [] : poolsOf(network.spec);
      const addresses = att.addresses.map((a) => {
        const pool = pools.find((p) => p.family === a.family);
        const view: AddressView = {
          address: pool === undefined ? a.ip : `${a.ip}/${pool.subnet.length}`,
          fixed: a.fixed,
        };
        if (pool?.gateway !== undefined) view.gateway = formatIP(pool.gateway);
        return view;
      });
      const item: AttachmentView = {
        network: att.network,
        ifName: att.ifName,
        master: att.master,
        addresses,
      };
      const first = att.addresses[0];
      if (first !== undefined) item.ip = first.ip;
      networks.push(item);
    }
    return { ...rest, networks };
  }

  async putPod(namespace: string, name: string, body: unknown): Promise<{ pod: PodView; created: boolean }> {
    checkName("namespace", namespace);
    checkName("pod", name);
    const spec = validatePodSpec(body);
    let created = false;
    const record = await this.store.updatePod(namespace, name, (existing, view) => {
      created = existing === undefined;
      // A pod written through the admin API belongs to the admin from then on: sticky, no policy.
      const request: PodRequest = { attachments: spec.networks, sticky: true };
      return planPod(namespace, name, existing, request, view, this.now());
    });
    if (record === undefined)
      throw new RmError("Internal", `pod ${namespace}/${name} vanished while written`);
    return { pod: await this.podView(record), created };
  }

  async getPod(namespace: string, name: string): Promise<PodView> {
    checkName("namespace", namespace);
    checkName("pod", name);
    const record = await this.store.getPod(namespace, name);
    if (record === undefined) throw new RmError("NotFound", `pod ${namespace}/${name} not found`);
    return this.podView(record);
  }

  /**
   * A page of pods in the listing's order, after `after`; with `network`, only the pods attached
   * to it (the store read on from `after` until the page is full: a walk through every page reads
   * each pod about once).
   */
  async listPods(
    options: { namespace?: string; after?: string; limit?: number; network?: string } = {},
  ): Promise<PodView[]> {
    if (options.namespace !== undefined) checkName("namespace", options.namespace);
    const cache = new Map<string, Network | undefined>();
    const { network, ...page } = options;
    if (network === undefined) {
      const out: PodView[] = [];
      for (const r of await this.store.listPods(page)) out.push(await this.podView(r, cache));
      return out;
    }
    const limit = options.limit ?? 1000;
    const out: PodView[] = [];
    // Read in chunks near the page's size: a walk of small pages does not re-read 1,000 each time.
    for await (const r of walkPods(this.store, page, Math.min(1000, Math.max(limit, 100)))) {
      if (!attachedTo(r, network)) continue;
      out.push(await this.podView(r, cache));
      if (out.length === limit) break;
    }
    return out;
  }

  /**
   * The pods a search names (podMatches), in the listing's order: `limit` of them from `offset`,
   * and how many match in all; `network` and `address` keep only the pods attached to that network
   * or holding that address. The store is read a page at a time.
   */
  async searchPods(
    q: string,
    options: { namespace?: string; network?: string; address?: string; offset: number; limit: number },
  ): Promise<{ items: PodView[]; total: number }> {
    if (options.namespace !== undefined) checkName("namespace", options.namespace);
    const cache = new Map<string, Network | undefined>();
    const items: PodView[] = [];
    // Without search text every pod matches: only the page's own pods need their view.
    const everyPod = q.trim() === "";
    let total = 0;
    const scope = options.namespace === undefined ? {} : { namespace: options.namespace };
    for await (const record of walkPods(this.store, scope)) {
      if (options.network !== undefined && !attachedTo(record, options.network)) continue;
      if (options.address !== undefined && !holds(record, options.address)) continue;
      const inPage = total >= options.offset && items.length < options.limit;
      if (everyPod) {
        if (inPage) items.push(await this.podView(record, cache));
        total++;
        continue;
      }
      const view = await this.podView(record, cache);
      if (!podMatches(view, q)) continue;
      if (inPage) items.push(view);
      total++;
    }
    return { items, total };
  }

  /** Deletes a pod and releases its addresses (the admin's DELETE: sticky or not). */
  async deletePod(namespace: string, name: string): Promise<PodView> {
    checkName("namespace", namespace);
    checkName("pod", name);
    let gone: PodRecord | undefined;
    await this.store.updatePod(namespace, name, (existing) => {
      gone = existing;
      return existing === undefined ? undefined : releasePod(existing);
    });
    if (gone === undefined) throw new RmError("NotFound", `pod ${namespace}/${name} not found`);
    return this.podView(gone);
  }

  /**
   * The pod is gone from a host (the plugin's final DEL, or an operator). A pod from a releasing
   * policy is deleted and its addresses freed; a sticky one (admin pods, sticky policies) keeps
   * them and is only marked detached. A `containerId` that is not the pod's current sandbox is a
   * stale report (a newer sandbox already asked) and changes nothing. Idempotent.
   */
  async releasePod(namespace: string, name: string, containerId?: string): Promise<ReleaseResult> {
    checkName("namespace", namespace);
    checkName("pod", name);
    let result: ReleaseResult = { released: false, reason: "unknown pod" };
    const record = await this.store.updatePod(namespace, name, (existing) => {
      if (existing === undefined) {
        result = { released: false, reason: "unknown pod" };
        return undefined;
      }
      if (
        containerId !== undefined &&
        existing.containerId !== undefined &&
        existing.containerId !== containerId
      ) {
        result = { released: false, reason: `stale: the pod is attached to sandbox ${existing.containerId}` };
        return undefined;
      }
      if (existing.sticky) {
        result = { released: false, reason: "sticky: addresses kept for the pod's return" };
        if (existing.containerId === undefined) return undefined;
        const { containerId: _gone, ...rest } = existing;
        return recordOnly({ ...rest, updated: this.now() });
      }
      result = { released: true, reason: "released" };
      return releasePod(existing);
    });
    if (record !== undefined) result.pod = await this.podView(record);
    return result;
  }

  /**
   * Garbage collection against the pods that are still valid (on one node, or everywhere): every
   * releasing-policy pod not listed (and, with `node`, last attached on that node) is released.
   * With `listedAt` (when the caller read its list, on the RM's clock), a pod whose record changed
   * at or after it is kept: it may have started after the list was read, and is in use. `released`
   * lists each such pod that is gone afterwards, once (one released by another caller at the same
   * moment too: its addresses are free all the same).
   */
  async gc(body: unknown): Promise<{ released: string[] }> {
    const errors: string[] = [];
    const valid = new Set<string>();
    let node: string | undefined;
    let listedAt: number | undefined;
    if (typeof body !== "object" || body === null || Array.isArray(body))
      errors.push("(body): must be a JSON object");
    else {
      const b = body as Record<string, unknown>;
      for (const key of Object.keys(b))
        if (key !== "node" && key !== "pods" && key !== "listedAt") errors.push(`${key}: unknown field`);
      if (b.listedAt !== undefined) {
        // RFC 3339 with its zone: a time without one would be read in the RM's own zone.
        const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
        const t =
          typeof b.listedAt === "string" && rfc3339.test(b.listedAt) ? Date.parse(b.listedAt) : Number.NaN;
        if (Number.isNaN(t)) {
          errors.push(
            `listedAt: ${JSON.stringify(b.listedAt)} is not an RFC 3339 time with its zone; give when the list was read, on the RM's clock (/healthz's time), e.g. "2026-11-30T14:05:00.000Z"`,
          );
        } else if (t > Date.parse(this.now())) {
          // Later than now would keep nothing of what it should: the race it closes, open again.
          errors.push(
            `listedAt: ${String(b.listedAt)} is later than the RM's clock (${this.now()}); take the time from the RM (/healthz's time) just before reading the list`,
          );
        } else listedAt = t;
      }
      if (b.node !== undefined) {
        if (typeof b.node !== "string" || b.node === "") errors.push("node: must be a non-empty string");
        else node = b.node;
      }
      if (!Array.isArray(b.pods)) errors.push("pods: is required: the list of valid pods ([] releases all)");
      else
        for (const [i, p] of (b.pods as unknown[]).entries()) {
          const o = p as Record<string, unknown> | null;
          if (typeof p === "string" && p.includes("/")) valid.add(p);
          else if (typeof o?.namespace === "string" && typeof o.name === "string")
            valid.add(`${o.namespace}/${o.name}`);
          else errors.push(`pods[${i}]: must be "namespace/name" or {"namespace", "name"}`);
        }
    }
    if (errors.length > 0) throw new RmError("BadRequest", `invalid gc request: ${errors.join("; ")}`);
    const released: string[] = [];
    const changedSince = (p: PodRecord) => listedAt !== undefined && Date.parse(p.updated) >= listedAt;
    for await (const pod of walkPods(this.store)) {
      const key = `${pod.namespace}/${pod.name}`;
      if (pod.sticky || valid.has(key) || (node !== undefined && pod.node !== node) || changedSince(pod))
        continue;
      // Checked again inside the transaction: the pod may have been re-attached meanwhile. The
      // decision stays pure (the store may run it more than once); what it did is read from
      // what the store returns: the pod is gone once released, and still there when kept.
      const left = await this.store.updatePod(pod.namespace, pod.name, (existing) =>
        existing === undefined ||
        existing.sticky ||
        existing.containerId !== pod.containerId ||
        changedSince(existing)
          ? undefined
          : releasePod(existing, { as: "gc" }),
      );
      if (left === undefined) released.push(key);
    }
    return { released };
  }

  // ---- policies

  async putPolicy(name: string, body: unknown): Promise<{ policy: Policy; created: boolean }> {
    checkName("policy", name);
    const spec = validatePolicySpec(body);
    const now = this.now();
    // The store checks that every network named exists, in the transaction that writes (404).
    return this.store.putPolicy(
      name,
      (existing): Policy => ({
        name,
        ...spec,
        created: existing?.created ?? now,
        updated: now,
      }),
    );
  }

  async getPolicy(name: string): Promise<Policy> {
    checkName("policy", name);
    const policy = await this.store.getPolicy(name);
    if (policy === undefined) throw new RmError("NotFound", `policy "${name}" not found`);
    return policy;
  }

  listPolicies(): Promise<Policy[]> {
    return this.store.listPolicies();
  }

  async deletePolicy(name: string): Promise<void> {
    checkName("policy", name);
    if (!(await this.store.deletePolicy(name))) throw new RmError("NotFound", `policy "${name}" not found`);
  }

  // ---- the webhook

  /**
   * The networks of a pod for the plugin. A registered pod answers from its record (noting a new
   * sandbox); an unknown pod that a policy matches is created, its addresses allocated, in one
   * store operation; any other pod is a 404.
   */
  async webhook(q: WebhookQuery): Promise<WebhookEntry[]> {
    return JSON.parse(await this.webhookJson(q)) as WebhookEntry[];
  }

  /** The webhook's `data` array as JSON text (what the server sends; cached per pod record). */
  async webhookJson(q: WebhookQuery): Promise<string> {
    checkName("namespace", q.podNamespace);
    checkName("pod", q.podName);
    let record = await this.store.getPod(q.podNamespace, q.podName);
    const moved = (r: PodRecord): boolean =>
      (q.containerId !== undefined && r.containerId !== q.containerId) ||
      (q.node !== undefined && r.node !== q.node);
    if (record === undefined || moved(record)) {
      const policy =
        record === undefined
          ? matchPolicy(await this.store.listPolicies(), q.podNamespace, q.podName)
          : undefined;
      if (record === undefined && policy === undefined) {
        throw new RmError(
          "NotFound",
          `pod ${q.podNamespace}/${q.podName} is not registered and no policy matches it; register it with PUT /api/v1/pods/${q.podNamespace}/${q.podName} or add a policy`,
        );
      }
      record = await this.store.updatePod(q.podNamespace, q.podName, (existing, view) => {
        const now = this.now();
        if (existing !== undefined) {
          if (!moved(existing)) return undefined;
          const next: PodRecord = { ...existing, updated: now };
          if (q.containerId !== undefined) next.containerId = q.containerId;
          if (q.node !== undefined) next.node = q.node;
          return recordOnly(next);
        }
        if (policy === undefined) return undefined;
        const request: PodRequest = {
          attachments: policy.networks,
          policy: policy.name,
          sticky: policy.sticky,
        };
        if (q.containerId !== undefined) request.containerId = q.containerId;
        if (q.node !== undefined) request.node = q.node;
        return planPod(q.podNamespace, q.podName, undefined, request, view, now);
      });
      if (record === undefined) throw new RmError("NotFound", `pod ${q.podNamespace}/${q.podName} not found`);
    }
    const now = Date.now();
    const hit = this.answers.get(record);
    if (hit !== undefined && now - hit.at < this.cacheMs) return hit.json;
    const json = JSON.stringify(await this.webhookEntries(record));
    if (Object.isFrozen(record)) this.answers.set(record, { at: now, json });
    return json;
  }

  private async webhookEntries(record: PodRecord): Promise<WebhookEntry[]> {
    const entries: WebhookEntry[] = [];
    for (const att of record.attachments) {
      const { network, pools } = await this.cachedNetwork(att.network);
      if (network === undefined) {
        throw new RmError(
          "Internal",
          `pod ${record.namespace}/${record.name}: network "${att.network}" is missing`,
        );
      }
      let v4: { podIp: string; subnetMask: string; gateway: string } | undefined;
      const ips: { address: string; gateway?: string }[] = [];
      for (const a of att.addresses) {
        const pool = pools.find((p) => p.family === a.family);
        if (pool === undefined) continue;
        const gateway = pool.gateway === undefined ? undefined : formatIP(pool.gateway);
        if (a.family === 4 && v4 === undefined) {
          v4 = { podIp: a.ip, subnetMask: v4Mask(pool.subnet.length), gateway: gateway ?? "" };
        } else {
          const item: { address: string; gateway?: string } = { address: `${a.ip}/${pool.subnet.length}` };
          if (gateway !== undefined) item.gateway = gateway;
          ips.push(item);
        }
      }
      // The seed's key order: type, podIp, subnetMask, gateway, ifName, master (then ips).
      const entry: WebhookEntry = { type: att.network, ...v4, ifName: att.ifName, master: att.master };
      if (ips.length > 0) entry.ips = ips;
      entries.push(entry);
    }
    return entries;
  }
}
