// Where a network's gateway is, as `dockin install` writes it: on the bridge (isGateway, the
// default, printed in the plan and written in the config) or behind an uplink NIC that install
// enslaves to the bridge. The end-to-end cases run everything inside a throwaway "host" network
// namespace (with a veth standing in for the NIC and a second namespace as the site's router), so
// this machine's links, addresses and sysctls are never touched; a pod attached through the
// installed dockin-cni then pings its gateway.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ALL_VERSIONS } from "../../src/cni/version.ts";
import { rand } from "../plugin/harness.ts";
import { readJson, root, tempTree } from "./helpers.ts";

const DOCKIN = join(root, "dist", "bin", "dockin");
const BUSYBOX = "/usr/bin/busybox";

function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}, input = "") {
  return spawnSync(file, args, { encoding: "utf8", env: { PATH: process.env.PATH, ...env }, input });
}

function ip(...args: string[]) {
  const r = run("ip", args);
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** dockin install (dist/bin/dockin installs itself) into the tree's temp dirs, optionally inside a netns. */
function install(t: ReturnType<typeof tempTree>, args: string[], netns?: string) {
  const argv = [
    "install",
    ...args,
    `--cni-conf-dir=${t.cniConfDir}`,
    `--bin-dir=${t.binDir}`,
    `--dockin-conf-dir=${t.dockinConfDir}`,
    `--cache-dir=${t.cacheDir}`,
    `--log-file=${join(t.root, "dockin-cni.log")}`,
  ];
  return netns === undefined ? run(DOCKIN, argv) : run("ip", ["netns", "exec", netns, DOCKIN, ...argv]);
}

const HOOK = "http://127.0.0.1:1/hook";

describe("dockin install: where each network's gateway is", () => {
  test("puts the gateway on the bridge by default, says so in the plan and writes isGateway", (ctx) => {
    const t = tempTree();
    ctx.after(() => t.cleanup());
    const r = install(t, [HOOK, "a,b", "--ip-masq=b", "--no-probe"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /network "a" on bridge dk-a, gateway on the bridge \(isGateway; turns on net\.ipv4\.ip_forward\); by default \(--uplink TYPE=NIC puts the gateway behind a NIC instead\)/,
    );
    assert.match(r.stdout, /network "b" on bridge dk-b, gateway on the bridge .*ipMasq: NAT/);
    assert.deepEqual(readJson(join(t.dockinConfDir, "a.json")), {
      cniVersion: readJson(join(t.dockinConfDir, "a.json")).cniVersion,
      name: "a",
      type: "bridge",
      bridge: "dk-a",
      isGateway: true,
      ipMasq: false,
    });
    assert.equal(readJson(join(t.dockinConfDir, "b.json")).ipMasq, true);
  });

  const refusals: [string, string[], RegExp][] = [
    [
      "an uplink without its type among several",
      ["a,b", "--uplink", "eth9"],
      /with several types, name the network: --uplink TYPE=eth9/,
    ],
    [
      "an uplink for a type not installed",
      ["a", "--uplink", "c=eth9"],
      /"c" is not one of the types being installed \(a\)/,
    ],
    [
      "one NIC for two networks",
      ["a,b", "--uplink", "a=eth9", "--uplink", "b=eth9"],
      /eth9 cannot be the uplink of both "a" and "b"/,
    ],
    [
      "an uplink and the gateway on the bridge",
      ["a", "--uplink", "a=eth9", "--gateway-on-bridge=a"],
      /both --uplink and --gateway-on-bridge/,
    ],
    ["ipMasq with an uplink", ["a", "--uplink", "eth9", "--ip-masq"], /both --uplink and --ip-masq/],
    ["a NIC name that is not one", ["a", "--uplink", "a=eth 9"], /"eth 9" is not an interface name/],
    [
      "the loopback interface",
      ["a", "--uplink", "a=lo"],
      /lo is the loopback interface, which no bridge can enslave; name the NIC toward the site's router/,
    ],
    [
      "a NIC that does not exist",
      ["a", "--uplink", `a=dkno${rand(3)}`],
      /there is no interface "dkno\w+" on this host/,
    ],
  ];
  for (const [name, args, message] of refusals) {
    test(`refuses ${name}, changing nothing`, (ctx) => {
      const t = tempTree();
      ctx.after(() => t.cleanup());
      const r = install(t, [HOOK, ...args, "--no-probe"]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, message);
      assert.equal(existsSync(t.binDir), false);
      assert.equal(existsSync(t.dockinConfDir), false);
    });
  }
});

/** A "host" namespace with a webhook on its loopback (busybox httpd serving one reply). */
function makeHost(ctx: { after: (fn: () => void) => void }, reply: unknown) {
  const t = tempTree();
  const id = rand(3);
  const host = `dkgwh${id}`;
  ctx.after(() => {
    run("ip", ["netns", "pids", host])
      .stdout.split("\n")
      .filter(Boolean)
      .forEach((pid) => {
        run("kill", ["-9", pid]);
      });
    run("ip", ["netns", "del", host]);
    t.cleanup();
  });
  ip("netns", "add", host);
  ip("-n", host, "link", "set", "lo", "up");
  const www = join(t.root, "www", "rmController");
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, "getPodMultiNetwork"), JSON.stringify(reply));
  const httpd = run("ip", [
    "netns",
    "exec",
    host,
    BUSYBOX,
    "httpd",
    "-p",
    "127.0.0.1:8080",
    "-h",
    join(t.root, "www"),
  ]);
  assert.equal(httpd.status, 0, httpd.stderr);
  return { t, id, host, webhook: "http://127.0.0.1:8080/rmController/getPodMultiNetwork" };
}

