// exec.ts with real executables: test/fixtures/fake-plugin, scripted through its config.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CniError, ErrorCode } from "../../src/cni/errors.ts";
import { type DelegateEnv, type ExecOptions, execPlugin, findPlugin } from "../../src/cni/exec.ts";

const FAKE = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "fake-plugin");

let tmp = "";
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "dockin-exec-test-"));
});
after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Asserts that `promise` rejects with a CniError of `code` whose message matches `msg`. */
async function rejectsCni(promise: Promise<unknown>, code: number, msg?: RegExp): Promise<CniError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof CniError, `expected a CniError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (msg) assert.match(err.message, msg);
    return err;
  }
  assert.fail("expected a rejection");
}

function throwsCni(fn: () => unknown, code: number, msg?: RegExp): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof CniError && e.code === code && (msg === undefined || msg.test(e.message)),
  );
}

describe("findPlugin()", () => {
  let a = "";
  let b = "";
  let c = "";
  before(() => {
    [a, b, c] = ["a", "b", "c"].map((d) => {
      const dir = join(tmp, "find", d);
      mkdirSync(dir, { recursive: true });
      return dir;
    }) as [string, string, string];
    for (const dir of [a, b]) copyFileSync(FAKE, join(dir, "both"));
    copyFileSync(FAKE, join(b, "only-b"));
    // in a: not executable; in b: executable
    writeFileSync(join(a, "noexec"), "#!/bin/sh\n");
    chmodSync(join(a, "noexec"), 0o644);
    copyFileSync(FAKE, join(b, "noexec"));
    // in a: a directory of that name; in c: the plugin
    mkdirSync(join(a, "isdir"));
    copyFileSync(FAKE, join(c, "isdir"));
    symlinkSync(FAKE, join(c, "linked"));
  });

  const cases: [string, string, () => string[], () => string][] = [
    ["takes the first directory that has it", "both", () => [a, b], () => join(a, "both")],
    ["follows the order given", "both", () => [b, a], () => join(b, "both")],
    ["looks further down the list", "only-b", () => [a, c, b], () => join(b, "only-b")],
    ["skips a file that is not executable", "noexec", () => [a, b], () => join(b, "noexec")],
    ["skips a directory of the same name", "isdir", () => [a, c], () => join(c, "isdir")],
    ["accepts a symlink to an executable", "linked", () => [c], () => join(c, "linked")],
    ["skips directories that do not exist", "both", () => [join(tmp, "nope"), b], () => join(b, "both")],
  ];
  for (const [why, type, dirs, expected] of cases) {
    it(why, () => assert.equal(findPlugin(type, dirs()), expected()));
  }
  it("a plugin found nowhere is error 50 naming the plugin and every directory", () => {
    throwsCni(() => findPlugin("bridge", [a, b]), 50, new RegExp(`"bridge" in path \\[${a} ${b}\\]`));
  });
  it("an empty search path is error 50", () => throwsCni(() => findPlugin("bridge", []), 50, /"bridge"/));
  for (const type of ["", ".", "..", "../bridge", "/usr/lib/cni/bridge", "a/b", "a b", "-x", "bridge;rm"]) {
    it(`a plugin type ${JSON.stringify(type)} is error 7`, () =>
      throwsCni(() => findPlugin(type, [a, b]), 7, /plugin type/));
  }
});

const ENV: DelegateEnv = {
  command: "ADD",
  containerId: "ctr1",
  netns: "/var/run/netns/ctr1",
  ifName: "eth1",
  args: "IgnoreUnknown=1;K8S_POD_NAME=p",
  path: ["/opt/cni/bin", "/usr/lib/cni"],
};

const run = (fake: Record<string, unknown>, options: Partial<Omit<ExecOptions, "stdin">> = {}) =>
  execPlugin({
    file: FAKE,
    env: ENV,
    timeoutMs: 20_000,
    ...options,
    stdin: { cniVersion: "1.0.0", name: "net1", type: "fake", fake },
  });

describe("execPlugin(): what the delegate gets", () => {
  it("an explicit environment: PATH and the CNI variables, nothing else of ours", async () => {
    const record = join(tmp, "record-env.json");
    process.env.DOCKIN_EXEC_TEST_SECRET = "must not leak";
    process.env.CNI_NETNS_OVERRIDE = "1";
    try {
      await run({ record });
    } finally {
      delete process.env.DOCKIN_EXEC_TEST_SECRET;
      delete process.env.CNI_NETNS_OVERRIDE;
    }
    const { env } = JSON.parse(readFileSync(record, "utf8"));
    assert.deepEqual(env, {
      PATH: process.env.PATH,
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "ctr1",
      CNI_NETNS: "/var/run/netns/ctr1",
      CNI_IFNAME: "eth1",
      CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=p",
      CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
    });
  });
  it("adds the variables of `extraEnv` (what the delegate passes on to its own delegates)", async () => {
    const record = join(tmp, "record-extra.json");
    await run({ record }, { extraEnv: { BUN_JSC_useJIT: "0" } });
    const { env } = JSON.parse(readFileSync(record, "utf8"));
    assert.equal(env.BUN_JSC_useJIT, "0");
    assert.equal(env.CNI_COMMAND, "ADD");
  });
  it("leaves unset what the delegate env does not give (STATUS)", async () => {
    const record = join(tmp, "record-status.json");
    await run({ record }, { env: { command: "STATUS", path: ["/opt/cni/bin"] } });
    const { env } = JSON.parse(readFileSync(record, "utf8"));
    assert.deepEqual(Object.keys(env).sort(), ["CNI_COMMAND", "CNI_PATH", "PATH"]);
    assert.equal(env.CNI_COMMAND, "STATUS");
  });
  it("passes on the variables named in `inherit` instead of PATH", async () => {
    const record = join(tmp, "record-inherit.json");
    await run({ record }, { inherit: ["PATH", "HOME", "DOCKIN_NOT_SET_ANYWHERE"] });
    const { env } = JSON.parse(readFileSync(record, "utf8"));
    assert.equal(env.HOME, process.env.HOME);
    assert.equal("DOCKIN_NOT_SET_ANYWHERE" in env, false);
  });
  it("delivers the config as JSON on stdin", async () => {
    const record = join(tmp, "record-stdin.json");
    const config = {
      cniVersion: "1.0.0",
      name: "net1",
      type: "bridge",
      ipam: { type: "dockin-ipam" },
      fake: { record },
    };
    await execPlugin({ file: FAKE, env: ENV, stdin: config, timeoutMs: 20_000 });
    assert.deepEqual(JSON.parse(JSON.parse(readFileSync(record, "utf8")).stdin), config);
  });
  it("delivers a string config as it is", async () => {
    const record = join(tmp, "record-raw.json");
    const text = `{ "cniVersion": "1.0.0",\n  "fake": { "record": ${JSON.stringify(record)} } }`;
    await execPlugin({ file: FAKE, env: ENV, stdin: text, timeoutMs: 20_000 });
    assert.equal(JSON.parse(readFileSync(record, "utf8")).stdin, text);
  });
  it("copes with a delegate that exits without reading a large stdin", async () => {
    const quick = join(tmp, "quick");
    writeFileSync(quick, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const big = { cniVersion: "1.0.0", pad: "x".repeat(4 * 1024 * 1024) };
    assert.equal(await execPlugin({ file: quick, env: ENV, stdin: big, timeoutMs: 20_000 }), undefined);
  });
});

describe("execPlugin(): what the delegate answers", () => {
  const result = { cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24" }], dns: {} };
  it("a result is parsed and returned", async () => assert.deepEqual(await run({ stdout: result }), result));
  it("no output (as from DEL) is undefined", async () => assert.equal(await run({}), undefined));
  it("stderr beside a result does not matter", async () =>
    assert.deepEqual(await run({ stdout: result, stderr: "a log line\n" }), result));

  const failures: [string, Record<string, unknown>, number, RegExp][] = [
    [
      "an error object passes its code and message through",
      { stdout: { cniVersion: "1.0.0", code: 11, msg: "IPAM busy" }, exit: 1 },
      11,
      /^fake-plugin ADD failed: IPAM busy$/,
    ],
    [
      "an error object's details are added to the message",
      { stdout: { code: 7, msg: "invalid config", details: "ipam.addresses[0]" }, stderr: "noise", exit: 1 },
      7,
      /^fake-plugin ADD failed: invalid config; ipam\.addresses\[0\]$/,
    ],
    [
      "a plugin's own code (above 100) passes through",
      { stdout: { code: 142, msg: "own failure" }, exit: 1 },
      142,
      /own failure/,
    ],
    [
      "a non-zero exit with only stderr is error 100 with the stderr text",
      { stderr: "panic: something broke\n", exit: 2 },
      100,
      /^fake-plugin ADD failed: panic: something broke$/,
    ],
    [
      "a non-zero exit with no output at all says the status",
      { exit: 3 },
      100,
      /^fake-plugin ADD failed: exited with status 3$/,
    ],
    [
      "non-JSON output with a non-zero exit is error 100 with that output",
      { stdout: "Segmentation fault", exit: 139 },
      100,
      /Segmentation fault/,
    ],
    [
      "non-JSON output with exit 0 is a decode error (6)",
      { stdout: "this is not JSON" },
      6,
      /fake-plugin ADD printed output that is not JSON: this is not JSON/,
    ],
  ];
  for (const [why, fake, code, msg] of failures) {
    it(why, async () => {
      await rejectsCni(run(fake), code, msg);
    });
  }
  it("keeps the delegate's stderr in the details", async () => {
    const err = await rejectsCni(
      run({ stdout: { code: 11, msg: "busy" }, stderr: "retry later\n", exit: 1 }),
      11,
    );
    assert.equal(err.details, "retry later");
  });
  it("a file that cannot run is error 50", async () => {
    const notExec = join(tmp, "not-exec");
    writeFileSync(notExec, "#!/bin/sh\n", { mode: 0o644 });
    await rejectsCni(run({}, { file: notExec }), 50, /EACCES/);
    await rejectsCni(run({}, { file: join(tmp, "missing") }), 50, /ENOENT/);
  });
});

/**
 * Another process that holds `file` open for writing, as `cp` does while it replaces a plugin in
 * place: exec of the file fails with ETXTBSY until `release()` lets the holder close it and exit.
 */
async function holdOpenForWriting(file: string): Promise<{ release: () => Promise<void> }> {
  const holder = spawn("sh", ["-c", 'exec 3>>"$0"; echo held; read line', file], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((r) => holder.once("exit", () => r()));
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once("data", () => resolve());
    holder.once("error", reject);
    holder.once("exit", () => reject(new Error("the holder exited before it held the file")));
  });
  return {
    release: async () => {
      holder.stdin.end("\n");
      await exited;
    },
  };
}

describe("execPlugin(): a delegate being replaced in place (ETXTBSY)", () => {
  it("is retried until the writer has closed it, as libcni does", async () => {
    const file = join(tmp, "busy-then-free");
    writeFileSync(file, `#!/bin/sh\necho '{"replaced":true}'\n`, { mode: 0o755 });
    const held = await holdOpenForWriting(file);
    try {
      const running = execPlugin({ file, env: ENV, stdin: {}, timeoutMs: 20_000 });
      // Let go while execPlugin is retrying: without a retry it has already failed by now.
      setTimeout(() => void held.release(), 300);
      assert.deepEqual(await running, { replaced: true });
    } finally {
      await held.release();
    }
  });
  it("gives up after a bounded wait with error 50 naming the cause", async () => {
    const file = join(tmp, "busy-for-good");
    writeFileSync(file, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const held = await holdOpenForWriting(file);
    try {
      await rejectsCni(
        execPlugin({ file, env: ENV, stdin: {}, timeoutMs: 1000 }),
        50,
        /ETXTBSY: the file was still open for writing after \d+ ms/,
      );
    } finally {
      await held.release();
    }
  });
});

