// The RM's records (networks, pods, policies) and the validation of what clients send, done once at
// the edge: every function here turns untrusted JSON into a normalized, checked value or throws a
// 400 that lists every problem with its field path.
import { ifNameProblem } from "../cni/env.ts";
import {
  contains,
  type Family,
  formatIP,
  formatPrefix,
  type IP,
  lastAddress,
  networkOf,
  type Prefix,
  parseIP,
  parsePrefix,
} from "../net/ip.ts";
import { FieldErrors, throwIfInvalid } from "./errors.ts";

/** One address pool of a network as the client writes it (canonical forms once validated). */
export interface PoolSpec {
  subnet: string;
  gateway?: string;
  rangeStart?: string;
  rangeEnd?: string;
  exclude?: string[];
}

/**
 * A network: the webhook's `type`. The top-level pool is IPv4 or IPv6; a dual-stack network adds
 * an IPv6 pool under `ipv6` (allowed only when the top-level subnet is IPv4).
 */
export interface NetworkSpec extends PoolSpec {
  ipv6?: PoolSpec;
  /**
   * The network may share addresses with other networks (separate L2 domains reusing a range);
   * without it, a subnet overlapping another network's is refused. Kept only when true.
   */
  allowOverlap?: true;
}

export interface Network {
  name: string;
  spec: NetworkSpec;
  created: string;
  updated: string;
}

/** A pool parsed for arithmetic: `start`..`end` is the allocation range, `reserved` never handed out. */
export interface Pool {
  family: Family;
  subnet: Prefix;
  gateway: IP | undefined;
  start: bigint;
  end: bigint;
  /** The network and broadcast addresses, the gateway and the excluded addresses. */
  reserved: Set<bigint>;
}

export interface Address {
  family: Family;
  /** Canonical text of the address, without prefix length. */
  ip: string;
  /** Requested by the client (kept as asked) rather than allocated from the range. */
  fixed: boolean;
}

export interface Attachment {
  network: string;
  ifName: string;
  master: boolean;
  addresses: Address[];
}

export interface PodRecord {
  namespace: string;
  name: string;
  attachments: Attachment[];
  /** The policy that created the pod; absent for pods registered through the admin API. */
  policy?: string;
  /** Kept when the pod is gone (admin pods and sticky policies); released otherwise. */
  sticky: boolean;
  /** The sandbox that last asked for the pod's networks (the webhook's containerId), if any. */
  containerId?: string;
  node?: string;
  created: string;
  updated: string;
}

/** One attachment as a client asks for it (a pod PUT or a policy). */
export interface AttachmentRequest {
  network: string;
  ifName?: string;
  master?: boolean;
  /** Fixed addresses, at most one per family. */
  ips: string[];
}

export interface PodSpec {
  networks: AttachmentRequest[];
}

export interface Policy {
  name: string;
  namespace?: string;
  podPrefix?: string;
  networks: AttachmentRequest[];
  sticky: boolean;
  priority: number;
  created: string;
  updated: string;
}

export type PolicySpec = Omit<Policy, "name" | "created" | "updated">;

const bits = (family: Family): number => (family === 4 ? 32 : 128);

const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const POD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
const NAMESPACE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const PREFIX = /^[A-Za-z0-9_.-]{0,252}$/;

export function networkNameProblem(name: string): string | undefined {
  return NETWORK_NAME.test(name)
    ? undefined
    : `"${name}" is not a valid network name (letters, digits, '_', '.', '-', at most 63, starting with a letter or digit)`;
}

export function podNameProblem(name: string): string | undefined {
  return POD_NAME.test(name)
    ? undefined
    : `"${name}" is not a valid pod name (letters, digits, '_', '.', '-', at most 253, starting with a letter or digit)`;
}

export function namespaceProblem(name: string): string | undefined {
  return NAMESPACE.test(name)
    ? undefined
    : `"${name}" is not a valid namespace (letters, digits, '_', '.', '-', at most 63, starting with a letter or digit)`;
}

/** Throws a 400 when a name from a URL path is invalid. */
export function checkName(kind: "network" | "pod" | "namespace" | "policy", name: string): void {
  const problem =
    kind === "pod"
      ? podNameProblem(name)
      : kind === "namespace"
        ? namespaceProblem(name)
        : networkNameProblem(name);
  if (problem === undefined) return;
  const errors = new FieldErrors();
  errors.add(kind === "policy" ? "name" : kind, problem.replace("network name", `${kind} name`));
  throwIfInvalid(errors, `invalid ${kind} name`);
}

