// The etcd store over TLS with client certificates: a real one-member etcd requiring them, with a
// CA and certificates made by openssl at test time; `dockin rm serve` with --etcd-ca/-cert/-key.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readTls } from "../../src/rm/etcd-client.ts";
import { openEtcdStore } from "../../src/rm/etcd-store.ts";
import { makePki } from "../fixtures/certs.ts";
import { startRmProcess } from "../rm/helpers.ts";
import { EtcdCluster } from "./cluster.ts";

const dir = mkdtempSync(join(tmpdir(), "dockin-etcd-tls-"));
const path = (name: string) => join(dir, name);

describe("etcd store over TLS with client certificates", () => {
  let cluster: EtcdCluster | undefined;

  before(async () => {
    makePki(dir);
    cluster = await EtcdCluster.start({
      size: 1,
      scheme: "https",
      extraArgs: () => [
        `--cert-file=${path("server.crt")}`,
        `--key-file=${path("server.key")}`,
        "--client-cert-auth",
        `--trusted-ca-file=${path("ca.crt")}`,
      ],
    });
  });

  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("connects with the CA and a client certificate, and serves the RM with --etcd-* flags", async () => {
    assert.ok(cluster);
    const tls = readTls({ ca: path("ca.crt"), cert: path("client.crt"), key: path("client.key") });
    const store = await openEtcdStore({
      endpoints: cluster.endpoints,
      prefix: "/tls",
      ...(tls ? { tls } : {}),
    });
    try {
      await store.putPolicy("p", () => ({
        name: "p",
        podPrefix: "",
        networks: [],
        sticky: false,
        priority: 0,
        created: "x",
        updated: "x",
      }));
      assert.equal((await store.getPolicy("p"))?.name, "p");
    } finally {
      await store.close();
    }
    const rm = await startRmProcess([
      "--store",
      cluster.storeSpec,
      "--etcd-prefix",
      "/tls",
      "--etcd-ca",
      path("ca.crt"),
      "--etcd-cert",
      path("client.crt"),
      "--etcd-key",
      path("client.key"),
    ]);
    try {
      const res = await fetch(`${rm.url}/api/v1/policies/p`);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { name: string }).name, "p");
      // The endpoints are IP addresses: no SNI is sent, so neither Node's deprecation warning nor
      // Bun's refusal.
      assert.doesNotMatch(rm.log(), /DEP0123|RFC 6066/);
    } finally {
      const gone = new Promise((r) => rm.child.once("exit", r));
      rm.child.kill("SIGKILL");
      await gone;
    }
  });

  it("fails within its deadline, saying so, without a client certificate", async () => {
    assert.ok(cluster);
    const tls = readTls({ ca: path("ca.crt") });
    await assert.rejects(
      openEtcdStore({
        endpoints: cluster.endpoints,
        prefix: "/tls",
        deadlineMs: 1500,
        ...(tls ? { tls } : {}),
      }),
      /etcd did not complete it within 1500 ms/,
    );
  });

  it("still checks the member's certificate against the IP it is reached at (no SNI is sent for an IP)", async () => {
    // A second member whose certificate names only another host, under the same CA.
    const other = mkdtempSync(join(tmpdir(), "dockin-etcd-tls-other-"));
    let wrong: EtcdCluster | undefined;
    try {
      makePki(other, "DNS:elsewhere.example");
      wrong = await EtcdCluster.start({
        size: 1,
        scheme: "https",
        extraArgs: () => [
          `--cert-file=${join(other, "server.crt")}`,
          `--key-file=${join(other, "server.key")}`,
          "--client-cert-auth",
          `--trusted-ca-file=${join(other, "ca.crt")}`,
        ],
      });
      const tls = readTls({
        ca: join(other, "ca.crt"),
        cert: join(other, "client.crt"),
        key: join(other, "client.key"),
      });
      await assert.rejects(
        openEtcdStore({
          endpoints: wrong.endpoints,
          prefix: "/tls",
          deadlineMs: 1500,
          ...(tls ? { tls } : {}),
        }),
        /etcd did not complete it within 1500 ms/,
      );
    } finally {
      await wrong?.stop();
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("rejects half a client certificate, a missing file, and TLS files with http endpoints", async () => {
    assert.throws(() => readTls({ cert: path("client.crt") }), /--etcd-cert and --etcd-key go together/);
    assert.throws(() => readTls({ ca: path("missing.crt") }), /--etcd-ca .*missing\.crt/);
    const tls = readTls({ ca: path("ca.crt") });
    await assert.rejects(
      openEtcdStore({ endpoints: ["http://127.0.0.1:2379"], ...(tls ? { tls } : {}) }),
      /etcd TLS options need https:\/\/ endpoints/,
    );
  });
});
