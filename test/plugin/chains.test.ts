// What the plugins of a network's chain get, as libcni gives it to a conflist's plugins:
// - capability arguments: the runtime's runtimeConfig reaches the plugins of the master network's
//   chain that declare them; here the real `portmap` plugin after the real `bridge`, with iptables;
// - `disableCheck`: CHECK leaves the network's plugins alone.
// Every case runs over every spec version the plugin claims (CHECK: 0.4.0 and later).
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  CHECK_VERSIONS,
  cni,
  inWorld,
  nsAddresses,
  podArgs,
  rand,
  reply,
  sh,
  VERSIONS,
  type World,
} from "./harness.ts";

/** The iptables NAT rules that mention `text` (portmap's DNAT for the pod). */
const natRules = (text: string): string[] =>
  sh("iptables", ["-w", "-t", "nat", "-S"])
    .split("\n")
    .filter((l) => l.includes(text));

interface RecordPlugin {
  type: string;
  config: Record<string, unknown>;
}
interface RecordNet {
  name: string;
  plugins: RecordPlugin[];
}

function recordNetworks(w: World): RecordNet[] {
  const [file] = readdirSync(w.cacheDir);
  assert.ok(file, "no record");
  return (JSON.parse(readFileSync(join(w.cacheDir, file), "utf8")) as { networks: RecordNet[] }).networks;
}

/**
 * Network `a`: bridge then portmap (declaring portMappings); network `b`: bridge then portmap.
 * `a` sets disableCheck: Debian's portmap (1.1.1) fails every CHECK, checking its IPv6 rules even
 * for a pod that has none and, for a dual-stack pod, with the IPv4 rules
 * (containernetworking/plugins#819); that is what disableCheck is for.
 */