// ---------------------------------------------------------------------------------------------
// Generic JSON checks

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] ?? 0;
      row[j] = Math.min(cur + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] ?? 0;
}

/** Reports keys that are not among `known`, suggesting the closest known key. */
function checkKeys(obj: Json, known: readonly string[], path: string, errors: FieldErrors): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const best = known
      .map((k) => ({ k, d: distance(key.toLowerCase(), k.toLowerCase()) }))
      .sort((x, y) => x.d - y.d)[0];
    const hint = best !== undefined && best.d <= 3 ? `; did you mean "${best.k}"?` : "";
    errors.add(join(path, key), `unknown field${hint}`);
  }
}

function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

function optString(obj: Json, key: string, path: string, errors: FieldErrors): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") {
    errors.add(join(path, key), `must be a string, not ${JSON.stringify(v)}`);
    return undefined;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Networks

function ipProblem(ip: IP | undefined, text: string, subnet: Prefix | undefined): string | undefined {
  if (ip === undefined) return `"${text}" is not an IP address`;
  if (subnet === undefined) return undefined;
  if (!contains(subnet, ip)) return `${text} is outside the subnet ${formatPrefix(subnet)}`;
  return undefined;
}

/** Validates one pool; returns its canonical spec (or undefined when invalid, errors recorded). */
function validatePool(
  obj: Json,
  path: string,
  errors: FieldErrors,
  known: readonly string[],
): PoolSpec | undefined {
  checkKeys(obj, known, path, errors);
  const before = errors.problems.length;
  const subnetText = optString(obj, "subnet", path, errors);
  let subnet: Prefix | undefined;
  if (subnetText === undefined) {
    if (obj.subnet === undefined) errors.add(join(path, "subnet"), "is required");
  } else {
    subnet = parsePrefix(subnetText);
    if (subnet === undefined) {
      errors.add(join(path, "subnet"), `"${subnetText}" is not a CIDR subnet (e.g. 192.168.1.0/24)`);
    } else {
      const net = networkOf(subnet);
      if (net.ip.value !== subnet.ip.value) {
        errors.add(
          join(path, "subnet"),
          `${subnetText} has host bits set; did you mean ${formatPrefix(net)}?`,
        );
        subnet = undefined;
      }
    }
  }
  const family = subnet?.ip.family;
  const v4Edges = subnet !== undefined && family === 4 && subnet.length < 31;
  const isEdge = (ip: IP): boolean =>
    subnet !== undefined &&
    (ip.value === subnet.ip.value || (v4Edges && ip.value === lastAddress(subnet).value));
  const edgeName = (ip: IP): string =>
    subnet !== undefined && ip.value === subnet.ip.value ? "network address" : "broadcast address";

  const out: PoolSpec = { subnet: subnet === undefined ? (subnetText ?? "") : formatPrefix(subnet) };
  const gatewayText = optString(obj, "gateway", path, errors);
  let gateway: IP | undefined;
  if (gatewayText !== undefined) {
    gateway = parseIP(gatewayText);
    const problem = ipProblem(gateway, gatewayText, subnet);
    if (problem !== undefined) errors.add(join(path, "gateway"), problem);
    else if (gateway !== undefined && isEdge(gateway))
      errors.add(join(path, "gateway"), `${gatewayText} is the subnet's ${edgeName(gateway)}`);
    else if (gateway !== undefined) out.gateway = formatIP(gateway);
  }
  const bound = (key: "rangeStart" | "rangeEnd"): IP | undefined => {
    const text = optString(obj, key, path, errors);
    if (text === undefined) return undefined;
    const ip = parseIP(text);
    const problem = ipProblem(ip, text, subnet);
    if (problem !== undefined) {
      errors.add(join(path, key), problem);
      return undefined;
    }
    if (ip !== undefined && isEdge(ip)) {
      errors.add(join(path, key), `${text} is the subnet's ${edgeName(ip)}`);
      return undefined;
    }
    if (ip !== undefined) out[key] = formatIP(ip);
    return ip;
  };
  const start = bound("rangeStart");
  const end = bound("rangeEnd");
  if (start !== undefined && end !== undefined && start.value > end.value) {
    errors.add(join(path, "rangeEnd"), `${out.rangeEnd} comes before rangeStart ${out.rangeStart}`);
  }
  const exclude = obj.exclude;
  if (exclude !== undefined) {
    if (!Array.isArray(exclude)) {
      errors.add(join(path, "exclude"), "must be a list of IP addresses");
    } else {
      out.exclude = [];
      for (const [i, item] of (exclude as unknown[]).entries()) {
        const p = join(join(path, "exclude"), i);
        if (typeof item !== "string") {
          errors.add(p, `must be a string, not ${JSON.stringify(item)}`);
          continue;
        }
        const ip = parseIP(item);
        const problem = ipProblem(ip, item, subnet);
        if (problem !== undefined) {
          errors.add(p, problem);
          continue;
        }
        if (ip !== undefined) out.exclude?.push(formatIP(ip));
      }
    }
  }
  if (errors.problems.length > before || subnet === undefined) return undefined;
  const pool = toPool(out);
  if (poolSize(pool) === 0n) errors.add(path === "" ? "subnet" : path, "the pool has no allocatable address");
  return out;
}

