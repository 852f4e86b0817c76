// dockin-cni against the real bridge plugin and dockin-ipam, in throwaway network namespaces,
// with a real webhook on port 0. Every case runs over every spec version the plugin claims.
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { SEED_MASTER, SEED_SECOND } from "../fixtures/seed.ts";
import {
  CHECK_VERSIONS,
  cni,
  inWorld,
  nsAddresses,
  nsJson,
  podArgs,
  reply,
  sh,
  VERSIONS,
  type World,
} from "./harness.ts";

interface Rule {
  src?: string;
  table?: string;
  priority?: number;
}
interface Route {
  dst: string;
  gateway?: string;
  dev?: string;
}

/** The master address as printed for the runtime, checking the format of `version`. */
function printedAddress(json: Record<string, unknown> | undefined, version: string): string {
  assert.ok(json, "ADD printed nothing");
  assert.equal(json.cniVersion, version);
  if (version < "0.3.0") {
    const ip4 = json.ip4 as { ip: string } | undefined;
    assert.ok(ip4, `no ip4 in ${JSON.stringify(json)}`);
    return ip4.ip;
  }
  const ips = json.ips as { address: string; interface: number; version?: string }[];
  const interfaces = json.interfaces as { name: string; sandbox?: string }[];
  const first = ips[0]!;
  assert.equal(first.version !== undefined, version < "1.0.0", "ips[].version only before 1.0.0");
  const iface = interfaces[first.interface]!;
  assert.equal(iface.name, "eth0");
  assert.match(iface.sandbox ?? "", /^\/var\/run\/netns\/dk-/);
  return first.address;
}

const routes = (ns: string, family: 4 | 6, table = "main") =>
  nsJson<Route[]>(ns, [`-${family}`, "route", "show", "table", table]);
const rules = (ns: string, family: 4 | 6) => nsJson<Rule[]>(ns, [`-${family}`, "rule", "show"]);

function assertNothingLeft(w: World, ns: string): void {
  assert.deepEqual(nsAddresses(ns), {}, "interfaces left in the pod namespace");
  assert.deepEqual(w.portsLeft(), [], "veths left on the bridges");
  assert.deepEqual(w.records(), [], "attachment records left");
  assert.deepEqual(
    rules(ns, 4).filter((r) => r.src !== undefined && r.src !== "all"),
    [],
    "policy rules left",
  );
}

const seedPair = [{ ...SEED_MASTER }, { ...SEED_SECOND }];

