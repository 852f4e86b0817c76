// `dockin doctor`: checks a host the way a support engineer would, and says how to fix each
// failure. Every check is independent where it can be, so one run lists every problem.
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { buildInfo, versionLine } from "../cli/version.ts";
import { errorText } from "../cni/errors.ts";
import { execPlugin, type RunOutcome, runProcess } from "../cni/exec.ts";
import { isLevel } from "../cni/log.ts";
import { compareVersions, isSpecVersion } from "../cni/version.ts";
import { isObject } from "../net/json.ts";
import { bridgeNameOf, type Uplink, uplinkOfConfig, uplinkVerdict } from "../plugin/uplink.ts";
import { LAUNCHED } from "./launcher.ts";
import { bridgePorts, ipv4Forwarding, linkInfo } from "./links.ts";
import {
  bridgePluginOf,
  dockinEntry,
  findNetwork,
  NETCONF_EXTENSIONS,
  type NetworkFile,
  pluginsOf,
  scanNetworks,
} from "./netconf.ts";
import { DEFAULTS, MAIN_CONFIG_FILE, rmBase } from "./options.ts";
import { type BackendAuth, networkNames, probe } from "./probe.ts";
import { executableProblem } from "./source.ts";

export type Status = "ok" | "warn" | "fail";

export interface Check {
  status: Status;
  title: string;
  detail?: string;
  fix?: string;
}

export interface DoctorOptions {
  /** The main config; default: the dockin-cni config in cniConfDir. */
  config: string | undefined;
  cniConfDir: string;
  /** The network types to check; default: those the RM reports, else every config in confDir. */
  types: string[] | undefined;
  timeoutMs: number;
  /** Where the runtime finds plugins besides binDir (its CNI_PATH), for delegates not in binDir. */
  cniPath: string[];
}

interface MainConf extends BackendAuth {
  cniVersion: string;
  confDir: string;
  binDir: string;
  cacheDir: string;
  backend: string;
  logFile: string | undefined;
}

const INSTALL_FIX = "run `sh setup.sh install <webhook url> <types>` (or `dockin install`) on this host";

/** The CNI config files of a dir in the order a runtime reads them (it uses the first). */
function configFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => NETCONF_EXTENSIONS.some((ext) => f.endsWith(ext)))
      .sort();
  } catch {
    return [];
  }
}

