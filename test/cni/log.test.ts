// log.ts: the structured logger of short-lived plugin processes.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isLevel, LEVELS, type Level, Logger } from "../../src/cni/log.ts";

const WRITER = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "log-writer.ts");

let tmp = "";
let n = 0;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "dockin-log-test-"));
});
after(() => {
  rmSync(tmp, { recursive: true, force: true });
});
const freshFile = () => join(tmp, `log-${++n}`, "dockin.log");

interface Line {
  time: string;
  level: Level;
  msg: string;
  [key: string]: unknown;
}
const linesOf = (file: string): Line[] =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Line)
    : [];

/** Logs one line at every level, then configures `level`; returns the messages in the file. */
function heldThenConfigured(level: Level | undefined, initial?: Level): string[] {
  const file = freshFile();
  const log = new Logger({}, { stderr: false, ...(initial ? { level: initial } : {}) });
  for (const l of LEVELS) log.log(l, `held ${l}`);
  log.configure(file, level);
  for (const l of LEVELS) log.log(l, `after ${l}`);
  return linesOf(file).map((l) => l.msg);
}

describe("levels", () => {
  it("are error, warn, info and debug", () => {
    assert.deepEqual([...LEVELS], ["error", "warn", "info", "debug"]);
    for (const l of LEVELS) assert.ok(isLevel(l));
    for (const l of ["INFO", "verbose", "", undefined, 1]) assert.equal(isLevel(l), false);
  });
  const written: Record<Level, Level[]> = {
    error: ["error"],
    warn: ["error", "warn"],
    info: ["error", "warn", "info"],
    debug: ["error", "warn", "info", "debug"],
  };
  for (const level of LEVELS) {
    it(`"${level}" writes ${written[level].join(", ")}, held lines and later ones alike`, () => {
      assert.deepEqual(heldThenConfigured(level), [
        ...written[level].map((l) => `held ${l}`),
        ...written[level].map((l) => `after ${l}`),
      ]);
    });
  }
  it("without a level in the config the constructor's level holds (info by default)", () => {
    assert.deepEqual(heldThenConfigured(undefined), [
      "held error",
      "held warn",
      "held info",
      "after error",
      "after warn",
      "after info",
    ]);
    assert.deepEqual(heldThenConfigured(undefined, "error"), ["held error", "after error"]);
  });
});

describe("lines held before configure()", () => {
  it("are written, in order, once the file is named", () => {
    const file = freshFile();
    const log = new Logger({}, { stderr: false });
    log.info("one");
    log.warn("two");
    assert.equal(existsSync(file), false, "nothing is written before the file is known");
    log.configure(file, "debug");
    log.debug("three");
    assert.deepEqual(
      linesOf(file).map((l) => l.msg),
      ["one", "two", "three"],
    );
  });
  it("are dropped, without error, when the config names no file", () => {
    const log = new Logger({}, { stderr: false });
    log.error("nowhere");
    log.configure(undefined, "debug");
    log.configure("", "debug");
    log.info("still nowhere");
  });
});

describe("line format", () => {
  it("is one JSON object per line with time, level, msg, context and fields", () => {
    const file = freshFile();
    const log = new Logger({ plugin: "dockin-cni" }, { stderr: false });
    log.configure(file, "info");
    log.with({ containerId: "ctr1" });
    log.info("attached", { network: "net1", ms: 12 });
    const [line] = linesOf(file);
    assert.ok(line);
    assert.deepEqual(Object.keys(line), ["time", "level", "msg", "plugin", "containerId", "network", "ms"]);
    assert.ok(!Number.isNaN(Date.parse(line.time)));
    assert.equal(line.level, "info");
    assert.equal(line.msg, "attached");
    assert.equal(line.network, "net1");
  });
  it("fields cannot overwrite time, level or msg", () => {
    const file = freshFile();
    const log = new Logger({ level: "context" }, { stderr: false });
    log.configure(file, "info");
    log.info("real message", { msg: "forged", level: "error", time: "never" });
    const [line] = linesOf(file);
    assert.equal(line?.msg, "real message");
    assert.equal(line?.level, "info");
    assert.notEqual(line?.time, "never");
  });
  it("prints an Error field with its message and causes, not as {}", () => {
    const file = freshFile();
    const log = new Logger({}, { stderr: false });
    log.configure(file, "info");
    log.error("attach failed", { error: new Error("bridge ADD failed", { cause: new Error("EEXIST") }) });
    assert.equal(linesOf(file)[0]?.error, "bridge ADD failed: EEXIST");
  });
  it("makes the log directory when it does not exist", () => {
    const file = join(tmp, "deep", "er", "dockin.log");
    const log = new Logger({}, { stderr: false });
    log.configure(file, "info");
    log.info("hello");
    assert.equal(linesOf(file)[0]?.msg, "hello");
  });
});

