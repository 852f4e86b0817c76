// The store contract, run against every Store implementation (SQLite here; etcd in its own issue):
// `runStoreSuite("etcd", () => openEtcdStore(...))`. Each `open()` must give a new, empty store.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseIP } from "../../src/net/ip.ts";
import { type PodChange, type PodRequest, planPod, recordOnly, releasePod } from "../../src/rm/allocate.ts";
import { RmError } from "../../src/rm/errors.ts";
import type { Network, NetworkSpec, PodRecord, Policy } from "../../src/rm/model.ts";
import type { Store } from "../../src/rm/store.ts";

export interface SuiteOptions {
  /** Closes the store and opens it again on the same data (omit when the store cannot). */
  reopen?: (store: Store) => Promise<Store>;
}

const NOW = "2026-01-01T00:00:00.000Z";

function network(name: string, spec: NetworkSpec): (existing: Network | undefined) => Network {
  return (existing) => ({ name, spec, created: existing?.created ?? NOW, updated: NOW });
}

function request(...networks: (string | { network: string; ips?: string[]; ifName?: string })[]): PodRequest {
  return {
    attachments: networks.map((n) =>
      typeof n === "string"
        ? { network: n, ips: [] }
        : { network: n.network, ips: n.ips ?? [], ...(n.ifName ? { ifName: n.ifName } : {}) },
    ),
    sticky: true,
  };
}

async function putPod(store: Store, ns: string, name: string, req: PodRequest): Promise<PodRecord> {
  const pod = await store.updatePod(ns, name, (existing, view) =>
    planPod(ns, name, existing, req, view, NOW),
  );
  assert.ok(pod);
  return pod;
}

const ipsOf = (pod: PodRecord | undefined): string[] =>
  (pod?.attachments ?? []).flatMap((a) => a.addresses.map((x) => x.ip));

