// The differential corpus: every case runs through dist/bin/dockin-ipam and the reference
// /usr/lib/cni/static (containernetworking-plugins 1.1.1) at every spec version up to 1.0.0,
// and both must agree: same success or failure, same parsed result. Then it runs at 1.1.0
// through dockin-ipam alone, which must give the 1.0.0 answer with the version changed.
//
// To add a case, add an entry to `corpus` below. Where the two plugins must disagree because
// the reference plugin is wrong, say so in `staticDiffers` with the reason: the suite then
// checks that they do disagree, so the entry goes stale loudly if `static` is ever fixed.

export type Json = Record<string, unknown>;
export type Command = "ADD" | "DEL" | "CHECK" | "STATUS" | "GC";

/** The versions both plugins speak. */
export const SHARED_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"] as const;
/** Versions whose results hold at most one address per family. */
export const LEGACY = ["0.1.0", "0.2.0"] as const;
/** Versions that have CHECK. */
export const WITH_CHECK = ["0.4.0", "1.0.0"] as const;

export interface Case {
  name: string;
  /** ADD when absent. */
  command?: Command;
  /**
   * The network configuration without `cniVersion` (the suite adds the version under test), or
   * a function of the version giving the exact text for stdin.
   */
  config: Json | ((version: string) => string);
  cniArgs?: string;
  /** Environment overrides; null removes the variable. */
  env?: Record<string, string | null>;
  /** The versions to run at (all shared versions when absent). */
  versions?: readonly string[];
  /** Where dockin-ipam must fail: at every version (true) or at the listed ones. */
  fails?: true | readonly string[];
  /** CHECK: the prevResult to send; "add" sends what the same plugin's ADD printed. */
  prevResult?: "add" | ((version: string) => Json | string | null);
  /** What dockin-ipam's error must say: its code, and strings its message must contain. */
  error?: { code?: number; includes?: readonly string[] };
  /**
   * The reference plugin is wrong here: why, and at which versions (all the case runs at when
   * absent); at the others it must agree.
   */
  staticDiffers?: { why: string; versions?: readonly string[] };
  /**
   * At 1.1.0: "same" (default) expects the 1.0.0 outcome with the version changed; "skip" does not
   * run; `fails` flips the expected outcome; `result` is the exact expected result.
   */
  at110?: "same" | "skip" | { fails?: boolean; result?: Json };
}

/** A network config as a runtime sends it to the IPAM plugin (the calling plugin's whole config). */
export function net(ipam: unknown, extra: Json = {}): Json {
  return { name: "dockin-diff", type: "bridge", bridge: "cni0", ipam, ...extra };
}

/** A static ipam block. */
export function ipam(fields: Json): Json {
  return { type: "static", ...fields };
}

const v4 = { address: "10.10.0.5/24", gateway: "10.10.0.1" };
const v6 = { address: "fd00:10::5/64", gateway: "fd00:10::1" };
const dual = ipam({ addresses: [v4, v6] });

/** A prevResult in `version`'s format holding `ips`. */
export function prevResult(version: string, ips: { address: string; gateway?: string }[]): Json {
  const legacyFormat = version.startsWith("0.");
  return {
    cniVersion: version,
    ips: ips.map((ip) => ({
      ...(legacyFormat ? { version: ip.address.includes(":") ? "6" : "4" } : {}),
      ...ip,
    })),
    dns: {},
  };
}

const CONTAINERD_ARGS =
  "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=4f1c;K8S_POD_UID=8e0c";

