// The static IPAM configuration, read once from stdin and CNI_ARGS into the addresses, routes
// and DNS the plugin hands out. It behaves as the reference static plugin (v1.1.1) does:
// - addresses come from `runtimeConfig.ips` (the `ips` capability), else `args.cni.ips`, else
//   `ipam.addresses` plus CNI_ARGS `IP`; the first non-empty source wins, the others are
//   still checked for well-formed values, except the unused `ipam.addresses[].address`;
// - CNI_ARGS `GATEWAY` sets the gateway of the CNI_ARGS `IP` addresses whose subnet holds it;
// - a route without `gw` has no gateway; `dns` is copied as given;
// - before cniVersion 0.3.0 a result holds at most one address per family.
// Problems are reported together, each with its field path and the value found.

import type { DNS, Route } from "../cni/result.ts";
import type { NetConf } from "../cni/skel.ts";
import { compareVersions } from "../cni/version.ts";
import { formatIP, formatPrefix, type IP, parseIP } from "../net/ip.ts";
import { field, isObject, type Json } from "../net/json.ts";
import { cidrProblem, ipProblem, parseCidr, type StaticAddress } from "./addr.ts";
import { addressesFromCniArgs } from "./cniargs.ts";
import { invalidConfig, Reader } from "./read.ts";

export interface IpamConfig {
  cniVersion: string;
  addresses: StaticAddress[];
  routes: Route[];
  dns: DNS;
}

/** An optional gateway address (absent, null or "" mean none). */
function readGateway(r: Reader, obj: Json, key: string, path: string): IP | undefined {
  const text = r.string(obj, key, path);
  if (text === undefined || text === "") return undefined;
  const ip = parseIP(text);
  if (ip === undefined) r.invalid(path, ipProblem(text));
  return ip;
}

/**
 * `ipam.addresses`. When another source wins (`used` false) the entries are still read, and
 * their gateways checked, but the unused addresses are not (as in the reference plugin).
 */
function readAddresses(r: Reader, ipam: Json, used: boolean): StaticAddress[] {
  const items = r.list(ipam, "addresses", "ipam.addresses") ?? [];
  const out: StaticAddress[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const path = `ipam.addresses[${i}]`;
    if (item !== null && !isObject(item)) {
      r.typeError(path, "an object", item);
      continue;
    }
    const obj = item ?? {};
    const text = r.string(obj, "address", `${path}.address`);
    const checked = used && (text !== undefined || field(obj, "address") === undefined);
    const prefix = checked && text !== undefined ? parseCidr(text) : undefined;
    if (checked && prefix === undefined) {
      r.invalid(`${path}.address`, text === undefined ? "is missing" : cidrProblem(text));
    }
    const gateway = readGateway(r, obj, "gateway", `${path}.gateway`);
    if (prefix === undefined) continue;
    out.push(gateway === undefined ? { prefix, from: path } : { prefix, gateway, from: path });
  }
  return out;
}

/** Route keys of spec 1.1.0; older versions (and the reference plugin) ignore them. */
const ROUTE_EXTRAS = ["mtu", "advmss", "priority", "table", "scope"] as const;

function readRoutes(r: Reader, ipam: Json, withExtras: boolean): Route[] {
  const items = r.list(ipam, "routes", "ipam.routes") ?? [];
  const routes: Route[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const path = `ipam.routes[${i}]`;
    if (!isObject(item)) {
      r.typeError(path, "an object", item);
      continue;
    }
    const dst = r.string(item, "dst", `${path}.dst`);
    const gw = readGateway(r, item, "gw", `${path}.gw`);
    const route: Route = { dst: "" };
    if (dst === undefined) {
      if (field(item, "dst") === undefined) {
        r.invalid(`${path}.dst`, 'is missing; a route needs a destination, e.g. "0.0.0.0/0"');
      }
    } else {
      const prefix = parseCidr(dst);
      if (prefix === undefined) r.invalid(`${path}.dst`, cidrProblem(dst));
      else route.dst = formatPrefix(prefix);
    }
    if (gw !== undefined) route.gw = formatIP(gw);
    if (withExtras) {
      for (const key of ROUTE_EXTRAS) {
        const value = r.int(item, key, `${path}.${key}`);
        if (value !== undefined) route[key] = value;
      }
    }
    routes.push(route);
  }
  return routes;
}