function networks(w: World, bridgeCaps?: Record<string, boolean>): void {
  const a = `dkb${rand(5)}`;
  const b = `dkb${rand(5)}`;
  w.bridges.push(a, b);
  w.file(
    "a.conflist",
    JSON.stringify({
      cniVersion: "1.0.0",
      name: "a",
      disableCheck: true,
      plugins: [
        { type: "bridge", bridge: a, ...(bridgeCaps === undefined ? {} : { capabilities: bridgeCaps }) },
        { type: "portmap", capabilities: { portMappings: true }, snat: true },
      ],
    }),
  );
  w.file(
    "b.conflist",
    JSON.stringify({
      cniVersion: "1.0.0",
      name: "b",
      plugins: [
        { type: "bridge", bridge: b },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    }),
  );
}

const entries = (n: number) => [
  {
    type: "a",
    podIp: `10.77.${n}.2`,
    subnetMask: "24",
    gateway: `10.77.${n}.1`,
    ifName: "eth0",
    master: true,
  },
  { type: "b", podIp: `10.78.${n}.2`, subnetMask: "24", ifName: "net1" },
];

describe("capability arguments reach the master network's plugins", () => {
  for (const [i, version] of VERSIONS.entries()) {
    test(`portMappings at ${version}: portmap on the master gets them, CHECK, DEL removes its rules`, async () => {
      await inWorld(async (w) => {
        networks(w);
        const pod = `pm-${rand()}`;
        w.webhook.replies.set(pod, reply(entries(i)));
        const ns = w.netns();
        const hostPort = 20_000 + i * 100 + Math.floor(Math.random() * 100);
        const config = w.config(version, {
          capabilities: { portMappings: true },
          runtimeConfig: {
            portMappings: [{ hostPort, containerPort: 80, protocol: "tcp" }],
            ips: ["10.200.0.9/24"],
          },
        });
        const call = { containerId: `c${rand()}`, netns: ns, args: podArgs(pod), config };
        const podIp = `10.77.${i}.2`;
        try {
          const add = await cni({ ...call, command: "ADD" });
          assert.equal(add.code, 0, add.stdout + add.stderr);
          // The RM's addresses, not the runtime's `ips`.
          assert.deepEqual(nsAddresses(ns), { eth0: [`${podIp}/24`], net1: [`10.78.${i}.2/24`] });
          const dnat = natRules(`${podIp}:80`);
          assert.ok(
            dnat.some((r) => r.includes(`--dport ${hostPort}`) && r.includes("DNAT")),
            `no DNAT of port ${hostPort} to ${podIp}:80 in\n${dnat.join("\n")}`,
          );
          const [a, b] = recordNetworks(w);
          assert.equal(a?.name, "a");
          assert.deepEqual(a?.plugins[1]?.config.runtimeConfig, {
            portMappings: [{ hostPort, containerPort: 80, protocol: "tcp" }],
          });
          assert.equal(a?.plugins[0]?.config.runtimeConfig, undefined, "bridge declares no capability");
          assert.equal(b?.name, "b");
          for (const p of b?.plugins ?? [])
            assert.equal(p.config.runtimeConfig, undefined, "a second network gets no host ports");
          assert.deepEqual(natRules(`10.78.${i}.2`), [], "no rules for the second network");

          if ((CHECK_VERSIONS as readonly string[]).includes(version)) {
            const check = await cni({ ...call, command: "CHECK" });
            assert.equal(check.code, 0, check.stdout + check.stderr);
          }
          const del = await cni({ ...call, command: "DEL" });
          assert.equal(del.code, 0, del.stdout + del.stderr);
          assert.deepEqual(natRules(`${podIp}:80`), [], "portmap's rules left after DEL");
          assert.deepEqual(w.records(), []);
          assert.deepEqual(w.portsLeft(), []);
        } finally {
          await cni({ ...call, command: "DEL" }); // never leave iptables rules behind
        }
      });
    });
  }

  test("runtimeConfig.ips is never passed on, with a warning; without capabilities nothing is", async () => {
    await inWorld(async (w) => {
      networks(w, { ips: true });
      const pod = `ips-${rand()}`;
      w.webhook.replies.set(pod, reply(entries(90)));
      const ns = w.netns();
      const config = w.config("1.0.0", {
        capabilities: { ips: true },
        runtimeConfig: { ips: ["10.200.0.9/24"] },
      });
      const call = { containerId: `c${rand()}`, netns: ns, args: podArgs(pod), config };
      try {
        const add = await cni({ ...call, command: "ADD" });
        assert.equal(add.code, 0, add.stdout + add.stderr);
        assert.deepEqual(nsAddresses(ns).eth0, ["10.77.90.2/24"]);
        for (const net of recordNetworks(w))
          for (const p of net.plugins) assert.equal(p.config.runtimeConfig, undefined);
        assert.match(
          readFileSync(w.logFile, "utf8"),
          /runtimeConfig\.ips is not passed to bridge: the pod's addresses come from the RM/,
        );
      } finally {
        await cni({ ...call, command: "DEL" });
      }
    });
  });
});

/** A chained plugin that passes its prevResult on at ADD and fails every CHECK. */
const CHECK_FAILS = `#!/usr/bin/python3
import json, os, sys
conf = json.load(sys.stdin)
if os.environ["CNI_COMMAND"] == "VERSION":
    print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0"]}))
elif os.environ["CNI_COMMAND"] == "ADD":
    print(json.dumps(conf["prevResult"]))
elif os.environ["CNI_COMMAND"] == "CHECK":
    print(json.dumps({"cniVersion": conf["cniVersion"], "code": 120, "msg": "checkfails: always"}))
    sys.exit(1)
`;

describe("a network's disableCheck", () => {
  for (const version of CHECK_VERSIONS) {
    test(`at ${version}: CHECK runs the chain's CHECKs unless the network sets disableCheck`, async () => {
      await inWorld(async (w) => {
        writeFileSync(join(w.binDir, "checkfails"), CHECK_FAILS, { mode: 0o755 });
        for (const disableCheck of [false, true]) {
          const bridge = `dkb${rand(5)}`;
          w.bridges.push(bridge);
          const name = `c${disableCheck ? "off" : "on"}`;
          w.file(
            `${name}.conflist`,
            JSON.stringify({
              cniVersion: "1.0.0",
              name,
              ...(disableCheck ? { disableCheck: true } : {}),
              plugins: [{ type: "bridge", bridge }, { type: "checkfails" }],
            }),
          );
          const pod = `dc-${rand()}`;
          w.webhook.replies.set(
            pod,
            reply([{ type: name, podIp: "10.79.0.2", subnetMask: "24", gateway: "10.79.0.1", master: true }]),
          );
          const call = {
            containerId: `c${rand()}`,
            netns: w.netns(),
            args: podArgs(pod),
            config: w.config(version),
          };
          const add = await cni({ ...call, command: "ADD" });
          assert.equal(add.code, 0, add.stdout + add.stderr);
          const check = await cni({ ...call, command: "CHECK" });
          if (disableCheck) assert.equal(check.code, 0, check.stdout + check.stderr);
          else {
            assert.equal(check.code, 1);
            assert.equal(check.json?.code, 120);
            assert.match(
              String(check.json?.msg),
              /network "con" \(eth0\): checkfails CHECK failed: checkfails: always/,
            );
          }
          const del = await cni({ ...call, command: "DEL" });
          assert.equal(del.code, 0, del.stdout + del.stderr);
        }
        assert.deepEqual(w.records(), []);
        assert.deepEqual(w.portsLeft(), []);
      });
    });
  }
});