const POOL_KEYS = ["subnet", "gateway", "rangeStart", "rangeEnd", "exclude"] as const;

/** Validates a network body (PUT /api/v1/networks/{name}). */
export function validateNetworkSpec(body: unknown): NetworkSpec {
  const errors = new FieldErrors();
  if (!isObject(body)) {
    errors.add("(body)", "must be a JSON object");
    throwIfInvalid(errors, "invalid network");
    throw new Error("unreachable");
  }
  const primary = validatePool(body, "", errors, [...POOL_KEYS, "ipv6", "allowOverlap"]);
  if (body.allowOverlap !== undefined && typeof body.allowOverlap !== "boolean")
    errors.add("allowOverlap", "must be true or false");
  let ipv6: PoolSpec | undefined;
  if (body.ipv6 !== undefined) {
    if (!isObject(body.ipv6)) errors.add("ipv6", "must be an object with subnet, gateway…");
    else {
      ipv6 = validatePool(body.ipv6, "ipv6", errors, POOL_KEYS);
      const primaryFamily = primary === undefined ? undefined : parsePrefix(primary.subnet)?.ip.family;
      if (primaryFamily === 6)
        errors.add("ipv6", "the top-level subnet is already IPv6; put the IPv4 pool at the top");
      if (ipv6 !== undefined && parsePrefix(ipv6.subnet)?.ip.family !== 6)
        errors.add("ipv6.subnet", `${ipv6.subnet} is not an IPv6 subnet`);
    }
  }
  throwIfInvalid(errors, "invalid network");
  const spec: NetworkSpec = { ...(primary as PoolSpec) };
  if (ipv6 !== undefined) spec.ipv6 = ipv6;
  if (body.allowOverlap === true) spec.allowOverlap = true;
  return spec;
}

/** Whether two prefixes of one family share an address (one contains the other's first address). */
function prefixesOverlap(a: Prefix, b: Prefix): boolean {
  return contains(a, b.ip) || contains(b, a.ip);
}

/**
 * The networks among `others` whose subnets overlap `spec`'s (either family), each as
 * `"name" (subnet)`; empty when none do. The caller refuses unless the spec allows overlap.
 */
export function overlappingNetworks(spec: NetworkSpec, others: readonly Network[]): string[] {
  const mine = [spec.subnet, spec.ipv6?.subnet].flatMap((t) => {
    const p = t === undefined ? undefined : parsePrefix(t);
    return p === undefined ? [] : [p];
  });
  const found: string[] = [];
  for (const other of others) {
    for (const text of [other.spec.subnet, other.spec.ipv6?.subnet]) {
      const theirs = text === undefined ? undefined : parsePrefix(text);
      if (theirs !== undefined && mine.some((m) => prefixesOverlap(m, theirs))) {
        found.push(`"${other.name}" (${text})`);
        break;
      }
    }
  }
  return found;
}