describe("dockin-cni attaches networks", () => {
  for (const version of VERSIONS) {
    test(`two networks at ${version}: master default route, policy table for the other, CHECK, DEL twice`, async () => {
      await inWorld(async (w) => {
        w.network("test");
        w.network("dockin");
        w.webhook.replies.set("web-0", reply(seedPair));
        const ns = w.netns();
        const call = {
          containerId: `c${version.replaceAll(".", "")}`,
          netns: ns,
          args: podArgs("web-0", "shop"),
        };
        const add = await cni({ ...call, command: "ADD", config: w.config(version) });
        assert.equal(add.code, 0, add.stdout + add.stderr);
        assert.equal(printedAddress(add.json, version), "192.168.1.2/24");

        const q = w.webhook.requests[0]!.url.searchParams;
        assert.equal(q.get("podName"), "web-0");
        assert.equal(q.get("podNamespace"), "shop");
        assert.equal(q.get("containerId"), "x");
        assert.equal(q.get("podUid"), "uid-web-0");

        assert.deepEqual(nsAddresses(ns), { eth0: ["192.168.1.2/24"], net0: ["192.168.2.2/24"] });
        const defaults = routes(ns, 4).filter((r) => r.dst === "default");
        assert.deepEqual(
          defaults.map((r) => [r.gateway, r.dev]),
          [["192.168.1.1", "eth0"]],
        );
        const policy = rules(ns, 4).filter((r) => r.src === "192.168.2.2");
        assert.deepEqual(
          policy.map((r) => [r.table, r.priority]),
          [["1001", 1001]],
        );
        assert.deepEqual(
          routes(ns, 4, "1001")
            .filter((r) => r.dst === "default")
            .map((r) => [r.gateway, r.dev]),
          [["192.168.2.1", "net0"]],
        );
        assert.deepEqual(w.records(), [`${call.containerId}:eth0.json`]);
        assert.equal(statSync(w.cacheDir).mode & 0o777, 0o700, "cacheDir is 0700");
        assert.equal(statSync(join(w.cacheDir, w.records()[0]!)).mode & 0o777, 0o600, "records are 0600");

        if (version >= "0.4.0") {
          const check = await cni({ ...call, command: "CHECK", config: w.config(version) });
          assert.equal(check.code, 0, check.stdout + check.stderr);
        }
        for (const round of [1, 2]) {
          const del = await cni({ ...call, command: "DEL", config: w.config(version) });
          assert.equal(del.code, 0, `DEL ${round}: ${del.stdout}${del.stderr}`);
          assertNothingLeft(w, ns);
        }
      });
    });

    test(`three networks, dual stack, at ${version}`, async () => {
      await inWorld(async (w) => {
        w.network("front");
        w.network("back");
        w.network("store");
        w.webhook.replies.set("db-0", {
          code: 0,
          data: [
            {
              type: "front",
              podIp: "10.10.0.5",
              subnetMask: 24,
              gateway: "10.10.0.1",
              master: true,
              ips: [{ address: "fd00:10::5/64", gateway: "fd00:10::1" }],
            },
            { type: "back", podIp: "10.20.0.5", subnetMask: "255.255.0.0", ifName: "net1" },
            { type: "store", ifName: "net2", ips: [{ address: "fd00:30::5/64", gateway: "fd00:30::1" }] },
          ],
        });
        const ns = w.netns();
        const call = { containerId: "c3", netns: ns, args: podArgs("db-0") };
        const add = await cni({ ...call, command: "ADD", config: w.config(version) });
        assert.equal(add.code, 0, add.stdout + add.stderr);
        assert.equal(printedAddress(add.json, version), "10.10.0.5/24");
        if (version < "0.3.0") {
          assert.equal((add.json!.ip6 as { ip: string }).ip, "fd00:10::5/64");
        } else {
          const ips = (add.json!.ips as { address: string }[]).map((i) => i.address);
          assert.deepEqual(ips, ["10.10.0.5/24", "fd00:10::5/64"]);
        }
        assert.deepEqual(nsAddresses(ns), {
          eth0: ["10.10.0.5/24", "fd00:10::5/64"],
          net1: ["10.20.0.5/16"],
          net2: ["fd00:30::5/64"],
        });
        assert.deepEqual(
          routes(ns, 4)
            .filter((r) => r.dst === "default")
            .map((r) => r.dev),
          ["eth0"],
        );
        assert.deepEqual(
          routes(ns, 6)
            .filter((r) => r.dst === "default")
            .map((r) => [r.gateway, r.dev]),
          [["fd00:10::1", "eth0"]],
        );
        // net1 has no gateway: no table. net2 (data[2]) gets table 1002 for IPv6.
        assert.deepEqual(
          rules(ns, 4).filter((r) => r.src !== undefined && r.src !== "all"),
          [],
        );
        assert.deepEqual(
          rules(ns, 6)
            .filter((r) => r.src !== undefined && r.src !== "all")
            .map((r) => [r.src, r.table]),
          [["fd00:30::5", "1002"]],
        );
        assert.deepEqual(
          routes(ns, 6, "1002")
            .filter((r) => r.dst === "default")
            .map((r) => [r.gateway, r.dev]),
          [["fd00:30::1", "net2"]],
        );
        if (version >= "0.4.0") {
          const check = await cni({ ...call, command: "CHECK", config: w.config(version) });
          assert.equal(check.code, 0, check.stdout + check.stderr);
        }
        const del = await cni({ ...call, command: "DEL", config: w.config(version) });
        assert.equal(del.code, 0, del.stdout + del.stderr);
        assertNothingLeft(w, ns);
        assert.deepEqual(
          rules(ns, 6).filter((r) => r.src !== undefined && r.src !== "all"),
          [],
        );
      });
    });
  }
});

describe("dockin-cni ADD again", () => {
  test("a second ADD of the same container detaches the first attachment, then attaches afresh", async () => {
    await inWorld(async (w) => {
      w.network("test");
      w.network("dockin");
      w.webhook.replies.set("web-0", reply(seedPair));
      const ns = w.netns();
      const call = { containerId: "twice", netns: ns, args: podArgs("web-0") };
      for (const round of [1, 2]) {
        const add = await cni({ ...call, command: "ADD", config: w.config("1.0.0") });
        assert.equal(add.code, 0, `ADD ${round}: ${add.stdout}`);
        assert.deepEqual(nsAddresses(ns), { eth0: ["192.168.1.2/24"], net0: ["192.168.2.2/24"] });
        assert.equal(w.portsLeft().length, 2);
      }
      assert.match(readFileSync(w.logFile, "utf8"), /a record of an earlier ADD exists: detaching it first/);
      const del = await cni({ ...call, command: "DEL", config: w.config("1.0.0") });
      assert.equal(del.code, 0, del.stdout);
      assertNothingLeft(w, ns);
    });
  });
});

