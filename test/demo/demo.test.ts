// `dockin demo` is the README's main job: it must work on this machine and leave nothing behind.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { test } from "node:test";

const dockin = resolve(import.meta.dirname, "..", "..", "dist", "bin", "dockin");
const leftovers = (): string[] => [
  ...execFileSync("ip", ["-o", "link"], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.includes("dkdemo")),
  ...execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.includes("dkdemo")),
  ...readdirSync(tmpdir()).filter((f) => f.startsWith("dkdemo-")),
];

test("dockin demo attaches two pods to two networks, pings over both, and leaves nothing behind", () => {
  assert.deepEqual(leftovers(), [], "leftovers from an earlier run");
  const run = spawnSync(dockin, ["demo"], { encoding: "utf8", timeout: 180_000 });
  assert.equal(run.status, 0, `dockin demo failed:\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /reply received[\s\S]*reply received/);
  assert.match(run.stdout, /the RM holds no pod now/);
  assert.match(run.stdout, /nothing left behind/);
  assert.deepEqual(leftovers(), []);
});

test("dockin demo --help explains itself without doing anything", () => {
  const run = spawnSync(dockin, ["demo", "--help"], { encoding: "utf8" });
  assert.equal(run.status, 0);
  assert.match(run.stdout, /usage: dockin demo/);
  assert.deepEqual(leftovers(), []);
});
