// dockin-ipam's lean ADD: the common case, answered without loading the protocol driver and the
// validating reader. dockin-cni sends this case on every pod: cniVersion 1.x, static IPv4
// addresses and routes written canonically, CNI_ARGS with only the runtime's keys. It prints
// exactly what the full path prints, and declines (undefined) anything else, which the full path
// then reads from the start. The full path's start-up is 0.3x of Go static's whole ADD above a
// program that only echoes its stdin; one function like this one is at that floor (BENCHMARKS.md).
// test/ipam/lean.test.ts checks, over the differential corpus at every version, that this either
// declines or prints byte for byte what the full path prints.
import { isName, isShortDecimal } from "../net/chars.ts";

type Json = Record<string, unknown>;

const VERSIONS = ["1.0.0", "1.1.0"];

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** A dotted IPv4 address as Go prints it (no leading zeros, each part at most 255). */
function isIPv4(text: string): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  for (const p of parts) if (!isShortDecimal(p) || Number(p) > 255) return false;
  return true;
}

/** An IPv4 address with a prefix length, as Go prints it. */
function isCidr4(text: unknown): text is string {
  if (typeof text !== "string") return false;
  const slash = text.indexOf("/");
  if (slash < 0) return false;
  const length = text.slice(slash + 1);
  return isIPv4(text.slice(0, slash)) && isShortDecimal(length) && Number(length) <= 32;
}

/** Whether `obj`'s keys are all among `allowed`, written exactly so (the full path matches keys in any case). */
function onlyKeys(obj: Json, allowed: readonly string[]): boolean {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) return false;
  return true;
}

/** CNI_ARGS the full path accepts without an address of its own: none, or the runtime's keys. */
function plainArgs(args: string): boolean {
  if (args === "") return true;
  let ignore: string | undefined;
  let others = false;
  for (const pair of args.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.indexOf("=", eq + 1) >= 0) return false;
    const key = pair.slice(0, eq);
    if (key === "IP" || key === "GATEWAY") return false;
    if (key === "IgnoreUnknown") ignore = pair.slice(eq + 1).toLowerCase();
    else others = true;
  }
  if (ignore !== undefined && ignore !== "1" && ignore !== "true" && ignore !== "0" && ignore !== "false") {
    return false;
  }
  return !others || ignore === "1" || ignore === "true";
}

/** The interface names the lean path takes: letters, digits, '_', '.', '-', at most 15. */
const plainIfName = (name: string): boolean =>
  name.length > 0 && name.length <= 15 && name !== "." && name !== ".." && isName(`a${name}`, "_.-");

/** The result text of an ADD the lean path can answer, or undefined for the full path. */
export function leanAdd(env: NodeJS.ProcessEnv, stdin: string): string | undefined {
  if (env.CNI_COMMAND !== "ADD") return undefined;
  const containerId = env.CNI_CONTAINERID ?? "";
  if (containerId === "" || !isName(containerId, "_.-")) return undefined;
  if ((env.CNI_NETNS ?? "") === "" || (env.CNI_PATH ?? "") === "") return undefined;
  if (!plainIfName(env.CNI_IFNAME ?? "")) return undefined;
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
  if (typeof config.name !== "string" || !isName(config.name, "_.-")) return undefined;
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
    if (a.gateway !== undefined && !(typeof a.gateway === "string" && isIPv4(a.gateway))) return undefined;
    ips.push(a.gateway === undefined ? { address: a.address } : { address: a.address, gateway: a.gateway });
  }
  const routes: Json[] = [];
  if (ipam.routes !== undefined) {
    if (!Array.isArray(ipam.routes)) return undefined;
    for (const r of ipam.routes) {
      if (!isObject(r) || !onlyKeys(r, ["dst", "gw"]) || !isCidr4(r.dst)) return undefined;
      if (r.gw !== undefined && !(typeof r.gw === "string" && isIPv4(r.gw))) return undefined;
      routes.push(r.gw === undefined ? { dst: r.dst } : { dst: r.dst, gw: r.gw });
    }
  }
  const out: Json = { cniVersion: version, ips };
  if (routes.length > 0) out.routes = routes;
  out.dns = {};
  return `${JSON.stringify(out, null, 4)}\n`;
}
