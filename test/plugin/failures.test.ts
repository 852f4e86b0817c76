// dockin-cni when things go wrong: bad webhook replies (nothing may be created), a delegate that
// fails half-way (everything rolled back), the plugin killed during ADD (DEL leaves nothing).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { SEED_MASTER, SEED_SECOND } from "../fixtures/seed.ts";
import { cni, inWorld, nsAddresses, podArgs, reply, trySh, VERSIONS, type World } from "./harness.ts";

const master = { ...SEED_MASTER };
const second = { ...SEED_SECOND };

interface BadReply {
  name: string;
  /** The reply body (an object is sent as JSON) or a status to answer with. */
  body?: unknown;
  status?: number;
  extra?: Record<string, unknown>;
  code: number;
  msg: RegExp;
}

const badReplies: BadReply[] = [
  {
    name: "no master",
    body: reply([{ ...master, master: false }, second]),
    code: 101,
    msg: /no entry is the master/,
  },
  {
    name: "two masters",
    body: reply([master, { ...second, master: true, ifName: undefined }]),
    code: 101,
    msg: /2 entries are the master/,
  },
  { name: "empty data", body: reply([]), code: 101, msg: /data: is empty/ },
  {
    name: "data not a list",
    body: { code: 0, data: { type: "test" } },
    code: 101,
    msg: /data: is not a list/,
  },
  {
    name: "bad mask",
    body: reply([{ ...master, subnetMask: "255.0.255.0" }, second]),
    code: 101,
    msg: /data\[0\]\.subnetMask: "255\.0\.255\.0" is not a valid IPv4 mask/,
  },
  {
    name: "a /0 mask",
    body: reply([master, { ...second, subnetMask: "0" }]),
    code: 101,
    msg: /data\[1\]\.subnetMask/,
  },
  {
    name: "bad ip",
    body: reply([master, { ...second, podIp: "192.168.2.300" }]),
    code: 101,
    msg: /data\[1\]\.podIp: "192\.168\.2\.300" is not an IP address/,
  },
  {
    name: "bad dual-stack entry",
    body: reply([{ ...master, ips: [{ address: "fd00::5" }] }, second]),
    code: 101,
    msg: /data\[0\]\.ips\[0\]\.address/,
  },
  {
    name: "unknown type",
    body: reply([master, { ...second, type: "nosuch" }]),
    code: 101,
    msg: /data\[1\]\.type: no network config named "nosuch"/,
  },
  {
    name: "a path as type",
    body: reply([master, { ...second, type: "../etc" }]),
    code: 101,
    msg: /data\[1\]\.type: "\.\.\/etc" is not a network name/,
  },
  {
    name: "bad ifName",
    body: reply([master, { ...second, ifName: "net/0" }]),
    code: 101,
    msg: /data\[1\]\.ifName: "net\/0" may not contain/,
  },
  {
    name: "too long ifName",
    body: reply([master, { ...second, ifName: "a-very-long-name0" }]),
    code: 101,
    msg: /data\[1\]\.ifName/,
  },
  {
    name: "duplicate ifName",
    body: reply([master, { ...second, ifName: "eth0" }]),
    code: 101,
    msg: /data\[1\]\.ifName: "eth0" is also used by data\[0\]/,
  },
  {
    name: "master ifName not CNI_IFNAME",
    body: reply([{ ...master, ifName: "net9" }, second]),
    code: 101,
    msg: /must be CNI_IFNAME "eth0"/,
  },
  {
    name: "master gateway outside its subnet",
    body: reply([{ ...master, gateway: "10.0.0.1" }, second]),
    code: 101,
    msg: /outside the master's subnet/,
  },
  {
    name: "duplicate address",
    body: reply([master, { ...second, podIp: "192.168.1.2", subnetMask: "24" }]),
    code: 101,
    msg: /192\.168\.1\.2 is also given by data\[0\]\.podIp/,
  },
  {
    name: "non-zero code",
    body: { code: 3, reqId: "r", message: "pod is not known", data: [] },
    code: 101,
    msg: /code 3: pod is not known/,
  },
  { name: "HTTP 404", status: 404, code: 101, msg: /HTTP 404/ },
  { name: "HTTP 500 after retries", status: 500, code: 11, msg: /HTTP 500/ },
  { name: "garbage JSON", body: "{code: 0, data: [", code: 101, msg: /not JSON/ },
  {
    name: "oversize reply",
    body: reply([master, second], { padding: "x".repeat(5000) }),
    extra: { maxReplyBytes: 2000 },
    code: 101,
    msg: /larger than 2000 bytes/,
  },
];

