// `dockin pods gc --kubernetes`: the valid pods read from a Kubernetes API server, against a real RM
// process. No kube-apiserver runs here, so an HTTPS server on port 0 plays its pod listing (the
// shape and paging of GET /api/v1/pods: items, metadata.continue, a Status on errors), with a CA
// and a bearer token as a pod's service account has them.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { makePki } from "../fixtures/certs.ts";
import { type RmProcess, runDockin, startRmProcess } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "dockin-kube-gc-"));
const tokenFile = join(dir, "token");
writeFileSync(tokenFile, "s3cret-token\n");
const kubeToken = join(dir, "kube-token");
writeFileSync(kubeToken, "k8s-sa-token\n");
const pki = makePki(dir);
let rm: RmProcess;

type KubePod = [namespace: string, name: string, phase: string];

/** What the fake API server does: the cluster's pods, and what happens while they are listed. */
const cluster: {
  pods: KubePod[];
  /** Called when page `n` (from 0) is asked for; may throw an HTTP status to answer with. */
  onPage: (n: number) => Promise<void>;
  asked: string[];
} = { pods: [], onPage: async () => {}, asked: [] };

/** Thrown by onPage: the fake API server answers with this status and a Status object. */
class Status {
  readonly code: number;
  readonly message: string;
  constructor(code: number, message: string) {
    this.code = code;
    this.message = message;
  }
}

const PER_PAGE = 2;
const api = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  tls: { cert: readFileSync(pki.server.cert, "utf8"), key: readFileSync(pki.server.key, "utf8") },
  async fetch(req) {
    const url = new URL(req.url);
    cluster.asked.push(url.pathname + url.search);
    const status = (code: number, message: string) =>
      Response.json({ kind: "Status", apiVersion: "v1", status: "Failure", message, code }, { status: code });
    if (req.headers.get("authorization") !== "Bearer k8s-sa-token") return status(401, "Unauthorized");
    if (url.pathname !== "/api/v1/pods")
      return status(404, "the server could not find the requested resource");
    const start = Number(url.searchParams.get("continue") ?? "0");
    try {
      await cluster.onPage(start / PER_PAGE);
    } catch (err) {
      if (err instanceof Status) return status(err.code, err.message);
      throw err;
    }
    const items = cluster.pods.slice(start, start + PER_PAGE).map(([namespace, name, phase]) => ({
      metadata: { namespace, name, uid: `${namespace}-${name}` },
      spec: {},
      status: { phase },
    }));
    const more = start + PER_PAGE < cluster.pods.length;
    return Response.json({
      kind: "PodList",
      apiVersion: "v1",
      metadata: { resourceVersion: "1", ...(more ? { continue: String(start + PER_PAGE) } : {}) },
      items,
    });
  },
});