function locate(opts: DoctorOptions, checks: Check[]): string | undefined {
  if (opts.config !== undefined) return opts.config;
  const files = configFiles(opts.cniConfDir);
  // Ours by its file name (even when it no longer parses: readMain says why), else by its type.
  const ours = files.includes(MAIN_CONFIG_FILE)
    ? MAIN_CONFIG_FILE
    : files.find((f) => {
        try {
          return dockinEntry(JSON.parse(readFileSync(join(opts.cniConfDir, f), "utf8"))) !== undefined;
        } catch {
          return false;
        }
      });
  if (ours === undefined) {
    checks.push({
      status: "fail",
      title: `a dockin-cni config in ${opts.cniConfDir}`,
      detail: !existsSync(opts.cniConfDir)
        ? "the directory does not exist"
        : files.length === 0
          ? "the directory has no CNI config"
          : `only ${files.join(", ")}`,
      fix: INSTALL_FIX,
    });
    return undefined;
  }
  const first = files[0];
  if (first !== ours) {
    checks.push({
      status: "warn",
      title: `${ours} is the runtime's config`,
      detail: `${first} sorts before it, and kubelet/containerd use the first config in ${opts.cniConfDir}`,
      fix: `remove ${join(opts.cniConfDir, String(first))} or rename it to sort after ${MAIN_CONFIG_FILE}`,
    });
  }
  return join(opts.cniConfDir, ours);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function readMain(path: string, checks: Check[]): MainConf | undefined {
  const title = `main config ${path} parses`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    checks.push({ status: "fail", title, detail: errorText(err), fix: `fix the JSON, or ${INSTALL_FIX}` });
    return undefined;
  }
  const e = dockinEntry(parsed);
  if (e === undefined) {
    checks.push({ status: "fail", title, detail: 'no plugin has "type": "dockin-cni"', fix: INSTALL_FIX });
    return undefined;
  }
  const problems: string[] = [];
  if (!isSpecVersion(e.cniVersion))
    problems.push(`cniVersion ${JSON.stringify(e.cniVersion)} is not a CNI version`);
  const backend = str(e.backend);
  if (backend === undefined) problems.push("backend (the webhook URL) is missing");
  else if (!/^https?:\/\//.test(backend) || !URL.canParse(backend))
    problems.push(`backend "${backend}" is not an http(s) URL`);
  const paths: Record<string, string> = {};
  for (const [key, fallback] of [
    ["confDir", DEFAULTS.dockinConfDir],
    ["binDir", DEFAULTS.binDir],
    ["cacheDir", DEFAULTS.cacheDir],
  ] as const) {
    const v = e[key] === undefined ? fallback : str(e[key]);
    if (v === undefined || !isAbsolute(v))
      problems.push(`${key} ${JSON.stringify(e[key])} is not an absolute path`);
    else paths[key] = v;
  }
  if (e.logLevel !== undefined && !isLevel(e.logLevel)) {
    problems.push(`logLevel ${JSON.stringify(e.logLevel)} is not one of error, warn, info, debug`);
  }
  const auth: BackendAuth = {};
  for (const key of ["caFile", "certFile", "keyFile", "tokenFile"] as const) {
    const v = str(e[key]);
    if (v === undefined) continue;
    try {
      accessSync(v, constants.R_OK);
      auth[key] = v;
    } catch {
      problems.push(`${key} "${v}" cannot be read`);
    }
  }
  if ((str(e.certFile) === undefined) !== (str(e.keyFile) === undefined))
    problems.push("certFile and keyFile go together");
  if (problems.length > 0 || backend === undefined) {
    checks.push({
      status: "fail",
      title,
      detail: problems.join("; "),
      fix: `edit ${path}, or ${INSTALL_FIX}`,
    });
    return undefined;
  }
  checks.push({ status: "ok", title, detail: `cniVersion ${String(e.cniVersion)}, backend ${backend}` });
  return {
    ...auth,
    cniVersion: String(e.cniVersion),
    confDir: paths.confDir ?? DEFAULTS.dockinConfDir,
    binDir: paths.binDir ?? DEFAULTS.binDir,
    cacheDir: paths.cacheDir ?? DEFAULTS.cacheDir,
    backend,
    logFile: str(e.logFile),
  };
}

/** Checks the backend answers; returns the RM's network names when it is a Dockin RM. */
async function checkBackend(
  conf: MainConf,
  opts: DoctorOptions,
  checks: Check[],
): Promise<string[] | undefined> {
  const base = rmBase(conf.backend);
  const title = `backend ${conf.backend} answers`;
  const tlsFix = conf.backend.startsWith("https:")
    ? "; for TLS errors set caFile to the CA that signed the backend's certificate (and certFile/keyFile if it wants a client certificate)"
    : "";
  const fail = (detail: string, fix: string): undefined => {
    checks.push({ status: "fail", title, detail, fix });
    return undefined;
  };
  if (base !== undefined) {
    const health = await probe(`${base}/healthz`, conf, { timeoutMs: opts.timeoutMs });
    if (!health.ok) {
      return fail(
        `${base}/healthz: ${health.error}`,
        `start the RM (dockin rm serve) or fix backend in the main config${tlsFix}`,
      );
    }
    if (health.status !== 200)
      return fail(`${base}/healthz answered HTTP ${health.status}`, "look at the RM's logs");
  }
  // The webhook itself, without a pod name: nothing is looked up or allocated, but a webhook that
  // wants a token says so (401/403) before it complains about the missing name.
  const hook = await probe(conf.backend, conf, { timeoutMs: opts.timeoutMs });
  if (!hook.ok) {
    return fail(
      `${conf.backend}: ${hook.error}`,
      `start the webhook or fix backend in the main config${tlsFix}`,
    );
  }
  if (hook.status === 401 || hook.status === 403) {
    return fail(
      `the webhook answered HTTP ${hook.status}: it wants a token${conf.tokenFile === undefined ? " and none is configured" : " and refused tokenFile's"}`,
      "set tokenFile in the main config to a file holding a token the RM accepts (dockin rm serve --token-file), or run the RM with --webhook-auth none",
    );
  }
  if (hook.status >= 500)
    return fail(`the webhook answered HTTP ${hook.status}`, "look at the webhook's logs");
  if (base === undefined) {
    checks.push({ status: "ok", title, detail: `HTTP ${hook.status} (not a Dockin RM: no network list)` });
    return undefined;
  }
  const list = await probe(`${base}/api/v1/networks`, conf, { timeoutMs: opts.timeoutMs });
  const names = list.ok && list.status === 200 ? networkNames(list.body) : undefined;
  const why = !list.ok
    ? list.error
    : list.status === 401 || list.status === 403
      ? `the admin API wants a token (HTTP ${list.status})`
      : `HTTP ${list.status}`;
  checks.push({
    status: "ok",
    title,
    detail:
      names === undefined
        ? `healthz 200; network list not available (${why})`
        : `healthz 200; the RM knows ${names.length} network(s)`,
  });
  return names;
}

/** The plugin's VERSION answer includes `version`, or why not. */
async function versionProblem(
  file: string,
  binDir: string,
  version: string,
  timeoutMs: number,
): Promise<string | undefined> {
  try {
    const reply = (await execPlugin({
      file,
      env: { command: "VERSION", path: [binDir] },
      stdin: { cniVersion: version },
      timeoutMs,
    })) as { supportedVersions?: unknown } | undefined;
    const list = Array.isArray(reply?.supportedVersions) ? reply.supportedVersions : [];
    return list.includes(version) ? undefined : `speaks ${list.join(", ") || "no version"}, not ${version}`;
  } catch (err) {
    return `VERSION failed: ${errorText(err)}`;
  }
}

async function checkPlugin(
  name: string,
  versions: ReadonlySet<string>,
  conf: MainConf,
  opts: DoctorOptions,
  checks: Check[],
): Promise<void> {
  const inBin = join(conf.binDir, name);
  const speaks = [...versions].sort(compareVersions).join(", ");
  let file = inBin;
  let title = `${inBin} exists and speaks ${speaks}`;
  const fix = name.startsWith("dockin-")
    ? INSTALL_FIX
    : `install the CNI reference plugins (Debian: apt install containernetworking-plugins puts them in /usr/lib/cni), then link ${name} into binDir (ln -s /usr/lib/cni/${name} ${inBin}) or make sure the runtime's CNI_PATH includes their dir (containerd: bin_dir; podman: cni_plugin_dirs)`;
  const problem = executableProblem(inBin);
  if (problem !== undefined) {
    // dockin-cni runs a delegate from binDir, else from the runtime's CNI_PATH.
    const elsewhere = name.startsWith("dockin-")
      ? undefined
      : opts.cniPath.map((d) => join(d, name)).find((f) => f !== inBin && executableProblem(f) === undefined);
    if (elsewhere === undefined) {
      const looked = name.startsWith("dockin-") ? "" : `; not in ${opts.cniPath.join(":")} either`;
      checks.push({ status: "fail", title, detail: `missing or not executable (${problem})${looked}`, fix });
      return;
    }
    file = elsewhere;
    title = `${name} is found and speaks ${speaks}`;
    checks.push({
      status: "warn",
      title: `${name} is not in binDir ${conf.binDir}`,
      detail: `not there, but in ${dirname(elsewhere)}: dockin-cni uses it only when the runtime's CNI_PATH includes ${dirname(elsewhere)}`,
      fix: `ln -s ${elsewhere} ${inBin}, or make sure the runtime's CNI_PATH includes ${dirname(elsewhere)} (containerd: bin_dir; podman: cni_plugin_dirs)`,
    });
  }
  const problems: string[] = [];
  for (const v of versions) {
    const p = await versionProblem(file, conf.binDir, v, opts.timeoutMs);
    if (p !== undefined) problems.push(p);
  }
  if (problems.length > 0) {
    checks.push({
      status: "fail",
      title,
      detail: problems.join("; "),
      fix: name.startsWith("dockin-")
        ? INSTALL_FIX
        : `use cniVersion values ${name} supports in the network configs, or upgrade it`,
    });
  } else checks.push({ status: "ok", title });
}

/**
 * Which build the installed executable is (`dockin version` run through it), against this dockin:
 * a node upgraded halfway runs plugins of another build than its CLI says.
 */
async function checkBuild(binDir: string, timeoutMs: number, checks: Check[]): Promise<void> {
  const exe = join(binDir, LAUNCHED);
  if (executableProblem(exe) !== undefined) return; // checkPlugin said so
  const mine = buildInfo();
  const fix = `run this dockin's install again (dockin install, or sh setup.sh install) to put ${versionLine(mine)} there`;
  let run: RunOutcome;
  try {
    // In the `dockin` role (src/bin/multicall.ts), whatever name the executable has.
    run = await runProcess(exe, ["version"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DOCKIN_ROLE: "dockin" },
      input: "",
      timeoutMs,
      group: false,
    });
  } catch (err) {
    checks.push({ status: "warn", title: `the build in ${binDir}`, detail: errorText(err), fix });
    return;
  }
  const line = run.stdout.split("\n")[0] ?? "";
  const theirs = /^dockin (\S+) \(commit (\S+), Bun (\S+)\)$/.exec(line);
  if (theirs === null) {
    // A build from before `dockin version`: it says "unknown command", or (before the launcher's
    // DOCKIN_ROLE) answers as dockin-ipam.
    const before =
      /unknown command "version"/.test(run.stderr) || /dockin-ipam|CNI protocol/.test(run.stdout);
    checks.push({
      status: "warn",
      title: `the build in ${binDir}`,
      detail: before
        ? `${exe} is a build from before \`dockin version\``
        : run.timedOut
          ? `${exe} version did not answer within ${timeoutMs} ms`
          : `${exe} version: exit ${run.code}: ${oneLine(`${run.stdout}${run.stderr}`)}`,
      fix,
    });
    return;
  }
  const same = theirs[1] === mine.version && theirs[2] === mine.commit;
  checks.push(
    same || mine.commit === "unknown"
      ? { status: "ok", title: `the build in ${binDir}: ${line}` }
      : {
          status: "warn",
          title: `the build in ${binDir}: ${line}`,
          detail: `this dockin is ${versionLine(mine)}`,
          fix,
        },
  );
}

