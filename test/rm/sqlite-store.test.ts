import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, it } from "node:test";
import { planPod, releasePod } from "../../src/rm/allocate.ts";
import { migrate } from "../../src/rm/migrate.ts";
import { MIGRATIONS, openSqliteStore } from "../../src/rm/sqlite-store.ts";
import type { Store } from "../../src/rm/store.ts";
import { dockinCommand, runDockin, startRmProcess } from "./helpers.ts";
import { runHistorySuite } from "./history-suite.ts";
import { runStoreSuite } from "./store-suite.ts";

/**
 * Another process holding `<db>.lock` the way a store does (BEGIN IMMEDIATE), without recording
 * itself, or with `read` inside a read transaction on it, as a sqlite3 shell would be; `refused`
 * says what it met when another held it already.
 */
async function holdLock(lock: string, read = false): Promise<{ refused: string; stop: () => void }> {
  // Python's sqlite3: a lock taken by node:sqlite under the bun command (not the compiled
  // executable, whose lock the tests above see) was not always seen by other processes here.
  const take = read
    ? "c.execute('BEGIN'); c.execute('SELECT count(*) FROM holder').fetchone()"
    : "c.execute('BEGIN IMMEDIATE')";
  const child = spawn(
    "python3",
    [
      "-c",
      "import sqlite3, sys, time\n" +
        "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)\n" +
        `try:\n  ${take}\nexcept Exception as e:\n  print(e, flush=True); sys.exit(0)\n` +
        "print('held', flush=True); time.sleep(60)",
      lock,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const line = await new Promise<string>((done) =>
    child.stdout.once("data", (c: Buffer) => done(c.toString())),
  );
  return { refused: line.includes("held") ? "" : line, stop: () => child.kill("SIGKILL") };
}

/** `dockin rm serve` on port 0 with the SQLite store at `path`, as a command line's arguments. */
const serve = (path: string) => ["rm", "serve", "--listen", "127.0.0.1:0", "--store", `sqlite:${path}`];

const dir = mkdtempSync(join(tmpdir(), "dockin-rm-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const paths = new WeakMap<Store, string>();

runStoreSuite(
  "sqlite",
  async () => {
    const path = join(dir, `store-${n++}.db`);
    const store = await openSqliteStore(path);
    paths.set(store, path);
    return store;
  },
  {
    reopen: async (store) => {
      const path = paths.get(store);
      assert.ok(path);
      await store.close();
      const again = await openSqliteStore(path);
      paths.set(again, path);
      return again;
    },
  },
);

runHistorySuite(
  "sqlite",
  async () => {
    const path = join(dir, `store-${n++}.db`);
    const store = await openSqliteStore(path);
    paths.set(store, path);
    return store;
  },
  {
    reopen: async (store) => {
      const path = paths.get(store);
      assert.ok(path);
      await store.close();
      const again = await openSqliteStore(path);
      paths.set(again, path);
      return again;
    },
  },
);

// Again with the recent events folded into the indexed table every two rows, so that every query
// of the contract meets events on both sides of the fold.
runHistorySuite("sqlite, folding every 2 events", async () =>
  openSqliteStore(join(dir, `store-${n++}.db`), { foldRows: 2 }),
);

/** Network `name`, 10.0.0.0/24, in `store`. */
const addNetwork = (store: Store, name: string) =>
  store.putNetwork(name, () => ({ name, spec: { subnet: "10.0.0.0/24" }, created: "x", updated: "x" }));

describe("sqlite store", () => {
  it("opens in WAL mode with synchronous=FULL and the schema at the last migration", async () => {
    const path = join(dir, "pragmas.db");
    const store = await openSqliteStore(path);
    await store.close();
    const db = new DatabaseSync(path);
    try {
      assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
      assert.equal(db.prepare("PRAGMA user_version").get()?.user_version, MIGRATIONS.length);
    } finally {
      db.close();
    }
  });

  it("refuses a database written by a newer schema", async () => {
    const path = join(dir, "newer.db");
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    await assert.rejects(openSqliteStore(path), /schema version .* newer than this dockin knows/);
  });

  it("migrates a database from an earlier version without losing rows", async () => {
    const path = join(dir, "upgrade.db");
    // Version 0: an empty file; opening it twice applies every migration once.
    (await openSqliteStore(path)).close();
    const store = await openSqliteStore(path);
    assert.deepEqual(await store.listNetworks(), []);
    await store.close();
  });

  it("upgrades a schema 1 database that holds pods: they stay, and list in namespace/name text order", async () => {
    const path = join(dir, "schema1.db");
    // A database as schema 1 left it: pods written, then the schema 2 index taken away again.
    const store = await openSqliteStore(path);
    for (const [ns, name] of [
      ["a", "y"],
      ["a-b", "m"],
    ] as const)
      await store.updatePod(ns, name, () => ({
        record: { namespace: ns, name, attachments: [], sticky: false, created: "x", updated: "x" } as never,
        allocate: [],
        release: [],
        cursors: [],
      }));
    await store.close();
    const db = new DatabaseSync(path);
    db.exec("DROP TABLE history; DROP TABLE history_recent; DROP INDEX pods_by_key; PRAGMA user_version = 1");
    db.close();

    const upgraded = await openSqliteStore(path);
    try {
      assert.deepEqual(
        (await upgraded.listPods()).map((p) => `${p.namespace}/${p.name}`),
        ["a-b/m", "a/y"],
      );
    } finally {
      await upgraded.close();
    }
    const check = new DatabaseSync(path);
    try {
      assert.equal(check.prepare("PRAGMA user_version").get()?.user_version, MIGRATIONS.length);
      const indexes = check
        .prepare("PRAGMA index_list(pods)")
        .all()
        .map((r) => r.name);
      assert.ok(indexes.includes("pods_by_key"), `indexes: ${indexes.join(", ")}`);
    } finally {
      check.close();
    }
  });

  it("upgrades a schema 2 database (before history): its pods stay, their addresses are seeded, changes recorded", async () => {
    const path = join(dir, "schema2.db");
    // The database exactly as a dockin before history made it: schema 1 and 2, with a pod holding .7.
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL");
    for (const m of MIGRATIONS.slice(0, 2)) db.exec(m.sql);
    db.exec("PRAGMA user_version = 2");
    const record = {
      namespace: "shop",
      name: "web-0",
      attachments: [
        {
          network: "n",
          ifName: "eth0",
          master: true,
          addresses: [{ family: 4, ip: "10.0.0.7", fixed: false }],
        },
      ],
      sticky: false,
      created: "2026-01-01T00:00:00.000Z",
      updated: "2026-01-01T00:00:00.000Z",
    };
    db.prepare("INSERT INTO networks VALUES (?, ?, ?, ?)").run("n", '{"subnet":"10.0.0.0/24"}', "x", "x");
    db.prepare("INSERT INTO pods VALUES (?, ?, ?)").run("shop", "web-0", JSON.stringify(record));
    db.prepare("INSERT INTO allocations VALUES (?, ?, ?, ?)").run(
      "n",
      4,
      "0000000000000000000000000a000007",
      "shop/web-0",
    );
    db.close();

    const upgraded = await openSqliteStore(path);
    try {
      // The address held at the upgrade is in the history, as of the pod's last update.
      const seeded = await upgraded.history({ limit: 10 });
      assert.deepEqual(
        seeded.map((e) => [e.time, e.event, e.network, e.address, `${e.namespace}/${e.name}`]),
        [["2026-01-01T00:00:00.000Z", "allocated", "n", "10.0.0.7", "shop/web-0"]],
      );
      assert.equal((await upgraded.getPod("shop", "web-0"))?.attachments[0]?.addresses[0]?.ip, "10.0.0.7");
      await upgraded.updatePod("shop", "web-0", (e) => (e === undefined ? undefined : releasePod(e)));
      assert.deepEqual(
        (await upgraded.history({ address: "10.0.0.7", limit: 10 })).map(
          (e) => `${e.event} ${e.namespace}/${e.name}`,
        ),
        ["released shop/web-0", "allocated shop/web-0"],
      );
      assert.deepEqual(await upgraded.usage(), []);
    } finally {
      await upgraded.close();
    }
    const check = new DatabaseSync(path);
    try {
      assert.equal(check.prepare("PRAGMA user_version").get()?.user_version, MIGRATIONS.length);
      const indexes = check
        .prepare("PRAGMA index_list(history)")
        .all()
        .map((r) => String(r.name))
        .sort();
      assert.deepEqual(
        indexes.filter((i) => i.startsWith("history_")),
        ["history_by_id", "history_by_network", "history_by_pod"],
      );
    } finally {
      check.close();
    }
  });

  it("rm migrate refuses, before writing anything, a source policy naming a network it lacks", async () => {
    // What an RM before the one-transaction check could leave: a policy whose network was deleted.
    const source = join(dir, "dangling.db");
    (await openSqliteStore(source)).close();
    const db = new DatabaseSync(source);
    const policy = { name: "old", podPrefix: "", networks: [{ network: "gone", ips: [] }] };
    db.prepare("INSERT INTO policies (name, spec) VALUES (?, ?)").run(
      "old",
      JSON.stringify({ ...policy, sticky: false, priority: 0, created: "x", updated: "x" }),
    );
    db.close();
    const from = await openSqliteStore(source);
    const to = await openSqliteStore(join(dir, "dangling-target.db"));
    try {
      await addNetwork(from, "kept");
      await assert.rejects(
        migrate(from, to),
        /policy "old": invalid policy: networks\[0\]\.network: network "gone" not found.*fix or delete those policies/,
      );
      assert.deepEqual(await to.listNetworks(), []);
    } finally {
      await from.close();
      await to.close();
    }
  });

  it("keeps a write's events apart until foldRows of them, then moves them into the history table in one write", async () => {
    const path = join(dir, "fold.db");
    const store = await openSqliteStore(path, { foldRows: 4 });
    const rows = () => {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        const count = (table: string) => Number(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()?.n);
        return [count("history_recent"), count("history")];
      } finally {
        db.close();
      }
    };
    try {
      await addNetwork(store, "n");
      const put = (name: string) =>
        store.updatePod("ns", name, (existing, view) =>
          planPod(
            "ns",
            name,
            existing,
            { attachments: [{ network: "n", ips: [] }], sticky: false },
            view,
            "x",
          ),
        );
      for (const name of ["a", "b", "c"]) await put(name);
      assert.deepEqual(rows(), [3, 0]);
      // The fourth event reaches the bound: the fold is queued behind it, so a write queued after
      // it resolves once the fold has committed.
      await put("d");
      await store.updatePod("ns", "a", () => undefined);
      assert.deepEqual(rows(), [0, 4]);
      await put("e");
      assert.deepEqual(rows(), [1, 4]);
      assert.deepEqual(
        (await store.history({ limit: 10 })).map((e) => `${e.name} ${e.address}`),
        ["e 10.0.0.5", "d 10.0.0.4", "c 10.0.0.3", "b 10.0.0.2", "a 10.0.0.1"],
      );
    } finally {
      await store.close();
    }
  });

  it("prunes recent events too: they join the history table first", async () => {
    const store = await openSqliteStore(join(dir, "fold-prune.db"));
    try {
      await addNetwork(store, "n");
      const req = { attachments: [{ network: "n", ips: [] }], sticky: false };
      await store.updatePod("ns", "p", (e, view) => planPod("ns", "p", e, req, view, "x"));
      await store.updatePod("ns", "p", (e) => (e === undefined ? undefined : releasePod(e)));
      // Both events are still recent (far from the default 256); "allocated" has a newer event.
      assert.deepEqual(await store.pruneHistory(Date.now() + 60_000, 100), { deleted: 1, next: undefined });
      assert.deepEqual(
        (await store.history({ limit: 10 })).map((e) => e.event),
        ["released"],
      );
    } finally {
      await store.close();
    }
  });

  it("answers a repeated read from memory, and never a stale one: after a write, or a write that rolled back", async () => {
    const store = await openSqliteStore(join(dir, "read-cache.db"));
    try {
      await addNetwork(store, "n");
      const one = { attachments: [{ network: "n", ips: [] }], sticky: false };
      const first = await store.updatePod("ns", "p", (e, view) => planPod("ns", "p", e, one, view, "x"));
      const read = await store.getPod("ns", "p");
      assert.deepEqual(read, first);
      assert.equal(await store.getPod("ns", "p"), read, "the same parsed record, from memory");
      // A write that reads the pod and then fails: the pod is unchanged.
      await assert.rejects(
        store.updatePod("ns", "p", (e) => {
          assert.ok(e);
          throw new Error("refused");
        }),
        /refused/,
      );
      assert.deepEqual(await store.getPod("ns", "p"), first);
      // A write that changes it: the next read sees the change.
      const sticky = { ...one, sticky: true };
      const second = await store.updatePod("ns", "p", (e, view) => planPod("ns", "p", e, sticky, view, "y"));
      assert.equal((await store.getPod("ns", "p"))?.sticky, true);
      assert.deepEqual(await store.getPod("ns", "p"), second);
      // A release deletes the record: the next read finds nothing.
      await store.updatePod("ns", "p", (e) => (e === undefined ? undefined : releasePod(e)));
      assert.equal(await store.getPod("ns", "p"), undefined);
    } finally {
      await store.close();
    }
  });

  it("answers 503 once closed", async () => {
    const store = await openSqliteStore(join(dir, "closed.db"));
    await store.close();
    await assert.rejects(store.ping(), /store is closed/);
  });
});

describe("sqlite store: one writer to a file", () => {
  // It answers reads from memory between its own writes: a second writer would make them stale.
  // The guard is a kernel lock (src/rm/writer-lock.ts): it ends with the process that holds it.
  it("a second store on the file is refused while the first is open; taken once it closes", async () => {
    const path = join(dir, "one-writer.db");
    const first = await openSqliteStore(path);
    await assert.rejects(openSqliteStore(path), /is open already in this process/);
    await first.ping(); // the refused open left the first one alone
    // and its lock too: closing the refused connection did not drop it (POSIX locks are per process)
    assert.match((await holdLock(`${path}.lock`)).refused, /database is locked/);
    await first.close();
    assert.ok(existsSync(`${path}.lock`), "the lock's file stays: removing it could let two lock two files");
    const second = await openSqliteStore(path);
    await second.close();
  });

  it("a holder caught between taking the lock and recording itself is not named by a stale record", async () => {
    const path = join(dir, "stale-record.db");
    const store = await openSqliteStore(path); // records this process, then gives the lock up
    await store.close();
    const other = await holdLock(`${path}.lock`); // takes it without recording itself
    assert.equal(other.refused, "", "the other process holds the lock");
    try {
      const err = await openSqliteStore(path).then(
        () => assert.fail("opened"),
        (e: unknown) => String(e),
      );
      assert.match(
        err,
        /has a writer already: another process holds its lock \S+stale-record\.db\.lock \(another dockin RM, or a tool/,
      );
      assert.doesNotMatch(err, new RegExp(`pid ${process.pid}|already in this process`));
    } finally {
      other.stop();
    }
  });

  it("a read transaction left open on the lock file (a sqlite3 shell) is named as what keeps the RM", async () => {
    const path = join(dir, "reader.db");
    const store = await openSqliteStore(path); // the lock file and its record exist
    await store.close();
    const reader = await holdLock(`${path}.lock`, true);
    try {
      await assert.rejects(
        openSqliteStore(path),
        /taking the writer lock \S+reader\.db\.lock of .*: another process keeps a read transaction open on it \(a sqlite3 shell\?\): end it$/,
      );
    } finally {
      reader.stop();
    }
  });

  it("a directory it may not write to is named with that fix, not the lock file's", async () => {
    const ro = join(dir, "read-only");
    mkdirSync(ro);
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "dockin-test-ro", ro]);
    assert.equal(mounted.status, 0, String(mounted.stderr));
    try {
      await assert.rejects(
        openSqliteStore(join(ro, "rm.db")),
        /taking the writer lock \S+read-only\/rm\.db\.lock .*: make \S+read-only writable by this user/,
      );
    } finally {
      spawnSync("umount", [ro]);
    }
  });

  it("two names of one file (a symbolic link) share one lock", async () => {
    const real = join(dir, "linked.db");
    const alias = join(dir, "alias.db");
    const store = await openSqliteStore(real);
    try {
      symlinkSync(real, alias);
      await assert.rejects(openSqliteStore(alias), /is open already in this process/);
    } finally {
      await store.close();
    }
  });

  it("a lock file that is not a database is refused with the fix", async () => {
    const path = join(dir, "bad-lock.db");
    writeFileSync(`${path}.lock`, "not sqlite, but long enough to be read as a header: ".repeat(4));
    await assert.rejects(
      openSqliteStore(path),
      /taking the writer lock .*bad-lock\.db\.lock .*not a SQLite database; remove it once no dockin RM runs on/,
    );
  });

  it("a store in memory takes no lock", async () => {
    const a = await openSqliteStore(":memory:");
    const b = await openSqliteStore(":memory:");
    await a.close();
    await b.close();
  });

  it("a second RM process on the file stops at once, naming the first; after a kill -9 the next starts", async () => {
    const path = join(dir, "two-rms.db");
    const first = await startRmProcess(["--store", `sqlite:${path}`]);
    try {
      const second = await runDockin(serve(path));
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, new RegExp(`in use by another dockin RM \\(pid ${first.child.pid} on `));
      assert.match(second.stderr, /ends with the process that holds it/);
    } finally {
      assert.equal(await first.stop("SIGKILL"), null);
    }
    // Nothing to clear by hand: the kernel dropped the killed RM's lock.
    const third = await startRmProcess(["--store", `sqlite:${path}`]);
    assert.equal(await third.stop(), 0);
  });

  it("an RM killed in its own pid namespace (a restarted container) leaves no lock behind", async () => {
    const path = join(dir, "container.db");
    const [exe] = dockinCommand();
    // The RM is pid 1 of a new pid namespace (--kill-child takes it down if the test dies first).
    const child = spawn("unshare", ["--pid", "--kill-child", exe ?? "", ...serve(path)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    const exited = new Promise((done) => child.once("exit", done));
    try {
      let log = "";
      await new Promise<void>((listening, failed) => {
        child.stderr.on("data", (c: Buffer) => {
          log += c.toString();
          if (log.includes('"msg":"listening"')) listening();
        });
        child.once("exit", () => failed(new Error(`the RM exited: ${log}`)));
      });
      const refused = await runDockin(serve(path));
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /in use by another dockin RM \(pid 1 on .*, in pid namespace pid:\[\d+\]/);
    } finally {
      // Killed as a container's process is: the RM itself (pid 1 there), then unshare follows it.
      const rm = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim());
      if (rm > 0) process.kill(rm, "SIGKILL");
      else child.kill("SIGKILL");
      await exited;
    }
    const next = await startRmProcess(["--store", `sqlite:${path}`]);
    assert.equal(await next.stop(), 0);
  });

  it("of several RMs started at once on one file, exactly one serves", async () => {
    const path = join(dir, "race.db");
    const starts = await Promise.allSettled(
      Array.from({ length: 5 }, () => startRmProcess(["--store", `sqlite:${path}`])),
    );
    const serving = starts.filter((s) => s.status === "fulfilled");
    try {
      assert.equal(
        serving.length,
        1,
        starts.map((s) => (s.status === "rejected" ? String(s.reason) : "serving")).join("\n"),
      );
      for (const s of starts)
        if (s.status === "rejected") assert.match(String(s.reason), /has a writer already/);
    } finally {
      for (const s of serving) await s.value.stop();
    }
  });

  it("the lock file of an earlier RM is taken over once its process is gone", async () => {
    const path = join(dir, "legacy-gone.db");
    const dead = Bun.spawnSync(["/bin/true"]).pid; // a pid whose process has exited
    writeFileSync(`${path}.writer`, JSON.stringify({ pid: dead, start: 1 }));
    const store = await openSqliteStore(path);
    assert.equal(existsSync(`${path}.writer`), false, "the earlier lock is removed");
    await store.close();
  });

  it("an earlier RM's lock file still being written is honoured for 10 s, then taken over", async () => {
    const path = join(dir, "legacy-empty.db");
    writeFileSync(`${path}.writer`, "");
    await assert.rejects(openSqliteStore(path), /is being taken by an earlier dockin RM/);
    const old = new Date(Date.now() - 11_000);
    utimesSync(`${path}.writer`, old, old);
    const store = await openSqliteStore(path);
    assert.equal(existsSync(`${path}.writer`), false);
    await store.close();
  });

  it("the lock file of an earlier RM that still runs is honoured", async () => {
    const path = join(dir, "legacy-live.db");
    const live = spawn("sleep", ["30"]);
    try {
      const start = Number(readFileSync(`/proc/${live.pid}/stat`, "utf8").split(") ")[1]?.split(" ")[19]);
      writeFileSync(`${path}.writer`, JSON.stringify({ pid: live.pid, start }));
      await assert.rejects(
        openSqliteStore(path),
        new RegExp(
          `in use by an earlier dockin RM \\(pid ${live.pid}\\), by its lock file .*: stop it first`,
        ),
      );
      writeFileSync(`${path}.writer`, JSON.stringify({ pid: live.pid, start, pidns: "pid:[1]" }));
      await assert.rejects(
        openSqliteStore(path),
        /in pid namespace pid:\[1\].*and remove that file once it is gone/,
      );
      assert.ok(existsSync(`${path}.writer`), "left in place");
      writeFileSync(`${path}.writer`, JSON.stringify({ pid: live.pid, start }));
    } finally {
      live.kill("SIGKILL");
      await new Promise((done) => live.once("exit", done));
    }
    const store = await openSqliteStore(path); // its process gone, taken over
    await store.close();
  });
});
