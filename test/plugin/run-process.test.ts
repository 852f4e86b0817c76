// runProcess (src/cni/exec.ts), which runs the delegates and `ip` through the runtime's spawn:
// stdin given, stdout and stderr read through pipes, no descriptor left behind, a deadline that
// holds even when a descendant keeps the pipes open.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

describe("runProcess()", () => {
  it("delivers stdin and returns stdout, stderr and the status", async () => {
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
  it("copes with a process that exits without reading a large stdin", async () => {
    const out = await runProcess("/bin/true", [], opts({ input: "x".repeat(2 * 1024 * 1024) }));
    assert.equal(out.code, 0);
    assert.equal(out.stdout, "");
  });
  it("leaves no open descriptor, after success and after a failed start", async () => {
    await runProcess(script, ["0"], opts()); // the runtime's first spawn opens what it keeps
    const before = openFds();
    for (let i = 0; i < 10; i++) {
      await runProcess(script, ["0"], opts());
      await assert.rejects(runProcess(join(work, "no-such-plugin"), [], opts()), /ENOENT/);
    }
    await new Promise((r) => setTimeout(r, 50)); // pipes are closed on a later turn
    // Bun gives stdin through a memfd that it closes when the process object is collected.
    Bun.gc(true);
    // No more than before: Bun may close a descriptor of its own meanwhile, never ours.
    assert.ok(openFds() <= before, `descriptors ${before} -> ${openFds()}`);
  });
  it("kills a process past the deadline and says so", async () => {
    const started = Date.now();
    const out = await runProcess("/bin/sleep", ["30"], opts({ timeoutMs: 300 }));
    assert.equal(out.timedOut, true);
    assert.equal(out.signal, "SIGKILL");
    assert.ok(Date.now() - started < 10_000, "returned soon after the deadline");
  });
  it("returns once the process has exited, though a descendant that left its group holds the pipes", async () => {
    // setsid: the descendant leaves the process group, so the kill at the deadline misses it too.
    const pidFile = join(work, "escaped.pid");
    const out = await runProcess(
      "/bin/sh",
      ["-c", `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 30' & echo started`],
      opts({ timeoutMs: 60_000 }),
    );
    try {
      assert.equal(out.code, 0);
      assert.equal(out.stdout, "started\n");
      assert.equal(out.timedOut, false);
    } finally {
      for (let i = 0; i < 50 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 20));
      process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
    }
  });
});

describe("runProcess() with an input still to come", () => {
  it("starts the process at once, gives it the input when it comes, and times it from then", async () => {
    let give: (text: string) => void = () => {};
    const input = new Promise<string>((r) => {
      give = r;
    });
    const started = Date.now();
    const run = runProcess(script, ["0"], opts({ input, timeoutMs: 300 }));
    await new Promise((r) => setTimeout(r, 600)); // longer than the deadline: it has not begun
    give("late input");
    const out = await run;
    assert.equal(out.timedOut, false);
    assert.equal(out.code, 0);
    assert.deepEqual(JSON.parse(out.stdout), { len: 10, head: "late " });
    assert.ok(Date.now() - started >= 600);
  });
  it("an input that fails closes stdin empty", async () => {
    const input = Promise.reject(new Error("no input after all"));
    const out = await runProcess(script, ["0"], opts({ input }));
    assert.equal(out.code, 0);
    assert.deepEqual(JSON.parse(out.stdout), { len: 0, head: "" });
  });
  it("a process that exits before its input comes is done, and the input is not waited for", async () => {
    const input = new Promise<string>(() => {}); // never comes
    const out = await runProcess("/bin/sh", ["-c", "exit 4"], opts({ input, timeoutMs: 200 }));
    assert.equal(out.code, 4);
    assert.equal(out.timedOut, false);
  });
});
