// validateReply: table-driven cases named for behaviour, and a seeded property test (fuzz) that
// throws generated replies at it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CniError } from "../../src/cni/errors.ts";
import { contains, parseIP, parsePrefix } from "../../src/net/ip.ts";
import type { NetworkDir, NetworkFile } from "../../src/plugin/netconf.ts";
import { MAX_ENTRIES, validateReply } from "../../src/plugin/reply.ts";
import { SEED_MASTER, SEED_SECOND } from "../fixtures/seed.ts";

const file = (name: string): NetworkFile => ({
  name,
  path: `/etc/cni/dockin/net.d/${name}.json`,
  plugins: [{ type: "bridge" }],
  top: {},
});
const dir: NetworkDir = { byName: new Map(["test", "dockin", "store"].map((n) => [n, file(n)])), broken: [] };
const ctx = { ifName: "eth0", pod: "shop/web-0", networks: dir };

const master = { ...SEED_MASTER };
const other = { ...SEED_SECOND };

describe("validateReply", () => {
  test("accepts the seed's reply and drops the non-master gateway outside its subnet with a warning", () => {
    const plan = validateReply(
      { code: 0, reqId: "1234", message: "success", data: [master, { ...other, gateway: "192.168.1.1" }] },
      ctx,
    );
    assert.equal(plan.reqId, "1234");
    assert.deepEqual(
      plan.networks.map((n) => [n.name, n.ifName, n.master, n.addresses]),
      [
        ["test", "eth0", true, [{ address: "192.168.1.2/24", gateway: "192.168.1.1", family: 4 }]],
        ["dockin", "net0", false, [{ address: "192.168.2.2/24", family: 4 }]],
      ],
    );
    assert.equal(plan.warnings.length, 1);
    assert.match(plan.warnings[0]!, /data\[1\]\.gateway 192\.168\.1\.1 is outside 192\.168\.2\.0\/24/);
  });

  test("gives the master CNI_IFNAME when it names no interface", () => {
    const { ifName: _, ...bare } = master;
    const plan = validateReply({ code: "0", data: [bare] }, { ...ctx, ifName: "eth9" });
    assert.equal(plan.networks[0]!.ifName, "eth9");
  });

  test("reads a prefix-length mask, dual-stack ips, and an entry with ips alone", () => {
    const plan = validateReply(
      {
        code: 0,
        data: [
          { ...master, subnetMask: 24, ips: [{ address: "fd00:1::5/64", gateway: "fd00:1::1" }] },
          { type: "store", ifName: "net1", ips: [{ address: "FD00:2:0::5/64" }] },
        ],
      },
      ctx,
    );
    assert.deepEqual(
      plan.networks.map((n) => n.addresses.map((a) => a.address)),
      [["192.168.1.2/24", "fd00:1::5/64"], ["fd00:2::5/64"]],
    );
  });

  const rejects: [string, unknown, RegExp][] = [
    ["rejects a reply that is not an object", [1, 2], /not a JSON object/],
    ["rejects a reply without code", { data: [master] }, /it has no "code"/],
    [
      "rejects a non-zero code with the backend's message",
      { code: 7, message: "no such pod", data: [master] },
      /code 7: no such pod/,
    ],
    [
      "rejects an entry that is not an object",
      { code: 0, data: [master, "x"] },
      /data\[1\]: is not an object/,
    ],
    [
      "rejects a non-boolean master",
      { code: 0, data: [{ ...master, master: "yes" }] },
      /data\[0\]\.master: "yes" is not true or false/,
    ],
    [
      "rejects a non-master without ifName",
      { code: 0, data: [master, { ...other, ifName: undefined }] },
      /data\[1\]\.ifName: is required/,
    ],
    [
      "rejects podIp without subnetMask",
      { code: 0, data: [{ ...master, subnetMask: undefined }] },
      /data\[0\]\.subnetMask: is required with podIp/,
    ],
    [
      "rejects a non-contiguous mask",
      { code: 0, data: [{ ...master, subnetMask: "255.255.0.255" }] },
      /subnetMask/,
    ],
    [
      "rejects a mask longer than the family allows",
      { code: 0, data: [{ ...master, subnetMask: "33" }] },
      /subnetMask/,
    ],
    [
      "rejects a dotted mask for an IPv6 podIp",
      { code: 0, data: [{ ...master, podIp: "fd00::5", gateway: undefined }] },
      /IPv6 prefix length/,
    ],
    [
      "rejects the network address as podIp",
      { code: 0, data: [{ ...master, podIp: "192.168.1.0" }] },
      /network address/,
    ],
    [
      "rejects the broadcast address as podIp",
      { code: 0, data: [{ ...master, podIp: "192.168.1.255" }] },
      /broadcast address/,
    ],
    [
      "rejects a gateway of the other family",
      { code: 0, data: [{ ...master, gateway: "fd00::1" }] },
      /not of the address's family/,
    ],
    [
      "rejects the pod's own address as gateway",
      { code: 0, data: [{ ...master, gateway: "192.168.1.2" }] },
      /the pod's own address/,
    ],
    [
      "rejects a gateway without podIp",
      {
        code: 0,
        data: [{ type: "test", gateway: "192.168.1.1", master: true, ips: [{ address: "fd00::5/64" }] }],
      },
      /is given without podIp/,
    ],
    [
      "rejects two gateways of one family in one entry",
      { code: 0, data: [{ ...master, ips: [{ address: "192.168.1.3/24", gateway: "192.168.1.254" }] }] },
      /a second IPv4 gateway/,
    ],
    [
      "rejects an entry without any address",
      { code: 0, data: [{ type: "test", master: true }] },
      /has no address/,
    ],
    [
      "rejects ips that is not a list",
      { code: 0, data: [{ ...master, ips: "fd00::5/64" }] },
      /ips: is not a list/,
    ],
    [
      "rejects an interface name with white space",
      { code: 0, data: [master, { ...other, ifName: "net 0" }] },
      /may not contain/,
    ],
    [
      "rejects more entries than allowed",
      {
        code: 0,
        data: [
          master,
          ...Array.from({ length: MAX_ENTRIES }, (_, i) => ({
            ...other,
            ifName: `n${i}`,
            podIp: `10.0.${i}.2`,
          })),
        ],
      },
      /at most 32/,
    ],
  ];
  for (const [name, reply, msg] of rejects) {
    test(`${name}`, () => {
      assert.throws(
        () => validateReply(reply, ctx),
        (err: unknown) =>
          err instanceof CniError &&
          err.code === 101 &&
          msg.test(err.message) &&
          err.message.includes("shop/web-0"),
      );
    });
  }

  test("reports every problem of a reply at once, each with its path", () => {
    assert.throws(
      () =>
        validateReply(
          {
            code: 0,
            data: [
              { ...master, podIp: "1.2.3" },
              { ...other, type: "x y", ifName: "a/b" },
            ],
          },
          ctx,
        ),
      (err: unknown) =>
        err instanceof CniError &&
        /data\[0\]\.podIp/.test(err.message) &&
        /data\[1\]\.type/.test(err.message) &&
        /data\[1\]\.ifName/.test(err.message),
    );
  });
});