/**
 * A network's uplink as dockin-cni will find it at the next ADD (src/plugin/uplink.ts): its
 * bridge's port (ok); free and enslavable, as after a reboot (a warning: that ADD enslaves it); or
 * what that ADD refuses (a failure: every ADD on the network fails until it is fixed).
 */
function checkUplink(title: string, { bridge, nic: uplink }: Uplink, file: string, checks: Check[]): void {
  const nic = linkInfo(uplink);
  const br = linkInfo(bridge);
  const inFile = `"uplink" in ${file}`;
  const addFails = "every pod's ADD on this network fails until then";
  const fail = (detail: string, fix: string) => checks.push({ status: "fail", title, detail, fix });
  if (nic === undefined) {
    fail(`its uplink ${uplink} does not exist on this host`, `create it, or fix ${inFile}; ${addFails}`);
    return;
  }
  if (br !== undefined && br.kind !== "bridge") {
    fail(
      `${bridge} exists and is not a bridge (it is ${br.kind ?? "a plain link"}): the bridge plugin cannot use it, nor can ${uplink} be its port`,
      `check "bridge" in ${file}, or remove that link; ${addFails}`,
    );
    return;
  }
  const verdict = uplinkVerdict(nic, bridge);
  if (verdict.is === "port") {
    checks.push({ status: "ok", title, detail: `uplink ${uplink}: the gateway is behind it` });
  } else if (verdict.is === "taken") {
    fail(
      `its uplink ${uplink} is enslaved to ${verdict.master}, not to ${bridge}`,
      `free it (ip link set ${uplink} nomaster) or name another NIC in ${inFile}; ${addFails}`,
    );
  } else if (verdict.is === "bridge" || verdict.is === "loopback") {
    fail(
      `its uplink ${uplink} is ${verdict.is === "loopback" ? "the loopback interface" : "a bridge"}, which ${bridge} cannot enslave`,
      `name the NIC toward the site's router in ${inFile}; ${addFails}`,
    );
  } else if (verdict.is === "holds") {
    fail(
      `its uplink ${uplink} is not enslaved and holds ${verdict.addresses.join(", ")}: enslaving it would cut this host off that network, so dockin-cni will not`,
      `use a NIC (or VLAN interface) for the pods alone, or move its addresses to ${bridge} yourself; ${addFails}`,
    );
  } else {
    checks.push({
      status: "warn",
      title,
      detail: `its uplink ${uplink} is not enslaved to ${bridge} now (as after a reboot): until it is, pods on this network cannot reach their gateway`,
      fix: `nothing to do: the next pod's ADD on this network enslaves it (dockin-cni); to do it now: ip link add ${bridge} type bridge (unless it exists); ip link set ${bridge} up; ip link set ${uplink} master ${bridge} up`,
    });
  }
}

