// `dockin install` and `dockin uninstall`: plan every change from the options and what is on the
// host, print the plan, then (unless --dry-run) apply it all-or-nothing. Running install twice
// changes nothing the second time; an existing network config is never replaced.
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { errorText } from "../cni/errors.ts";
import { execPlugin } from "../cni/exec.ts";
import { compareVersions, isSpecVersion } from "../cni/version.ts";
import { isObject, type Json } from "../net/json.ts";
import { sysfsMaster, uplinkOfConfig, uplinkVerdict } from "../plugin/uplink.ts";
import { LAUNCHED, launcherScript, readMarkOf, removeReadMark } from "./launcher.ts";
import { ipChange, linkInfo } from "./links.ts";
import {
  bridgeConfig,
  bridgePluginOf,
  describeGateway,
  dockinEntry,
  findNetwork,
  NETCONF_EXTENSIONS,
  type NetworkFile,
  pluginsOf,
  scanNetworks,
  stemOf,
} from "./netconf.ts";
import {
  DEFAULTS,
  type Gateway,
  type InstallOptions,
  MAIN_CONFIG_FILE,
  PLUGINS,
  rmBase,
  type Source,
  type UninstallOptions,
  UsageError,
} from "./options.ts";
import { probe } from "./probe.ts";
import { resolveSource } from "./source.ts";
import { sameContent, sameFile, Transaction } from "./txn.ts";

/**
 * The newest cniVersion install picks by itself, and the one it writes when the bin dir has no
 * bridge to ask. The runtime reads the main config too, and runtimes whose libcni predates
 * 1.1.0 (containerd 1.6, for one) refuse a config that names it: 1.1.0 only on --cni-version.
 */
export const DEFAULT_CNI_VERSION = "1.0.0";

export type Verb = "create" | "update" | "unchanged" | "keep" | "remove" | "absent";

export interface Step {
  verb: Verb;
  /** A file, or `link NAME` for a change to a network interface. */
  path: string;
  note: string;
  /**
   * Stages the change (create/update) or nothing. A link change is made at once and pushes its
   * undo onto `undo`, which runs when a later step or the commit fails.
   */
  apply?: (txn: Transaction, undo: (() => void)[]) => void;
}

export interface Report {
  steps: Step[];
  notes: string[];
  changed: boolean;
}

/** The newest spec version the bin dir's bridge speaks up to 1.0.0, or undefined without one. */
export async function bridgeVersion(binDir: string): Promise<string | undefined> {
  const file = join(binDir, "bridge");
  if (!existsSync(file)) return undefined;
  const reply = (await execPlugin({
    file,
    env: { command: "VERSION", path: [binDir] },
    stdin: { cniVersion: "0.1.0" },
    timeoutMs: 10_000,
  })) as { supportedVersions?: unknown } | undefined;
  const list = Array.isArray(reply?.supportedVersions) ? reply.supportedVersions.filter(isSpecVersion) : [];
  const usable = list.filter((v) => compareVersions(v, DEFAULT_CNI_VERSION) <= 0).sort(compareVersions);
  return usable.at(-1);
}

/**
 * The main config: the seed's keys in a conflist, plus cacheDir and the webhook's TLS/token. It
 * declares the capabilities Kubernetes uses (hostPort mappings, bandwidth annotations), so the
 * runtime passes them and dockin-cni hands them to the master network's plugins that declare
 * them too (`portmap`, `bandwidth` in its conflist); without such a plugin they are unused.
 */
export function mainConfig(opts: InstallOptions, cniVersion: string): Record<string, unknown> {
  const plugin: Record<string, unknown> = {
    type: "dockin-cni",
    capabilities: { portMappings: true, bandwidth: true },
    confDir: opts.dockinConfDir,
    binDir: opts.binDir,
    cacheDir: opts.cacheDir,
    logFile: opts.logFile,
    logLevel: opts.logLevel,
    backend: opts.webhook,
  };
  if (opts.caFile !== undefined) plugin.caFile = opts.caFile;
  if (opts.certFile !== undefined) plugin.certFile = opts.certFile;
  if (opts.keyFile !== undefined) plugin.keyFile = opts.keyFile;
  if (opts.tokenFile !== undefined) plugin.tokenFile = opts.tokenFile;
  if (opts.notifyUrl !== undefined) plugin.notifyUrl = opts.notifyUrl;
  return { cniVersion, name: "dockin-cni", plugins: [plugin] };
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The dockin-cni entry of a main config's text, if it parses. */
function configuredEntry(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    return dockinEntry(JSON.parse(text));
  } catch {
    return undefined;
  }
}

