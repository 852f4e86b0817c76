// The installer's all-or-nothing file changes (src/install/txn.ts), in-process on a temp dir.
import assert from "node:assert/strict";
import { linkSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Transaction } from "../../src/install/txn.ts";

test("a temp file a killed install left, linked to an installed file, is replaced, never written through", (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), "dockin-txn-"));
  ctx.after(() => rmSync(dir, { recursive: true, force: true }));
  const exe = join(dir, "dockin-ipam");
  writeFileSync(exe, "the executable");
  // What a --no-launcher install killed between staging and commit leaves: its temp for
  // dockin-cni, a hard link to dockin-ipam, under the name this process's install would use.
  linkSync(exe, join(dir, `.dockin-cni.dockin-tmp-${process.pid}`));

  Transaction.run((txn) => txn.stageText(join(dir, "dockin-cni"), "#!/bin/sh\n", 0o755));

  assert.equal(readFileSync(exe, "utf8"), "the executable");
  assert.equal(readFileSync(join(dir, "dockin-cni"), "utf8"), "#!/bin/sh\n");
  assert.notEqual(statSync(join(dir, "dockin-cni")).ino, statSync(exe).ino);
});

test("stageLink lands both names on the copy the same transaction stages", (ctx) => {
  const dir = mkdtempSync(join(tmpdir(), "dockin-txn-"));
  ctx.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, "source");
  writeFileSync(src, "new build");
  const exe = join(dir, "dockin-ipam");
  writeFileSync(exe, "old build");
  const cni = join(dir, "dockin-cni");
  Transaction.run((txn) => {
    txn.stageCopy(src, exe);
    txn.stageLink(exe, cni);
  });
  assert.equal(readFileSync(cni, "utf8"), "new build");
  assert.equal(statSync(cni).ino, statSync(exe).ino);
});
