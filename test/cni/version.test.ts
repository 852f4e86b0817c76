// version.ts: comparing versions as the reference pkg/version does, which verbs each version
// allows, and choosing the version to speak to a delegate.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CniError } from "../../src/cni/errors.ts";
import {
  ALL_VERSIONS,
  compareVersions,
  isSpecVersion,
  negotiate,
  parseVersion,
  sinceVersion,
  VERBS,
  verbAllowed,
} from "../../src/cni/version.ts";

const sign = (n: number) => Math.sign(n);

describe("compareVersions()", () => {
  const cases: [string, string, -1 | 0 | 1][] = [
    ["0.1.0", "0.1.0", 0],
    ["0.3.0", "0.3.1", -1],
    ["0.4.0", "0.3.1", 1],
    ["1.0.0", "0.4.0", 1],
    ["1.1.0", "1.0.0", 1],
    ["0.10.0", "0.9.0", 1],
    ["1.0", "1.0.0", 0],
    ["1", "1.0.0", 0],
    // A config without a version is 0.1.0.
    ["", "0.1.0", 0],
    ["", "0.2.0", -1],
  ];
  for (const [a, b, expected] of cases) {
    it(`${JSON.stringify(a)} ${["<", "=", ">"][expected + 1]} ${JSON.stringify(b)}`, () => {
      assert.equal(sign(compareVersions(a, b)), expected);
      assert.equal(sign(compareVersions(b, a)), -expected || 0);
    });
  }
  it("the spec versions are listed in order", () => {
    const sorted = [...ALL_VERSIONS].sort(compareVersions);
    assert.deepEqual(sorted, [...ALL_VERSIONS]);
  });
  for (const bad of ["abc", "1.0.0.0", "1.x.0", "1.0.0-rc1", "v1.0.0", "1..0"]) {
    it(`throws a decode error (6) on ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => compareVersions(bad, "1.0.0"),
        (err: unknown) => err instanceof CniError && err.code === 6 && err.message.includes(bad),
      );
      assert.equal(parseVersion(bad), undefined);
    });
  }
});

describe("isSpecVersion()", () => {
  for (const v of ALL_VERSIONS) it(`${v} is a spec version`, () => assert.ok(isSpecVersion(v)));
  for (const v of ["1.0", "0.5.0", "2.0.0", "", 1]) {
    it(`${JSON.stringify(v)} is not`, () => assert.equal(isSpecVersion(v), false));
  }
});

describe("verbAllowed(): which verbs each version has", () => {
  const since = {
    ADD: "0.1.0",
    DEL: "0.1.0",
    VERSION: "0.1.0",
    CHECK: "0.4.0",
    STATUS: "1.1.0",
    GC: "1.1.0",
  };
  for (const verb of VERBS) {
    it(`${verb} is allowed from ${since[verb]}`, () => {
      assert.equal(sinceVersion(verb), since[verb]);
      for (const v of ALL_VERSIONS) {
        assert.equal(verbAllowed(verb, v), compareVersions(v, since[verb]) >= 0, `${verb} at ${v}`);
      }
    });
  }
  it("CHECK is refused at 0.3.1 and allowed at 0.4.0", () => {
    assert.equal(verbAllowed("CHECK", "0.3.1"), false);
    assert.equal(verbAllowed("CHECK", "0.4.0"), true);
  });
  it("STATUS and GC are refused at 1.0.0 and allowed at 1.1.0", () => {
    for (const verb of ["STATUS", "GC"] as const) {
      assert.equal(verbAllowed(verb, "1.0.0"), false);
      assert.equal(verbAllowed(verb, "1.1.0"), true);
    }
  });
});

describe("negotiate(): the version to speak to a delegate", () => {
  const debianPlugins = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"];
  const cases: [string, readonly string[], string | undefined, string][] = [
    ["1.1.0", debianPlugins, "1.0.0", "a 1.1.0 config talks 1.0.0 to Debian's plugins"],
    ["1.0.0", debianPlugins, "1.0.0", "the config's own version when the delegate has it"],
    ["0.3.1", debianPlugins, "0.3.1", "an old config stays old"],
    ["0.4.0", ["0.3.1", "0.1.0"], "0.3.1", "the newest older version"],
    ["0.4.0", ["1.0.0", "0.3.0", "0.3.1"], "0.3.1", "unsorted lists"],
    ["0.2.0", ["0.3.0", "1.0.0"], undefined, "nothing when the delegate only has newer versions"],
    ["1.0.0", [], undefined, "nothing from an empty list"],
    ["1.0.0", ["junk", "0.4.0", "1.0.0-rc1"], "0.4.0", "entries that are not versions are skipped"],
    ["junk", debianPlugins, undefined, "nothing for a wanted version that is not one"],
  ];
  for (const [wanted, supported, expected, why] of cases) {
    it(`${why}: ${wanted} with [${supported.join(" ")}] → ${expected}`, () =>
      assert.equal(negotiate(wanted, supported), expected));
  }
});