/**
 * Runs an ADD of a new namespace through the installed dockin-cni, run inside `host` (at
 * `version`, else the installed list's); its DEL and the namespace's removal run after the test.
 */
function tryAttach(
  ctx: { after: (fn: () => void) => void },
  t: ReturnType<typeof tempTree>,
  host: string,
  id: string,
  version?: string,
) {
  const pod = `dkgwp${id}`;
  ip("netns", "add", pod);
  const list = readJson(join(t.cniConfDir, "00-dockin-cni.conflist")) as {
    cniVersion: string;
    name: string;
    plugins: Record<string, unknown>[];
  };
  const stdin = JSON.stringify({
    cniVersion: version ?? list.cniVersion,
    name: list.name,
    ...list.plugins[0],
  });
  const env = (command: string) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: `c${id}`,
    CNI_NETNS: `/var/run/netns/${pod}`,
    CNI_IFNAME: "eth0",
    CNI_PATH: `${t.binDir}:/usr/lib/cni`,
    CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0",
  });
  const cni = (command: string) =>
    run("ip", ["netns", "exec", host, join(t.binDir, "dockin-cni")], env(command), stdin);
  ctx.after(() => {
    cni("DEL");
    run("ip", ["netns", "del", pod]);
  });
  return { pod, add: cni("ADD"), del: () => cni("DEL") };
}

/** Attaches (ADD) a new namespace through the installed dockin-cni, run inside `host`. */
function attach(
  ctx: { after: (fn: () => void) => void },
  t: ReturnType<typeof tempTree>,
  host: string,
  id: string,
) {
  const { pod, add } = tryAttach(ctx, t, host, id);
  assert.equal(add.status, 0, `${add.stdout}${add.stderr}`);
  return pod;
}

/** The bridge `nic` is enslaved to in `host`, if any. */
const masterOf = (host: string, nic: string): string | undefined =>
  (JSON.parse(ip("-n", host, "-j", "link", "show", "dev", nic)) as { master?: string }[])[0]?.master;

const haveTools = existsSync(BUSYBOX) && existsSync("/usr/lib/cni/bridge") && existsSync(DOCKIN);

