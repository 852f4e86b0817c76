// dockin-cni DEL off the main path: malformed CNI_ARGS, unreadable records with the RM down and
// up, and the networks detached in parallel (each chain still in reverse order).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { SEED_MASTER, SEED_SECOND } from "../fixtures/seed.ts";
import { cni, inWorld, nsAddresses, podArgs, reply, VERSIONS, type World } from "./harness.ts";

/** A backend URL on a port where nothing listens (bound once, then closed): the RM down. */
async function deadBackend(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  const port = typeof a === "object" && a !== null ? a.port : 0;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}/rmController/getPodMultiNetwork`;
}

function attachedWorld(w: World): void {
  w.network("test");
  w.network("dockin");
  w.webhook.replies.set("web-0", reply([SEED_MASTER, SEED_SECOND]));
}

describe("DEL with a malformed CNI_ARGS", () => {
  for (const version of VERSIONS) {
    test(`succeeds when there is no record at ${version} (a DEL that fails forever leaves a stuck pod)`, async () => {
      await inWorld(async (w) => {
        w.network("test");
        const ns = w.netns();
        const run = await cni({
          command: "DEL",
          containerId: "badargs",
          netns: ns,
          args: "K8S_POD_NAME=web-0;garbage",
          config: w.config(version),
        });
        assert.equal(run.code, 0, run.stdout + run.stderr);
        assert.match(readFileSync(w.logFile, "utf8"), /CNI_ARGS: invalid pair \\"garbage\\"/);
      });
    });
  }
});

/** Every kind of unreadable record, and what the log must say about it. */
const corruptions: { name: string; text: string; reason: RegExp }[] = [
  { name: "truncated JSON", text: '{"format": 1, "containerId": "c', reason: /JSON/ },
  { name: "empty file", text: "", reason: /JSON/ },
  { name: "not an object", text: "[1, 2]", reason: /not a record: not a JSON object/ },
  {
    name: "a newer format",
    text: '{"format": 2, "containerId": "c"}',
    reason: /it has format 2, this build reads format 1/,
  },
  { name: "no format", text: '{"containerId": "c"}', reason: /it has no format, this build reads format 1/ },
  {
    name: "a field of the wrong type",
    text: '{"format": 1, "containerId": "c", "ifName": "eth0", "netns": 7, "networks": []}',
    reason: /a field is missing or of the wrong type/,
  },
];

describe("DEL with an unreadable record", () => {
  for (const bad of corruptions) {
    test(`${bad.name}: with the RM down DEL fails (11) and keeps the record; with it up DEL detaches and sets the record aside`, async () => {
      await inWorld(async (w) => {
        attachedWorld(w);
        const ns = w.netns();
        const call = { containerId: "corrupt", netns: ns, args: podArgs("web-0") };
        const add = await cni({ ...call, command: "ADD", config: w.config("1.0.0") });
        assert.equal(add.code, 0, add.stdout);
        const path = join(w.cacheDir, "corrupt:eth0.json");
        writeFileSync(path, bad.text);

        const down = await cni({
          ...call,
          command: "DEL",
          config: w.config("1.0.0", { backend: await deadBackend() }),
        });
        assert.equal(down.code, 1, `DEL must fail so that the runtime retries: ${down.stdout}`);
        assert.equal(down.json?.code, 11, down.stdout);
        assert.match(String(down.json?.msg), /unreadable/);
        assert.match(String(down.json?.msg), bad.reason);
        assert.match(String(down.json?.msg), /eth0/, "names the interfaces still in the pod");
        assert.deepEqual(Object.keys(nsAddresses(ns)).sort(), ["eth0", "net0"], "nothing was detached");
        assert.deepEqual(w.records(), ["corrupt:eth0.json"], "the record is kept in place");
        assert.equal(readFileSync(path, "utf8"), bad.text);

        const up = await cni({ ...call, command: "DEL", config: w.config("1.0.0") });
        assert.equal(up.code, 0, up.stdout + up.stderr);
        assert.deepEqual(nsAddresses(ns), {});
        assert.deepEqual(w.portsLeft(), []);
        const left = w.records();
        assert.equal(left.length, 1, `one record set aside: ${left}`);
        assert.match(left[0]!, /^corrupt:eth0\.json\.unreadable-\d+$/);
        assert.equal(readFileSync(join(w.cacheDir, left[0]!), "utf8"), bad.text, "the evidence is intact");
        const log = readFileSync(w.logFile, "utf8");
        assert.match(log, /unreadable attachment record set aside/);
        assert.match(log, bad.reason);

        // A DEL once the pod is gone succeeds with the RM down too (nothing is attached).
        const again = await cni({
          ...call,
          command: "DEL",
          config: w.config("1.0.0", { backend: await deadBackend() }),
        });
        assert.equal(again.code, 0, again.stdout);
      });
    });
  }

  test("an unreadable record whose pod has no interface left: DEL succeeds with the RM down, the record set aside", async () => {
    await inWorld(async (w) => {
      attachedWorld(w);
      const ns = w.netns();
      const path = join(w.cacheDir, "empty:eth0.json");
      const call = { containerId: "empty", netns: ns, args: podArgs("web-0") };
      const add = await cni({ ...call, command: "ADD", config: w.config("1.0.0") });
      assert.equal(add.code, 0, add.stdout);
      const del = await cni({ ...call, command: "DEL", config: w.config("1.0.0") });
      assert.equal(del.code, 0, del.stdout);
      writeFileSync(path, "{");
      const run = await cni({
        ...call,
        command: "DEL",
        config: w.config("1.0.0", { backend: await deadBackend() }),
      });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(readdirSync(w.cacheDir).join(), /^empty:eth0\.json\.unreadable-\d+$/);
    });
  });
});

/**
 * A chain's last plugin that logs when its DEL starts and ends (sleeping between) and whether
 * the chain's interface still exists then (it must: the chain is undone in reverse order).
 */
const markingDelegate = (log: string) => `case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"0.4.0","supportedVersions":["0.3.1","0.4.0"]}' ;;
ADD) sed 's/.*"prevResult"://; s/}$//' ;;
DEL)
  if nsenter --net="$CNI_NETNS" ip link show "$CNI_IFNAME" >/dev/null 2>&1; then present=yes; else present=no; fi
  echo "start $CNI_IFNAME $present" >> ${log}
  sleep 0.5
  echo "end $CNI_IFNAME" >> ${log} ;;
