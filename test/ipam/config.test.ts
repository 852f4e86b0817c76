// parseIpamConfig(), the CNI_ARGS reader and the CHECK comparison, in-process: what they accept,
// and that every refusal names the field path and the value, with the right CNI code.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CniError } from "../../src/cni/errors.ts";
import type { NetConf } from "../../src/cni/skel.ts";
import { checkPrevResult } from "../../src/ipam/check.ts";
import { addressesFromCniArgs } from "../../src/ipam/cniargs.ts";
import { parseIpamConfig } from "../../src/ipam/config.ts";
import { toResult } from "../../src/ipam/plugin.ts";

type Json = Record<string, unknown>;

function conf(fields: Json, cniVersion = "1.0.0"): NetConf {
  return { cniVersion, name: "net", type: "bridge", ...fields };
}

/** The result ADD would print (1.x shape), for compact expectations. */
function result(fields: Json, cniArgs = "", cniVersion = "1.0.0") {
  return toResult(parseIpamConfig(conf(fields, cniVersion), cniArgs));
}

function refusal(fn: () => unknown): CniError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CniError, `expected a CniError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected an error");
}

describe("parseIpamConfig() reads what the static plugin reads", () => {
  it("takes addresses with and without gateways, in order", () => {
    const r = result({
      ipam: {
        type: "static",
        addresses: [
          { address: "10.0.0.5/24", gateway: "10.0.0.1" },
          { address: "fd00::5/64" },
          { address: "10.1.0.5/16", gateway: "" },
        ],
      },
    });
    assert.deepEqual(r.ips, [
      { address: "10.0.0.5/24", gateway: "10.0.0.1" },
      { address: "fd00::5/64" },
      { address: "10.1.0.5/16" },
    ]);
  });

  it("prints addresses, gateways and route destinations canonically", () => {
    const r = result({
      ipam: {
        addresses: [
          { address: "FD00:0::0:5/064", gateway: "::ffff:10.0.0.1" },
          { address: "::ffff:10.9.0.5/120" },
        ],
        routes: [{ dst: "::FFFF:10.2.0.0/112", gw: "FD00::1" }],
      },
    });
    assert.deepEqual(r.ips, [{ address: "fd00::5/64", gateway: "10.0.0.1" }, { address: "10.9.0.5/24" }]);
    assert.deepEqual(r.routes, [{ dst: "10.2.0.0/16", gw: "fd00::1" }]);
  });

  it("gives a route without gw no gateway", () => {
    const r = result({ ipam: { addresses: [], routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0", gw: "" }] } });
    assert.deepEqual(r.routes, [{ dst: "0.0.0.0/0" }, { dst: "::/0" }]);
  });

  it("keeps spec 1.1.0 route keys only at 1.1.0", () => {
    const ipam = { addresses: [], routes: [{ dst: "10.0.0.0/8", mtu: 1400, table: 0 }] };
    assert.deepEqual(result({ ipam }, "", "1.0.0").routes, [{ dst: "10.0.0.0/8" }]);
    assert.deepEqual(result({ ipam }, "", "1.1.0").routes, [{ dst: "10.0.0.0/8", mtu: 1400, table: 0 }]);
  });

  it("copies dns", () => {
    const dns = {
      nameservers: ["10.0.0.53"],
      domain: "example.com",
      search: ["a.example.com"],
      options: ["ndots:2"],
    };
    assert.deepEqual(result({ ipam: { addresses: [], dns } }).dns, dns);
  });

  it("matches keys whatever their case, the last one winning, as Go's decoder does", () => {
    const r = result({
      IPAM: { Addresses: [{ Address: "10.0.0.5/24" }], ADDRESSES: [{ address: "10.0.0.6/24" }] },
    });
    assert.deepEqual(r.ips, [{ address: "10.0.0.6/24" }]);
  });

  it("takes runtimeConfig.ips over args.cni.ips over ipam.addresses plus CNI_ARGS", () => {
    const ipam = { addresses: [{ address: "10.0.0.5/24", gateway: "10.0.0.1" }] };
    const args = { cni: { ips: ["10.2.0.5/24"] } };
    const runtimeConfig = { ips: ["10.3.0.5/24"] };
    const cniArgs = "IP=10.1.0.5/24;GATEWAY=10.1.0.1";
    assert.deepEqual(result({ ipam }, cniArgs).ips, [
      { address: "10.0.0.5/24", gateway: "10.0.0.1" },
      { address: "10.1.0.5/24", gateway: "10.1.0.1" },
    ]);
    assert.deepEqual(result({ ipam, args }, cniArgs).ips, [{ address: "10.2.0.5/24" }]);
    assert.deepEqual(result({ ipam, args, runtimeConfig }, cniArgs).ips, [{ address: "10.3.0.5/24" }]);
    assert.deepEqual(result({ ipam, args: { cni: { ips: [] } }, runtimeConfig: { ips: [] } }).ips, [
      { address: "10.0.0.5/24", gateway: "10.0.0.1" },
    ]);
  });

  it("records where each address came from, for messages", () => {
    const c = parseIpamConfig(
      conf({ ipam: { addresses: [{ address: "10.0.0.5/24" }] } }),
      "IP=10.1.0.5/24,fd00::5/64",
    );
    assert.deepEqual(
      c.addresses.map((a) => a.from),
      ["ipam.addresses[0]", "CNI_ARGS IP[0]", "CNI_ARGS IP[1]"],
    );
  });
});

describe("parseIpamConfig() refuses bad input, naming the field and the value", () => {
  const cases: {
    name: string;
    fields: Json;
    cniArgs?: string;
    version?: string;
    code: number;
    says: string[];
  }[] = [
    {
      name: "a missing ipam key",
      fields: {},
      code: 7,
      says: ["ipam: is missing"],
    },
    { name: "ipam null", fields: { ipam: null }, code: 7, says: ["ipam: is missing"] },
    {
      name: "ipam a string",
      fields: { ipam: "static" },
      code: 6,
      says: ["ipam: must be an object", '"static"'],
    },
    {
      name: "a bare IP as an address",
      fields: { ipam: { addresses: [{ address: "10.0.0.5" }] } },
      code: 7,
      says: ['ipam.addresses[0].address: "10.0.0.5" has no prefix length', '"10.0.0.5/24"'],
    },
    {
      name: "a bare IPv6 address, with an IPv6 example",
      fields: { ipam: { addresses: [{ address: "fd00::5" }] } },
      code: 7,
      says: ['ipam.addresses[0].address: "fd00::5" has no prefix length', '"fd00::5/64"'],
    },
    {
      name: "a bad CIDR",
      fields: { ipam: { addresses: [{ address: "10.0.0.5/40" }] } },
      code: 7,
      says: ['ipam.addresses[0].address: "10.0.0.5/40" is not an address in CIDR notation'],
    },
    {
      name: "an empty address",
      fields: { ipam: { addresses: [{ address: "" }] } },
      code: 7,
      says: ["ipam.addresses[0].address: is empty"],
    },
    {
      name: "an address entry without address",
      fields: { ipam: { addresses: [{}] } },
      code: 7,
      says: ["ipam.addresses[0].address: is missing"],
    },
    {
      name: "a gateway that is not an IP",
      fields: { ipam: { addresses: [{ address: "10.0.0.5/24", gateway: "gw.example" }] } },
      code: 7,
      says: ['ipam.addresses[0].gateway: "gw.example" is not an IPv4 or IPv6 address'],
    },
    {
      name: "a gateway written as a CIDR",
      fields: { ipam: { addresses: [{ address: "10.0.0.5/24", gateway: "10.0.0.1/24" }] } },
      code: 7,
      says: ['ipam.addresses[0].gateway: "10.0.0.1/24" is a CIDR', '"10.0.0.1"'],
    },
    {
      name: "an address of the wrong type",
      fields: { ipam: { addresses: [{ address: 5 }] } },
      code: 6,
      says: ["ipam.addresses[0].address: must be a string, not a number (5)"],
    },
    {
      name: "addresses of the wrong type",
      fields: { ipam: { addresses: "10.0.0.5/24" } },
      code: 6,
      says: ['ipam.addresses: must be a list, not a string ("10.0.0.5/24")'],
    },
    {
      name: "an address entry of the wrong type",
      fields: { ipam: { addresses: ["10.0.0.5/24"] } },
      code: 6,
      says: ["ipam.addresses[0]: must be an object"],
    },
    {
      name: "a route without dst",
      fields: { ipam: { routes: [{ gw: "10.0.0.1" }] } },
      code: 7,
      says: ["ipam.routes[0].dst: is missing"],
    },
    {
      name: "a route dst that is a bare IP",
      fields: { ipam: { routes: [{ dst: "0.0.0.0" }] } },
      code: 7,
      says: ['ipam.routes[0].dst: "0.0.0.0" has no prefix length'],
    },
    {
      name: "a route gw that is not an IP",
      fields: { ipam: { routes: [{ dst: "0.0.0.0/0", gw: "x" }] } },
      code: 7,
      says: ['ipam.routes[0].gw: "x" is not an IPv4 or IPv6 address'],
    },
    {
      name: "a null route",
      fields: { ipam: { routes: [null] } },
      code: 6,
      says: ["ipam.routes[0]: must be an object, not null"],
    },
    {
      name: "a 1.1.0 route key of the wrong type at 1.1.0",
      fields: { ipam: { routes: [{ dst: "0.0.0.0/0", mtu: 1400.5 }] } },
      version: "1.1.0",
      code: 6,
      says: ["ipam.routes[0].mtu: must be an integer, not a number (1400.5)"],
    },
    {
      name: "dns of the wrong types",
      fields: { ipam: { dns: { nameservers: ["1.1.1.1", 2], search: "x" } } },
      code: 6,
      says: ["ipam.dns.nameservers[1]: must be a string", "ipam.dns.search: must be a list"],
    },
    {
      name: "a bare IP in runtimeConfig.ips",
      fields: { ipam: {}, runtimeConfig: { ips: ["10.0.0.5/24", "10.0.0.6"] } },
      code: 7,
      says: ['runtimeConfig.ips[1]: "10.0.0.6" has no prefix length'],
    },
    {
      name: "a bad args.cni.ips even when runtimeConfig.ips wins",
      fields: { ipam: {}, args: { cni: { ips: ["x"] } }, runtimeConfig: { ips: ["10.0.0.5/24"] } },
      code: 7,
      says: ['args.cni.ips[0]: "x" is not an address in CIDR notation'],
    },
    {
      name: "args.cni of the wrong type",
      fields: { ipam: {}, args: { cni: "ips" } },
      code: 6,
      says: ['args.cni: must be an object, not a string ("ips")'],
    },
    {
      name: "two IPv4 addresses at 0.2.0, naming both",
      fields: { ipam: { addresses: [{ address: "10.0.0.5/24" }] } },
      cniArgs: "IP=10.0.0.6/24",
      version: "0.2.0",
      code: 7,
      says: [
        "cniVersion 0.2.0 allows at most one IPv4 address",
        "ipam.addresses[0] 10.0.0.5/24",
        "CNI_ARGS IP 10.0.0.6/24",
      ],
    },
    {
      name: "no address at 0.1.0",
      fields: { ipam: {} },
      version: "0.1.0",
      code: 7,
      says: ["ipam.addresses: no address to hand out", "0.1.0"],
    },
    {
      name: "a bare IP in CNI_ARGS (as CRI-O sends it)",
      fields: { ipam: {} },
      cniArgs: "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.0.0.5",
      code: 4,
      says: ['invalid CNI_ARGS: IP: "10.0.0.5" has no prefix length'],
    },
    {
      name: "a CNI_ARGS GATEWAY that is not an IP, in a list",
      fields: { ipam: {} },
      cniArgs: "IP=10.0.0.5/24;GATEWAY=10.0.0.1,nope",
      code: 4,
      says: ['GATEWAY[1]: "nope" is not an IPv4 or IPv6 address'],
    },
    {
      name: "an unknown CNI_ARGS key",
      fields: { ipam: {} },
      cniArgs: "POD=x",
      code: 4,
      says: ['unknown key "POD"'],
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}`, () => {
      const err = refusal(() => parseIpamConfig(conf(c.fields, c.version), c.cniArgs ?? ""));
      assert.equal(err.code, c.code, err.message);
      for (const part of c.says) assert.ok(err.message.includes(part), `"${err.message}" should say ${part}`);
    });
  }

  it("reports every problem of the configuration together", () => {
    const err = refusal(() =>
      parseIpamConfig(
        conf({
          ipam: {
            addresses: [{ address: "10.0.0.5" }, { address: "10.0.0.6/24", gateway: "x" }],
            routes: [{ dst: "y" }],
            dns: { domain: 1 },
          },
        }),
        "",
      ),
    );
    for (const path of [
      "ipam.addresses[0].address",
      "ipam.addresses[1].gateway",
      "ipam.routes[0].dst",
      "ipam.dns.domain",
    ]) {
      assert.ok(err.message.includes(path), `${err.message} should name ${path}`);
    }
    // A value of the wrong JSON type makes the whole report a decoding failure.
    assert.equal(err.code, 6);
  });
});

