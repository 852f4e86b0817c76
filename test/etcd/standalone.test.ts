// The standalone executable's RM on a real etcd: a lone copy of dist/bin/dockin in an empty
// directory, run with an empty environment and no node_modules anywhere it could look (the
// repository's own is hidden under an empty tmpfs in a mount namespace of its own: Bun bakes the
// build machine's paths in), serves on a one-member etcd (etcd3's gRPC definitions come from inside
// the executable, not from node_modules/etcd3/proto). And the definitions embedded by
// scripts/etcd-protos.ts are the ones etcd3 loads.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, parse } from "node:path";
import { after, before, describe, it } from "node:test";
import { etcdProtoJson } from "../../scripts/etcd-protos.ts";
import { builtExecutable, root } from "../install/helpers.ts";
import { EtcdCluster } from "./cluster.ts";

interface Definition {
  format?: string;
  type?: unknown;
  fileDescriptorProtos?: Buffer[];
  [method: string]: unknown;
}
type Loader = {
  loadSync(file: string, options: object): Record<string, Definition>;
  fromJSON(json: unknown, options: object): Record<string, Definition>;
};

/** Every message, enum and method of a package definition, in a comparable form. */
function comparable(def: Record<string, Definition>): string {
  const out: Record<string, unknown> = {};
  for (const [name, d] of Object.entries(def)) {
    if (typeof d.format === "string") {
      out[name] = {
        format: d.format,
        type: d.type,
        files: Buffer.concat(d.fileDescriptorProtos ?? []).toString("base64"),
      };
      continue;
    }
    const methods: Record<string, unknown> = {};
    for (const [m, md] of Object.entries(d) as [string, Record<string, unknown>][]) {
      // JSON leaves out the (de)serialiser functions; the test runs them separately.
      const request = (md.requestType as Definition).type;
      methods[m] = { ...md, requestType: request, responseType: (md.responseType as Definition).type };
    }
    out[name] = methods;
  }
  return JSON.stringify(out);
}

describe("embedded etcd gRPC definitions", () => {
  it("give the same package definition as etcd3's own proto files, with etcd3's options", () => {
    const pool = createRequire(join(root, "package.json")).resolve("etcd3/lib/connection-pool.js");
    const loader = createRequire(pool)("@grpc/proto-loader") as Loader;
    // The options etcd3's connection pool passes (lib/connection-pool.js).
    const options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
    const fromFiles = loader.loadSync(join(dirname(pool), "..", "proto", "rpc.proto"), options);
    const embedded = loader.fromJSON(JSON.parse(etcdProtoJson(pool, true)), options);
    assert.ok(Object.keys(fromFiles).includes("etcdserverpb.KV"), "etcd3's definitions have the KV service");
    assert.deepEqual(Object.keys(embedded).sort(), Object.keys(fromFiles).sort());
    assert.equal(comparable(embedded), comparable(fromFiles));
    // The serialisers agree on a real request and response (snake_case fields, longs as strings).
    type Method = {
      requestSerialize(v: unknown): Buffer;
      responseDeserialize(b: Buffer): unknown;
      responseSerialize(v: unknown): Buffer;
    };
    const range = (d: Record<string, Definition>) => (d["etcdserverpb.KV"] as { Range: Method }).Range;
    const req = { key: Buffer.from("/dockin/a"), range_end: Buffer.from("/dockin/b"), limit: "3" };
    assert.deepEqual(range(embedded).requestSerialize(req), range(fromFiles).requestSerialize(req));
    const res = range(fromFiles).responseSerialize({ kvs: [{ key: Buffer.from("k"), mod_revision: "7" }] });
    assert.deepEqual(range(embedded).responseDeserialize(res), range(fromFiles).responseDeserialize(res));
    assert.equal(
      (range(embedded).responseDeserialize(res) as { kvs: { mod_revision: string }[] }).kvs[0]?.mod_revision,
      "7",
    );
    // A camel-cased parse (keepCase false) must differ, so the comparison can tell.
    const camel = loader.fromJSON(JSON.parse(etcdProtoJson(pool, false)), options);
    assert.notEqual(comparable(camel), comparable(fromFiles));
  });
});