*) exit 0 ;;
esac`;

describe("DEL detaches the networks in parallel", () => {
  for (const version of VERSIONS) {
    test(`two networks' DELs overlap, each chain in reverse order, at ${version}`, async () => {
      await inWorld(async (w) => {
        const a = w.network("test");
        const b = w.network("dockin");
        const log = join(w.dir, "marks");
        w.fake("dkmark", markingDelegate(log));
        for (const [name, net] of [
          ["test", a],
          ["dockin", b],
        ] as const) {
          w.file(
            `${name}.json`,
            JSON.stringify({
              cniVersion: "1.0.0",
              name,
              plugins: [{ type: "bridge", bridge: net.bridge }, { type: "dkmark" }],
            }),
          );
        }
        w.webhook.replies.set("web-0", reply([SEED_MASTER, SEED_SECOND]));
        const ns = w.netns();
        const call = { containerId: "par", netns: ns, args: podArgs("web-0") };
        const add = await cni({ ...call, command: "ADD", config: w.config(version) });
        assert.equal(add.code, 0, add.stdout + add.stderr);
        const del = await cni({ ...call, command: "DEL", config: w.config(version) });
        assert.equal(del.code, 0, del.stdout + del.stderr);
        const marks = readFileSync(log, "utf8").trim().split("\n");
        assert.equal(marks.length, 4, marks.join("; "));
        assert.deepEqual(
          marks.slice(0, 2).map((m) => m.split(" ")[0]),
          ["start", "start"],
          `the second network's DEL starts before the first one's ends: ${marks.join("; ")}`,
        );
        assert.deepEqual(
          marks
            .filter((m) => m.startsWith("start"))
            .map((m) => m.split(" ").slice(1).join(" "))
            .sort(),
          ["eth0 yes", "net0 yes"],
          "each chain's last plugin is undone before its bridge",
        );
        assert.deepEqual(nsAddresses(ns), {});
        assert.deepEqual(w.portsLeft(), []);
        assert.deepEqual(w.records(), []);
      });
    });
  }
});

describe("ADD over an unreadable record", () => {
  test("sets it aside instead of writing over it", async () => {
    await inWorld(async (w) => {
      attachedWorld(w);
      const ns = w.netns();
      const call = { containerId: "over", netns: ns, args: podArgs("web-0") };
      const first = await cni({ ...call, command: "ADD", config: w.config("1.1.0") });
      assert.equal(first.code, 0, first.stdout);
      const del = await cni({ ...call, command: "DEL", config: w.config("1.1.0") });
      assert.equal(del.code, 0, del.stdout);
      writeFileSync(join(w.cacheDir, "over:eth0.json"), '{"format": 2}');
      const add = await cni({ ...call, command: "ADD", config: w.config("1.1.0") });
      assert.equal(add.code, 0, add.stdout + add.stderr);
      const names = w.records().sort();
      assert.equal(names.length, 2, names.join(", "));
      assert.equal(names[0], "over:eth0.json");
      assert.match(names[1]!, /^over:eth0\.json\.unreadable-\d+$/);
      assert.equal(readFileSync(join(w.cacheDir, names[1]!), "utf8"), '{"format": 2}');
      assert.match(
        readFileSync(w.logFile, "utf8"),
        /unreadable attachment record set aside.*it has format 2/,
      );
      const last = await cni({ ...call, command: "DEL", config: w.config("1.1.0") });
      assert.equal(last.code, 0, last.stdout);
      assert.deepEqual(nsAddresses(ns), {});
    });
  });
});

describe("DEL after an ADD killed while writing its record", () => {
  test("removes the temp file the dead writer left, not one whose writer still runs", async () => {
    await inWorld(async (w) => {
      attachedWorld(w);
      const ns = w.netns();
      const call = { containerId: "killed", netns: ns, args: podArgs("web-0") };
      const add = await cni({ ...call, command: "ADD", config: w.config("1.0.0") });
      assert.equal(add.code, 0, add.stdout);
      // A pid whose process has exited (a killed ADD's), and one that runs (this test's).
      const gone = spawnSync("true").pid;
      const dead = join(w.cacheDir, `killed:eth0.json.${gone}.tmp`);
      const live = join(w.cacheDir, `killed:eth0.json.${process.pid}.tmp`);
      writeFileSync(dead, '{"format": 1, "state": "add');
      writeFileSync(live, "");
      const del = await cni({ ...call, command: "DEL", config: w.config("1.0.0") });
      assert.equal(del.code, 0, del.stdout + del.stderr);
      assert.deepEqual(w.records(), [`killed:eth0.json.${process.pid}.tmp`]);
      rmSync(live);
    });
  });
});
