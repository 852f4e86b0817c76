// dockin-cni STATUS and GC (1.1.0), https with a CA bundle and a bearer token, the detach
// notification, and 20 pods attached at once.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import { join } from "node:path";
import { describe, test } from "node:test";
import { makePki } from "../fixtures/certs.ts";
import { cni, inWorld, nsAddresses, podArgs, REFERENCE, reply, Webhook, World } from "./harness.ts";

const pair = (n: number) => [
  { type: "test", podIp: `10.1.0.${n}`, subnetMask: "255.255.0.0", gateway: "10.1.255.254", master: true },
  { type: "dockin", podIp: `10.2.0.${n}`, subnetMask: 16, gateway: "10.2.255.254", ifName: "net1" },
];

describe("dockin-cni STATUS", () => {
  test("STATUS succeeds when the backend answers and every delegate exists", async () => {
    await inWorld(async (w) => {
      w.network("test");
      const ok = await cni({ command: "STATUS", containerId: "", config: w.config("1.1.0") });
      assert.equal(ok.code, 0, ok.stdout);
    });
  });

  test("STATUS is error 50 when the backend is down", async () => {
    await inWorld(async (w) => {
      w.network("test");
      await w.webhook.stop();
      const run = await cni({ command: "STATUS", containerId: "", config: w.config("1.1.0") });
      assert.equal(run.json?.code, 50, run.stdout);
      assert.match(String(run.json?.msg), /does not answer/);
    });
  });

  test("STATUS is error 50 when a network's delegate is missing", async () => {
    await inWorld(async (w) => {
      w.network("test", { type: "nosuchplugin" });
      const run = await cni({
        command: "STATUS",
        containerId: "",
        config: w.config("1.1.0"),
        path: "/nonexistent",
      });
      assert.equal(run.json?.code, 50, run.stdout);
      assert.match(String(run.json?.msg), /nosuchplugin/);
    });
  });
});