export const corpus: readonly Case[] = [
  // --- addresses -------------------------------------------------------------------------------
  { name: "one IPv4 address with a gateway", config: net(ipam({ addresses: [v4] })) },
  { name: "one IPv6 address with a gateway", config: net(ipam({ addresses: [v6] })) },
  { name: "dual stack, one address per family", config: net(dual) },
  {
    name: "an address without a gateway",
    config: net(ipam({ addresses: [{ address: "192.168.1.2/24" }] })),
  },
  {
    name: "an empty or null gateway means none",
    config: net(
      ipam({
        addresses: [
          { address: "192.168.1.2/24", gateway: "" },
          { address: "fd00::2/64", gateway: null },
        ],
      }),
    ),
  },
  {
    name: "two IPv4 addresses work from 0.3.0 and are refused before",
    config: net(ipam({ addresses: [v4, { address: "10.20.0.5/16", gateway: "10.20.0.1" }] })),
    fails: LEGACY,
    error: { code: 7, includes: ["IPv4", "ipam.addresses[0]", "ipam.addresses[1]"] },
  },
  {
    name: "two addresses of each family",
    config: net(ipam({ addresses: [v4, v6, { address: "10.20.0.5/16" }, { address: "fd00:20::5/64" }] })),
    fails: LEGACY,
  },
  {
    name: "no addresses key: an empty result, which versions before 0.3.0 cannot print",
    config: net(ipam({ routes: [{ dst: "0.0.0.0/0" }] })),
    fails: LEGACY,
    error: { code: 7, includes: ["ipam.addresses"] },
  },
  { name: "an empty addresses list", config: net(ipam({ addresses: [] })), fails: LEGACY },
  {
    name: "an address keeps its host bits and prefix",
    config: net(ipam({ addresses: [{ address: "10.1.2.3/8" }, { address: "fd00:1:2:3::4/48" }] })),
  },
  {
    name: "IPv6 written long and in capitals is printed canonically",
    config: net(
      ipam({ addresses: [{ address: "FD00:0:0:0:0:0:0:5/64", gateway: "FD00:0000:0000:0000::1" }] }),
    ),
  },
  {
    name: "an IPv4-mapped IPv6 address is printed as IPv4 with the prefix in its last 32 bits",
    config: net(ipam({ addresses: [{ address: "::ffff:10.0.0.5/120", gateway: "::ffff:10.0.0.1" }] })),
  },
  {
    name: "an IPv4-mapped IPv6 address with a short prefix becomes /0",
    config: net(ipam({ addresses: [{ address: "::ffff:10.0.0.5/64" }] })),
  },
  {
    name: "a prefix length with leading zeros",
    config: net(ipam({ addresses: [{ address: "10.0.0.5/024" }] })),
  },
  {
    name: "host addresses /32 and /128",
    config: net(ipam({ addresses: [{ address: "10.0.0.5/32" }, { address: "fd00::5/128" }] })),
  },
  {
    name: "a gateway of the other family is passed on as given",
    config: net(ipam({ addresses: [{ address: "10.0.0.5/24", gateway: "fd00::1" }] })),
  },
  {
    name: "a gateway outside the subnet is passed on as given",
    config: net(ipam({ addresses: [{ address: "10.0.0.5/24", gateway: "10.9.9.9" }] })),
  },

  // --- routes and dns ---------------------------------------------------------------------------
  {
    name: "routes with and without gw, both families",
    config: net(
      ipam({
        addresses: [v4, v6],
        routes: [
          { dst: "0.0.0.0/0" },
          { dst: "192.168.0.0/16", gw: "10.10.0.254" },
          { dst: "::/0" },
          { dst: "fd00:99::/64", gw: "fd00:10::fe" },
        ],
      }),
    ),
  },
  {
    name: "a route keeps the host bits of its destination",
    config: net(ipam({ addresses: [v4], routes: [{ dst: "10.20.30.40/8" }] })),
  },
  {
    name: "an empty or null route gw means none",
    config: net(
      ipam({
        addresses: [v4],
        routes: [
          { dst: "10.1.0.0/16", gw: "" },
          { dst: "10.2.0.0/16", gw: null },
        ],
      }),
    ),
  },
  {
    name: "a route gw in IPv4-mapped form is printed as IPv4",
    config: net(
      ipam({ addresses: [v4], routes: [{ dst: "::ffff:10.2.0.0/112", gw: "::ffff:10.10.0.254" }] }),
    ),
  },
  {
    name: "routes of a family without an address are left out before 0.3.0",
    config: net(ipam({ addresses: [v4], routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0", gw: "fd00::1" }] })),
  },
  {
    name: "spec 1.1.0 route keys are ignored before 1.1.0 and kept at 1.1.0",
    config: net(
      ipam({
        addresses: [v4],
        routes: [
          {
            dst: "10.5.0.0/16",
            gw: "10.10.0.9",
            mtu: 1400,
            advmss: 1360,
            priority: 10,
            table: 100,
            scope: 0,
          },
        ],
      }),
    ),
    at110: {
      result: {
        cniVersion: "1.1.0",
        ips: [v4],
        routes: [
          {
            dst: "10.5.0.0/16",
            gw: "10.10.0.9",
            mtu: 1400,
            advmss: 1360,
            priority: 10,
            table: 100,
            scope: 0,
          },
        ],
        dns: {},
      },
    },
  },
  {
    name: "spec 1.1.0 route keys of the wrong type are ignored before 1.1.0 and refused at 1.1.0",
    config: net(ipam({ addresses: [v4], routes: [{ dst: "10.5.0.0/16", mtu: "1400" }] })),
    at110: { fails: true },
  },
  {
    name: "dns with every field",
    config: net(
      ipam({
        addresses: [v4],
        dns: {
          nameservers: ["10.10.0.53", "fd00:10::53"],
          domain: "example.com",
          search: ["example.com", "svc.local"],
          options: ["ndots:2"],
        },
      }),
    ),
  },
  {
    name: "empty dns fields are left out",
    config: net(ipam({ addresses: [v4], dns: { nameservers: [], domain: "", search: [], options: [] } })),
  },
  {
    name: "dns nameservers are passed on unchecked",
    config: net(ipam({ addresses: [v4], dns: { nameservers: ["dns.example.com"] } })),
  },
  {
    name: "the seed's example configuration",
    config: net(
      ipam({
        addresses: [
          { address: "192.168.0.1/24", gateway: "192.168.0.254" },
          { address: "3ffe:ffff:0:01ff::1/64", gateway: "3ffe:ffff:0::1" },
        ],
        routes: [
          { dst: "0.0.0.0/0" },
          { dst: "192.168.0.0/16", gw: "192.168.1.1" },
          { dst: "3ffe:ffff:0:01ff::1/64" },
        ],
        dns: { nameservers: ["8.8.8.8"], domain: "example.com", search: ["example.com"] },
      }),
    ),
  },

  // --- CNI_ARGS -------------------------------------------------------------------------------
  {
    name: "CNI_ARGS IP is added after the configured addresses",
    config: net(ipam({ addresses: [v4] })),
    cniArgs: "IP=10.30.0.5/24",
    fails: LEGACY,
  },
  {
    name: "CNI_ARGS IP alone, dual stack, spaces around items",
    config: net(ipam({})),
    cniArgs: "IP=10.30.0.5/24 , fd00:30::5/64",
  },
  {
    name: "CNI_ARGS GATEWAY goes to the CNI_ARGS address whose subnet holds it",
    config: net(ipam({})),
    cniArgs: "IP=10.30.0.5/24,fd00:30::5/64;GATEWAY=10.30.0.1,fd00:30::1",
  },
  {
    name: "CNI_ARGS GATEWAY leaves the configured addresses alone",
    config: net(ipam({ addresses: [{ address: "10.30.0.7/24", gateway: "10.30.0.254" }, v6] })),
    cniArgs: "GATEWAY=10.30.0.1",
  },
  {
    name: "CNI_ARGS GATEWAY outside every subnet is ignored",
    config: net(ipam({})),
    cniArgs: "IP=10.30.0.5/24;GATEWAY=10.99.0.1",
  },
  {
    name: "CNI_ARGS: the last of several gateways in one subnet wins",
    config: net(ipam({})),
    cniArgs: "IP=10.30.0.5/24;GATEWAY=10.30.0.1,10.30.0.2",
  },
  {
    name: "CNI_ARGS bare IP (as CRI-O sends it) is refused",
    config: net(ipam({})),
    cniArgs: "IP=10.30.0.5",
    fails: true,
    error: { code: 4, includes: ["CNI_ARGS", "IP", '"10.30.0.5"', "prefix length"] },
  },
  {
    name: "CNI_ARGS IP that is not an address is refused",
    config: net(ipam({})),
    cniArgs: "IP=10.30.0.5/24,banana",
    fails: true,
    error: { code: 4, includes: ["IP[1]", '"banana"'] },
  },
  {
    name: "CNI_ARGS IP with an empty item is refused",
    config: net(ipam({})),
    cniArgs: "IP=10.30.0.5/24,",
    fails: true,
  },
  {
    name: "CNI_ARGS GATEWAY that is not an IP is refused",
    config: net(ipam({})),
    cniArgs: "IP=10.30.0.5/24;GATEWAY=10.30.0.1/24",
    fails: true,
    error: { code: 4, includes: ["GATEWAY", '"10.30.0.1/24"'] },
  },
  {
    name: "CNI_ARGS empty IP and GATEWAY are ignored",
    config: net(ipam({ addresses: [v4] })),
    cniArgs: "IP=;GATEWAY=",
  },
  {
    name: "CNI_ARGS unknown key without IgnoreUnknown is refused",
    config: net(ipam({ addresses: [v4] })),
    cniArgs: "K8S_POD_NAME=web-0",
    fails: true,
    error: { code: 4, includes: ["K8S_POD_NAME"] },
  },
  {
    name: "CNI_ARGS unknown keys with IgnoreUnknown=1, as containerd and CRI-O send them",
    config: net(ipam({ addresses: [v6] })),
    cniArgs: `${CONTAINERD_ARGS};IP=10.30.0.5/24;GATEWAY=10.30.0.1`,
  },
  {
    name: "CNI_ARGS IgnoreUnknown=true in capitals",
    config: net(ipam({ addresses: [v4] })),
    cniArgs: "IgnoreUnknown=TRUE;K8S_POD_NAME=web-0",
  },
  {
    name: "CNI_ARGS IgnoreUnknown=0 ignores nothing",
    config: net(ipam({ addresses: [v4] })),
    cniArgs: "IgnoreUnknown=0;K8S_POD_NAME=web-0",
    fails: true,
  },
  {
    name: "CNI_ARGS IgnoreUnknown that is not a boolean is refused",
    config: net(ipam({ addresses: [v4] })),
    cniArgs: "IgnoreUnknown=yes",
    fails: true,
    error: { code: 4, includes: ["IgnoreUnknown", "yes"] },
  },
  {
    name: "CNI_ARGS keys are case-sensitive: ip is unknown",
    config: net(ipam({ addresses: [v4] })),
    cniArgs: "ip=10.30.0.5/24",
    fails: true,
  },
  {
    name: "CNI_ARGS pair without '=' is refused",
    config: net(ipam({ addresses: [v4] })),
    cniArgs: "IgnoreUnknown=1;garbage",
    fails: true,
  },
  {
    name: "CNI_ARGS trailing ';' is refused",
    config: net(ipam({ addresses: [v4] })),
    cniArgs: "IP=10.30.0.5/24;",
    fails: true,
  },
  {
    name: "CNI_ARGS empty key is ignored under IgnoreUnknown",
    config: net(ipam({ addresses: [v4] })),
    cniArgs: "=x;IgnoreUnknown=1",
  },
  {
    name: "CNI_ARGS repeated IP keeps the last",
    config: net(ipam({})),
    cniArgs: "IP=10.30.0.5/24;IP=10.40.0.5/24",
  },

  // --- args.cni.ips and the ips capability ------------------------------------------------------
  {
    name: "args.cni.ips replaces the configured and CNI_ARGS addresses (and their gateways)",
    config: net(ipam({ addresses: [v4, v6] }), { args: { cni: { ips: ["10.50.0.5/24"] } } }),
    cniArgs: "IP=10.30.0.5/24;GATEWAY=10.30.0.1",
  },
  {
    name: "args.cni.ips dual stack",
    config: net(ipam({}), { args: { cni: { ips: ["10.50.0.5/24", "fd00:50::5/64"] } } }),
  },
  {
    name: "args.cni.ips empty falls back to the configuration",
    config: net(ipam({ addresses: [v4] }), { args: { cni: { ips: [] } } }),
  },
  {
    name: "args without cni is ignored",
    config: net(ipam({ addresses: [v4] }), { args: { other: { ips: ["10.50.0.5/24"] } } }),
  },
  {
    name: "args.cni.ips bare IP is refused",
    config: net(ipam({}), { args: { cni: { ips: ["10.50.0.5"] } } }),
    fails: true,
    error: { code: 7, includes: ["args.cni.ips[0]", '"10.50.0.5"'] },
  },
  {
    name: "args.cni.ips that is a string is refused",
    config: net(ipam({}), { args: { cni: { ips: "10.50.0.5/24" } } }),
    fails: true,
    error: { code: 6, includes: ["args.cni.ips", "list"] },
  },
  {
    name: "args that is a string is refused",
    config: net(ipam({ addresses: [v4] }), { args: "ips=10.50.0.5/24" }),
    fails: true,
    error: { code: 6, includes: ["args"] },
  },
  {
    name: "args.cni that is a list is refused",
    config: net(ipam({ addresses: [v4] }), { args: { cni: ["10.50.0.5/24"] } }),
    fails: true,
    error: { code: 6, includes: ["args.cni"] },
  },
  {
    name: "runtimeConfig.ips (the capability) wins over args.cni.ips and CNI_ARGS",
    config: net(ipam({ addresses: [v4] }), {
      capabilities: { ips: true },
      runtimeConfig: { ips: ["10.60.0.5/24", "fd00:60::5/64"] },
      args: { cni: { ips: ["10.50.0.5/24"] } },
    }),
    cniArgs: "IP=10.30.0.5/24",
  },
  {
    name: "runtimeConfig.ips empty falls back to args.cni.ips",
    config: net(ipam({ addresses: [v4] }), {
      runtimeConfig: { ips: [] },
      args: { cni: { ips: ["10.50.0.5/24"] } },
    }),
  },
  {
    name: "runtimeConfig without ips is ignored",
    config: net(ipam({ addresses: [v4] }), { runtimeConfig: { portMappings: [] } }),
  },
  {
    name: "runtimeConfig.ips bare IP is refused",
    config: net(ipam({}), { runtimeConfig: { ips: ["10.60.0.5"] } }),
    fails: true,
    error: { code: 7, includes: ["runtimeConfig.ips[0]", '"10.60.0.5"'] },
  },
  {
    name: "runtimeConfig.ips with a number is refused",
    config: net(ipam({}), { runtimeConfig: { ips: [5] } }),
    fails: true,
    error: { code: 6, includes: ["runtimeConfig.ips[0]"] },
  },
  {
    name: "runtimeConfig that is a list is refused",
    config: net(ipam({ addresses: [v4] }), { runtimeConfig: [] }),
    fails: true,
  },
  {
    name: "runtimeConfig.ips: two IPv4 addresses are refused before 0.3.0",
    config: net(ipam({}), { runtimeConfig: { ips: ["10.60.0.5/24", "10.60.0.6/24"] } }),
    fails: LEGACY,
    error: { code: 7, includes: ["runtimeConfig.ips[0]", "runtimeConfig.ips[1]"] },
  },
  {
    name: "a bad CNI_ARGS IP fails even when runtimeConfig.ips wins",
    config: net(ipam({}), { runtimeConfig: { ips: ["10.60.0.5/24"] } }),
    cniArgs: "IP=10.30.0.5",
    fails: true,
  },
  {
    name: "a bad args.cni.ips entry fails even when runtimeConfig.ips wins",
    config: net(ipam({}), { runtimeConfig: { ips: ["10.60.0.5/24"] }, args: { cni: { ips: ["nope"] } } }),
    fails: true,
  },
  {
    name: "an unused configured address is not checked when runtimeConfig.ips wins",
    config: net(ipam({ addresses: [{ address: "10.0.0.5" }] }), { runtimeConfig: { ips: ["10.60.0.5/24"] } }),
  },
  {
    name: "a configured gateway that is not an IP fails even when runtimeConfig.ips wins",
    config: net(ipam({ addresses: [{ address: "10.0.0.5/24", gateway: "gw" }] }), {
      runtimeConfig: { ips: ["10.60.0.5/24"] },
    }),
    fails: true,
  },

  // --- invalid configuration ----------------------------------------------------------------
  {
    name: "missing ipam key",
    config: net(undefined),
    fails: true,
    error: { code: 7, includes: ["ipam", "missing"] },
  },
  { name: "ipam null", config: net(null), fails: true, error: { code: 7, includes: ["ipam"] } },
  { name: "ipam is a list", config: net([]), fails: true, error: { code: 6, includes: ["ipam", "object"] } },
  {
    name: "an address that is a bare IP",
    config: net(ipam({ addresses: [v6, { address: "10.0.0.5", gateway: "10.0.0.1" }] })),
    fails: true,
    error: { code: 7, includes: ["ipam.addresses[1].address", '"10.0.0.5"', "prefix length"] },
  },
  {
    name: "an address with an octet out of range",
    config: net(ipam({ addresses: [{ address: "10.0.0.300/24" }] })),
    fails: true,
    error: { code: 7, includes: ["ipam.addresses[0].address", "10.0.0.300/24"] },
  },
  {
    name: "an address with a prefix too long",
    config: net(ipam({ addresses: [{ address: "10.0.0.5/33" }, { address: "fd00::5/129" }] })),
    fails: true,
    error: { includes: ["ipam.addresses[0].address", "ipam.addresses[1].address"] },
  },
  {
    name: "an address with an IPv6 zone",
    config: net(ipam({ addresses: [{ address: "fe80::5%eth0/64" }] })),
    fails: true,
  },
  {
    name: "an IPv4 address with a leading zero",
    config: net(ipam({ addresses: [{ address: "10.0.0.05/24" }] })),
    fails: true,
  },
  { name: "an empty address", config: net(ipam({ addresses: [{ address: "" }] })), fails: true },
  {
    name: "an address entry without address",
    config: net(ipam({ addresses: [{ gateway: "10.0.0.1" }] })),
    fails: true,
    error: { code: 7, includes: ["ipam.addresses[0].address", "missing"] },
  },
  {
    name: "an address that is a number",
    config: net(ipam({ addresses: [{ address: 167772165 }] })),
    fails: true,
    error: { code: 6, includes: ["ipam.addresses[0].address", "string"] },
  },
  {
    name: "addresses that is an object",
    config: net(ipam({ addresses: v4 })),
    fails: true,
    error: { code: 6, includes: ["ipam.addresses", "list"] },
  },
  {
    name: "a gateway that is not an IP",
    config: net(ipam({ addresses: [{ address: "10.0.0.5/24", gateway: "10.0.0.256" }] })),
    fails: true,
    error: { code: 7, includes: ["ipam.addresses[0].gateway", '"10.0.0.256"'] },
  },
  {
    name: "a gateway written as a CIDR",
    config: net(ipam({ addresses: [{ address: "10.0.0.5/24", gateway: "10.0.0.1/24" }] })),
    fails: true,
    error: { code: 7, includes: ["ipam.addresses[0].gateway", '"10.0.0.1/24"'] },
  },
  {
    name: "a gateway that is a list",
    config: net(ipam({ addresses: [{ address: "10.0.0.5/24", gateway: ["10.0.0.1"] }] })),
    fails: true,
    error: { code: 6, includes: ["ipam.addresses[0].gateway"] },
  },
  {
    name: "a route dst that is not a CIDR",
    config: net(ipam({ addresses: [v4], routes: [{ dst: "default" }] })),
    fails: true,
    error: { code: 7, includes: ["ipam.routes[0].dst", '"default"'] },
  },
  {
    name: "a route dst that is a bare IP",
    config: net(ipam({ addresses: [v4], routes: [{ dst: "0.0.0.0" }] })),
    fails: true,
    error: { code: 7, includes: ["ipam.routes[0].dst", '"0.0.0.0"'] },
  },
  {
    name: "a route gw that is not an IP",
    config: net(ipam({ addresses: [v4], routes: [{ dst: "0.0.0.0/0", gw: "router" }] })),
    fails: true,
    error: { code: 7, includes: ["ipam.routes[0].gw", '"router"'] },
  },
  {
    name: "routes that is an object",
    config: net(ipam({ addresses: [v4], routes: { dst: "0.0.0.0/0" } })),
    fails: true,
    error: { code: 6, includes: ["ipam.routes"] },
  },
  {
    name: "dns nameservers that is a string",
    config: net(ipam({ addresses: [v4], dns: { nameservers: "8.8.8.8" } })),
    fails: true,
    error: { code: 6, includes: ["ipam.dns.nameservers", "list"] },
  },
  {
    name: "dns domain that is a number",
    config: net(ipam({ addresses: [v4], dns: { domain: 5 } })),
    fails: true,
    error: { code: 6, includes: ["ipam.dns.domain"] },
  },
  {
    name: "ipam type that is a number",
    config: net({ type: 5, addresses: [v4] }),
    fails: true,
    error: { code: 6, includes: ["ipam.type"] },
  },
  {
    name: "every problem is reported, not only the first",
    config: net(ipam({ addresses: [{ address: "10.0.0.5" }], routes: [{ dst: "x" }] })),
    fails: true,
    error: { includes: ["ipam.addresses[0].address", "ipam.routes[0].dst"] },
  },
  {
    name: "keys match whatever their case, as Go's JSON decoder matches them",
    config: net(undefined, {
      IPAM: { Type: "static", Addresses: [{ ADDRESS: "10.0.0.5/24", Gateway: "10.0.0.1" }] },
    }),
  },
  {
    name: "cniVersion in another letter case counts, the last one winning, as Go's decoder reads it",
    config: (version) =>
      `{"cniVersion":"0.0.9","CNIVersion":"${version}","name":"dockin-diff","type":"bridge","ipam":{"type":"static","addresses":[{"address":"10.0.0.5/24"}]}}`,
  },
  {
    name: "cniVersion in another letter case alone",
    config: (version) =>
      `{"CNIVERSION":"${version}","name":"dockin-diff","type":"bridge","ipam":{"type":"static","addresses":[{"address":"10.0.0.5/24"}]}}`,
  },
  {
    name: "a network name in another letter case counts, the last one winning",
    config: net(ipam({ addresses: [v4] }), { Name: "my net" }),
    fails: true,
    error: { code: 7, includes: ["my net"] },
  },
  {
    name: "ADD ignores a prevResult",
    config: net(ipam({ addresses: [v4] }), { prevResult: { cniVersion: "9.9.9", ips: "garbage" } }),
  },
  {
    name: "unknown keys are ignored",
    config: net(ipam({ addresses: [v4], subnet: "10.10.0.0/16", rangeStart: "10.10.0.10" }), {
      isGateway: true,
      mtu: 1450,
    }),
  },
  {
    name: "missing network name",
    config: { type: "bridge", ipam: ipam({ addresses: [v4] }) },
    fails: true,
    error: { code: 7, includes: ["name"] },
  },
  {
    name: "invalid network name",
    config: net(ipam({ addresses: [v4] }), { name: "my net" }),
    fails: true,
    error: { code: 7, includes: ["my net"] },
  },
  {
    name: "stdin that is not JSON",
    config: () => '{"cniVersion": "1.0.0", "name": "n", ',
    versions: ["1.0.0"],
    fails: true,
    error: { code: 6 },
    at110: "skip",
  },
  {
    name: "stdin that is a JSON list",
    config: () => "[]",
    versions: ["1.0.0"],
    fails: true,
    error: { code: 6 },
    at110: "skip",
  },
  {
    name: "a config without cniVersion is 0.1.0",
    config: () => JSON.stringify(net(ipam({ addresses: [v4] }))),
    versions: ["1.0.0"],
    at110: "skip",
  },
  {
    name: "a config with an empty cniVersion is 0.1.0",
    config: () => JSON.stringify({ cniVersion: "", ...net(ipam({ addresses: [v4] })) }),
    versions: ["1.0.0"],
    at110: "skip",
  },
  {
    name: "an unknown cniVersion is refused",
    config: () => JSON.stringify({ cniVersion: "0.9.9", ...net(ipam({ addresses: [v4] })) }),
    versions: ["1.0.0"],
    fails: true,
    error: { code: 1 },
    at110: "skip",
  },

  // --- where the reference plugin is wrong --------------------------------------------------
  {
    name: "a route without dst is refused",
    config: net(ipam({ addresses: [v4], routes: [{ gw: "10.10.0.1" }] })),
    fails: true,
    error: { code: 7, includes: ["ipam.routes[0].dst", "missing"] },
    staticDiffers: {
      why: 'static prints the route with "dst": "<nil>", a result no runtime or plugin can read',
    },
  },
  {
    name: "a null route is refused",
    config: net(ipam({ addresses: [v4], routes: [null] })),
    fails: true,
    error: { code: 6, includes: ["ipam.routes[0]"] },
    staticDiffers: {
      why: "from 0.3.0 static prints the route as null in the result, which breaks whoever reads it (before 0.3.0 it crashes, so both fail)",
      versions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0"],
    },
  },

  // --- CHECK ----------------------------------------------------------------------------------
  {
    name: "CHECK against the ADD result passes",
    command: "CHECK",
    config: net(
      ipam({ addresses: [v4, v6], routes: [{ dst: "0.0.0.0/0" }], dns: { nameservers: ["1.1.1.1"] } }),
    ),
    versions: WITH_CHECK,
    prevResult: "add",
  },
  {
    name: "CHECK against the ADD result with CNI_ARGS and the capability passes",
    command: "CHECK",
    config: net(ipam({ addresses: [v4] }), { runtimeConfig: { ips: ["10.60.0.5/24"] } }),
    cniArgs: `${CONTAINERD_ARGS};IP=10.30.0.5/24`,
    versions: WITH_CHECK,
    prevResult: "add",
  },
  {
    name: "CHECK with a different gateway fails",
    command: "CHECK",
    config: net(ipam({ addresses: [v4] })),
    versions: WITH_CHECK,
    prevResult: (v) => prevResult(v, [{ address: v4.address, gateway: "10.10.0.2" }]),
    fails: true,
    error: { includes: ["10.10.0.5/24", "10.10.0.1", "10.10.0.2"] },
  },
  {
    name: "CHECK with no gateway in prevResult where one is configured fails",
    command: "CHECK",
    config: net(ipam({ addresses: [v4] })),
    versions: WITH_CHECK,
    prevResult: (v) => prevResult(v, [{ address: v4.address }]),
    fails: true,
  },
  {
    name: "CHECK with a gateway in prevResult where none is configured passes (bridge's isGateway)",
    command: "CHECK",
    config: net(ipam({ addresses: [{ address: "10.10.0.5/24" }] })),
    versions: WITH_CHECK,
    prevResult: (v) => prevResult(v, [{ address: "10.10.0.5/24", gateway: "10.10.0.1" }]),
  },
  {
    name: "CHECK with other addresses in prevResult passes",
    command: "CHECK",
    config: net(ipam({ addresses: [v4] })),
    versions: WITH_CHECK,
    prevResult: (v) => prevResult(v, [{ address: "10.99.0.5/24" }, v4, v6]),
  },
  {
    name: "CHECK with nothing configured passes",
    command: "CHECK",
    config: net(ipam({})),
    versions: WITH_CHECK,
    prevResult: (v) => prevResult(v, [v4]),
  },
  {
    name: "CHECK without prevResult fails",
    command: "CHECK",
    config: net(ipam({ addresses: [v4] })),
    versions: WITH_CHECK,
    fails: true,
    error: { code: 7, includes: ["prevResult"] },
  },
  {
    name: "CHECK with prevResult null fails",
    command: "CHECK",
    config: net(ipam({ addresses: [v4] })),
    versions: WITH_CHECK,
    prevResult: () => null,
    fails: true,
  },
  {
    name: "CHECK with a prevResult that is a string fails",
    command: "CHECK",
    config: net(ipam({ addresses: [v4] })),
    versions: WITH_CHECK,
    prevResult: () => "10.10.0.5/24",
    fails: true,
    error: { code: 6, includes: ["prevResult"] },
  },
  {
    name: "CHECK with a prevResult in another version's format fails",
    command: "CHECK",
    config: net(ipam({ addresses: [v4] })),
    versions: WITH_CHECK,
    prevResult: () => ({ cniVersion: "0.2.0", ip4: { ip: v4.address, gateway: v4.gateway } }),
    fails: true,
    error: { includes: ["prevResult.cniVersion", "0.2.0"] },
  },
  {
    name: "CHECK with a prevResult without cniVersion reads it in the config's version",
    command: "CHECK",
    config: net(ipam({ addresses: [v4] })),
    versions: WITH_CHECK,
    prevResult: (v) => {
      const { cniVersion: _, ...rest } = prevResult(v, [v4]);
      return rest;
    },
  },
  {
    name: "CHECK with a bad address in prevResult fails",
    command: "CHECK",
    config: net(ipam({ addresses: [v4] })),
    versions: WITH_CHECK,
    prevResult: (v) => prevResult(v, [{ address: "10.10.0.5" }]),
    fails: true,
    error: { includes: ["prevResult.ips[0].address"] },
  },
  {
    name: "CHECK validates the configuration too",
    command: "CHECK",
    config: net(ipam({ addresses: [{ address: "10.10.0.5" }] })),
    versions: WITH_CHECK,
    prevResult: (v) => prevResult(v, [v4]),
    fails: true,
    error: { code: 7, includes: ["ipam.addresses[0].address"] },
  },
  {
    name: "CHECK before 0.4.0 is refused",
    command: "CHECK",
    config: net(ipam({ addresses: [v4] })),
    versions: ["0.1.0", "0.2.0", "0.3.0", "0.3.1"],
    prevResult: (v) => prevResult(v, [v4]),
    fails: true,
    error: { code: 1 },
    at110: "skip",
  },
  {
    name: "CHECK fails when a configured address is missing from prevResult",
    command: "CHECK",
    config: net(ipam({ addresses: [v4, v6] })),
    versions: WITH_CHECK,
    prevResult: (v) => prevResult(v, [v4]),
    fails: true,
    error: { includes: ["fd00:10::5/64", "not in prevResult"] },
    staticDiffers: {
      why: "static only compares the addresses it finds in prevResult: an address missing from the container passes its CHECK",
    },
  },
  {
    name: "CHECK fails when the prefix length differs",
    command: "CHECK",
    config: net(ipam({ addresses: [v4] })),
    versions: WITH_CHECK,
    prevResult: (v) => prevResult(v, [{ address: "10.10.0.5/16", gateway: v4.gateway }]),
    fails: true,
    error: { includes: ["10.10.0.5/24", "10.10.0.5/16"] },
    staticDiffers: { why: "static compares the address alone: 10.10.0.5/16 passes a CHECK of 10.10.0.5/24" },
  },

  // --- DEL, STATUS, GC, environment ----------------------------------------------------------
  { name: "DEL succeeds", command: "DEL", config: net(dual) },
  {
    name: "DEL with a prevResult succeeds",
    command: "DEL",
    config: net(dual, { prevResult: { cniVersion: "1.0.0", ips: [v4] } }),
    versions: ["1.0.0"],
  },
  { name: "DEL without ipam succeeds", command: "DEL", config: net(undefined) },
  {
    name: "DEL with a corrupt prevResult succeeds",
    command: "DEL",
    config: net(dual, { prevResult: { cniVersion: "0.2.0", ips: "garbage" } }),
  },
  {
    name: "DEL with an invalid ipam block succeeds: nothing to release",
    command: "DEL",
    config: net(ipam({ addresses: [{ address: "10.0.0.5" }], routes: "x" })),
  },
  {
    name: "DEL with a bad CNI_ARGS succeeds",
    command: "DEL",
    config: net(dual),
    cniArgs: "IP=nope;X=1",
  },
  { name: "DEL without CNI_NETNS succeeds", command: "DEL", config: net(dual), env: { CNI_NETNS: null } },
  {
    name: "DEL without a network name fails",
    command: "DEL",
    config: { type: "bridge", ipam: dual },
    fails: true,
    error: { code: 7 },
  },
  {
    name: "DEL with stdin that is not JSON fails",
    command: "DEL",
    config: () => "{",
    versions: ["1.0.0"],
    fails: true,
    error: { code: 6 },
    at110: "skip",
  },
  {
    name: "ADD without CNI_NETNS fails",
    config: net(dual),
    env: { CNI_NETNS: null },
    fails: true,
    error: { code: 4, includes: ["CNI_NETNS"] },
  },
  {
    name: "ADD without CNI_PATH fails",
    config: net(dual),
    env: { CNI_PATH: null },
    fails: true,
    error: { code: 4, includes: ["CNI_PATH"] },
  },
  {
    name: "ADD with an invalid CNI_CONTAINERID fails",
    config: net(dual),
    env: { CNI_CONTAINERID: "-bad id" },
    fails: true,
    error: { code: 4, includes: ["CNI_CONTAINERID"] },
  },
  {
    name: "ADD with an interface name over 15 characters fails",
    config: net(dual),
    env: { CNI_IFNAME: "eth0123456789abc" },
    fails: true,
    error: { code: 4, includes: ["CNI_IFNAME"] },
  },
  {
    name: "STATUS is refused before 1.1.0 and succeeds at 1.1.0",
    command: "STATUS",
    config: net(dual),
    fails: true,
    at110: { fails: false },
  },
  {
    name: "GC is refused before 1.1.0 and succeeds at 1.1.0",
    command: "GC",
    config: net(dual, { "cni.dev/valid-attachments": [{ containerID: "dockin-diff-1", ifname: "eth0" }] }),
    fails: true,
    at110: { fails: false },
  },
];