describe("dist/bin/dockin rm serve --store etcd, alone in an empty directory", () => {
  let cluster: EtcdCluster | undefined;
  let dir: string | undefined;
  let rm: ChildProcess | undefined;
  let stderr = "";
  let url = "";

  before(async () => {
    const built = builtExecutable();
    dir = mkdtempSync(join(tmpdir(), "dockin-standalone-etcd-"));
    // Nowhere the executable's require() could look has a node_modules.
    for (let d = dir; ; d = dirname(d)) {
      assert.equal(existsSync(join(d, "node_modules")), false, `${d}/node_modules exists`);
      if (d === parse(d).root) break;
    }
    const exe = join(dir, "dockin");
    copyFileSync(built, exe);
    cluster = await EtcdCluster.start({ size: 1 });
    // The repository's node_modules hidden, in this process's own mount namespace only.
    const hide = `mount -t tmpfs dockin-hide-node-modules "${join(root, "node_modules")}" && exec env -i "$0" "$@"`;
    const args = ["rm", "serve", "--listen", "127.0.0.1:0", "--store", cluster.storeSpec];
    const child = spawn("unshare", ["--mount", "--propagation", "private", "sh", "-c", hide, exe, ...args], {
      cwd: dir,
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    rm = child;
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the RM did not start in 20 s: ${stderr}`)), 20_000);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the RM exited (${code}) before listening: ${stderr}`));
      });
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        const m = /"msg":"listening".*?"url":"([^"]+)"/.exec(stderr);
        if (m?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
  });

  after(async () => {
    const child = rm;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await gone;
    }
    await cluster?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<[number, Record<string, unknown>]> {
    const init: RequestInit = { method, signal: AbortSignal.timeout(20_000) };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "content-type": "application/json" };
    }
    const res = await fetch(`${url}${path}`, init);
    return [res.status, (await res.json()) as Record<string, unknown>];
  }

  it("creates a network and a pod through the admin API and answers the webhook for it", async () => {
    const [netStatus, net] = await call("PUT", "/api/v1/networks/standalone", {
      subnet: "10.77.0.0/24",
      gateway: "10.77.0.1",
    });
    assert.equal(netStatus, 201, JSON.stringify(net));
    const [podStatus, pod] = await call("PUT", "/api/v1/pods/default/web-0", {
      networks: [{ network: "standalone", ip: "10.77.0.42" }],
    });
    assert.equal(podStatus, 201, JSON.stringify(pod));

    const q = new URLSearchParams({ podName: "web-0", podNamespace: "default", containerId: "c-web-0" });
    const [status, answer] = await call("GET", `/rmController/getPodMultiNetwork?${q}`);
    assert.equal(status, 200, JSON.stringify(answer));
    assert.equal(answer.code, 0, JSON.stringify(answer));
    const data = answer.data as { podIp?: string }[];
    assert.equal(data.length, 1, JSON.stringify(answer));
    assert.equal(data[0]?.podIp, "10.77.0.42", JSON.stringify(answer));

    // The network really lives in etcd: the allocation shows in its counts, read back from the store.
    const [, readBack] = await call("GET", "/api/v1/networks/standalone");
    assert.equal(readBack.allocated, 1, JSON.stringify(readBack));
  });

  it("stops on SIGTERM and leaves nothing beside the executable", async () => {
    const child = rm;
    assert.ok(child !== undefined && dir !== undefined);
    const code = await new Promise<number | null>((resolve) => {
      child.once("exit", (c) => resolve(c));
      child.kill("SIGTERM");
    });
    assert.equal(code, 0, stderr);
    assert.deepEqual(readdirSync(dir), ["dockin"]);
    assert.doesNotMatch(stderr, /ENOENT|\.proto/);
  });
});
