// Addresses as the reference static plugin reads and prints them: Go's net.ParseCIDR and
// net.ParseIP, then its canonical form (an IPv4-mapped IPv6 address is printed as IPv4).
import { type IP, type Prefix, parseIP, parsePrefix } from "../net/ip.ts";
import { quote } from "./read.ts";

/**
 * Parses `addr/len`, keeping the host bits. An IPv4-mapped IPv6 prefix (::ffff:10.0.0.5/120)
 * becomes the IPv4 prefix Go prints for it: its length counted in the last 32 bits (/24).
 */
export function parseCidr(text: string): Prefix | undefined {
  const p = parsePrefix(text);
  if (p === undefined || p.ip.family === 4 || p.ip.value >> 32n !== 0xffffn) return p;
  return { ip: { family: 4, value: p.ip.value & 0xffffffffn }, length: Math.max(0, p.length - 96) };
}

/** Why `text` is not an address with a prefix length, for an error message. */
export function cidrProblem(text: string): string {
  if (text.trim() === "") return 'is empty; expected an address with a prefix length, e.g. "192.168.1.2/24"';
  const ip = parseIP(text);
  if (ip !== undefined) {
    // The unspecified address is a default route's destination; any other, a host in a subnet.
    const length = ip.value === 0n ? 0 : ip.family === 4 ? 24 : 64;
    const example = `${text}/${length}`;
    return `${quote(text)} has no prefix length; write it in CIDR notation, e.g. ${quote(example)}`;
  }
  return `${quote(text)} is not an address in CIDR notation, e.g. "192.168.1.2/24" or "fd00::2/64"`;
}

/** Why `text` is not an IP address, for an error message. */
export function ipProblem(text: string): string {
  if (parsePrefix(text) !== undefined) {
    return `${quote(text)} is a CIDR; a gateway is a single address, e.g. ${quote(text.slice(0, text.indexOf("/")))}`;
  }
  return `${quote(text)} is not an IPv4 or IPv6 address`;
}

/** One address the plugin hands out, with where it came from (a field path, for messages). */
export interface StaticAddress {
  prefix: Prefix;
  gateway?: IP;
  from: string;
}
