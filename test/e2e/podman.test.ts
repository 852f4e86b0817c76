// End to end with a real runtime: podman 4 (CNI backend, runc) runs busybox containers whose
// networks come from the webhook through dockin-cni, a published port (`-p`) reaches a container
// through the real portmap plugin on its master network, and `podman rm` leaves nothing behind.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { IPAM, PLUGIN, REFERENCE, rand, sh, trySh, Webhook } from "../plugin/harness.ts";

const BUSYBOX = "/usr/bin/busybox";
const haveTools =
  existsSync("/usr/bin/podman") && existsSync(BUSYBOX) && existsSync(PLUGIN) && existsSync(IPAM);

/** The CNI versions podman's libcni (1.1.x) speaks, as a conflist's cniVersion. */
const VERSIONS = ["0.3.1", "0.4.0", "1.0.0"] as const;

interface Podman {
  dir: string;
  /** Runs podman without blocking: the webhook answering it lives in this process. */
  run(args: string[]): Promise<string>;
}

function makePodman(dir: string, netDir: string): Podman {
  const conf = join(dir, "containers.conf");
  writeFileSync(
    conf,
    [
      "[network]",
      'network_backend = "cni"',
      `cni_plugin_dirs = ["${join(dir, "bin")}", "${REFERENCE}"]`,
      `network_config_dir = "${netDir}"`,
      "[engine]",
      'runtime = "runc"',
      "",
    ].join("\n"),
  );
  const base = ["--root", join(dir, "root"), "--runroot", join(dir, "runroot")];
  return {
    dir,
    run: async (args) => {
      const { stdout } = await promisify(execFile)("podman", [...base, ...args], {
        encoding: "utf8",
        env: { ...process.env, CONTAINERS_CONF: conf },
        timeout: 120_000,
      });
      return stdout;
    },
  };
}

function makeRootfs(dir: string): string {
  const rootfs = join(dir, "rootfs");
  for (const sub of ["bin", "etc", "proc", "sys", "dev", "tmp"])
    mkdirSync(join(rootfs, sub), { recursive: true });
  copyFileSync(BUSYBOX, join(rootfs, "bin", "busybox"));
  chmodSync(join(rootfs, "bin", "busybox"), 0o755);
  for (const applet of ["sh", "ip", "ping", "sleep", "cat", "httpd"])
    symlinkSync("busybox", join(rootfs, "bin", applet));
  mkdirSync(join(rootfs, "www"));
  writeFileSync(join(rootfs, "www", "index.html"), "served by the container\n");
  return rootfs;
}

