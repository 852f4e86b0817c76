// The dockin CLI (rm serve, networks, pods, policies) as processes against a real RM process.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type RmProcess, runDockin, startRmProcess } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "dockin-rm-cli-"));
const tokenFile = join(dir, "token");
writeFileSync(tokenFile, "# admin\ns3cret-token\n");
let rm: RmProcess;

before(async () => {
  rm = await startRmProcess(["--store", `sqlite:${join(dir, "rm.db")}`, "--token-file", tokenFile]);
});
after(async () => {
  await rm?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const admin = (...args: string[]) => runDockin([...args, "--server", rm.url, "--token-file", tokenFile]);

describe("dockin admin commands", () => {
  it("creates, lists, shows and deletes a network, as tables and as JSON", async () => {
    const create = await admin(
      "networks",
      "create",
      "test",
      "--subnet",
      "192.168.1.0/24",
      "--gateway",
      "192.168.1.1",
    );
    assert.equal(create.code, 0, create.stderr);
    assert.match(create.stdout, /network test created: 192\.168\.1\.0\/24, 253 addresses/);
    // create on an existing name replaces it, and says so.
    const again = await admin(
      "networks",
      "create",
      "test",
      "--subnet",
      "192.168.1.0/24",
      "--gateway",
      "192.168.1.1",
    );
    assert.match(again.stdout, /network test replaced \(its earlier definition is gone\)/);
    await admin(
      "networks",
      "create",
      "dual",
      "--subnet",
      "10.9.0.0/24",
      "--subnet6",
      "fd00:9::/120",
      "--gateway6",
      "fd00:9::1",
    );
    const list = await admin("networks", "list");
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME +SUBNET +GATEWAY +RANGE +SIZE +USED +FREE\n/);
    assert.match(list.stdout, /\ntest +192\.168\.1\.0\/24 +192\.168\.1\.1 +\(subnet\) +253 +0 +253\n/);
    assert.match(list.stdout, /\n +fd00:9::\/120 +fd00:9::1 /);
    const json = await admin("networks", "show", "test", "--json");
    assert.equal(JSON.parse(json.stdout).gateway, "192.168.1.1");
    const show = await admin("networks", "show", "test");
    assert.match(show.stdout, /^name: +test$/m);
    const del = await admin("networks", "delete", "dual");
    assert.equal(del.code, 0);
    assert.match(del.stdout, /network dual deleted/);
  });

  it("registers, shows, lists, releases and deletes pods", async () => {
    await admin("networks", "create", "data", "--subnet", "192.168.2.0/24", "--gateway", "192.168.2.1");
    const create = await admin(
      "pods",
      "create",
      "prod/web-0",
      "--network",
      "test",
      "--network",
      "data,ifName=data0,ip=192.168.2.7",
    );
    assert.equal(create.code, 0, create.stderr);
    assert.match(create.stdout, /pod prod\/web-0, sticky/);
    assert.match(create.stdout, /eth0 +test +yes +192\.168\.1\.2\/24 +192\.168\.1\.1/);
    assert.match(create.stdout, /data0 +data +192\.168\.2\.7\/24 \(fixed\)/);
    assert.doesNotMatch(create.stdout, /replaced/);
    const again = await admin(
      "pods",
      "create",
      "prod/web-0",
      "--network",
      "test",
      "--network",
      "data,ifName=data0,ip=192.168.2.7",
    );
    assert.match(again.stdout, /pod prod\/web-0 replaced: networks not listed now were released/);
    const list = await admin("pods", "list");
    assert.match(list.stdout, /prod +web-0 +eth0=test:192\.168\.1\.2\* data0=data:192\.168\.2\.7 +- +yes/);
    const json = await admin("pods", "show", "prod/web-0", "--json");
    assert.equal(JSON.parse(json.stdout).networks[1].ip, "192.168.2.7");
    const release = await admin("pods", "release", "prod/web-0");
    assert.match(release.stdout, /kept \(sticky/);
    const del = await admin("pods", "delete", "prod/web-0");
    assert.equal(del.code, 0);
    assert.match(del.stdout, /released 192\.168\.1\.2\/24, 192\.168\.2\.7\/24/);
  });

  it("creates, lists, shows and deletes policies", async () => {
    const create = await admin(
      "policies",
      "create",
      "web",
      "--namespace",
      "prod",
      "--prefix",
      "web-",
      "--network",
      "test",
      "--sticky",
    );
    assert.equal(create.code, 0, create.stderr);
    assert.match(create.stdout, /policy web created: test \(sticky\)/);
    const list = await admin("policies", "list");
    assert.match(list.stdout, /web +prod +web-\* +test +yes +0/);
    assert.match((await admin("policies", "show", "web")).stdout, /sticky: +yes/);
    assert.equal((await admin("policies", "delete", "web")).code, 0);
  });

  it("takes a JSON body with -f, and releases gone pods with gc", async () => {
    const body = join(dir, "net.json");
    writeFileSync(body, JSON.stringify({ subnet: "10.44.0.0/24", ipv6: { subnet: "fd00:44::/120" } }));
    const create = await admin("networks", "create", "fromfile", "-f", body, "--json");
    assert.equal(create.code, 0, create.stderr);
    assert.equal(JSON.parse(create.stdout).ipv6.subnet, "fd00:44::/120");
    await admin("policies", "create", "gcme", "--namespace", "gc", "--network", "fromfile");
    for (const p of ["a", "b"])
      await fetch(`${rm.url}/rmController/getPodMultiNetwork?podName=${p}&podNamespace=gc&node=n1`, {
        headers: { authorization: "Bearer s3cret-token" },
      });
    const gc = await admin("pods", "gc", "--node", "n1", "gc/a");
    assert.equal(gc.code, 0, gc.stderr);
    assert.match(gc.stdout, /^released gc\/b$/m);
    assert.equal((await admin("pods", "show", "gc/b")).code, 1);
    assert.equal((await admin("pods", "delete", "gc/a")).code, 0);

    // The list read before gc/c started: with --listed-at, gc keeps it (its addresses are in use).
    await Bun.sleep(5); // a pod changed in the same millisecond as listedAt is kept
    const listedAt = new Date().toISOString();
    await Bun.sleep(5);
    await fetch(`${rm.url}/rmController/getPodMultiNetwork?podName=c&podNamespace=gc&node=n1`, {
      headers: { authorization: "Bearer s3cret-token" },
    });
    const kept = await admin("pods", "gc", "--node", "n1", "--listed-at", listedAt, "--all");
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stdout, /^nothing to release$/m);
    assert.equal((await admin("pods", "show", "gc/c")).code, 0);
    const bad = await admin("pods", "gc", "--listed-at", "yesterday", "gc/zzz");
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /listedAt: "yesterday" is not an RFC 3339 time with its zone; give when the list was read/,
    );
    // An empty list would release every pod: refused unless --all; a list can come from a file.
    const empty = await admin("pods", "gc", "--node", "n1");
    assert.equal(empty.code, 2);
    assert.match(
      empty.stderr,
      /no pod listed: that would release every releasing-policy pod; .*--all if that is what you mean/,
    );
    const emptyFile = join(dir, "no-pods.txt");
    writeFileSync(emptyFile, "\n");
    assert.equal((await admin("pods", "gc", "--node", "n1", "--pods-file", emptyFile)).code, 2);
    assert.match((await admin("pods", "gc", "a/b/c")).stderr, /"a\/b\/c" is not NAMESPACE\/NAME/);
    const listFile = join(dir, "pods.txt");
    writeFileSync(listFile, "gc/c\n\n");
    assert.match(
      (await admin("pods", "gc", "--node", "n1", "--pods-file", listFile)).stdout,
      /^nothing to release$/m,
    );
    assert.match((await admin("pods", "gc", "--node", "n1", "--all")).stdout, /^released gc\/c$/m);
    assert.equal((await admin("policies", "delete", "gcme")).code, 0);
  });

  it("refuses an overlapping subnet naming the other network, and creates it with --allow-overlap", async () => {
    await admin("networks", "create", "ovl-a", "--subnet", "10.123.0.0/24");
    const r = await admin("networks", "create", "ovl-b", "--subnet", "10.123.0.0/25");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /overlaps network "ovl-a" \(10\.123\.0\.0\/24\).*--allow-overlap.*\(HTTP 409\)/);
    const ok = await admin(
      "networks",
      "create",
      "ovl-b",
      "--subnet",
      "10.123.0.0/25",
      "--allow-overlap",
      "--json",
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).allowOverlap, true);
    for (const n of ["ovl-a", "ovl-b"]) assert.equal((await admin("networks", "delete", n)).code, 0);
  });

  it("prints the server's message and exits 1 on a refused request", async () => {
    const r = await admin("networks", "create", "bad", "--subnet", "192.168.1.0/24", "--gateway", "10.0.0.1");
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /dockin networks create: invalid network: gateway: 10\.0\.0\.1 is outside the subnet 192\.168\.1\.0\/24 \(HTTP 400\)/,
    );
    const missing = await admin("pods", "show", "nope/nope");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /pod nope\/nope not found \(HTTP 404\)/);
  });

  it("exits 1 with 401 without the token, 2 on a usage error", async () => {
    const r = await runDockin(["networks", "list", "--server", rm.url]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /authentication required.*\(HTTP 401\); give its admin token with --token-file or DOCKIN_TOKEN_FILE/,
    );
    const usage = await admin("networks", "create", "x");
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--subnet \(or -f FILE\) is required/);
    const typo = await admin("networks", "create", "x", "--subnt", "10.0.0.0/24");
    assert.equal(typo.code, 2);
    assert.match(
      typo.stderr,
      /^dockin networks create: unknown option --subnt; did you mean --subnet\?\n\nusage: dockin networks/,
    );
    const far = await runDockin(["pods", "list", "--frobnicate"]);
    assert.equal(far.code, 2);
    assert.match(far.stderr, /^dockin pods list: unknown option --frobnicate\n\nusage: dockin pods/);
    const unreachable = await runDockin(["networks", "list", "--server", "http://127.0.0.1:1"]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the RM at http:\/\/127\.0\.0\.1:1/);
  });

  it("--help after a subcommand prints the area's usage and exits 0, whatever else is missing", async () => {
    for (const [area, sub] of [
      ["networks", "create"],
      ["pods", "create"],
      ["policies", "create"],
      ["pods", "list"],
    ]) {
      for (const flag of ["--help", "-h"]) {
        const r = await runDockin([area as string, sub as string, flag]);
        assert.equal(r.code, 0, `${area} ${sub} ${flag}: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`^usage: dockin ${area} <subcommand>`));
        assert.equal(r.stderr, "");
      }
    }
  });

  it("dockin rm --help names both subcommands", async () => {
    const r = await runDockin(["rm", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: dockin rm serve \[options\]\n\s+dockin rm migrate --from SPEC --to SPEC/);
  });
});

describe("dockin rm serve", () => {
  it("rejects bad options with exit 2", async () => {
    const r = await runDockin(["rm", "serve", "--listen", "nowhere"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--listen "nowhere": expected HOST:PORT/);
    const tls = await runDockin(["rm", "serve", "--tls-cert", "/x"]);
    assert.equal(tls.code, 2);
    assert.match(tls.stderr, /--tls-cert and --tls-key go together/);
  });

  it("re-reads the token file on SIGHUP, keeping the old tokens when the new file is bad", async () => {
    const file = join(dir, "rotating-token");
    writeFileSync(file, "old-token\n");
    const server = await startRmProcess(["--store", `sqlite:${join(dir, "hup.db")}`, "--token-file", file]);
    const status = async (token: string) =>
      (await fetch(`${server.url}/api/v1/networks`, { headers: { authorization: `Bearer ${token}` } }))
        .status;
    const reloaded = async (pattern: RegExp) => {
      for (let i = 0; i < 100 && !pattern.test(server.log()); i++)
        await new Promise((r) => setTimeout(r, 20));
    };
    try {
      assert.equal(await status("old-token"), 200);
      writeFileSync(file, "new-token\n");
      server.child.kill("SIGHUP");
      await reloaded(/token file reloaded/);
      assert.equal(await status("new-token"), 200);
      assert.equal(await status("old-token"), 403);
      writeFileSync(file, "# nothing\n");
      server.child.kill("SIGHUP");
      await reloaded(/reload failed/);
      assert.equal(await status("new-token"), 200);
    } finally {
      await server.stop();
    }
  });

  it("shuts down cleanly on SIGTERM and keeps its data for the next start", async () => {
    const store = `sqlite:${join(dir, "restart.db")}`;
    const first = await startRmProcess(["--store", store]);
    const put = await fetch(`${first.url}/api/v1/networks/n`, {
      method: "PUT",
      body: JSON.stringify({ subnet: "10.0.0.0/24" }),
    });
    assert.equal(put.status, 201);
    await fetch(`${first.url}/api/v1/pods/default/p`, {
      method: "PUT",
      body: JSON.stringify({ networks: [{ network: "n" }] }),
    });
    assert.equal(await first.stop("SIGTERM"), 0);
    assert.match(first.log(), /"msg":"stopped"/);
    const second = await startRmProcess(["--store", store]);
    try {
      const r = await fetch(`${second.url}/rmController/getPodMultiNetwork?podName=p`);
      const body = (await r.json()) as { data: { podIp: string }[] };
      assert.equal(body.data[0]?.podIp, "10.0.0.1");
    } finally {
      await second.stop();
    }
  });
});
