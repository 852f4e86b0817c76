// The plugins' V8 code caches (scripts/code-cache.ts, scripts/build.ts): V8 takes them, they hold
// what the training run compiled (not only the top level), a cache V8 refuses costs nothing but
// time, and a training run that fails fails the build.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { Script } from "node:vm";
import { trainedCodeCache } from "../../scripts/code-cache.ts";

const root = resolve(import.meta.dirname, "..", "..");
const PLUGINS = ["dockin-cni", "dockin-ipam"] as const;

function version(file: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(file, [], {
    env: { PATH: process.env.PATH, CNI_COMMAND: "VERSION", DOCKIN_CODE_CACHE_DEBUG: "1" },
    input: '{"cniVersion":"1.0.0"}',
    encoding: "utf8",
  });
}

describe("dist/bin's executables run from V8 code caches, the plugins' trained", () => {
  for (const name of PLUGINS) {
    test(`${name}: V8 takes the cache`, () => {
      const r = version(join(root, "dist", "bin", name));
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /supportedVersions/);
      assert.equal(r.stderr, `${name}: code cache accepted\n`);
    });

    test(`${name}: the cache holds the functions the training ran, not only the top level`, () => {
      const js = join(root, "dist", "lib", `${name}.js`);
      const topLevel = new Script(readFileSync(js, "utf8"), { filename: js }).createCachedData().length;
      const trained = readFileSync(join(root, "dist", "lib", `${name}.cache`)).length;
      assert.ok(trained > 1.5 * topLevel, `trained ${trained} bytes, top level alone ${topLevel} bytes`);
    });

    test(`${name}: a cache V8 refuses (another build's) is compiled as usual`, (ctx) => {
      const dir = mkdtempSync(join(tmpdir(), "dk-cache-"));
      ctx.after(() => rmSync(dir, { recursive: true, force: true }));
      const lib = join(root, "dist", "lib");
      copyFileSync(join(lib, `${name}.js`), join(dir, `${name}.js`));
      const other = PLUGINS.find((p) => p !== name)!;
      copyFileSync(join(lib, `${other}.cache`), join(dir, `${name}.cache`));
      const loader = readFileSync(join(root, "dist", "bin", name), "utf8").replaceAll(lib, dir);
      writeFileSync(join(dir, name), loader, { mode: 0o755 });
      const r = version(join(dir, name));
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /supportedVersions/);
      assert.equal(r.stderr, `${name}: code cache rejected\n`);

      rmSync(join(dir, `${name}.cache`));
      const absent = version(join(dir, name));
      assert.equal(absent.status, 0, absent.stderr);
      assert.equal(absent.stderr, `${name}: code cache absent\n`);
    });
  }

  test("dist/bin/dockin (the CLI) runs from the cache of its top-level code", () => {
    const r = spawnSync(join(root, "dist", "bin", "dockin"), ["--help"], {
      env: { PATH: process.env.PATH, DOCKIN_CODE_CACHE_DEBUG: "1" },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^usage: dockin/);
    assert.equal(r.stderr, "dockin: code cache accepted\n");
  });

  test("each runs the same under a package.json that makes it an ES module", (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), "dk-esm-"));
    ctx.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
    for (const name of [...PLUGINS, "dockin"]) {
      copyFileSync(join(root, "dist", "bin", name), join(dir, name));
      const r =
        name === "dockin"
          ? spawnSync(join(dir, name), ["--help"], { encoding: "utf8" })
          : version(join(dir, name));
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, name === "dockin" ? /^usage: dockin/ : /supportedVersions/);
    }
  });

  test("a training run that fails fails the build, with the plugin's output", async () => {
    await assert.rejects(
      trainedCodeCache(
        "dockin-ipam",
        '(function (exports, require) { require("node:fs").writeSync(2, "broken\\n"); process.exitCode = 3; })',
      ),
      /code cache training: ADD exited 3; the training run must succeed:\nbroken/,
    );
  });
});
