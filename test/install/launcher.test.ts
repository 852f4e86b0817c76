// dockin-cni's launcher (src/install/launcher.ts) reading the executable whole before its first run
// after a boot, as a real install runs it: an installed copy, the launcher by its absolute path.
// What each run executes is read with strace (the read is `dd` then `cat`); what the page cache
// holds is read with fincore. A boot is stood in for by dropping the file from the cache and
// removing the launcher's mark. (The role and settings it passes: multicall.test.ts.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { READ_MARKS, readMarkOf, removeReadMark } from "../../src/install/launcher.ts";
import { setup, type Tree, tempTree, WEBHOOK } from "./helpers.ts";

/** An install by setup.sh into a temp tree, its mark removed when the test ends. */
function installed(ctx: { after: (fn: () => void) => void }): Tree {
  const t = tempTree();
  ctx.after(() => {
    setup(t, ["uninstall"]);
    t.cleanup();
  });
  const r = setup(t, ["install", WEBHOOK, "test", "--no-probe"]);
  assert.equal(r.status, 0, r.stderr);
  return t;
}

/** Drops `file`'s pages from the page cache, as a boot does. */
function dropFromCache(file: string): void {
  const r = spawnSync("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
}

/** How much of `file` the page cache holds, in bytes (whole pages). */
function cachedBytes(file: string): number {
  const r = spawnSync("fincore", ["--bytes", "--noheadings", "--output", "RES", file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

/**
 * Runs `command` (the launcher, or something that runs it) under strace, stdin a VERSION request;
 * it must succeed. Returns the programs it executed, by name (process by process), and its stdout.
 */
function traced(command: string[], cwd?: string): { runs: string[]; stdout: string } {
  const dir = mkdtempSync(join(tmpdir(), "dockin-launcher-"));
  try {
    // -ff: one trace file a process, so that concurrent execs are not split across lines.
    const r = spawnSync(
      "strace",
      ["-ff", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o", join(dir, "t"), ...command],
      {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CNI_COMMAND: "VERSION" },
        input: '{"cniVersion":"1.0.0"}',
        ...(cwd === undefined ? {} : { cwd }),
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const runs = readdirSync(dir)
      .sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]))
      .flatMap((f) =>
        [...readFileSync(join(dir, f), "utf8").matchAll(/execve\("[^"]*?([^/"]+)", .*\) = 0/g)].map(
          (m) => m[1] ?? "",
        ),
      );
    return { runs, stdout: r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const count = (runs: string[], name: string) => runs.filter((n) => n === name).length;

test("the first run after a boot reads the executable whole and marks it; a run that finds the mark reads nothing", (ctx) => {
  const t = installed(ctx);
  const exe = join(t.binDir, "dockin-ipam");
  const launcher = join(t.binDir, "dockin-cni");
  const mark = readMarkOf(t.binDir);

  dropFromCache(exe);
  assert.equal(existsSync(mark), false);
  const first = traced([launcher]).runs;
  assert.deepEqual(first.sort(), ["cat", "dd", "dockin-cni", "dockin-ipam", "mkdir"], "drop, read, run it");
  assert.ok(existsSync(mark), `${mark} marks the read`);
  assert.ok(cachedBytes(exe) > statSync(exe).size * 0.9, "read into the page cache");

  const later = traced([launcher]).runs;
  assert.deepEqual(later, ["dockin-cni", "dockin-ipam"], "the mark found: nothing but the run");

  // uninstall removes the mark with the plugins.
  const r = setup(t, ["uninstall"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /remove +\S+dockin-read\S+\/read .*mark/);
  assert.equal(existsSync(mark), false);
});

test("where /run is not writable (a rootless runtime) the launcher reads nothing and marks nothing", (ctx) => {
  const t = installed(ctx);
  // A mount namespace of its own, with /run read-only in it.
  const { runs } = traced([
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    'mount -o bind,ro /run /run && exec "$0"',
    join(t.binDir, "dockin-cni"),
  ]);
  assert.equal(count(runs, "cat"), 0);
  assert.equal(count(runs, "mkdir"), 0, "not even tried: one access() says so");
  assert.equal(count(runs, "dockin-ipam"), 1);
  assert.equal(existsSync(readMarkOf(t.binDir)), false);
});

test("run by a relative path, the launcher reads nothing and marks nothing (a runtime runs it by its full path)", (ctx) => {
  const t = installed(ctx);
  const { runs } = traced(["./dockin-cni"], t.binDir);
  assert.deepEqual(runs, ["dockin-cni", "dockin-ipam"]);
  assert.equal(existsSync(readMarkOf(t.binDir)), false);
});

test("where the mark cannot be made, no run reads the executable (each would otherwise)", (ctx) => {
  const t = installed(ctx);
  // A file where the mark's directory would go: mkdir fails, as on a full /run.
  const blocker = join(READ_MARKS, t.binDir);
  mkdirSync(dirname(blocker), { recursive: true });
  writeFileSync(blocker, "");
  ctx.after(() => {
    rmSync(blocker, { force: true });
    removeReadMark(t.binDir);
  });
  for (let i = 0; i < 2; i++) {
    const { runs } = traced([join(t.binDir, "dockin-cni")]);
    assert.equal(count(runs, "cat"), 0, `run ${i}`);
    assert.equal(count(runs, "dd"), 0, `run ${i}`);
    assert.equal(count(runs, "dockin-ipam"), 1, `run ${i}`);
  }
});

test("of many first runs at once, the one that makes the mark reads the executable; all answer", (ctx) => {
  const t = installed(ctx);
  // 12 at once through a shell, as a node's first pods after a boot.
  const { runs, stdout } = traced([
    "sh",
    "-c",
    'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo \'{"cniVersion":"1.0.0"}\' | "$0" | grep -q supportedVersions && echo ok & done; wait',
    join(t.binDir, "dockin-cni"),
  ]);
  assert.equal(count(runs, "dockin-ipam"), 12);
  assert.equal(stdout.match(/ok/g)?.length, 12, `every run answered VERSION: ${stdout}`);
  assert.equal(count(runs, "cat"), 1);
  assert.ok(existsSync(readMarkOf(t.binDir)));
});
