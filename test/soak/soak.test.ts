// The soak and fault suite's short version (bench/soak.ts --short): a burst, a few hundred
// ADD/DEL cycles and every fault once, against the built executables, a real RM on SQLite, real
// namespaces and the real bridge. It checks that nothing leaks, nothing acknowledged is lost and
// no address is held twice; the figures it prints are not asserted (the full run by hand puts
// them in BENCHMARKS.md).
import assert from "node:assert/strict";
import { test } from "node:test";
import { runSoak, SHORT } from "../../bench/soak.ts";

test("soak (short): the burst, the cycles and every fault leave nothing and lose nothing", {
  timeout: 15 * 60_000,
}, async (t) => {
  const report = await runSoak({ ...SHORT, out: (line) => t.diagnostic(line) });
  assert.deepEqual(report.problems, []);
});