async function rejects(promise: Promise<unknown>, reason: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof RmError, `expected an RmError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    assert.match(err.message, pattern);
    return true;
  });
}

export function runStoreSuite(name: string, open: () => Promise<Store>, options: SuiteOptions = {}): void {
  const withStore = (fn: (store: Store) => Promise<void>) => async () => {
    const store = await open();
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  };

  describe(`store contract: ${name}`, () => {
    it(
      "creates, replaces, lists and deletes networks",
      withStore(async (store) => {
        const first = await store.putNetwork("b", network("b", { subnet: "10.0.0.0/24" }));
        assert.equal(first.created, true);
        const again = await store.putNetwork("b", network("b", { subnet: "10.0.0.0/23" }));
        assert.equal(again.created, false);
        await store.putNetwork("a", network("a", { subnet: "10.1.0.0/24", gateway: "10.1.0.1" }));
        assert.deepEqual(
          (await store.listNetworks()).map((n) => [n.name, n.spec.subnet]),
          [
            ["a", "10.1.0.0/24"],
            ["b", "10.0.0.0/23"],
          ],
        );
        assert.equal((await store.getNetwork("a"))?.spec.gateway, "10.1.0.1");
        assert.equal(await store.getNetwork("zzz"), undefined);
        await store.deleteNetwork("a");
        assert.equal(await store.getNetwork("a"), undefined);
        await rejects(store.deleteNetwork("a"), "NotFound", /network "a" not found/);
      }),
    );

    it(
      "putNetwork writes nothing when its decision throws, and sees the allocated addresses",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        await putPod(store, "ns", "p", request("n"));
        let seen: string[] = [];
        await assert.rejects(
          store.putNetwork("n", (_existing, allocated) => {
            seen = allocated.map((a) => `${a.family} ${a.value} ${a.owner}`);
            throw new RmError("Conflict", "no");
          }),
          /no/,
        );
        assert.deepEqual(seen, [`4 ${parseIP("10.0.0.1")?.value} ns/p`]);
        assert.equal((await store.getNetwork("n"))?.spec.subnet, "10.0.0.0/24");
      }),
    );

    it(
      "putNetwork's decision sees every other network, and a refusal writes nothing",
      withStore(async (store) => {
        await store.putNetwork("a", network("a", { subnet: "10.0.0.0/24" }));
        await store.putNetwork("b", network("b", { subnet: "10.1.0.0/24" }));
        let seen: string[] = [];
        await assert.rejects(
          store.putNetwork("c", (_existing, _allocated, others) => {
            seen = others.map((n) => `${n.name} ${n.spec.subnet}`).sort();
            throw new RmError("Conflict", "overlap");
          }),
          /overlap/,
        );
        assert.deepEqual(seen, ["a 10.0.0.0/24", "b 10.1.0.0/24"]);
        assert.equal(await store.getNetwork("c"), undefined);
        await store.putNetwork("a", (existing, _allocated, others) => {
          seen = others.map((n) => n.name);
          return network("a", { subnet: "10.0.0.0/23" })(existing);
        });
        assert.deepEqual(seen, ["b"]);
      }),
    );

    it(
      "refuses to delete a network while it has allocated addresses",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        await putPod(store, "ns", "p", request("n"));
        await rejects(store.deleteNetwork("n"), "Conflict", /1 allocated/);
        await store.updatePod("ns", "p", (existing) => (existing ? releasePod(existing) : undefined));
        await store.deleteNetwork("n");
      }),
    );

    it(
      "allocates the range in order, skipping the gateway and excluded addresses",
      withStore(async (store) => {
        await store.putNetwork(
          "n",
          network("n", {
            subnet: "10.0.0.0/24",
            gateway: "10.0.0.2",
            rangeStart: "10.0.0.1",
            exclude: ["10.0.0.4"],
          }),
        );
        const got: string[] = [];
        for (let i = 0; i < 4; i++) got.push(...ipsOf(await putPod(store, "ns", `p${i}`, request("n"))));
        assert.deepEqual(got, ["10.0.0.1", "10.0.0.3", "10.0.0.5", "10.0.0.6"]);
      }),
    );

    it(
      "allocates by a replaced network's new spec from the next allocation on",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        assert.deepEqual(ipsOf(await putPod(store, "ns", "p0", request("n"))), ["10.0.0.1"]);
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24", exclude: ["10.0.0.2"] }));
        assert.deepEqual(ipsOf(await putPod(store, "ns", "p1", request("n"))), ["10.0.0.3"]);
        await store.putNetwork(
          "n",
          network("n", { subnet: "10.0.0.0/24", exclude: ["10.0.0.2", "10.0.0.4"] }),
        );
        assert.deepEqual(ipsOf(await putPod(store, "ns", "p2", request("n"))), ["10.0.0.5"]);
      }),
    );

    it(
      "hands out released addresses again only after the range wraps (round robin)",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/29" })); // .1 - .6
        for (let i = 1; i <= 3; i++) await putPod(store, "ns", `p${i}`, request("n")); // .1 .2 .3
        await store.updatePod("ns", "p1", (e) => (e ? releasePod(e) : undefined));
        assert.deepEqual(ipsOf(await putPod(store, "ns", "p4", request("n"))), ["10.0.0.4"]);
        assert.deepEqual(ipsOf(await putPod(store, "ns", "p5", request("n"))), ["10.0.0.5"]);
        assert.deepEqual(ipsOf(await putPod(store, "ns", "p6", request("n"))), ["10.0.0.6"]);
        assert.deepEqual(ipsOf(await putPod(store, "ns", "p7", request("n"))), ["10.0.0.1"]);
        await rejects(
          putPod(store, "ns", "p8", request("n")),
          "PoolExhausted",
          /network "n" has no free IPv4 address/,
        );
        assert.equal(await store.getPod("ns", "p8"), undefined);
      }),
    );

    it(
      "keeps the same address in two networks apart",
      withStore(async (store) => {
        await store.putNetwork("a", network("a", { subnet: "10.0.0.0/24" }));
        await store.putNetwork("b", network("b", { subnet: "10.0.0.0/24" }));
        const p = await putPod(store, "ns", "p", request({ network: "a", ips: ["10.0.0.9"] }));
        const q = await putPod(store, "ns", "q", request({ network: "b", ips: ["10.0.0.9"] }));
        assert.deepEqual([ipsOf(p), ipsOf(q)], [["10.0.0.9"], ["10.0.0.9"]]);
        await rejects(
          putPod(store, "ns", "r", request({ network: "a", ips: ["10.0.0.9"] })),
          "Conflict",
          /10\.0\.0\.9 in network "a" is already held by pod ns\/p/,
        );
      }),
    );

    it(
      "rejects an allocation of a held address even when the decision asks for it, writing nothing",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        const p = await putPod(store, "ns", "p", request("n"));
        const value = parseIP(ipsOf(p)[0] ?? "")?.value ?? 0n;
        const forged: PodChange = {
          record: { ...p, name: "q" },
          allocate: [{ network: "n", family: 4, value }],
          release: [],
          cursors: [],
        };
        await rejects(
          store.updatePod("ns", "q", () => forged),
          "Conflict",
          /already held/,
        );
        assert.equal(await store.getPod("ns", "q"), undefined);
      }),
    );

    it(
      "writes nothing when the decision throws, and nothing when it returns undefined",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        await assert.rejects(
          store.updatePod("ns", "p", () => {
            throw new Error("boom");
          }),
          /boom/,
        );
        assert.equal(await store.updatePod("ns", "p", () => undefined), undefined);
        assert.equal(await store.countPods(), 0);
        assert.deepEqual(await store.usage(), []);
      }),
    );

    it(
      "keeps a pod's addresses and interface names when a network is added",
      withStore(async (store) => {
        await store.putNetwork("a", network("a", { subnet: "10.0.0.0/24" }));
        await store.putNetwork("b", network("b", { subnet: "10.1.0.0/24" }));
        await store.putNetwork("c", network("c", { subnet: "10.2.0.0/24" }));
        const one = await putPod(store, "ns", "p", request("a", "c"));
        const two = await putPod(store, "ns", "p", request("a", "b", "c"));
        const names = (pod: PodRecord) =>
          pod.attachments.map((a) => `${a.network}:${a.ifName}:${a.addresses[0]?.ip}`);
        assert.deepEqual(names(one), ["a:eth0:10.0.0.1", "c:net1:10.2.0.1"]);
        assert.deepEqual(names(two), ["a:eth0:10.0.0.1", "b:net2:10.1.0.1", "c:net1:10.2.0.1"]);
        const three = await putPod(store, "ns", "p", request("b"));
        assert.deepEqual(names(three), ["b:net2:10.1.0.1"]);
        assert.deepEqual(
          (await store.usage()).map((u) => `${u.network}:${u.allocated}`),
          ["b:1"],
        );
      }),
    );

    it(
      "allocates both families of a dual-stack network",
      withStore(async (store) => {
        await store.putNetwork(
          "d",
          network("d", { subnet: "10.0.0.0/24", ipv6: { subnet: "fd00:1::/120", gateway: "fd00:1::1" } }),
        );
        const p = await putPod(store, "ns", "p", request("d"));
        assert.deepEqual(ipsOf(p), ["10.0.0.1", "fd00:1::2"]);
        const q = await putPod(store, "ns", "q", request({ network: "d", ips: ["fd00:1::80"] }));
        assert.deepEqual(ipsOf(q), ["10.0.0.2", "fd00:1::80"]);
        assert.deepEqual((await store.usage()).map((u) => `${u.network}/${u.family}:${u.allocated}`).sort(), [
          "d/4:2",
          "d/6:2",
        ]);
      }),
    );

    it(
      "lists pods in namespace/name order, by namespace and by page",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        for (const [ns, p] of [
          ["b", "x"],
          ["a", "z"],
          ["a-b", "m"],
          ["a", "y"],
          ["b", "a"],
        ] as const)
          await putPod(store, ns, p, request("n"));
        const key = (pods: PodRecord[]) => pods.map((p) => `${p.namespace}/${p.name}`);
        // The order of the text namespace/name: "a-b/m" before "a/y" ('-' sorts before '/').
        assert.deepEqual(key(await store.listPods()), ["a-b/m", "a/y", "a/z", "b/a", "b/x"]);
        assert.deepEqual(key(await store.listPods({ namespace: "b" })), ["b/a", "b/x"]);
        assert.deepEqual(key(await store.listPods({ namespace: "a" })), ["a/y", "a/z"]);
        assert.deepEqual(key(await store.listPods({ after: "a/z", limit: 1 })), ["b/a"]);
        assert.deepEqual(key(await store.listPods({ after: "a-b/m", limit: 2 })), ["a/y", "a/z"]);
        assert.deepEqual(key(await store.listPods({ namespace: "a", after: "a/y" })), ["a/z"]);
        assert.equal(await store.countPods(), 5);
      }),
    );

    it(
      "reads the allocation cursors, and sets them (what rm migrate carries over)",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        await store.putNetwork("m", network("m", { subnet: "10.1.0.0/24" }));
        assert.deepEqual(await store.cursors(), []);
        await putPod(store, "ns", "p", request("n"));
        const value = (ip: string) => parseIP(ip)!.value;
        const before = await store.cursors();
        assert.equal(before.length, 1);
        assert.deepEqual([before[0]?.network, before[0]?.family], ["n", 4]);
        await store.putCursors([
          { network: "n", family: 4, value: value("10.0.0.9") },
          { network: "m", family: 4, value: value("10.1.0.200") },
        ]);
        assert.deepEqual(await store.cursors(), [
          { network: "m", family: 4, value: value("10.1.0.200") },
          { network: "n", family: 4, value: value("10.0.0.9") },
        ]);
        // (Where the next allocation starts is the store's: an etcd replica resumes from its own
        // last address while it allocates steadily. A fresh one starts from the cursor.)
        await store.putCursors([]);
        assert.equal((await store.cursors()).length, 2);
      }),
    );

    it(
      "rewrites a record without moving addresses",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        const p = await putPod(store, "ns", "p", request("n"));
        const q = await store.updatePod("ns", "p", (e) =>
          e ? recordOnly({ ...e, containerId: "abc" }) : undefined,
        );
        assert.equal(q?.containerId, "abc");
        assert.deepEqual(ipsOf(q), ipsOf(p));
        assert.equal((await store.getPod("ns", "p"))?.containerId, "abc");
      }),
    );

    it(
      "keeps concurrent writes when one of them fails",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        const results = await Promise.allSettled([
          putPod(store, "ns", "a", request("n")),
          store.updatePod("ns", "bad", (existing, view) => {
            planPod("ns", "bad", existing, request("n"), view, NOW);
            throw new Error("refused after planning");
          }),
          putPod(store, "ns", "b", request("n")),
        ]);
        assert.deepEqual(
          results.map((r) => r.status),
          ["fulfilled", "rejected", "fulfilled"],
        );
        const a = ipsOf(await store.getPod("ns", "a"));
        const b = ipsOf(await store.getPod("ns", "b"));
        assert.equal(a.length, 1);
        assert.notDeepEqual(a, b);
        assert.equal(await store.getPod("ns", "bad"), undefined);
        assert.deepEqual(await store.usage(), [{ network: "n", family: 4, allocated: 2 }]);
      }),
    );

    it(
      "gives 600 concurrent allocations 600 different addresses",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/22" }));
        const pods = await Promise.all(
          Array.from({ length: 600 }, (_, i) => putPod(store, `ns${i % 7}`, `pod-${i}`, request("n"))),
        );
        const ips = pods.flatMap(ipsOf);
        assert.equal(ips.length, 600);
        assert.equal(new Set(ips).size, 600);
        assert.deepEqual(await store.usage(), [{ network: "n", family: 4, allocated: 600 }]);
      }),
    );

    it(
      "creates, lists and deletes policies",
      withStore(async (store) => {
        const policy: Policy = {
          name: "web",
          namespace: "prod",
          podPrefix: "web-",
          networks: [{ network: "n", ips: [] }],
          sticky: true,
          priority: 0,
          created: NOW,
          updated: NOW,
        };
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        const first = await store.putPolicy("web", () => policy);
        assert.deepEqual(first, { policy, created: true });
        let seen: Policy | undefined;
        const again = await store.putPolicy("web", (existing) => {
          seen = existing;
          return { ...policy, sticky: false, updated: "later" };
        });
        assert.deepEqual(seen, policy);
        assert.equal(again.created, false);
        await store.putPolicy("app", () => ({ ...policy, name: "app" }));
        assert.deepEqual(
          (await store.listPolicies()).map((p) => p.name),
          ["app", "web"],
        );
        assert.equal((await store.getPolicy("web"))?.sticky, false);
        assert.equal(await store.deletePolicy("web"), true);
        assert.equal(await store.deletePolicy("web"), false);
        assert.equal(await store.getPolicy("web"), undefined);
      }),
    );

    const policyOn = (name: string, ...networks: string[]): Policy => ({
      name,
      podPrefix: "",
      networks: networks.map((network) => ({ network, ips: [] })),
      sticky: false,
      priority: 0,
      created: NOW,
      updated: NOW,
    });

    it(
      "refuses a policy naming a network that does not exist, naming each, and writes nothing",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        await rejects(
          store.putPolicy("p", () => policyOn("p", "n", "gone", "also-gone")),
          "NotFound",
          /^invalid policy: networks\[1\]\.network: network "gone" not found; networks\[2\]\.network: network "also-gone" not found; create the network first$/,
        );
        assert.equal(await store.getPolicy("p"), undefined);
        await store.putPolicy("p", () => policyOn("p", "n"));
        await rejects(
          store.putPolicy("p", () => policyOn("p", "gone")),
          "NotFound",
          /"gone" not found/,
        );
        assert.deepEqual((await store.getPolicy("p"))?.networks, [{ network: "n", ips: [] }]);
      }),
    );

    it(
      "refuses to delete a network a policy names, until the policy lets go of it",
      withStore(async (store) => {
        await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
        await store.putNetwork("m", network("m", { subnet: "10.1.0.0/24" }));
        await store.putPolicy("a", () => policyOn("a", "m", "n"));
        await store.putPolicy("b", () => policyOn("b", "n"));
        await rejects(
          store.deleteNetwork("n"),
          "Conflict",
          /^network "n" is used by policy "a", "b"; change the policy first$/,
        );
        assert.ok(await store.getNetwork("n"));
        await store.putPolicy("a", () => policyOn("a", "m"));
        await store.deletePolicy("b");
        await store.deleteNetwork("n");
        assert.equal(await store.getNetwork("n"), undefined);
      }),
    );

    it(
      "a network delete racing a policy put that names it: one wins, never a policy naming a deleted network",
      withStore(async (store) => {
        for (let round = 0; round < 10; round++) {
          await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
          const [deleted, put] = await Promise.allSettled([
            store.deleteNetwork("n"),
            store.putPolicy("p", () => policyOn("p", "n")),
          ]);
          const left = [await store.getNetwork("n"), await store.getPolicy("p")];
          assert.ok(
            left[0] !== undefined || left[1] === undefined,
            `round ${round}: the policy names a deleted network`,
          );
          assert.equal([deleted, put].filter((r) => r.status === "fulfilled").length, 1, `round ${round}`);
          await store.deletePolicy("p");
        }
      }),
    );

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      it("keeps everything across a reopen", async () => {
        let store = await open();
        try {
          await store.putNetwork("n", network("n", { subnet: "10.0.0.0/24" }));
          await putPod(store, "ns", "p", request("n"));
          await store.putPolicy("x", () => ({
            name: "x",
            podPrefix: "",
            networks: [{ network: "n", ips: [] }],
            sticky: false,
            priority: 0,
            created: NOW,
            updated: NOW,
          }));
          store = await reopen(store);
          assert.deepEqual(ipsOf(await store.getPod("ns", "p")), ["10.0.0.1"]);
          assert.equal((await store.getPolicy("x"))?.name, "x");
          // The cursor survives too: the next pod continues after the last one handed out.
          assert.deepEqual(ipsOf(await putPod(store, "ns", "q", request("n"))), ["10.0.0.2"]);
        } finally {
          await store.close();
        }
      });
    }
  });
}
