// setup.sh install/uninstall (a thin wrapper over `dockin install`/`uninstall`) into temp dirs,
// with the standalone executable as the installed plugins.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { before, describe, type TestContext, test } from "node:test";
import { launcherScript } from "../../src/install/launcher.ts";
import { bridgeName } from "../../src/install/netconf.ts";
import { rand } from "../plugin/harness.ts";
import {
  builtExecutable,
  readJson,
  readOnly,
  runEnv,
  setup,
  setupAsync,
  snapshot,
  type Tree,
  tempTree,
  WEBHOOK,
} from "./helpers.ts";

/** A temp tree removed when the test ends (each install holds a 120 MB executable). */
function tree(ctx: TestContext): Tree {
  const t = tempTree();
  ctx.after(() => t.cleanup());
  return t;
}

before(() => {
  builtExecutable();
});

describe("setup.sh install", () => {
  test("installs the executable as dockin-ipam and dockin-cni's launcher beside it, the main config and a bridge config per type", (ctx) => {
    const t = tree(ctx);
    const r = setup(t, ["install", WEBHOOK, "test,dockin"]);
    assert.equal(r.status, 0, r.stderr);
    const cni = statSync(join(t.binDir, "dockin-cni"));
    const ipam = statSync(join(t.binDir, "dockin-ipam"));
    assert.equal(ipam.mode & 0o777, 0o755);
    assert.ok(ipam.size > 100 * 1024 * 1024, "the standalone executable embeds Bun");
    assert.equal(cni.mode & 0o777, 0o755);
    assert.equal(readFileSync(join(t.binDir, "dockin-cni"), "utf8"), launcherScript());
    assert.match(r.stdout, /create +\S+dockin-cni .*launcher/);

    const main = readJson(join(t.cniConfDir, "00-dockin-cni.conflist"));
    assert.equal(main.cniVersion, "1.0.0");
    assert.equal(main.name, "dockin-cni");
    assert.deepEqual(main.plugins, [
      {
        type: "dockin-cni",
        capabilities: { portMappings: true, bandwidth: true },
        confDir: t.dockinConfDir,
        binDir: t.binDir,
        cacheDir: "/var/lib/cni/dockin",
        logFile: "/var/log/dockin-cni.log",
        logLevel: "info",
        backend: WEBHOOK,
        notifyUrl: "http://127.0.0.1:10002/rmController/podDetached",
      },
    ]);
    assert.deepEqual(readdirSync(t.dockinConfDir).sort(), ["dockin.json", "test.json"]);
    assert.deepEqual(readJson(join(t.dockinConfDir, "test.json")), {
      cniVersion: "1.0.0",
      name: "test",
      type: "bridge",
      bridge: "dk-test",
      isGateway: true,
      ipMasq: false,
    });
    assert.equal(readJson(join(t.dockinConfDir, "dockin.json")).bridge, "dk-dockin");
  });

  test("the cniVersion comes from the bin dir's bridge (up to 1.0.0), or from --cni-version", (ctx) => {
    const t = tree(ctx);
    mkdirSync(t.binDir, { recursive: true });
    copyFileSync("/usr/lib/cni/bridge", join(t.binDir, "bridge"));
    const r = setup(t, ["install", WEBHOOK, "test"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /configs use cniVersion 1\.0\.0: what \S+bridge speaks/);
    const other = tree(ctx);
    const pinned = setup(other, ["install", WEBHOOK, "test", "--cni-version", "0.4.0"]);
    assert.equal(pinned.status, 0, pinned.stderr);
    assert.equal(readJson(join(other.cniConfDir, "00-dockin-cni.conflist")).cniVersion, "0.4.0");
    assert.equal(readJson(join(other.dockinConfDir, "test.json")).cniVersion, "0.4.0");
    const bad = setup(other, ["install", WEBHOOK, "test", "--cni-version", "0.5.0"]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--cni-version "0\.5\.0" is not a CNI spec version/);
  });

  test("a second run changes nothing and says so", (ctx) => {
    const t = tree(ctx);
    assert.equal(setup(t, ["install", WEBHOOK, "test,dockin"]).status, 0);
    const before = snapshot(t.root);
    const r = setup(t, ["install", WEBHOOK, "test,dockin"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /nothing to change: already installed as asked/);
    assert.deepEqual(snapshot(t.root), before);
  });

  test("an edited network config is never overwritten, and a type is found by name, not file name", (ctx) => {
    const t = tree(ctx);
    mkdirSync(t.dockinConfDir, { recursive: true });
    // The seed's own sample, `// type` comment included, under a file name that is not the type's.
    const edited =
      '{\n  "cniVersion": "0.2.0",\n  "name": "test", // type\n  "type": "bridge",\n  "bridge": "br0"\n}\n';
    writeFileSync(join(t.dockinConfDir, "my-network.conf"), edited);
    const r = setup(t, ["install", WEBHOOK, "test,dockin"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /keep .*my-network\.conf .*network "test" exists/);
    assert.equal(readFileSync(join(t.dockinConfDir, "my-network.conf"), "utf8"), edited);
    assert.deepEqual(readdirSync(t.dockinConfDir).sort(), ["dockin.json", "my-network.conf"]);

    // Edit a config that install wrote: the next install keeps the edit.
    const mine = join(t.dockinConfDir, "dockin.json");
    writeFileSync(
      mine,
      '{"cniVersion":"1.0.0","name":"dockin","type":"bridge","bridge":"br9","isGateway":true}\n',
    );
    const again = setup(t, ["install", WEBHOOK, "test,dockin"]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(readJson(mine).bridge, "br9");
  });

  test("an install of the layout before the launcher (the executable as dockin-cni too) is upgraded in place", (ctx) => {
    const t = tree(ctx);
    mkdirSync(t.binDir, { recursive: true });
    copyFileSync(builtExecutable(), join(t.binDir, "dockin-cni"));
    linkSync(join(t.binDir, "dockin-cni"), join(t.binDir, "dockin-ipam"));
    const r = setup(t, ["install", WEBHOOK, "test"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /unchanged +\S+dockin-ipam/);
    assert.match(r.stdout, /update +\S+dockin-cni .*launcher/);
    assert.equal(readFileSync(join(t.binDir, "dockin-cni"), "utf8"), launcherScript());
    const v = runEnv(join(t.binDir, "dockin-cni"), [], { CNI_COMMAND: "VERSION" }, '{"cniVersion":"1.0.0"}');
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /supportedVersions/);
  });

  test("--no-launcher (a node without /bin/sh): dockin-cni is the executable itself, a hard link; switching back and forth", (ctx) => {
    const t = tree(ctx);
    const ino = (name: string) => statSync(join(t.binDir, name)).ino;
    const r = setup(t, ["install", WEBHOOK, "test", "--no-launcher"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /create +\S+dockin-cni .*hard link to dockin-ipam/);
    assert.equal(ino("dockin-cni"), ino("dockin-ipam"), "one file, two names");
    // It runs as dockin-cni by its name, with no shell in between.
    const v = runEnv(join(t.binDir, "dockin-cni"), [], { CNI_COMMAND: "VERSION" }, '{"cniVersion":"1.0.0"}');
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /supportedVersions/);

    const same = setup(t, ["install", WEBHOOK, "test", "--no-launcher"]);
    assert.equal(same.status, 0, same.stderr);
    assert.match(same.stdout, /unchanged +\S+dockin-cni .*hard link/);

    // A new executable: both names move to it together.
    const newer = join(t.root, "dockin-newer");
    copyFileSync(builtExecutable(), newer);
    writeFileSync(newer, "\n", { flag: "a" }); // another file (an ELF ignores what follows its sections)
    const up = setup(t, ["install", WEBHOOK, "test", "--no-launcher", "--from", newer]);
    assert.equal(up.status, 0, up.stderr);
    assert.match(up.stdout, /update +\S+dockin-ipam/);
    assert.match(up.stdout, /update +\S+dockin-cni .*hard link/);
    assert.equal(ino("dockin-cni"), ino("dockin-ipam"));
    assert.equal(statSync(join(t.binDir, "dockin-ipam")).size, statSync(newer).size);

    const back = setup(t, ["install", WEBHOOK, "test", "--from", newer]);
    assert.equal(back.status, 0, back.stderr);
    assert.match(back.stdout, /unchanged +\S+dockin-ipam/);
    assert.match(back.stdout, /update +\S+dockin-cni .*launcher/);
    assert.equal(readFileSync(join(t.binDir, "dockin-cni"), "utf8"), launcherScript());
    assert.equal(
      readdirSync(t.binDir).filter((f) => f.includes("dockin-tmp")).length,
      0,
      "no temp file left",
    );
  });

  test("a new webhook updates the main config only", (ctx) => {
    const t = tree(ctx);
    assert.equal(setup(t, ["install", WEBHOOK, "test"]).status, 0);
    const plugin = statSync(join(t.binDir, "dockin-ipam")).ino;
    const launcher = statSync(join(t.binDir, "dockin-cni")).ino;
    const other = "https://rm.example.test:8443/rmController/getPodMultiNetwork";
    const r = setup(t, ["install", other, "test", "--no-probe"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /update +\S+00-dockin-cni\.conflist/);
    const main = readJson(join(t.cniConfDir, "00-dockin-cni.conflist")) as { plugins: { backend: string }[] };
    assert.equal(main.plugins[0]?.backend, other);
    assert.equal(
      statSync(join(t.binDir, "dockin-ipam")).ino,
      plugin,
      "the unchanged executable is not rewritten",
    );
    assert.equal(statSync(join(t.binDir, "dockin-cni")).ino, launcher, "nor the unchanged launcher");
  });

  test("notifyUrl: NOTIFY_URL (--notify-url), else beside a Dockin RM's webhook, said in the plan; --no-notify leaves it out", (ctx) => {
    const t = tree(ctx);
    type Main = { plugins: { notifyUrl?: string }[] };
    const notifyUrl = () =>
      (readJson(join(t.cniConfDir, "00-dockin-cni.conflist")) as Main).plugins[0]?.notifyUrl;
    const notify = "http://127.0.0.1:10003/elsewhere";
    const r = setup(t, ["install", WEBHOOK, "test"], { NOTIFY_URL: notify });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(notifyUrl(), notify);
    const beside = setup(t, [
      "install",
      "http://127.0.0.1:10002/prefix/rmController/getPodMultiNetwork",
      "test",
    ]);
    assert.equal(beside.status, 0, beside.stderr);
    assert.equal(notifyUrl(), "http://127.0.0.1:10002/prefix/rmController/podDetached");
    assert.match(
      beside.stdout,
      /note: notifyUrl \S+podDetached: beside the Dockin RM's webhook, so the RM frees a detached pod's addresses \(--no-notify to leave it out\)/,
    );
    const off = setup(t, ["install", WEBHOOK, "test", "--no-notify"]);
    assert.equal(off.status, 0, off.stderr);
    assert.equal(notifyUrl(), undefined);
    assert.match(off.stdout, /note: no notifyUrl/);
    const other = setup(t, ["install", "http://127.0.0.1:10002/hook", "test"]);
    assert.equal(other.status, 0, other.stderr);
    assert.equal(notifyUrl(), undefined, "not a Dockin RM's path: no default");
  });

  test("probes the webhook and warns, without failing, when nothing answers or the path is wrong", async (ctx) => {
    const t = tree(ctx);
    const down = setup(t, ["install", "http://127.0.0.1:1/rmController/getPodMultiNetwork", "test"]);
    assert.equal(down.status, 0, down.stderr);
    assert.match(
      down.stdout,
      /^warning: nothing answers at http:\/\/127\.0\.0\.1:1\/rmController\/getPodMultiNetwork \(.*\); installed anyway/m,
    );
    const planned = setup(t, [
      "install",
      "http://127.0.0.1:1/rmController/getPodMultiNetwork",
      "test",
      "--dry-run",
    ]);
    assert.equal(planned.status, 0, planned.stderr);
    assert.match(planned.stdout, /^warning: nothing answers at .*; it would be installed anyway/m);
    const server = createServer((req, res) => {
      res.writeHead(req.url?.startsWith("/rmController/getPodMultiNetwork") ? 400 : 404);
      res.end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    ctx.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const wrong = await setupAsync(t, [
      "install",
      `http://127.0.0.1:${port}/rmControler/getPodMultiNetwork`,
      "test",
    ]);
    assert.equal(wrong.status, 0, wrong.stderr);
    assert.match(wrong.stdout, /warning: \S+ answered HTTP 404: is the path right\?/);
    const right = await setupAsync(t, [
      "install",
      `http://127.0.0.1:${port}/rmController/getPodMultiNetwork`,
      "test",
    ]);
    assert.equal(right.status, 0, right.stderr);
    assert.doesNotMatch(right.stdout, /warning/);
  });

  test("--dry-run prints the plan and changes nothing", (ctx) => {
    const t = tree(ctx);
    const r = setup(t, ["install", WEBHOOK, "test,dockin", "--dry-run"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /plan \(dry run\)/);
    assert.match(r.stdout, /create +\S+dockin-cni/);
    assert.match(r.stdout, /dry run: nothing was changed/);
    assert.deepEqual(snapshot(t.root), {});

    assert.equal(setup(t, ["install", WEBHOOK, "test"]).status, 0);
    const installed = snapshot(t.root);
    const u = setup(t, ["uninstall", "--dry-run"]);
    assert.equal(u.status, 0, u.stderr);
    assert.match(u.stdout, /remove +\S+dockin-cni/);
    assert.deepEqual(snapshot(t.root), installed);
  });

  test("replacing a plugin that is running renames a new file in (no 'text file busy')", async (ctx) => {
    const t = tree(ctx);
    mkdirSync(t.binDir, { recursive: true });
    const old = join(t.binDir, "dockin-ipam");
    copyFileSync("/bin/sleep", old);
    const running = spawn(old, ["30"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const r = setup(t, ["install", WEBHOOK, "test"]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /update +\S+dockin-ipam/);
      assert.equal(running.exitCode, null, "the old plugin process keeps running");
      assert.ok(statSync(old).size > 100 * 1024 * 1024);
      assert.deepEqual(
        readdirSync(t.binDir).filter((f) => f.startsWith(".")),
        [],
        "no temp file is left in the bin dir",
      );
    } finally {
      running.kill("SIGKILL");
    }
  });
});

describe("setup.sh: PATH, the cache and log dirs, podman", () => {
  test("links dockin into DOCKIN_LINK_DIR and says so; keeps a foreign file; uninstall removes only its link", (ctx) => {
    const t = tree(ctx);
    const r = setup(t, ["install", WEBHOOK, "test", "--no-probe"]);
    assert.equal(r.status, 0, r.stderr);
    const link = join(t.linkDir, "dockin");
    // The temp link dir is not on this PATH: it says so, and what to do.
    assert.match(r.stdout, new RegExp(`setup\\.sh: linked ${link} -> \\S+dockin: add ${t.linkDir} to PATH`));
    assert.equal(realpathSync(link), realpathSync(builtExecutable()));
    const again = setup(t, ["install", WEBHOOK, "test", "--no-probe"], {
      PATH: `${t.linkDir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    });
    assert.match(again.stdout, /links to \S+ already: dockin is on PATH/);
    const dry = tree(ctx);
    assert.match(setup(dry, ["install", WEBHOOK, "test", "--dry-run", "--no-probe"]).stdout, /would link/);
    assert.equal(existsSync(join(dry.linkDir, "dockin")), false);
    const u = setup(t, ["uninstall"]);
    assert.equal(u.status, 0, u.stderr);
    assert.match(u.stdout, /removed the link/);
    assert.equal(existsSync(link), false);

    writeFileSync(link, "#!/bin/sh\n");
    const foreign = setup(t, ["install", WEBHOOK, "test", "--no-probe"]);
    assert.match(foreign.stdout, /exists and is not a link to \S+: left as it is/);
    assert.equal(setup(t, ["uninstall"]).status, 0);
    assert.equal(readFileSync(link, "utf8"), "#!/bin/sh\n");
  });

  test("DOCKIN_CACHE_DIR and DOCKIN_LOG_FILE go into the main config", (ctx) => {
    const t = tree(ctx);
    const cache = join(t.root, "cache");
    const log = join(t.root, "log", "cni.log");
    const r = setup(t, ["install", WEBHOOK, "test", "--no-probe"], {
      DOCKIN_CACHE_DIR: cache,
      DOCKIN_LOG_FILE: log,
    });
    assert.equal(r.status, 0, r.stderr);
    const plugin = (
      readJson(join(t.cniConfDir, "00-dockin-cni.conflist")) as { plugins: Record<string, unknown>[] }
    ).plugins[0];
    assert.equal(plugin?.cacheDir, cache);
    assert.equal(plugin?.logFile, log);
  });

  test("--podman writes the containers.conf drop-in; uninstall removes it, and keeps one it did not write", (ctx) => {
    const t = tree(ctx);
    const r = setup(t, ["install", WEBHOOK, "test", "--podman", "--no-probe"]);
    assert.equal(r.status, 0, r.stderr);
    const dropIn = join(t.containersConfDir, "50-dockin-cni.conf");
    assert.match(readFileSync(dropIn, "utf8"), /network_backend = "cni"/);
    assert.match(r.stdout, /podman: run containers with --network dockin-cni/);
    const u = setup(t, ["uninstall"]);
    assert.match(u.stdout, /remove +\S+50-dockin-cni\.conf +\(podman drop-in/);
    assert.equal(existsSync(dropIn), false);
    writeFileSync(dropIn, '[network]\nnetwork_backend = "cni"\n');
    const kept = setup(t, ["uninstall"]);
    assert.match(kept.stdout, /keep +\S+50-dockin-cni\.conf/);
    assert.equal(existsSync(dropIn), true);
  });
});

describe("setup.sh uninstall", () => {
  test("removes the plugins and the main config, keeps the network configs and says so", (ctx) => {
    const t = tree(ctx);
    assert.equal(setup(t, ["install", WEBHOOK, "test,dockin"]).status, 0);
    const r = setup(t, ["uninstall"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(join(t.binDir, "dockin-cni")), false);
    assert.equal(existsSync(join(t.binDir, "dockin-ipam")), false);
    assert.equal(existsSync(join(t.cniConfDir, "00-dockin-cni.conflist")), false);
    assert.deepEqual(readdirSync(t.dockinConfDir).sort(), ["dockin.json", "test.json"]);
    assert.match(r.stdout, /network configs in \S+ are kept \(2\)/);

    const again = setup(t, ["uninstall"]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /nothing to change: nothing to remove/);
  });

  test("says the attachment records and the log are kept, where the main config says they are (or DOCKIN_CACHE_DIR, DOCKIN_LOG_FILE)", (ctx) => {
    const t = tree(ctx);
    const log = join(t.root, "var", "log", "dockin-cni.log");
    const env = { DOCKIN_CACHE_DIR: t.cacheDir, DOCKIN_LOG_FILE: log };
    assert.equal(setup(t, ["install", WEBHOOK, "test", "--no-probe"], env).status, 0);
    mkdirSync(t.cacheDir, { recursive: true });
    writeFileSync(join(t.cacheDir, "a-record"), "{}");
    mkdirSync(join(t.root, "var", "log"), { recursive: true });
    writeFileSync(log, "a line\n");
    // Without the variables: the main config it removes names both.
    const plan = setup(t, ["uninstall", "--dry-run"]);
    assert.equal(plan.status, 0, plan.stderr);
    assert.match(plan.stdout, new RegExp(`attachment records in ${t.cacheDir} are kept \\(1\\)`));
    assert.match(plan.stdout, new RegExp(`log ${log} is kept`));
    // A cache dir that is a file is no cache dir: nothing to say, and no failure.
    const odd = setup(t, ["uninstall", "--dry-run", "--cache-dir", log]);
    assert.equal(odd.status, 0, odd.stderr);
    assert.doesNotMatch(odd.stdout, /attachment records/);
    const r = setup(t, ["uninstall"], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /attachment records in \S+ are kept \(1\)/);
    assert.match(r.stdout, /log \S+dockin-cni\.log is kept/);
    assert.ok(existsSync(join(t.cacheDir, "a-record")) && existsSync(log), "both kept");
  });

  test("names the bridges that stay (the bridge plugin never removes one)", (ctx) => {
    const t = tree(ctx);
    const type = `u${rand(3)}`;
    assert.equal(setup(t, ["install", WEBHOOK, type, "--no-probe"]).status, 0);
    const bridge = bridgeName(type);
    execFileSync("ip", ["link", "add", bridge, "type", "bridge"]);
    try {
      const r = setup(t, ["uninstall"]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`bridges ${bridge} stay .*ip link del`));
    } finally {
      execFileSync("ip", ["link", "del", bridge]);
    }
  });
});

describe("errors: a clear message, a non-zero exit, nothing written", () => {
  const cases: { name: string; args: string[]; message: RegExp; prepare?: (t: Tree) => void }[] = [
    { name: "an unknown setup.sh option", args: ["frobnicate"], message: /unknown option "frobnicate"/ },
    { name: "no option at all", args: [], message: /Usage:/ },
    {
      name: "a misspelled flag",
      args: ["install", WEBHOOK, "test", "--dryrun"],
      message: /unknown option --dryrun; did you mean --dry-run\?\n\nusage: dockin install/,
    },
    {
      name: "a URL that is not one",
      args: ["install", "not-a-url", "test"],
      message: /bad webhook URL: "not-a-url" is not a URL/,
    },
    {
      name: "a URL of another scheme",
      args: ["install", "ftp://h/x", "test"],
      message: /must be an http:\/\/ or https:\/\/ URL/,
    },
    {
      name: "a notify URL that is not one",
      args: ["install", WEBHOOK, "test", "--notify-url", "nowhere"],
      message: /bad --notify-url: "nowhere" is not a URL/,
    },
    {
      name: "a URL with a query",
      args: ["install", `${WEBHOOK}?podName=x`, "test"],
      message: /must not carry a query/,
    },
    { name: "an empty type list", args: ["install", WEBHOOK, ""], message: /type list "" is empty/ },
    { name: "a type list of commas", args: ["install", WEBHOOK, ",,"], message: /type list ",," is empty/ },
    { name: "no type list", args: ["install", WEBHOOK], message: /missing the network types/ },
    {
      name: "an invalid type name",
      args: ["install", WEBHOOK, "test,bad/name"],
      message: /"bad\/name" must start/,
    },
    { name: "a type listed twice", args: ["install", WEBHOOK, "a,a"], message: /"a" is listed twice/ },
    {
      name: "an unwritable bin dir",
      args: ["install", WEBHOOK, "test"],
      message: /installing failed .*read-only file system.*nothing was changed/i,
      prepare: (t) => readOnly(t, t.binDir),
    },
    {
      name: "an unwritable network config dir (the last one written)",
      args: ["install", WEBHOOK, "test"],
      message: /installing failed .*read-only file system.*nothing was changed/i,
      prepare: (t) => readOnly(t, t.dockinConfDir),
    },
    {
      name: "an unreadable config with the type's file name",
      args: ["install", WEBHOOK, "test"],
      message: /cannot tell whether \S+test\.json is network "test": it is not valid JSON/,
      prepare: (t) => {
        mkdirSync(t.dockinConfDir, { recursive: true });
        writeFileSync(join(t.dockinConfDir, "test.json"), "{ broken");
      },
    },
  ];
  for (const c of cases) {
    test(`setup.sh refuses ${c.name}`, (ctx) => {
      const t = tree(ctx);
      c.prepare?.(t);
      const before = snapshot(t.root);
      const r = setup(t, c.args);
      assert.notEqual(r.status, 0, `exit status for ${c.name}`);
      assert.match(r.stderr, c.message);
      assert.deepEqual(snapshot(t.root), before, "nothing half-written");
    });
  }

  test("uninstall from an unwritable bin dir removes nothing", (ctx) => {
    const t = tree(ctx);
    assert.equal(setup(t, ["install", WEBHOOK, "test"]).status, 0);
    // A read-only bind of the populated bin dir over itself.
    const bind = runEnv("/bin/mount", ["--bind", "-o", "ro", t.binDir, t.binDir], { PATH: "/usr/bin:/bin" });
    assert.equal(bind.status, 0, bind.stderr);
    t.mounts.push(t.binDir);
    const remount = runEnv("/bin/mount", ["-o", "remount,ro,bind", t.binDir], { PATH: "/usr/bin:/bin" });
    assert.equal(remount.status, 0, remount.stderr);
    const before = snapshot(t.root);
    const r = setup(t, ["uninstall"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /cannot remove \S+dockin-cni: .*nothing was removed/);
    assert.deepEqual(snapshot(t.root), before);
  });
});

describe("the installed plugins", () => {
  test("run with an empty environment under each name", (ctx) => {
    const t = tree(ctx);
    assert.equal(setup(t, ["install", WEBHOOK, "test"]).status, 0);
    for (const name of ["dockin-ipam", "dockin-cni"]) {
      const r = runEnv(join(t.binDir, name), [], { CNI_COMMAND: "VERSION" }, '{"cniVersion":"1.0.0"}');
      assert.equal(r.status, 0, `${name}: ${r.stderr}${r.stdout}`);
      const reply = JSON.parse(r.stdout) as { cniVersion: string; supportedVersions: string[] };
      assert.ok(reply.supportedVersions.includes("1.0.0"), `${name} speaks 1.0.0: ${r.stdout}`);
    }
    // Truly nothing: env -i, as a runtime with a scrubbed environment would.
    const bare = runEnv(
      "/usr/bin/env",
      ["-i", "CNI_COMMAND=VERSION", join(t.binDir, "dockin-ipam")],
      {},
      "{}",
    );
    assert.equal(bare.status, 0, bare.stderr);
    assert.match(bare.stdout, /supportedVersions/);
    // The runtime's working directory is not the plugin's environment: Bun's compiled executables
    // read a .env and a bunfig.toml there unless built not to.
    const cwd = join(t.root, "cwd");
    mkdirSync(cwd);
    writeFileSync(join(cwd, ".env"), "CNI_COMMAND=VERSION\n");
    writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./nowhere.ts"]\n');
    for (const name of ["dockin-ipam", "dockin-cni"]) {
      const r = spawnSync(join(t.binDir, name), [], { cwd, env: {}, input: "{}", encoding: "utf8" });
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      assert.equal(r.stdout, "", `${name} took CNI_COMMAND from ${cwd}/.env`);
      assert.match(r.stderr, /CNI protocol versions supported/);
    }
    // A symbolic link keeps the name it is run as, too.
    symlinkSync(join(t.binDir, "dockin-ipam"), join(t.root, "dockin-ipam"));
    const linked = runEnv(join(t.root, "dockin-ipam"), [], { CNI_COMMAND: "VERSION" }, "{}");
    assert.equal(linked.status, 0, linked.stderr);
    assert.match(linked.stdout, /supportedVersions/);
    // Under any other name it is the dockin CLI.
    const cli = runEnv(builtExecutable(), ["install", "--help"], {});
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /usage: dockin install/);
  });
});
