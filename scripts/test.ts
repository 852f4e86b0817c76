// Runs every test file under test/ with the pinned Bun's test runner (the tests are written for
// node:test, which `bun test` runs), two files at a time, each file in its own worker process:
// the product's code runs on the runtime it ships on. Then it checks that the run left nothing on
// the machine (test/leaks.ts): a namespace, link, iptables rule or process the run made and did
// not remove fails it. portmap's shared chains, which no plugin removes, are removed here when the
// run made them and no container uses them any more, and so are the launcher's read marks in /run
// that the run made.
// Usage: npm test [-- <path-filter>...]
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readMarksFromNow } from "../src/install/launcher.ts";
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

/** Counts from bun test's summary (" 12 pass", " 1 fail"), for the closing line. */
function tally(text: string): { pass: number; fail: number } {
  const count = (word: string) => Number(new RegExp(`^\\s*(\\d+) ${word}\\s*$`, "m").exec(text)?.[1] ?? 0);
  return { pass: count("pass"), fail: count("fail") };
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
  const forgetReadMarks = readMarksFromNow();
  // node:test has no per-test timeout; bun's default is 5 s. Tests that start etcd clusters,
  // containers or 110 pods need minutes; a hung test still ends the run.
  const child = spawn(
    process.execPath,
    ["test", "--parallel=2", "--timeout=600000", ...files.map((f) => `./${f}`)],
    { cwd: root, stdio: ["ignore", "inherit", "pipe"], env: { ...process.env, DOCKIN_TEST_RUN: tag } },
  );
  let summary = "";
  child.stderr.on("data", (chunk: Buffer) => {
    process.stderr.write(chunk);
    summary = (summary + chunk.toString("utf8")).slice(-4096);
  });
  const status = await new Promise<number>((done) => child.on("close", (code) => done(code ?? 1)));
  const { pass, fail } = tally(summary);
  console.log(`${pass} passed, ${fail} failed`);
  process.exitCode = status !== 0 || pass === 0 ? status || 1 : 0;
  // The launcher's read marks (src/install/launcher.ts) of the run's install directories.
  forgetReadMarks();
  const removed = removeIdlePortmapChains(before);
  if (removed.length > 0)
    console.log(`test: removed portmap's shared chains the run made (${removed.length} rules and chains)`);
  const left = waitForLeftovers(tag, before);
  if (left.length > 0) {
    console.error(
      `test: the run (tag ${tag}) left ${left.length} thing(s) on this machine:\n${left.map((l) => `  ${l}`).join("\n")}`,
    );
    process.exitCode = 1;
  } else
    console.log("test: the run left no namespace, link, iptables chain or rule, process or temp dir behind");
}
