// Runs every test file under test/ with Node's test runner on the pinned Node, then checks that
// the run left nothing on the machine (test/leaks.ts): a namespace, link, iptables chain or rule,
// or process the suite made and did not remove fails the run. portmap's shared chains, which no
// plugin removes, are removed here when the run made them and no container uses them any more.
// Usage: npm test [-- <path-filter>...]
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { leftovers, newTag, removeIdlePortmapChains, snapshot } from "../test/leaks.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function collect(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return collect(path);
      return name.endsWith(".test.ts") ? [path] : [];
    });
}

/** What the run left, after giving the last removals a moment (another run's may still be going). */
function waitForLeftovers(tag: string, before: ReturnType<typeof snapshot>): string[] {
  let left = leftovers(tag, before, snapshot(tag));
  for (let i = 0; i < 5 && left.length > 0; i++) {
    spawnSync("sleep", ["1"]);
    left = leftovers(tag, before, snapshot(tag));
  }
  return left;
}

const filters = process.argv.slice(2);
const files = collect(join(root, "test"))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)));
if (files.length === 0) {
  console.error(`test: no test file matches ${filters.join(" ")}`);
  process.exitCode = 1;
} else {
  // The run's tag: test/plugin/harness.ts's rand() puts it into every random name.
  const tag = newTag();
  const before = snapshot(tag);
  const run = spawnSync(
    process.execPath,
    ["--test", "--test-reporter=spec", "--test-concurrency=2", ...files],
    {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, DOCKIN_TEST_RUN: tag },
    },
  );
  process.exitCode = run.status ?? 1;
  const removed = removeIdlePortmapChains(before);
  if (removed.length > 0)
    console.log(`test: removed portmap's shared chains the run made (${removed.length} rules and chains)`);
  const left = waitForLeftovers(tag, before);
  if (left.length > 0) {
    console.error(
      `test: the run (tag ${tag}) left ${left.length} thing(s) on this machine:\n${left.map((l) => `  ${l}`).join("\n")}`,
    );
    process.exitCode = 1;
  } else console.log("test: the run left no namespace, link, iptables chain or rule, or process behind");
}