/**
 * Where a bridge network's gateway is: its uplink (`uplink`, which install enslaves), the bridge
 * itself (`isGateway`, which also needs IPv4 forwarding), or, when the config says neither, what
 * the live bridge shows (a port that is not a pod's veth, or an address).
 */
function checkGateway(type: string, found: NetworkFile, checks: Check[]): void {
  const bridgePlugin = bridgePluginOf(found.config ?? {});
  if (bridgePlugin === undefined) return;
  const bridge = bridgeNameOf(bridgePlugin);
  const title = `network "${type}": pods can reach a gateway through bridge ${bridge}`;
  const uplink = uplinkOfConfig(bridgePlugin); // as dockin-cni reads it
  if (uplink !== undefined) {
    checkUplink(title, uplink, found.path, checks);
    return;
  }
  if (bridgePlugin.isGateway === true) {
    checks.push({ status: "ok", title, detail: "the bridge holds the gateway address (isGateway)" });
    if (ipv4Forwarding() === false) {
      checks.push({
        status: "warn",
        title: `IPv4 forwarding is on (network "${type}" routes through the bridge)`,
        detail:
          "net.ipv4.ip_forward is 0: the bridge plugin turns it on at the next ADD (isGateway), but until then pods reach the gateway and nothing beyond it",
        fix: "sysctl -w net.ipv4.ip_forward=1, and keep it in /etc/sysctl.d/ (e.g. 99-dockin.conf)",
      });
    }
    return;
  }
  const live = linkInfo(bridge);
  const uplinks = live === undefined ? [] : bridgePorts(bridge).filter((p) => p.kind !== "veth");
  if (uplinks.length > 0) {
    checks.push({
      status: "ok",
      title,
      detail: `${bridge} has port ${uplinks.map((p) => p.name).join(", ")} (an uplink made outside dockin install)`,
    });
  } else if (live !== undefined && live.addresses.length > 0) {
    checks.push({ status: "ok", title, detail: `${bridge} holds ${live.addresses.join(", ")}` });
  } else {
    checks.push({
      status: "warn",
      title,
      detail: `${found.file} gives ${bridge} neither an uplink nor the gateway address (isGateway)${live === undefined ? "" : ", and the bridge has neither"}: a pod's default route points at a gateway nobody answers`,
      fix: `set "isGateway": true in ${found.path} (what dockin install --gateway-on-bridge writes), or enslave the NIC toward the site's router (dockin install <webhook> ${type} --uplink ${type}=NIC); a network whose webhook entries have no gateway needs neither`,
    });
  }
}