/** The pool of a validated spec, ready for arithmetic. */
export function toPool(spec: PoolSpec): Pool {
  const subnet = parsePrefix(spec.subnet);
  if (subnet === undefined) throw new Error(`stored subnet "${spec.subnet}" does not parse`);
  const family = subnet.ip.family;
  const first = subnet.ip.value;
  const last = lastAddress(subnet).value;
  const reserved = new Set<bigint>();
  // The network address is never handed out; neither is IPv4's broadcast address (except on
  // /31 and /32, where every address is a host: RFC 3021).
  if (!(family === 4 && subnet.length >= 31)) {
    reserved.add(first);
    if (family === 4) reserved.add(last);
  }
  const gateway = spec.gateway === undefined ? undefined : parseIP(spec.gateway);
  if (gateway !== undefined) reserved.add(gateway.value);
  for (const text of spec.exclude ?? []) {
    const ip = parseIP(text);
    if (ip !== undefined) reserved.add(ip.value);
  }
  const defaultStart = subnet.length >= bits(family) - 1 && family === 4 ? first : first + 1n;
  const defaultEnd = family === 4 && subnet.length < 31 ? last - 1n : last;
  const start =
    spec.rangeStart === undefined ? defaultStart : (parseIP(spec.rangeStart)?.value ?? defaultStart);
  const end = spec.rangeEnd === undefined ? defaultEnd : (parseIP(spec.rangeEnd)?.value ?? defaultEnd);
  return { family, subnet, gateway, start, end, reserved };
}

/** The pools of a network: the top-level one, then the IPv6 one of a dual-stack network. */
export function poolsOf(spec: NetworkSpec): Pool[] {
  const pools = [toPool(spec)];
  if (spec.ipv6 !== undefined) pools.push(toPool(spec.ipv6));
  return pools;
}

/** How many addresses the range can hand out (reserved ones inside the range not counted). */
export function poolSize(pool: Pool): bigint {
  if (pool.end < pool.start) return 0n;
  let size = pool.end - pool.start + 1n;
  for (const r of pool.reserved) if (r >= pool.start && r <= pool.end) size--;
  return size;
}

