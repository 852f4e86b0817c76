// The etcd store's edges that need no cluster: endpoint lists and the key layout's order.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseEndpoints } from "../../src/rm/etcd-client.ts";
import { Keys, prefixEnd } from "../../src/rm/etcd-keys.ts";
import { runDockin } from "../rm/helpers.ts";

describe("parseEndpoints()", () => {
  const ok: [string, string[]][] = [
    ["http://127.0.0.1:2379", ["http://127.0.0.1:2379"]],
    ["https://a:2379, https://b:2379,https://c:2379", ["https://a:2379", "https://b:2379", "https://c:2379"]],
    ["http://[::1]:2379,", ["http://[::1]:2379"]],
  ];
  for (const [text, want] of ok) {
    it(`accepts ${JSON.stringify(text)}`, () => assert.deepEqual(parseEndpoints(text), want));
  }
  const bad: [string, RegExp][] = [
    ["", /no endpoint/],
    ["localhost:2379", /expected http:\/\/HOST:PORT/],
    ["http://a", /expected http:\/\/HOST:PORT/],
    ["http://a:2379/v3", /expected http:\/\/HOST:PORT/],
    ["unix:///run/etcd.sock", /expected http:\/\/HOST:PORT/],
    ["http://a:2379,https://b:2379", /mixes http and https/],
  ];
  for (const [text, error] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.throws(() => parseEndpoints(text), error));
  }
});

describe("dockin rm serve --store etcd:", () => {
  it("exits at once, naming the bad endpoint", async () => {
    const r = await runDockin([
      "rm",
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--store",
      "etcd:http://a:2379,b:2379",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /etcd endpoint "b:2379": expected http:\/\/HOST:PORT/);
  });

  it("refuses a client certificate without its key", async () => {
    const r = await runDockin([
      "rm",
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--store",
      "etcd:http://127.0.0.1:2379",
      "--etcd-cert",
      "/nonexistent.pem",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--etcd-cert and --etcd-key go together/);
  });
});

describe("etcd key layout", () => {
  const keys = new Keys("/dockin");

  it("sorts a pool's address keys like the addresses (IPv4 and IPv6)", () => {
    const values = [0x0a000001n, 0x0a0000ffn, 0x0a000100n, 0xfd000000000000000000000000000001n];
    const sorted = values.map((v) => keys.addr("n", 4, v)).sort(Buffer.compare);
    assert.deepEqual(
      sorted.map((k) => keys.addrValue(k)),
      values,
    );
  });

  it("keeps one network's keys out of another's prefix range", () => {
    const start = keys.addrs("n");
    const end = prefixEnd(start);
    const inRange = (k: Buffer) => Buffer.compare(k, start) >= 0 && Buffer.compare(k, end) < 0;
    assert.equal(inRange(keys.addr("n", 6, 1n)), true);
    assert.equal(inRange(keys.addr("n-2", 4, 1n)), false);
    assert.equal(inRange(keys.addr("n.b", 4, 1n)), false);
    assert.equal(inRange(keys.addr("nb", 4, 1n)), false);
  });

  it("reads back network, family and value from an address key", () => {
    assert.deepEqual(keys.addrParts(keys.addr("net.1", 6, 255n)), {
      network: "net.1",
      family: 6,
      value: 255n,
    });
  });

  it("refuses a prefix that would not make exact ranges", () => {
    assert.throws(() => new Keys("dockin"), /must start with '\/'/);
    assert.throws(() => new Keys("/dockin/"), /not end with one/);
  });

  it("computes range ends like etcd's prefix option", () => {
    assert.deepEqual(prefixEnd(Buffer.from("a/")), Buffer.from("a0"));
    assert.deepEqual(prefixEnd(Buffer.from([0x61, 0xff])), Buffer.from("b"));
    assert.deepEqual(prefixEnd(Buffer.from([0xff])), Buffer.from([0]));
  });
});
