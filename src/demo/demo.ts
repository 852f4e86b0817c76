// `dockin demo`: the whole product on one machine, step by step. It starts an RM on a temporary
// SQLite store, creates two networks and a policy, creates two "pods" (network namespaces)
// through the real plugin path (dockin-cni → bridge → dockin-ipam, as a runtime calls it),
// shows each pod's interfaces, addresses and routes, proves the pods reach each other over both
// networks, then detaches and removes everything it made, on failure too.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { errorText } from "../cni/errors.ts";
import { execPlugin } from "../cni/exec.ts";
import { parseResult } from "../cni/result.ts";
import { readMarkOf, removeReadMark } from "../install/launcher.ts";
import { ipv4Forwarding } from "../install/links.ts";
import { notifyBeside, WEBHOOK_PATH } from "../install/options.ts";
import { executableDir } from "../install/source.ts";
import { RmClient } from "../rm/client.ts";

export interface DemoOptions {
  /** Where dockin-cni, dockin-ipam and dockin are (dist/bin by default). */
  binDir: string;
  /** Where the reference plugins are (bridge). */
  cniPath: string;
  /** Prefix of every namespace, bridge and temp dir the demo makes, so cleanup finds them. */
  prefix: string;
  out: (line: string) => void;
  /**
   * Before cleaning up after a successful run, wait for this (a signal), so that a person can look
   * at the pods and the RM's console meanwhile (`dockin demo --keep`).
   */
  keepUntil?: () => Promise<void>;
}

interface Network {
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
}

interface Pod {
  name: string;
  netns: string;
  containerId: string;
  attached: boolean;
}

const CNI_VERSION = "1.0.0";

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function tryRun(cmd: string, args: string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves with the RM's URL once it logs "listening" (it binds port 0, so no port can be taken
 * from under it); rejects when it exits first or stays silent past the deadline.
 */
function listeningUrl(rm: ChildProcess, deadlineMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let stderr = "";
    const timer = setTimeout(() => fail(`the RM did not start within ${deadlineMs} ms`), deadlineMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      rm.off("exit", exited);
      reject(new Error(`${why}\n${stderr.slice(-4000)}`));
    };
    const exited = (code: number | null) => fail(`the RM exited with status ${code}`);
    rm.once("exit", exited);
    let done = false;
    rm.stderr?.on("data", (chunk: Buffer) => {
      if (done) return; // the RM's later log lines are not the demo's business
      stderr += chunk.toString();
      const url = /"msg":"listening".*?"url":"([^"]+)"/.exec(stderr)?.[1];
      if (url === undefined) return;
      done = true;
      clearTimeout(timer);
      rm.off("exit", exited);
      resolve(url);
    });
  });
}

