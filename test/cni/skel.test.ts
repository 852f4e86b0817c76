// skel.ts runPlugin(): the protocol driver, with a fake PluginIO, and once as a real process.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CniError, ErrorCode } from "../../src/cni/errors.ts";
import { formatResult, type Result } from "../../src/cni/result.ts";
import {
  type CmdArgs,
  type NetConf,
  type Plugin,
  type PluginIO,
  prevResultOf,
  runPlugin,
  validAttachmentsOf,
} from "../../src/cni/skel.ts";
import { ALL_VERSIONS, type SpecVersion, type Verb } from "../../src/cni/version.ts";

const ENV = {
  CNI_CONTAINERID: "ctr1",
  CNI_NETNS: "/var/run/netns/ctr1",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
};

const RESULT: Result = {
  cniVersion: "1.1.0",
  interfaces: [{ name: "eth0", mac: "0a:58:0a:00:00:02", sandbox: "/var/run/netns/ctr1" }],
  ips: [
    { address: "10.0.0.2/24", gateway: "10.0.0.1", interface: 0 },
    { address: "fd00::2/64", gateway: "fd00::1", interface: 0 },
  ],
  routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1" }, { dst: "::/0" }],
  dns: { nameservers: ["10.0.0.53"] },
};

interface Run {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  calls: { verb: string; args: CmdArgs }[];
  /** stdout parsed: it must be exactly one JSON document, or nothing. */
  json: Record<string, unknown> | undefined;
}

type Behaviour = Partial<Record<"add" | "del" | "check" | "status" | "gc", () => Promise<unknown>>>;

function fakePlugin(
  versions: readonly SpecVersion[],
  calls: Run["calls"],
  behaviour: Behaviour = {},
  entersNetns = true,
): Plugin {
  const record = (verb: string) => async (args: CmdArgs) => {
    calls.push({ verb, args });
    await behaviour[verb as keyof Behaviour]?.();
  };
  return {
    about: "fake: a test plugin",
    versions,
    entersNetns,
    add: async (args) => {
      await record("add")(args);
      return RESULT;
    },
    del: record("del"),
    check: record("check"),
    status: record("status"),
    gc: record("gc"),
  };
}

async function run(
  env: NodeJS.ProcessEnv,
  stdin: string,
  options: {
    versions?: readonly SpecVersion[];
    behaviour?: Behaviour;
    stderr?: boolean;
    entersNetns?: boolean;
  } = {},
): Promise<Run> {
  const r: Run = { stdout: "", stderr: "", exitCode: undefined, calls: [], json: undefined };
  const io: PluginIO = {
    env,
    readStdin: () => stdin,
    writeStdout: (t) => {
      r.stdout += t;
    },
    setExitCode: (c) => {
      r.exitCode = c;
    },
  };
  if (options.stderr !== false) {
    io.writeStderr = (t) => {
      r.stderr += t;
    };
  }
  await runPlugin(
    fakePlugin(options.versions ?? ALL_VERSIONS, r.calls, options.behaviour, options.entersNetns),
    io,
  );
  if (r.stdout !== "") r.json = JSON.parse(r.stdout) as Record<string, unknown>;
  return r;
}

const conf = (cniVersion: string | undefined, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    ...(cniVersion === undefined ? {} : { cniVersion }),
    name: "net1",
    type: "fake",
    ...extra,
  });

/** Asserts the run printed the spec's error object with `code` (and nothing else) and exited 1. */
function assertError(r: Run, code: number, msg?: RegExp, cniVersion?: string): void {
  assert.equal(r.exitCode, 1, `exit code; stdout: ${r.stdout}`);
  assert.ok(r.json, "an error object on stdout");
  assert.equal(r.json.code, code, `code; stdout: ${r.stdout}`);
  assert.equal(typeof r.json.msg, "string");
  if (msg) assert.match(r.json.msg as string, msg);
  if (cniVersion) assert.equal(r.json.cniVersion, cniVersion);
  assert.deepEqual(
    Object.keys(r.json).filter((k) => !["cniVersion", "code", "msg", "details"].includes(k)),
    [],
    "only the error object's keys",
  );
  assert.equal(r.calls.length, 0, "the plugin was not called");
}