function assertNothingCreated(w: World, ns: string): void {
  assert.deepEqual(nsAddresses(ns), {}, "interfaces created in the pod namespace");
  for (const br of w.bridges)
    assert.equal(trySh("ip", ["link", "show", br]), false, `bridge ${br} was created`);
  assert.deepEqual(w.records(), [], "a record was left");
}

describe("dockin-cni rejects bad webhook replies and creates nothing", () => {
  for (const version of VERSIONS) {
    test(`every kind of bad reply at ${version}`, async () => {
      await inWorld(async (w) => {
        w.network("test");
        w.network("dockin");
        const ns = w.netns();
        for (const bad of badReplies) {
          w.webhook.handler = (_req, res) => {
            if (bad.status !== undefined) {
              res.writeHead(bad.status, { "content-type": "application/json" });
              res.end(JSON.stringify({ code: bad.status, message: "nope" }));
              return;
            }
            res.writeHead(200, { "content-type": "application/json" });
            res.end(typeof bad.body === "string" ? bad.body : JSON.stringify(bad.body));
          };
          const config = w.config(version, { retries: 1, ...bad.extra });
          const run = await cni({
            command: "ADD",
            containerId: "bad",
            netns: ns,
            args: podArgs("web-0"),
            config,
          });
          assert.equal(run.code, 1, `${bad.name}: ADD should fail`);
          assert.equal(run.json?.code, bad.code, `${bad.name}: ${run.stdout}`);
          assert.equal(run.json?.cniVersion, version);
          assert.match(String(run.json?.msg), bad.msg, bad.name);
          assert.match(String(run.json?.msg), /default\/web-0/, `${bad.name}: the message names the pod`);
          assertNothingCreated(w, ns);
        }
      });
    });
  }

  test("a 5xx is retried with backoff inside the deadline, with the remaining budget in a header", async () => {
    await inWorld(async (w) => {
      w.network("test");
      w.network("dockin");
      let calls = 0;
      w.webhook.handler = (_req, res) => {
        calls++;
        res.writeHead(calls < 3 ? 503 : 200, { "content-type": "application/json" });
        res.end(JSON.stringify(calls < 3 ? { message: "busy" } : reply([master, second])));
      };
      const ns = w.netns();
      const call = { containerId: "retry", netns: ns, args: podArgs("web-0") };
      const add = await cni({ ...call, command: "ADD", config: w.config("1.0.0", { retries: 3 }) });
      assert.equal(add.code, 0, add.stdout);
      assert.equal(calls, 3);
      const budgets = w.webhook.requests.map((r) => Number(r.headers["x-request-timeout-ms"]));
      assert.ok(
        budgets.every((b) => b > 0 && b <= 4000),
        `budgets ${budgets}`,
      );
      assert.ok(budgets[2]! < budgets[0]!, "the budget shrinks");
      const del = await cni({ ...call, command: "DEL", config: w.config("1.0.0") });
      assert.equal(del.code, 0, del.stdout);
    });
  });

  test("a webhook that never answers is error 11 within the deadline", async () => {
    await inWorld(async (w) => {
      w.webhook.handler = () => {
        // never answers
      };
      await addTimesOut(w, { retries: 5 });
    });
  });
});

/**
 * An ADD against a backend that does not answer (timeouts 300 ms, deadline 1 s): error 11, and
 * the plugin has exited well within 3 s, having made nothing.
 */