describe("dockin-cni GC", () => {
  test("GC detaches and forgets attachments not in cni.dev/valid-attachments", async () => {
    await inWorld(async (w) => {
      w.network("test");
      w.network("dockin");
      const pods = [1, 2, 3].map((n) => ({ n, ns: w.netns(), cid: `gc${n}` }));
      for (const p of pods) {
        w.webhook.replies.set(`pod-${p.n}`, reply(pair(p.n)));
        const add = await cni({
          command: "ADD",
          containerId: p.cid,
          netns: p.ns,
          args: podArgs(`pod-${p.n}`),
          config: w.config("1.1.0"),
        });
        assert.equal(add.code, 0, add.stdout);
      }
      // pod 3's namespace is already gone, as after a reboot.
      execFileSync("ip", ["netns", "del", pods[2]!.ns]);
      const gc = await cni({
        command: "GC",
        containerId: "",
        config: w.config("1.1.0", { "cni.dev/valid-attachments": [{ containerID: "gc1", ifname: "eth0" }] }),
      });
      assert.equal(gc.code, 0, gc.stdout + gc.stderr);
      assert.deepEqual(w.records(), ["gc1:eth0.json"]);
      assert.deepEqual(nsAddresses(pods[0]!.ns), { eth0: ["10.1.0.1/16"], net1: ["10.2.0.1/16"] });
      assert.deepEqual(nsAddresses(pods[1]!.ns), {});
      assert.equal(w.portsLeft().length, 2, "only pod 1's two veths remain");
      const del = await cni({
        command: "DEL",
        containerId: "gc1",
        netns: pods[0]!.ns,
        args: podArgs("pod-1"),
        config: w.config("1.1.0"),
      });
      assert.equal(del.code, 0);
      assert.deepEqual(w.portsLeft(), []);
    });
  });

  test("GC tells notifyUrl of every attachment it removes", async () => {
    await inWorld(async (w) => {
      w.network("test");
      w.network("dockin");
      const notifyUrl = w.webhook.url("/notify");
      const ns = w.netns();
      w.webhook.replies.set("pod-7", reply(pair(7)));
      const add = await cni({
        command: "ADD",
        containerId: "gc7",
        netns: ns,
        args: podArgs("pod-7"),
        config: w.config("1.1.0", { notifyUrl }),
      });
      assert.equal(add.code, 0, add.stdout);
      const gc = await cni({
        command: "GC",
        containerId: "",
        config: w.config("1.1.0", { notifyUrl, "cni.dev/valid-attachments": [] }),
      });
      assert.equal(gc.code, 0, gc.stdout + gc.stderr);
      assert.deepEqual(w.records(), []);
      const notes = w.webhook.requests
        .filter((r) => r.url.pathname === "/notify")
        .map((r) => JSON.parse(r.body));
      assert.equal(notes.length, 1);
      assert.equal(notes[0].podName, "pod-7");
      assert.equal(notes[0].event, "detached");
    });
  });

  test("GC leaves an ADD in progress alone, and detaches one whose process died half-way", async () => {
    await inWorld(async (w) => {
      // The network's delegate is the real bridge behind a gate: its ADD waits for the gate file.
      const gate = join(w.dir, "gate");
      w.fake(
        "gatedbridge",
        [
          'if [ "$CNI_COMMAND" = ADD ]; then',
          `  echo $$ > ${w.dir}/delegate-$CNI_CONTAINERID.pid`,
          `  while [ ! -e ${gate} ]; do sleep 0.05; done`,
          "fi",
          `exec ${join(REFERENCE, "bridge")}`,
        ].join("\n"),
      );
      w.network("test", { type: "gatedbridge" });
      const waitForRecord = async (name: string): Promise<void> => {
        while (!w.records().includes(name)) await new Promise((r) => setTimeout(r, 20));
      };
      const gcNow = () =>
        cni({
          command: "GC",
          containerId: "",
          config: w.config("1.1.0", { "cni.dev/valid-attachments": [] }),
        });

      // An ADD running now (its record in state `adding`, its delegate waiting): GC leaves it.
      const ns = w.netns();
      w.webhook.replies.set("pod-1", reply([pair(1)[0]]));
      const adding = cni({
        command: "ADD",
        containerId: "inflight",
        netns: ns,
        args: podArgs("pod-1"),
        config: w.config("1.1.0", { deadlineMs: 60_000, delegateTimeoutMs: 60_000 }),
      });
      try {
        await waitForRecord("inflight:eth0.json");
        const gc = await gcNow();
        assert.equal(gc.code, 0, gc.stdout + gc.stderr);
        assert.deepEqual(w.records(), ["inflight:eth0.json"], "GC left the ADD in progress alone");
      } finally {
        // Whatever happened, let the ADD finish: no process outlives the test.
        writeFileSync(gate, "");
      }
      const add = await adding;
      assert.equal(add.code, 0, add.stdout + add.stderr);
      assert.deepEqual(nsAddresses(ns), { eth0: ["10.1.0.1/16"] });
      assert.match(readFileSync(w.logFile, "utf8"), /GC: leaving an ADD in progress alone/);
      rmSync(gate);

      // An ADD killed half-way (the record still `adding`, its process gone): GC detaches it.
      const ns2 = w.netns();
      w.webhook.replies.set("pod-2", reply([pair(2)[0]]));
      let pid = 0;
      const killed = cni({
        command: "ADD",
        containerId: "crashed",
        netns: ns2,
        args: podArgs("pod-2"),
        config: w.config("1.1.0", { deadlineMs: 60_000, delegateTimeoutMs: 60_000 }),
        onSpawn: (p) => {
          pid = p;
        },
      });
      await waitForRecord("crashed:eth0.json");
      const delegatePid = join(w.dir, "delegate-crashed.pid");
      while (!existsSync(delegatePid)) await new Promise((r) => setTimeout(r, 20));
      process.kill(-pid, "SIGKILL");
      // The delegate runs in its own process group: it goes too, as in a node's crash.
      process.kill(Number(readFileSync(delegatePid, "utf8")), "SIGKILL");
      assert.equal((await killed).signal, "SIGKILL");
      const gc2 = await cni({
        command: "GC",
        containerId: "",
        config: w.config("1.1.0", {
          "cni.dev/valid-attachments": [{ containerID: "inflight", ifname: "eth0" }],
        }),
      });
      assert.equal(gc2.code, 0, gc2.stdout + gc2.stderr);
      assert.deepEqual(w.records(), ["inflight:eth0.json"], "GC removed the crashed ADD's record");

      const del = await cni({
        command: "DEL",
        containerId: "inflight",
        netns: ns,
        args: podArgs("pod-1"),
        config: w.config("1.1.0"),
      });
      assert.equal(del.code, 0, del.stdout + del.stderr);
      assert.deepEqual(w.portsLeft(), []);
    });
  });

  test("GC sets an unreadable record aside, never deletes it, and goes on", async () => {
    await inWorld(async (w) => {
      mkdirSync(w.cacheDir, { recursive: true });
      writeFileSync(join(w.cacheDir, "broken:eth0.json"), "{ not a record");
      const gc = await cni({
        command: "GC",
        containerId: "",
        config: w.config("1.1.0", { "cni.dev/valid-attachments": [] }),
      });
      assert.equal(gc.code, 0, gc.stdout);
      const left = readdirSync(w.cacheDir);
      assert.equal(left.length, 1, String(left));
      assert.match(left[0]!, /^broken:eth0\.json\.unreadable-\d+$/);
      assert.equal(readFileSync(join(w.cacheDir, left[0]!), "utf8"), "{ not a record");
      assert.match(readFileSync(w.logFile, "utf8"), /unreadable attachment record set aside/);
    });
  });

  test("GC without a valid-attachments list is refused (error 7) and removes nothing", async () => {
    await inWorld(async (w) => {
      w.network("test");
      w.network("dockin");
      const ns = w.netns();
      w.webhook.replies.set("pod-8", reply(pair(8)));
      const add = await cni({
        command: "ADD",
        containerId: "gc8",
        netns: ns,
        args: podArgs("pod-8"),
        config: w.config("1.1.0"),
      });
      assert.equal(add.code, 0, add.stdout);
      const gc = await cni({ command: "GC", containerId: "", config: w.config("1.1.0") });
      assert.notEqual(gc.code, 0);
      assert.equal(JSON.parse(gc.stdout).code, 7);
      assert.deepEqual(w.records(), ["gc8:eth0.json"]);
      const del = await cni({
        command: "DEL",
        containerId: "gc8",
        netns: ns,
        args: podArgs("pod-8"),
        config: w.config("1.1.0"),
      });
      assert.equal(del.code, 0);
    });
  });
});