describe("VERSION", () => {
  for (const v of ALL_VERSIONS) {
    it(`answers a ${v} config with ${v} and every supported version`, async () => {
      const r = await run({ CNI_COMMAND: "VERSION" }, JSON.stringify({ cniVersion: v }));
      assert.deepEqual(r.json, { cniVersion: v, supportedVersions: [...ALL_VERSIONS] });
      assert.equal(r.exitCode, undefined);
    });
  }
  const fallbacks: [string, string][] = [
    ["", "empty stdin"],
    ["{}", "a config without cniVersion"],
    ['{"cniVersion":"1.1.0"}', "a version the plugin lacks"],
    ['{"cniVersion":"9.9.9"}', "an unknown version"],
    ["not json", "stdin that is not JSON"],
    ["null", "a JSON null"],
  ];
  for (const [stdin, why] of fallbacks) {
    it(`answers ${why} with the newest supported version and succeeds`, async () => {
      const versions = ["0.3.1", "0.4.0", "1.0.0"] as const;
      const r = await run({ CNI_COMMAND: "VERSION" }, stdin, { versions });
      assert.deepEqual(r.json, { cniVersion: "1.0.0", supportedVersions: [...versions] });
      assert.equal(r.exitCode, undefined);
    });
  }
  it("needs no variable but CNI_COMMAND", async () => {
    const r = await run({ CNI_COMMAND: "VERSION" }, "");
    assert.equal(r.exitCode, undefined);
    assert.equal(r.json?.cniVersion, "1.1.0");
  });
});

