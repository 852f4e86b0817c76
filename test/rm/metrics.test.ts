import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Metrics } from "../../src/rm/metrics.ts";

describe("metrics", () => {
  it("renders cumulative histogram buckets, +Inf equal to the count", () => {
    const m = new Metrics();
    for (const s of [0.0001, 0.003, 0.003, 0.2, 9]) m.observe("/x", "GET", 200, s);
    const text = m.render([{ network: 'a"b', family: 6, size: 10, allocated: 2 }], 3);
    const bucket = (le: string) =>
      Number(
        new RegExp(`_bucket\\{route="/x",le="${le.replace(".", "\\.").replace("+", "\\+")}"\\} (\\d+)`).exec(
          text,
        )?.[1],
      );
    assert.deepEqual(["0.0005", "0.005", "0.25", "5", "+Inf"].map(bucket), [1, 3, 4, 4, 5]);
    assert.match(text, /dockin_rm_http_request_duration_seconds_count\{route="\/x"\} 5/);
    assert.match(text, /dockin_rm_http_requests_total\{route="\/x",method="GET",status="200"\} 5/);
    assert.match(text, /dockin_rm_pool_allocated\{network="a\\"b",family="ipv6"\} 2/);
    assert.match(text, /dockin_rm_pods 3/);
  });
});
