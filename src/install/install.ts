// `dockin install` and `dockin uninstall`: plan every change from the options and what is on the
// host, print the plan, then (unless --dry-run) apply it all-or-nothing. Running install twice
// changes nothing the second time; an existing network config is never replaced.
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe } from "../cni/errors.ts";
import { execPlugin } from "../cni/exec.ts";
import { compareVersions, isSpecVersion } from "../cni/version.ts";
import {
  bridgeConfig,
  findNetwork,
  NETCONF_EXTENSIONS,
  type NetworkFile,
  scanNetworks,
  stemOf,
} from "./netconf.ts";
import {
  type InstallOptions,
  MAIN_CONFIG_FILE,
  PLUGINS,
  type Source,
  type UninstallOptions,
  UsageError,
} from "./options.ts";
import { resolveSource } from "./source.ts";
import { sameContent, Transaction } from "./txn.ts";

/**
 * The newest cniVersion install picks by itself, and the one it writes when the bin dir has no
 * bridge to ask. The runtime reads the main config too, and runtimes whose libcni predates
 * 1.1.0 (containerd 1.6, for one) refuse a config that names it: 1.1.0 only on --cni-version.
 */
export const DEFAULT_CNI_VERSION = "1.0.0";

export type Verb = "create" | "update" | "unchanged" | "keep" | "remove" | "absent";

export interface Step {
  verb: Verb;
  path: string;
  note: string;
  /** Stages the change (create/update) or nothing. */
  apply?: (txn: Transaction, staged: Map<string, string>) => void;
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

function pluginSteps(source: Source, binDir: string): Step[] {
  const steps: Step[] = [];
  // With one multi-call executable every name after the first is a hard link to a file already in
  // the bin dir with the right bytes (installed earlier, or staged just now): one copy on disk.
  let linkFrom: ((staged: Map<string, string>) => string | undefined) | undefined;
  for (const name of PLUGINS) {
    const dest = join(binDir, name);
    const src = source.file;
    if (sameContent(src, dest)) {
      steps.push({ verb: "unchanged", path: dest, note: `same as ${src}` });
      if (linkFrom === undefined) linkFrom = () => dest;
      continue;
    }
    const from = linkFrom;
    steps.push({
      verb: existsSync(dest) ? "update" : "create",
      path: dest,
      note: from === undefined ? `copy of ${src}` : "hard link to the same executable: one copy",
      apply: (txn, staged) => {
        const target = from?.(staged);
        if (target !== undefined) txn.stageLink(target, dest);
        else staged.set(dest, txn.stageCopy(src, dest));
      },
    });
    if (linkFrom === undefined) linkFrom = (staged) => staged.get(dest);
  }
  return steps;
}

function networkSteps(opts: InstallOptions, cniVersion: string): Step[] {
  const files = scanNetworks(opts.dockinConfDir);
  const steps: Step[] = [];
  const taken = new Set(files.map((f) => f.file));
  for (const type of opts.types) {
    const found = findNetwork(files, type);
    if (found !== undefined) {
      steps.push({ verb: "keep", path: found.path, note: `network "${type}" exists; never replaced` });
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
    const text = json(bridgeConfig(type, cniVersion));
    steps.push({
      verb: "create",
      path,
      note: `network "${type}" on bridge ${String(bridgeConfig(type, cniVersion).bridge)}`,
      apply: (txn) => txn.stageText(path, text),
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
        ? `no working bridge plugin in ${opts.binDir}: configs use cniVersion ${cniVersion}; install the CNI plugins there (dockin doctor checks)`
        : `configs use cniVersion ${cniVersion}: what ${join(opts.binDir, "bridge")} speaks, up to 1.0.0 (--cni-version to choose)`,
    );
  }
  const steps = pluginSteps(source, opts.binDir);
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
  steps.push(...networkSteps(opts, cniVersion));
  const changed = steps.some((s) => s.apply !== undefined);
  if (changed && !opts.dryRun) {
    const staged = new Map<string, string>();
    try {
      Transaction.run((txn) => {
        for (const s of steps) s.apply?.(txn, staged);
      });
    } catch (err) {
      throw new Error(`installing failed (${describe(err)}); nothing was changed`, { cause: err });
    }
  }
  return { steps, notes, changed };
}

export function uninstall(opts: UninstallOptions): Report {
  const steps: Step[] = [];
  for (const path of [...PLUGINS.map((p) => join(opts.binDir, p)), join(opts.cniConfDir, MAIN_CONFIG_FILE)]) {
    if (existsSync(path)) {
      steps.push({ verb: "remove", path, note: "", apply: (txn) => txn.remove(path) });
    } else steps.push({ verb: "absent", path, note: "" });
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
      for (const s of steps) s.apply?.(txn, new Map());
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
  const notes = report.notes.map((n) => `note: ${n}`);
  const tail = !report.changed
    ? `nothing to change: ${command === "install" ? "already installed as asked" : "nothing to remove"}`
    : dryRun
      ? "dry run: nothing was changed"
      : `done: ${report.steps.filter((s) => s.apply !== undefined).length} change(s)`;
  return `${[head, ...lines, ...notes, tail].join("\n")}\n`;
}
