// IP addresses and prefixes, parsed and printed the way Go's `net` package does (the reference
// plugins are written in Go, and users compare our output with theirs).
// Addresses are held as bigint with their family, which keeps arithmetic (ranges, masks) simple.

import { isDigits, isHexGroup, isShortDecimal } from "./chars.ts";

export type Family = 4 | 6;

export interface IP {
  readonly family: Family;
  /** The address as an unsigned integer of 32 (v4) or 128 (v6) bits. */
  readonly value: bigint;
}

export interface Prefix {
  /** The address as written (host bits kept), e.g. 192.168.1.5 of 192.168.1.5/24. */
  readonly ip: IP;
  readonly length: number;
}

/** The width of a family's addresses in bits. */
export const bits = (family: Family): number => (family === 4 ? 32 : 128);

/**
 * Whether `text` is a dotted IPv4 address as Go reads it: four decimals of at most 255, without
 * leading zeros (Go rejects "01" since 1.17: octal or decimal?), which is also how Go prints one.
 */
export function isDottedQuad(text: string): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  for (const part of parts) if (!isShortDecimal(part) || Number(part) > 255) return false;
  return true;
}

function parseIPv4(text: string): bigint | undefined {
  if (!isDottedQuad(text)) return undefined;
  let value = 0n;
  for (const part of text.split(".")) value = (value << 8n) | BigInt(Number(part));
  return value;
}

function parseIPv6(text: string): bigint | undefined {
  let body = text;
  let tail: bigint[] = [];
  // An embedded IPv4 address in the last 32 bits (e.g. ::ffff:1.2.3.4).
  const lastColon = body.lastIndexOf(":");
  if (lastColon >= 0 && body.slice(lastColon + 1).includes(".")) {
    const v4 = parseIPv4(body.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >> 16n, v4 & 0xffffn];
    // Keep "::" whole when the IPv4 part follows it; drop the single separating colon otherwise.
    const before = body.slice(0, lastColon + 1);
    body = before.endsWith("::") ? before : before.slice(0, -1);
    if (body === "") return undefined;
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const group = (g: string): bigint | undefined => (isHexGroup(g) ? BigInt(`0x${g}`) : undefined);
  const parseGroups = (s: string): bigint[] | undefined => {
    if (s === "") return [];
    const out: bigint[] = [];
    for (const g of s.split(":")) {
      const v = group(g);
      if (v === undefined) return undefined;
      out.push(v);
    }
    return out;
  };
  const head = parseGroups(halves[0] ?? "");
  const rest = halves.length === 2 ? parseGroups(halves[1] ?? "") : [];
  if (head === undefined || rest === undefined) return undefined;
  const explicit = head.length + rest.length + tail.length;
  if (halves.length === 2 ? explicit > 7 : explicit !== 8) return undefined;
  // The groups in order, "::" standing for the zero groups it elides (shifting in zeros).
  let value = 0n;
  for (const g of head) value = (value << 16n) | g;
  if (halves.length === 2) value <<= BigInt(16 * (8 - explicit));
  for (const g of rest) value = (value << 16n) | g;
  for (const g of tail) value = (value << 16n) | g;
  return value;
}

/** Parses an IPv4 or IPv6 address; undefined when the text is not one. */
export function parseIP(text: string): IP | undefined {
  if (typeof text !== "string" || text.length === 0 || text.length > 45) return undefined;
  if (text.includes(":")) {
    const value = parseIPv6(text);
    if (value === undefined) return undefined;
    // Go treats an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as that IPv4 address.
    if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
    return { family: 6, value };
  }
  const value = parseIPv4(text);
  return value === undefined ? undefined : { family: 4, value };
}

/** Parses `addr/len` (Go's ParseCIDR), keeping the host bits of the address. */
export function parsePrefix(text: string): Prefix | undefined {
  if (typeof text !== "string") return undefined;
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const ipText = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  // Go reads the length as plain decimal digits, leading zeros allowed ("/024" is /24).
  if (!isDigits(lenText)) return undefined;
  // Go keeps an IPv4-mapped IPv6 prefix in its 128-bit form; we only accept plain forms here.
  const ip = ipText.includes(":")
    ? ((v) => (v === undefined ? undefined : ({ family: 6, value: v } as IP)))(parseIPv6(ipText))
    : parseIP(ipText);
  if (ip === undefined) return undefined;
  const length = Number(lenText);
  if (length > bits(ip.family)) return undefined;
  return { ip, length };
}

function formatIPv4(value: bigint): string {
  const octet = (shift: bigint) => (value >> shift) & 0xffn;
  return `${octet(24n)}.${octet(16n)}.${octet(8n)}.${octet(0n)}`;
}

/** Formats an address canonically (RFC 5952 for IPv6, as Go prints it). */
export function formatIP(ip: IP): string {
  if (ip.family === 4) return formatIPv4(ip.value);
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  // The longest run of two or more zero groups is written as "::" (the first one on a tie).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => {
    let text = "";
    for (let i = from; i < to; i++) text += `${i > from ? ":" : ""}${(groups[i] as number).toString(16)}`;
    return text;
  };
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

export function formatPrefix(prefix: Prefix): string {
  return `${formatIP(prefix.ip)}/${prefix.length}`;
}

export function maskValue(family: Family, length: number): bigint {
  const total = BigInt(bits(family));
  const all = (1n << total) - 1n;
  return (all << (total - BigInt(length))) & all;
}

/** The network of a prefix: host bits cleared (192.168.1.0/24 for 192.168.1.5/24). */
export function networkOf(prefix: Prefix): Prefix {
  return {
    ip: { family: prefix.ip.family, value: prefix.ip.value & maskValue(prefix.ip.family, prefix.length) },
    length: prefix.length,
  };
}

/** The last address of a prefix (the broadcast address for IPv4). */
export function lastAddress(prefix: Prefix): IP {
  const family = prefix.ip.family;
  const all = (1n << BigInt(bits(family))) - 1n;
  const hostBits = all ^ maskValue(family, prefix.length);
  return { family, value: prefix.ip.value | hostBits };
}

export function contains(prefix: Prefix, ip: IP): boolean {
  if (prefix.ip.family !== ip.family) return false;
  const mask = maskValue(ip.family, prefix.length);
  return (prefix.ip.value & mask) === (ip.value & mask);
}

export function sameIP(a: IP, b: IP): boolean {
  return a.family === b.family && a.value === b.value;
}

/**
 * Converts a subnet mask to a prefix length: a dotted IPv4 mask ("255.255.255.0") or a length
 * ("24", or a number). Undefined when the mask is not contiguous or out of range for the family.
 */
export function maskToLength(mask: string | number, family: Family): number | undefined {
  const max = bits(family);
  if (typeof mask === "number") return Number.isInteger(mask) && mask >= 0 && mask <= max ? mask : undefined;
  if (typeof mask !== "string") return undefined;
  const trimmed = mask.trim();
  const text = trimmed.startsWith("/") ? trimmed.slice(1) : trimmed;
  if (isShortDecimal(text)) {
    const n = Number(text);
    return n <= max ? n : undefined;
  }
  if (family !== 4) return undefined;
  const value = parseIPv4(text);
  if (value === undefined) return undefined;
  for (let length = 0; length <= 32; length++) if (maskValue(4, length) === value) return length;
  return undefined;
}
