// dockin-cni ADD with the cache dir's disk full at each record write: a small tmpfs, mounted by
// the test in its temp dir as the cache dir (unmounted after), filled so that the given write
// fails. A failed ADD leaves nothing: no interface, no veth, no record.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { SEED_MASTER, SEED_SECOND } from "../fixtures/seed.ts";
import { cni, inWorld, nsAddresses, podArgs, reply, sh, trySh, VERSIONS, type World } from "./harness.ts";

const PAGE = 4096;
const pages = (bytes: number) => Math.ceil(bytes / PAGE);

/** Mounts a 1 MiB tmpfs at `<w.dir>/disk`, with the cache dir inside; unmounted by `body`'s end. */
async function withSmallDisk(w: World, body: (fill: (freePages: number) => void) => Promise<void>) {
  const mnt = join(w.dir, "disk");
  mkdirSync(mnt);
  sh("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", `dk-${w.bridges[0]}`, mnt]);
  try {
    w.cacheDir = join(mnt, "cache");
    mkdirSync(w.cacheDir, { mode: 0o700 });
    const filler = join(mnt, "filler");
    await body((freePages) => {
      writeFileSync(filler, "");
      const free = statfsSync(mnt).bavail;
      writeFileSync(filler, Buffer.alloc((free - freePages) * PAGE));
      assert.equal(statfsSync(mnt).bavail, freePages, "the filler left the planned room");
    });
  } finally {
    if (!trySh("umount", [mnt])) trySh("umount", ["-l", mnt]);
  }
}

describe("dockin-cni ADD with the cache disk full", () => {
  for (const version of VERSIONS) {
    test(`each record write failing with ENOSPC leaves nothing, at ${version}`, async () => {
      await inWorld(async (w) => {
        w.network("test");
        w.network("dockin");
        w.webhook.replies.set("web-0", reply([SEED_MASTER, SEED_SECOND]));
        const ns = w.netns();
        const call = { containerId: "full", netns: ns, args: podArgs("web-0") };
        // The sizes of both writes, from an ADD with room (the record's path is the same).
        const sizes = { adding: 0, attached: 0 };
        {
          const add = await cni({ ...call, command: "ADD", config: w.config(version) });
          assert.equal(add.code, 0, add.stdout);
          const record = readFileSync(join(w.cacheDir, "full:eth0.json"), "utf8");
          sizes.attached = statSync(join(w.cacheDir, "full:eth0.json")).size;
          const adding = JSON.parse(record) as { state: string; networks: { result?: unknown }[] };
          adding.state = "adding";
          for (const n of adding.networks) delete n.result;
          sizes.adding = Buffer.byteLength(`${JSON.stringify(adding, null, 1)}\n`);
          const del = await cni({ ...call, command: "DEL", config: w.config(version) });
          assert.equal(del.code, 0, del.stdout);
        }
        await withSmallDisk(w, async (fill) => {
          // Write 1 (`adding`) gets one page short; write 2 (`attached`, while the first still
          // exists) gets the first's pages and one short of its own.
          const cases = [
            { write: 1, free: pages(sizes.adding) - 1 },
            { write: 2, free: pages(sizes.adding) + pages(sizes.attached) - 1 },
          ];
          for (const c of cases) {
            fill(c.free);
            const run = await cni({ ...call, command: "ADD", config: w.config(version) });
            assert.equal(run.code, 1, `write ${c.write}: ADD must fail: ${run.stdout}`);
            assert.equal(run.json?.code, 5, run.stdout);
            const msg = String(run.json?.msg);
            assert.match(msg, /writing the attachment record .*full:eth0\.json: ENOSPC/);
            assert.deepEqual(nsAddresses(ns), {}, `write ${c.write}: interfaces left in the pod`);
            assert.deepEqual(w.portsLeft(), [], `write ${c.write}: veths left on the bridges`);
            assert.deepEqual(w.records(), [], `write ${c.write}: a record or temp file left`);
            const failed = readFileSync(w.logFile, "utf8")
              .trim()
              .split("\n")
              .filter((l) => l.includes('"msg":"ADD failed"'))
              .at(-1);
            assert.equal(failed?.match(/ENOSPC/g)?.length, 1, `the cause once: ${failed}`);
          }
          // With room again, the same pod attaches and detaches.
          fill(pages(sizes.adding) + pages(sizes.attached) + 2);
          const add = await cni({ ...call, command: "ADD", config: w.config(version) });
          assert.equal(add.code, 0, add.stdout);
          const del = await cni({ ...call, command: "DEL", config: w.config(version) });
          assert.equal(del.code, 0, del.stdout);
          assert.deepEqual(w.records(), []);
        });
      });
    });
  }
});
