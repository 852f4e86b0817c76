// The lean ADD (src/ipam/lean.ts) against the full path (the protocol driver and the IPAM plugin),
// in-process: over every ADD of the differential corpus, at every version, and over variations of
// the config dockin-cni sends, the lean path either declines or prints byte for byte what the full
// path prints. And it does answer what dockin-cni sends on every pod, else it would be dead code.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runPlugin } from "../../src/cni/skel.ts";
import { ALL_VERSIONS } from "../../src/cni/version.ts";
import { leanAdd } from "../../src/ipam/lean.ts";
import { ipamPlugin } from "../../src/ipam/plugin.ts";
import { type Case, corpus, type Json } from "./corpus.ts";

const BASE_ENV: Record<string, string> = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "dockin-diff-1",
  CNI_NETNS: "/var/run/netns/dockin-diff",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/usr/lib/cni",
};

function envOf(cniArgs: string | undefined, overrides: Record<string, string | null> = {}) {
  const env: Record<string, string> = { ...BASE_ENV };
  if (cniArgs !== undefined) env.CNI_ARGS = cniArgs;
  for (const [k, v] of Object.entries(overrides)) {
    if (v === null) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** What the full path prints for `stdin` in `env`, and its exit status. */
async function fullPath(
  env: Record<string, string>,
  stdin: string,
): Promise<{ stdout: string; code: number }> {
  let stdout = "";
  let code = 0;
  await runPlugin(ipamPlugin, {
    env,
    readStdin: async () => stdin,
    writeStdout: async (text) => {
      stdout += text;
    },
    setExitCode: (c) => {
      code = c;
    },
  });
  return { stdout, code };
}

async function agree(env: Record<string, string>, stdin: string, what: string): Promise<boolean> {
  const lean = leanAdd(env, stdin);
  if (lean === undefined) return false;
  const full = await fullPath(env, stdin);
  assert.equal(full.code, 0, `${what}: the lean path answered where the full path fails:\n${full.stdout}`);
  assert.equal(lean, full.stdout, `${what}: the lean path's answer differs`);
  return true;
}

const stdinOf = (c: Case, version: string): string =>
  typeof c.config === "function" ? c.config(version) : JSON.stringify({ cniVersion: version, ...c.config });

describe("dockin-ipam's lean ADD", () => {
  it("declines or agrees byte for byte with the full path, over the differential corpus at every version", async () => {
    let answered = 0;
    let cases = 0;
    for (const c of corpus) {
      if ((c.command ?? "ADD") !== "ADD" || c.prevResult !== undefined) continue;
      for (const version of ALL_VERSIONS) {
        cases++;
        if (await agree(envOf(c.cniArgs, c.env), stdinOf(c, version), `${c.name} at ${version}`)) answered++;
      }
    }
    assert.ok(answered > 0, `the lean path answered none of ${cases} corpus ADDs`);
  });

  // The config dockin-cni hands bridge for its IPAM (src/plugin/delegate.ts ipamBlock), as the
  // runtime's CNI_ARGS come with it.
  const sent = (extra: Json = {}): Json => ({
    cniVersion: "1.0.0",
    name: "storage",
    type: "bridge",
    bridge: "dk-storage",
    isGateway: true,
    ipam: {
      type: "dockin-ipam",
      addresses: [{ address: "10.72.0.2/24", gateway: "10.72.0.1" }],
      routes: [{ dst: "0.0.0.0/0", gw: "10.72.0.1" }],
    },
    ...extra,
  });
  const K8S = "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc";

  it("answers what dockin-cni sends on every pod, at 1.0.0 and 1.1.0, with and without the runtime's CNI_ARGS", async () => {
    for (const version of ["1.0.0", "1.1.0"]) {
      for (const args of [undefined, K8S]) {
        const stdin = JSON.stringify(sent({ cniVersion: version }));
        assert.ok(await agree(envOf(args), stdin, `${version} ${args ?? "no CNI_ARGS"}`), "answered");
      }
    }
  });

  it("declines, and the full path decides, for everything it does not take", async () => {
    const declined: [string, Record<string, string>, string][] = [
      ["an older version", envOf(K8S), JSON.stringify(sent({ cniVersion: "0.4.0" }))],
      ["CNI_ARGS with an address", envOf(`${K8S};IP=10.72.0.9/24`), JSON.stringify(sent())],
      ["unknown CNI_ARGS keys without IgnoreUnknown", envOf("K8S_POD_NAME=x"), JSON.stringify(sent())],
      ["IgnoreUnknown of another value", envOf("IgnoreUnknown=yes;A=b"), JSON.stringify(sent())],
      ["a malformed CNI_ARGS pair", envOf("IgnoreUnknown=1;A"), JSON.stringify(sent())],
      [
        "an IPv6 address",
        envOf(K8S),
        JSON.stringify(sent({ ipam: { addresses: [{ address: "fd00::2/64" }] } })),
      ],
      [
        "a leading zero",
        envOf(K8S),
        JSON.stringify(sent({ ipam: { addresses: [{ address: "10.72.0.02/24" }] } })),
      ],
      [
        "a prefix with a leading zero",
        envOf(K8S),
        JSON.stringify(sent({ ipam: { addresses: [{ address: "10.72.0.2/024" }] } })),
      ],
      [
        "a prefix over 32",
        envOf(K8S),
        JSON.stringify(sent({ ipam: { addresses: [{ address: "10.72.0.2/33" }] } })),
      ],
      [
        "an empty gateway",
        envOf(K8S),
        JSON.stringify(sent({ ipam: { addresses: [{ address: "10.72.0.2/24", gateway: "" }] } })),
      ],
      [
        "dns",
        envOf(K8S),
        JSON.stringify(
          sent({ ipam: { addresses: [{ address: "10.72.0.2/24" }], dns: { nameservers: ["1.1.1.1"] } } }),
        ),
      ],
      [
        "a key in another case",
        envOf(K8S),
        JSON.stringify(sent({ ipam: { Addresses: [{ address: "10.72.0.2/24" }] } })),
      ],
      ["a second ipam key in another case", envOf(K8S), JSON.stringify({ ...sent(), IPAM: {} })],
      ["runtimeConfig", envOf(K8S), JSON.stringify(sent({ runtimeConfig: { ips: ["10.72.0.9/24"] } }))],
      ["args", envOf(K8S), JSON.stringify(sent({ args: { cni: { ips: ["10.72.0.9/24"] } } }))],
      [
        "route extras at 1.1.0",
        envOf(K8S),
        JSON.stringify(
          sent({
            cniVersion: "1.1.0",
            ipam: { addresses: [{ address: "10.72.0.2/24" }], routes: [{ dst: "0.0.0.0/0", mtu: 1400 }] },
          }),
        ),
      ],
      ["no addresses", envOf(K8S), JSON.stringify(sent({ ipam: { addresses: [] } }))],
      ["a bad network name", envOf(K8S), JSON.stringify(sent({ name: "-bad" }))],
      ["a long interface name", envOf(K8S, { CNI_IFNAME: "a-very-long-name0" }), JSON.stringify(sent())],
      ["no CNI_PATH", envOf(K8S, { CNI_PATH: null }), JSON.stringify(sent())],
      ["a DEL", { ...envOf(K8S), CNI_COMMAND: "DEL" }, JSON.stringify(sent())],
      ["text that is not JSON", envOf(K8S), "{"],
    ];
    for (const [what, env, stdin] of declined) assert.equal(leanAdd(env, stdin), undefined, what);
  });

  // The lean path's checks are compact loops of its own (it imports nothing): at their edges each
  // case is answered as the full path answers it, or declined, and never answered otherwise.
  const withAddress = (address: unknown, gateway?: unknown): string =>
    JSON.stringify(
      sent({ ipam: { addresses: [{ address, ...(gateway === undefined ? {} : { gateway }) }] } }),
    );
  const withRoute = (dst: unknown, gw?: unknown): string =>
    JSON.stringify(
      sent({
        ipam: {
          addresses: [{ address: "10.72.0.2/24" }],
          routes: [{ dst, ...(gw === undefined ? {} : { gw }) }],
        },
      }),
    );

  it("answers the edges of what it takes as the full path does", async () => {
    const answered: [string, Record<string, string>, string][] = [
      ["no CNI_ARGS at all", envOf(undefined), JSON.stringify(sent())],
      ["IgnoreUnknown alone", envOf("IgnoreUnknown=1"), JSON.stringify(sent())],
      ["IgnoreUnknown=TRUE", envOf("IgnoreUnknown=TRUE;K8S_POD_NAME=a"), JSON.stringify(sent())],
      ["IgnoreUnknown=false without others", envOf("IgnoreUnknown=false"), JSON.stringify(sent())],
      [
        "a repeated IgnoreUnknown: the last counts",
        envOf("IgnoreUnknown=0;IgnoreUnknown=1;A=b"),
        JSON.stringify(sent()),
      ],
      ["an empty value", envOf("IgnoreUnknown=1;K8S_POD_NAME="), JSON.stringify(sent())],
      ["the address 0.0.0.0/0", envOf(K8S), withAddress("0.0.0.0/0")],
      ["the address 255.255.255.255/32", envOf(K8S), withAddress("255.255.255.255/32", "255.255.255.254")],
      ["no gateway", envOf(K8S), withAddress("10.72.0.2/24")],
      ["a route without gw", envOf(K8S), withRoute("192.168.0.0/16")],
      ["a route with gw", envOf(K8S), withRoute("192.168.0.0/16", "10.72.0.1")],
      ["a container id of '_.-'", envOf(K8S, { CNI_CONTAINERID: "a_b.c-d" }), JSON.stringify(sent())],
      [
        "an interface name of 15 characters",
        envOf(K8S, { CNI_IFNAME: "net1-storage-ab" }),
        JSON.stringify(sent()),
      ],
      ["a network name of '_.-'", envOf(K8S), JSON.stringify(sent({ name: "a_b.c-d" }))],
    ];
    for (const [what, env, stdin] of answered) assert.ok(await agree(env, stdin, what), `${what}: answered`);
  });

  it("declines, at the edges of its checks, what it does not take", () => {
    const declined: [string, Record<string, string>, string][] = [
      ["an empty CNI_ARGS pair", envOf(`${K8S};`), JSON.stringify(sent())],
      ["a CNI_ARGS pair with two '='", envOf("IgnoreUnknown=1;A=b=c"), JSON.stringify(sent())],
      ["a CNI_ARGS pair without '='", envOf("A;IgnoreUnknown=1"), JSON.stringify(sent())],
      ["GATEWAY in CNI_ARGS", envOf(`${K8S};GATEWAY=10.72.0.1`), JSON.stringify(sent())],
      ["IgnoreUnknown=0 with others", envOf("IgnoreUnknown=0;A=b"), JSON.stringify(sent())],
      [
        "an interface name outside printable ASCII",
        envOf(K8S, { CNI_IFNAME: "eth\u00e9" }),
        JSON.stringify(sent()),
      ],
      ["an interface name with a space", envOf(K8S, { CNI_IFNAME: "eth 0" }), JSON.stringify(sent())],
      ["an interface name with ':'", envOf(K8S, { CNI_IFNAME: "eth0:1" }), JSON.stringify(sent())],
      ["the interface name '.'", envOf(K8S, { CNI_IFNAME: "." }), JSON.stringify(sent())],
      ["a container id starting with '-'", envOf(K8S, { CNI_CONTAINERID: "-abc" }), JSON.stringify(sent())],
      ["no container id", envOf(K8S, { CNI_CONTAINERID: null }), JSON.stringify(sent())],
      ["no CNI_NETNS", envOf(K8S, { CNI_NETNS: "" }), JSON.stringify(sent())],
      ["a fifth part", envOf(K8S), withAddress("10.72.0.2.1/24")],
      ["three parts", envOf(K8S), withAddress("10.72.2/24")],
      ["an empty part", envOf(K8S), withAddress("10..0.2/24")],
      ["a trailing dot", envOf(K8S), withAddress("10.72.0./24")],
      ["a part over 255", envOf(K8S), withAddress("10.72.0.256/24")],
      ["a part of four digits", envOf(K8S), withAddress("10.72.0.0002/24")],
      ["no prefix length", envOf(K8S), withAddress("10.72.0.2")],
      ["an empty prefix length", envOf(K8S), withAddress("10.72.0.2/")],
      ["two prefix lengths", envOf(K8S), withAddress("10.72.0.2/24/24")],
      ["a space", envOf(K8S), withAddress(" 10.72.0.2/24")],
      ["an address that is not a string", envOf(K8S), withAddress(167903234)],
      ["a gateway with a prefix length", envOf(K8S), withAddress("10.72.0.2/24", "10.72.0.1/24")],
      ["a gateway that is not a string", envOf(K8S), withAddress("10.72.0.2/24", 1)],
      ["an IPv6 gateway", envOf(K8S), withAddress("10.72.0.2/24", "fd00::1")],
      ["a route's dst without a prefix length", envOf(K8S), withRoute("192.168.0.0")],
      ["a route's gw with a prefix length", envOf(K8S), withRoute("192.168.0.0/16", "10.72.0.1/24")],
      [
        "routes that are not a list",
        envOf(K8S),
        JSON.stringify(sent({ ipam: { addresses: [{ address: "10.72.0.2/24" }], routes: {} } })),
      ],
      [
        "addresses that are not a list",
        envOf(K8S),
        JSON.stringify(sent({ ipam: { addresses: { address: "10.72.0.2/24" } } })),
      ],
      [
        "an address entry that is a list",
        envOf(K8S),
        JSON.stringify(sent({ ipam: { addresses: [["10.72.0.2/24"]] } })),
      ],
      ["ipam that is a list", envOf(K8S), JSON.stringify(sent({ ipam: [] }))],
      ["a config that is a list", envOf(K8S), "[]"],
      ["a config that is null", envOf(K8S), "null"],
      ["a type that is not a string", envOf(K8S), JSON.stringify(sent({ type: 1 }))],
      [
        "an ipam type that is not a string",
        envOf(K8S),
        JSON.stringify(sent({ ipam: { type: 1, addresses: [{ address: "10.72.0.2/24" }] } })),
      ],
      ["a name that is not a string", envOf(K8S), JSON.stringify(sent({ name: 7 }))],
    ];
    for (const [what, env, stdin] of declined) assert.equal(leanAdd(env, stdin), undefined, what);
  });
});
