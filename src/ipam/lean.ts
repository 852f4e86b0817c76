// dockin-ipam's lean ADD: the common case, answered without loading the protocol driver and the
// validating reader. dockin-cni sends this case on every pod: cniVersion 1.x, static IPv4
// addresses and routes written canonically, CNI_ARGS with only the runtime's keys. It prints
// exactly what the full path prints, and declines (undefined) anything else, which the full path
// then reads from the start. The full path's start-up is 0.3x of Go static's whole ADD above a
// program that only echoes its stdin; one function like this one is at that floor (BENCHMARKS.md).
// test/ipam/lean.test.ts checks, over the differential corpus at every version, that this either
// declines or prints byte for byte what the full path prints.
import {
  cniArgPairs,
  ifNameProblem,
  ignoreUnknownOf,
  isContainerId,
  networkNameProblem,
} from "../cni/checks.ts";
import { isShortDecimal } from "../net/chars.ts";
import { isDottedQuad } from "../net/ip.ts";
import { isObject, type Json } from "../net/json.ts";

const VERSIONS = ["1.0.0", "1.1.0"];

/** An IPv4 address with a prefix length, as Go prints it. */
function isCidr4(text: unknown): text is string {
  if (typeof text !== "string") return false;
  const slash = text.indexOf("/");
  if (slash < 0) return false;
  const length = text.slice(slash + 1);
  return isDottedQuad(text.slice(0, slash)) && isShortDecimal(length) && Number(length) <= 32;
}

/** Whether `obj`'s keys are all among `allowed`, written exactly so (the full path matches keys in any case). */
function onlyKeys(obj: Json, allowed: readonly string[]): boolean {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) return false;
  return true;
}

/**
 * CNI_ARGS the full path accepts without an address of its own (src/ipam/cniargs.ts): well-formed
 * pairs without IP or GATEWAY, any other key only with IgnoreUnknown set.
 */
function plainArgs(args: string): boolean {
  const pairs = cniArgPairs(args);
  if (!(pairs instanceof Map) || pairs.has("IP") || pairs.has("GATEWAY")) return false;
  const ignore = ignoreUnknownOf(pairs.get("IgnoreUnknown"));
  if (ignore !== false) return ignore === true;
  for (const key of pairs.keys()) if (key !== "IgnoreUnknown") return false;
  return true;
}

/** The result text of an ADD the lean path can answer, or undefined for the full path. */
export function leanAdd(env: NodeJS.ProcessEnv, stdin: string): string | undefined {
  if (env.CNI_COMMAND !== "ADD") return undefined;
  if (!isContainerId(env.CNI_CONTAINERID ?? "")) return undefined;
  if ((env.CNI_NETNS ?? "") === "" || (env.CNI_PATH ?? "") === "") return undefined;
  if (ifNameProblem(env.CNI_IFNAME ?? "") !== undefined) return undefined;
  if (!plainArgs(env.CNI_ARGS ?? "")) return undefined;

  let config: unknown;
  try {
    config = JSON.parse(stdin);
  } catch {
    return undefined;
  }
  if (!isObject(config)) return undefined;
  const version = config.cniVersion;
  if (typeof version !== "string" || !VERSIONS.includes(version)) return undefined;
  if (typeof config.name !== "string" || networkNameProblem(config.name) !== undefined) return undefined;
  if (config.type !== undefined && typeof config.type !== "string") return undefined;
  for (const k of Object.keys(config)) {
    const lower = k.toLowerCase();
    if ((lower === "ipam" && k !== "ipam") || lower === "runtimeconfig" || lower === "args") return undefined;
  }
  const ipam = config.ipam;
  if (!isObject(ipam) || !onlyKeys(ipam, ["type", "addresses", "routes"])) return undefined;
  if (ipam.type !== undefined && typeof ipam.type !== "string") return undefined;

  const addresses = ipam.addresses;
  if (!Array.isArray(addresses) || addresses.length === 0) return undefined;
  const ips: Json[] = [];
  for (const a of addresses) {
    if (!isObject(a) || !onlyKeys(a, ["address", "gateway"]) || !isCidr4(a.address)) return undefined;
    if (a.gateway !== undefined && !(typeof a.gateway === "string" && isDottedQuad(a.gateway)))
      return undefined;
    ips.push(a.gateway === undefined ? { address: a.address } : { address: a.address, gateway: a.gateway });
  }
  const routes: Json[] = [];
  if (ipam.routes !== undefined) {
    if (!Array.isArray(ipam.routes)) return undefined;
    for (const r of ipam.routes) {
      if (!isObject(r) || !onlyKeys(r, ["dst", "gw"]) || !isCidr4(r.dst)) return undefined;
      if (r.gw !== undefined && !(typeof r.gw === "string" && isDottedQuad(r.gw))) return undefined;
      routes.push(r.gw === undefined ? { dst: r.dst } : { dst: r.dst, gw: r.gw });
    }
  }
  const out: Json = { cniVersion: version, ips };
  if (routes.length > 0) out.routes = routes;
  out.dns = {};
  return `${JSON.stringify(out, null, 4)}\n`;
}
