// docs/podman.md, followed as written: a Dockin RM with two networks and a policy, then
// `dockin install <rm webhook> <types> --podman --gateway-on-bridge`, then podman (its CNI
// backend, through the drop-in install wrote) runs two busybox containers with `--network
// dockin-cni`. They get both networks, ping each other over both and their gateways; `podman rm`
// detaches them and the RM frees their addresses (the notify URL install set beside the webhook).
// Only temp dirs are written (the drop-in is given to podman with CONTAINERS_CONF); the bridges
// have random names and are removed at the end.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { PODMAN_DROP_IN } from "../../src/install/install.ts";
import { rand, root, trySh } from "../plugin/harness.ts";
import { obj, type Rm, startRm } from "../rm/helpers.ts";

const BUSYBOX = "/usr/bin/busybox";
const DOCKIN = join(root, "dist", "bin", "dockin");
// podman copies the host's rlimits into the container, which a runc inside a container may not raise.
const ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];
const haveTools = existsSync("/usr/bin/podman") && existsSync(BUSYBOX) && existsSync(DOCKIN);

describe("docs/podman.md: dockin install --podman, then podman run --network dockin-cni", {
  skip: !haveTools && "podman, busybox or dist/bin missing (./dev setup)",
}, () => {
  const id = rand(3);
  const types = [`b${id}`, `s${id}`];
  const bridges = types.map((t) => `dk-${t}`);
  // A /24 pair of its own: 10.<160..223>.<even>.0/24 and the next.
  const [x, y] = [160 + Math.floor(Math.random() * 64), 2 * Math.floor(Math.random() * 127)];
  const subnets = [`10.${x}.${y}`, `10.${x}.${y + 1}`];
  const names = [`web-${id}-a`, `web-${id}-b`];
  const dir = mkdtempSync(join(tmpdir(), "dk-podman-install-"));
  const t = {
    cniConfDir: join(dir, "net.d"),
    binDir: join(dir, "bin"),
    dockinConfDir: join(dir, "dockin.d"),
    containersConfDir: join(dir, "containers.conf.d"),
  };
  let rm: Rm;
  const podman = async (args: string[]): Promise<string> => {
    const { stdout } = await promisify(execFile)(
      "podman",
      ["--root", join(dir, "root"), "--runroot", join(dir, "runroot"), "--runtime", "runc", ...args],
      {
        encoding: "utf8",
        env: { ...process.env, CONTAINERS_CONF: join(t.containersConfDir, PODMAN_DROP_IN) },
        timeout: 120_000,
      },
    );
    return stdout;
  };

  before(async () => {
    rm = await startRm();
    for (const [i, type] of types.entries()) {
      const r = await rm.call("PUT", `/api/v1/networks/${type}`, {
        subnet: `${subnets[i]}.0/24`,
        gateway: `${subnets[i]}.1`,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const policy = await rm.call("PUT", `/api/v1/policies/p${id}`, {
      namespace: "default",
      podPrefix: `web-${id}-`,
      networks: [
        { network: types[0], ifName: "eth0", master: true },
        { network: types[1], ifName: "net1" },
      ],
    });
    assert.equal(policy.status, 201, JSON.stringify(policy.body));
    const rootfs = join(dir, "rootfs");
    for (const sub of ["bin", "etc", "proc", "sys", "dev", "tmp"])
      mkdirSync(join(rootfs, sub), { recursive: true });
    copyFileSync(BUSYBOX, join(rootfs, "bin", "busybox"));
    chmodSync(join(rootfs, "bin", "busybox"), 0o755);
    for (const applet of ["sh", "ip", "ping", "sleep"]) symlinkSync("busybox", join(rootfs, "bin", applet));
  });

  after(async () => {
    for (const name of names) await podman(["rm", "-f", "-t", "0", name]).catch(() => undefined);
    await rm?.stop();
    for (const br of bridges) trySh("ip", ["link", "del", br]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("install writes the podman drop-in, the notify URL beside the RM and the gateway on each bridge", async () => {
    // Not blocking: the RM that install probes answers from this process.
    const r = await promisify(execFile)(
      DOCKIN,
      [
        "install",
        `${rm.url}/rmController/getPodMultiNetwork`,
        types.join(","),
        "--podman",
        "--gateway-on-bridge",
        `--cni-conf-dir=${t.cniConfDir}`,
        `--bin-dir=${t.binDir}`,
        `--dockin-conf-dir=${t.dockinConfDir}`,
        `--containers-conf-dir=${t.containersConfDir}`,
        `--cache-dir=${join(dir, "cache")}`,
        `--log-file=${join(dir, "dockin-cni.log")}`,
      ],
      { encoding: "utf8" },
    );
    assert.match(r.stdout, /note: podman: run containers with --network dockin-cni/);
    assert.match(r.stdout, /notifyUrl \S+\/rmController\/podDetached: beside the Dockin RM's webhook/);
    assert.doesNotMatch(r.stdout, /warning/);
    const dropIn = readFileSync(join(t.containersConfDir, PODMAN_DROP_IN), "utf8");
    assert.match(dropIn, /^\[network\]\nnetwork_backend = "cni"\n/m);
    assert.match(dropIn, new RegExp(`cni_plugin_dirs = \\["${t.binDir}", "/usr/lib/cni", "/opt/cni/bin"\\]`));
    assert.match(dropIn, new RegExp(`network_config_dir = "${t.cniConfDir}"`));
  });

  test("two containers get both networks and reach each other and their gateways", async () => {
    for (const name of names) {
      await podman([
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "dockin-cni",
        ...ULIMITS,
        "--rootfs",
        join(dir, "rootfs"),
        "/bin/sleep",
        "600",
      ]);
    }
    const addr = await podman(["exec", names[0] as string, "/bin/ip", "-4", "-o", "addr"]);
    assert.match(addr, new RegExp(`eth0\\s+inet ${subnets[0]?.replace(/\./g, "\\.")}\\.\\d+/24`));
    assert.match(addr, new RegExp(`net1\\s+inet ${subnets[1]?.replace(/\./g, "\\.")}\\.\\d+/24`));
    const pods = obj(await rm.call("GET", "/api/v1/pods?namespace=default")).items as {
      name: string;
      networks: { ip?: string }[];
    }[];
    const other = pods.find((p) => p.name === names[1]);
    assert.ok(other, `the RM holds ${names[1]}: ${JSON.stringify(pods)}`);
    const targets = [...other.networks.map((n) => n.ip ?? ""), `${subnets[0]}.1`, `${subnets[1]}.1`];
    for (const target of targets) {
      await podman(["exec", names[0] as string, "/bin/ping", "-c", "1", "-W", "3", target]);
    }
  });

  test("podman rm detaches them and the RM frees their addresses", async () => {
    for (const name of names) await podman(["rm", "-f", "-t", "0", name]);
    const nets = obj(await rm.call("GET", "/api/v1/networks")).items as { name: string; allocated: number }[];
    for (const type of types)
      assert.equal(
        nets.find((n) => n.name === type)?.allocated,
        0,
        `network ${type} has no address allocated`,
      );
    const pods = obj(await rm.call("GET", "/api/v1/pods?namespace=default")).items as { name: string }[];
    assert.deepEqual(
      pods.filter((p) => names.includes(p.name)),
      [],
    );
  });
});