describe("a sink instead of a file", () => {
  it("gets every line at or above the level at once, in the same format; nothing is held back", () => {
    const lines: string[] = [];
    const log = new Logger({ component: "rm" }, { level: "info", stderr: false, sink: (l) => lines.push(l) });
    log.debug("hidden");
    log.info("served", { msg: "not this", status: 200 });
    log.error("failed", { error: new Error("outer", { cause: new Error("inner") }) });
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => l.endsWith("\n")));
    const [served, failed] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(served?.msg, "served");
    assert.equal(served?.level, "info");
    assert.equal(served?.component, "rm");
    assert.equal(served?.status, 200);
    assert.equal(failed?.error, "outer: inner");
  });
});

describe("rotation", () => {
  it("keeps the file within maxBytes, moving it to .1 before a line would pass the bound", () => {
    const file = freshFile();
    const maxBytes = 2000;
    const log = new Logger({}, { stderr: false, maxBytes });
    log.configure(file, "info");
    const written: string[] = [];
    for (let i = 0; i < 30; i++) {
      const msg = `line ${i} ${"x".repeat(50)}`;
      log.info(msg);
      written.push(msg);
      assert.ok(statSync(file).size <= maxBytes, `after line ${i}: ${statSync(file).size} bytes`);
    }
    assert.ok(existsSync(`${file}.1`), "rotated at least once");
    assert.ok(statSync(`${file}.1`).size <= maxBytes);
    const current = linesOf(file).map((l) => l.msg);
    // The newest line is in the current file, and the file and .1 hold the latest lines in order.
    assert.equal(current.at(-1), written.at(-1));
    const kept = [...linesOf(`${file}.1`).map((l) => l.msg), ...current];
    assert.deepEqual(kept, written.slice(written.length - kept.length));
  });
  it("a file that does not reach maxBytes is not rotated", () => {
    const file = freshFile();
    const log = new Logger({}, { stderr: false, maxBytes: 1_000_000 });
    log.configure(file, "info");
    for (let i = 0; i < 20; i++) log.info(`line ${i}`);
    assert.equal(existsSync(`${file}.1`), false);
    assert.equal(linesOf(file).length, 20);
  });
});