interface Certs {
  ca: string;
  key: string;
  cert: string;
  clientKey: string;
  clientCert: string;
}

function makeCerts(dir: string): Certs {
  const pki = makePki(dir);
  return {
    ca: pki.ca,
    key: pki.server.key,
    cert: pki.server.cert,
    clientKey: pki.client.key,
    clientCert: pki.client.cert,
  };
}

describe("dockin-cni over https", () => {
  test("https webhook with a CA bundle and a bearer token from a file, never logged", async () => {
    const w = new World();
    const certs = makeCerts(w.dir);
    const token = `tok-${Date.now()}-secret`;
    const tokenFile = join(w.dir, "token");
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    w.webhook = new Webhook(
      createServer({ key: readFileSync(certs.key), cert: readFileSync(certs.cert) }),
      "https",
    );
    await w.start();
    try {
      w.network("test");
      w.network("dockin");
      w.webhook.handler = (req, res) => {
        if (req.headers.authorization !== `Bearer ${token}`) {
          res.writeHead(401, { "content-type": "application/json" });
          res.end(JSON.stringify({ code: 401, message: "bad token" }));
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(reply(pair(7))));
      };
      assert.match(w.backend, /^https:/);
      const ns = w.netns();
      const call = { containerId: "tls", netns: ns, args: podArgs("pod-7") };
      const noCa = await cni({
        ...call,
        command: "ADD",
        config: w.config("1.1.0", { tokenFile, retries: 0 }),
      });
      assert.equal(noCa.json?.code, 11, `an unknown CA must fail: ${noCa.stdout}`);
      const noToken = await cni({ ...call, command: "ADD", config: w.config("1.1.0", { caFile: certs.ca }) });
      assert.equal(noToken.json?.code, 101, noToken.stdout);
      assert.match(String(noToken.json?.msg), /HTTP 401: bad token/);
      const add = await cni({
        ...call,
        command: "ADD",
        config: w.config("1.1.0", { caFile: certs.ca, tokenFile }),
      });
      assert.equal(add.code, 0, add.stdout + add.stderr);
      assert.deepEqual(nsAddresses(ns), { eth0: ["10.1.0.7/16"], net1: ["10.2.0.7/16"] });
      const del = await cni({
        ...call,
        command: "DEL",
        config: w.config("1.1.0", { caFile: certs.ca, tokenFile }),
      });
      assert.equal(del.code, 0);
      assert.doesNotMatch(readFileSync(w.logFile, "utf8"), new RegExp(token));
    } finally {
      await w.cleanup();
    }
  });
});