function checkNetwork(
  type: string,
  files: NetworkFile[],
  conf: MainConf,
  checks: Check[],
): NetworkFile | undefined {
  const title = `network "${type}" has a valid config in ${conf.confDir}`;
  const found = findNetwork(files, type);
  const create = `create ${join(conf.confDir, `${type}.json`)} with {"cniVersion": "${conf.cniVersion}", "name": "${type}", "type": "bridge", "bridge": "<bridge>"}, or run dockin install with ${type} in the type list`;
  if (found === undefined) {
    const broken = files.filter((f) => f.problem !== undefined).map((f) => `${f.file} ${f.problem}`);
    checks.push({
      status: "fail",
      title,
      detail: `no file there has "name": "${type}"${broken.length > 0 ? ` (unreadable: ${broken.join("; ")})` : ""}`,
      fix: create,
    });
    return undefined;
  }
  const c = found.config ?? {};
  const plugins = pluginsOf(c);
  const problems: string[] = [];
  if (!isSpecVersion(c.cniVersion))
    problems.push(`cniVersion ${JSON.stringify(c.cniVersion)} is not a CNI version`);
  if (plugins.length === 0) problems.push("plugins is empty");
  for (const p of plugins) {
    if (!isObject(p) || typeof p.type !== "string" || p.type === "") problems.push('a plugin has no "type"');
  }
  if (problems.length > 0) {
    checks.push({
      status: "fail",
      title,
      detail: `${found.file}: ${problems.join("; ")}`,
      fix: `edit ${found.path}`,
    });
    return undefined;
  }
  checks.push({ status: "ok", title, detail: found.file });
  return found;
}

