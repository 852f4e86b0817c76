// Policy routing (src/plugin/routing.ts) in a real namespace, both ways iproute2 is run: `ip -n
// <name>` for a named namespace, nsenter for any other path to one (here a bind mount of it).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { RecordNetwork } from "../../src/plugin/record.ts";
import { addPolicy, checkPolicy, ipIn, removePolicy } from "../../src/plugin/routing.ts";
import { rand, sh, trySh } from "./harness.ts";

const ns = `dk-rt-${rand()}`;
const named = `/var/run/netns/${ns}`;
let work = "";
let mounted = "";

const net: RecordNetwork = {
  name: "storage",
  ifName: "net1",
  master: false,
  addresses: [{ address: "10.99.0.2/24", gateway: "10.99.0.1", family: 4 }],
  table: 1001,
  plugins: [],
};

const rules = () => sh("ip", ["-n", ns, "-4", "rule", "show"]);

before(() => {
  work = mkdtempSync(join(tmpdir(), "dockin-routing-"));
  sh("ip", ["netns", "add", ns]);
  sh("ip", ["-n", ns, "link", "add", "net1", "type", "veth", "peer", "name", "peer1"]);
  sh("ip", ["-n", ns, "addr", "add", "10.99.0.2/24", "dev", "net1"]);
  sh("ip", ["-n", ns, "link", "set", "net1", "up"]);
  sh("ip", ["-n", ns, "link", "set", "peer1", "up"]);
  mounted = join(work, "netns-file");
  writeFileSync(mounted, "");
  sh("mount", ["--bind", named, mounted]);
});

after(() => {
  trySh("umount", [mounted]);
  trySh("ip", ["netns", "del", ns]);
  rmSync(work, { recursive: true, force: true });
});

describe("ipIn(): how iproute2 is run inside a namespace", () => {
  it("a named namespace: `ip -n <name>`, one process", () => {
    const c = ipIn(named, ["rule", "show"]);
    assert.match(c.file, /\/ip$/);
    assert.deepEqual(c.args, ["-n", ns, "rule", "show"]);
  });
  it("the same name under /run/netns (where podman names it)", () => {
    assert.deepEqual(ipIn(`/run/netns/${ns}`, ["rule"]).args, ["-n", ns, "rule"]);
  });
  it("any other path to a namespace: nsenter", () => {
    const c = ipIn(mounted, ["rule", "show"]);
    assert.match(c.file, /\/nsenter$/);
    assert.deepEqual(c.args.slice(0, 1), [`--net=${mounted}`]);
  });
  it("a file named like a namespace that is not the named one: nsenter", () => {
    const fake = join(work, "netns", ns);
    sh("mkdir", ["-p", join(work, "netns")]);
    writeFileSync(fake, "");
    assert.match(ipIn(fake, ["rule"]).file, /\/nsenter$/);
  });
});

for (const [way, path] of [
  ["ip -n", () => named],
  ["nsenter", () => mounted],
] as const) {
  describe(`policy routing through ${way}`, () => {
    it("adds the table and the rule, CHECK finds them, DEL removes the rule (the routes go with the link)", async () => {
      trySh("ip", ["-n", ns, "-4", "route", "flush", "table", "1001"]); // the other way's routes
      await addPolicy(path(), net);
      assert.match(rules(), /from 10\.99\.0\.2 lookup 1001/);
      const table = sh("ip", ["-n", ns, "-4", "route", "show", "table", "1001"]);
      assert.match(table, /default via 10\.99\.0\.1 dev net1/);
      assert.deepEqual(await checkPolicy(path(), net), []);
      await removePolicy(path(), net);
      assert.doesNotMatch(rules(), /lookup 1001/);
      assert.deepEqual(await checkPolicy(path(), net), ['rule "from 10.99.0.2 lookup 1001" is missing']);
    });
  });
}

describe("addPolicy() started before its chain has attached", () => {
  /** The `ip` processes running in the test's namespace (by their command line). */
  const ipsRunning = () =>
    sh("ps", ["-eo", "args"])
      .split("\n")
      .filter((l) => l.includes(`-n ${ns} -4 -batch`)).length;

  it("waits for the chain, then adds the routes and the rule once the link exists", async () => {
    trySh("ip", ["-n", ns, "-4", "route", "flush", "table", "1001"]);
    trySh("ip", ["-n", ns, "-4", "rule", "del", "from", "10.99.0.2", "lookup", "1001"]);
    sh("ip", ["-n", ns, "link", "del", "net1"]);
    let attach: () => void = () => {};
    const attached = new Promise<void>((r) => {
      attach = r;
    });
    const policy = addPolicy(named, net, attached);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ipsRunning(), 1, "its ip is started and waits for its commands");
    assert.doesNotMatch(rules(), /lookup 1001/, "nothing is added before the chain has attached");
    // What the chain does: the link appears, with its address.
    sh("ip", ["-n", ns, "link", "add", "net1", "type", "veth", "peer", "name", "peer1"]);
    sh("ip", ["-n", ns, "addr", "add", "10.99.0.2/24", "dev", "net1"]);
    sh("ip", ["-n", ns, "link", "set", "net1", "up"]);
    sh("ip", ["-n", ns, "link", "set", "peer1", "up"]);
    attach();
    await policy;
    assert.match(rules(), /from 10\.99\.0\.2 lookup 1001/);
    assert.match(sh("ip", ["-n", ns, "-4", "route", "show", "table", "1001"]), /default via 10\.99\.0\.1/);
    await removePolicy(named, net);
  });

  it("a chain that fails leaves no rule and no process behind, and its error is the chain's alone", async () => {
    const attached = Promise.reject(new Error("bridge failed"));
    attached.catch(() => {});
    await addPolicy(named, net, attached); // resolves: the failure is reported by the chain's caller
    assert.doesNotMatch(rules(), /lookup 1001/);
    assert.equal(ipsRunning(), 0);
  });

  it("a command that fails once the chain has attached is the policy's error, with iproute2's words", async () => {
    const broken: RecordNetwork = { ...net, ifName: "nosuchlink" };
    await assert.rejects(addPolicy(named, broken, Promise.resolve()), /adding policy routing.*nosuchlink/s);
    assert.equal(ipsRunning(), 0);
  });
});

describe("addPolicy() when its ip cannot run", () => {
  const gone = "/var/run/netns/dk-rt-no-such-namespace";
  it("the namespace is gone and the chain fails: it resolves, nothing unhandled", async () => {
    const attached = Promise.reject(new Error("bridge failed"));
    attached.catch(() => {});
    await addPolicy(gone, net, attached);
  });
  it("the namespace is gone and the chain attaches: the policy's error, not a broken pipe", async () => {
    let attach: () => void = () => {};
    const attached = new Promise<void>((r) => {
      attach = r;
    });
    const policy = addPolicy(gone, net, attached);
    await new Promise((r) => setTimeout(r, 200)); // nsenter has failed and exited by now
    attach(); // its commands go to a closed pipe
    await assert.rejects(policy, /adding policy routing for network "storage"/);
  });
});
