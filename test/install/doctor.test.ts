// `dockin doctor` on a real install (the standalone executable, Debian's bridge) against a real
// HTTP server on port 0 that speaks the RM's public API (/healthz, /api/v1/networks): passing
// on a good install, failing with a fix on each broken piece.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import {
  createServer as createHttp,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttps } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { makePki } from "../fixtures/certs.ts";
import { rand, sh, trySh } from "../plugin/harness.ts";
import { builtExecutable, readJson, readOnly, runEnv, type Tree, tempTree } from "./helpers.ts";

interface Rm {
  url: string;
  close(): Promise<void>;
}

interface RmOptions {
  networks?: string[];
  token?: string;
  /** With a token: the webhook does not need it, only the admin API (--webhook-auth none). */
  webhookOpen?: boolean;
  tls?: { cert: Buffer; key: Buffer };
}

/** A server speaking the RM's public API: /healthz and GET /api/v1/networks, token optional. */
async function startRm(opts: RmOptions = {}): Promise<Rm> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "").split("?")[0];
    if (path === "/healthz") {
      res.end("ok\n");
      return;
    }
    const webhook = path === "/rmController/getPodMultiNetwork";
    const needsToken = opts.token !== undefined && !(webhook && opts.webhookOpen === true);
    if (needsToken && req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"code":401,"message":"unauthorized"}');
      return;
    }
    if (webhook) {
      res
        .writeHead(400, { "content-type": "application/json" })
        .end('{"code":400,"message":"podName is required"}');
      return;
    }
    if (path === "/api/v1/networks") {
      const list = (opts.networks ?? ["test", "dockin"]).map((name) => ({ name, subnet: "192.168.1.0/24" }));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ items: list }));
      return;
    }
    res.writeHead(404).end('{"code":404,"message":"not found"}');
  };
  const server: Server = opts.tls === undefined ? createHttp(handler) : createHttps(opts.tls, handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${opts.tls === undefined ? "http" : "https"}://127.0.0.1:${port}/rmController/getPodMultiNetwork`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const rms: Rm[] = [];
let dockin = "";

before(() => {
  dockin = builtExecutable();
});
after(async () => {
  for (const rm of rms) await rm.close();
});

/** A good install into a temp tree: the standalone plugins, Debian's bridge, configs for test,dockin. */
async function installed(
  ctx: TestContext,
  rmOpts: RmOptions = {},
  extra: string[] = [],
): Promise<{ t: Tree; rm: Rm; conf: string }> {
  const t = tempTree();
  ctx.after(() => t.cleanup());
  const rm = await startRm(rmOpts);
  rms.push(rm);
  const r = runEnv(
    dockin,
    [
      "install",
      rm.url,
      "test,dockin",
      `--cni-conf-dir=${t.cniConfDir}`,
      `--bin-dir=${t.binDir}`,
      `--dockin-conf-dir=${t.dockinConfDir}`,
      `--cache-dir=${t.cacheDir}`,
      `--log-file=${join(t.root, "log", "dockin-cni.log")}`,
      ...extra,
    ],
    {},
  );
  assert.equal(r.status, 0, r.stderr);
  copyFileSync("/usr/lib/cni/bridge", join(t.binDir, "bridge"));
  return { t, rm, conf: join(t.cniConfDir, "00-dockin-cni.conflist") };
}

function doctor(t: Tree, args: string[] = []): Promise<{ status: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      dockin,
      ["doctor", `--cni-conf-dir=${t.cniConfDir}`, "--timeout-ms=3000", ...args],
      { env: {} },
      (err, stdout) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ status: code, stdout });
      },
    );
  });
}

