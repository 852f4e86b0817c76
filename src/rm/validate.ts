// The validation of what clients send, done once at the edge: every function here turns untrusted
// JSON into a normalized, checked value of model.ts or throws a 400 that lists every problem with
// its field path and the fix.
import { ifNameProblem } from "../cni/checks.ts";
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
import { isObject, type Json } from "../net/json.ts";
import { FieldErrors, throwIfInvalid } from "./errors.ts";
import type { AttachmentRequest, NetworkSpec, PodSpec, PolicySpec, PoolSpec } from "./model.ts";
import { poolSize, toPool } from "./pool.ts";

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
