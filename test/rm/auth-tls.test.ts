// Bearer tokens, HTTPS and client certificates, with certificates made by openssl at test time.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Tokens } from "../../src/rm/http.ts";
import { makePki, selfSigned } from "../fixtures/certs.ts";
import { obj, type Rm, runDockin, startRm } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "dockin-rm-tls-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("bearer tokens", () => {
  let rm: Rm;
  let open: Rm;
  before(async () => {
    rm = await startRm({ tokens: new Tokens("first\nsecond\n") });
    open = await startRm({ tokens: new Tokens("first"), webhookAuth: false });
  });
  after(async () => {
    await rm.stop();
    await open.stop();
  });

  const cases: [string, Record<string, string>, number][] = [
    ["no Authorization header", {}, 401],
    ["a Basic header", { authorization: "Basic Zm9vOmJhcg==" }, 401],
    ["a wrong token", { authorization: "Bearer nope" }, 403],
    ["the first token", { authorization: "Bearer first" }, 200],
    ["the second token (rotation)", { authorization: "Bearer second" }, 200],
  ];
  for (const [name, headers, status] of cases) {
    it(`the admin API answers ${status} to ${name}`, async () => {
      const r = await rm.call("GET", "/api/v1/networks", undefined, headers);
      assert.equal(r.status, status);
      if (status === 401) {
        assert.equal(r.headers.get("www-authenticate"), "Bearer");
        assert.deepEqual(obj(r).code, 401);
      }
      if (status === 403) assert.match(String(obj(r).message), /not accepted/);
    });
  }

  it("the webhook needs the token by default, not with webhookAuth off; health never does", async () => {
    const path = "/rmController/getPodMultiNetwork?podName=x";
    assert.equal((await rm.call("GET", path)).status, 401);
    assert.equal((await rm.call("GET", path, undefined, { authorization: "Bearer first" })).status, 404);
    assert.equal((await open.call("GET", path)).status, 404);
    assert.equal((await open.call("POST", "/api/v1/pods/a/b/release")).status, 200);
    assert.equal((await open.call("GET", "/api/v1/pods")).status, 401);
    assert.equal((await rm.call("GET", "/metrics")).status, 401);
    assert.equal((await rm.call("GET", "/healthz")).status, 200);
    assert.equal((await rm.call("GET", "/readyz")).status, 200);
  });
});

const file = (name: string) => readFileSync(join(dir, name));

function get(url: string, options: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/healthz`, { ...options, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("TLS", () => {
  let tls: Rm;
  let mtls: Rm;
  before(async () => {
    makePki(dir);
    tls = await startRm({ tls: { cert: file("server.crt"), key: file("server.key") } });
    mtls = await startRm({
      tls: { cert: file("server.crt"), key: file("server.key"), clientCa: file("ca.crt") },
    });
  });
  after(async () => {
    await tls?.stop();
    await mtls?.stop();
  });

  it("serves HTTPS that a client trusting the CA accepts, and an untrusting one refuses", async () => {
    assert.match(tls.url, /^https:/);
    assert.equal(await get(tls.url, { ca: file("ca.crt") }), 200);
    await assert.rejects(get(tls.url, {}), /self-signed|unable to verify|certificate/i);
  });

  it("requires a client certificate signed by the client CA", async () => {
    assert.equal(
      await get(mtls.url, { ca: file("ca.crt"), cert: file("client.crt"), key: file("client.key") }),
      200,
    );
    await assert.rejects(
      get(mtls.url, { ca: file("ca.crt") }),
      /certificate|handshake|socket hang up|ECONNRESET/i,
    );
    // A certificate from another CA is refused too.
    selfSigned(dir, "rogue");
    await assert.rejects(
      get(mtls.url, { ca: file("ca.crt"), cert: file("rogue.crt"), key: file("rogue.key") }),
      /certificate|handshake|socket hang up|ECONNRESET|unknown ca/i,
    );
  });

  it("the CLI talks to it with --ca-cert, --cert and --key", async () => {
    const args = ["networks", "list", "--server", mtls.url, "--ca-cert", join(dir, "ca.crt")];
    const ok = await runDockin([
      ...args,
      "--cert",
      join(dir, "client.crt"),
      "--key",
      join(dir, "client.key"),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^NAME/);
    const refused = await runDockin(args);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot reach the RM/);
  });
});
