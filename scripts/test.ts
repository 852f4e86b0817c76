// Runs every test file under test/ with the pinned Bun's test runner (the tests are written for
// node:test, which `bun test` runs), two files at a time, each file in its own worker process:
// the product's code runs on the runtime it ships on.
// Usage: npm test [-- <path-filter>...]
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

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

const filters = process.argv.slice(2);
const files = collect(join(root, "test"))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)));
if (files.length === 0) {
  console.error(`test: no test file matches ${filters.join(" ")}`);
  process.exitCode = 1;
} else {
  // node:test has no per-test timeout; bun's default is 5 s. Tests that start etcd clusters,
  // containers or 110 pods need minutes; a hung test still ends the run.
  const child = spawn(
    process.execPath,
    ["test", "--parallel=2", "--timeout=600000", ...files.map((f) => `./${f}`)],
    { cwd: root, stdio: ["ignore", "inherit", "pipe"] },
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
}