before(async () => {
  rm = await startRmProcess(["--store", `sqlite:${join(dir, "rm.db")}`, "--token-file", tokenFile]);
});
after(async () => {
  await rm?.stop();
  api.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

const admin = (...args: string[]) => runDockin([...args, "--server", rm.url, "--token-file", tokenFile]);
const kubeGc = (...more: string[]) =>
  admin(
    "pods",
    "gc",
    "--kubernetes",
    `--kube-api=https://127.0.0.1:${api.port}`,
    `--kube-token-file=${kubeToken}`,
    `--kube-ca-file=${pki.ca}`,
    ...more,
  );

/** A pod attached through the webhook, as the plugin attaches one (its policy: released when gone). */
async function attach(name: string, namespace = "default"): Promise<void> {
  const r = await fetch(
    `${rm.url}/rmController/getPodMultiNetwork?podName=${name}&podNamespace=${namespace}&containerId=c-${name}&node=n1`,
    { headers: { authorization: "Bearer s3cret-token" } },
  );
  assert.equal(r.status, 200, await r.text());
}

const exists = async (ref: string) => (await admin("pods", "show", ref)).code === 0;

/** A pod attached in the same millisecond as the gc read the RM's clock is kept: a few ms apart. */
const settle = () => Bun.sleep(5);

describe("dockin pods gc --kubernetes", () => {
  beforeEach(async () => {
    for (const p of ["run-a", "gone-b", "done-c", "late-d", "other"]) await admin("pods", "delete", p);
    await admin("networks", "create", "kgc", "--subnet", "10.77.0.0/24");
    await admin("policies", "create", "kgc", "--namespace", "default", "--network", "kgc");
    cluster.onPage = async () => {};
    cluster.asked = [];
  });

  it("releases the pods the cluster no longer runs, and keeps one that attached while it listed", async () => {
    for (const p of ["run-a", "gone-b", "done-c"]) await attach(p);
    await admin("pods", "create", "keep/admin-pod", "--network", "kgc"); // an admin pod: sticky
    cluster.pods = [
      ["default", "run-a", "Running"],
      ["default", "done-c", "Succeeded"],
      ["default", "pending-e", "Pending"],
      ["kube-system", "coredns-1", "Running"],
    ];
    await settle();
    // late-d starts while the list is read, after its first page: the list does not have it.
    cluster.onPage = async (n) => {
      if (n === 1) await attach("late-d");
    };
    const r = await kubeGc();
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^released default\/done-c, default\/gone-b \(the cluster lists 4 pods, 3 not finished\)$/m,
    );
    assert.deepEqual(cluster.asked, ["/api/v1/pods?limit=500", "/api/v1/pods?limit=500&continue=2"]);
    for (const [ref, kept] of [
      ["run-a", true],
      ["gone-b", false],
      ["done-c", false],
      ["late-d", true],
      ["keep/admin-pod", true],
    ] as const)
      assert.equal(await exists(ref), kept, `${ref} ${kept ? "kept" : "released"}`);
    assert.equal((await admin("pods", "delete", "keep/admin-pod")).code, 0);
  });

  it("releases nothing when the listing fails part way, when the API server refuses, or lists nothing", async () => {
    await attach("other");
    await settle();
    cluster.pods = [
      ["default", "run-a", "Running"],
      ["default", "x", "Running"],
      ["default", "y", "Running"],
    ];
    cluster.onPage = async (n) => {
      if (n === 1) throw new Status(500, "etcdserver: request timed out");
    };
    const partial = await kubeGc();
    assert.equal(partial.code, 1);
    assert.match(
      partial.stderr,
      /listing the cluster's pods at https:\/\/127\.0\.0\.1:\d+: HTTP 500: etcdserver: request timed out; nothing released/,
    );

    cluster.onPage = async () => {
      throw new Status(
        403,
        'pods is forbidden: User "system:serviceaccount:kube-system:dockin-gc" cannot list resource "pods"',
      );
    };
    const forbidden = await kubeGc();
    assert.equal(forbidden.code, 1);
    assert.match(
      forbidden.stderr,
      /HTTP 403: pods is forbidden.*\(in the cluster, the service account needs list on pods: deploy\/kubernetes\/gc-cronjob\.yaml's ClusterRole; outside it, give a token with --kube-token-file\)/,
    );

    cluster.onPage = async () => {
      throw new Status(410, "The provided continue parameter is too old");
    };
    assert.match((await kubeGc()).stderr, /HTTP 410: .*\(the listing expired while it was read: run again\)/);

    cluster.onPage = async () => {};
    cluster.pods = [];
    const empty = await kubeGc();
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /the cluster's API server listed no pod at all: nothing released/);

    cluster.pods = [["default", "x", "Running"]];
    const wrongToken = join(dir, "wrong-token");
    writeFileSync(wrongToken, "nope\n");
    const unauthorized = await kubeGc(`--kube-token-file=${wrongToken}`);
    assert.equal(unauthorized.code, 1);
    assert.match(unauthorized.stderr, /HTTP 401: Unauthorized/);

    const untrusted = await admin(
      "pods",
      "gc",
      "--kubernetes",
      `--kube-api=https://127.0.0.1:${api.port}`,
      `--kube-token-file=${kubeToken}`,
    );
    assert.equal(untrusted.code, 1, "the API server's certificate is checked (no CA given: the system's)");
    assert.match(
      untrusted.stderr,
      /listing the cluster's pods at https:\/\/127\.0\.0\.1:\d+: .*(certificate|self.signed|issuer)/i,
    );

    assert.equal(await exists("other"), true, "nothing was released");
  });

  it("refuses pods or --listed-at with --kubernetes, and --kube-* without it", async () => {
    const both = await kubeGc("default/run-a");
    assert.equal(both.code, 2);
    assert.match(
      both.stderr,
      /--kubernetes reads the list and its time itself: give no pods, --pods-file, --all or --listed-at/,
    );
    const stray = await admin("pods", "gc", "--kube-api=https://127.0.0.1:1");
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /--kube-api, --kube-token-file and --kube-ca-file go with --kubernetes/);
    const outside = await runDockin(
      ["pods", "gc", "--kubernetes", "--server", rm.url, "--token-file", tokenFile],
      {
        KUBERNETES_SERVICE_HOST: "",
      },
    );
    assert.equal(outside.code, 1);
    assert.match(
      outside.stderr,
      /KUBERNETES_SERVICE_HOST is not set \(not in a pod of the cluster\): give the API server with --kube-api/,
    );
  });
});