async function addTimesOut(w: World, extra: Record<string, unknown>): Promise<void> {
  w.network("test");
  const ns = w.netns();
  const started = Date.now();
  const run = await cni({
    command: "ADD",
    containerId: "slow",
    netns: ns,
    args: podArgs("web-0"),
    config: w.config("1.1.0", { timeoutMs: 300, deadlineMs: 1000, ...extra }),
  });
  const took = Date.now() - started;
  assert.equal(run.json?.code, 11, run.stdout);
  assert.match(String(run.json?.details ?? run.json?.msg), /no complete reply within \d+ ms/);
  assert.ok(took < 3000, `the plugin ran ${took} ms`);
  assertNothingCreated(w, ns);
}

/**
 * A loopback listener whose accept queue is full and which never accepts: a new connection's SYN
 * goes unanswered, so a connect stays under way until the kernel gives up (about two minutes).
 * python3: Bun and Node accept at once; the listener is killed by `stop`.
 */
async function unansweredListener(): Promise<{ port: number; stop: () => void }> {
  const script = `
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
port = s.getsockname()[1]
fill = []
for i in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    fill.append(c)
print(port, flush=True)
sys.stdin.read()
`;
  const child = spawn("python3", ["-c", script], { stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (b: Buffer) => resolve(Number(String(b).trim())));
    child.once("error", reject);
  });
  return { port, stop: () => child.kill("SIGKILL") };
}

describe("dockin-cni and a backend whose connection never opens", () => {
  test("error 11 within the deadline, and the plugin exits then, not when the kernel gives up", async () => {
    const listener = await unansweredListener();
    try {
      await inWorld((w) =>
        addTimesOut(w, {
          backend: `http://127.0.0.1:${listener.port}/rmController/getPodMultiNetwork`,
          retries: 2,
        }),
      );
    } finally {
      listener.stop();
    }
  });
});

const failingDelegate = `case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.3.1","0.4.0","1.0.0"]}' ;;
ADD) echo '{"cniVersion":"1.0.0","code":7,"msg":"dkfail refuses this network"}'; exit 1 ;;
*) exit 0 ;;
esac`;

describe("dockin-cni rolls back when a delegate fails", () => {
  for (const version of VERSIONS) {
    test(`the second network's chain fails at ${version}: the first is detached, nothing left`, async () => {
      await inWorld(async (w) => {
        w.network("test");
        const bad = w.network("dockin");
        w.fake("dkfail", failingDelegate);
        w.file(
          "dockin.json",
          JSON.stringify({
            cniVersion: "1.0.0",
            name: "dockin",
            plugins: [{ type: "bridge", bridge: bad.bridge }, { type: "dkfail" }],
          }),
        );
        w.webhook.replies.set("web-0", reply([master, second]));
        const ns = w.netns();
        const run = await cni({
          command: "ADD",
          containerId: "rb",
          netns: ns,
          args: podArgs("web-0"),
          config: w.config(version),
        });
        assert.equal(run.code, 1);
        assert.equal(run.json?.code, 7, run.stdout);
        assert.match(
          String(run.json?.msg),
          /attaching network "dockin" \(net0\).*dkfail refuses this network/,
        );
        assert.deepEqual(nsAddresses(ns), {});
        assert.deepEqual(w.portsLeft(), []);
        assert.deepEqual(w.records(), []);
      });
    });
  }
});

/** A delegate that hangs in ADD: its pid (the `sleep`, through exec) in `pidFile`, then `marker`. */
const slowDelegate = (marker: string, pidFile: string) => `case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}' ;;
ADD) echo $$ > ${pidFile}; touch ${marker}; exec sleep 30 ;;
*) exit 0 ;;
esac`;