const stringField = (o: Record<string, unknown> | undefined, key: string): string | undefined =>
  typeof o?.[key] === "string" ? (o[key] as string) : undefined;

/** Whether `path` holds exactly `text` (a file of another size is not read). */
function holdsText(path: string, text: string): boolean {
  try {
    return statSync(path).size === Buffer.byteLength(text) && readFileSync(path, "utf8") === text;
  } catch {
    return false;
  }
}

/**
 * The executable, installed once as dockin-ipam, and dockin-cni beside it: its launcher, which runs
 * it as dockin-cni (src/install/launcher.ts), or with `launcher` false a hard link to it.
 */
function pluginSteps(source: Source, binDir: string, launcher: boolean): Step[] {
  const steps: Step[] = [];
  const exe = join(binDir, LAUNCHED);
  const exeUnchanged = sameContent(source.file, exe);
  if (exeUnchanged) {
    steps.push({ verb: "unchanged", path: exe, note: `same as ${source.file}` });
  } else {
    steps.push({
      verb: existsSync(exe) ? "update" : "create",
      path: exe,
      note: `copy of ${source.file}`,
      apply: (txn) => txn.stageCopy(source.file, exe),
    });
  }
  const cni = join(binDir, "dockin-cni");
  if (!launcher) {
    if (exeUnchanged && sameFile(cni, exe)) {
      steps.push({ verb: "unchanged", path: cni, note: `hard link to ${LAUNCHED} (no launcher)` });
    } else {
      steps.push({
        verb: existsSync(cni) ? "update" : "create",
        path: cni,
        note: `hard link to ${LAUNCHED}: no launcher, so without its settings (--no-launcher)`,
        apply: (txn) => txn.stageLink(exe, cni),
      });
    }
    return steps;
  }
  const text = launcherScript();
  if (holdsText(cni, text)) {
    steps.push({ verb: "unchanged", path: cni, note: `launcher of ${LAUNCHED} as dockin-cni` });
  } else {
    steps.push({
      verb: existsSync(cni) ? "update" : "create",
      path: cni,
      note: `launcher: runs ${LAUNCHED} as dockin-cni (no JIT, no GC timer, no purging)`,
      apply: (txn) => txn.stageText(cni, text, 0o755),
    });
  }
  return steps;
}

function networkSteps(opts: InstallOptions, cniVersion: string, notes: string[]): Step[] {
  const files = scanNetworks(opts.dockinConfDir);
  const steps: Step[] = [];
  const taken = new Set(files.map((f) => f.file));
  for (const type of opts.types) {
    const gateway = opts.gateways.get(type) ?? { mode: "bridge", ipMasq: false, chosen: false };
    const found = findNetwork(files, type);
    if (found !== undefined) {
      steps.push({ verb: "keep", path: found.path, note: `network "${type}" exists; never replaced` });
      steps.push(...keptUplinkSteps(type, found, gateway, notes));
      continue;
    }
    // A broken file that looks like this type's own config may be the user's edited one.
    const suspect = files.find((f: NetworkFile) => f.problem !== undefined && stemOf(f.file) === type);
    if (suspect !== undefined) {
      throw new UsageError(
        `cannot tell whether ${suspect.path} is network "${type}": it ${suspect.problem}. ` +
          "Fix it or move it away, then run install again; nothing was changed",
      );
    }
    let file = `${type}.json`;
    for (let n = 1; taken.has(file); n++) file = `${type}-${n}.json`;
    taken.add(file);
    const path = join(opts.dockinConfDir, file);
    const config = bridgeConfig(type, cniVersion, gateway);
    const text = json(config);
    steps.push({
      verb: "create",
      path,
      note: `network "${type}" on bridge ${String(config.bridge)}, ${describeGateway(gateway)}`,
      apply: (txn) => txn.stageText(path, text),
    });
    if (gateway.mode === "uplink")
      steps.push(...uplinkSteps(type, String(config.bridge), gateway.nic, config));
  }
  return steps;
}