export async function runDemo(options: DemoOptions): Promise<number> {
  const { out, prefix } = options;
  let stepNo = 0;
  const step = (text: string) => out(`\n[${++stepNo}] ${text}`);
  const work = mkdtempSync(join(tmpdir(), `${prefix}-`));
  // dockin-cni's launcher marks its first read of the executable after a boot (src/install/launcher.ts).
  const hadReadMark = existsSync(readMarkOf(options.binDir));
  const confDir = join(work, "net.d");
  const cacheDir = join(work, "cache");
  const logFile = join(work, "dockin-cni.log");
  const networks: Network[] = [
    { name: "business", bridge: `${prefix}-biz`, subnet: "10.250.1.0/24", gateway: "10.250.1.1" },
    { name: "storage", bridge: `${prefix}-sto`, subnet: "10.250.2.0/24", gateway: "10.250.2.1" },
  ];
  const pods: Pod[] = ["web-0", "web-1"].map((name, i) => ({
    name,
    netns: `${prefix}-${name}`,
    containerId: `${prefix}-container-${i}`,
    attached: false,
  }));
  let rm: ChildProcess | undefined;
  let client: RmClient | undefined;
  let backend = "";
  let status = 0;
  /** net.ipv4.ip_forward before the demo, restored at the end when it was off. */
  let forwarding: boolean | undefined;

  const mainConfig = (backend: string) => ({
    cniVersion: CNI_VERSION,
    name: "dockin-cni",
    type: "dockin-cni",
    confDir,
    binDir: options.binDir,
    cacheDir,
    logFile,
    logLevel: "info",
    backend,
    // Tells the RM when a pod is detached, so that a non-sticky policy's addresses come back.
    notifyUrl: notifyBeside(backend),
  });
  const callPlugin = (command: "ADD" | "DEL", pod: Pod, backend: string) =>
    execPlugin({
      file: join(options.binDir, "dockin-cni"),
      env: {
        command,
        containerId: pod.containerId,
        netns: `/var/run/netns/${pod.netns}`,
        ifName: "eth0",
        args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}`,
        path: [options.binDir, options.cniPath],
      },
      stdin: mainConfig(backend),
      timeoutMs: 60_000,
    });

  try {
    step("Checking this machine");
    if (process.getuid?.() !== 0)
      throw new Error("the demo creates network namespaces and bridges: run it as root");
    for (const file of [join(options.binDir, "dockin-cni"), join(options.binDir, "dockin-ipam")]) {
      if (!existsSync(file)) throw new Error(`${file} is missing: run 'npm run build'`);
    }
    if (!existsSync(join(options.cniPath, "bridge"))) {
      throw new Error(`${options.cniPath}/bridge is missing: apt-get install containernetworking-plugins`);
    }
    out(`    plugins in ${options.binDir}, bridge in ${options.cniPath}, work dir ${work}`);

    step("Starting the resource manager on a temporary SQLite store");
    rm = spawn(
      join(options.binDir, "dockin"),
      ["rm", "serve", "--listen", "127.0.0.1:0", "--store", `sqlite:${join(work, "rm.db")}`],
      // Its own process group: a Ctrl-C at the terminal (--keep) is the demo's to handle; the RM
      // must stay up until the pods are detached, and the demo stops it last.
      { stdio: ["ignore", "ignore", "pipe"], detached: true },
    );
    const base = await listeningUrl(rm, 15_000);
    client = new RmClient({ server: base });
    out(`    RM listening on ${base}, store ${join(work, "rm.db")}`);

    step("Creating two networks in the RM, and their bridge configs in confDir");
    for (const net of networks) {
      await client.request("PUT", `/api/v1/networks/${net.name}`, {
        subnet: net.subnet,
        gateway: net.gateway,
      });
      const config = {
        cniVersion: CNI_VERSION,
        name: net.name,
        type: "bridge",
        bridge: net.bridge,
        isGateway: true,
      };
      run("mkdir", ["-p", confDir]);
      writeFileSync(join(confDir, `${net.name}.json`), `${JSON.stringify(config, null, 2)}\n`);
      out(
        `    ${net.name.padEnd(9)} ${net.subnet.padEnd(15)} gateway ${net.gateway.padEnd(11)} bridge ${net.bridge}`,
      );
    }
    forwarding = ipv4Forwarding();
    out(
      "    each bridge holds its network's gateway (isGateway), and the bridge plugin turns on IPv4 forwarding" +
        (forwarding === true
          ? ": net.ipv4.ip_forward is on already"
          : forwarding === false
            ? ": net.ipv4.ip_forward is off now, the demo turns it back off at the end"
            : ""),
    );

    step(
      "Creating a policy: pods in namespace 'demo' whose names start with 'web-' get both networks (business is the master)",
    );
    await client.request("PUT", "/api/v1/policies/demo-web", {
      namespace: "demo",
      podPrefix: "web-",
      sticky: false,
      networks: [
        { network: "business", ifName: "eth0", master: true },
        { network: "storage", ifName: "net1" },
      ],
    });
    out("    policy demo-web: namespace=demo, prefix=web-, networks business(eth0, master) + storage(net1)");

    backend = `${base}${WEBHOOK_PATH}`;
    step("Creating two pods through the real plugin path (dockin-cni ADD, as containerd calls it)");
    for (const pod of pods) {
      run("ip", ["netns", "add", pod.netns]);
      run("ip", ["-n", pod.netns, "link", "set", "lo", "up"]);
      const started = Date.now();
      const printed = await callPlugin("ADD", pod, backend);
      pod.attached = true;
      const result = parseResult(printed);
      const ips = (result.ips ?? []).map((ip) => ip.address).join(", ");
      out(`    ${pod.name}: netns ${pod.netns}, result ${ips} on eth0 (${Date.now() - started} ms)`);
    }

    step("Each pod's interfaces, addresses, routes and policy rules");
    for (const pod of pods) {
      out(`    --- ${pod.name} ---`);
      const rules = run("ip", ["-n", pod.netns, "rule"]);
      const tables = [...rules.matchAll(/lookup (\d+)/g)].map((m) => m[1]!);
      // What `ip` shows, each under a word: the interfaces with their addresses (ip -br addr), the
      // main routing table, the policy rules and the tables they name.
      const views: [string, string[]][] = [
        ["addresses", ["-br", "addr"]],
        ["routes", ["route"]],
        ["rules", ["rule"]],
        ...tables.map((t): [string, string[]] => [`table ${t}`, ["route", "show", "table", t]]),
      ];
      for (const [label, args] of views) {
        const text = run("ip", ["-n", pod.netns, ...args]).trimEnd();
        for (const line of text.split("\n")) out(`    ${label.padEnd(10)} ${line}`);
      }
    }

    step("Proving the pods reach each other over both networks (ping)");
    const pod1 = await client.request("GET", `/api/v1/pods/demo/${pods[1]!.name}`);
    const targets = (
      (pod1 as { networks?: { network: string; ip?: string; ifName?: string }[] }).networks ?? []
    ).filter((a) => a.ip !== undefined);
    if (targets.length !== networks.length)
      throw new Error(`the RM shows ${targets.length} addresses for ${pods[1]!.name}`);
    for (const target of targets) {
      const address = target.ip!.split("/")[0]!;
      run("ip", ["netns", "exec", pods[0]!.netns, "ping", "-c", "2", "-i", "0.2", "-W", "2", address]);
      out(
        `    ${pods[0]!.name} → ${pods[1]!.name} ${address} over ${target.network} (${target.ifName}): reply received`,
      );
    }
    out("\nThe demo worked: two pods, two networks each, fixed addresses from the RM.");
    const consoleUrl = `${base}/ui/`;
    if (options.keepUntil !== undefined) {
      out(`\nThe RM's console (networks as address maps, pods, each address's history): ${consoleUrl}`);
      out(
        `The pods, the RM and the console stay until you press Ctrl-C (or send SIGTERM to ${process.pid}); then the demo cleans up.`,
      );
      await options.keepUntil();
    } else {
      out(
        `The RM's console was at ${consoleUrl} while the demo ran; 'dockin demo --keep' keeps the RM and its console running until Ctrl-C.`,
      );
    }
  } catch (err) {
    out(`\nThe demo failed: ${errorText(err)}`);
    status = 1;
  } finally {
    step("Detaching and removing everything the demo made");
    for (const pod of [...pods].reverse()) {
      if (pod.attached) {
        try {
          await callPlugin("DEL", pod, backend);
          out(`    ${pod.name}: dockin-cni DEL done`);
        } catch (err) {
          out(`    ${pod.name}: DEL failed: ${errorText(err)}`);
          status = 1;
        }
      }
      if (tryRun("ip", ["netns", "del", pod.netns])) out(`    namespace ${pod.netns} removed`);
    }
    for (const net of networks) {
      // The bridge plugin never deletes its bridge: the demo made it, so the demo removes it.
      if (tryRun("ip", ["link", "del", net.bridge])) out(`    bridge ${net.bridge} removed`);
    }
    if (forwarding === false && ipv4Forwarding() === true) {
      if (tryRun("sysctl", ["-qw", "net.ipv4.ip_forward=0"]))
        out("    net.ipv4.ip_forward restored to 0 (off)");
      else out("    could not restore net.ipv4.ip_forward to 0: sysctl -w net.ipv4.ip_forward=0");
    }
    if (client !== undefined && rm && rm.exitCode === null) {
      try {
        const listed = (await client.request("GET", "/api/v1/pods")) as { items?: unknown[] };
        const count = listed.items?.length ?? 0;
        out(
          count === 0
            ? "    the RM holds no pod now: the policy is not sticky, so the detach released the addresses"
            : `    the RM still holds ${count} pod(s) and their addresses`,
        );
      } catch (err) {
        out(`    could not ask the RM which pods it still holds: ${errorText(err)}`);
      }
    }
    if (rm && rm.exitCode === null) {
      rm.kill("SIGTERM");
      await new Promise((r) => rm?.once("exit", r));
      out("    RM stopped");
    }
    rmSync(work, { recursive: true, force: true });
    out(`    ${work} removed`);
    if (!hadReadMark && existsSync(readMarkOf(options.binDir))) {
      removeReadMark(options.binDir);
      out(`    the launcher's read mark ${readMarkOf(options.binDir)} removed`);
    }
    const left =
      run("ip", ["-o", "link"])
        .split("\n")
        .filter((l) => l.includes(prefix)).length +
      run("ip", ["netns", "list"])
        .split("\n")
        .filter((l) => l.includes(prefix)).length;
    if (left > 0) {
      out(`    ${left} links or namespaces named ${prefix}* are still there`);
      status = 1;
    } else {
      out("    nothing left behind");
    }
  }
  return status;
}

/** Beside the running executable (dist/bin when run from source). */
export function defaultBinDir(): string {
  return executableDir() ?? resolve("dist", "bin");
}
