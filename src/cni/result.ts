// CNI results in every spec version, and conversion between them as the reference library does.
// Inside Dockin a result is always held in the 1.x shape (`Result`); it is turned into the
// runtime's version only when printed, and parsed from any version when read.

import { formatIP, formatPrefix, parseIP, parsePrefix } from "../net/ip.ts";
import { isObject, type Json } from "../net/json.ts";
import { eachOf } from "./each.ts";
import { CniError, ErrorCode } from "./errors.ts";
import { compareVersions, isSpecVersion } from "./version.ts";

export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface IPConfig {
  /** CIDR with host bits, e.g. 192.168.1.2/24. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface DNS {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A result in the 1.x shape, whatever version it came in or will go out in. */
export interface Result {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IPConfig[];
  routes?: Route[];
  dns?: DNS;
}

function familyOf(cidrOrIp: string): 4 | 6 | undefined {
  return (parsePrefix(cidrOrIp) ?? (parseIP(cidrOrIp) ? { ip: parseIP(cidrOrIp)! } : undefined))?.ip.family;
}

function cleanDns(dns: DNS | undefined): DNS {
  const out: DNS = {};
  if (dns?.nameservers?.length) out.nameservers = dns.nameservers;
  if (dns?.domain) out.domain = dns.domain;
  if (dns?.search?.length) out.search = dns.search;
  if (dns?.options?.length) out.options = dns.options;
  return out;
}

function routeJson(r: Route): Json {
  const out: Json = { dst: r.dst };
  if (r.gw) out.gw = r.gw;
  // As the reference library prints them: mtu, advmss and priority are left out when 0; table and
  // scope are optional values whose 0 is meaningful (scope 0 is "universe"), so they are kept.
  for (const key of ["mtu", "advmss", "priority"] as const) if (r[key]) out[key] = r[key];
  for (const key of ["table", "scope"] as const) if (r[key] !== undefined) out[key] = r[key];
  return out;
}

/** An interface as 0.3.x/0.4.0 know it: mtu, socketPath and pciID came with 1.1.0. */
function interfaceJson(i: Interface, version: string): Json {
  if (compareVersions(version, "1.0.0") >= 0) return { ...i };
  const out: Json = { name: i.name };
  if (i.mac) out.mac = i.mac;
  if (i.sandbox) out.sandbox = i.sandbox;
  return out;
}

/** Prints a result in `version`'s format. Throws when the result cannot be expressed there. */
export function formatResult(result: Result, version: string): Json {
  if (!isSpecVersion(version)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `cannot convert a result to unknown version "${version}"`,
    );
  }
  if (compareVersions(version, "0.3.0") < 0) return formatLegacy(result, version);
  const withVersion = compareVersions(version, "1.0.0") < 0;
  const out: Json = { cniVersion: version };
  if (result.interfaces?.length) out.interfaces = eachOf(result.interfaces, (i) => interfaceJson(i, version));
  if (result.ips?.length) {
    out.ips = eachOf(result.ips, (ip) => {
      const entry: Json = {};
      if (withVersion) entry.version = String(familyOf(ip.address) ?? 4);
      if (ip.interface !== undefined) entry.interface = ip.interface;
      entry.address = ip.address;
      if (ip.gateway) entry.gateway = ip.gateway;
      return entry;
    });
  }
  if (result.routes?.length) out.routes = eachOf(result.routes, routeJson);
  out.dns = cleanDns(result.dns);
  return out;
}

/** 0.1.0 and 0.2.0 hold at most one address per family: the first of each is kept. */
function formatLegacy(result: Result, version: string): Json {
  const out: Json = { cniVersion: version };
  const byFamily: Partial<Record<4 | 6, Json>> = {};
  for (const ip of result.ips ?? []) {
    const family = familyOf(ip.address);
    if (family === undefined || byFamily[family]) continue;
    const entry: Json = { ip: ip.address };
    if (ip.gateway) entry.gateway = ip.gateway;
    byFamily[family] = entry;
  }
  if (!byFamily[4] && !byFamily[6]) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `cannot convert result to version ${version}: it has no IP address`,
    );
  }
  for (const route of result.routes ?? []) {
    const target = byFamily[familyOf(route.dst) ?? 4];
    if (!target) continue;
    const routes = (target.routes as Json[] | undefined) ?? [];
    const r: Json = { dst: route.dst };
    if (route.gw) r.gw = route.gw;
    routes.push(r);
    target.routes = routes;
  }
  if (byFamily[4]) out.ip4 = byFamily[4];
  if (byFamily[6]) out.ip6 = byFamily[6];
  out.dns = cleanDns(result.dns);
  return out;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** The address with prefix at `where`, validated and printed canonically (as Go would reprint it). */