/** Kills the stand-in delegate a SIGKILLed plugin leaves behind (it runs in its own group). */
function killLeftover(pidFile: string): void {
  let pid = 0;
  try {
    pid = Number(readFileSync(pidFile, "utf8").trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

describe("dockin-cni killed half-way through ADD", () => {
  for (const version of VERSIONS) {
    test(`SIGKILL during ADD at ${version}, then DEL leaves nothing`, async () => {
      await inWorld(async (w) => {
        w.network("test");
        const slow = w.network("dockin");
        const marker = join(w.dir, "slow-started");
        const pidFile = join(w.dir, "slow.pid");
        w.fake("dkslow", slowDelegate(marker, pidFile));
        w.onCleanup(() => killLeftover(pidFile));
        w.file(
          "dockin.json",
          JSON.stringify({
            cniVersion: "1.0.0",
            name: "dockin",
            plugins: [{ type: "bridge", bridge: slow.bridge }, { type: "dkslow" }],
          }),
        );
        w.webhook.replies.set("web-0", reply([master, second]));
        const ns = w.netns();
        const call = { containerId: "killed", netns: ns, args: podArgs("web-0") };
        let pid = 0;
        const running = cni({
          ...call,
          command: "ADD",
          config: w.config(version),
          onSpawn: (p) => (pid = p),
        });
        const until = Date.now() + 10_000;
        while (!existsSync(marker) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        assert.ok(existsSync(marker), "the slow delegate never started");
        process.kill(-pid, "SIGKILL");
        const killed = await running;
        assert.equal(killed.signal, "SIGKILL");
        assert.equal(w.records().length, 1, "the record was written before the delegates ran");
        assert.ok(Object.keys(nsAddresses(ns)).length > 0, "the kill left interfaces, as a crash would");
        if (version >= "0.4.0") {
          const check = await cni({ ...call, command: "CHECK", config: w.config(version) });
          assert.equal(check.json?.code, 3, `CHECK of a half-made attachment fails: ${check.stdout}`);
          assert.match(String(check.json?.msg), /never fully attached/);
        }

        const del = await cni({ ...call, command: "DEL", config: w.config(version) });
        assert.equal(del.code, 0, del.stdout + del.stderr);
        assert.deepEqual(nsAddresses(ns), {});
        assert.deepEqual(w.portsLeft(), []);
        assert.deepEqual(w.records(), []);
      });
    });
  }
});

describe("dockin-cni reads the seed's files as written", () => {
  test("network samples with // comments load, and the sample's foreign gateway is dropped with a warning", async () => {
    await inWorld(async (w) => {
      const a = w.network("test");
      const b = w.network("dockin");
      // The seed's samples, verbatim but for the bridge names (each test has its own bridges).
      w.file(
        "test.json",
        `{\n  "cniVersion": "0.2.0",\n  "name": "test", // type\n  "type": "bridge",\n  "bridge": "${a.bridge}"\n}\n`,
      );
      w.file(
        "dockin.json",
        `{\n  "cniVersion": "0.2.0",\n  "name": "dockin", // type\n  "type": "bridge",\n  "bridge": "${b.bridge}"\n}\n`,
      );
      w.webhook.replies.set(
        "seed",
        reply([master, { ...second, subnetMask: "255.255.255.0", gateway: "192.168.1.1" }], {
          reqId: "1234",
        }),
      );
      const ns = w.netns();
      const call = { containerId: "seed", netns: ns, args: "K8S_POD_NAME=seed" };
      // logFile in a directory that does not exist yet, as the seed's /data/kubernetes/dockin-cni.log.
      w.logFile = join(w.dir, "data", "kubernetes", "dockin-cni.log");
      const add = await cni({ ...call, command: "ADD", config: w.config("0.2.0", { logLevel: "info" }) });
      assert.equal(add.code, 0, add.stdout + add.stderr);
      assert.deepEqual(add.json?.ip4, {
        ip: "192.168.1.2/24",
        gateway: "192.168.1.1",
        routes: [{ dst: "0.0.0.0/0", gw: "192.168.1.1" }],
      });
      assert.deepEqual(nsAddresses(ns), { eth0: ["192.168.1.2/24"], net0: ["192.168.2.2/24"] });
      const log = readFileSync(w.logFile, "utf8");
      assert.match(log, /data\[1\]\.gateway 192\.168\.1\.1 is outside 192\.168\.2\.0\/24: dropped/);
      assert.match(log, /"level":"info","msg":"ADD done"/);
      assert.doesNotMatch(log, /"level":"debug"/);
      // podman sends only the name: no podNamespace in the query.
      assert.equal(w.webhook.requests[0]!.url.searchParams.get("podNamespace"), null);
      const del = await cni({ ...call, command: "DEL", config: w.config("0.2.0") });
      assert.equal(del.code, 0, del.stdout);
      assert.deepEqual(nsAddresses(ns), {});
    });
  });

  test("a misspelled key in the main config is reported with the key it meant", async () => {
    await inWorld(async (w) => {
      const ns = w.netns();
      const run = await cni({
        command: "ADD",
        containerId: "cfg",
        netns: ns,
        args: podArgs("web-0"),
        config: w.config("1.0.0", { logLevle: "info", timeoutMs: -1 }),
      });
      assert.equal(run.json?.code, 7, run.stdout);
      assert.match(String(run.json?.msg), /logLevle: unknown key; did you mean "logLevel"\?/);
      assert.match(String(run.json?.msg), /timeoutMs: must be an integer of at least 1/);
      assert.equal(w.webhook.requests.length, 0);
      // The failure is logged, to the file and to stderr, with the container.
      assert.match(run.stderr, /"level":"error","msg":"ADD failed".*"containerId":"cfg"/);
      assert.match(readFileSync(w.logFile, "utf8"), /"msg":"ADD failed".*logLevle: unknown key/);
    });
  });

  test("a .conflist network runs its whole chain with prevResult threaded", async () => {
    await inWorld(async (w) => {
      w.network("test");
      const b = w.network("dockin");
      const seen = join(w.dir, "dkpass-stdin");
      // Echoes its prevResult back as its own result (prevResult is the config's last key).
      w.fake(
        "dkpass",
        `case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"0.4.0","supportedVersions":["0.3.1","0.4.0"]}' ;;
ADD) cat > ${seen}; sed 's/.*"prevResult"://; s/}$//' ${seen} ;;
*) cat > ${seen}.$CNI_COMMAND ;;
esac`,
      );
      w.file(
        "dockin.conflist",
        `// a chain\n{"cniVersion": "1.0.0", "name": "dockin", "plugins": [{"type": "bridge", "bridge": "${b.bridge}"}, {"type": "dkpass", "x": 1},]}`,
      );
      w.file("dockin.json", "{ not json at all");
      w.webhook.replies.set("web-0", reply([master, second]));
      const ns = w.netns();
      const call = { containerId: "chain", netns: ns, args: podArgs("web-0") };
      const add = await cni({ ...call, command: "ADD", config: w.config("1.1.0") });
      assert.equal(add.code, 0, add.stdout + add.stderr);
      const stdin = JSON.parse(readFileSync(seen, "utf8")) as {
        cniVersion: string;
        prevResult: { ips: { version: string; address: string }[] };
      };
      assert.equal(stdin.cniVersion, "0.4.0", "spoken to in its own newest version");
      assert.deepEqual(
        stdin.prevResult.ips.map((i) => [i.version, i.address]),
        [["4", "192.168.2.2/24"]],
      );
      const check = await cni({ ...call, command: "CHECK", config: w.config("1.1.0") });
      assert.equal(check.code, 0, check.stdout);
      const del = await cni({ ...call, command: "DEL", config: w.config("1.1.0") });
      assert.equal(del.code, 0, del.stdout);
      assert.ok(existsSync(`${seen}.DEL`), "the chain's DEL reached dkpass");
      assert.deepEqual(nsAddresses(ns), {});
      assert.deepEqual(w.portsLeft(), []);
    });
  });
});
