// Address history through the RM's API (a real server on a real SQLite file), its retention, and
// `dockin history` as a process against a real `dockin rm serve`.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { planPod } from "../../src/rm/allocate.ts";
import { type HistoryEvent, idFloor, timeOfId } from "../../src/rm/history.ts";
import type { AddressReply } from "../../src/rm/history-api.ts";
import { HistoryPruner, parseRetention } from "../../src/rm/history-prune.ts";
import { Tokens } from "../../src/rm/http.ts";
import { streamLogger } from "../../src/rm/log.ts";
import { openSqliteStore } from "../../src/rm/sqlite-store.ts";
import { obj, type Rm, type RmProcess, runDockin, startRm, startRmProcess } from "./helpers.ts";

const AUTH = { authorization: "Bearer admin-token" };

interface Page {
  items: HistoryEvent[];
  next: string | null;
}

describe("history API", () => {
  let rm: Rm;
  const get = async (path: string) => {
    const r = await rm.call("GET", path, undefined, AUTH);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await rm.call(method, path, body, AUTH);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  const webhook = (pod: string, containerId: string, node: string) =>
    ok(
      "GET",
      `/rmController/getPodMultiNetwork?podNamespace=shop&podName=${pod}&containerId=${containerId}&node=${node}`,
    );

  before(async () => {
    rm = await startRm({ tokens: new Tokens("admin-token\n") });
    await ok("PUT", "/api/v1/networks/blue", { subnet: "10.250.1.0/24", gateway: "10.250.1.1" });
    await ok("PUT", "/api/v1/policies/shop", {
      namespace: "shop",
      networks: [{ network: "blue" }],
      sticky: false,
    });
    // Each change in a millisecond of its own: "who held it at T" is asked at each event's time,
    // and two events in one millisecond would answer for the later one (a fast RM makes them).
    const nextMs = () => new Promise((r) => setTimeout(r, 2));
    await webhook("web-0", "c1", "node-1"); // allocated .2
    await nextMs();
    await webhook("web-0", "c2", "node-2"); // reassigned
    await nextMs();
    await ok("POST", "/api/v1/pods/shop/web-0/release", { containerId: "c2" }); // released
    await nextMs();
    await ok("PUT", "/api/v1/pods/shop/db-0", { networks: [{ network: "blue", ip: "10.250.1.37" }] }); // reserved
    await webhook("web-1", "c3", "node-1"); // allocated .3
    await ok("POST", "/api/v1/gc", { pods: [] }); // gc of web-1 (db-0 is sticky)
    await ok("DELETE", "/api/v1/pods/shop/db-0"); // released
    await ok("DELETE", "/api/v1/policies/shop");
    await ok("DELETE", "/api/v1/networks/blue"); // network-deleted
  });
  after(async () => {
    await rm?.stop();
  });

  it("records every change of holder the API, the webhook and gc make, newest first", async () => {
    const page = (await get("/api/v1/history")) as Page;
    assert.equal(page.next, null);
    assert.deepEqual(
      page.items
        .map((e) => `${e.event} ${e.address} ${e.namespace}/${e.name} ${e.containerId} ${e.node}`)
        .reverse(),
      [
        "allocated 10.250.1.2 shop/web-0 c1 node-1",
        "reassigned 10.250.1.2 shop/web-0 c2 node-2",
        "released 10.250.1.2 shop/web-0 c2 node-2",
        "reserved 10.250.1.37 shop/db-0 null null",
        "allocated 10.250.1.3 shop/web-1 c3 node-1",
        "gc 10.250.1.3 shop/web-1 c3 node-1",
        "released 10.250.1.37 shop/db-0 null null",
        "network-deleted  / null null",
      ],
    );
    for (const e of page.items) {
      assert.deepEqual(Object.keys(e), [
        "id",
        "time",
        "event",
        "network",
        "address",
        "namespace",
        "name",
        "containerId",
        "node",
      ]);
      assert.equal(e.network, "blue");
    }
  });

  it("pages with limit and next, and filters by address, pod, network and time", async () => {
    const all = ((await get("/api/v1/history")) as Page).items.map((e) => e.id);
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const page = (await get(`/api/v1/history?limit=3${next === null ? "" : `&after=${next}`}`)) as Page;
      assert.ok(page.items.length <= 3);
      seen.push(...page.items.map((e) => e.id));
      next = page.next;
    } while (next !== null);
    assert.deepEqual(seen, all);
    const events = async (query: string) =>
      ((await get(`/api/v1/history?${query}`)) as Page).items.map((e) => e.event);
    assert.deepEqual(await events("address=10.250.1.2"), ["released", "reassigned", "allocated"]);
    assert.deepEqual(await events("pod=shop/web-1"), ["gc", "allocated"]);
    assert.deepEqual(await events("pod=shop/web-1&address=10.250.1.2"), []);
    assert.equal((await events("network=blue")).length, 8);
    assert.deepEqual(await events("network=red"), []);
    const newest = ((await get("/api/v1/history?limit=1")) as Page).items[0];
    assert.ok(newest);
    assert.deepEqual(await events(`since=${encodeURIComponent(newest.time)}`), ["network-deleted"]);
    assert.deepEqual(await events(`until=${encodeURIComponent(newest.time)}&pod=shop/db-0&limit=1`), [
      "released",
    ]);
  });

  it("answers who held an address at a time, and now", async () => {
    const events = ((await get("/api/v1/history?address=10.250.1.2")) as Page).items;
    const [released, reassigned, allocated] = events;
    assert.ok(released && reassigned && allocated);
    const at = async (time?: string, ip = "10.250.1.2") =>
      (await get(
        `/api/v1/addresses/${ip}${time === undefined ? "" : `?at=${encodeURIComponent(time)}`}`,
      )) as AddressReply;
    assert.equal((await at(new Date(Date.parse(allocated.time) - 1).toISOString())).holder, null);
    const first = await at(allocated.time);
    assert.deepEqual(first, {
      address: "10.250.1.2",
      at: allocated.time,
      holder: {
        network: "blue",
        namespace: "shop",
        name: "web-0",
        containerId: "c1",
        node: "node-1",
        since: allocated.time,
      },
      history: [allocated],
    });
    assert.equal((await at(reassigned.time)).holder?.containerId, "c2");
    // The same instant written with an offset, escaped, and with its '+' left unescaped (a space).
    const local = new Date(Date.parse(reassigned.time) + 3_600_000).toISOString().replace("Z", "+01:00");
    assert.equal((await at(local)).at, reassigned.time);
    const raw = (await get(`/api/v1/addresses/10.250.1.2?at=${local}`)) as AddressReply;
    assert.equal(raw.at, reassigned.time);
    const now = await at();
    assert.equal(now.at, null);
    assert.equal(now.holder, null);
    assert.deepEqual(now.history, [released, reassigned, allocated]);
    assert.equal((await at(reassigned.time, "10.250.1.37")).holder, null);
    const newest = ((await get("/api/v1/history?pod=shop/db-0")) as Page).items[0];
    assert.ok(newest?.event === "released");
    assert.equal(
      (await at(new Date(Date.parse(newest.time) - 1).toISOString(), "10.250.1.37")).holder?.name,
      "db-0",
    );
  });

  it("reads an IPv6 address (or an IPv4-mapped one) in any form, answering in canonical text", async () => {
    for (const [path, address] of [
      ["/api/v1/addresses/fd00:0:0::0005", "fd00::5"],
      ["/api/v1/addresses/fd00%3A%3A5", "fd00::5"],
      ["/api/v1/addresses/::ffff:10.250.1.2", "10.250.1.2"],
    ] as const) {
      const reply = (await get(path)) as AddressReply;
      assert.equal(reply.address, address, path);
    }
    const mapped = (await get("/api/v1/history?address=::ffff:10.250.1.2")) as Page;
    assert.equal(mapped.items.length, 3);
  });

  it("answers 400 naming the parameter and its fix", async () => {
    const cases: [string, RegExp][] = [
      ["/api/v1/history?limit=0", /limit: "0" is not an integer from 1 to 1000/],
      ["/api/v1/history?limit=abc", /limit: "abc" is not an integer/],
      [
        "/api/v1/history?address=10.0.0.1/24",
        /address: "10\.0\.0\.1\/24" is not an IPv4 or IPv6 address \(give the address without its prefix length\)/,
      ],
      ["/api/v1/history?pod=web-0", /pod: "web-0" is not namespace\/name \(e\.g\. pod=shop\/web-0\)/],
      ["/api/v1/history?pod=shop/-x", /pod: "-x" is not a valid pod name/],
      ["/api/v1/history?network=a/b", /network: "a\/b" is not a valid network name/],
      [
        "/api/v1/history?since=yesterday",
        /since: "yesterday" is not an RFC 3339 time with a zone \(e\.g\. 2026-11-30T14:05:00Z/,
      ],
      [
        "/api/v1/history?until=2026-11-30T14:05:00",
        /until: "2026-11-30T14:05:00" is not an RFC 3339 time with a zone/,
      ],
      [
        "/api/v1/history?since=2026-12-01T00:00:00Z&until=2026-11-30T00:00:00Z",
        /until: .* is before since .*; swap them/,
      ],
      [
        "/api/v1/history?after=xyz",
        /after: "xyz" is not an event id \(pass the "next" of the previous page\)/,
      ],
      [
        "/api/v1/history?adress=10.0.0.1",
        /adress: unknown parameter \(expected address, pod, network, since, until, limit, after\)/,
      ],
      ["/api/v1/history?limit=1&limit=2", /limit: given more than once/],
      ["/api/v1/addresses/10.250.1", /ip: "10\.250\.1" is not an IPv4 or IPv6 address/],
      [
        "/api/v1/addresses/10.250.1.2?at=2026-13-01T00:00:00Z",
        /at: "2026-13-01T00:00:00Z" is not an RFC 3339 time/,
      ],
      ["/api/v1/addresses/10.250.1.2?when=now", /when: unknown parameter \(expected at\)/],
    ];
    for (const [path, message] of cases) {
      const r = await rm.call("GET", path, undefined, AUTH);
      assert.equal(r.status, 400, path);
      assert.equal(obj(r).reason, "BadRequest");
      assert.match(String(obj(r).message), message, path);
    }
  });

  it("needs the admin token", async () => {
    for (const path of ["/api/v1/history", "/api/v1/addresses/10.250.1.2"]) {
      const r = await rm.call("GET", path);
      assert.equal(r.status, 401, path);
    }
  });
});

describe("history retention", () => {
  it("reads durations in days, hours and minutes; 0 keeps forever; anything else is refused", () => {
    assert.equal(parseRetention("90d"), 90 * 86_400_000);
    assert.equal(parseRetention("12h"), 12 * 3_600_000);
    assert.equal(parseRetention("30m"), 30 * 60_000);
    assert.equal(parseRetention("0"), 0);
    for (const bad of ["", "90", "1w", "-1d", "0d", "1.5d", "d"]) {
      assert.throws(
        () => parseRetention(bad),
        /--history-retention ".*": expected a duration such as 90d, 12h or 30m, or 0/,
      );
    }
  });

  it("prunes past the retention in batches, keeping each address's latest event, while allocations go on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dockin-history-prune-"));
    const store = await openSqliteStore(join(dir, "rm.db"));
    try {
      const now = Date.parse("2026-11-30T12:00:00Z");
      const day = 86_400_000;
      const at = (ms: number, n: number, address: string): HistoryEvent => {
        const id = `${idFloor(ms)}${n.toString(16).padStart(6, "0")}000001`;
        const e = {
          id,
          time: timeOfId(id),
          event: "allocated" as const,
          network: "n",
          address,
          namespace: "ns",
          name: `p${n}`,
        };
        return { ...e, containerId: null, node: null };
      };
      // 40 events 100 days old on 4 addresses, and one recent event.
      await store.importHistory([
        ...Array.from({ length: 40 }, (_, i) => at(now - 100 * day + i, i, `10.0.0.${i % 4}`)),
        at(now - day, 99, "10.0.0.9"),
      ]);
      await store.putNetwork("n", () => ({
        name: "n",
        spec: { subnet: "10.1.0.0/24" },
        created: "x",
        updated: "x",
      }));
      const pruner = new HistoryPruner(store, 90 * day, streamLogger("error"), { batch: 5, now: () => now });
      const order: string[] = [];
      const pass = pruner.runOnce().then((n) => {
        order.push("pruned");
        return n;
      });
      const allocation = store
        .updatePod("ns", "new", (e, view) =>
          planPod("ns", "new", e, { attachments: [{ network: "n", ips: [] }], sticky: false }, view, "x"),
        )
        .then(() => order.push("allocated"));
      const [pruned] = await Promise.all([pass, allocation]);
      // 36 of the old events go (in 8 batches); the allocation did not wait for them.
      assert.equal(pruned, 36);
      assert.deepEqual(order, ["allocated", "pruned"]);
      const left = await store.history({ limit: 100 });
      assert.deepEqual(
        left.map((e) => e.name),
        ["new", "p99", "p39", "p38", "p37", "p36"],
      );
      assert.equal(await pruner.runOnce(), 0);
      await pruner.stop();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("dockin history", () => {
  const dir = mkdtempSync(join(tmpdir(), "dockin-history-cli-"));
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, "cli-token\n");
  let rm: RmProcess;
  const env = { TZ: "Europe/Paris" };
  const dockin = (...args: string[]) =>
    runDockin([...args, "--server", rm.url, "--token-file", tokenFile], env);

  before(async () => {
    rm = await startRmProcess([
      "--store",
      `sqlite:${join(dir, "rm.db")}`,
      "--token-file",
      tokenFile,
      "--history-retention",
      "30d",
    ]);
    for (const args of [
      ["networks", "create", "blue", "--subnet", "10.250.1.0/24"],
      ["pods", "create", "shop/web-0", "--network", "blue,ip=10.250.1.37"],
      ["pods", "delete", "shop/web-0"],
      ["pods", "create", "shop/web-1", "--network", "blue,ip=10.250.1.37"],
    ]) {
      const r = await dockin(...args);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await rm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("shows who holds an address now and at a time, in the local zone", async () => {
    const now = await dockin("history", "10.250.1.37");
    assert.equal(now.code, 0, now.stderr);
    assert.match(
      now.stdout,
      /^10\.250\.1\.37 now: held by shop\/web-1 in network blue, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+01:00\n/,
    );
    assert.match(now.stdout, /\nTIME +EVENT +NETWORK +POD +SANDBOX +NODE\n/);
    const json = JSON.parse((await dockin("history", "10.250.1.37", "--json")).stdout) as {
      history: HistoryEvent[];
    };
    assert.deepEqual(
      json.history.map((e) => `${e.event} ${e.name}`),
      ["reserved web-1", "released web-0", "reserved web-0"],
    );
    // At the first reservation, written in Paris time with its offset.
    const first = json.history[2];
    assert.ok(first);
    const paris = new Date(Date.parse(first.time) + 3_600_000).toISOString().replace("Z", "+01:00");
    const then = await dockin("history", "10.250.1.37", "--at", paris);
    assert.equal(then.code, 0, then.stderr);
    assert.match(then.stdout, /^10\.250\.1\.37 at \S+ \S+ \+01:00: held by shop\/web-0 in network blue/);
    assert.doesNotMatch(then.stderr, /in the future/);
    const future = await dockin("history", "10.250.1.37", "--at", "2999-01-01T00:00:00Z");
    assert.equal(future.code, 0, future.stderr);
    assert.match(future.stderr, /--at 2999-01-01T00:00:00Z is in the future: this is who holds it now/);
    const earlier = await dockin("history", "10.250.1.37", "--at", "2020-01-01T00:00:00Z");
    assert.match(
      earlier.stdout,
      /^10\.250\.1\.37 at 2020-01-01 01:00:00\.000 \+01:00: held by no pod\nno recorded events\n/,
    );
  });

  it("lists a pod's and a network's events, page by page", async () => {
    const pod = await dockin("history", "--pod", "shop/web-0");
    assert.equal(pod.code, 0, pod.stderr);
    assert.match(
      pod.stdout,
      /^TIME +EVENT +NETWORK +ADDRESS +POD +SANDBOX +NODE\n.*released +blue +10\.250\.1\.37 +shop\/web-0 +- +-\n.*reserved +blue/s,
    );
    const page = await dockin("history", "--network", "blue", "--limit", "2");
    assert.equal(page.stdout.trim().split("\n").length, 4);
    const more = /more: --after (\S+)/.exec(page.stdout)?.[1];
    assert.ok(more, page.stdout);
    const rest = await dockin("history", "--network", "blue", "--limit", "2", "--after", more);
    assert.match(rest.stdout, /reserved +blue +10\.250\.1\.37 +shop\/web-0/);
    assert.doesNotMatch(rest.stdout, /more:/);
  });

  it("refuses bad times, addresses and flags with the fix", async () => {
    const badAt = await dockin("history", "10.250.1.37", "--at", "2026-11-30 14:05");
    assert.equal(badAt.code, 2);
    assert.match(badAt.stderr, /--at "2026-11-30 14:05" is not an RFC 3339 time with a zone/);
    const badIp = await dockin("history", "10.250.1.37/24");
    assert.equal(badIp.code, 2);
    assert.match(badIp.stderr, /without its prefix length/);
    const none = await dockin("history");
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give an address, --pod or --network/);
    const server = await dockin("history", "--pod", "shop/web-0", "--limit", "5000");
    assert.equal(server.code, 1);
    assert.match(server.stderr, /limit: "5000" is not an integer from 1 to 1000 \(HTTP 400\)/);
    const typo = await dockin("history", "10.250.1.37", "--att", "2026-11-30T14:05:00Z");
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown option --att; did you mean --at\?[\s\S]*usage: dockin history/);
    const down = await runDockin(["history", "10.250.1.37", "--server", "http://127.0.0.1:1"], env);
    assert.equal(down.code, 1);
    assert.match(
      down.stderr,
      /^dockin history: cannot reach the RM at http:\/\/127\.0\.0\.1:1 \(is it running\?/,
    );
    const retention = await runDockin(["rm", "serve", "--history-retention", "3 weeks"]);
    assert.equal(retention.code, 2);
    assert.match(retention.stderr, /--history-retention "3 weeks": expected a duration such as 90d/);
  });
});
