// runProcess (src/cni/exec.ts), which runs the delegates and `ip`: its stdin, stdout and stderr
// are unlinked temp files, or pipes when the temp directory cannot take them. Both ways must give
// the same outcome and leave no file and no descriptor behind.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type RunOptions, runProcess } from "../../src/cni/exec.ts";

let work = "";
let script = "";
before(() => {
  work = mkdtempSync(join(tmpdir(), "dockin-run-process-"));
  script = join(work, "plugin.sh");
  // Reads its stdin, prints its length and first bytes, says something on stderr, exits with $1.
  writeFileSync(
    script,
    [
      "#!/bin/sh",
      "in=$(cat)",
      `printf '{"len":%d,"head":"%.5s"}' "$(printf %s "$in" | wc -c)" "$in"`,
      "echo 'to stderr' >&2",
      'exit "$1"',
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
});
after(() => rmSync(work, { recursive: true, force: true }));

const openFds = () => readdirSync("/proc/self/fd").length;
const opts = (over: Partial<RunOptions> = {}): RunOptions => ({
  env: { PATH: "/usr/bin:/bin" },
  input: "hello world",
  timeoutMs: 20_000,
  group: true,
  ...over,
});

/** Runs `fn` with TMPDIR set to `dir` (os.tmpdir() reads it at each call). */
async function withTmpdir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

const modes: [string, () => string, boolean][] = [
  ["temp files", () => work, true],
  ["pipes (temp directory missing)", () => join(work, "missing"), false],
];

for (const [mode, dir, usesFiles] of modes) {
  describe(`runProcess() with ${mode}`, () => {
    it("delivers stdin and returns stdout, stderr and the status", async () => {
      await withTmpdir(dir(), async () => {
        const ok = await runProcess(script, ["0"], opts());
        assert.deepEqual(ok, {
          code: 0,
          signal: null,
          stdout: '{"len":11,"head":"hello"}',
          stderr: "to stderr\n",
          timedOut: false,
        });
        const failed = await runProcess(script, ["3"], opts());
        assert.equal(failed.code, 3);
        assert.equal(failed.stdout, '{"len":11,"head":"hello"}');
      });
    });
    it("copes with a process that exits without reading a large stdin", async () => {
      await withTmpdir(dir(), async () => {
        const out = await runProcess("/bin/true", [], opts({ input: "x".repeat(2 * 1024 * 1024) }));
        assert.equal(out.code, 0);
        assert.equal(out.stdout, "");
      });
    });
    it("leaves no temp file and no open descriptor, after success and after a failed start", async () => {
      const own = mkdtempSync(join(work, "own-"));
      await withTmpdir(usesFiles ? own : dir(), async () => {
        const before = openFds();
        await runProcess(script, ["0"], opts());
        await assert.rejects(runProcess(join(work, "no-such-plugin"), [], opts()), /ENOENT/);
        await new Promise((r) => setTimeout(r, 50)); // pipes are closed on a later turn
        // No more than before: Bun may close a descriptor of its own meanwhile, never ours.
        assert.ok(openFds() <= before, `descriptors ${before} -> ${openFds()}`);
      });
      assert.deepEqual(readdirSync(own), []);
    });
    it("kills a process past the deadline and says so", async () => {
      await withTmpdir(dir(), async () => {
        const started = Date.now();
        const out = await runProcess("/bin/sleep", ["30"], opts({ timeoutMs: 300 }));
        assert.equal(out.timedOut, true);
        assert.equal(out.signal, "SIGKILL");
        assert.ok(Date.now() - started < 10_000, "returned soon after the deadline");
      });
    });
  });
}
