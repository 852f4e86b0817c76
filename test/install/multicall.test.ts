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

test("DOCKIN_ROLE (dockin-cni's launcher) names the role over the name, and no child inherits it", async () => {
  const { dispatch } = await import("../../src/bin/multicall.ts");
  const ran: string[] = [];
  const loaders = {
    "dockin-cni": async () => ran.push("dockin-cni"),
    "dockin-ipam": async () => ran.push("dockin-ipam"),
    dockin: async () => ran.push("dockin"),
  };
  const saved = process.env.DOCKIN_ROLE;
  try {
    process.env.DOCKIN_ROLE = "dockin-cni";
    dispatch(loaders, "/opt/cni/bin/dockin-ipam");
    assert.equal(process.env.DOCKIN_ROLE, undefined);
    process.env.DOCKIN_ROLE = "no-such-role";
    dispatch(loaders, "/opt/cni/bin/dockin-ipam");
    process.env.DOCKIN_ROLE = "toString"; // a key every object has, not a role
    dispatch(loaders, "/opt/cni/bin/dockin-ipam");
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(ran, ["dockin-cni", "dockin-ipam", "dockin-ipam"]);
  } finally {
    if (saved === undefined) delete process.env.DOCKIN_ROLE;
    else process.env.DOCKIN_ROLE = saved;
  }
});

test("the built dockin-cni is the launcher: it runs the executable as dockin-cni with its settings", async () => {
  const { readFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { launcherScript, LAUNCHER_ENV, LAUNCHED } = await import("../../src/install/launcher.ts");
  const { root } = await import("../plugin/harness.ts");
  assert.equal(readFileSync(join(root, "dist", "bin", "dockin-cni"), "utf8"), launcherScript());
  for (const [name, value] of Object.entries(LAUNCHER_ENV))
    assert.match(launcherScript(), new RegExp(`${name}=${value} `));
  assert.match(launcherScript(), new RegExp(`exec "\\$dir/${LAUNCHED}" "\\$@"`));
});
