// The RM's HTTP API against a real server on port 0 and a real SQLite file.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { SEED_MASTER, SEED_SECOND } from "../fixtures/seed.ts";
import { obj, type Rm, startRm } from "./helpers.ts";

let rm: Rm;
before(async () => {
  rm = await startRm();
});
after(async () => {
  await rm.stop();
});

/** Deletes every pod, policy and network so each test starts empty. */
async function reset(): Promise<void> {
  for (const p of (obj(await rm.call("GET", "/api/v1/pods?limit=100000")).items as {
    namespace: string;
    name: string;
  }[]) ?? [])
    await rm.call("DELETE", `/api/v1/pods/${p.namespace}/${p.name}`);
  for (const p of obj(await rm.call("GET", "/api/v1/policies")).items as { name: string }[])
    await rm.call("DELETE", `/api/v1/policies/${p.name}`);
  for (const n of obj(await rm.call("GET", "/api/v1/networks")).items as { name: string }[])
    await rm.call("DELETE", `/api/v1/networks/${n.name}`);
}

const NET = { subnet: "192.168.1.0/24", gateway: "192.168.1.1" };

describe("networks", () => {
  beforeEach(reset);

  it("PUT creates (201) then replaces (200); GET shows size, allocated and free", async () => {
    const created = await rm.call("PUT", "/api/v1/networks/test", {
      ...NET,
      rangeStart: "192.168.1.10",
      rangeEnd: "192.168.1.19",
      exclude: ["192.168.1.15"],
    });
    assert.equal(created.status, 201);
    assert.deepEqual(
      { size: obj(created).size, allocated: obj(created).allocated, free: obj(created).free },
      { size: 9, allocated: 0, free: 9 },
    );
    const replaced = await rm.call("PUT", "/api/v1/networks/test", NET);
    assert.equal(replaced.status, 200);
    const got = await rm.call("GET", "/api/v1/networks/test");
    assert.equal(got.status, 200);
    assert.equal(obj(got).size, 253);
    assert.equal(obj(got).subnet, "192.168.1.0/24");
    const list = await rm.call("GET", "/api/v1/networks");
    assert.deepEqual(
      (obj(list).items as { name: string }[]).map((n) => n.name),
      ["test"],
    );
    assert.equal((await rm.call("DELETE", "/api/v1/networks/test")).status, 200);
    assert.equal((await rm.call("GET", "/api/v1/networks/test")).status, 404);
  });

  it("accepts a dual-stack network and an IPv6-only one", async () => {
    const dual = await rm.call("PUT", "/api/v1/networks/dual", {
      subnet: "10.9.0.0/24",
      gateway: "10.9.0.1",
      ipv6: { subnet: "fd00:9::/64", gateway: "fd00:9::1" },
    });
    assert.equal(dual.status, 201);
    assert.equal((obj(dual).ipv6 as Record<string, unknown>).size, "18446744073709551614");
    const v6 = await rm.call("PUT", "/api/v1/networks/six", { subnet: "fd00:6::/120" });
    assert.equal(v6.status, 201);
    assert.equal(obj(v6).size, 255);
  });

  const invalid: [string, unknown, RegExp][] = [
    [
      "a subnet that is not CIDR",
      { subnet: "192.168.1.0/33" },
      /subnet: "192\.168\.1\.0\/33" is not a CIDR subnet/,
    ],
    ["a subnet with host bits set", { subnet: "192.168.1.5/24" }, /did you mean 192\.168\.1\.0\/24/],
    ["a missing subnet", { gateway: "192.168.1.1" }, /subnet: is required/],
    [
      "a gateway outside the subnet",
      { subnet: "192.168.1.0/24", gateway: "192.168.2.1" },
      /gateway: 192\.168\.2\.1 is outside the subnet/,
    ],
    [
      "a gateway on the network address",
      { subnet: "192.168.1.0/24", gateway: "192.168.1.0" },
      /gateway: .*network address/,
    ],
    [
      "a gateway on the broadcast address",
      { subnet: "192.168.1.0/24", gateway: "192.168.1.255" },
      /gateway: .*broadcast address/,
    ],
    [
      "a range outside the subnet",
      { subnet: "192.168.1.0/24", rangeEnd: "192.168.3.9" },
      /rangeEnd: 192\.168\.3\.9 is outside/,
    ],
    [
      "a range that ends before it starts",
      { subnet: "192.168.1.0/24", rangeStart: "192.168.1.9", rangeEnd: "192.168.1.5" },
      /comes before rangeStart/,
    ],
    [
      "an excluded address that is not an IP",
      { subnet: "192.168.1.0/24", exclude: ["x"] },
      /exclude\[0\]: "x" is not an IP address/,
    ],
    [
      "a misspelled key, with the fix",
      { subnet: "192.168.1.0/24", gatway: "192.168.1.1" },
      /gatway: unknown field; did you mean "gateway"/,
    ],
    [
      "an IPv4 subnet under ipv6",
      { subnet: "10.0.0.0/24", ipv6: { subnet: "10.1.0.0/24" } },
      /ipv6\.subnet: 10\.1\.0\.0\/24 is not an IPv6 subnet/,
    ],
    [
      "every problem at once",
      { subnet: "10.0.0.0/24", gateway: "11.0.0.1", rangeStart: "12.0.0.1" },
      /gateway: .*; rangeStart: /,
    ],
    ["a body that is not an object", [1], /must be a JSON object/],
  ];
  for (const [name, body, message] of invalid) {
    it(`PUT rejects ${name} with 400 and the field path`, async () => {
      const r = await rm.call("PUT", "/api/v1/networks/bad", body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(obj(r).code, 400);
      assert.match(String(obj(r).message), message);
      assert.equal((await rm.call("GET", "/api/v1/networks/bad")).status, 404);
    });
  }

  it("rejects an invalid network name, malformed JSON, an empty body and a body over 1 MiB", async () => {
    const name = await rm.call("PUT", "/api/v1/networks/bad%20name", NET);
    assert.equal(name.status, 400);
    assert.match(String(obj(name).message), /"bad name" is not a valid network name/);
    const json = await rm.call("PUT", "/api/v1/networks/x", "{not json");
    assert.equal(json.status, 400);
    assert.match(String(obj(json).message), /malformed JSON body/);
    const empty = await rm.call("PUT", "/api/v1/networks/x");
    assert.equal(empty.status, 400);
    const big = await rm.call(
      "PUT",
      "/api/v1/networks/x",
      JSON.stringify({ ...NET, pad: "x".repeat(1024 * 1024) }),
    );
    assert.equal(big.status, 413);
    assert.equal(obj(big).code, 413);
  });

  it("DELETE refuses while addresses are allocated (409) or a policy uses the network; 404 when unknown", async () => {
    await rm.call("PUT", "/api/v1/networks/test", NET);
    await rm.call("PUT", "/api/v1/pods/default/p", { networks: [{ network: "test" }] });
    const busy = await rm.call("DELETE", "/api/v1/networks/test");
    assert.equal(busy.status, 409);
    assert.match(String(obj(busy).message), /network "test" still has 1 allocated address/);
    await rm.call("DELETE", "/api/v1/pods/default/p");
    await rm.call("PUT", "/api/v1/policies/all", { podPrefix: "", networks: [{ network: "test" }] });
    const used = await rm.call("DELETE", "/api/v1/networks/test");
    assert.equal(used.status, 409);
    assert.match(String(obj(used).message), /used by policy "all"/);
    assert.equal((await rm.call("DELETE", "/api/v1/networks/nope")).status, 404);
  });

  it("refuses (409) a change that would leave an allocated address outside the subnet", async () => {
    await rm.call("PUT", "/api/v1/networks/test", NET);
    await rm.call("PUT", "/api/v1/pods/default/p", { networks: [{ network: "test", ip: "192.168.1.200" }] });
    const r = await rm.call("PUT", "/api/v1/networks/test", {
      subnet: "192.168.1.0/25",
      gateway: "192.168.1.1",
    });
    assert.equal(r.status, 409);
    assert.match(String(obj(r).message), /192\.168\.1\.200 \(pod default\/p\): .*outside the subnet/);
  });

  it("refuses (409) a subnet overlapping another network's, naming it, unless allowOverlap", async () => {
    await rm.call("PUT", "/api/v1/networks/test", NET);
    await rm.call("PUT", "/api/v1/networks/dual", { subnet: "10.9.0.0/24", ipv6: { subnet: "fd00:9::/64" } });
    for (const [name, body, other] of [
      ["same", NET, /network "test" \(192\.168\.1\.0\/24\)/],
      ["wider", { subnet: "192.168.0.0/16" }, /network "test" \(192\.168\.1\.0\/24\)/],
      ["inside", { subnet: "192.168.1.128/25" }, /network "test"/],
      [
        "v6",
        { subnet: "10.10.0.0/24", ipv6: { subnet: "fd00:9::8/125" } },
        /network "dual" \(fd00:9::\/64\)/,
      ],
    ] as const) {
      const r = await rm.call("PUT", `/api/v1/networks/${name}`, body);
      assert.equal(r.status, 409, name);
      assert.match(String(obj(r).message), other);
      assert.match(String(obj(r).message), /allowOverlap/);
      assert.equal((await rm.call("GET", `/api/v1/networks/${name}`)).status, 404, name);
    }
    // Neighbours that do not share an address, and the network itself when it changes, pass.
    assert.equal((await rm.call("PUT", "/api/v1/networks/next", { subnet: "192.168.2.0/24" })).status, 201);
    assert.equal((await rm.call("PUT", "/api/v1/networks/test", { subnet: "192.168.1.0/25" })).status, 200);
    const allowed = await rm.call("PUT", "/api/v1/networks/same", { ...NET, allowOverlap: true });
    assert.equal(allowed.status, 201);
    assert.equal(obj(allowed).allowOverlap, true);
    const bad = await rm.call("PUT", "/api/v1/networks/odd", { ...NET, allowOverlap: "yes" });
    assert.equal(bad.status, 400);
    assert.match(String(obj(bad).message), /allowOverlap/);
  });
});

describe("pods", () => {
  beforeEach(async () => {
    await reset();
    await rm.call("PUT", "/api/v1/networks/test", NET);
    await rm.call("PUT", "/api/v1/networks/dockin", { subnet: "192.168.2.0/24", gateway: "192.168.2.1" });
  });

  it("PUT allocates, keeps a fixed ip, names interfaces; GET, list and DELETE release", async () => {
    const r = await rm.call("PUT", "/api/v1/pods/default/web-0", {
      networks: [{ network: "test" }, { network: "dockin", ip: "192.168.2.50" }],
    });
    assert.equal(r.status, 201);
    const nets = obj(r).networks as Record<string, unknown>[];
    assert.deepEqual(
      nets.map((n) => [n.network, n.ifName, n.master, n.ip]),
      [
        ["test", "eth0", true, "192.168.1.2"],
        ["dockin", "net1", false, "192.168.2.50"],
      ],
    );
    assert.deepEqual(nets[1]?.addresses, [
      { address: "192.168.2.50/24", gateway: "192.168.2.1", fixed: true },
    ]);
    assert.equal((await rm.call("GET", "/api/v1/pods/default/web-0")).status, 200);
    const again = await rm.call("PUT", "/api/v1/pods/default/web-0", {
      networks: [{ network: "test" }, { network: "dockin" }],
    });
    assert.equal(again.status, 200);
    assert.equal((obj(again).networks as Record<string, unknown>[])[1]?.ip, "192.168.2.50");
    assert.equal(obj(await rm.call("GET", "/api/v1/networks/test")).allocated, 1);
    const del = await rm.call("DELETE", "/api/v1/pods/default/web-0");
    assert.equal(del.status, 200);
    assert.equal(obj(await rm.call("GET", "/api/v1/networks/test")).allocated, 0);
    assert.equal((await rm.call("GET", "/api/v1/pods/default/web-0")).status, 404);
    assert.equal((await rm.call("DELETE", "/api/v1/pods/default/web-0")).status, 404);
  });

  it("never renames an interface when a network is added", async () => {
    await rm.call("PUT", "/api/v1/networks/third", { subnet: "192.168.3.0/24" });
    await rm.call("PUT", "/api/v1/pods/ns/p", { networks: [{ network: "test" }, { network: "third" }] });
    const r = await rm.call("PUT", "/api/v1/pods/ns/p", {
      networks: [{ network: "dockin" }, { network: "test" }, { network: "third" }],
    });
    assert.deepEqual(
      (obj(r).networks as Record<string, unknown>[]).map((n) => `${n.network}:${n.ifName}:${n.master}`),
      ["dockin:net2:false", "test:eth0:true", "third:net1:false"],
    );
  });

  it("lists pods across namespaces, in one namespace and by page", async () => {
    for (const p of ["a/x", "b/y", "a/z"])
      await rm.call("PUT", `/api/v1/pods/${p}`, { networks: [{ network: "test" }] });
    const all = await rm.call("GET", "/api/v1/pods");
    assert.deepEqual(
      (obj(all).items as { name: string }[]).map((p) => p.name),
      ["x", "z", "y"],
    );
    const ns = await rm.call("GET", "/api/v1/pods/a");
    assert.equal((obj(ns).items as unknown[]).length, 2);
    const page = await rm.call("GET", "/api/v1/pods?limit=2");
    assert.equal(obj(page).next, "a/z");
    const rest = await rm.call("GET", "/api/v1/pods?limit=2&after=a/z");
    assert.deepEqual(
      (obj(rest).items as { name: string }[]).map((p) => p.name),
      ["y"],
    );
    assert.equal((await rm.call("GET", "/api/v1/pods?limit=0")).status, 400);
  });

  it("searches pods with q: by name, node, address prefix or network, a page from offset, with the total", async () => {
    await rm.call("PUT", "/api/v1/networks/wide", { subnet: "10.40.0.0/20" });
    // More than one store page (1000), so that the search reads on past the first.
    await Promise.all(
      Array.from({ length: 1203 }, (_, i) =>
        rm.call("PUT", `/api/v1/pods/shop/web-${String(i).padStart(4, "0")}`, {
          networks: [{ network: "wide" }],
        }),
      ),
    );
    await rm.call("PUT", "/api/v1/pods/ops/db-0", {
      networks: [{ network: "test", ip: "192.168.1.77" }, { network: "dockin" }],
    });
    const search = async (query: string) => {
      const r = await rm.call("GET", `/api/v1/pods?${query}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const body = obj(r) as { items: { namespace: string; name: string }[]; total: number; offset: number };
      return {
        names: body.items.map((p) => `${p.namespace}/${p.name}`),
        total: body.total,
        offset: body.offset,
      };
    };
    assert.deepEqual(await search("q=db-0"), { names: ["ops/db-0"], total: 1, offset: 0 });
    assert.deepEqual(await search("q=192.168.1.77"), { names: ["ops/db-0"], total: 1, offset: 0 });
    assert.deepEqual((await search("q=192.168.1.")).names, ["ops/db-0"]); // an address by its prefix
    assert.deepEqual((await search("q=DOCKIN")).names, ["ops/db-0"]); // a network by name, any case
    const page = await search("q=shop/web-1&offset=150&limit=60");
    assert.equal(page.total, 203); // web-1000 … web-1202
    assert.equal(page.names.length, 53);
    assert.equal(page.names[0], "shop/web-1150");
    assert.equal((await search("q=&limit=5")).total, 1204); // an empty search names every pod
    assert.equal((await search("q=web&namespace=ops")).total, 0);
    // Exact filters: attached to a network (not a name that contains it), holding an address.
    assert.deepEqual(await search("q=&network=dockin"), { names: ["ops/db-0"], total: 1, offset: 0 });
    assert.equal((await search("q=&network=wide&limit=1")).total, 1203);
    assert.deepEqual((await search("q=&address=192.168.1.77")).names, ["ops/db-0"]);
    assert.deepEqual((await search("q=&address=192.168.1.7")).names, []); // not a prefix here
    assert.equal((await rm.call("GET", "/api/v1/pods?q=&address=nope")).status, 400);
    assert.deepEqual(await search("q=&offset=200000"), { names: [], total: 1204, offset: 200000 });
    assert.equal((await rm.call("GET", "/api/v1/pods?q=x&after=a/b")).status, 400);
    assert.equal((await rm.call("GET", "/api/v1/pods?q=x&offset=-1")).status, 400);
    assert.equal((await rm.call("GET", "/api/v1/pods?q=x&limit=0")).status, 400);
  });

  /** The network "wide" and 1001 pods on it, page/p0000 to page/p1000: more than a page. */
  async function fillWide(): Promise<void> {
    await rm.call("PUT", "/api/v1/networks/wide", { subnet: "10.40.0.0/20" });
    await Promise.all(
      Array.from({ length: 1001 }, (_, i) =>
        rm.call("PUT", `/api/v1/pods/page/p${String(i).padStart(4, "0")}`, {
          networks: [{ network: "wide" }],
        }),
      ),
    );
  }

  it("gives at most 1000 pods a page without a limit, and `next` for the rest", async () => {
    await fillWide();
    const first = obj(await rm.call("GET", "/api/v1/pods?namespace=page"));
    assert.equal((first.items as unknown[]).length, 1000);
    assert.equal(first.next, "page/p0999");
    const rest = obj(await rm.call("GET", `/api/v1/pods?namespace=page&after=${String(first.next)}`));
    assert.deepEqual(
      (rest.items as { name: string }[]).map((p) => p.name),
      ["p1000"],
    );
    assert.equal(rest.next, undefined);
  });

  it("lists one network's pods by page, reading on past the pods of other networks", async () => {
    await fillWide();
    for (const p of ["page/a0", "page/a1", "page/z0"])
      await rm.call("PUT", `/api/v1/pods/${p}`, { networks: [{ network: "wide" }, { network: "test" }] });
    const names: string[] = [];
    let after: string | undefined;
    for (let call = 0; call < 5; call++) {
      const page = obj(
        await rm.call(
          "GET",
          `/api/v1/pods?network=test&limit=2${after === undefined ? "" : `&after=${after}`}`,
        ),
      );
      names.push(...(page.items as { name: string }[]).map((p) => p.name));
      if (page.next === undefined) break;
      after = String(page.next);
    }
    // The second page starts after a1 and reads past the 1001 pods of "wide" alone to z0.
    assert.deepEqual(names, ["a0", "a1", "z0"]);
    assert.equal(after, "page/a1");
    const none = obj(await rm.call("GET", "/api/v1/pods?network=nosuch"));
    assert.deepEqual([none.items, none.next], [[], undefined]);
  });

  const invalid: [string, unknown, number, RegExp][] = [
    [
      "two masters",
      {
        networks: [
          { network: "test", master: true },
          { network: "dockin", master: true },
        ],
      },
      400,
      /2 attachments are marked master/,
    ],
    ["an unknown network", { networks: [{ network: "nope" }] }, 404, /network "nope" not found/],
    [
      "an ip outside the subnet",
      { networks: [{ network: "test", ip: "10.0.0.1" }] },
      400,
      /10\.0\.0\.1 is outside the subnet 192\.168\.1\.0\/24/,
    ],
    [
      "the gateway as ip",
      { networks: [{ network: "test", ip: "192.168.1.1" }] },
      400,
      /192\.168\.1\.1 is the gateway/,
    ],
    [
      "an ip that is not one",
      { networks: [{ network: "test", ip: "192.168.1" }] },
      400,
      /networks\[0\]\.ip: "192\.168\.1" is not an IP address/,
    ],
    [
      "the same network twice",
      { networks: [{ network: "test" }, { network: "test" }] },
      400,
      /networks\[1\]\.network: "test" is already attached/,
    ],
    [
      "an invalid interface name",
      { networks: [{ network: "test", ifName: "much-too-long-name" }] },
      400,
      /networks\[0\]\.ifName: .*at most 15/,
    ],
    ["no networks", { networks: [] }, 400, /networks: must list at least one network/],
    [
      "an IPv6 ip on an IPv4 network",
      { networks: [{ network: "test", ip: "fd00::5" }] },
      400,
      /network "test" has no IPv6 subnet/,
    ],
  ];
  for (const [name, body, status, message] of invalid) {
    it(`PUT rejects ${name} (${status})`, async () => {
      const r = await rm.call("PUT", "/api/v1/pods/default/bad", body);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(obj(r).code, status);
      assert.match(String(obj(r).message), message);
      assert.equal((await rm.call("GET", "/api/v1/pods/default/bad")).status, 404);
    });
  }

  it("rejects an ip held by another pod with 409, and invalid pod names with 400", async () => {
    await rm.call("PUT", "/api/v1/pods/default/a", { networks: [{ network: "test", ip: "192.168.1.9" }] });
    const r = await rm.call("PUT", "/api/v1/pods/default/b", {
      networks: [{ network: "test", ip: "192.168.1.9" }],
    });
    assert.equal(r.status, 409);
    assert.match(String(obj(r).message), /already held by pod default\/a/);
    const name = await rm.call("PUT", "/api/v1/pods/default/-x", { networks: [{ network: "test" }] });
    assert.equal(name.status, 400);
  });

  it("answers 409 naming the network when its pool is exhausted, and allocates again after a release", async () => {
    await rm.call("PUT", "/api/v1/networks/tiny", { subnet: "10.7.0.0/30" }); // .1 and .2
    for (const p of ["a", "b"])
      assert.equal(
        (await rm.call("PUT", `/api/v1/pods/ns/${p}`, { networks: [{ network: "tiny" }] })).status,
        201,
      );
    const full = await rm.call("PUT", "/api/v1/pods/ns/c", { networks: [{ network: "tiny" }] });
    assert.equal(full.status, 409);
    assert.equal(obj(full).reason, "PoolExhausted");
    assert.match(String(obj(full).message), /network "tiny" has no free IPv4 address/);
    await rm.call("DELETE", "/api/v1/pods/ns/a");
    const after = await rm.call("PUT", "/api/v1/pods/ns/c", { networks: [{ network: "tiny" }] });
    assert.equal(after.status, 201);
    assert.equal((obj(after).networks as Record<string, unknown>[])[0]?.ip, "10.7.0.1");
  });

  it("gives 600 concurrent PUTs 600 different addresses", async () => {
    await rm.call("PUT", "/api/v1/networks/big", { subnet: "10.8.0.0/22" });
    const replies = await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        rm.call("PUT", `/api/v1/pods/load/p-${i}`, { networks: [{ network: "big" }] }),
      ),
    );
    assert.deepEqual([...new Set(replies.map((r) => r.status))], [201]);
    const ips = replies.map((r) => (obj(r).networks as Record<string, unknown>[])[0]?.ip);
    assert.equal(new Set(ips).size, 600);
    assert.equal(obj(await rm.call("GET", "/api/v1/networks/big")).allocated, 600);
  });
});

describe("webhook", () => {
  beforeEach(async () => {
    await reset();
    await rm.call("PUT", "/api/v1/networks/test", NET);
    await rm.call("PUT", "/api/v1/networks/dockin", { subnet: "192.168.2.0/24", gateway: "192.168.2.1" });
  });

  it("answers a registered pod in the seed's exact format", async () => {
    await rm.call("PUT", "/api/v1/pods/default/demo", {
      networks: [
        { network: "test", ip: "192.168.1.2" },
        { network: "dockin", ifName: "net0", ip: "192.168.2.2" },
      ],
    });
    const r = await rm.call("GET", "/rmController/getPodMultiNetwork?podName=demo", undefined, {
      "x-request-id": "1234",
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.deepEqual(r.body, {
      code: 0,
      reqId: "1234",
      message: "success",
      data: [SEED_MASTER, SEED_SECOND],
    });
    // The same keys in the same order as the seed's sample.
    const text = JSON.stringify(r.body);
    assert.match(
      text,
      /^\{"code":0,"reqId":"1234","message":"success","data":\[\{"type":"test","podIp":"192\.168\.1\.2","subnetMask":"255\.255\.255\.0","gateway":"192\.168\.1\.1","ifName":"eth0","master":true\}/,
    );
  });

  it("adds IPv6 addresses under ips for a dual-stack network, alone for an IPv6-only one", async () => {
    await rm.call("PUT", "/api/v1/networks/dual", {
      subnet: "10.9.0.0/24",
      gateway: "10.9.0.1",
      ipv6: { subnet: "fd00:9::/64", gateway: "fd00:9::1" },
    });
    await rm.call("PUT", "/api/v1/networks/six", { subnet: "fd00:6::/120" });
    await rm.call("PUT", "/api/v1/pods/ns/d", {
      networks: [{ network: "dual", ips: ["10.9.0.5", "fd00:9::5"] }, { network: "six" }],
    });
    const r = await rm.call("GET", "/rmController/getPodMultiNetwork?podName=d&podNamespace=ns");
    assert.deepEqual(obj(r).data, [
      {
        type: "dual",
        podIp: "10.9.0.5",
        subnetMask: "255.255.255.0",
        gateway: "10.9.0.1",
        ifName: "eth0",
        master: true,
        ips: [{ address: "fd00:9::5/64", gateway: "fd00:9::1" }],
      },
      { type: "six", ifName: "net1", master: false, ips: [{ address: "fd00:6::1/120" }] },
    ]);
  });

  it("answers a network's new gateway right after the network changes", async () => {
    await rm.call("PUT", "/api/v1/pods/default/g", { networks: [{ network: "test" }] });
    const before = await rm.call("GET", "/rmController/getPodMultiNetwork?podName=g");
    assert.equal((obj(before).data as Record<string, unknown>[])[0]?.gateway, "192.168.1.1");
    await rm.call("PUT", "/api/v1/networks/test", { subnet: "192.168.1.0/24", gateway: "192.168.1.254" });
    const after = await rm.call("GET", "/rmController/getPodMultiNetwork?podName=g");
    assert.equal((obj(after).data as Record<string, unknown>[])[0]?.gateway, "192.168.1.254");
  });

  it("answers 409 with the network's name when a policy's pool is exhausted", async () => {
    await rm.call("PUT", "/api/v1/networks/one", { subnet: "10.6.0.0/32" });
    await rm.call("PUT", "/api/v1/policies/one", { podPrefix: "one-", networks: [{ network: "one" }] });
    assert.equal(obj(await rm.call("GET", "/rmController/getPodMultiNetwork?podName=one-a")).code, 0);
    const full = await rm.call("GET", "/rmController/getPodMultiNetwork?podName=one-b");
    assert.equal(full.status, 409);
    assert.equal(obj(full).code, 409);
    assert.match(String(obj(full).message), /network "one" has no free IPv4 address/);
    assert.equal((await rm.call("GET", "/api/v1/pods/default/one-b")).status, 404);
  });

  it("answers an unknown pod with a non-zero code and a clear message; a missing podName with 400", async () => {
    const r = await rm.call("GET", "/rmController/getPodMultiNetwork?podName=ghost&podNamespace=prod");
    assert.equal(r.status, 404);
    assert.equal(obj(r).code, 404);
    assert.deepEqual(obj(r).data, []);
    assert.match(String(obj(r).message), /pod prod\/ghost is not registered and no policy matches it/);
    const missing = await rm.call("GET", "/rmController/getPodMultiNetwork");
    assert.equal(missing.status, 400);
    assert.equal(obj(missing).code, 400);
    assert.match(String(obj(missing).message), /podName query parameter is required/);
  });

  it("creates a pod from the matching policy on its first query, and answers the same addresses after", async () => {
    await rm.call("PUT", "/api/v1/policies/catchall", {
      podPrefix: "",
      networks: [{ network: "test" }],
      priority: -1,
    });
    const put = await rm.call("PUT", "/api/v1/policies/web", {
      namespace: "prod",
      podPrefix: "web-",
      networks: [{ network: "test" }, { network: "dockin", ifName: "data0" }],
      sticky: true,
    });
    assert.equal(put.status, 201);
    const first = await rm.call(
      "GET",
      "/rmController/getPodMultiNetwork?podName=web-0&podNamespace=prod&containerId=c1&node=n1",
    );
    assert.equal(first.status, 200);
    const data = obj(first).data as Record<string, unknown>[];
    assert.deepEqual(
      data.map((d) => `${d.type}:${d.ifName}:${d.podIp}`),
      ["test:eth0:192.168.1.2", "dockin:data0:192.168.2.2"],
    );
    const second = await rm.call(
      "GET",
      "/rmController/getPodMultiNetwork?podName=web-0&podNamespace=prod&containerId=c2",
    );
    assert.deepEqual(obj(second).data, data);
    const pod = obj(await rm.call("GET", "/api/v1/pods/prod/web-0"));
    assert.deepEqual([pod.policy, pod.sticky, pod.containerId, pod.node], ["web", true, "c2", "n1"]);
    const other = await rm.call("GET", "/rmController/getPodMultiNetwork?podName=api-0&podNamespace=prod");
    assert.equal(obj(other).code, 0);
    assert.equal(obj(await rm.call("GET", "/api/v1/pods/prod/api-0")).policy, "catchall");
  });

  it("release frees a releasing policy's pod, keeps a sticky one, ignores a stale sandbox", async () => {
    await rm.call("PUT", "/api/v1/policies/temp", { namespace: "t", networks: [{ network: "test" }] });
    await rm.call("PUT", "/api/v1/policies/keep", {
      namespace: "k",
      networks: [{ network: "test" }],
      sticky: true,
    });
    await rm.call("GET", "/rmController/getPodMultiNetwork?podName=a&podNamespace=t&containerId=c1");
    await rm.call("GET", "/rmController/getPodMultiNetwork?podName=b&podNamespace=k&containerId=c1");
    assert.equal(obj(await rm.call("GET", "/api/v1/networks/test")).allocated, 2);

    const stale = await rm.call("POST", "/api/v1/pods/t/a/release", { containerId: "old" });
    assert.equal(stale.status, 200);
    assert.equal(obj(stale).released, false);
    assert.match(String(obj(stale).reason), /stale/);

    const freed = await rm.call("POST", "/api/v1/pods/t/a/release", { containerId: "c1" });
    assert.equal(obj(freed).released, true);
    assert.equal((await rm.call("GET", "/api/v1/pods/t/a")).status, 404);
    const twice = await rm.call("POST", "/api/v1/pods/t/a/release?containerId=c1");
    assert.deepEqual([twice.status, obj(twice).released], [200, false]);

    const sticky = await rm.call("POST", "/api/v1/pods/k/b/release");
    assert.equal(obj(sticky).released, false);
    const kept = obj(await rm.call("GET", "/api/v1/pods/k/b"));
    assert.equal(kept.containerId, undefined);
    assert.equal(obj(await rm.call("GET", "/api/v1/networks/test")).allocated, 1);
    // The sticky pod comes back with the same address.
    const back = await rm.call(
      "GET",
      "/rmController/getPodMultiNetwork?podName=b&podNamespace=k&containerId=c9",
    );
    assert.equal((obj(back).data as Record<string, unknown>[])[0]?.podIp, "192.168.1.3");

    const bad = await rm.call("POST", "/api/v1/pods/k/b/release", { container: "x" });
    assert.equal(bad.status, 400);
  });

  it("takes the plugin's detach notification (notifyUrl) as a release", async () => {
    await rm.call("PUT", "/api/v1/policies/temp", { namespace: "shop", networks: [{ network: "test" }] });
    await rm.call("GET", "/rmController/getPodMultiNetwork?podName=web-0&podNamespace=shop&containerId=c1");
    const note = {
      event: "detached",
      podName: "web-0",
      podNamespace: "shop",
      containerId: "c1",
      podUid: "u",
      ifName: "eth0",
    };
    const stale = await rm.call("POST", "/rmController/podDetached", { ...note, containerId: "c0" });
    assert.deepEqual([stale.status, obj(stale).released], [200, false]);
    const r = await rm.call("POST", "/rmController/podDetached", note);
    assert.deepEqual([r.status, obj(r).released], [200, true]);
    assert.equal((await rm.call("GET", "/api/v1/pods/shop/web-0")).status, 404);
    const again = await rm.call("POST", "/rmController/podDetached", note);
    assert.deepEqual([again.status, obj(again).released, obj(again).reason], [200, false, "unknown pod"]);
    const bad = await rm.call("POST", "/rmController/podDetached", { event: "attached", pod: "x" });
    assert.equal(bad.status, 400);
    assert.match(
      String(obj(bad).message),
      /event: "attached" is not "detached"; .*pod: unknown field|pod: unknown field.*event/,
    );
  });

  it("gc releases the releasing-policy pods of a node that are not listed", async () => {
    await rm.call("PUT", "/api/v1/policies/temp", { podPrefix: "", networks: [{ network: "test" }] });
    for (const [p, node] of [
      ["a", "n1"],
      ["b", "n1"],
      ["c", "n2"],
    ])
      await rm.call("GET", `/rmController/getPodMultiNetwork?podName=${p}&containerId=x&node=${node}`);
    const r = await rm.call("POST", "/api/v1/gc", { node: "n1", pods: ["default/a"] });
    assert.equal(r.status, 200);
    assert.deepEqual(obj(r).released, ["default/b"]);
    assert.equal((await rm.call("GET", "/api/v1/pods/default/c")).status, 200);
    assert.equal((await rm.call("POST", "/api/v1/gc", { nodes: "n1" })).status, 400);
  });

  it("gc with listedAt keeps a pod attached or changed at or after it (it may have started after the list)", async () => {
    await rm.call("PUT", "/api/v1/policies/temp", { podPrefix: "", networks: [{ network: "test" }] });
    await rm.call("GET", "/rmController/getPodMultiNetwork?podName=old&containerId=x&node=n1");
    await rm.call("GET", "/rmController/getPodMultiNetwork?podName=moved&containerId=x&node=n1");
    await Bun.sleep(5); // a pod changed in the same millisecond as listedAt is kept
    const listedAt = new Date().toISOString();
    await Bun.sleep(5);
    await rm.call("GET", "/rmController/getPodMultiNetwork?podName=new&containerId=y&node=n1");
    // A pod the list missed that came back in a new sandbox after the list was read.
    await rm.call("GET", "/rmController/getPodMultiNetwork?podName=moved&containerId=z&node=n1");
    const r = await rm.call("POST", "/api/v1/gc", { node: "n1", pods: [], listedAt });
    assert.equal(r.status, 200);
    assert.deepEqual(obj(r).released, ["default/old"]);
    for (const kept of ["new", "moved"])
      assert.equal((await rm.call("GET", `/api/v1/pods/default/${kept}`)).status, 200);
    const bad = await rm.call("POST", "/api/v1/gc", { pods: [], listedAt: 5 });
    assert.equal(bad.status, 400);
    assert.match(String(obj(bad).message), /listedAt: 5 is not an RFC 3339 time with its zone/);
    for (const zoneless of ["2026-11-30T14:05:00", "1"]) {
      const r = await rm.call("POST", "/api/v1/gc", { pods: [], listedAt: zoneless });
      assert.equal(r.status, 400, zoneless);
      assert.match(String(obj(r).message), /is not an RFC 3339 time with its zone/);
    }
    const future = new Date(Date.now() + 60_000).toISOString();
    const late = await rm.call("POST", "/api/v1/gc", { pods: [], listedAt: future });
    assert.equal(late.status, 400);
    assert.match(
      String(obj(late).message),
      /is later than the RM's clock .*take the time from the RM \(\/healthz's time\)/,
    );
    assert.equal(
      (await rm.call("GET", "/api/v1/pods/default/new")).status,
      200,
      "nothing released by a refused gc",
    );
  });
});

describe("policies", () => {
  beforeEach(async () => {
    await reset();
    await rm.call("PUT", "/api/v1/networks/test", NET);
  });

  it("PUT, GET, list, DELETE", async () => {
    const put = await rm.call("PUT", "/api/v1/policies/p", {
      namespace: "x",
      networks: [{ network: "test" }],
    });
    assert.equal(put.status, 201);
    assert.equal(
      (await rm.call("PUT", "/api/v1/policies/p", { namespace: "y", networks: [{ network: "test" }] }))
        .status,
      200,
    );
    assert.equal(obj(await rm.call("GET", "/api/v1/policies/p")).namespace, "y");
    assert.equal((obj(await rm.call("GET", "/api/v1/policies")).items as unknown[]).length, 1);
    assert.equal((await rm.call("DELETE", "/api/v1/policies/p")).status, 200);
    assert.equal((await rm.call("GET", "/api/v1/policies/p")).status, 404);
    assert.equal((await rm.call("DELETE", "/api/v1/policies/p")).status, 404);
  });

  const invalid: [string, unknown, number, RegExp][] = [
    [
      "a policy matching nothing named",
      { networks: [{ network: "test" }] },
      400,
      /needs a namespace, a podPrefix or both/,
    ],
    [
      "an unknown network",
      { namespace: "x", networks: [{ network: "nope" }] },
      404,
      /networks\[0\]\.network: network "nope" not found/,
    ],
    [
      "a fixed ip",
      { namespace: "x", networks: [{ network: "test", ip: "192.168.1.5" }] },
      400,
      /networks\[0\]\.ip: unknown field/,
    ],
    [
      "sticky that is not a boolean",
      { namespace: "x", sticky: "yes", networks: [{ network: "test" }] },
      400,
      /sticky: must be true or false/,
    ],
  ];
  for (const [name, body, status, message] of invalid) {
    it(`PUT rejects ${name} (${status})`, async () => {
      const r = await rm.call("PUT", "/api/v1/policies/bad", body);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.match(String(obj(r).message), message);
    });
  }
});

describe("service endpoints", () => {
  it("/healthz and /readyz answer 200", async () => {
    const health = obj(await rm.call("GET", "/healthz"));
    assert.equal(health.status, "ok");
    assert.ok(
      Math.abs(Date.parse(String(health.time)) - Date.now()) < 5000,
      "the RM's clock, as an ISO time",
    );
    const ready = await rm.call("GET", "/readyz");
    assert.equal(ready.status, 200);
    assert.match(String(obj(ready).store), /^sqlite:/);
  });

  it("/metrics counts requests and shows pool sizes and use", async () => {
    await reset();
    await rm.call("PUT", "/api/v1/networks/test", NET);
    await rm.call("PUT", "/api/v1/pods/default/m", { networks: [{ network: "test" }] });
    await rm.call("GET", "/rmController/getPodMultiNetwork?podName=m");
    const r = await rm.call("GET", "/metrics");
    assert.equal(r.status, 200);
    const text = String(r.body);
    assert.match(
      text,
      /dockin_rm_http_requests_total\{route="\/rmController\/getPodMultiNetwork",method="GET",status="200"\} [1-9]/,
    );
    assert.match(
      text,
      /dockin_rm_http_request_duration_seconds_count\{route="\/api\/v1\/pods\/\{namespace\}\/\{name\}"\} [1-9]/,
    );
    assert.match(text, /dockin_rm_pool_size\{network="test",family="ipv4"\} 253/);
    assert.match(text, /dockin_rm_pool_allocated\{network="test",family="ipv4"\} 1/);
    assert.match(text, /dockin_rm_pods 1/);
  });

  it("answers 404 for an unknown path and 405 with Allow for a wrong method", async () => {
    const r = await rm.call("GET", "/api/v2/nothing");
    assert.equal(r.status, 404);
    assert.match(String(obj(r).message), /no such endpoint/);
    const m = await rm.call("POST", "/api/v1/networks/x", NET);
    assert.equal(m.status, 405);
    assert.equal(m.headers.get("allow"), "GET, PUT, DELETE");
  });
});