function checkWritableDir(dir: string, what: string, fix: string, checks: Check[]): void {
  const title = `${what} ${dir} is writable`;
  let probeDir = dir;
  while (!existsSync(probeDir) && dirname(probeDir) !== probeDir) probeDir = dirname(probeDir);
  try {
    if (!statSync(probeDir).isDirectory()) throw new Error(`${probeDir} is not a directory`);
    const tmp = mkdtempSync(join(probeDir, ".dockin-doctor-"));
    rmSync(tmp, { recursive: true });
    checks.push({
      status: "ok",
      title,
      ...(probeDir === dir ? {} : { detail: `will be created under ${probeDir}` }),
    });
  } catch (err) {
    checks.push({ status: "fail", title, detail: (err as Error).message, fix });
  }
}

export async function doctor(opts: DoctorOptions): Promise<{ path: string | undefined; checks: Check[] }> {
  const checks: Check[] = [];
  const path = locate(opts, checks);
  if (path === undefined) return { path, checks };
  const conf = readMain(path, checks);
  if (conf === undefined) return { path, checks };

  const rmNetworks = await checkBackend(conf, opts, checks);
  const files = scanNetworks(conf.confDir);
  let types = opts.types ?? rmNetworks;
  if (types === undefined) {
    types = files.flatMap((f) => (f.name === undefined ? [] : [f.name]));
    checks.push({
      status: "warn",
      title: "the network types to check",
      detail: `no --types given and the RM's list is not available: checking every config in ${conf.confDir}`,
      fix: "pass --types a,b (the types the webhook returns)",
    });
  }
  if (types.length === 0) {
    checks.push({
      status: "fail",
      title: `${conf.confDir} has network configs`,
      detail: "no network type to check",
      fix: "run dockin install with the network types, or create the bridge configs by hand",
    });
  }
  // Which plugin speaks which versions: dockin-cni the main config's, the delegates and
  // dockin-ipam (run by bridge) each network config's.
  const versions = new Map<string, Set<string>>([
    ["dockin-cni", new Set([conf.cniVersion])],
    ["dockin-ipam", new Set()],
  ]);
  for (const type of types) {
    const found = checkNetwork(type, files, conf, checks);
    if (found?.config === undefined) continue;
    try {
      checkGateway(type, found, checks);
    } catch (err) {
      checks.push({
        status: "fail",
        title: `network "${type}": pods can reach a gateway`,
        detail: errorText(err),
        fix: "install iproute2 where dockin doctor runs (the Dockin image has it)",
      });
    }
    const v = String(found.config.cniVersion);
    versions.get("dockin-ipam")?.add(v);
    for (const p of pluginsOf(found.config)) {
      const t = (p as { type: string }).type;
      if (!versions.has(t)) versions.set(t, new Set());
      versions.get(t)?.add(v);
    }
  }
  if (versions.get("dockin-ipam")?.size === 0) versions.get("dockin-ipam")?.add(conf.cniVersion);
  for (const [name, vs] of versions) await checkPlugin(name, vs, conf, opts, checks);
  await checkBuild(conf.binDir, opts.timeoutMs, checks);

  checkWritableDir(
    conf.cacheDir,
    "cache dir",
    `make ${conf.cacheDir} writable by root (dockin-cni keeps its attachment records there)`,
    checks,
  );
  if (conf.logFile !== undefined) {
    checkWritableDir(
      dirname(conf.logFile),
      "log dir",
      `create ${dirname(conf.logFile)} or set logFile to a writable place`,
      checks,
    );
  }
  return { path, checks };
}

/** A detail on one line, bounded: a plugin's usage text must not flood the checklist. */
function oneLine(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, " / ").trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

const MARK: Record<Status, string> = { ok: "ok  ", warn: "warn", fail: "FAIL" };

export function formatChecks(path: string | undefined, checks: readonly Check[]): string {
  const lines = [`dockin doctor${path === undefined ? "" : `: ${path}`}`];
  for (const c of checks) {
    lines.push(`  [${MARK[c.status]}] ${c.title}`);
    if (c.detail !== undefined && c.detail !== "") lines.push(`         ${oneLine(c.detail)}`);
    if (c.status !== "ok" && c.fix !== undefined) lines.push(`         fix: ${c.fix}`);
  }
  const count = (s: Status) => checks.filter((c) => c.status === s).length;
  lines.push(
    count("fail") === 0
      ? `all ${checks.length} checks passed${count("warn") > 0 ? ` (${count("warn")} warning(s))` : ""}`
      : `${count("fail")} of ${checks.length} checks failed`,
  );
  return `${lines.join("\n")}\n`;
}
