// dockin-ipam against the reference static plugin, case by case over the corpus (corpus.ts).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { type Case, corpus, SHARED_VERSIONS } from "./corpus.ts";
import { OURS, type Outcome, runCase, STATIC } from "./run.ts";

function expectedToFail(c: Case, version: string): boolean {
  return c.fails === true || (Array.isArray(c.fails) && c.fails.includes(version));
}

function describeRun(label: string, c: Case, version: string, out: Outcome & { stdin: string }): string {
  return [
    `${label} ${c.command ?? "ADD"} at ${version}`,
    `  CNI_ARGS=${c.cniArgs ?? ""}${c.env ? `  env=${JSON.stringify(c.env)}` : ""}`,
    `  stdin:  ${out.stdin}`,
    `  stdout: ${out.stdout.trim().replaceAll("\n", "\n          ")}`,
  ].join("\n");
}

/** dockin-ipam's own outcome: the expected success or failure, and a useful error. */
function checkOurs(c: Case, version: string, ours: Outcome & { stdin: string }): void {
  const shouldFail = expectedToFail(c, version);
  assert.equal(
    !ours.ok,
    shouldFail,
    `dockin-ipam should ${shouldFail ? "fail" : "succeed"}\n${describeRun("dockin-ipam", c, version, ours)}`,
  );
  if (ours.ok) return;
  const err = ours.json as { code?: unknown; msg?: unknown };
  assert.equal(typeof err?.code, "number", `error object without a code: ${ours.stdout}`);
  assert.equal(typeof err.msg, "string", `error object without a msg: ${ours.stdout}`);
  if (c.error?.code !== undefined) assert.equal(err.code, c.error.code, `error code of ${ours.stdout}`);
  for (const part of c.error?.includes ?? []) {
    assert.ok((err.msg as string).includes(part), `the error should mention ${part}: ${err.msg}`);
  }
}

function agree(a: Outcome, b: Outcome): boolean {
  if (a.ok !== b.ok) return false;
  if (!a.ok) return true;
  try {
    assert.deepEqual(a.json, b.json);
    return true;
  } catch {
    return false;
  }
}

if (!existsSync(OURS)) {
  test("dist/bin/dockin-ipam exists", () => {
    assert.fail(`${OURS} is missing: run \`npm run build\` before the tests`);
  });
} else if (!existsSync(STATIC)) {
  test("the reference static plugin is installed", () => {
    assert.fail(`${STATIC} is missing: install Debian's containernetworking-plugins (see .ci/run)`);
  });
} else {
  test("corpus case names are unique", () => {
    const names = corpus.map((c) => c.name);
    assert.deepEqual(
      names.filter((n, i) => names.indexOf(n) !== i),
      [],
    );
  });

  for (const c of corpus) {
    test(c.staticDiffers ? `${c.name} [static differs]` : c.name, async () => {
      const versions = c.versions ?? SHARED_VERSIONS;
      const runs = await Promise.all(
        versions.map(async (version) => ({
          version,
          ours: await runCase(c, version, OURS),
          ref: await runCase(c, version, STATIC),
        })),
      );
      for (const { version, ours, ref } of runs) {
        checkOurs(c, version, ours);
        const both = `${describeRun("dockin-ipam", c, version, ours)}\n${describeRun("static", c, version, ref)}`;
        const differs = c.staticDiffers;
        if (differs === undefined || !(differs.versions ?? versions).includes(version)) {
          assert.equal(ours.ok, ref.ok, `success differs from static\n${both}`);
          if (ours.ok) assert.deepEqual(ours.json, ref.json, `result differs from static\n${both}`);
        } else {
          assert.ok(
            !agree(ours, ref),
            `static now agrees with dockin-ipam: update staticDiffers ("${differs.why}")\n${both}`,
          );
        }
      }

      // At 1.1.0, which static does not speak: dockin-ipam alone, against its own 1.0.0 answer.
      const base = runs.find((r) => r.version === "1.0.0");
      if (base === undefined || c.at110 === "skip") return;
      const at110 = await runCase(c, "1.1.0", OURS);
      const spec = typeof c.at110 === "object" ? c.at110 : {};
      const wantOk = spec.fails === undefined ? base.ours.ok : !spec.fails;
      const seen = describeRun("dockin-ipam", c, "1.1.0", at110);
      assert.equal(at110.ok, wantOk, `at 1.1.0 dockin-ipam should ${wantOk ? "succeed" : "fail"}\n${seen}`);
      if (!at110.ok) return;
      if (spec.result !== undefined) {
        assert.deepEqual(at110.json, spec.result, `result at 1.1.0\n${seen}`);
      } else if (base.ours.ok && base.ours.json !== undefined) {
        const want = { ...(base.ours.json as Record<string, unknown>), cniVersion: "1.1.0" };
        assert.deepEqual(at110.json, want, `result at 1.1.0 should be the 1.0.0 one\n${seen}`);
      } else {
        assert.equal(at110.json, undefined, `nothing on stdout at 1.1.0\n${seen}`);
      }
    });
  }
}