/** Whether a process still runs (a zombie waiting for its reaper counts as gone). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

describe("execPlugin(): a runaway delegate", () => {
  it("is killed once it has written 64 MiB, well before its deadline, and reported", async () => {
    const started = Date.now();
    await assert.rejects(run({ flood: true }, { timeoutMs: 120_000 }), (err: unknown) => {
      assert.ok(err instanceof CniError);
      assert.equal(err.code, ErrorCode.DelegateFailed);
      assert.match(err.message, /wrote more than 64 MiB of output and was killed/);
      return true;
    });
    assert.ok(Date.now() - started < 60_000, "killed long before the deadline");
  });
});

describe("execPlugin(): the deadline", () => {
  it("kills a delegate past the deadline, with what it started, and reports error 11", async () => {
    const pidFile = join(tmp, "pids.json");
    const started = Date.now();
    let pids: { pid: number; childPid: number } | undefined;
    try {
      await rejectsCni(
        run({ child: true, pidFile, sleepMs: 600_000 }, { timeoutMs: 2000 }),
        11,
        /^fake-plugin ADD did not finish within 2000 ms and was killed$/,
      );
      assert.ok(Date.now() - started < 15_000, "rejected soon after the deadline");
      assert.ok(existsSync(pidFile), "the fixture started before the deadline");
      pids = JSON.parse(readFileSync(pidFile, "utf8"));
      assert.ok(pids);
      // SIGKILL is delivered at once; give the kernel a moment to finish the processes.
      for (let i = 0; i < 50 && (running(pids.pid) || running(pids.childPid)); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(running(pids.pid), false, "the delegate is gone");
      assert.equal(running(pids.childPid), false, "the process it started is gone");
    } finally {
      for (const pid of [pids?.pid, pids?.childPid]) {
        if (pid !== undefined && running(pid)) process.kill(pid, "SIGKILL");
      }
    }
  });
  it("a delegate that finishes in time is not disturbed", async () => {
    assert.deepEqual(await run({ sleepMs: 50, stdout: { ok: true } }, { timeoutMs: 15_000 }), { ok: true });
  });
});