/** The checklist entry whose title matches, with its detail and fix lines. */
function entry(stdout: string, title: RegExp): string {
  const blocks = stdout.split(/\n(?= {2}\[)/);
  const found = blocks.find((b) => title.test(b.split("\n")[0] ?? ""));
  assert.ok(found !== undefined, `no check titled ${title} in:\n${stdout}`);
  return found;
}

describe("dockin doctor", () => {
  test("passes on a good install, checking the networks the RM reports", async (ctx) => {
    const { t } = await installed(ctx);
    const r = await doctor(t);
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /all \d+ checks passed/);
    assert.doesNotMatch(r.stdout, /FAIL|warn/);
    assert.match(entry(r.stdout, /network "test" has a valid config/), /\[ok {2}\]/);
    assert.match(entry(r.stdout, /network "dockin" has a valid config/), /\[ok {2}\]/);
    assert.match(entry(r.stdout, /backend .* answers/), /the RM knows 2 network\(s\)/);
    for (const p of ["dockin-cni", "dockin-ipam", "bridge"]) {
      assert.match(entry(r.stdout, new RegExp(`bin/${p} exists and speaks 1\\.0\\.0`)), /\[ok {2}\]/);
    }
    assert.match(
      entry(r.stdout, /the build in \S+bin: dockin \d+\.\d+\.\d+ \(commit [0-9a-f]{12}(\+dirty)?, Bun \d/),
      /\[ok {2}\]/,
    );
  });

  test("warns when the plugins are another build than this dockin (a node upgraded halfway)", async (ctx) => {
    const { t } = await installed(ctx);
    // dockin-ipam as a build that says it is 0.1.0, and is the real one for anything else.
    const real = join(t.binDir, "real");
    mkdirSync(real);
    const realExe = join(real, "dockin-ipam");
    renameSync(join(t.binDir, "dockin-ipam"), realExe);
    writeFileSync(
      join(t.binDir, "dockin-ipam"),
      [
        "#!/bin/sh",
        'if [ "$DOCKIN_ROLE" = dockin ] && [ "$1" = version ]; then echo "dockin 0.1.0 (commit 0123456789ab, Bun 1.4.4)"; exit 0; fi',
        `exec "${realExe}" "$@"`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const r = await doctor(t);
    const found = entry(r.stdout, /the build in \S+bin: dockin 0\.1\.0 \(commit 0123456789ab, Bun 1\.4\.4\)/);
    assert.match(found, /\[warn\]/);
    assert.match(found, /this dockin is dockin \d+\.\d+\.\d+ \(commit /);
    assert.match(found, /run this dockin's install again/);

    // A build from before `dockin version` says "unknown command" and exits 2, as 3bb00e9's does.
    writeFileSync(
      join(t.binDir, "dockin-ipam"),
      [
        "#!/bin/sh",
        'if [ "$DOCKIN_ROLE" = dockin ]; then echo "dockin: unknown command \\"$1\\"" >&2; echo usage: dockin >&2; exit 2; fi',
        `exec "${realExe}" "$@"`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const old = entry((await doctor(t)).stdout, /the build in \S+bin$/);
    assert.match(old, /\[warn\]/);
    assert.match(old, /is a build from before `dockin version`/);
  });

  const broken: {
    name: string;
    rm?: RmOptions;
    args?: string[];
    breakIt: (t: Tree, conf: string, rm: Rm) => Promise<void> | void;
    title: RegExp;
    fix: RegExp;
  }[] = [
    {
      name: "a main config that is not JSON",
      breakIt: (_t, conf) => writeFileSync(conf, "{ not json"),
      title: /main config .* parses/,
      fix: /fix the JSON, or run `sh setup\.sh install/,
    },
    {
      name: "no main config at all",
      breakIt: (_t, conf) => unlinkSync(conf),
      title: /a dockin-cni config in/,
      fix: /sh setup\.sh install/,
    },
    {
      name: "a main config without a backend",
      breakIt: (_t, conf) => {
        const c = readJson(conf) as { plugins: Record<string, unknown>[] };
        delete c.plugins[0]?.backend;
        writeFileSync(conf, JSON.stringify(c));
      },
      title: /main config .* parses/,
      fix: /edit \S+00-dockin-cni\.conflist/,
    },
    {
      name: "a backend that does not answer",
      breakIt: (_t, _conf, rm) => rm.close(),
      title: /backend .* answers/,
      fix: /start the RM \(dockin rm serve\) or fix backend/,
    },
    {
      name: "a token the RM refuses (none configured)",
      rm: { token: "s3cret" },
      breakIt: () => {},
      title: /backend .* answers/,
      fix: /set tokenFile .*--token-file.*--webhook-auth none/,
    },
    {
      name: "a network the RM knows with no config in confDir",
      rm: { networks: ["test", "dockin", "storage"] },
      breakIt: () => {},
      title: /network "storage" has a valid config/,
      fix: /create \S+storage\.json with .*"name": "storage"/,
    },
    {
      name: "a listed type with no config (--types)",
      args: ["--types=test,backup"],
      breakIt: () => {},
      title: /network "backup" has a valid config/,
      fix: /run dockin install with backup in the type list/,
    },
    {
      name: "a network config without a plugin type",
      breakIt: (t) =>
        writeFileSync(join(t.dockinConfDir, "test.json"), '{"cniVersion":"1.0.0","name":"test"}'),
      title: /network "test" has a valid config/,
      fix: /edit \S+test\.json/,
    },
    {
      name: "dockin-ipam missing from binDir",
      breakIt: (t) => unlinkSync(join(t.binDir, "dockin-ipam")),
      title: /bin\/dockin-ipam exists/,
      fix: /sh setup\.sh install/,
    },
    {
      name: "the bridge delegate missing from binDir and from the runtime's CNI_PATH",
      args: ["--cni-path=/nonexistent-dockin-dir"],
      breakIt: (t) => unlinkSync(join(t.binDir, "bridge")),
      title: /bin\/bridge exists/,
      fix: /apt install containernetworking-plugins puts them in \/usr\/lib\/cni\), then link bridge into binDir \(ln -s \/usr\/lib\/cni\/bridge \S+\) or make sure the runtime's CNI_PATH includes/,
    },
    {
      name: "a conf dir that does not exist",
      args: ["--cni-conf-dir=/nonexistent-dockin-dir/net.d"],
      breakIt: () => {},
      title: /a dockin-cni config in \/nonexistent-dockin-dir\/net\.d/,
      fix: /sh setup\.sh install/,
    },
    {
      name: "an uplink that is not there",
      breakIt: (t) =>
        writeFileSync(
          join(t.dockinConfDir, "test.json"),
          '{"cniVersion":"1.0.0","name":"test","type":"bridge","bridge":"dk-nothere0","uplink":"dknonic0"}',
        ),
      title: /network "test": pods can reach a gateway through bridge dk-nothere0/,
      fix: /create it, or fix "uplink" in \S+test\.json; every pod's ADD on this network fails until then/,
    },
    {
      name: "a network config in a version the bridge does not speak",
      breakIt: (t) =>
        writeFileSync(
          join(t.dockinConfDir, "test.json"),
          '{"cniVersion":"1.1.0","name":"test","type":"bridge","bridge":"dk-test"}',
        ),
      title: /bin\/bridge exists and speaks 1\.0\.0, 1\.1\.0/,
      fix: /use cniVersion values bridge supports/,
    },
    {
      name: "an unwritable cache dir",
      breakIt: (t) => readOnly(t, t.cacheDir),
      title: /cache dir .* is writable/,
      fix: /make \S+ writable/,
    },
  ];
  for (const c of broken) {
    test(`fails with a fix on ${c.name}`, async (ctx) => {
      const { t, conf, rm } = await installed(ctx, c.rm);
      await c.breakIt(t, conf, rm);
      const r = await doctor(t, c.args);
      assert.equal(r.status, 1, r.stdout);
      const e = entry(r.stdout, c.title);
      assert.match(e, /\[FAIL\]/);
      assert.match(e, c.fix);
      assert.match(r.stdout, /\d+ of \d+ checks failed/);
    });
  }

  test("warns when a bridge has neither an uplink nor the gateway, and when bridge is only in CNI_PATH", async (ctx) => {
    const { t } = await installed(ctx);
    writeFileSync(
      join(t.dockinConfDir, "test.json"),
      '{"cniVersion":"1.0.0","name":"test","type":"bridge","bridge":"dk-bare0"}',
    );
    unlinkSync(join(t.binDir, "bridge"));
    const r = await doctor(t, ["--cni-path=/usr/lib/cni"]);
    assert.equal(r.status, 0, r.stdout);
    assert.match(
      entry(r.stdout, /network "test": pods can reach a gateway through bridge dk-bare0/),
      /\[warn\][^\n]*\n\s+test\.json gives dk-bare0 neither an uplink nor the gateway address \(isGateway\): a pod's default route points at a gateway nobody answers\s+fix: set "isGateway": true in \S+test\.json .*--uplink test=NIC/,
    );
    assert.match(entry(r.stdout, /network "dockin": pods can reach a gateway/), /\[ok {2}\][\s\S]*isGateway/);
    assert.match(
      entry(r.stdout, /bridge is not in binDir/),
      /\[warn\][^\n]*\n\s+not there, but in \/usr\/lib\/cni: dockin-cni uses it only when the runtime's CNI_PATH includes \/usr\/lib\/cni\s+fix: ln -s \/usr\/lib\/cni\/bridge/,
    );
    assert.match(entry(r.stdout, /bridge is found and speaks 1\.0\.0/), /\[ok {2}\]/);
  });

  test("warns when IPv4 forwarding is off for a network whose gateway is on the bridge", async (ctx) => {
    const { t } = await installed(ctx);
    const ns = `dkdoc${rand(3)}`;
    sh("ip", ["netns", "add", ns]);
    ctx.after(() => trySh("ip", ["netns", "del", ns]));
    sh("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    const r = await new Promise<string>((resolve) => {
      execFile(
        "ip",
        ["netns", "exec", ns, dockin, "doctor", `--cni-conf-dir=${t.cniConfDir}`, "--timeout-ms=1000"],
        { env: {} },
        (_err, stdout) => resolve(stdout),
      );
    });
    assert.match(
      entry(r, /IPv4 forwarding is on \(network "test" routes through the bridge\)/),
      /\[warn\][^\n]*\n\s+net\.ipv4\.ip_forward is 0[\s\S]*fix: sysctl -w net\.ipv4\.ip_forward=1/,
    );
  });

  test("an uplink as dockin-cni will find it at the next ADD: free (as after a reboot) a warning; what that ADD refuses a failure", async (ctx) => {
    const { t } = await installed(ctx);
    const ns = `dkdoc${rand(3)}`;
    sh("ip", ["netns", "add", ns]);
    ctx.after(() => trySh("ip", ["netns", "del", ns]));
    sh("ip", ["-n", ns, "link", "add", "nic0", "type", "veth", "peer", "name", "nic1"]);
    const configure = (uplink: string) =>
      writeFileSync(
        join(t.dockinConfDir, "test.json"),
        JSON.stringify({ cniVersion: "1.0.0", name: "test", type: "bridge", bridge: "dk-up0", uplink }),
      );
    const uplinkEntry = async () => {
      const out = await new Promise<string>((resolve) => {
        execFile(
          "ip",
          [
            "netns",
            "exec",
            ns,
            dockin,
            "doctor",
            `--cni-conf-dir=${t.cniConfDir}`,
            "--timeout-ms=1000",
            "--types=test",
          ],
          { env: {} },
          (_err, stdout) => resolve(stdout),
        );
      });
      return entry(out, /network "test": pods can reach a gateway through bridge dk-up0/);
    };
    configure("nic0");
    assert.match(
      await uplinkEntry(),
      /\[warn\][^\n]*\n\s+its uplink nic0 is not enslaved to dk-up0 now \(as after a reboot\)[\s\S]*fix: nothing to do: the next pod's ADD on this network enslaves it \(dockin-cni\); to do it now: ip link add dk-up0 type bridge \(unless it exists\); ip link set dk-up0 up; ip link set nic0 master dk-up0 up/,
    );
    sh("ip", ["-n", ns, "addr", "add", "192.0.2.10/24", "dev", "nic0"]);
    assert.match(
      await uplinkEntry(),
      /\[FAIL\][^\n]*\n\s+its uplink nic0 is not enslaved and holds 192\.0\.2\.10\/24: enslaving it would cut this host off that network, so dockin-cni will not/,
    );
    sh("ip", ["-n", ns, "addr", "flush", "dev", "nic0"]);
    sh("ip", ["-n", ns, "link", "add", "br-other", "type", "bridge"]);
    sh("ip", ["-n", ns, "link", "set", "nic0", "master", "br-other"]);
    assert.match(
      await uplinkEntry(),
      /\[FAIL\][^\n]*\n\s+its uplink nic0 is enslaved to br-other, not to dk-up0[\s\S]*fix: free it \(ip link set nic0 nomaster\)/,
    );
    sh("ip", ["-n", ns, "link", "set", "nic0", "nomaster"]);
    sh("ip", ["-n", ns, "link", "add", "dk-up0", "type", "veth", "peer", "name", "dk-up0p"]);
    assert.match(await uplinkEntry(), /\[FAIL\][^\n]*\n\s+dk-up0 exists and is not a bridge \(it is veth\)/);
    sh("ip", ["-n", ns, "link", "del", "dk-up0"]);
    configure("lo");
    assert.match(
      await uplinkEntry(),
      /\[FAIL\][^\n]*\n\s+its uplink lo is the loopback interface, which dk-up0 cannot enslave/,
    );
    configure("nic0");
    sh("ip", ["-n", ns, "link", "add", "dk-up0", "type", "bridge"]);
    sh("ip", ["-n", ns, "link", "set", "nic0", "master", "dk-up0"]);
    assert.match(await uplinkEntry(), /\[ok {2}\][^\n]*\n\s+uplink nic0: the gateway is behind it/);
  });

  test("passes with the token the RM wants, read from tokenFile", async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), "dockin-token-"));
    try {
      writeFileSync(join(dir, "token"), "s3cret\n");
      const { t } = await installed(ctx, { token: "s3cret" }, [`--token-file=${join(dir, "token")}`]);
      const r = await doctor(t);
      assert.equal(r.status, 0, r.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an admin API that wants a token while the webhook is open: passes, checking confDir's networks", async (ctx) => {
    const { t } = await installed(ctx, { token: "s3cret", webhookOpen: true });
    const r = await doctor(t);
    assert.equal(r.status, 0, r.stdout);
    assert.match(
      entry(r.stdout, /backend .* answers/),
      /network list not available \(the admin API wants a token/,
    );
    assert.match(entry(r.stdout, /the network types to check/), /\[warn\][\s\S]*fix: pass --types/);
    assert.match(entry(r.stdout, /network "test" has a valid config/), /\[ok {2}\]/);
  });

  test("a config sorting before dockin's is a warning: the runtime would use it", async (ctx) => {
    const { t } = await installed(ctx);
    writeFileSync(join(t.cniConfDir, "00-aaa.conf"), '{"cniVersion":"1.0.0","name":"x","type":"bridge"}');
    const r = await doctor(t);
    assert.equal(r.status, 0, r.stdout);
    assert.match(
      entry(r.stdout, /00-dockin-cni\.conflist is the runtime's config/),
      /\[warn\][\s\S]*fix: remove \S+00-aaa\.conf/,
    );
  });

  test("honours TLS: fails without the CA, passes with caFile", async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), "dockin-tls-"));
    try {
      const pki = makePki(dir);
      const tls = { cert: readFileSync(pki.server.cert), key: readFileSync(pki.server.key) };
      const without = await installed(ctx, { tls });
      const r1 = await doctor(without.t);
      assert.equal(r1.status, 1, r1.stdout);
      assert.match(entry(r1.stdout, /backend https:.* answers/), /fix: .*set caFile to the CA/);
      const withCa = await installed(ctx, { tls }, [`--ca-file=${pki.ca}`]);
      const r2 = await doctor(withCa.t);
      assert.equal(r2.status, 0, r2.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
