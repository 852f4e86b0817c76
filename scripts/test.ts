// Runs every test file under test/ with Node's test runner on the pinned Node.
// Usage: npm test [-- <path-filter>...]
import { spawnSync } from "node:child_process";
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

const filters = process.argv.slice(2);
const files = collect(join(root, "test"))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)));
if (files.length === 0) {
  console.error(`test: no test file matches ${filters.join(" ")}`);
  process.exitCode = 1;
} else {
  const run = spawnSync(
    process.execPath,
    ["--test", "--test-reporter=spec", "--test-concurrency=2", ...files],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
  process.exitCode = run.status ?? 1;
}