/** Why an address may not be held in a pool (fixed or kept), or undefined when it may. */
export function addressProblem(pool: Pool, value: bigint): string | undefined {
  const ip = formatIP({ family: pool.family, value });
  if (!contains(pool.subnet, { family: pool.family, value })) {
    return `${ip} is outside the subnet ${formatPrefix(pool.subnet)}`;
  }
  if (pool.gateway !== undefined && pool.gateway.value === value) return `${ip} is the gateway`;
  const last = lastAddress(pool.subnet).value;
  const edges = !(pool.family === 4 && pool.subnet.length >= 31);
  if (edges && value === pool.subnet.ip.value) return `${ip} is the subnet's network address`;
  if (edges && pool.family === 4 && value === last) return `${ip} is the subnet's broadcast address`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Pods and policies

const ATTACHMENT_KEYS = ["network", "ifName", "master", "ip", "ips"] as const;

function validateAttachments(
  value: unknown,
  path: string,
  errors: FieldErrors,
  allowAddresses: boolean,
): AttachmentRequest[] {
  if (!Array.isArray(value)) {
    errors.add(path, value === undefined ? "is required" : "must be a list of attachments");
    return [];
  }
  if (value.length === 0) errors.add(path, "must list at least one network");
  if (value.length > 32) errors.add(path, `lists ${value.length} networks; at most 32 are allowed`);
  const out: AttachmentRequest[] = [];
  const networks = new Map<string, number>();
  const ifNames = new Map<string, number>();
  let masters = 0;
  for (const [i, item] of (value as unknown[]).entries()) {
    const p = join(path, i);
    if (!isObject(item)) {
      errors.add(p, "must be an object with network, ifName?, master?, ip?");
      continue;
    }
    checkKeys(item, allowAddresses ? ATTACHMENT_KEYS : ["network", "ifName", "master"], p, errors);
    const network = optString(item, "network", p, errors);
    const att: AttachmentRequest = { network: network ?? "", ips: [] };
    if (network === undefined) {
      if (item.network === undefined) errors.add(join(p, "network"), "is required");
    } else {
      const problem = networkNameProblem(network);
      if (problem !== undefined) errors.add(join(p, "network"), problem);
      const seen = networks.get(network);
      if (seen !== undefined)
        errors.add(join(p, "network"), `"${network}" is already attached by ${join(path, seen)}`);
      else networks.set(network, i);
    }
    const ifName = optString(item, "ifName", p, errors);
    if (ifName !== undefined) {
      const problem = ifNameProblem(ifName);
      if (problem !== undefined) errors.add(join(p, "ifName"), `"${ifName}" ${problem}`);
      const seen = ifNames.get(ifName);
      if (seen !== undefined)
        errors.add(join(p, "ifName"), `"${ifName}" is already used by ${join(path, seen)}`);
      else ifNames.set(ifName, i);
      att.ifName = ifName;
    }
    if (item.master !== undefined) {
      if (typeof item.master !== "boolean") errors.add(join(p, "master"), "must be true or false");
      else {
        att.master = item.master;
        if (item.master) masters++;
      }
    }
    const texts: { text: unknown; path: string }[] = [];
    if (item.ip !== undefined) texts.push({ text: item.ip, path: join(p, "ip") });
    if (item.ips !== undefined) {
      if (!Array.isArray(item.ips)) errors.add(join(p, "ips"), "must be a list of IP addresses");
      else
        for (const [j, t] of (item.ips as unknown[]).entries())
          texts.push({ text: t, path: join(join(p, "ips"), j) });
    }
    const families = new Set<Family>();
    for (const { text, path: tp } of texts) {
      if (typeof text !== "string") {
        errors.add(tp, `must be a string, not ${JSON.stringify(text)}`);
        continue;
      }
      const ip = parseIP(text);
      if (ip === undefined) {
        errors.add(tp, `"${text}" is not an IP address`);
        continue;
      }
      if (families.has(ip.family)) {
        errors.add(tp, `a second IPv${ip.family} address; an attachment has at most one per family`);
        continue;
      }
      families.add(ip.family);
      att.ips.push(formatIP(ip));
    }
    out.push(att);
  }
  if (masters > 1) errors.add(path, `${masters} attachments are marked master; exactly one may be`);
  return out;
}

/** Validates a pod body (PUT /api/v1/pods/{namespace}/{name}). */
export function validatePodSpec(body: unknown): PodSpec {
  const errors = new FieldErrors();
  if (!isObject(body)) errors.add("(body)", "must be a JSON object");
  else checkKeys(body, ["networks"], "", errors);
  const networks = isObject(body) ? validateAttachments(body.networks, "networks", errors, true) : [];
  throwIfInvalid(errors, "invalid pod");
  return { networks };
}

/** Validates a policy body (PUT /api/v1/policies/{name}). */
export function validatePolicySpec(body: unknown): PolicySpec {
  const errors = new FieldErrors();
  if (!isObject(body)) {
    errors.add("(body)", "must be a JSON object");
    throwIfInvalid(errors, "invalid policy");
    throw new Error("unreachable");
  }
  checkKeys(body, ["namespace", "podPrefix", "networks", "sticky", "priority"], "", errors);
  const namespace = optString(body, "namespace", "", errors);
  if (namespace !== undefined) {
    const problem = namespaceProblem(namespace);
    if (problem !== undefined) errors.add("namespace", problem);
  }
  const podPrefix = optString(body, "podPrefix", "", errors);
  if (podPrefix !== undefined && !PREFIX.test(podPrefix))
    errors.add("podPrefix", `"${podPrefix}" may only hold letters, digits, '_', '.', '-'`);
  if (
    namespace === undefined &&
    podPrefix === undefined &&
    body.namespace === undefined &&
    body.podPrefix === undefined
  )
    errors.add(
      "namespace",
      'a policy needs a namespace, a podPrefix or both (podPrefix "" matches every pod)',
    );
  const networks = validateAttachments(body.networks, "networks", errors, false);
  let sticky = false;
  if (body.sticky !== undefined) {
    if (typeof body.sticky !== "boolean") errors.add("sticky", "must be true or false");
    else sticky = body.sticky;
  }
  let priority = 0;
  if (body.priority !== undefined) {
    if (
      typeof body.priority !== "number" ||
      !Number.isInteger(body.priority) ||
      Math.abs(body.priority) > 1e6
    )
      errors.add("priority", "must be an integer between -1000000 and 1000000");
    else priority = body.priority;
  }
  throwIfInvalid(errors, "invalid policy");
  const spec: PolicySpec = { networks, sticky, priority };
  if (namespace !== undefined) spec.namespace = namespace;
  if (podPrefix !== undefined) spec.podPrefix = podPrefix;
  return spec;
}

/** The policy that applies to a pod: highest priority, then longest prefix, then namespace set, then name. */
export function matchPolicy(
  policies: readonly Policy[],
  namespace: string,
  name: string,
): Policy | undefined {
  const matching = policies.filter(
    (p) =>
      (p.namespace === undefined || p.namespace === namespace) &&
      (p.podPrefix === undefined || name.startsWith(p.podPrefix)),
  );
  matching.sort(
    (a, b) =>
      b.priority - a.priority ||
      (b.podPrefix?.length ?? -1) - (a.podPrefix?.length ?? -1) ||
      Number(b.namespace !== undefined) - Number(a.namespace !== undefined) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return matching[0];
}