/** For a kept network config: its own uplink (the config decides), and a note when the flags differ. */
function keptUplinkSteps(type: string, found: NetworkFile, gateway: Gateway, notes: string[]): Step[] {
  const c = bridgePluginOf(found.config ?? {}) ?? {};
  // Read as dockin-cni reads it at every ADD (an empty uplink is none; no bridge is cni0).
  const declared = uplinkOfConfig(c);
  const uplink = declared?.nic;
  const asked = gateway.mode === "uplink" ? `--uplink ${type}=${gateway.nic}` : "--gateway-on-bridge";
  const kept =
    uplink !== undefined
      ? `uplink ${uplink}`
      : c.isGateway === true
        ? "the gateway on the bridge"
        : "neither an uplink nor isGateway";
  const same =
    gateway.mode === "uplink" ? uplink === gateway.nic : uplink === undefined && c.isGateway === true;
  if (gateway.chosen && !same) {
    notes.push(
      `${asked} was not applied: ${found.path} is kept as it is (${kept}); edit it, or move it away and install again`,
    );
  }
  return declared === undefined ? [] : uplinkSteps(type, declared.bridge, declared.nic, c);
}

/**
 * `ip link add` for a network's bridge as the bridge plugin makes one (its ensureBridge): the
 * config's `mtu`, and VLAN filtering when it has a `vlan` or `vlanTrunk`. The plugin never changes
 * a bridge that exists, so one made here without them would stay without them.
 */
function bridgeAddArgs(bridge: string, config: Json): string[] {
  const args = ["link", "add", bridge];
  if (typeof config.mtu === "number" && config.mtu > 0) args.push("mtu", String(config.mtu));
  args.push("type", "bridge");
  const vlan = (typeof config.vlan === "number" && config.vlan !== 0) || Array.isArray(config.vlanTrunk);
  if (vlan) args.push("vlan_filtering", "1");
  return args;
}

/**
 * The link changes for an uplink: the bridge (created now, as the bridge plugin would create it
 * at the first ADD) and the NIC enslaved to it, both up. Refused with the reason, before anything
 * changes, when the NIC may not be the bridge's (uplinkVerdict), or the bridge's name is taken.
 */
function uplinkSteps(type: string, bridge: string, nic: string, config: Json): Step[] {
  const link = linkInfo(nic);
  const flag = `--uplink ${type}=${nic}`;
  if (link === undefined) {
    throw new UsageError(
      `${flag}: there is no interface "${nic}" on this host (ip link lists them); nothing was changed`,
    );
  }
  const verdict = uplinkVerdict(link, bridge);
  switch (verdict.is) {
    case "bridge":
      throw new UsageError(`${flag}: ${nic} is a bridge; name the NIC toward the site's router`);
    case "loopback":
      throw new UsageError(
        `${flag}: ${nic} is the loopback interface, which no bridge can enslave; name the NIC toward the site's router`,
      );
    case "taken":
      throw new UsageError(
        `${flag}: ${nic} is already enslaved to ${verdict.master}; free it first (ip link set ${nic} nomaster); nothing was changed`,
      );
    case "holds":
      throw new UsageError(
        `${flag}: ${nic} holds ${verdict.addresses.join(", ")}; enslaving it would cut this host off that network. ` +
          "Use a NIC (or a VLAN interface) for the pods alone, or move the addresses to the bridge yourself; nothing was changed",
      );
  }
  const steps: Step[] = [];
  const br = linkInfo(bridge);
  if (br !== undefined && br.kind !== "bridge") {
    throw new UsageError(
      `${flag}: ${bridge} exists and is not a bridge (it is ${br.kind ?? "a plain link"}); nothing was changed`,
    );
  }
  if (br === undefined) {
    steps.push({
      verb: "create",
      path: `link ${bridge}`,
      note: `bridge of network "${type}" (ip ${bridgeAddArgs(bridge, config).join(" ")})`,
      apply: (_txn, undo) => {
        ipChange(bridgeAddArgs(bridge, config));
        undo.push(() => ipChange(["link", "del", bridge]));
        if (config.promiscMode === true) ipChange(["link", "set", bridge, "promisc", "on"]);
        ipChange(["link", "set", bridge, "up"]);
      },
    });
  } else if (!br.up) {
    steps.push({
      verb: "update",
      path: `link ${bridge}`,
      note: "set up",
      apply: (_txn, undo) => {
        ipChange(["link", "set", bridge, "up"]);
        undo.push(() => ipChange(["link", "set", bridge, "down"]));
      },
    });
  }
  if (link.master === bridge && link.up) {
    steps.push({ verb: "unchanged", path: `link ${nic}`, note: `uplink of ${bridge}` });
  } else {
    steps.push({
      verb: "update",
      path: `link ${nic}`,
      note: `enslaved to ${bridge} as network "${type}"'s uplink (ip link set ${nic} master ${bridge} up; after a reboot dockin-cni does it again at the first pod)`,
      apply: (_txn, undo) => {
        const wasUp = link.up;
        ipChange(["link", "set", nic, "master", bridge]);
        undo.push(() => ipChange(["link", "set", nic, "nomaster"]));
        ipChange(["link", "set", nic, "up"]);
        if (!wasUp) undo.push(() => ipChange(["link", "set", nic, "down"]));
      },
    });
  }
  return steps;
}

