// errors.ts: the spec's error codes, the error object every failure becomes, and FieldErrors.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CniError, ErrorCode, errorText, FieldErrors, toErrorObject } from "../../src/cni/errors.ts";

describe("ErrorCode holds the spec's well-known codes", () => {
  const spec: [keyof typeof ErrorCode, number][] = [
    ["IncompatibleVersion", 1],
    ["UnsupportedField", 2],
    ["UnknownContainer", 3],
    ["InvalidEnvironment", 4],
    ["IOFailure", 5],
    ["DecodeFailure", 6],
    ["InvalidConfig", 7],
    ["TryAgainLater", 11],
    ["PluginNotAvailable", 50],
    ["LimitedConnectivity", 51],
  ];
  for (const [name, code] of spec) it(`${name} is ${code}`, () => assert.equal(ErrorCode[name], code));
  it("InvalidNetNS is 8, as in the reference library", () => assert.equal(ErrorCode.InvalidNetNS, 8));
  it("Dockin's own codes are 100 and above (the spec leaves those to plugins)", () => {
    assert.ok(ErrorCode.DelegateFailed >= 100);
    assert.ok(ErrorCode.BackendRefused >= 100);
    // The reference library's ErrInternal, for errors that carry no code.
    assert.equal(ErrorCode.Internal, 999);
  });
});

describe("toErrorObject()", () => {
  for (const code of Object.values(ErrorCode)) {
    it(`a CniError with code ${code} keeps it`, () => {
      assert.deepEqual(toErrorObject(new CniError(code, "what failed"), "1.0.0"), {
        cniVersion: "1.0.0",
        code,
        msg: "what failed",
      });
    });
  }
  it("prints details when there are some", () => {
    assert.deepEqual(
      toErrorObject(new CniError(7, "bad config", { details: "ipam.addresses[0]" }), "0.4.0"),
      {
        cniVersion: "0.4.0",
        code: 7,
        msg: "bad config",
        details: "ipam.addresses[0]",
      },
    );
  });
  const others: [string, unknown, string][] = [
    ["a plain Error", new Error("boom"), "boom"],
    ["a TypeError", new TypeError("x is not a function"), "x is not a function"],
    ["a string", "just text", "just text"],
    ["undefined", undefined, "undefined"],
    ["an object", { code: 7 }, "[object Object]"],
  ];
  for (const [why, err, msg] of others) {
    it(`${why} is error 999 (internal), as the reference skel maps untyped errors`, () => {
      assert.deepEqual(toErrorObject(err, "1.1.0"), { cniVersion: "1.1.0", code: 999, msg });
    });
  }
  it("a CniError keeps its cause", () => {
    const cause = new Error("EACCES");
    const err = new CniError(5, "writing x: EACCES", { cause });
    assert.equal(err.cause, cause);
    assert.equal(err.name, "CniError");
    assert.ok(err instanceof Error);
  });
});

describe("FieldErrors collects every problem", () => {
  it("throws nothing when empty", () => {
    const errors = new FieldErrors();
    assert.equal(errors.empty, true);
    errors.throwIfAny("checking the config");
  });
  it("throws one error 7 listing every problem with its path, in order", () => {
    const errors = new FieldErrors();
    errors.add("ipam.addresses[0].address", '"10.0.0.2" has no prefix length');
    errors.add("ipam.routes[1].gw", '"x" is not an IP address');
    errors.add("dns.nameservers", "is not a list");
    assert.equal(errors.empty, false);
    assert.equal(errors.problems.length, 3);
    assert.throws(
      () => errors.throwIfAny("invalid ipam config"),
      (e: unknown) =>
        e instanceof CniError &&
        e.code === 7 &&
        e.message ===
          'invalid ipam config: ipam.addresses[0].address: "10.0.0.2" has no prefix length; ipam.routes[1].gw: "x" is not an IP address; dns.nameservers: is not a list',
    );
  });
  it("throws with another code when asked", () => {
    const errors = new FieldErrors();
    errors.add("CNI_ARGS.IP", "is not a CIDR");
    assert.throws(
      () => errors.throwIfAny("invalid CNI_ARGS", ErrorCode.InvalidEnvironment),
      (e: unknown) => e instanceof CniError && e.code === 4,
    );
  });
});

describe("describe() prints an error with its causes", () => {
  it("joins the chain of causes", () => {
    const err = new Error("attaching eth1", {
      cause: new Error("bridge ADD failed", { cause: new Error("EEXIST") }),
    });
    assert.equal(errorText(err), "attaching eth1: bridge ADD failed: EEXIST");
  });
  it("prints a non-Error as text", () => assert.equal(errorText("plain"), "plain"));
  it("stops after five levels", () => {
    let err = new Error("0");
    for (let i = 1; i < 10; i++) err = new Error(String(i), { cause: err });
    assert.equal(errorText(err), "9: 8: 7: 6: 5");
  });
});
