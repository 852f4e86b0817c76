// `dockin demo` is the README's main job: it must work on this machine and leave nothing behind.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, linkSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { readMarkOf } from "../../src/install/launcher.ts";

const dockin = resolve(import.meta.dirname, "..", "..", "dist", "bin", "dockin");
const leftovers = (): string[] => [
  ...execFileSync("ip", ["-o", "link"], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.includes("dkdemo")),
  ...execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.includes("dkdemo")),
  ...readdirSync(tmpdir()).filter((f) => f.startsWith("dkdemo-")),
];

test("dockin demo attaches two pods to two networks, pings over both, and leaves nothing behind", (ctx) => {
  assert.deepEqual(leftovers(), [], "leftovers from an earlier run");
  // Run from a directory of its own (hard links to the build), so that the launcher's read mark
  // (src/install/launcher.ts) is this run's alone: the demo removes it with the rest.
  const bin = mkdtempSync(join(tmpdir(), "dockin-demo-bin-"));
  ctx.after(() => rmSync(bin, { recursive: true, force: true }));
  for (const name of ["dockin", "dockin-ipam"]) linkSync(dockin, join(bin, name));
  copyFileSync(join(dirname(dockin), "dockin-cni"), join(bin, "dockin-cni"));
  const run = spawnSync(join(bin, "dockin"), ["demo"], { encoding: "utf8", timeout: 180_000 });
  assert.equal(run.status, 0, `dockin demo failed:\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /reply received[\s\S]*reply received/);
  assert.match(
    run.stdout,
    /\[4\] Creating a policy: pods in namespace 'demo' whose names start with 'web-' get both networks/,
  );
  assert.match(
    run.stdout,
    /the bridge plugin turns on IPv4 forwarding: net\.ipv4\.ip_forward is (on already|off now)/,
  );
  assert.match(run.stdout, /^ {4}addresses +eth0\S* +UP +10\.250\.1\.\d+\/24/m);
  assert.match(run.stdout, /^ {4}routes +default via 10\.250\.1\.1 dev eth0/m);
  assert.doesNotMatch(run.stdout, /-br addr/);
  assert.match(
    run.stdout,
    /The RM's console was at http:\/\/127\.0\.0\.1:\d+\/ui\/ while the demo ran; 'dockin demo --keep'/,
  );
  assert.match(run.stdout, /the RM holds no pod now/);
  assert.match(run.stdout, /nothing left behind/);
  assert.match(run.stdout, /the launcher's read mark \S+ removed/);
  assert.equal(existsSync(readMarkOf(bin)), false);
  assert.deepEqual(leftovers(), []);
});

test("dockin demo --keep serves the RM's console with the pods attached until Ctrl-C, then cleans up", async () => {
  assert.deepEqual(leftovers(), [], "leftovers from an earlier run");
  const child = spawn(dockin, ["demo", "--keep"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`no console URL in 180 s:\n${stdout}`)), 180_000);
    child.stdout.on("data", () => {
      const m = /The RM's console .*: (http:\/\/127\.0\.0\.1:\d+\/ui\/)/.exec(stdout);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
    child.once("exit", () => reject(new Error(`the demo ended before its console was up:\n${stdout}`)));
  });
  try {
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    // The pods are still attached meanwhile: the RM holds them.
    const pods = (await (await fetch(new URL("/api/v1/pods", url))).json()) as { items: unknown[] };
    assert.equal(pods.items.length, 2);
  } finally {
    child.kill("SIGINT"); // what Ctrl-C sends
  }
  assert.equal(await exited, 0, stdout);
  assert.match(stdout, /the RM holds no pod now/);
  assert.match(stdout, /nothing left behind/);
  assert.deepEqual(leftovers(), []);
});

test("dockin demo --help explains itself without doing anything", () => {
  const run = spawnSync(dockin, ["demo", "--help"], { encoding: "utf8" });
  assert.equal(run.status, 0);
  assert.match(run.stdout, /usage: dockin demo/);
  assert.deepEqual(leftovers(), []);
});
