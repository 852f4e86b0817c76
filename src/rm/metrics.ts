// Prometheus text exposition for the RM: request counts and latency per route, pool sizes and use.
// Counted in plain maps on the request path (a few additions per request); rendered on scrape.

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export interface PoolGauge {
  network: string;
  family: 4 | 6;
  size: number;
  allocated: number;
}

const label = (v: string): string => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly started = Date.now();

  /** Records one answered request; `route` is the route's pattern, never the raw path. */
  observe(route: string, method: string, status: number, seconds: number): void {
    const key = `${route}\u0000${method}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let h = this.latency.get(route);
    if (h === undefined) {
      h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.latency.set(route, h);
    }
    // Counted in the first bucket that holds it; made cumulative when rendered.
    const i = BUCKETS.findIndex((le) => seconds <= le);
    if (i >= 0) h.counts[i] = (h.counts[i] ?? 0) + 1;
    h.sum += seconds;
    h.count++;
  }

  render(pools: PoolGauge[], pods: number): string {
    const out: string[] = [];
    out.push("# HELP dockin_rm_http_requests_total HTTP requests answered, by route, method and status.");
    out.push("# TYPE dockin_rm_http_requests_total counter");
    for (const [key, n] of this.requests) {
      const [route = "", method = "", status = ""] = key.split("\u0000");
      out.push(
        `dockin_rm_http_requests_total{route="${label(route)}",method="${method}",status="${status}"} ${n}`,
      );
    }
    out.push("# HELP dockin_rm_http_request_duration_seconds Time to answer a request, by route.");
    out.push("# TYPE dockin_rm_http_request_duration_seconds histogram");
    for (const [route, h] of this.latency) {
      const r = label(route);
      let cumulative = 0;
      BUCKETS.forEach((le, i) => {
        cumulative += h.counts[i] ?? 0;
        out.push(`dockin_rm_http_request_duration_seconds_bucket{route="${r}",le="${le}"} ${cumulative}`);
      });
      out.push(`dockin_rm_http_request_duration_seconds_bucket{route="${r}",le="+Inf"} ${h.count}`);
      out.push(`dockin_rm_http_request_duration_seconds_sum{route="${r}"} ${h.sum}`);
      out.push(`dockin_rm_http_request_duration_seconds_count{route="${r}"} ${h.count}`);
    }
    out.push("# HELP dockin_rm_pool_size Addresses a network's range can hand out, by family.");
    out.push("# TYPE dockin_rm_pool_size gauge");
    for (const p of pools)
      out.push(`dockin_rm_pool_size{network="${label(p.network)}",family="ipv${p.family}"} ${p.size}`);
    out.push("# HELP dockin_rm_pool_allocated Addresses of a network held by pods, by family.");
    out.push("# TYPE dockin_rm_pool_allocated gauge");
    for (const p of pools)
      out.push(
        `dockin_rm_pool_allocated{network="${label(p.network)}",family="ipv${p.family}"} ${p.allocated}`,
      );
    out.push("# HELP dockin_rm_pods Pods recorded in the store.");
    out.push("# TYPE dockin_rm_pods gauge");
    out.push(`dockin_rm_pods ${pods}`);
    out.push("# HELP dockin_rm_uptime_seconds Seconds since the RM started.");
    out.push("# TYPE dockin_rm_uptime_seconds gauge");
    out.push(`dockin_rm_uptime_seconds ${(Date.now() - this.started) / 1000}`);
    return `${out.join("\n")}\n`;
  }
}
