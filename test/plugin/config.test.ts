// The main config and the network files in confDir.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CniError } from "../../src/cni/errors.ts";
import { parseMainConfig } from "../../src/plugin/config.ts";
import { delegateArgs } from "../../src/plugin/identity.ts";
import { loadNetworkDir, stripComments } from "../../src/plugin/netconf.ts";

const base = {
  cniVersion: "0.2.0",
  name: "dockin-cni",
  type: "dockin-cni",
  backend: "http://127.0.0.1:10002/x",
};

describe("parseMainConfig", () => {
  test("takes the seed's sample as written and fills the defaults", () => {
    const { config } = parseMainConfig({
      ...base,
      confDir: "/etc/cni/dockin/net.d",
      binDir: "/opt/cni/bin",
      logFile: "/data/kubernetes/dockin-cni.log",
      logLevel: "debug",
    });
    assert.equal(config.cacheDir, "/var/lib/cni/dockin");
    assert.equal(config.logLevel, "debug");
    assert.equal(config.retries, 3);
  });

  test("accepts logLevel info (the original rejected it and went silent)", () => {
    assert.equal(parseMainConfig({ ...base, logLevel: "info" }).config.logLevel, "info");
  });

  test("reports every problem with its key and the key a misspelling meant", () => {
    assert.throws(
      () =>
        parseMainConfig({ ...base, backend: "ftp://x", confdir: "/x", logLevel: "verbose", certFile: "/c" }),
      (err: unknown) =>
        err instanceof CniError &&
        err.code === 7 &&
        /confdir: unknown key; did you mean "confDir"\?/.test(err.message) &&
        /backend: "ftp:\/\/x" must be an http/.test(err.message) &&
        /logLevel: "verbose" is not one of/.test(err.message) &&
        /certFile and keyFile go together/.test(err.message),
    );
  });

  test("a whole .conflist given by hand says that a runtime passes one entry of it", () => {
    const list = {
      cniVersion: "1.0.0",
      name: "dockin-cni",
      plugins: [{ type: "dockin-cni", backend: base.backend }],
    };
    assert.throws(
      () => parseMainConfig(list as never),
      (err: unknown) =>
        err instanceof CniError &&
        err.code === 7 &&
        /plugins: this is a network configuration list \(\.conflist\); a runtime passes the plugin one entry of "plugins", with the list's "name" and "cniVersion" added/.test(
          err.message,
        ),
    );
  });

  test("lenient mode (DEL, GC) returns the problems instead of throwing", () => {
    const { config, problems } = parseMainConfig(
      { ...base, backend: undefined, cacheDir: "/tmp/c", bogus: 1 } as never,
      true,
    );
    assert.equal(config.cacheDir, "/tmp/c");
    assert.equal(problems.length, 2);
  });
});

describe("network files", () => {
  test("stripComments keeps // and /* inside strings and drops trailing commas", () => {
    const text = '{ "a": "http://x//y", /* c */ "b": "/*no*/", // end\n "c": [1,2,], }';
    assert.deepEqual(JSON.parse(stripComments(text)), { a: "http://x//y", b: "/*no*/", c: [1, 2] });
  });

  test("stripComments leaves strings that hold a comma before ] or } as written", () => {
    const cases: [string, unknown][] = [
      ['{"a": "x,]"}', { a: "x,]" }],
      ['{"a": "x, }", "b": [","]}', { a: "x, }", b: [","] }],
      ['{"a": "q\\",]", "b": 1,}', { a: 'q",]', b: 1 }],
      ['{"a": [1, /* c */ ], "b": {"c": 2, // d\n }, }', { a: [1], b: { c: 2 } }],
    ];
    for (const [text, want] of cases) assert.deepEqual(JSON.parse(stripComments(text)), want, text);
  });

  test("loadNetworkDir finds networks by name in .json, .conf and .conflist, reports broken and duplicate files", () => {
    const dir = mkdtempSync(join(tmpdir(), "dk-netconf-"));
    try {
      writeFileSync(
        join(dir, "a.json"),
        '{\n  "cniVersion": "0.2.0",\n  "name": "test", // type\n  "type": "bridge",\n  "bridge": "br0"\n}\n',
      );
      writeFileSync(join(dir, "b.conf"), '{"name": "other", "type": "bridge"}');
      writeFileSync(
        join(dir, "c.conflist"),
        '{"name": "chain", "plugins": [{"type": "bridge"}, {"type": "tuning"}]}',
      );
      writeFileSync(join(dir, "d.json"), '{"name": "test", "type": "macvlan"}');
      writeFileSync(join(dir, "e.json"), "{ broken");
      writeFileSync(join(dir, "f.txt"), '{"name": "ignored", "type": "bridge"}');
      const loaded = loadNetworkDir(dir);
      assert.deepEqual([...loaded.byName.keys()].sort(), ["chain", "other", "test"]);
      assert.equal(loaded.byName.get("test")!.plugins[0]!.type, "bridge");
      assert.deepEqual(
        loaded.byName.get("chain")!.plugins.map((p) => p.type),
        ["bridge", "tuning"],
      );
      assert.equal(loaded.broken.length, 2);
      assert.match(loaded.broken.join("\n"), /d\.json: network "test" is already defined/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("delegate CNI_ARGS", () => {
  test("drop IP and GATEWAY (the backend decides addresses) and add IgnoreUnknown=1", () => {
    assert.equal(
      delegateArgs("K8S_POD_NAME=a;IP=10.0.0.5;GATEWAY=10.0.0.1;IgnoreUnknown=true"),
      "IgnoreUnknown=1;K8S_POD_NAME=a",
    );
    assert.equal(delegateArgs(""), "IgnoreUnknown=1");
  });
});
