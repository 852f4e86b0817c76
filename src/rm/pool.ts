// A network's address pools: the usable range of each (subnet, gateway, range, exclusions), its
// size, whether an address may be held, and which networks' subnets overlap. Pure arithmetic on
// src/net/ip.ts: the console's address map (ui/client/pool.ts) uses it in the browser too.
import {
  bits,
  contains,
  formatIP,
  formatPrefix,
  lastAddress,
  type Prefix,
  parseIP,
  parsePrefix,
} from "../net/ip.ts";
import type { Network, NetworkSpec, Pool, PoolSpec } from "./model.ts";

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

/** The pools of frozen specs (a store's shared networks), computed once per spec. */
const frozenPools = new WeakMap<NetworkSpec, readonly Pool[]>();

/** The pools of a network: the top-level one, then the IPv6 one of a dual-stack network. */
export function poolsOf(spec: NetworkSpec): readonly Pool[] {
  const known = frozenPools.get(spec);
  if (known !== undefined) return known;
  const pools = [toPool(spec)];
  if (spec.ipv6 !== undefined) pools.push(toPool(spec.ipv6));
  if (!Object.isFrozen(spec)) return pools;
  // A frozen spec cannot change, so neither can its pools: they are frozen too, their sets
  // (which freezing does not reach) only ever read.
  const frozen = Object.freeze(pools.map((p) => Object.freeze(p)));
  frozenPools.set(spec, frozen);
  return frozen;
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
