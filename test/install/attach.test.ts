// The installed standalone plugins do real work, not only VERSION: `dockin install` into temp
// dirs, then the installed dockin-cni (and, through Debian's bridge, the installed dockin-ipam)
// attaches a throwaway network namespace as a runtime would, with nothing else in the
// environment, then detaches it. Everything made is removed, whatever happens.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { builtExecutable, runEnv, tempTree } from "./helpers.ts";

function ip(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync("ip", args, { encoding: "utf8" });
}

/** Runs a plugin asynchronously (the webhook answers from this process). */
function runPlugin(
  file: string,
  env: NodeJS.ProcessEnv,
  stdin: string,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, [], { env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    child.on("close", (code) => resolve({ code, out: out + err }));
    child.stdin.end(stdin);
  });
}

test("the installed standalone dockin-cni attaches and detaches a pod with an empty environment", async (ctx) => {
  const dockin = builtExecutable();
  const t = tempTree();
  ctx.after(() => t.cleanup());
  const tag = `${process.pid % 100000}`;
  const ns = `dkinst-${tag}`;
  const type = `i${tag}`;
  const bridge = `dk-${type}`;
  ctx.after(() => {
    ip(["netns", "del", ns]);
    ip(["link", "del", bridge]);
  });

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const data = [
      { type, podIp: "10.251.7.2", subnetMask: "24", gateway: "10.251.7.1", ifName: "eth0", master: true },
    ];
    const known = url.searchParams.get("podName") === "web-0";
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify(
        known ? { code: 0, reqId: "1", message: "success", data } : { code: 1, message: "unknown pod" },
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  ctx.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const webhook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rmController/getPodMultiNetwork`;

  const install = runEnv(
    dockin,
    [
      "install",
      webhook,
      type,
      `--cni-conf-dir=${t.cniConfDir}`,
      `--bin-dir=${t.binDir}`,
      `--dockin-conf-dir=${t.dockinConfDir}`,
      `--cache-dir=${t.cacheDir}`,
      `--log-file=${join(t.root, "dockin-cni.log")}`,
    ],
    {},
  );
  assert.equal(install.status, 0, install.stderr);
  copyFileSync("/usr/lib/cni/bridge", join(t.binDir, "bridge"));
  assert.equal(ip(["netns", "add", ns]).status, 0);

  // What a runtime sends for a conflist's plugin: the entry with the list's cniVersion and name.
  const list = JSON.parse(readFileSync(join(t.cniConfDir, "00-dockin-cni.conflist"), "utf8")) as {
    cniVersion: string;
    name: string;
    plugins: Record<string, unknown>[];
  };
  const stdin = JSON.stringify({ cniVersion: list.cniVersion, name: list.name, ...list.plugins[0] });
  const env = (command: string): NodeJS.ProcessEnv => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: `c${tag}`,
    CNI_NETNS: `/var/run/netns/${ns}`,
    CNI_IFNAME: "eth0",
    CNI_PATH: t.binDir,
    CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0",
  });

  const add = await runPlugin(join(t.binDir, "dockin-cni"), env("ADD"), stdin);
  assert.equal(add.code, 0, add.out);
  const result = JSON.parse(add.out) as { ips: { address: string }[] };
  assert.equal(result.ips[0]?.address, "10.251.7.2/24");
  const shown = ip(["-n", ns, "-4", "-o", "addr", "show", "dev", "eth0"]);
  assert.match(shown.stdout, /inet 10\.251\.7\.2\/24/, shown.stderr);

  const del = await runPlugin(join(t.binDir, "dockin-cni"), env("DEL"), stdin);
  assert.equal(del.code, 0, del.out);
  assert.notEqual(ip(["-n", ns, "link", "show", "eth0"]).status, 0, "eth0 is gone after DEL");
});
