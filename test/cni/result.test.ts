// result.ts: results in every spec version, and conversion between them as the reference
// library (pkg/types/{020,040,100}) converts them; checked against Debian's real `static` plugin.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { CniError } from "../../src/cni/errors.ts";
import { formatResult, parseResult, type Result } from "../../src/cni/result.ts";
import { ALL_VERSIONS } from "../../src/cni/version.ts";

const RICH: Result = {
  cniVersion: "1.1.0",
  interfaces: [
    {
      name: "eth0",
      mac: "0a:58:0a:00:00:02",
      mtu: 1500,
      sandbox: "/var/run/netns/ctr1",
      socketPath: "/run/vhost.sock",
      pciID: "0000:00:1f.6",
    },
    { name: "veth1234", mac: "0a:58:0a:00:00:03" },
  ],
  ips: [
    { address: "10.0.0.2/24", gateway: "10.0.0.1", interface: 0 },
    { address: "10.0.1.2/24", interface: 0 },
    { address: "fd00::2/64", gateway: "fd00::1", interface: 0 },
    { address: "fd00:1::2/64" },
  ],
  routes: [
    { dst: "0.0.0.0/0", gw: "10.0.0.1", mtu: 1400, priority: 5, table: 0, scope: 0 },
    { dst: "10.10.0.0/16" },
    { dst: "::/0", gw: "fd00::1" },
    { dst: "fd00:9::/64", advmss: 1200, table: 100 },
  ],
  dns: {
    nameservers: ["10.0.0.53", "fd00::53"],
    domain: "example.com",
    search: ["example.com"],
    options: ["ndots:5"],
  },
};

const DNS = RICH.dns;

const LEGACY = (v: string) => ({
  cniVersion: v,
  ip4: {
    ip: "10.0.0.2/24",
    gateway: "10.0.0.1",
    routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1" }, { dst: "10.10.0.0/16" }],
  },
  ip6: {
    ip: "fd00::2/64",
    gateway: "fd00::1",
    routes: [{ dst: "::/0", gw: "fd00::1" }, { dst: "fd00:9::/64" }],
  },
  dns: DNS,
});

const V04 = (v: string) => ({
  cniVersion: v,
  // mtu, socketPath and pciID came with 1.1.0's types: the 0.4.0 types do not have them
  interfaces: [
    { name: "eth0", mac: "0a:58:0a:00:00:02", sandbox: "/var/run/netns/ctr1" },
    { name: "veth1234", mac: "0a:58:0a:00:00:03" },
  ],
  ips: [
    { version: "4", interface: 0, address: "10.0.0.2/24", gateway: "10.0.0.1" },
    { version: "4", interface: 0, address: "10.0.1.2/24" },
    { version: "6", interface: 0, address: "fd00::2/64", gateway: "fd00::1" },
    { version: "6", address: "fd00:1::2/64" },
  ],
  routes: [
    // table and scope are optional values whose 0 is meaningful: kept
    { dst: "0.0.0.0/0", gw: "10.0.0.1", mtu: 1400, priority: 5, table: 0, scope: 0 },
    { dst: "10.10.0.0/16" },
    { dst: "::/0", gw: "fd00::1" },
    { dst: "fd00:9::/64", advmss: 1200, table: 100 },
  ],
  dns: DNS,
});

const V1 = (v: string) => ({ ...RICH, cniVersion: v });

const EXPECTED: Record<string, Record<string, unknown>> = {
  "0.1.0": LEGACY("0.1.0"),
  "0.2.0": LEGACY("0.2.0"),
  "0.3.0": V04("0.3.0"),
  "0.3.1": V04("0.3.1"),
  "0.4.0": V04("0.4.0"),
  "1.0.0": V1("1.0.0"),
  "1.1.0": V1("1.1.0"),
};