export async function install(opts: InstallOptions): Promise<Report> {
  const source = resolveSource(opts);
  const notes: string[] = [];
  let cniVersion = opts.cniVersion;
  if (cniVersion === undefined) {
    const found = await bridgeVersion(opts.binDir).catch(() => undefined);
    cniVersion = found ?? DEFAULT_CNI_VERSION;
    notes.push(
      found === undefined
        ? `no working bridge plugin in ${opts.binDir}: configs use cniVersion ${cniVersion}; put the reference plugins there (Debian's containernetworking-plugins are in /usr/lib/cni: ln -s /usr/lib/cni/* ${opts.binDir}/; dockin doctor checks)`
        : `configs use cniVersion ${cniVersion}: what ${join(opts.binDir, "bridge")} speaks, up to 1.0.0 (--cni-version to choose)`,
    );
  }
  const steps = pluginSteps(source, opts.binDir, opts.launcher);
  const confPath = join(opts.cniConfDir, MAIN_CONFIG_FILE);
  const confText = json(mainConfig(opts, cniVersion));
  const current = readText(confPath);
  if (current === confText) steps.push({ verb: "unchanged", path: confPath, note: "main config" });
  else {
    steps.push({
      verb: current === undefined ? "create" : "update",
      path: confPath,
      note: `main config: backend ${opts.webhook}`,
      apply: (txn) => txn.stageText(confPath, confText),
    });
  }
  steps.push(...networkSteps(opts, cniVersion, notes));
  if (opts.podman) steps.push(podmanStep(opts));
  notes.push(notifyNote(opts));
  if (opts.probe) {
    const warning = await probeWebhook(opts);
    if (warning !== undefined) notes.push(warning);
  }
  const changed = steps.some((s) => s.apply !== undefined);
  if (changed && !opts.dryRun) {
    const undo: (() => void)[] = [];
    try {
      Transaction.run((txn) => {
        for (const s of steps) s.apply?.(txn, undo);
      });
    } catch (err) {
      for (const u of undo.reverse()) {
        try {
          u();
        } catch {
          // best effort: report the original failure
        }
      }
      // The cause's text inline, not chained as well: the CLI would print it twice.
      throw new Error(`installing failed (${errorText(err)}); nothing was changed`);
    }
  }
  if (opts.gateways.size > 0 && [...opts.gateways.values()].some((g) => g.mode === "uplink")) {
    notes.push(
      "an uplink's enslavement is not persistent: after a reboot dockin-cni enslaves the NIC again at the first pod's ADD (or run the same install again; it only redoes what is missing), or configure the bridge in the host's network configuration (docs/install.md)",
    );
  }
  if (opts.podman)
    notes.push(
      "podman: run containers with --network dockin-cni (the main config's name); see docs/podman.md",
    );
  return { steps, notes, changed };
}

/** Where the notify URL came from, for the plan. */
function notifyNote(opts: InstallOptions): string {
  if (opts.notifySource === "beside-rm") {
    return `notifyUrl ${opts.notifyUrl}: beside the Dockin RM's webhook, so the RM frees a detached pod's addresses (--no-notify to leave it out)`;
  }
  if (opts.notifySource === "flag") return `notifyUrl ${opts.notifyUrl} (--notify-url)`;
  return "no notifyUrl: the backend is told of no detach, so it frees no address by itself (--notify-url URL to set one)";
}

