// RmService over a real SQLite store that runs every pod decision twice, as the store contract
// allows (etcd runs a decision again when its compare-and-swap loses): the first run on what the
// store holds, its change thrown away; then, optionally, another writer moves; then the run that
// is committed. What the service answers must come from the committed run alone.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RmService } from "../../src/rm/service.ts";
import { openSqliteStore } from "../../src/rm/sqlite-store.ts";
import type { Store } from "../../src/rm/store.ts";

let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "dockin-rm-service-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

type Rerunning = Store & { between?: (namespace: string, name: string) => Promise<void> };

/** `inner`, except that each `updatePod` runs its decision once for nothing, then `between`, then for real. */
function rerunning(inner: Store): Rerunning {
  const hooks: { between?: (namespace: string, name: string) => Promise<void> } = {};
  const updatePod: Store["updatePod"] = async (namespace, name, decide) => {
    await inner.updatePod(namespace, name, (existing, view) => {
      decide(existing, view);
      return undefined;
    });
    await hooks.between?.(namespace, name);
    return inner.updatePod(namespace, name, decide);
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === "updatePod") return updatePod;
      if (prop === "between") return hooks.between;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
    set(_target, prop, value) {
      if (prop !== "between") return false;
      hooks.between = value;
      return true;
    },
  }) as Rerunning;
}

let n = 0;
async function setUp(): Promise<{ store: Store; twice: Rerunning; service: RmService }> {
  const store = await openSqliteStore(join(dir, `rm-${n++}.db`));
  const setup = new RmService(store);
  await setup.putNetwork("test", { subnet: "10.0.0.0/24" });
  await setup.putPolicy("all", { podPrefix: "", networks: [{ network: "test" }] });
  for (const pod of ["a", "b", "c"])
    await setup.webhook({ podNamespace: "default", podName: pod, containerId: `old-${pod}`, node: "n1" });
  const twice = rerunning(store);
  return { store, twice, service: new RmService(twice) };
}

describe("RmService.gc with decisions that run more than once", () => {
  it("lists each released pod once", async () => {
    const { store, service } = await setUp();
    try {
      const { released } = await service.gc({ node: "n1", pods: ["default/a"] });
      assert.deepEqual(released, ["default/b", "default/c"]);
      assert.deepEqual(
        (await store.listPods()).map((p) => p.name),
        ["a"],
      );
    } finally {
      await store.close();
    }
  });

  it("does not list a pod that a new sandbox took between a discarded run and the committed one", async () => {
    const { store, twice, service } = await setUp();
    try {
      const other = new RmService(store);
      twice.between = async (namespace, name) => {
        if (name === "b")
          await other.webhook({ podNamespace: namespace, podName: name, containerId: "new-b", node: "n1" });
      };
      const { released } = await service.gc({ node: "n1", pods: ["default/a"] });
      assert.deepEqual(released, ["default/c"]);
      assert.equal((await store.getPod("default", "b"))?.containerId, "new-b");
    } finally {
      await store.close();
    }
  });
});

describe("RmService: a rule between a policy and a network holds under concurrent requests", () => {
  it("a network delete racing a policy that names it: never a policy naming a deleted network", async () => {
    const store = await openSqliteStore(join(dir, `rm-${n++}.db`));
    const service = new RmService(store);
    try {
      for (let round = 0; round < 5; round++) {
        await service.putNetwork("n", { subnet: "10.0.0.0/24" });
        const [deleted, put] = await Promise.allSettled([
          service.deleteNetwork("n"),
          service.putPolicy("p", { podPrefix: "", networks: [{ network: "n" }] }),
        ]);
        const network = await store.getNetwork("n");
        const policy = await store.getPolicy("p");
        assert.ok(
          network !== undefined || policy === undefined,
          `round ${round}: policy "p" names network "n", which is gone (delete ${deleted.status}, put ${put.status})`,
        );
        // Exactly one of the two won; the other was refused with the reason.
        assert.equal([deleted, put].filter((r) => r.status === "fulfilled").length, 1, `round ${round}`);
        if (policy !== undefined) await service.deletePolicy("p");
      }
    } finally {
      await store.close();
    }
  });
});