describe("formatResult() prints each version's format", () => {
  for (const v of ALL_VERSIONS) {
    it(`${v}`, () => assert.deepEqual(formatResult(RICH, v), EXPECTED[v]));
  }
  it("prints keys in the reference library's order", () => {
    assert.deepEqual(Object.keys(formatResult(RICH, "1.0.0")), [
      "cniVersion",
      "interfaces",
      "ips",
      "routes",
      "dns",
    ]);
    assert.deepEqual(Object.keys((formatResult(RICH, "0.4.0").ips as object[])[0] ?? {}), [
      "version",
      "interface",
      "address",
      "gateway",
    ]);
    assert.deepEqual(Object.keys(formatResult(RICH, "0.2.0")), ["cniVersion", "ip4", "ip6", "dns"]);
  });
  it("always prints dns, as an empty object when there is none", () => {
    for (const v of ALL_VERSIONS) {
      assert.deepEqual(
        formatResult({ cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24" }] }, v).dns,
        {},
        v,
      );
    }
  });
  it("leaves out empty lists and empty fields", () => {
    const out = formatResult(
      {
        cniVersion: "1.0.0",
        interfaces: [],
        ips: [{ address: "10.0.0.2/24", gateway: "" }],
        routes: [{ dst: "0.0.0.0/0", gw: "", mtu: 0, advmss: 0, priority: 0 }],
        dns: { nameservers: [], domain: "", search: [], options: [] },
      },
      "1.0.0",
    );
    assert.deepEqual(out, {
      cniVersion: "1.0.0",
      ips: [{ address: "10.0.0.2/24" }],
      routes: [{ dst: "0.0.0.0/0" }],
      dns: {},
    });
  });
  it("refuses an unknown version with error 1", () => {
    assert.throws(
      () => formatResult(RICH, "0.5.0"),
      (e: unknown) => e instanceof CniError && e.code === 1,
    );
  });
});

describe("down-conversion to 0.1.0/0.2.0 (one address per family)", () => {
  const cases: [string, Result, Record<string, unknown>][] = [
    [
      "keeps the first IPv4 and the first IPv6 address, whatever the order",
      {
        cniVersion: "1.0.0",
        ips: [
          { address: "fd00::2/64" },
          { address: "10.0.0.2/24" },
          { address: "fd00::3/64" },
          { address: "10.0.0.3/24" },
        ],
      },
      { cniVersion: "0.2.0", ip4: { ip: "10.0.0.2/24" }, ip6: { ip: "fd00::2/64" }, dns: {} },
    ],
    [
      "an IPv6-only result has only ip6; its IPv4 routes are dropped",
      {
        cniVersion: "1.0.0",
        ips: [{ address: "fd00::2/64", gateway: "fd00::1" }],
        routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1" }, { dst: "::/0" }],
      },
      {
        cniVersion: "0.2.0",
        ip6: { ip: "fd00::2/64", gateway: "fd00::1", routes: [{ dst: "::/0" }] },
        dns: {},
      },
    ],
    [
      "routes keep only dst and gw",
      {
        cniVersion: "1.0.0",
        ips: [{ address: "10.0.0.2/24" }],
        routes: [{ dst: "10.1.0.0/16", gw: "10.0.0.1", mtu: 1400, priority: 3, table: 7, scope: 0 }],
      },
      {
        cniVersion: "0.2.0",
        ip4: { ip: "10.0.0.2/24", routes: [{ dst: "10.1.0.0/16", gw: "10.0.0.1" }] },
        dns: {},
      },
    ],
  ];
  for (const [why, result, expected] of cases) {
    it(why, () => assert.deepEqual(formatResult(result, "0.2.0"), expected));
  }
  for (const v of ["0.1.0", "0.2.0"]) {
    it(`a result without an address cannot be ${v}: error 1, said clearly`, () => {
      assert.throws(
        () =>
          formatResult(
            { cniVersion: "1.0.0", interfaces: [{ name: "eth0" }], routes: [{ dst: "0.0.0.0/0" }] },
            v,
          ),
        (e: unknown) =>
          e instanceof CniError &&
          e.code === 1 &&
          e.message === `cannot convert result to version ${v}: it has no IP address`,
      );
    });
  }
});

describe("parseResult() reads every version", () => {
  for (const v of ALL_VERSIONS) {
    it(`reads a ${v} result with its version`, () => {
      const parsed = parseResult(EXPECTED[v]);
      assert.equal(parsed.cniVersion, v);
      assert.deepEqual(formatResult(parsed, v), EXPECTED[v], "prints back the same");
    });
  }
  it("reads addresses canonically, as Go reprints them", () => {
    const parsed = parseResult({
      cniVersion: "1.0.0",
      ips: [{ address: "2001:DB8:0:0::0001/64", gateway: "2001:db8:0::1" }],
      routes: [{ dst: "2001:0db8::/32", gw: "2001:DB8::1" }],
    });
    assert.deepEqual(parsed.ips, [{ address: "2001:db8::1/64", gateway: "2001:db8::1" }]);
    assert.deepEqual(parsed.routes, [{ dst: "2001:db8::/32", gw: "2001:db8::1" }]);
  });
  it("takes the fallback version when the result has none, or an empty one", () => {
    assert.equal(parseResult({ ips: [{ address: "10.0.0.2/24" }] }, "1.0.0").cniVersion, "1.0.0");
    assert.equal(
      parseResult({ cniVersion: "", ips: [{ address: "10.0.0.2/24" }] }, "0.4.0").cniVersion,
      "0.4.0",
    );
    assert.deepEqual(parseResult({ ip4: { ip: "10.0.0.2/24" } }), {
      cniVersion: "0.1.0",
      ips: [{ address: "10.0.0.2/24" }],
    });
  });
  const bad: [string, unknown, RegExp][] = [
    ["not an object", [], /not a JSON object/],
    ["an unknown version", { cniVersion: "0.5.0" }, /unknown cniVersion "0\.5\.0"/],
    ["ip4 without ip", { cniVersion: "0.2.0", ip4: { gateway: "10.0.0.1" } }, /ip4\.ip is missing/],
    [
      "a bare IP as ip4.ip",
      { cniVersion: "0.2.0", ip4: { ip: "10.0.0.2" } },
      /ip4\.ip "10\.0\.0\.2" is not an address with a prefix/,
    ],
    [
      "a bad ip6 gateway",
      { cniVersion: "0.2.0", ip6: { ip: "fd00::2/64", gateway: "fd00::g" } },
      /ip6\.gateway "fd00::g" is not an IP/,
    ],
    [
      "a bad legacy route",
      { cniVersion: "0.1.0", ip4: { ip: "10.0.0.2/24", routes: [{ dst: "x" }] } },
      /ip4\.routes\[0\]\.dst "x"/,
    ],
    [
      "an ips entry without address",
      { cniVersion: "1.0.0", ips: [{ gateway: "10.0.0.1" }] },
      /ips\[0\]\.address is missing/,
    ],
    [
      "a bad address",
      { cniVersion: "1.0.0", ips: [{ address: "10.0.0.300/24" }] },
      /ips\[0\]\.address "10\.0\.0\.300\/24"/,
    ],
    [
      "a prefix as gateway",
      { cniVersion: "0.4.0", ips: [{ version: "4", address: "10.0.0.2/24", gateway: "10.0.0.1/24" }] },
      /ips\[0\]\.gateway "10\.0\.0\.1\/24" is not an IP/,
    ],
    [
      "a gateway that is not a string",
      { cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24", gateway: 7 }] },
      /ips\[0\]\.gateway 7/,
    ],
    ["routes that are not a list", { cniVersion: "1.0.0", routes: {} }, /routes is not a list/],
    [
      "a route without dst",
      { cniVersion: "1.0.0", routes: [{ gw: "10.0.0.1" }] },
      /routes\[0\]\.dst is missing/,
    ],
    [
      "a bad route gw",
      { cniVersion: "1.0.0", routes: [{ dst: "0.0.0.0/0", gw: "gw" }] },
      /routes\[0\]\.gw "gw"/,
    ],
    [
      "an interface without name",
      { cniVersion: "1.0.0", interfaces: [{ mac: "x" }] },
      /interfaces\[0\]\.name is missing/,
    ],
  ];
  for (const [why, value, msg] of bad) {
    it(`refuses ${why} with error 6 naming the field`, () => {
      assert.throws(
        () => parseResult(value),
        (e: unknown) => e instanceof CniError && e.code === 6 && msg.test(e.message),
      );
    });
  }
});

describe("conversion between every pair of versions", () => {
  // What a result printed in `from` still holds: 0.1/0.2 lose the second address of each family,
  // the interfaces and the route attributes; 0.3.x/0.4.0 lose the 1.1.0 interface fields.
  const survivor = (from: string): Result => {
    if (from === "0.1.0" || from === "0.2.0") {
      return {
        cniVersion: from,
        ips: [
          { address: "10.0.0.2/24", gateway: "10.0.0.1" },
          { address: "fd00::2/64", gateway: "fd00::1" },
        ],
        routes: [
          { dst: "0.0.0.0/0", gw: "10.0.0.1" },
          { dst: "10.10.0.0/16" },
          { dst: "::/0", gw: "fd00::1" },
          { dst: "fd00:9::/64" },
        ],
        dns: DNS ?? {},
      };
    }
    if (from.startsWith("0.")) {
      return {
        ...RICH,
        cniVersion: from,
        interfaces: [
          { name: "eth0", mac: "0a:58:0a:00:00:02", sandbox: "/var/run/netns/ctr1" },
          { name: "veth1234", mac: "0a:58:0a:00:00:03" },
        ],
      };
    }
    return { ...RICH, cniVersion: from };
  };
  for (const from of ALL_VERSIONS) {
    for (const to of ALL_VERSIONS) {
      it(`${from} → ${to}`, () => {
        const parsed = parseResult(JSON.parse(JSON.stringify(formatResult(RICH, from))));
        assert.deepEqual(parsed, survivor(from), "what survives the first version");
        const out = formatResult(parsed, to);
        assert.equal(out.cniVersion, to);
        assert.deepEqual(out, formatResult(survivor(from), to));
      });
    }
  }
  it("a 0.2.0 result reads into 1.x with its IPv4 routes before its IPv6 routes", () => {
    const parsed = parseResult({
      cniVersion: "0.2.0",
      ip6: { ip: "fd00::2/64", routes: [{ dst: "::/0" }] },
      ip4: { ip: "10.0.0.2/24", routes: [{ dst: "0.0.0.0/0" }] },
    });
    assert.deepEqual(formatResult(parsed, "0.4.0"), {
      cniVersion: "0.4.0",
      ips: [
        { version: "4", address: "10.0.0.2/24" },
        { version: "6", address: "fd00::2/64" },
      ],
      routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0" }],
      dns: {},
    });
  });
});

const STATIC = "/usr/lib/cni/static";
const STATIC_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"];

/** The reference static plugin's ADD result for one config, in `version`. */
function staticResult(version: string): string {
  const config = {
    cniVersion: version,
    name: "net1",
    type: "static",
    ipam: {
      type: "static",
      addresses: [
        { address: "10.0.0.2/24", gateway: "10.0.0.1" },
        { address: "2001:DB8::0002/64", gateway: "2001:db8::1" },
      ],
      routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1" }, { dst: "10.10.0.0/16" }, { dst: "::/0" }],
      dns: {
        nameservers: ["10.0.0.53"],
        domain: "example.com",
        search: ["example.com"],
        options: ["ndots:2"],
      },
    },
  };
  const p = spawnSync(STATIC, [], {
    input: JSON.stringify(config),
    encoding: "utf8",
    env: {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "ctr1",
      CNI_NETNS: "/var/run/netns/none",
      CNI_IFNAME: "eth0",
      CNI_PATH: "/usr/lib/cni",
    },
  });
  assert.equal(p.status, 0, p.stdout + p.stderr);
  return p.stdout;
}

// Debian's containernetworking-plugins (./dev installs it): without it this fails, never skips.
describe("against the reference static plugin", () => {
  const printed = Object.fromEntries(STATIC_VERSIONS.map((v) => [v, staticResult(v)]));
  for (const v of STATIC_VERSIONS) {
    it(`reads its ${v} result and prints it back byte for byte (keys in the same order)`, () => {
      const out = formatResult(parseResult(JSON.parse(printed[v] ?? "")), v);
      assert.equal(JSON.stringify(out, null, 4), printed[v]);
    });
  }
  for (const from of STATIC_VERSIONS) {
    for (const to of STATIC_VERSIONS) {
      if (from === to) continue;
      it(`converts its ${from} result into what it prints at ${to}`, () => {
        const out = formatResult(parseResult(JSON.parse(printed[from] ?? "")), to);
        assert.deepEqual(out, JSON.parse(printed[to] ?? ""));
      });
    }
  }
});