describe("dockin-cni over https with a client certificate", () => {
  test("a backend that requires a client certificate accepts certFile/keyFile and refuses without", async () => {
    const w = new World();
    const certs = makeCerts(w.dir);
    w.webhook = new Webhook(
      createServer({
        key: readFileSync(certs.key),
        cert: readFileSync(certs.cert),
        ca: readFileSync(certs.ca),
        requestCert: true,
        rejectUnauthorized: true,
      }),
      "https",
    );
    await w.start();
    try {
      w.network("test");
      w.network("dockin");
      w.webhook.replies.set("pod-8", reply(pair(8)));
      const ns = w.netns();
      const call = { containerId: "mtls", netns: ns, args: podArgs("pod-8") };
      const without = await cni({
        ...call,
        command: "ADD",
        config: w.config("1.0.0", { caFile: certs.ca, retries: 0 }),
      });
      assert.equal(without.json?.code, 11, without.stdout);
      assert.equal(w.webhook.requests.length, 0);
      const tls = { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey };
      const add = await cni({ ...call, command: "ADD", config: w.config("1.0.0", tls) });
      assert.equal(add.code, 0, add.stdout + add.stderr);
      const del = await cni({ ...call, command: "DEL", config: w.config("1.0.0", tls) });
      assert.equal(del.code, 0, del.stdout);
      assert.deepEqual(nsAddresses(ns), {});
    } finally {
      await w.cleanup();
    }
  });
});

describe("dockin-cni tells the RM about detached pods", () => {
  test("DEL posts podName, podNamespace and containerId to notifyUrl; a failing notify does not fail DEL", async () => {
    await inWorld(async (w) => {
      w.network("test");
      w.network("dockin");
      w.webhook.replies.set("pod-5", reply(pair(5)));
      const ns = w.netns();
      const call = { containerId: "notify", netns: ns, args: podArgs("pod-5", "shop", "infra5") };
      const notifyUrl = w.webhook.url("/api/v1/detached");
      const add = await cni({ ...call, command: "ADD", config: w.config("1.0.0", { notifyUrl }) });
      assert.equal(add.code, 0, add.stdout);
      const del = await cni({ ...call, command: "DEL", config: w.config("1.0.0", { notifyUrl }) });
      assert.equal(del.code, 0, del.stdout);
      const posted = w.webhook.requests.filter((r) => r.method === "POST");
      assert.equal(posted.length, 1);
      assert.equal(posted[0]!.url.pathname, "/api/v1/detached");
      assert.deepEqual(JSON.parse(posted[0]!.body), {
        event: "detached",
        podName: "pod-5",
        podNamespace: "shop",
        containerId: "infra5",
        podUid: "uid-pod-5",
        ifName: "eth0",
      });
      await w.webhook.stop();
      const again = await cni({ ...call, command: "DEL", config: w.config("1.0.0", { notifyUrl }) });
      assert.equal(again.code, 0, again.stdout);
    });
  });
});

describe("dockin-cni under load", () => {
  test("20 pods attached at once, then detached at once", async () => {
    await inWorld(async (w) => {
      w.network("test");
      w.network("dockin");
      const pods = Array.from({ length: 20 }, (_, i) => ({ n: i + 1, ns: w.netns() }));
      for (const p of pods) w.webhook.replies.set(`pod-${p.n}`, reply(pair(p.n)));
      const config = w.config("1.1.0", { deadlineMs: 20_000, timeoutMs: 10_000 });
      const adds = await Promise.all(
        pods.map((p) =>
          cni({
            command: "ADD",
            containerId: `load${p.n}`,
            netns: p.ns,
            args: podArgs(`pod-${p.n}`),
            config,
          }),
        ),
      );
      for (const [i, a] of adds.entries()) assert.equal(a.code, 0, `pod ${i + 1}: ${a.stdout}`);
      for (const p of pods) {
        assert.deepEqual(nsAddresses(p.ns), { eth0: [`10.1.0.${p.n}/16`], net1: [`10.2.0.${p.n}/16`] });
      }
      assert.equal(w.portsLeft().length, 40);
      assert.equal(w.records().length, 20);
      const dels = await Promise.all(
        pods.map((p) =>
          cni({
            command: "DEL",
            containerId: `load${p.n}`,
            netns: p.ns,
            args: podArgs(`pod-${p.n}`),
            config,
          }),
        ),
      );
      for (const [i, d] of dels.entries()) assert.equal(d.code, 0, `pod ${i + 1}: ${d.stdout}`);
      assert.deepEqual(w.portsLeft(), []);
      assert.deepEqual(w.records(), []);
    });
  });
});