describe("rotation across processes", () => {
  const FLOOD = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "log-flood.ts");
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const until = async (what: () => boolean) => {
    while (!what()) await sleep(20);
  };
  /** A writer process waiting at `go` before it logs `count` lines (`<id> <i>`). */
  const flood = async (file: string, maxBytes: number, count: number, id: string, go: string) => {
    const child = spawn(process.execPath, [FLOOD, file, String(maxBytes), String(count), id, go], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exited = new Promise<number | null>((r) => child.on("close", r));
    await until(() => existsSync(`${go}.${id}.ready`) || child.exitCode !== null);
    return { child, exited };
  };
  const allLines = (file: string): string[] => [...linesOf(`${file}.1`), ...linesOf(file)].map((l) => l.msg);

  it("keeps every line when several processes write past maxBytes at once (one rotation due)", async () => {
    // Four writers, about 1.6 times maxBytes in all: exactly one rotation is due, so the file and
    // .1 must hold every line, once, each writer's in its order.
    for (let round = 0; round < 2; round++) {
      const file = freshFile();
      mkdirSync(dirname(file), { recursive: true });
      const go = join(dirname(file), "go");
      const writers = ["w0", "w1", "w2", "w3"];
      const count = 300;
      const maxBytes = 100_000;
      const procs = await Promise.all(writers.map((id) => flood(file, maxBytes, count, id, go)));
      writeFileSync(go, "");
      assert.deepEqual(await Promise.all(procs.map((p) => p.exited)), [0, 0, 0, 0]);
      const size = statSync(file).size + statSync(`${file}.1`).size;
      assert.ok(size > maxBytes && size < 2 * maxBytes, `round ${round}: ${size} bytes in all`);
      const lines = allLines(file);
      assert.equal(new Set(lines).size, lines.length, `round ${round}: a line written twice`);
      const want = writers.flatMap((id) => Array.from({ length: count }, (_, i) => `${id} ${i}`));
      const seen = new Set(lines);
      const missing = want.filter((l) => !seen.has(l));
      assert.deepEqual(missing, [], `round ${round}: ${missing.length} lines lost`);
      for (const id of writers) {
        const mine = lines.filter((l) => l.startsWith(`${id} `)).map((l) => Number(l.split(" ")[1]));
        assert.deepEqual(
          mine,
          [...mine].sort((a, b) => a - b),
          `round ${round}: ${id} out of order`,
        );
      }
    }
  });

  it("a rotation held up between its check and its rename loses nothing another process wrote meanwhile", async () => {
    // The race made certain: strace holds writer A at the entry of its rotation's rename (the
    // syscall itself, nothing of ours), another process writes past maxBytes meanwhile, then
    // strace lets A go. Before the fix, A's rename moved the file the other one had just started
    // over onto .1, and every line of the old file was gone.
    assert.ok(existsSync("/usr/bin/strace"), "strace not found: install Debian's strace (./dev setup)");
    const file = freshFile();
    mkdirSync(dirname(file), { recursive: true });
    const pre = new Logger({}, { stderr: false, maxBytes: 1_000_000 });
    pre.configure(file, "info");
    for (let i = 0; i < 50; i++) pre.info(`pre ${i}`);
    const maxBytes = statSync(file).size + 10;
    const go = join(dirname(file), "go");
    const trace = join(dirname(file), "trace");
    const a = await flood(file, maxBytes, 1, "A", go);
    const strace = spawn(
      "/usr/bin/strace",
      [
        "-qq",
        ...["-p", String(a.child.pid), "-o", trace],
        ...["-e", "trace=rename,renameat,renameat2"],
        ...["-e", "inject=rename,renameat,renameat2:delay_enter=300s"],
      ],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    const straceDone = new Promise<void>((r) => strace.on("close", () => r()));
    try {
      const tracer = () =>
        /^TracerPid:\s*(\d+)/m.exec(readFileSync(`/proc/${a.child.pid}/status`, "utf8"))?.[1];
      await until(() => strace.exitCode !== null || (tracer() ?? "0") !== "0");
      assert.equal(strace.exitCode, null, "strace attached to the writer");
      writeFileSync(go, "");
      await until(() => existsSync(trace) && readFileSync(trace, "utf8").includes(`rename("${file}"`));
      const b = spawnSync(
        process.execPath,
        [
          WRITER,
          JSON.stringify([
            [["configure", file, "info"], ...Array.from({ length: 20 }, (_, i) => ["info", `B ${i}`])],
            { stderr: false, maxBytes },
          ]),
        ],
        { encoding: "utf8" },
      );
      assert.equal(b.status, 0, b.stderr);
    } finally {
      strace.kill("SIGTERM"); // detaches: A's rename goes ahead now
      await straceDone;
    }
    assert.equal(await a.exited, 0);
    const want = [
      ...Array.from({ length: 50 }, (_, i) => `pre ${i}`),
      ...Array.from({ length: 20 }, (_, i) => `B ${i}`),
      "A 0",
    ];
    assert.deepEqual(allLines(file).sort(), want.sort());
  });
});

describe("in a real process", () => {
  const runWriter = (steps: unknown[][], options?: Record<string, unknown>) =>
    spawnSync(process.execPath, [WRITER, JSON.stringify([steps, options])], { encoding: "utf8" });

  it("errors and warnings go to stderr at once, info and debug never; nothing goes to stdout", () => {
    const file = freshFile();
    const p = runWriter([
      ["error", "early error"],
      ["info", "early info"],
      ["configure", file, "debug"],
      ["warn", "late warn"],
      ["debug", "late debug"],
      ["info", "late info"],
    ]);
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stdout, "");
    const stderr = p.stderr
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Line);
    assert.deepEqual(
      stderr.map((l) => [l.level, l.msg]),
      [
        ["error", "early error"],
        ["warn", "late warn"],
      ],
    );
    assert.equal(stderr[0]?.plugin, "log-writer");
    assert.deepEqual(
      linesOf(file).map((l) => l.msg),
      ["early error", "early info", "late warn", "late debug", "late info"],
    );
  });
  it("with stderr off, errors only go to the file", () => {
    const file = freshFile();
    const p = runWriter(
      [
        ["configure", file, "info"],
        ["error", "quiet error"],
      ],
      { stderr: false },
    );
    assert.equal(p.stdout, "");
    assert.equal(p.stderr, "");
    assert.equal(linesOf(file)[0]?.msg, "quiet error");
  });
  it("a log file that cannot be written is reported on stderr; the process goes on", () => {
    const dir = join(tmp, `unwritable-${++n}`);
    mkdirSync(dir);
    // The log "file" is a directory: opening it for append fails.
    const p = runWriter([
      ["configure", dir, "info"],
      ["info", "lost line"],
    ]);
    assert.equal(p.status, 0);
    assert.equal(p.stdout, "");
    assert.match(p.stderr, new RegExp(`cannot write log file ${dir}`));
  });
});