describe("dispatch of each verb", () => {
  const verbs: [Verb, string][] = [
    ["ADD", "add"],
    ["DEL", "del"],
    ["CHECK", "check"],
    ["STATUS", "status"],
    ["GC", "gc"],
  ];
  for (const [verb, method] of verbs) {
    it(`${verb} calls ${method}() once with the parsed env and config`, async () => {
      const stdin = conf("1.1.0", { extra: { deep: true } });
      const r = await run({ CNI_COMMAND: verb, ...ENV, CNI_ARGS: "K=V" }, stdin);
      assert.deepEqual(
        r.calls.map((c) => c.verb),
        [method],
      );
      const args = r.calls[0]?.args;
      assert.ok(args);
      assert.equal(args.env.command, verb);
      assert.equal(args.env.containerId, "ctr1");
      assert.equal(args.env.args, "K=V");
      assert.deepEqual(args.env.path, ["/opt/cni/bin"]);
      assert.equal(args.config.name, "net1");
      assert.deepEqual(args.config.extra, { deep: true });
      assert.equal(args.stdin, stdin);
      assert.equal(r.exitCode, undefined);
      if (verb === "ADD") assert.deepEqual(r.json, formatResult(RESULT, "1.1.0"));
      else assert.equal(r.stdout, "", `${verb} prints nothing on success`);
    });
  }
  it("STATUS needs no container variables", async () => {
    const r = await run({ CNI_COMMAND: "STATUS" }, conf("1.1.0"));
    assert.deepEqual(
      r.calls.map((c) => c.verb),
      ["status"],
    );
  });
  it("GC needs only CNI_PATH", async () => {
    const r = await run({ CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" }, conf("1.1.0"));
    assert.deepEqual(
      r.calls.map((c) => c.verb),
      ["gc"],
    );
  });
  it("DEL runs without CNI_NETNS", async () => {
    const r = await run({ CNI_COMMAND: "DEL", ...ENV, CNI_NETNS: "" }, conf("1.0.0"));
    assert.deepEqual(
      r.calls.map((c) => c.verb),
      ["del"],
    );
  });
  it("a plugin without check/status/gc succeeds on them", async () => {
    for (const verb of ["CHECK", "STATUS", "GC"]) {
      const out: string[] = [];
      let code: number | undefined;
      await runPlugin(
        { about: "", versions: ["1.1.0"], add: async () => RESULT, del: async () => {} },
        {
          env: { CNI_COMMAND: verb, ...ENV },
          readStdin: () => conf("1.1.0"),
          writeStdout: (t) => {
            out.push(t);
          },
          setExitCode: (c) => {
            code = c;
          },
        },
      );
      assert.deepEqual(out, [], verb);
      assert.equal(code, undefined, verb);
    }
  });
});

describe("verbs refused by the config's version (error 1)", () => {
  for (const v of ALL_VERSIONS) {
    for (const [verb, since] of [
      ["CHECK", "0.4.0"],
      ["STATUS", "1.1.0"],
      ["GC", "1.1.0"],
    ] as const) {
      const allowed = ALL_VERSIONS.indexOf(v) >= ALL_VERSIONS.indexOf(since);
      it(`${verb} at ${v} is ${allowed ? "run" : "refused with error 1"}`, async () => {
        const r = await run({ CNI_COMMAND: verb, ...ENV }, conf(v));
        if (allowed) {
          assert.equal(r.exitCode, undefined);
          assert.equal(r.calls.length, 1);
        } else {
          assertError(r, 1, new RegExp(`does not allow ${verb}.*${since.replace(/\./g, "\\.")}`), v);
        }
      });
    }
  }
});

describe("versions the plugin does not speak (error 1)", () => {
  const cases: [string, readonly SpecVersion[]][] = [
    ["9.9.9", ALL_VERSIONS],
    ["0.5.0", ALL_VERSIONS],
    ["1.0", ALL_VERSIONS],
    ["abc", ALL_VERSIONS],
    ["1.1.0", ["0.4.0", "1.0.0"]],
    ["0.1.0", ["0.4.0", "1.0.0"]],
  ];
  for (const [v, versions] of cases) {
    for (const verb of ["ADD", "DEL"]) {
      it(`${verb} with cniVersion ${JSON.stringify(v)} and a plugin of [${versions.join(" ")}]`, async () => {
        const r = await run({ CNI_COMMAND: verb, ...ENV }, conf(v), { versions });
        assertError(r, 1, /incompatible CNI versions/, versions.at(-1));
        assert.match(String(r.json?.details), new RegExp(`config is "${v.replace(/\./g, "\\.")}"`));
      });
    }
  }
  it("a config without cniVersion is 0.1.0", async () => {
    const r = await run({ CNI_COMMAND: "ADD", ...ENV }, conf(undefined));
    assert.equal(r.json?.cniVersion, "0.1.0");
    assert.ok(r.json?.ip4);
  });
  it('a config with cniVersion "" is 0.1.0, as in the reference library', async () => {
    const r = await run({ CNI_COMMAND: "ADD", ...ENV }, conf(""));
    assert.equal(r.json?.cniVersion, "0.1.0");
  });
});

describe("configs that do not decode (error 6) or lack a valid name (error 7)", () => {
  const cases: [string, number, RegExp][] = [
    ["", 6, /decoding the network configuration/],
    ["{", 6, /decoding the network configuration/],
    ["[]", 6, /not a JSON object/],
    ["null", 6, /not a JSON object/],
    ['"1.0.0"', 6, /not a JSON object/],
    ['{"cniVersion":1,"name":"n"}', 6, /cniVersion must be a string/],
    ['{"cniVersion":"1.0.0","name":5}', 6, /name must be a string/],
    ['{"cniVersion":"1.0.0","name":"n","type":["x"]}', 6, /type must be a string/],
    ['{"cniVersion":"1.0.0"}', 7, /^missing network name$/],
    ['{"cniVersion":"1.0.0","name":""}', 7, /^missing network name$/],
    ['{"cniVersion":"1.0.0","name":"-net"}', 7, /network name "-net"/],
    ['{"cniVersion":"1.0.0","name":"my net"}', 7, /network name "my net"/],
  ];
  for (const [stdin, code, msg] of cases) {
    it(`${JSON.stringify(stdin)} is error ${code}`, async () => {
      const r = await run({ CNI_COMMAND: "ADD", ...ENV }, stdin);
      assertError(r, code, msg);
    });
  }
});

describe("environment problems (error 4)", () => {
  const cases: [string, NodeJS.ProcessEnv, RegExp][] = [
    ["ADD without CNI_CONTAINERID", { CNI_COMMAND: "ADD", ...ENV, CNI_CONTAINERID: "" }, /CNI_CONTAINERID/],
    ["ADD without CNI_NETNS", { CNI_COMMAND: "ADD", ...ENV, CNI_NETNS: "" }, /CNI_NETNS/],
    ["CHECK without CNI_IFNAME", { CNI_COMMAND: "CHECK", ...ENV, CNI_IFNAME: "" }, /CNI_IFNAME/],
    ["DEL without CNI_PATH", { CNI_COMMAND: "DEL", ...ENV, CNI_PATH: "" }, /CNI_PATH/],
    ["GC without CNI_PATH", { CNI_COMMAND: "GC" }, /CNI_PATH/],
    ["an unknown command", { CNI_COMMAND: "GET", ...ENV }, /"GET" is unknown/],
    ["a bad container id", { CNI_COMMAND: "ADD", ...ENV, CNI_CONTAINERID: "-x" }, /CNI_CONTAINERID "-x"/],
    ["a bad interface name", { CNI_COMMAND: "ADD", ...ENV, CNI_IFNAME: "a/b" }, /CNI_IFNAME "a\/b"/],
    ["a too long interface name", { CNI_COMMAND: "DEL", ...ENV, CNI_IFNAME: "x".repeat(16) }, /CNI_IFNAME/],
  ];
  for (const [why, env, msg] of cases) {
    it(`${why} is error 4`, async () => {
      const r = await run(env, conf("1.1.0"));
      assertError(r, 4, msg);
    });
  }
  it("missing variables are reported before a bad config is read", async () => {
    assertError(await run({ CNI_COMMAND: "ADD" }, "{"), 4);
  });
  it("the network name is checked before the container id, as in the reference skel", async () => {
    const r = await run({ CNI_COMMAND: "ADD", ...ENV, CNI_CONTAINERID: "-x" }, '{"cniVersion":"1.0.0"}');
    assertError(r, 7);
  });
  it("the container id is checked before the version", async () => {
    const r = await run({ CNI_COMMAND: "ADD", ...ENV, CNI_CONTAINERID: "-x" }, conf("9.9.9"));
    assertError(r, 4);
  });
  it("run by hand (no CNI_COMMAND): the about text goes to stderr, nothing to stdout, success", async () => {
    const r = await run({}, "");
    assert.equal(r.stdout, "");
    assert.equal(r.exitCode, undefined);
    assert.match(r.stderr, /^fake: a test plugin\nCNI protocol versions supported: 0\.1\.0, .*1\.1\.0\n$/);
  });
  it("no CNI_COMMAND without a stderr to explain on is error 4", async () => {
    assertError(await run({}, "", { stderr: false }), 4, /CNI_COMMAND is not set/);
  });
});

describe("ADD prints the result in the config's version", () => {
  for (const v of ALL_VERSIONS) {
    it(`a ${v} config gets a ${v} result`, async () => {
      const r = await run({ CNI_COMMAND: "ADD", ...ENV }, conf(v));
      assert.equal(r.exitCode, undefined);
      assert.deepEqual(r.json, formatResult(RESULT, v));
      assert.equal(r.json?.cniVersion, v);
      if (v === "0.1.0" || v === "0.2.0") {
        assert.deepEqual(r.json?.ip4, {
          ip: "10.0.0.2/24",
          gateway: "10.0.0.1",
          routes: [{ dst: "0.0.0.0/0", gw: "10.0.0.1" }],
        });
      } else {
        assert.equal((r.json?.ips as unknown[] | undefined)?.length, 2);
      }
    });
  }
  it("a result that cannot be expressed in the config's version is an error, not a partial result", async () => {
    const r: Run = { stdout: "", stderr: "", exitCode: undefined, calls: [], json: undefined };
    await runPlugin(
      { about: "", versions: ["0.2.0"], add: async () => ({ cniVersion: "1.0.0" }), del: async () => {} },
      {
        env: { CNI_COMMAND: "ADD", ...ENV },
        readStdin: () => conf("0.2.0"),
        writeStdout: (t) => {
          r.stdout += t;
        },
        setExitCode: (c) => {
          r.exitCode = c;
        },
      },
    );
    r.json = JSON.parse(r.stdout);
    assertError(r, 1, /no IP address/, "0.2.0");
  });
});

describe("errors thrown by the plugin", () => {
  const cases: [string, () => Promise<unknown>, number, RegExp][] = [
    [
      "a CniError keeps its code",
      () => Promise.reject(new CniError(11, "backend busy")),
      11,
      /^backend busy$/,
    ],
    [
      "a CniError keeps its details",
      () => Promise.reject(new CniError(7, "bad ipam", { details: "ipam.addresses[0]" })),
      7,
      /^bad ipam$/,
    ],
    ["a plain Error is 999", () => Promise.reject(new Error("boom")), 999, /^boom$/],
    ["a thrown string is 999", () => Promise.reject("just a string"), 999, /^just a string$/],
  ];
  for (const verb of ["ADD", "DEL", "CHECK", "STATUS", "GC"] as const) {
    for (const [why, fail, code, msg] of cases) {
      it(`${verb}: ${why}, printed in the config's version with exit 1`, async () => {
        const method = verb.toLowerCase() as keyof Behaviour;
        const r = await run({ CNI_COMMAND: verb, ...ENV }, conf("1.1.0"), { behaviour: { [method]: fail } });
        assert.equal(r.exitCode, 1);
        assert.equal(r.json?.code, code);
        assert.match(String(r.json?.msg), msg);
        assert.equal(r.json?.cniVersion, "1.1.0");
        if (why.includes("details")) assert.equal(r.json?.details, "ipam.addresses[0]");
        else assert.equal("details" in (r.json ?? {}), false);
      });
    }
  }
  it("an error at 0.3.1 is printed with cniVersion 0.3.1", async () => {
    const r = await run({ CNI_COMMAND: "ADD", ...ENV }, conf("0.3.1"), {
      behaviour: { add: () => Promise.reject(new CniError(11, "later")) },
    });
    assert.deepEqual(r.json, { cniVersion: "0.3.1", code: 11, msg: "later" });
  });
});

describe("prevResultOf()", () => {
  it("reads the prevResult of a CHECK config in the 1.x shape", () => {
    const config = JSON.parse(conf("0.4.0", { prevResult: formatResult(RESULT, "0.4.0") }));
    const prev = prevResultOf(config);
    assert.deepEqual(prev?.ips, RESULT.ips);
  });
  it("is undefined without a prevResult", () => {
    assert.equal(prevResultOf(JSON.parse(conf("1.0.0"))), undefined);
    assert.equal(prevResultOf(JSON.parse(conf("1.0.0", { prevResult: null }))), undefined);
  });
});

describe("as a real process", () => {
  const fixture = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "skel-plugin.ts");
  const exec = (env: NodeJS.ProcessEnv, input: string) =>
    spawnSync(process.execPath, [fixture], {
      env: { PATH: process.env.PATH, ...env },
      input,
      encoding: "utf8",
    });

  it("ADD: stdout holds only the result; console and logger output goes to stderr", () => {
    const p = exec({ CNI_COMMAND: "ADD", ...ENV }, conf("1.0.0"));
    assert.equal(p.status, 0, p.stderr);
    assert.deepEqual(JSON.parse(p.stdout), {
      cniVersion: "1.0.0",
      ips: [{ address: "10.0.0.2/24", gateway: "10.0.0.1" }],
      dns: {},
    });
    assert.match(p.stderr, /noise from console\.log/);
    // console.trace's stack (Bun's Console instance leaves out the message).
    assert.match(p.stderr, /noise from console\.trace|^\s+at add \(/m);
    assert.match(p.stderr, /noise from console\.table/);
    assert.match(p.stderr, /noise from the logger/);
  });
  it("ADD failing: stdout holds only the error object, exit status 1", () => {
    const p = exec({ CNI_COMMAND: "ADD", ...ENV }, conf("0.4.0", { fail: 11 }));
    assert.equal(p.status, 1);
    assert.deepEqual(JSON.parse(p.stdout), { cniVersion: "0.4.0", code: 11, msg: "asked to fail" });
  });
  it("DEL: nothing on stdout, exit status 0", () => {
    const p = exec({ CNI_COMMAND: "DEL", ...ENV }, conf("1.1.0"));
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stdout, "");
    assert.match(p.stderr, /noise from console\.info/);
  });
  it("no CNI_COMMAND: the about text on stderr, exit status 0", () => {
    const p = exec({}, "");
    assert.equal(p.status, 0);
    assert.equal(p.stdout, "");
    assert.match(
      p.stderr,
      /skel-plugin: a test plugin\nCNI protocol versions supported: 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/,
    );
  });
  it("VERSION with empty stdin", () => {
    const p = exec({ CNI_COMMAND: "VERSION" }, "");
    assert.equal(p.status, 0);
    assert.deepEqual(JSON.parse(p.stdout), {
      cniVersion: "1.1.0",
      supportedVersions: ["0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
  });
  it("a missing variable: error 4 on stdout, exit status 1", () => {
    const p = exec({ CNI_COMMAND: "ADD" }, conf("1.0.0"));
    assert.equal(p.status, 1);
    assert.equal(JSON.parse(p.stdout).code, 4);
  });
});

describe("every error code reaches the runtime unchanged", () => {
  for (const [name, code] of Object.entries(ErrorCode)) {
    it(`${name} (${code})`, async () => {
      const r = await run({ CNI_COMMAND: "ADD", ...ENV }, conf("1.0.0"), {
        behaviour: { add: () => Promise.reject(new CniError(code, `failed with ${code}`)) },
      });
      assert.equal(r.exitCode, 1);
      assert.deepEqual(r.json, { cniVersion: "1.0.0", code, msg: `failed with ${code}` });
    });
  }
});

describe("validAttachmentsOf() reads a GC config's still-valid attachments", () => {
  const gcConf = (extra: Record<string, unknown>): NetConf => ({
    cniVersion: "1.1.0",
    name: "n",
    type: "t",
    ...extra,
  });
  const list = [
    { containerID: "ctr1", ifname: "eth0" },
    { containerID: "ctr2", ifname: "net1" },
  ];
  it("from cni.dev/valid-attachments", () =>
    assert.deepEqual(validAttachmentsOf(gcConf({ "cni.dev/valid-attachments": list })), list));
  it("from cni.dev/attachments, the name spec 1.1.0 was released with", () =>
    assert.deepEqual(validAttachmentsOf(gcConf({ "cni.dev/attachments": list })), list));
  it("an empty list is an empty list (everything is stale)", () =>
    assert.deepEqual(validAttachmentsOf(gcConf({ "cni.dev/valid-attachments": [] })), []));
  it("ignores extra keys of an entry", () =>
    assert.deepEqual(
      validAttachmentsOf(
        gcConf({ "cni.dev/valid-attachments": [{ containerID: "c", ifname: "e", extra: 1 }] }),
      ),
      [{ containerID: "c", ifname: "e" }],
    ));
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["no list at all (never read as 'none valid')", {}, /no cni\.dev\/valid-attachments/],
    ["a list that is not a list", { "cni.dev/valid-attachments": {} }, /must be a list/],
    [
      "entries without containerID or ifname, all named",
      {
        "cni.dev/valid-attachments": [
          { containerId: "c", ifname: "e" },
          "x",
          { containerID: "c", ifname: "" },
        ],
      },
      /\[0\]\.containerID: must be a non-empty string; .*\[1\]\.containerID.*\[1\]\.ifname.*\[2\]\.ifname/,
    ],
  ];
  for (const [why, extra, msg] of bad) {
    it(`refuses ${why} with error 7`, () => {
      assert.throws(
        () => validAttachmentsOf(gcConf(extra)),
        (e: unknown) => e instanceof CniError && e.code === 7 && msg.test(e.message),
      );
    });
  }
});

describe("as a real process, with a result larger than a pipe holds", () => {
  const fixture = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "skel-plugin.ts");
  it("writes the whole result to a slow reader", {
    timeout: 60_000,
  }, async (t) => {
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, [fixture], {
      env: { PATH: process.env.PATH, CNI_COMMAND: "ADD", ...ENV },
      stdio: ["pipe", "pipe", "pipe"],
    });
    t.after(() => child.kill("SIGKILL"));
    child.stdin.end(conf("1.0.0", { big: 20_000 }));
    // Read nothing for a while, so that the pipe fills up and the plugin's writes would block.
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 1500));
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stdout.resume();
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const status = await new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    assert.equal(status, 0, stderr);
    const out = Buffer.concat(chunks).toString("utf8");
    assert.ok(out.length > 1_000_000, `${out.length} bytes`);
    assert.equal(JSON.parse(out).ips.length, 20_000);
  });
});