function readDns(r: Reader, ipam: Json): DNS {
  const dns = r.object(ipam, "dns", "ipam.dns");
  const out: DNS = {};
  if (dns === undefined) return out;
  const nameservers = r.strings(dns, "nameservers", "ipam.dns.nameservers");
  if (nameservers !== undefined) out.nameservers = nameservers;
  const domain = r.string(dns, "domain", "ipam.dns.domain");
  if (domain !== undefined) out.domain = domain;
  const search = r.strings(dns, "search", "ipam.dns.search");
  if (search !== undefined) out.search = search;
  const options = r.strings(dns, "options", "ipam.dns.options");
  if (options !== undefined) out.options = options;
  return out;
}

/** A list of CIDRs from `runtimeConfig.ips` or `args.cni.ips`. */
function readIps(r: Reader, texts: string[], path: string): StaticAddress[] {
  const out: StaticAddress[] = [];
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i] ?? "";
    const prefix = parseCidr(text);
    if (prefix !== undefined) out.push({ prefix, from: `${path}[${i}]` });
    else r.invalid(`${path}[${i}]`, cidrProblem(text));
  }
  return out;
}

/** Before 0.3.0 a result holds one IPv4 and one IPv6 address at most, and needs one. */
function checkLegacyCount(cniVersion: string, addresses: StaticAddress[]): void {
  if (compareVersions(cniVersion, "0.3.0") >= 0) return;
  if (addresses.length === 0) {
    throw invalidConfig(
      `ipam.addresses: no address to hand out, and a cniVersion ${cniVersion} result needs one (give ipam.addresses, CNI_ARGS IP, args.cni.ips or runtimeConfig.ips)`,
    );
  }
  for (const family of [4, 6] as const) {
    const same = addresses.filter((a) => a.prefix.ip.family === family);
    if (same.length > 1) {
      const list = same.map((a) => `${a.from} ${formatPrefix(a.prefix)}`).join(", ");
      throw invalidConfig(
        `cniVersion ${cniVersion} allows at most one IPv${family} address, got ${same.length} (${list}); use cniVersion 0.3.0 or newer for more`,
      );
    }
  }
}

/** Reads and validates the whole configuration; throws a CniError naming every bad field. */
export function parseIpamConfig(config: NetConf, cniArgs: string): IpamConfig {
  if (field(config, "ipam") === undefined) {
    throw invalidConfig(
      'ipam: is missing; dockin-ipam reads "addresses", "routes" and "dns" from the "ipam" object',
    );
  }
  // Priority: the capability, then the args convention, then the configuration (with CNI_ARGS).
  // Read first, as they decide whether ipam.addresses is used; reported after the ipam block.
  const sources = new Reader();
  const runtimeConfig = sources.object(config, "runtimeConfig", "runtimeConfig");
  const runtimeIps = runtimeConfig && sources.strings(runtimeConfig, "ips", "runtimeConfig.ips");
  const fromRuntime = runtimeIps?.length ? readIps(sources, runtimeIps, "runtimeConfig.ips") : undefined;
  const args = sources.object(config, "args", "args");
  const argsCni = args && sources.object(args, "cni", "args.cni");
  const argsIps = argsCni && sources.strings(argsCni, "ips", "args.cni.ips");
  const fromArgs = argsIps?.length ? readIps(sources, argsIps, "args.cni.ips") : undefined;

  const r = new Reader();
  const ipam = r.object(config, "ipam", "ipam") ?? {};
  r.string(ipam, "type", "ipam.type");
  const fromConfig = readAddresses(r, ipam, fromRuntime === undefined && fromArgs === undefined);
  const routes = readRoutes(r, ipam, compareVersions(config.cniVersion, "1.1.0") >= 0);
  const dns = readDns(r, ipam);
  r.append(sources);
  r.throwIfAny("invalid IPAM configuration");

  // CNI_ARGS is checked whichever source wins, as the reference plugin does.
  const fromCniArgs = addressesFromCniArgs(cniArgs);
  const addresses = fromRuntime ?? fromArgs ?? [...fromConfig, ...fromCniArgs];
  checkLegacyCount(config.cniVersion, addresses);
  return { cniVersion: config.cniVersion, addresses, routes, dns };
}
