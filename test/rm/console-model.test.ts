// The console's pure parts against the RM's own rules: the address map's cells against the
// pool arithmetic of src/rm/model.ts, and the split of the API's validation messages by field.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { poolSize, toPool } from "../../src/rm/pool.ts";
import { fieldProblems } from "../../src/rm/ui/client/api.ts";
import { useOverTime } from "../../src/rm/ui/client/chart.ts";
import { buildPoolMap, CELL, cellAddress, cellsIn, MAX_CELLS } from "../../src/rm/ui/client/pool.ts";
import { validateNetworkSpec, validatePodSpec } from "../../src/rm/validate.ts";

describe("the address map's cells", () => {
  const specs: [string, Parameters<typeof buildPoolMap>[0]][] = [
    ["a /24 with a gateway", { subnet: "192.168.1.0/24", gateway: "192.168.1.1" }],
    [
      "a range, exclusions and a gateway outside the range",
      {
        subnet: "10.0.0.0/24",
        gateway: "10.0.0.1",
        rangeStart: "10.0.0.10",
        rangeEnd: "10.0.0.99",
        exclude: ["10.0.0.20", "10.0.0.150"],
      },
    ],
    ["a /16", { subnet: "10.250.0.0/16", gateway: "10.250.255.254" }],
    ["a /31 (both addresses are hosts)", { subnet: "10.9.9.0/31" }],
    ["a /32", { subnet: "10.9.9.7/32" }],
    ["an IPv6 /120", { subnet: "fd00:6::/120", gateway: "fd00:6::1" }],
  ];
  for (const [name, spec] of specs) {
    it(`free cells + held = the RM's pool size: ${name}`, () => {
      const canonical = validateNetworkSpec(spec);
      const size = Number(poolSize(toPool(canonical)));
      const empty = buildPoolMap(canonical, []);
      assert.equal(empty.counts.free, size);
      // Two held addresses: one allocated, one fixed; they leave the free cells.
      const free = cellsIn(empty, "free");
      const held = free.slice(0, 2).map((address, i) => ({ address, pod: `ns/p${i}`, fixed: i === 1 }));
      const map = buildPoolMap(canonical, held);
      assert.equal(map.counts.free, size - held.length);
      assert.deepEqual(
        cellsIn(map, "allocated"),
        held.filter((h) => !h.fixed).map((h) => h.address),
      );
      assert.deepEqual(
        cellsIn(map, "reserved"),
        held.filter((h) => h.fixed).map((h) => h.address),
      );
      assert.deepEqual(cellsIn(map, "gateway"), canonical.gateway === undefined ? [] : [canonical.gateway]);
      for (const h of held) {
        const i = Array.from({ length: map.count }, (_, j) => cellAddress(map, j)).indexOf(h.address);
        assert.equal(map.holders.get(i), h.pod);
      }
    });
  }

  it("draws at most a /16's worth of cells of a larger pool, and says how many there are", () => {
    const map = buildPoolMap({ subnet: "10.0.0.0/8" }, [{ address: "10.0.1.2", pod: "a/b", fixed: false }]);
    assert.equal(map.count, MAX_CELLS);
    assert.equal(map.total, 2n ** 24n);
    assert.equal(map.cols, 256);
    assert.deepEqual(cellsIn(map, "allocated"), ["10.0.1.2"]);
    assert.equal(map.states[MAX_CELLS - 1], CELL.free, "the broadcast address is not among the cells drawn");
  });
});

describe("the API's validation messages by field", () => {
  const message = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error("no error");
  };

  it("splits a network's problems by path, keeping a problem's own '; '", () => {
    const text = message(() =>
      validateNetworkSpec({
        subnet: "10.0.0.1/33",
        gatway: "10.0.0.1",
        exclude: ["x"],
        ipv6: { subnet: "nope" },
      }),
    );
    const fields = fieldProblems(text);
    assert.deepEqual([...fields.keys()].sort(), ["exclude[0]", "gatway", "ipv6.subnet", "subnet"]);
    assert.deepEqual(fields.get("subnet"), ['"10.0.0.1/33" is not a CIDR subnet (e.g. 192.168.1.0/24)']);
    assert.deepEqual(fields.get("gatway"), ['unknown field; did you mean "gateway"?']);
  });

  it("names an attachment's fields", () => {
    const text = message(() =>
      validatePodSpec({ networks: [{ network: "a" }, { network: "b", ip: "1.2.3" }] }),
    );
    assert.deepEqual([...fieldProblems(text)], [["networks[1].ip", ['"1.2.3" is not an IP address']]]);
  });

  it("gives nothing for a message that is not a validation list", () => {
    assert.equal(fieldProblems('10.0.0.5 in network "blue" is already held by pod a/b').size, 0);
  });
});

describe("use over time", () => {
  it("walks back from the number held now through the events, newest first", () => {
    const ev = (time: string, event: "allocated" | "released" | "reassigned") => ({
      id: time,
      time,
      event,
      network: "n",
      address: "10.0.0.2",
      namespace: "a",
      name: "b",
      containerId: null,
      node: null,
    });
    const now = Date.parse("2026-11-30T12:00:00Z");
    const points = useOverTime(
      [
        ev("2026-11-30T11:00:00Z", "released"),
        ev("2026-11-30T10:30:00Z", "reassigned"),
        ev("2026-11-30T10:00:00Z", "allocated"),
        ev("2026-11-30T09:00:00Z", "allocated"),
      ],
      1,
      now,
    );
    assert.deepEqual(
      points.map((p) => p.held),
      [0, 1, 2, 2, 1, 1],
    );
    assert.equal(points[points.length - 1]?.time, now);
  });
});
