// env.ts and checks.ts against the spec's parameters and the reference library (pkg/skel, pkg/utils,
// pkg/types/args.go).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ifNameProblem, networkNameProblem } from "../../src/cni/checks.ts";
import {
  checkKnownArgs,
  ignoresUnknown,
  parseCniArgs,
  parseCommand,
  parseEnv,
  REQUIRED,
} from "../../src/cni/env.ts";
import { CniError } from "../../src/cni/errors.ts";
import { VERBS, type Verb } from "../../src/cni/version.ts";

const FULL = {
  CNI_CONTAINERID: "abc123",
  CNI_NETNS: "/var/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=p",
  CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
};

/** Asserts that `fn` throws a CniError with `code` whose message matches `pattern`. */
function throwsCni(fn: () => unknown, code: number, pattern?: RegExp): CniError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CniError, `expected a CniError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return err;
  }
  assert.fail("expected an error");
}

describe("parseCommand()", () => {
  for (const verb of VERBS) {
    it(`accepts ${verb}`, () => assert.equal(parseCommand({ CNI_COMMAND: verb }), verb));
  }
  const bad: [string | undefined, RegExp][] = [
    [undefined, /CNI_COMMAND is not set/],
    ["", /CNI_COMMAND is not set/],
    ["add", /"add" is unknown/],
    ["GET", /"GET" is unknown/],
    ["ADD ", /"ADD " is unknown/],
  ];
  for (const [value, pattern] of bad) {
    it(`rejects ${JSON.stringify(value)} with error 4`, () => {
      const env = value === undefined ? {} : { CNI_COMMAND: value };
      throwsCni(() => parseCommand(env), 4, pattern);
    });
  }
});

describe("parseEnv() requires the variables each verb needs", () => {
  const table: Record<Verb, string[]> = {
    ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
    CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
    DEL: ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
    GC: ["CNI_PATH"],
    STATUS: [],
    VERSION: [],
  };
  for (const verb of VERBS) {
    it(`${verb} requires exactly ${table[verb].join(", ") || "nothing else"}`, () => {
      assert.deepEqual([...REQUIRED[verb]], table[verb]);
      // With all of them set it parses; with only the required ones it parses too.
      parseEnv({ CNI_COMMAND: verb, ...FULL });
      const only = Object.fromEntries(table[verb].map((n) => [n, FULL[n as keyof typeof FULL]]));
      parseEnv({ CNI_COMMAND: verb, ...only });
    });
    for (const name of table[verb]) {
      for (const value of [undefined, ""]) {
        it(`${verb} without ${name} (${value === undefined ? "unset" : "empty"}) is error 4 naming it`, () => {
          const env: NodeJS.ProcessEnv = { CNI_COMMAND: verb, ...FULL };
          if (value === undefined) delete env[name];
          else env[name] = value;
          throwsCni(() => parseEnv(env), 4, new RegExp(`missing for ${verb}: ${name}$`));
        });
      }
    }
  }
  it("names every missing variable at once", () => {
    throwsCni(() => parseEnv({ CNI_COMMAND: "ADD" }), 4, /CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH/);
  });
  it("DEL without CNI_NETNS parses with an empty netns", () => {
    const env = parseEnv({ CNI_COMMAND: "DEL", ...FULL, CNI_NETNS: "" });
    assert.equal(env.netns, "");
  });
  it("returns every variable", () => {
    assert.deepEqual(parseEnv({ CNI_COMMAND: "ADD", ...FULL }), {
      command: "ADD",
      containerId: "abc123",
      netns: "/var/run/netns/x",
      ifName: "eth0",
      args: "IgnoreUnknown=1;K8S_POD_NAME=p",
      path: ["/opt/cni/bin", "/usr/lib/cni"],
    });
  });
});

describe("CNI_PATH is split on ':'", () => {
  const cases: [string, string[]][] = [
    ["/opt/cni/bin", ["/opt/cni/bin"]],
    ["/a:/b:/c", ["/a", "/b", "/c"]],
    ["/a::/b:", ["/a", "/b"]],
    [":", []],
  ];
  for (const [value, dirs] of cases) {
    it(`${JSON.stringify(value)} is ${JSON.stringify(dirs)}`, () => {
      assert.deepEqual(parseEnv({ CNI_COMMAND: "STATUS", CNI_PATH: value }).path, dirs);
    });
  }
  it("an unset CNI_PATH is no directory (STATUS)", () => {
    assert.deepEqual(parseEnv({ CNI_COMMAND: "STATUS" }).path, []);
  });
});

describe("CNI_CONTAINERID format (the reference ValidateContainerID)", () => {
  const valid = [
    "a",
    "0",
    "abc123",
    "A-b_c.d",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  ];
  for (const id of valid) {
    it(`accepts ${JSON.stringify(id)}`, () => {
      assert.equal(parseEnv({ CNI_COMMAND: "ADD", ...FULL, CNI_CONTAINERID: id }).containerId, id);
    });
  }
  const invalid = ["-abc", "_abc", ".abc", "abc/def", "abc def", "abc:def", "abç", "abc\n"];
  for (const id of invalid) {
    it(`rejects ${JSON.stringify(id)} with error 4 and the id in details`, () => {
      const err = throwsCni(
        () => parseEnv({ CNI_COMMAND: "ADD", ...FULL, CNI_CONTAINERID: id }),
        4,
        /CNI_CONTAINERID/,
      );
      assert.equal(err.details, id);
    });
  }
});

describe("CNI_IFNAME rules (the reference ValidateInterfaceName)", () => {
  const valid = ["eth0", "a", "net1", "123456789012345", "veth-a_b.c", "ëth0", "eth@0"];
  for (const name of valid) {
    it(`accepts ${JSON.stringify(name)}`, () => {
      assert.equal(ifNameProblem(name), undefined);
      assert.equal(parseEnv({ CNI_COMMAND: "ADD", ...FULL, CNI_IFNAME: name }).ifName, name);
    });
  }
  const invalid: [string, RegExp][] = [
    ["1234567890123456", /16 bytes long; Linux allows at most 15/],
    // 8 characters but 16 bytes: Linux counts bytes.
    ["éééééééé", /16 bytes long/],
    [".", /'\.' or '\.\.'/],
    ["..", /'\.' or '\.\.'/],
    ["eth/0", /'\/', ':' or white space/],
    ["eth:0", /'\/', ':' or white space/],
    ["eth 0", /white space/],
    ["eth\t0", /white space/],
    ["eth\n", /white space/],
    ["eth\u00a00", /white space/],
    ["eth\u00850", /white space/],
    ["eth\u20280", /white space/],
  ];
  for (const [name, pattern] of invalid) {
    it(`rejects ${JSON.stringify(name)} with error 4`, () => {
      assert.match(ifNameProblem(name) ?? "", pattern);
      throwsCni(() => parseEnv({ CNI_COMMAND: "ADD", ...FULL, CNI_IFNAME: name }), 4, /CNI_IFNAME/);
    });
  }
  it("an empty name is a problem of its own", () => assert.equal(ifNameProblem(""), "is empty"));
  // U+FEFF is white space to JavaScript's \s but not to Go's unicode.IsSpace.
  it("accepts U+FEFF, which Go does not count as white space", () =>
    assert.equal(ifNameProblem("eth\ufeff"), undefined));
});

describe("network names (the reference ValidateNetworkName)", () => {
  for (const name of ["mynet", "0net", "my-net_1.2"]) {
    it(`accepts ${JSON.stringify(name)}`, () => assert.equal(networkNameProblem(name), undefined));
  }
  for (const name of ["", "-net", "my net", "my/net", "net:1"]) {
    it(`rejects ${JSON.stringify(name)}`, () => assert.notEqual(networkNameProblem(name), undefined));
  }
});

describe("parseCniArgs() splits K=V pairs as the reference LoadArgs does", () => {
  const valid: [string, [string, string][]][] = [
    ["", []],
    ["IP=10.0.0.2", [["IP", "10.0.0.2"]]],
    [
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod",
      [
        ["IgnoreUnknown", "1"],
        ["K8S_POD_NAMESPACE", "ns"],
        ["K8S_POD_NAME", "pod"],
      ],
    ],
    ["A=", [["A", ""]]],
    ["=v", [["", "v"]]],
    ["A=1;A=2", [["A", "2"]]],
    ["IP=10.0.0.2/24,10.0.1.2/24", [["IP", "10.0.0.2/24,10.0.1.2/24"]]],
  ];
  for (const [text, pairs] of valid) {
    it(`reads ${JSON.stringify(text)}`, () => assert.deepEqual([...parseCniArgs(text)], pairs));
  }
  const invalid: [string, string][] = [
    ["A", "A"],
    ["A=1;", ""],
    [";A=1", ""],
    ["A=1;;B=2", ""],
    ["A=b=c", "A=b=c"],
    ["A=1;B", "B"],
  ];
  for (const [text, pair] of invalid) {
    it(`rejects ${JSON.stringify(text)} naming the pair ${JSON.stringify(pair)}`, () => {
      throwsCni(() => parseCniArgs(text), 4, new RegExp(`invalid pair "${pair}"`));
    });
  }
});

describe("IgnoreUnknown takes the reference library's boolean values", () => {
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ["1", true],
    ["true", true],
    ["True", true],
    ["TRUE", true],
    ["tRuE", true],
    ["0", false],
    ["false", false],
    ["FALSE", false],
  ];
  for (const [value, expected] of cases) {
    it(`IgnoreUnknown=${value ?? "(absent)"} is ${expected}`, () => {
      const args = parseCniArgs(value === undefined ? "A=1" : `IgnoreUnknown=${value}`);
      assert.equal(ignoresUnknown(args), expected);
    });
  }
  for (const value of ["t", "T", "yes", "on", "", "2"]) {
    it(`IgnoreUnknown=${JSON.stringify(value)} is error 4`, () => {
      throwsCni(
        () => ignoresUnknown(parseCniArgs(`IgnoreUnknown=${value}`)),
        4,
        /invalid value .* for IgnoreUnknown/,
      );
    });
  }
});

describe("checkKnownArgs() refuses unknown keys unless IgnoreUnknown", () => {
  const known = ["IP", "GATEWAY"];
  const accepted = [
    "",
    "IP=10.0.0.2/24",
    "IP=10.0.0.2/24;GATEWAY=10.0.0.1",
    "IgnoreUnknown=1;FOO=bar",
    "IgnoreUnknown=true;=v",
    "IgnoreUnknown=0;IP=1",
  ];
  for (const text of accepted) {
    it(`accepts ${JSON.stringify(text)}`, () => checkKnownArgs(parseCniArgs(text), known));
  }
  const refused: [string, RegExp][] = [
    ["FOO=bar", /unknown key "FOO"/],
    ["IP=1;FOO=bar;BAR=2", /unknown keys "FOO", "BAR"/],
    ["IgnoreUnknown=0;FOO=bar", /unknown key "FOO"/],
    ["=v", /unknown key ""/],
    ["ip=10.0.0.2/24", /unknown key "ip"/],
  ];
  for (const [text, pattern] of refused) {
    it(`refuses ${JSON.stringify(text)} with error 4`, () => {
      throwsCni(() => checkKnownArgs(parseCniArgs(text), known), 4, pattern);
    });
  }
  it("an invalid IgnoreUnknown value is an error even with only known keys", () => {
    throwsCni(() => checkKnownArgs(parseCniArgs("IgnoreUnknown=yes;IP=1"), known), 4, /IgnoreUnknown/);
  });
});