/** mulberry32: a small seeded generator, so a failure is reproducible from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("validateReply under generated input", () => {
  const SEED = 20261130;
  const CASES = 3000;

  test(`never throws anything but a backend error, and every plan it returns is sound (seed ${SEED}, ${CASES} cases)`, () => {
    const r = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const junk = () =>
      pick<unknown>([undefined, null, "", 0, -1, 1.5, true, "x", [], {}, "💥", "0.0.0.0", "::", "1e3"]);
    const ip4 = () =>
      `${pick([10, 192, 172, 0, 255, 300])}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${pick([0, 1, 2, 5, 254, 255])}`;
    const ip6 = () =>
      pick(["fd00::5", "fd00:1::1", "fd00:1::5", "fe80::1", "::1", "fd00::", "fd00:::1", "gggg::1"]);
    const mask = () =>
      pick<unknown>([
        "255.255.255.0",
        "255.255.0.0",
        "255.0.255.0",
        "24",
        "16",
        "0",
        "32",
        "33",
        24,
        64,
        "/24",
        "x",
      ]);
    const entry = (): unknown => {
      if (r() < 0.05) return junk();
      const e: Record<string, unknown> = {};
      if (r() < 0.95) e.type = pick(["test", "dockin", "store", "nosuch", "../x", "", 5]);
      if (r() < 0.85) e.podIp = r() < 0.8 ? ip4() : pick([ip6(), junk()]);
      if (r() < 0.85) e.subnetMask = mask();
      if (r() < 0.7) e.gateway = r() < 0.8 ? ip4() : pick([ip6(), junk()]);
      if (r() < 0.8) e.ifName = pick(["eth0", "net0", "net1", "net/1", "a-very-long-interface", "", junk()]);
      if (r() < 0.8) e.master = r() < 0.4 ? true : pick([false, "true", 1, null]);
      if (r() < 0.3) {
        e.ips = Array.from({ length: Math.floor(r() * 3) }, () =>
          r() < 0.1
            ? junk()
            : {
                address: `${pick([ip6(), ip4()])}/${pick([64, 24, 0, 129, "x"])}`,
                gateway: r() < 0.5 ? ip6() : undefined,
              },
        );
      }
      return e;
    };
    const valid = (): Record<string, unknown>[] => {
      const count = 1 + Math.floor(r() * 3);
      const masterAt = Math.floor(r() * count);
      return Array.from({ length: count }, (_, j) => ({
        type: ["test", "dockin", "store"][j]!,
        podIp: `10.${j}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 250)}`,
        subnetMask: pick(["255.255.0.0", "16", 16]),
        gateway: `10.${j}.255.254`,
        ifName: j === masterAt ? "eth0" : `net${j}`,
        master: j === masterAt,
      }));
    };
    const keys = ["type", "podIp", "subnetMask", "gateway", "ifName", "master", "ips"];
    /** A well-formed reply with 0-3 random mutations: a key removed or set to junk, an entry duplicated or junk. */
    const mutated = (): unknown => {
      const data: unknown[] = valid();
      const mutations = Math.floor(r() * 4);
      for (let m = 0; m < mutations; m++) {
        const at = Math.floor(r() * data.length);
        const e = data[at];
        const what = r();
        if (what < 0.1) data.push(structuredClone(e));
        else if (what < 0.15) data[at] = junk();
        else if (typeof e === "object" && e !== null) {
          const key = pick(keys);
          const value = pick<unknown>([undefined, junk(), ip4(), ip6(), mask(), entry()]);
          (e as Record<string, unknown>)[key] = value;
        }
      }
      return { code: 0, data };
    };
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const reply: unknown =
        r() < 0.6
          ? mutated()
          : r() < 0.1
            ? junk()
            : {
                code: r() < 0.9 ? 0 : junk(),
                data: r() < 0.05 ? junk() : Array.from({ length: Math.floor(r() * 4) }, entry),
              };
      let plan: ReturnType<typeof validateReply>;
      try {
        plan = validateReply(reply, ctx);
      } catch (err) {
        assert.ok(
          err instanceof CniError && err.code === 101,
          `case ${i}: unexpected ${String(err)} for ${JSON.stringify(reply)}`,
        );
        continue;
      }
      accepted++;
      const why = `case ${i}: ${JSON.stringify(reply)}`;
      assert.equal(plan.networks.filter((n) => n.master).length, 1, why);
      assert.equal(plan.networks.find((n) => n.master)!.ifName, "eth0", why);
      assert.equal(new Set(plan.networks.map((n) => n.ifName)).size, plan.networks.length, why);
      for (const n of plan.networks) {
        assert.ok(dir.byName.has(n.name), why);
        assert.ok(n.addresses.length > 0, why);
        for (const a of n.addresses) {
          const p = parsePrefix(a.address);
          assert.ok(p && p.length > 0, why);
          if (a.gateway !== undefined) assert.ok(contains(p, parseIP(a.gateway)!), why);
        }
      }
    }
    assert.ok(accepted > CASES / 10, `the generator should produce some valid replies (got ${accepted})`);
  });

  test(`accepts every well-formed generated reply with exactly its addresses (seed ${SEED + 1})`, () => {
    const r = rng(SEED + 1);
    for (let i = 0; i < 500; i++) {
      const count = 1 + Math.floor(r() * 3);
      const masterAt = Math.floor(r() * count);
      const data = Array.from({ length: count }, (_, j) => ({
        type: ["test", "dockin", "store"][j]!,
        podIp: `10.${j}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 250)}`,
        subnetMask: r() < 0.5 ? "255.255.0.0" : "16",
        gateway: `10.${j}.255.254`,
        ifName: j === masterAt ? "eth0" : `net${j}`,
        master: j === masterAt,
      }));
      const plan = validateReply({ code: 0, data }, ctx);
      assert.deepEqual(
        plan.networks.map((n) => n.addresses[0]!.address),
        data.map((d) => `${d.podIp}/16`),
      );
    }
  });
});