describe("dockin-cni CHECK finds what is missing", () => {
  const breakages: { name: string; breakIt: (ns: string) => void; expect: RegExp }[] = [
    {
      name: "an address removed from the master",
      breakIt: (ns) => sh("ip", ["-n", ns, "addr", "del", "192.168.1.2/24", "dev", "eth0"]),
      expect: /192\.168\.1\.2/,
    },
    {
      name: "the master's default route removed",
      breakIt: (ns) => sh("ip", ["-n", ns, "route", "del", "default"]),
      expect: /route/i,
    },
    {
      name: "the policy rule removed",
      breakIt: (ns) => sh("ip", ["-n", ns, "rule", "del", "from", "192.168.2.2", "lookup", "1001"]),
      expect: /rule "from 192\.168\.2\.2 lookup 1001" is missing/,
    },
    {
      name: "the policy table's default route removed",
      breakIt: (ns) => sh("ip", ["-n", ns, "route", "del", "default", "table", "1001"]),
      expect: /default route via 192\.168\.2\.1 dev net0 in table 1001 is missing/,
    },
    {
      name: "the second interface deleted",
      breakIt: (ns) => sh("ip", ["-n", ns, "link", "del", "net0"]),
      expect: /net0/,
    },
  ];
  for (const version of CHECK_VERSIONS) {
    for (const b of breakages) {
      test(`CHECK at ${version} fails after ${b.name}`, async () => {
        await inWorld(async (w) => {
          w.network("test");
          w.network("dockin");
          w.webhook.replies.set("web-0", reply(seedPair));
          const ns = w.netns();
          const call = { containerId: "chk", netns: ns, args: podArgs("web-0") };
          const add = await cni({ ...call, command: "ADD", config: w.config(version) });
          assert.equal(add.code, 0, add.stdout + add.stderr);
          b.breakIt(ns);
          const check = await cni({ ...call, command: "CHECK", config: w.config(version) });
          assert.equal(check.code, 1, "CHECK should fail");
          assert.match(String(check.json?.msg), b.expect);
          const del = await cni({ ...call, command: "DEL", config: w.config(version) });
          assert.equal(del.code, 0, del.stdout + del.stderr);
          assertNothingLeft(w, ns);
        });
      });
    }
  }
});

describe("dockin-cni DEL without the RM", () => {
  for (const version of VERSIONS) {
    test(`DEL at ${version} works from the record alone while the webhook is down`, async () => {
      await inWorld(async (w) => {
        w.network("test");
        w.network("dockin");
        w.webhook.replies.set("web-0", reply(seedPair));
        const ns = w.netns();
        const call = { containerId: "norm", netns: ns, args: podArgs("web-0") };
        const add = await cni({ ...call, command: "ADD", config: w.config(version) });
        assert.equal(add.code, 0, add.stdout + add.stderr);
        await w.webhook.stop();
        const asked = w.webhook.requests.length;
        const del = await cni({ ...call, command: "DEL", config: w.config(version) });
        assert.equal(del.code, 0, del.stdout + del.stderr);
        assert.equal(w.webhook.requests.length, asked, "DEL with a record must not ask the webhook");
        assertNothingLeft(w, ns);
        // No record, no RM: DEL still succeeds, with a warning in the log.
        const again = await cni({ ...call, command: "DEL", config: w.config(version) });
        assert.equal(again.code, 0, again.stdout + again.stderr);
        assert.match(readFileSync(w.logFile, "utf8"), /DEL without a record could not reach the delegates/);
      });
    });
  }

  test("DEL after the pod's namespace is gone (no CNI_NETNS) succeeds and forgets the record", async () => {
    await inWorld(async (w) => {
      w.network("test");
      w.network("dockin");
      w.webhook.replies.set("web-0", reply(seedPair));
      const ns = w.netns();
      const call = { containerId: "gone", args: podArgs("web-0") };
      const add = await cni({ ...call, netns: ns, command: "ADD", config: w.config("1.1.0") });
      assert.equal(add.code, 0, add.stdout + add.stderr);
      sh("ip", ["netns", "del", ns]);
      for (const round of [1, 2]) {
        const del = await cni({ ...call, netns: "", command: "DEL", config: w.config("1.1.0") });
        assert.equal(del.code, 0, `DEL ${round}: ${del.stdout}${del.stderr}`);
      }
      assert.deepEqual(w.portsLeft(), [], "the veths went with the namespace");
      assert.deepEqual(w.records(), []);
    });
  });

  test("DEL without a record asks the webhook and detaches what it names", async () => {
    await inWorld(async (w) => {
      w.network("test");
      w.network("dockin");
      w.webhook.replies.set("web-0", reply(seedPair));
      const ns = w.netns();
      const call = { containerId: "lost", netns: ns, args: podArgs("web-0") };
      const add = await cni({ ...call, command: "ADD", config: w.config("1.0.0") });
      assert.equal(add.code, 0, add.stdout + add.stderr);
      sh("rm", ["-rf", w.cacheDir]);
      const del = await cni({ ...call, command: "DEL", config: w.config("1.0.0") });
      assert.equal(del.code, 0, del.stdout + del.stderr);
      assertNothingLeft(w, ns);
    });
  });
});