describe("addressesFromCniArgs() reads IP and GATEWAY", () => {
  it("reads nothing from an empty CNI_ARGS or empty values", () => {
    assert.deepEqual(addressesFromCniArgs(""), []);
    assert.deepEqual(addressesFromCniArgs("IP=;GATEWAY="), []);
  });

  it("gives each GATEWAY to the IP addresses whose subnet holds it", () => {
    const got = addressesFromCniArgs(
      "IP=10.0.0.5/24, fd00::5/64 ,10.1.0.5/16;GATEWAY=fd00::1,10.0.0.1,10.9.9.9",
    );
    assert.deepEqual(
      got.map((a) => [a.prefix.length, a.gateway?.family, a.gateway?.value]),
      [
        [24, 4, 0x0a000001n],
        [64, 6, 0xfd00_0000_0000_0000_0000_0000_0000_0001n],
        [16, undefined, undefined],
      ],
    );
  });
});

describe("checkPrevResult() compares the configured addresses with prevResult", () => {
  const ipam = { addresses: [{ address: "10.0.0.5/24", gateway: "10.0.0.1" }, { address: "fd00::5/64" }] };
  const prev = (ips: Json[], version = "1.0.0") =>
    conf({ ipam, prevResult: { cniVersion: version, ips } }, version);
  const check = (config: NetConf) => checkPrevResult(parseIpamConfig(config, ""), config, "eth0");

  it("passes when every address is there, gateways may be added", () => {
    check(
      prev([
        { address: "fd00::5/64", gateway: "fd00::1" },
        { address: "10.0.0.5/24", gateway: "10.0.0.1" },
      ]),
    );
    check(
      prev(
        [{ version: "4", address: "10.0.0.5/24", gateway: "10.0.0.1" }, { address: "fd00::5/64" }],
        "0.4.0",
      ),
    );
  });

  const failing: { name: string; config: NetConf; code: number; says: string[] }[] = [
    {
      name: "a missing address",
      config: prev([{ address: "10.0.0.5/24", gateway: "10.0.0.1" }]),
      code: 999,
      says: ['CHECK of "eth0" failed', "fd00::5/64 (ipam.addresses[1]) is not in prevResult.ips"],
    },
    {
      name: "another prefix length",
      config: prev([{ address: "10.0.0.5/16", gateway: "10.0.0.1" }, { address: "fd00::5/64" }]),
      code: 999,
      says: ["10.0.0.5/24 (ipam.addresses[0]) is in prevResult.ips as 10.0.0.5/16"],
    },
    {
      name: "another gateway",
      config: prev([{ address: "10.0.0.5/24", gateway: "10.0.0.2" }, { address: "fd00::5/64" }]),
      code: 999,
      says: ["should have gateway 10.0.0.1, prevResult has gateway 10.0.0.2"],
    },
    {
      name: "no prevResult",
      config: conf({ ipam }),
      code: 7,
      says: ["prevResult: is missing"],
    },
    {
      name: "a prevResult in another format",
      config: conf({ ipam, prevResult: { cniVersion: "0.4.0", ips: [] } }),
      code: 1,
      says: ['prevResult.cniVersion: "0.4.0" does not match', '"1.0.0"'],
    },
    {
      name: "a bad address in prevResult",
      config: prev([{ address: "10.0.0.5" }]),
      code: 7,
      says: ['prevResult.ips[0].address: "10.0.0.5" has no prefix length'],
    },
  ];
  for (const c of failing) {
    it(`fails on ${c.name}`, () => {
      const err = refusal(() => check(c.config));
      assert.equal(err.code, c.code, err.message);
      for (const part of c.says) assert.ok(err.message.includes(part), `"${err.message}" should say ${part}`);
    });
  }
});