describe("podman runs containers on dockin-cni networks", () => {
  test("podman, busybox and the built plugins are here (./dev installs and builds them)", () => {
    assert.ok(haveTools, "podman, /usr/bin/busybox or dist/bin missing: run ./dev setup");
  });

  for (const version of VERSIONS) {
    describe(`cniVersion ${version}`, () => {
      const id = rand(3);
      const bridges = [`dkpa${id}`, `dkpb${id}`];
      const dir = mkdtempSync(join(tmpdir(), "dk-podman-"));
      const netDir = join(dir, "net.d");
      const confDir = join(dir, "dockin.d");
      const cacheDir = join(dir, "cache");
      const webhook = new Webhook();
      const names = [`web-${id}-a`, `web-${id}-b`, `web-${id}-p`];
      const hostPort = 28_000 + Math.floor(Math.random() * 2_000);
      let podman: Podman;
      let rootfs: string;

      before(async () => {
        for (const sub of ["bin", "root", "runroot", "net.d", "dockin.d"])
          mkdirSync(join(dir, sub), { recursive: true });
        symlinkSync(PLUGIN, join(dir, "bin", "dockin-cni"));
        symlinkSync(IPAM, join(dir, "bin", "dockin-ipam"));
        rootfs = makeRootfs(dir);
        const backend = await webhook.start();
        writeFileSync(
          join(netDir, "dockin.conflist"),
          JSON.stringify({
            cniVersion: version,
            name: "dockin",
            plugins: [
              {
                type: "dockin-cni",
                confDir,
                binDir: join(dir, "bin"),
                cacheDir,
                logFile: join(dir, "dockin-cni.log"),
                logLevel: "debug",
                backend,
                // as `dockin install` writes it: podman passes `-p` ports as runtimeConfig
                capabilities: { portMappings: true, bandwidth: true },
              },
            ],
          }),
        );
        // The seed's network samples, comments and all; the master's as a conflist that chains
        // portmap for published ports (disableCheck: Debian's portmap fails every CHECK).
        writeFileSync(
          join(confDir, "business.conflist"),
          `{\n  "cniVersion": "${version}",\n  "name": "business", // type\n  "disableCheck": true,\n  "plugins": [\n    { "type": "bridge", "bridge": "${bridges[0]}", "isGateway": true },\n    { "type": "portmap", "capabilities": { "portMappings": true }, "snat": true }\n  ]\n}\n`,
        );
        writeFileSync(
          join(confDir, "storage.json"),
          `{\n  "cniVersion": "${version}",\n  "name": "storage", // type\n  "type": "bridge",\n  "bridge": "${bridges[1]}"\n}\n`,
        );
        names.forEach((name, i) => {
          webhook.replies.set(name, {
            code: 0,
            reqId: `r${i}`,
            message: "success",
            data: [
              {
                type: "business",
                podIp: `10.252.1.${10 + i}`,
                subnetMask: "255.255.255.0",
                gateway: "10.252.1.1",
                ifName: "eth0",
                master: true,
              },
              {
                type: "storage",
                podIp: `10.252.2.${10 + i}`,
                subnetMask: "24",
                ifName: "net1",
                master: false,
              },
            ],
          });
        });
        podman = makePodman(dir, netDir);
      });

      /** `podman run -d` of a busybox container on the dockin network. */
      const runContainer = (name: string, options: string[], command: string[]) =>
        podman.run([
          "run",
          "-d",
          "--name",
          name,
          "--network",
          "dockin",
          ...options,
          "--ulimit",
          "nofile=1024:1024",
          "--ulimit",
          "nproc=1024:1024",
          "--rootfs",
          rootfs,
          ...command,
        ]);

      after(async () => {
        for (const name of names) await podman?.run(["rm", "-f", "-t", "0", name]).catch(() => undefined);
        await webhook.stop();
        for (const br of bridges) trySh("ip", ["link", "del", br]);
        rmSync(dir, { recursive: true, force: true });
      });

      test("each container gets both networks with the webhook's addresses, and they talk over both", async () => {
        for (const name of names.slice(0, 2)) await runContainer(name, [], ["/bin/sleep", "600"]);
        const addrA = await podman.run(["exec", names[0]!, "/bin/ip", "-4", "-o", "addr"]);
        assert.match(addrA, /eth0\s+inet 10\.252\.1\.10\/24/);
        assert.match(addrA, /net1\s+inet 10\.252\.2\.10\/24/);
        const routes = await podman.run(["exec", names[0]!, "/bin/ip", "route"]);
        assert.match(routes, /default via 10\.252\.1\.1 dev eth0/);
        assert.equal((routes.match(/^default/gm) ?? []).length, 1, `one default route only:\n${routes}`);
        // podman shows the master network's address as the container's IP.
        const inspect = await podman.run([
          "inspect",
          "--format",
          "{{.NetworkSettings.Networks.dockin.IPAddress}}",
          names[0]!,
        ]);
        assert.equal(inspect.trim(), "10.252.1.10");
        for (const target of ["10.252.1.11", "10.252.2.11"]) {
          await podman.run(["exec", names[0]!, "/bin/ping", "-c", "1", "-W", "3", target]);
        }
        const asked = webhook.requests.map((r) => r.url.searchParams.get("podName"));
        assert.ok(
          names.slice(0, 2).every((n) => asked.includes(n)),
          `the webhook was asked for ${names.join(", ")}: ${asked.join(", ")}`,
        );
      });

      test("a published port reaches the container through portmap on its master network", async () => {
        await runContainer(
          names[2]!,
          ["-p", `127.0.0.1:${hostPort}:80`],
          ["/bin/httpd", "-f", "-p", "80", "-h", "/www"],
        );
        let body = "";
        for (let attempt = 0; attempt < 50 && body === ""; attempt++) {
          try {
            const res = await fetch(`http://127.0.0.1:${hostPort}/index.html`, {
              signal: AbortSignal.timeout(2_000),
            });
            body = await res.text();
          } catch {
            await new Promise((r) => setTimeout(r, 100)); // httpd starting
          }
        }
        assert.equal(body, "served by the container\n");
        const nat = sh("iptables", ["-w", "-t", "nat", "-S"]);
        assert.match(nat, new RegExp(`--dport ${hostPort} .*-j DNAT --to-destination 10\\.252\\.1\\.12:80`));
      });

      test("podman rm leaves no veth, record or namespace behind", async () => {
        const before = sh("ip", ["netns", "list"]);
        for (const name of names) await podman.run(["rm", "-f", "-t", "0", name]);
        for (const br of bridges) {
          const ports = trySh("ip", ["link", "show", br])
            ? sh("ip", ["-o", "link", "show", "master", br]).trim()
            : "";
          assert.equal(ports, "", `bridge ${br} still has ports:\n${ports}`);
        }
        const records = existsSync(cacheDir) ? readdirSync(cacheDir) : [];
        assert.deepEqual(records, [], "attachment records left in cacheDir");
        assert.doesNotMatch(
          sh("iptables", ["-w", "-t", "nat", "-S"]),
          new RegExp(`--dport ${hostPort} `),
          "portmap's rules left",
        );
        const afterList = sh("ip", ["netns", "list"]);
        assert.ok(
          afterList.split("\n").length <= before.split("\n").length,
          "a network namespace was left behind",
        );
      });
    });
  }
});