describe("CNI_NETNS may not be the plugin's own namespace (error 8)", () => {
  for (const verb of ["ADD", "CHECK", "DEL"]) {
    it(`${verb} with CNI_NETNS=/proc/self/ns/net is refused before the plugin runs`, async () => {
      const r = await run({ CNI_COMMAND: verb, ...ENV, CNI_NETNS: "/proc/self/ns/net" }, conf("1.0.0"));
      assertError(r, 8, /own network namespace/, "1.0.0");
    });
  }
  it("the same namespace through another path is recognised", async () => {
    const r = await run(
      { CNI_COMMAND: "ADD", ...ENV, CNI_NETNS: `/proc/${process.pid}/ns/net` },
      conf("1.0.0"),
    );
    assertError(r, 8);
  });
  for (const value of ["1", "true", "TRUE"]) {
    it(`CNI_NETNS_OVERRIDE=${value} turns the check off`, async () => {
      const env = { CNI_COMMAND: "ADD", ...ENV, CNI_NETNS: "/proc/self/ns/net", CNI_NETNS_OVERRIDE: value };
      const r = await run(env, conf("1.0.0"));
      assert.equal(r.exitCode, undefined);
      assert.equal(r.calls.length, 1);
    });
  }
  const others: [string, string][] = [
    ["a path that does not exist (DEL after the namespace is gone)", "/var/run/netns/dockin-test-gone"],
    ["a file that is not our namespace", "/proc/self/ns/uts"],
  ];
  for (const [why, netns] of others) {
    it(`${why} is left to the plugin`, async () => {
      const r = await run({ CNI_COMMAND: "DEL", ...ENV, CNI_NETNS: netns }, conf("1.0.0"));
      assert.equal(r.exitCode, undefined);
      assert.equal(r.calls.length, 1);
    });
  }
  it("a plugin that does not enter the namespace (IPAM) is not checked, as the reference static is not", async () => {
    const env = { CNI_COMMAND: "ADD", ...ENV, CNI_NETNS: "/proc/self/ns/net" };
    const r = await run(env, conf("1.0.0"), { entersNetns: false });
    assert.equal(r.exitCode, undefined);
    assert.equal(r.calls.length, 1);
  });
  it("STATUS and GC do not look at CNI_NETNS", async () => {
    const r = await run({ CNI_COMMAND: "STATUS", CNI_NETNS: "/proc/self/ns/net" }, conf("1.1.0"));
    assert.equal(r.exitCode, undefined);
  });
});
