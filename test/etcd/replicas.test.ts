// Two real `dockin rm serve` processes on one real three-member etcd cluster: allocations through
// both never collide, a write through one is read through the other, an etcd member killed with
// SIGKILL in the middle of a load costs (almost) nothing and loses nothing, and a dead RM replica
// leaves the other serving.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openEtcdStore } from "../../src/rm/etcd-store.ts";
import type { Store } from "../../src/rm/store.ts";
import { type RmProcess, startRmProcess } from "../rm/helpers.ts";
import { EtcdCluster } from "./cluster.ts";

const PREFIX = `/replicas-${process.pid}`;

interface Outcome {
  pod: string;
  status: number;
  ip?: string;
  error?: string;
}

async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const init: RequestInit = { method, signal: AbortSignal.timeout(20_000) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const res = await fetch(`${url}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** The plugin's question for one pod: the first asks allocate through the policy. */
async function webhook(url: string, ns: string, pod: string): Promise<Outcome> {
  try {
    const q = new URLSearchParams({ podName: pod, podNamespace: ns, containerId: `c-${pod}` });
    const r = await call(url, "GET", `/rmController/getPodMultiNetwork?${q}`);
    const data = r.body.data as { podIp?: string }[] | undefined;
    const ip = data?.[0]?.podIp;
    return r.status === 200 && r.body.code === 0 && ip !== undefined
      ? { pod, status: r.status, ip }
      : { pod, status: r.status, error: JSON.stringify(r.body) };
  } catch (err) {
    return { pod, status: 0, error: String(err) };
  }
}

/** Runs `count` webhook allocations, alternating replicas, `width` at a time per replica. */
async function allocate(
  urls: string[],
  ns: string,
  count: number,
  width: number,
  onDone?: (done: number) => void,
): Promise<Outcome[]> {
  const out: Outcome[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width * urls.length }, async (_, w) => {
      const url = urls[w % urls.length] ?? "";
      while (next < count) {
        const i = next++;
        out.push(await webhook(url, ns, `pod-${i}`));
        onDone?.(out.length);
      }
    }),
  );
  return out;
}

/** SIGKILL and wait for the exit (the helper's stop() may no longer see it). */
async function kill(r: RmProcess): Promise<void> {
  const child = r.child;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await gone;
}

async function leaderIndex(cluster: EtcdCluster): Promise<number> {
  for (const [i, m] of cluster.members.entries()) {
    if (m.process === undefined) continue;
    const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: "POST", body: "{}" });
    const s = (await res.json()) as { header: { member_id: string }; leader: string };
    if (s.header.member_id === s.leader) return i;
  }
  throw new Error("no leader found");
}

describe("two RM replicas on one etcd cluster", () => {
  let cluster: EtcdCluster | undefined;
  let store: Store | undefined;
  const replicas: RmProcess[] = [];
  const urls = () => replicas.map((r) => r.url);

  before(async () => {
    cluster = await EtcdCluster.start({ size: 3 });
    const args = ["--store", cluster.storeSpec, "--etcd-prefix", PREFIX];
    replicas.push(await startRmProcess(args), await startRmProcess(args));
    store = await openEtcdStore({ endpoints: cluster.endpoints, prefix: PREFIX });
    const [a, b] = urls() as [string, string];
    assert.equal((await call(a, "PUT", "/api/v1/networks/n", { subnet: "10.20.0.0/16" })).status, 201);
    const policy = { podPrefix: "", networks: [{ network: "n" }], sticky: false };
    assert.equal((await call(b, "PUT", "/api/v1/policies/all", policy)).status, 201);
  });

  after(async () => {
    await Promise.all(replicas.map(kill));
    await store?.close();
    await cluster?.stop();
  });

  it("hands out 1,000 addresses through both replicas, all different", async () => {
    const outcomes = await allocate(urls(), "load", 1000, 16);
    const failed = outcomes.filter((o) => o.ip === undefined);
    assert.deepEqual(failed.slice(0, 3), []);
    const ips = outcomes.map((o) => o.ip);
    assert.equal(new Set(ips).size, 1000);
    assert.equal((await store?.listPods({ namespace: "load" }))?.length, 1000);
    // The same answer again from the other replica: the pod keeps its address.
    const again = await webhook(urls()[1] ?? "", "load", "pod-0");
    assert.equal(again.ip, outcomes.find((o) => o.pod === "pod-0")?.ip);
  });

  it("reads through one replica what was written through the other", async () => {
    const [a, b] = urls() as [string, string];
    const put = await call(a, "PUT", "/api/v1/pods/x/fixed", {
      networks: [{ network: "n", ip: "10.20.250.7" }],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const got = await call(b, "GET", "/api/v1/pods/x/fixed");
    assert.equal((got.body.networks as { ip: string }[])[0]?.ip, "10.20.250.7");
    const taken = await call(b, "PUT", "/api/v1/pods/x/other", {
      networks: [{ network: "n", ip: "10.20.250.7" }],
    });
    assert.equal(taken.status, 409);
    assert.equal((await call(b, "DELETE", "/api/v1/pods/x/fixed")).status, 200);
    assert.equal((await call(a, "GET", "/api/v1/pods/x/fixed")).status, 404);
    // Released through b, so a can give the address to another pod at once.
    const reuse = await call(a, "PUT", "/api/v1/pods/x/other", {
      networks: [{ network: "n", ip: "10.20.250.7" }],
    });
    assert.equal(reuse.status, 201, JSON.stringify(reuse.body));
  });

  it("keeps serving with the etcd leader killed (SIGKILL) during an allocation load, losing nothing", async (t) => {
    assert.ok(cluster && store);
    const c = cluster;
    const victim = await leaderIndex(c);
    let killed: Promise<void> | undefined;
    const outcomes = await allocate(urls(), "chaos", 600, 8, (done) => {
      if (done === 100) killed = c.kill(victim, "SIGKILL");
    });
    await killed;
    const ok = outcomes.filter((o) => o.ip !== undefined);
    t.diagnostic(
      `${ok.length} of ${outcomes.length} allocations succeeded with member ${victim} (the leader) killed`,
    );
    assert.ok(
      ok.length >= 0.95 * outcomes.length,
      `${ok.length} of ${outcomes.length} succeeded; first failures: ${outcomes
        .filter((o) => o.ip === undefined)
        .slice(0, 3)
        .map((o) => o.error)
        .join("; ")}`,
    );
    assert.equal(new Set(ok.map((o) => o.ip)).size, ok.length, "an address was handed out twice");

    // Once the member is back, read everything through it alone: every acknowledged pod is there
    // with the address its caller was given, and every address is held by its pod.
    await c.restart(victim);
    const only = await openEtcdStore({ endpoints: [c.members[victim]?.clientUrl ?? ""], prefix: PREFIX });
    try {
      const pods = new Map((await only.listPods({ namespace: "chaos" })).map((p) => [p.name, p]));
      for (const o of ok) {
        const pod = pods.get(o.pod);
        assert.ok(pod, `acknowledged pod chaos/${o.pod} is missing`);
        assert.equal(pod.attachments[0]?.addresses[0]?.ip, o.ip);
      }
      const all = [...pods.values()].map((p) => p.attachments[0]?.addresses[0]?.ip);
      assert.equal(new Set(all).size, all.length);
      // Every pod holds one address, and no address is held without its pod.
      assert.deepEqual(await only.usage(), [{ network: "n", family: 4, allocated: await only.countPods() }]);
    } finally {
      await only.close();
    }
  });

  it("serves through the other replica when one is killed", async () => {
    const [dead, alive] = replicas as [RmProcess, RmProcess];
    await kill(dead);
    const outcome = await webhook(alive.url, "after", "survivor");
    assert.ok(outcome.ip, outcome.error);
    const earlier = await call(alive.url, "GET", "/api/v1/pods/load/pod-1");
    assert.equal(earlier.status, 200);
    assert.equal((await call(alive.url, "GET", "/readyz")).status, 200);
  });
});
