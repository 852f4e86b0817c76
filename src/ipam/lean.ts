// dockin-ipam's lean ADD: the common case, answered without loading the protocol driver and the
// validating reader. dockin-cni sends this case on every pod: cniVersion 1.x, static IPv4
// addresses and routes written canonically, CNI_ARGS with only the runtime's keys. It prints
// exactly what the full path prints, and declines (undefined) anything else, which the full path
// then reads from the start.
//
// It imports nothing, and is written as few functions: the executable's entry chunk holds it whole
// (a module shared with another role would be a second chunk to load), and in a run this short the
// first call of each function, and of each built-in, is what costs (about 11,000 instructions a
// function). The checks of the full path (src/cni/checks.ts, src/net/chars.ts) are here again as
// compact loops, some narrower (an interface name of printable ASCII only): what they do not
// take, the full path decides. BENCHMARKS.md ("Where dockin-ipam's time goes") has the figures.
// test/ipam/lean.test.ts checks, over the differential corpus at every version, that this either
// declines or prints byte for byte what the full path prints.

type Json = Record<string, unknown>;

/** /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/: a container id or a network name, as the reference library checks. */
function isId(text: unknown): boolean {
  if (typeof text !== "string" || text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (!alnum && (i === 0 || (c !== 0x5f && c !== 0x2e && c !== 0x2d))) return false;
  }
  return true;
}

/**
 * Whether text[from, to) is a decimal of one to three digits without a leading zero, at most
 * `max`: an IPv4 address's part, or a prefix length.
 */
function isNumber(text: string, from: number, to: number, max: number): boolean {
  const length = to - from;
  if (length < 1 || length > 3 || (length > 1 && text.charCodeAt(from) === 0x30)) return false;
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
    value = value * 10 + (c - 0x30);
  }
  return value <= max;
}

/** An IPv4 address as Go prints it (`withPrefix`: followed by "/" and a prefix length), or not. */
function isIPv4(text: unknown, withPrefix: boolean): text is string {
  if (typeof text !== "string") return false;
  const slash = text.indexOf("/");
  const end = withPrefix ? slash : text.length;
  if (withPrefix ? slash < 0 || !isNumber(text, slash + 1, text.length, 32) : slash >= 0) return false;
  let from = 0;
  for (let part = 0; part < 4; part++) {
    let to = text.indexOf(".", from);
    if (to < 0 || to > end) to = end;
    if (!isNumber(text, from, to, 255) || part < 3 !== to < end) return false;
    from = to + 1;
  }
  return true;
}

/** Whether `v` is a JSON object whose keys are among `a`, `b` and `c`, written exactly so. */
function isObjectOf(v: unknown, a: string, b: string, c?: string): v is Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  for (const k in v) if (k !== a && k !== b && k !== c) return false;
  return true;
}

/**
 * CNI_ARGS the full path accepts without an address of its own (src/ipam/cniargs.ts): pairs of
 * exactly one '=', no IP or GATEWAY, any key but IgnoreUnknown only with IgnoreUnknown set ("1" or
 * "true", any case, as the reference library reads it).
 */
function plainArgs(args: string): boolean {
  if (args === "") return true;
  let ignore: boolean | undefined = false;
  let others = false;
  for (let from = 0; from <= args.length; ) {
    let end = args.indexOf(";", from);
    if (end < 0) end = args.length;
    const eq = args.indexOf("=", from);
    if (eq < 0 || eq >= end) return false;
    const second = args.indexOf("=", eq + 1);
    if (second >= 0 && second < end) return false;
    const key = args.slice(from, eq);
    if (key === "IP" || key === "GATEWAY") return false;
    if (key === "IgnoreUnknown") {
      const value = args.slice(eq + 1, end).toLowerCase(); // the last one counts, as in the full path
      ignore =
        value === "1" || value === "true" ? true : value === "0" || value === "false" ? false : undefined;
    } else others = true;
    from = end + 1;
  }
  return ignore === true || (ignore === false && !others);
}

/** The result text of an ADD the lean path can answer, or undefined for the full path. */
export function leanAdd(env: NodeJS.ProcessEnv, stdin: string): string | undefined {
  if (env.CNI_COMMAND !== "ADD" || !isId(env.CNI_CONTAINERID)) return undefined;
  if (!env.CNI_NETNS || !env.CNI_PATH || !plainArgs(env.CNI_ARGS ?? "")) return undefined;
  const ifName = env.CNI_IFNAME ?? "";
  if (ifName.length === 0 || ifName.length > 15 || ifName === "." || ifName === "..") return undefined;
  for (let i = 0; i < ifName.length; i++) {
    const c = ifName.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x2f || c === 0x3a) return undefined; // not '/', ':' or space
  }

  let config: unknown;
  try {
    config = JSON.parse(stdin);
  } catch {
    return undefined;
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) return undefined;
  const c = config as Json;
  const version = c.cniVersion;
  if (version !== "1.0.0" && version !== "1.1.0") return undefined;
  if (!isId(c.name) || (c.type !== undefined && typeof c.type !== "string")) return undefined;
  for (const k in c) {
    // Keys the full path reads in any letter case (the last one winning), written otherwise, and
    // what the lean path does not take.
    const lower = k.toLowerCase();
    if (
      (lower === "ipam" && k !== "ipam") ||
      (lower === "cniversion" && k !== "cniVersion") ||
      (lower === "name" && k !== "name") ||
      (lower === "type" && k !== "type") ||
      lower === "runtimeconfig" ||
      lower === "args"
    )
      return undefined;
  }
  const ipam = c.ipam;
  if (!isObjectOf(ipam, "type", "addresses", "routes")) return undefined;
  if (ipam.type !== undefined && typeof ipam.type !== "string") return undefined;

  const addresses = ipam.addresses;
  if (!Array.isArray(addresses) || addresses.length === 0) return undefined;
  const ips: Json[] = [];
  for (const a of addresses) {
    if (!isObjectOf(a, "address", "gateway") || !isIPv4(a.address, true)) return undefined;
    if (a.gateway === undefined) ips.push({ address: a.address });
    else if (isIPv4(a.gateway, false)) ips.push({ address: a.address, gateway: a.gateway });
    else return undefined;
  }
  const routes: Json[] = [];
  if (ipam.routes !== undefined) {
    if (!Array.isArray(ipam.routes)) return undefined;
    for (const r of ipam.routes) {
      if (!isObjectOf(r, "dst", "gw") || !isIPv4(r.dst, true)) return undefined;
      if (r.gw === undefined) routes.push({ dst: r.dst });
      else if (isIPv4(r.gw, false)) routes.push({ dst: r.dst, gw: r.gw });
      else return undefined;
    }
  }
  const out: Json = { cniVersion: version, ips };
  if (routes.length > 0) out.routes = routes;
  out.dns = {};
  return `${JSON.stringify(out, null, 4)}\n`;
}
