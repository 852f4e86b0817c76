// joinPath and dirName against node:path, which they stand in for in the plugins.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { dirName, joinPath } from "../../src/cni/path.ts";

const dirs = [
  "/var/lib/cni/dockin",
  "/var/lib/cni/dockin/",
  "/var/lib//x//",
  "/a/./b/../c",
  "/..",
  "/",
  "//",
  "rel",
  "rel/",
  "../up",
  ".",
  "",
];
const names = ["c1:eth0.json", "bridge", ".dockin.tmp", ""];

describe("joinPath() gives what node:path's join gives", () => {
  for (const dir of dirs) {
    for (const name of names) {
      it(`${JSON.stringify(dir)} + ${JSON.stringify(name)}`, () => {
        // join keeps a trailing slash when the name is empty; the plugins never join one.
        const expected = join(dir, name);
        const trimmed = expected.length > 1 && name === "" ? expected.replace(/\/$/, "") : expected;
        assert.equal(joinPath(dir, name), trimmed);
      });
    }
  }
});

describe("dirName() gives what node:path's dirname gives", () => {
  const paths = [
    "/data/kubernetes/dockin-cni.log",
    "/a/b/",
    "/a",
    "/",
    "//",
    "a",
    "a/b",
    "a//b",
    "/a//b//",
    "",
  ];
  for (const path of paths) it(JSON.stringify(path), () => assert.equal(dirName(path), dirname(path)));
});
