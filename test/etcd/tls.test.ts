// The etcd store over TLS with client certificates: a real one-member etcd requiring them, with a
// CA and certificates made by openssl at test time; `dockin rm serve` with --etcd-ca/-cert/-key.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readTls } from "../../src/rm/etcd-client.ts";
import { openEtcdStore } from "../../src/rm/etcd-store.ts";
import { startRmProcess } from "../rm/helpers.ts";
import { EtcdCluster } from "./cluster.ts";

const dir = mkdtempSync(join(tmpdir(), "dockin-etcd-tls-"));
const path = (name: string) => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

function makeCertificates(): void {
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    "req",
    "-x509",
    ...key,
    "-days",
    "1",
    "-subj",
    "/CN=dockin etcd CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
  );
  writeFileSync(path("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  writeFileSync(path("client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const who of ["server", "client"]) {
    openssl("req", ...key, "-subj", `/CN=${who}`, "-keyout", `${who}.key`, "-out", `${who}.csr`);
    openssl(
      "x509",
      "-req",
      "-in",
      `${who}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      `${who}.ext`,
      "-out",
      `${who}.crt`,
    );
  }
}

describe("etcd store over TLS with client certificates", () => {
  let cluster: EtcdCluster | undefined;

  before(async () => {
    makeCertificates();
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
      await store.putPolicy({
        name: "p",
        podPrefix: "",
        networks: [],
        sticky: false,
        priority: 0,
        created: "x",
        updated: "x",
      });
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
