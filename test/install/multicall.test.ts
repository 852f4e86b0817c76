// The multi-call entry picks its role from the name it is run as.
import assert from "node:assert/strict";
import { test } from "node:test";
import { roleOf } from "../../src/bin/multicall.ts";

const roles = ["dockin-cni", "dockin-ipam", "dockin"];
const cases: [string, string][] = [
  ["/opt/cni/bin/dockin-cni", "dockin-cni"],
  ["dockin-ipam", "dockin-ipam"],
  ["./dockin-ipam", "dockin-ipam"],
  ["/usr/local/bin/dockin", "dockin"],
  ["/tmp/dockin-x86_64", "dockin"],
  ["/opt/cni/bin/dockin-cni.old", "dockin"],
  ["/opt/cni/bin/bridge", "dockin"],
];
for (const [argv0, role] of cases) {
  test(`roleOf("${argv0}") is ${role}`, () => assert.equal(roleOf(argv0, roles), role));
}
test("a build without a role falls back to the CLI for its name", () => {
  assert.equal(roleOf("/opt/cni/bin/dockin-cni", ["dockin-ipam", "dockin"]), "dockin");
});