function prefixAt(value: unknown, where: string): string {
  if (typeof value !== "string") throw decodeError(`${where} is missing`);
  const prefix = parsePrefix(value);
  if (prefix === undefined) throw decodeError(`${where} "${value}" is not an address with a prefix length`);
  return formatPrefix(prefix);
}

/** The optional IP address at `where`: undefined when absent or empty, else validated and canonical. */
function optionalIPAt(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const ip = typeof value === "string" ? parseIP(value) : undefined;
  if (ip === undefined) throw decodeError(`${where} ${JSON.stringify(value)} is not an IP address`);
  return formatIP(ip);
}

function parseRoutes(value: unknown, where: string): Route[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw decodeError(`${where}routes is not a list`);
  return eachOf(value as unknown[], (r, i) => {
    if (!isObject(r)) throw decodeError(`${where}routes[${i}] is not an object`);
    const route: Route = { dst: prefixAt(r.dst, `${where}routes[${i}].dst`) };
    const gw = optionalIPAt(r.gw, `${where}routes[${i}].gw`);
    if (gw !== undefined) route.gw = gw;
    for (const key of ["mtu", "advmss", "priority", "table", "scope"] as const) {
      if (typeof r[key] === "number") route[key] = r[key];
    }
    return route;
  });
}

function parseDns(value: unknown): DNS | undefined {
  if (!isObject(value)) return undefined;
  const dns: DNS = {};
  const list = (v: unknown): string[] | undefined => {
    if (!Array.isArray(v)) return undefined;
    const out: string[] = [];
    for (const s of v) if (typeof s === "string") out.push(s);
    return out;
  };
  const ns = list(value.nameservers);
  if (ns) dns.nameservers = ns;
  if (typeof value.domain === "string") dns.domain = value.domain;
  const search = list(value.search);
  if (search) dns.search = search;
  const options = list(value.options);
  if (options) dns.options = options;
  return dns;
}

function decodeError(msg: string): CniError {
  return new CniError(ErrorCode.DecodeFailure, `decoding result: ${msg}`);
}

/** Reads a result printed in any spec version (its `cniVersion` says which) into the 1.x shape. */
export function parseResult(value: unknown, fallbackVersion = "0.1.0"): Result {
  if (!isObject(value)) throw decodeError("not a JSON object");
  // No version, or an empty one, means the fallback (the reference library reads "" as 0.1.0).
  const version = str(value.cniVersion) || fallbackVersion;
  if (!isSpecVersion(version)) throw decodeError(`unknown cniVersion "${version}"`);
  const result: Result = { cniVersion: version };
  if (compareVersions(version, "0.3.0") < 0) {
    const ips: IPConfig[] = [];
    const routes: Route[] = [];
    for (const key of ["ip4", "ip6"] as const) {
      const block = value[key];
      if (!isObject(block)) continue;
      const entry: IPConfig = { address: prefixAt(block.ip, `${key}.ip`) };
      const gw = optionalIPAt(block.gateway, `${key}.gateway`);
      if (gw !== undefined) entry.gateway = gw;
      ips.push(entry);
      routes.push(...parseRoutes(block.routes, `${key}.`));
    }
    if (ips.length) result.ips = ips;
    if (routes.length) result.routes = routes;
  } else {
    if (Array.isArray(value.interfaces)) {
      result.interfaces = eachOf(value.interfaces as unknown[], (i, n) => {
        if (!isObject(i) || typeof i.name !== "string") throw decodeError(`interfaces[${n}].name is missing`);
        const out: Interface = { name: i.name };
        if (typeof i.mac === "string" && i.mac) out.mac = i.mac;
        if (typeof i.mtu === "number") out.mtu = i.mtu;
        if (typeof i.sandbox === "string" && i.sandbox) out.sandbox = i.sandbox;
        if (typeof i.socketPath === "string" && i.socketPath) out.socketPath = i.socketPath;
        if (typeof i.pciID === "string" && i.pciID) out.pciID = i.pciID;
        return out;
      });
    }
    if (Array.isArray(value.ips)) {
      result.ips = eachOf(value.ips as unknown[], (ip, n) => {
        if (!isObject(ip)) throw decodeError(`ips[${n}] is not an object`);
        const out: IPConfig = { address: prefixAt(ip.address, `ips[${n}].address`) };
        const gw = optionalIPAt(ip.gateway, `ips[${n}].gateway`);
        if (gw !== undefined) out.gateway = gw;
        if (typeof ip.interface === "number") out.interface = ip.interface;
        return out;
      });
    }
    const routes = parseRoutes(value.routes, "");
    if (routes.length) result.routes = routes;
  }
  const dns = parseDns(value.dns);
  if (dns && Object.keys(dns).length) result.dns = dns;
  return result;
}
