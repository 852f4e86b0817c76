// kill -9 of the RM process under allocation load, then a restart: every acknowledged allocation
// is there with its address and its history, and no address is held twice.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { startRmProcess } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "dockin-rm-crash-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface PodReply {
  namespace: string;
  name: string;
  networks: { ip: string }[];
}

describe("kill -9 under load", () => {
  it("loses no acknowledged allocation or release and never doubles an address", async () => {
    const store = `sqlite:${join(dir, "rm.db")}`;
    const first = await startRmProcess(["--store", store]);
    const acked = new Map<string, string>();
    const deleted = new Set<string>();
    let stop = false;
    try {
      const put = (path: string, body: unknown) =>
        fetch(`${first.url}${path}`, {
          method: "PUT",
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(5000),
        });
      assert.equal((await put("/api/v1/networks/load", { subnet: "10.20.0.0/16" })).status, 201);
      // 16 clients allocate as fast as they can; bounded by count and by time.
      const worker = async (w: number) => {
        for (let i = 0; i < 2000 && !stop; i++) {
          const name = `p-${w}-${i}`;
          try {
            const r = await put(`/api/v1/pods/load/${name}`, { networks: [{ network: "load" }] });
            if (r.status === 201) acked.set(name, ((await r.json()) as PodReply).networks[0]?.ip ?? "");
            // Every third pod is deleted again: releases must survive the kill as well.
            if (i % 3 === 2) {
              acked.delete(name); // from here its state is unknown until the deletion is acknowledged
              const d = await fetch(`${first.url}/api/v1/pods/load/${name}`, {
                method: "DELETE",
                signal: AbortSignal.timeout(5000),
              });
              if (d.status === 200) deleted.add(name);
            }
          } catch {
            return; // the server is gone: this request was never acknowledged
          }
        }
      };
      const workers = Array.from({ length: 16 }, (_, w) => worker(w));
      // Killed under load, once 300 allocations are acknowledged, however long that takes on a busy
      // machine (the runner's per-test timeout bounds a server that never gets there).
      while (acked.size < 300) await new Promise((r) => setTimeout(r, 20));
      first.child.kill("SIGKILL");
      stop = true;
      await Promise.all(workers);
      assert.equal(await first.stop(), null);
    } finally {
      stop = true;
      await first.stop("SIGKILL");
    }

    const second = await startRmProcess(["--store", store]);
    try {
      const r = await fetch(`${second.url}/api/v1/pods?namespace=load&limit=100000`);
      const pods = ((await r.json()) as { items: PodReply[] }).items;
      const held = new Map(pods.map((p) => [p.name, p.networks[0]?.ip]));
      for (const [name, ip] of acked)
        assert.equal(held.get(name), ip, `acknowledged pod ${name} (${ip}) after restart`);
      for (const name of deleted)
        assert.equal(held.has(name), false, `acknowledged deletion of ${name} after restart`);
      assert.ok(deleted.size > 50, `only ${deleted.size} deletions were acknowledged`);
      const ips = pods.map((p) => p.networks[0]?.ip);
      assert.equal(new Set(ips).size, ips.length, "an address is held twice");
      // The address history was written in the same transactions: each acknowledged pod is its
      // address's holder, and each acknowledged deletion's last event is its release.
      for (const [name, ip] of acked) {
        const reply = (await (await fetch(`${second.url}/api/v1/addresses/${ip}`)).json()) as {
          holder: { name: string } | null;
        };
        assert.equal(reply.holder?.name, name, `the history's holder of ${ip} after restart`);
      }
      for (const name of deleted) {
        const reply = (await (
          await fetch(`${second.url}/api/v1/history?pod=load/${name}&limit=1`)
        ).json()) as {
          items: { event: string }[];
        };
        assert.equal(reply.items[0]?.event, "released", `the history's last event of ${name} after restart`);
      }
      const net = (await (await fetch(`${second.url}/api/v1/networks/load`)).json()) as { allocated: number };
      assert.equal(net.allocated, pods.length);
      // And allocation goes on from there without reusing any held address.
      const next = await fetch(`${second.url}/api/v1/pods/load/after`, {
        method: "PUT",
        body: JSON.stringify({ networks: [{ network: "load" }] }),
      });
      assert.equal(next.status, 201);
      assert.ok(!ips.includes(((await next.json()) as PodReply).networks[0]?.ip));
    } finally {
      await second.stop();
    }
  });
});
