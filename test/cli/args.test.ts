// The `dockin` commands' flag parsing: parseArgs with a clear message for an unknown flag.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { editDistance, FlagError, nearest, parseFlags } from "../../src/cli/args.ts";

const options = {
  subnet: { type: "string" },
  "dry-run": { type: "boolean" },
  "range-start": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

describe("parseFlags", () => {
  const cases: [string, string[], RegExp][] = [
    ["a typo gets the nearest flag", ["--subnt", "x"], /^unknown option --subnt; did you mean --subnet\?$/],
    ["a missing dash", ["--dryrun"], /^unknown option --dryrun; did you mean --dry-run\?$/],
    ["a prefix", ["--range"], /^unknown option --range; did you mean --range-start\?$/],
    ["=value form", ["--subnett=10.0.0.0/24"], /^unknown option --subnett; did you mean --subnet\?$/],
    ["nothing near", ["--frobnicate"], /^unknown option --frobnicate$/],
    ["an unknown short flag", ["-x"], /^unknown option -x$/],
    ["a missing value keeps parseArgs's text", ["--subnet"], /--subnet/],
  ];
  for (const [name, args, message] of cases) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => parseFlags({ args, options }),
        (err: unknown) =>
          err instanceof FlagError && message.test(err.message) && err.code.startsWith("ERR_PARSE_ARGS"),
      );
    });
  }

  it("parses known flags as parseArgs does", () => {
    const { values } = parseFlags({ args: ["--subnet", "10.0.0.0/24", "-h"], options });
    assert.deepEqual({ ...values }, { subnet: "10.0.0.0/24", help: true });
  });

  it("measures edit distance and keeps far names unsuggested", () => {
    assert.equal(editDistance("subnt", "subnet"), 1);
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(nearest("gatway", ["gateway", "subnet"]), "gateway");
    assert.equal(nearest("zzzzzz", ["gateway", "subnet"]), undefined);
  });
});