describe("a pod reaches its gateway", {
  skip: !haveTools && "busybox, /usr/lib/cni/bridge or dist/bin missing",
}, () => {
  const reply = (type: string) => ({
    code: 0,
    reqId: "1",
    message: "success",
    data: [
      { type, podIp: "10.251.9.2", subnetMask: "24", gateway: "10.251.9.1", ifName: "eth0", master: true },
    ],
  });

  test("with the gateway on the bridge (the default): the bridge answers and forwarding is on", (ctx) => {
    const { t, id, host, webhook } = makeHost(ctx, reply("biz"));
    run("ip", ["netns", "exec", host, "sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    const r = install(t, [webhook, "biz", "--no-notify"], host);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /warning: nothing answers/);
    const pod = attach(ctx, t, host, id);
    const ping = run("ip", ["netns", "exec", pod, "ping", "-c", "1", "-W", "3", "10.251.9.1"]);
    assert.equal(ping.status, 0, `ping the gateway: ${ping.stdout}${ping.stderr}`);
    assert.match(ip("-n", host, "-4", "-o", "addr", "show", "dev", "dk-biz"), /inet 10\.251\.9\.1\/24/);
    const forward = run("ip", ["netns", "exec", host, "cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.trim();
    assert.equal(forward, "1", "isGateway turned IPv4 forwarding on");
  });

  /** An installed uplink network in a fresh host, with a router behind the NIC. */
  function uplinkHost(ctx: { after: (fn: () => void) => void }) {
    const made = makeHost(ctx, reply("site"));
    const { t, id, host, webhook } = made;
    const router = `dkgwr${id}`;
    const nic = `dkgwn${id}`;
    ip("netns", "add", router);
    ctx.after(() => run("ip", ["netns", "del", router]));
    ip("-n", host, "link", "add", nic, "type", "veth", "peer", "name", "wan0", "netns", router);
    ip("-n", router, "addr", "add", "10.251.9.1/24", "dev", "wan0");
    ip("-n", router, "link", "set", "wan0", "up");
    const r = install(t, [webhook, "site", "--uplink", nic, "--no-notify"], host);
    assert.equal(r.status, 0, r.stderr);
    return { ...made, nic, installed: r };
  }

  test("with an uplink: install enslaves the NIC, the pod reaches the router behind it; again changes nothing", (ctx) => {
    const { t, id, host, webhook, nic, installed: r } = uplinkHost(ctx);
    assert.match(r.stdout, /create +link dk-site +\(bridge of network "site"/);
    assert.match(r.stdout, new RegExp(`update +link ${nic} +\\(enslaved to dk-site`));
    assert.match(
      r.stdout,
      /not persistent: after a reboot dockin-cni enslaves the NIC again at the first pod's ADD/,
    );
    const conf = readJson(join(t.dockinConfDir, "site.json"));
    assert.equal(conf.uplink, nic);
    assert.equal(conf.isGateway, false);
    const link = JSON.parse(ip("-n", host, "-j", "link", "show", "dev", nic)) as {
      master?: string;
      flags: string[];
    }[];
    assert.equal(link[0]?.master, "dk-site");
    assert.ok(link[0]?.flags.includes("UP"));

    const again = install(t, [webhook, "site", "--uplink", nic, "--no-notify"], host);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`unchanged +link ${nic} +\\(uplink of dk-site\\)`));
    assert.match(again.stdout, /nothing to change/);

    const pod = attach(ctx, t, host, id);
    const ping = run("ip", ["netns", "exec", pod, "ping", "-c", "1", "-W", "3", "10.251.9.1"]);
    assert.equal(ping.status, 0, `ping the router behind the uplink: ${ping.stdout}${ping.stderr}`);
    assert.doesNotMatch(
      ip("-n", host, "-4", "-o", "addr", "show", "dev", "dk-site"),
      /inet /,
      "the bridge holds no gateway",
    );
  });

  test("a kept network config list with an uplink: install enslaves its NIC again (as after a reboot)", (ctx) => {
    const { t, id, host, webhook } = makeHost(ctx, reply("site"));
    const nic = `dkgwn${id}`;
    ip("-n", host, "link", "add", nic, "type", "veth", "peer", "name", `dkgwq${id}`);
    // The user's own .conflist: the bridge (and its uplink) is a plugin of the list, not the top.
    mkdirSync(t.dockinConfDir, { recursive: true });
    const keep = (bridge: Record<string, unknown>) =>
      writeFileSync(
        join(t.dockinConfDir, "site.conflist"),
        JSON.stringify({
          cniVersion: "1.0.0",
          name: "site",
          plugins: [
            { type: "bridge", bridge: "dk-site", uplink: nic, isGateway: false, ...bridge },
            { type: "portmap", capabilities: { portMappings: true } },
          ],
        }),
      );
    // A vlan asks for VLAN filtering, as the bridge plugin gives it (planned only: this machine's
    // kernel lacks bridge VLAN filtering).
    keep({ vlan: 7 });
    const planned = install(t, [webhook, "site", "--no-notify", "--dry-run"], host);
    assert.equal(planned.status, 0, planned.stderr);
    assert.match(planned.stdout, /\(ip link add dk-site type bridge vlan_filtering 1\)/);
    keep({ mtu: 1400 });
    const r = install(t, [webhook, "site", "--no-notify"], host);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /keep +.*site\.conflist/);
    assert.match(r.stdout, new RegExp(`update +link ${nic} +\\(enslaved to dk-site`));
    const link = JSON.parse(ip("-n", host, "-j", "link", "show", "dev", nic)) as { master?: string }[];
    assert.equal(link[0]?.master, "dk-site");
    // The bridge made as the bridge plugin would make it, with the config's MTU (the kernel then
    // follows its ports'; a `vlan` would add VLAN filtering, which this machine's kernel lacks).
    assert.match(
      r.stdout,
      /create +link dk-site +\(bridge of network "site" \(ip link add dk-site mtu 1400 type bridge\)\)/,
    );
  });

  test("refuses a NIC that holds an address, and one enslaved elsewhere, before changing anything", (ctx) => {
    const { t, id, host, webhook } = makeHost(ctx, reply("site"));
    const nic = `dkgwn${id}`;
    ip("-n", host, "link", "add", nic, "type", "veth", "peer", "name", `dkgwq${id}`);
    ip("-n", host, "addr", "add", "192.0.2.10/24", "dev", nic);
    const r = install(t, [webhook, "site", "--uplink", nic], host);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      new RegExp(`${nic} holds 192\\.0\\.2\\.10/24; enslaving it would cut this host off`),
    );
    assert.equal(existsSync(t.dockinConfDir), false);
    assert.throws(() => ip("-n", host, "link", "show", "dev", "dk-site"), "no bridge was made");
    ip("-n", host, "addr", "flush", "dev", nic);
    ip("-n", host, "link", "add", "br-other", "type", "bridge");
    ip("-n", host, "link", "set", nic, "master", "br-other");
    const taken = install(t, [webhook, "site", "--uplink", nic], host);
    assert.equal(taken.status, 2);
    assert.match(taken.stderr, /already enslaved to br-other/);
    assert.equal(
      readFileSync(join(t.root, "www", "rmController", "getPodMultiNetwork"), "utf8").length > 0,
      true,
    );
  });

  /** The kernel keeps no link across a reboot: the bridge gone, the NIC free and down. */
  const reboot = (host: string, nic: string) => {
    ip("-n", host, "link", "del", "dk-site");
    ip("-n", host, "link", "set", nic, "down");
  };

  test("after a reboot the first pod's ADD enslaves the uplink again, at every version, and the pod reaches the router", (ctx) => {
    const { t, id, host, nic } = uplinkHost(ctx);
    for (const version of ALL_VERSIONS) {
      reboot(host, nic);
      assert.equal(masterOf(host, nic), undefined);
      const { pod, add, del } = tryAttach(ctx, t, host, `${id}${version.replaceAll(".", "")}`, version);
      assert.equal(add.status, 0, `${version}: ${add.stdout}${add.stderr}`);
      assert.equal(masterOf(host, nic), "dk-site", `${version}: the NIC is the bridge's port again`);
      const ping = run("ip", ["netns", "exec", pod, "ping", "-c", "1", "-W", "3", "10.251.9.1"]);
      assert.equal(
        ping.status,
        0,
        `${version}: ping the router behind the uplink: ${ping.stdout}${ping.stderr}`,
      );
      assert.equal(del().status, 0, `${version}: DEL`);
      assert.equal(masterOf(host, nic), "dk-site", `${version}: DEL leaves the uplink as it is`);
    }
    const log = readFileSync(join(t.root, "dockin-cni.log"), "utf8");
    assert.match(
      log,
      new RegExp(`uplink ${nic} was not a port of dk-site \\(after a reboot\\?\\): enslaved it`),
    );
    // Uninstall changes no link, and names the uplink it leaves enslaved.
    const dirs = [
      `--cni-conf-dir=${t.cniConfDir}`,
      `--bin-dir=${t.binDir}`,
      `--dockin-conf-dir=${t.dockinConfDir}`,
      `--cache-dir=${t.cacheDir}`,
    ];
    const gone = run("ip", ["netns", "exec", host, DOCKIN, "uninstall", ...dirs]);
    assert.equal(gone.status, 0, gone.stderr);
    assert.match(
      gone.stdout,
      new RegExp(`uplink ${nic} stays enslaved to dk-site: ip link set ${nic} nomaster frees it`),
    );
    assert.equal(masterOf(host, nic), "dk-site");
  });

  test("an ADD refuses, naming the fix, an uplink that is gone, holds an address or is another bridge's, and leaves nothing", (ctx) => {
    const { t, id, host, nic } = uplinkHost(ctx);
    const refusals: [string, () => void, RegExp][] = [
      [
        "an address",
        () => ip("-n", host, "addr", "add", "192.0.2.10/24", "dev", nic),
        new RegExp(
          `its uplink ${nic} holds 192\\.0\\.2\\.10/24 \\(enslaving it would cut this node off that network\\)`,
        ),
      ],
      [
        "another bridge",
        () => {
          ip("-n", host, "addr", "flush", "dev", nic);
          ip("-n", host, "link", "add", "br-other", "type", "bridge");
          ip("-n", host, "link", "set", nic, "master", "br-other");
        },
        new RegExp(
          `its uplink ${nic} is already enslaved to br-other.*free it \\(ip link set ${nic} nomaster\\)`,
        ),
      ],
      [
        "a name that is not an interface's",
        () => {
          const file = join(t.dockinConfDir, "site.json");
          writeFileSync(file, JSON.stringify({ ...readJson(file), uplink: "../eth0" }));
        },
        /its uplink \.\.\/eth0 is not an interface name \(it may not contain '\/', ':' or white space\).*fix "uplink" of the network's file in /,
      ],
      [
        "the loopback interface",
        () => {
          const file = join(t.dockinConfDir, "site.json");
          writeFileSync(file, JSON.stringify({ ...readJson(file), uplink: "lo" }));
        },
        /its uplink lo is the loopback interface, so the bridge dk-site cannot enslave it/,
      ],
      [
        "no NIC",
        () => {
          const file = join(t.dockinConfDir, "site.json");
          writeFileSync(file, JSON.stringify({ ...readJson(file), uplink: nic }));
          ip("-n", host, "link", "del", nic);
        },
        new RegExp(`its uplink ${nic} does not exist on this node.*name this node's NIC in "uplink"`),
      ],
    ];
    let n = 0;
    for (const [what, change, message] of refusals) {
      if (n === 0) reboot(host, nic);
      else run("ip", ["-n", host, "link", "del", "dk-site"]);
      change();
      const { pod, add } = tryAttach(ctx, t, host, `${id}${n++}`);
      assert.notEqual(add.status, 0, `${what}: the ADD fails`);
      const error = JSON.parse(add.stdout) as { code: number; msg: string };
      assert.match(error.msg, message, what);
      assert.match(error.msg, /^attaching network "site" \(eth0\) to pod default\/web-0: its uplink/, what);
      assert.equal(error.code, 7, `${what}: an invalid config (code 7)`);
      assert.deepEqual(
        JSON.parse(ip("-n", pod, "-j", "link", "show")).map((l: { ifname: string }) => l.ifname),
        ["lo"],
        `${what}: no interface left in the pod`,
      );
      const veths = JSON.parse(ip("-n", host, "-j", "link", "show", "type", "veth")) as { ifname: string }[];
      assert.deepEqual(
        veths.map((l) => l.ifname).filter((name) => name !== nic),
        [],
        `${what}: no veth left on the host`,
      );
      assert.deepEqual(
        existsSync(t.cacheDir) ? readdirSync(t.cacheDir).filter((f) => f.endsWith(".json")) : [],
        [],
        `${what}: no record left`,
      );
    }
  });
});
