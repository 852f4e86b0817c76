// dockin-cni's launcher (src/install/launcher.ts) reading the executable whole before its first run
// after a boot, as a real install runs it: an installed copy, the launcher by its absolute path, the
// page cache as the kernel keeps it (fincore). A boot is stood in for by dropping the file from the
// cache and removing the launcher's mark. (The role and settings it passes: multicall.test.ts.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { READ_MARKS } from "../../src/install/launcher.ts";
import { builtExecutable, setup, type Tree, tempTree, WEBHOOK } from "./helpers.ts";

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

/** How much of `file` the page cache holds, in bytes. */
function cachedBytes(file: string): number {
  const r = spawnSync("fincore", ["--bytes", "--noheadings", "--output", "RES", file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

/** dockin-cni VERSION through `command` (the launcher, or a wrapper of it); it must answer. */
function version(command: string[], cwd?: string): void {
  const [file, ...args] = command;
  const r = spawnSync(file ?? "", args, {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CNI_COMMAND: "VERSION" },
    input: '{"cniVersion":"1.0.0"}',
    ...(cwd === undefined ? {} : { cwd }),
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /supportedVersions/);
}

test("the first run after a boot reads the executable whole and marks it; a run that finds the mark reads nothing", (ctx) => {
  const t = installed(ctx);
  const exe = join(t.binDir, "dockin-ipam");
  const mark = join(READ_MARKS, t.binDir);
  const size = statSync(exe).size;
  assert.ok(statSync(builtExecutable()).size === size);

  dropFromCache(exe);
  assert.equal(existsSync(mark), false);
  version([join(t.binDir, "dockin-cni")]);
  assert.ok(existsSync(mark), `${mark} marks the read`);
  assert.ok(cachedBytes(exe) >= size, "read whole (fincore counts whole pages)");

  // Dropped again (as memory pressure may): a run that finds the mark only runs it, faulting in
  // what it touches.
  dropFromCache(exe);
  version([join(t.binDir, "dockin-cni")]);
  const cached = cachedBytes(exe);
  assert.ok(cached > 0 && cached < size, `${cached} of ${size} bytes: not read whole`);

  // uninstall removes the mark with the plugins.
  const r = setup(t, ["uninstall"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /remove +\S+dockin-read\S+ .*mark/);
  assert.equal(existsSync(mark), false);
});

test("where /run is not writable (a rootless runtime) the launcher reads nothing and marks nothing", (ctx) => {
  const t = installed(ctx);
  const exe = join(t.binDir, "dockin-ipam");
  dropFromCache(exe);
  // A mount namespace of its own, with /run read-only in it.
  version([
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    'mount -o bind,ro /run /run && exec "$0"',
    join(t.binDir, "dockin-cni"),
  ]);
  assert.equal(existsSync(join(READ_MARKS, t.binDir)), false);
  assert.ok(cachedBytes(exe) < statSync(exe).size, "not read whole");
});

test("run by a relative path, the launcher reads nothing and marks nothing (a runtime runs it by its full path)", (ctx) => {
  const t = installed(ctx);
  version(["./dockin-cni"], t.binDir);
  assert.equal(existsSync(join(READ_MARKS, t.binDir)), false);
});