/**
 * One request to the webhook, as doctor makes it (with the TLS and token settings): a warning
 * when nothing answers or it answers as if the URL were wrong; undefined when it answers.
 */
export async function probeWebhook(opts: InstallOptions): Promise<string | undefined> {
  const auth = {
    caFile: opts.caFile,
    certFile: opts.certFile,
    keyFile: opts.keyFile,
    tokenFile: opts.tokenFile,
  };
  const reply = await probe(opts.webhook, auth, { timeoutMs: 3000 });
  const later = `${opts.dryRun ? "it would be installed" : "installed"} anyway: dockin-cni fails every pod until it answers (dockin doctor checks)`;
  if (!reply.ok) return `warning: nothing answers at ${opts.webhook} (${reply.error}); ${later}`;
  if (reply.status === 404) {
    const hint = rmBase(opts.webhook) === undefined ? "" : " (is it the RM's address and port?)";
    return `warning: ${opts.webhook} answered HTTP 404: is the path right${hint}? ${later}`;
  }
  if ((reply.status === 401 || reply.status === 403) && opts.tokenFile === undefined) {
    return `warning: ${opts.webhook} answered HTTP ${reply.status}: it wants a token (--token-file FILE); ${later}`;
  }
  if (reply.status >= 500) return `warning: ${opts.webhook} answered HTTP ${reply.status}; ${later}`;
  return undefined;
}

/** The containers.conf drop-in that makes podman 4+ use CNI (and find Dockin's configs). */
export function podmanDropIn(opts: Pick<InstallOptions, "binDir" | "cniConfDir">): string {
  const dirs = [...new Set([opts.binDir, "/usr/lib/cni", "/opt/cni/bin"])];
  return [
    PODMAN_HEADER,
    "# Containers join Dockin's networks with `podman run --network dockin-cni ...`.",
    "# Remove this file to go back to podman's default network backend.",
    "[network]",
    'network_backend = "cni"',
    `cni_plugin_dirs = [${dirs.map((d) => JSON.stringify(d)).join(", ")}]`,
    `network_config_dir = ${JSON.stringify(opts.cniConfDir.replace(/\/+$/, ""))}`,
    "",
  ].join("\n");
}

export const PODMAN_DROP_IN = "50-dockin-cni.conf";
const PODMAN_HEADER =
  "# Written by `dockin install --podman`: podman calls CNI plugins (Dockin) instead of netavark.";

function podmanStep(opts: InstallOptions): Step {
  const path = join(opts.containersConfDir, PODMAN_DROP_IN);
  const text = podmanDropIn(opts);
  const current = readText(path);
  if (current === text) return { verb: "unchanged", path, note: "podman uses CNI" };
  return {
    verb: current === undefined ? "create" : "update",
    path,
    note: 'podman drop-in: network_backend = "cni", the plugin and config dirs',
    apply: (txn) => txn.stageText(path, text),
  };
}

export function uninstall(opts: UninstallOptions): Report {
  const steps: Step[] = [];
  for (const path of [...PLUGINS.map((p) => join(opts.binDir, p)), join(opts.cniConfDir, MAIN_CONFIG_FILE)]) {
    if (existsSync(path)) {
      steps.push({ verb: "remove", path, note: "", apply: (txn) => txn.remove(path) });
    } else steps.push({ verb: "absent", path, note: "" });
  }
  const mark = readMarkOf(opts.binDir);
  if (existsSync(mark)) {
    steps.push({
      verb: "remove",
      path: mark,
      note: "the launcher's mark that it read the executable since the boot",
      apply: () => removeReadMark(opts.binDir),
    });
  }
  const dropIn = join(opts.containersConfDir, PODMAN_DROP_IN);
  const dropInText = readText(dropIn);
  if (dropInText?.startsWith(PODMAN_HEADER)) {
    steps.push({
      verb: "remove",
      path: dropIn,
      note: "podman drop-in: podman goes back to its default network backend",
      apply: (txn) => txn.remove(dropIn),
    });
  } else if (dropInText !== undefined) {
    steps.push({
      verb: "keep",
      path: dropIn,
      note: "not written by dockin install (edited?): remove it by hand",
    });
  }
  const kept = scanNetworks(opts.dockinConfDir).filter((f) =>
    NETCONF_EXTENSIONS.some((e) => f.file.endsWith(e)),
  );
  for (const f of kept) {
    steps.push({ verb: "keep", path: f.path, note: f.name === undefined ? "" : `network "${f.name}"` });
  }
  const notes = [
    kept.length === 0
      ? `no network configs in ${opts.dockinConfDir}`
      : `the network configs in ${opts.dockinConfDir} are kept (${kept.length}); remove them by hand if no longer wanted`,
  ];
  const configured = configuredEntry(readText(join(opts.cniConfDir, MAIN_CONFIG_FILE)));
  const cacheDir = opts.cacheDir ?? stringField(configured, "cacheDir") ?? DEFAULTS.cacheDir;
  const logFile = opts.logFile ?? stringField(configured, "logFile") ?? DEFAULTS.logFile;
  let records = 0;
  try {
    records = readdirSync(cacheDir).length;
  } catch {
    // none there
  }
  if (records > 0)
    notes.push(
      `dockin-cni's attachment records in ${cacheDir} are kept (${records}): a pod still attached is detached with them; remove them by hand once no pod uses dockin-cni`,
    );
  if (existsSync(logFile)) notes.push(`dockin-cni's log ${logFile} is kept`);
  // The bridge plugin never removes a bridge: name the ones the kept configs use that exist.
  const bridges = kept
    .flatMap((f) => {
      return pluginsOf(f.config ?? {}).map((p) => (p as { bridge?: unknown } | undefined)?.bridge);
    })
    .filter((b): b is string => typeof b === "string" && existsSync(`/sys/class/net/${b}`));
  if (bridges.length > 0) {
    notes.push(
      `bridges ${bridges.join(", ")} stay (the bridge plugin never removes one): ip link del <bridge> once no container uses it`,
    );
  }
  // An uplink stays enslaved too: name each one that still is.
  for (const f of kept) {
    for (const p of pluginsOf(f.config ?? {})) {
      const uplink = isObject(p) && p.type === "bridge" ? uplinkOfConfig(p) : undefined;
      if (uplink === undefined || sysfsMaster(uplink.nic) !== uplink.bridge) continue;
      notes.push(
        `uplink ${uplink.nic} stays enslaved to ${uplink.bridge}: ip link set ${uplink.nic} nomaster frees it (deleting ${uplink.bridge} does too)`,
      );
    }
  }
  const changed = steps.some((s) => s.apply !== undefined);
  if (changed && !opts.dryRun) {
    // A removal cannot be staged: check first that every directory accepts it, then remove.
    for (const s of steps) {
      if (s.apply === undefined) continue;
      try {
        accessSync(dirname(s.path), constants.W_OK);
      } catch (err) {
        throw new UsageError(`cannot remove ${s.path}: ${(err as Error).message}; nothing was removed`);
      }
    }
    Transaction.run((txn) => {
      for (const s of steps) s.apply?.(txn, []);
    });
  }
  return { steps, notes, changed };
}

/** The plan or outcome, one line per file, then the notes and a closing line. */
export function formatReport(command: string, report: Report, dryRun: boolean): string {
  const width = Math.max(...report.steps.map((s) => s.verb.length));
  const lines = report.steps.map(
    (s) => `  ${s.verb.padEnd(width)}  ${s.path}${s.note === "" ? "" : `  (${s.note})`}`,
  );
  const head = dryRun ? `dockin ${command}: plan (dry run)` : `dockin ${command}:`;
  // A note that is a warning says so once ("warning: …", not "note: warning: …").
  const notes = report.notes.map((n) => (n.startsWith("warning: ") ? n : `note: ${n}`));
  const tail = !report.changed
    ? `nothing to change: ${command === "install" ? "already installed as asked" : "nothing to remove"}`
    : dryRun
      ? "dry run: nothing was changed"
      : `done: ${report.steps.filter((s) => s.apply !== undefined).length} change(s)`;
  return `${[head, ...lines, ...notes, tail].join("\n")}\n`;
}
