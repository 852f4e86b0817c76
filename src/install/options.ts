// The options of `dockin install` / `dockin uninstall`, parsed and validated once. setup.sh maps
// its environment (CNI_CONF_PATH, BIN_DIR, DOCKIN_CONF_DIR) onto the same flags.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { networkNameProblem } from "../cni/env.ts";
import { isLevel, LEVELS } from "../cni/log.ts";
import { isSpecVersion } from "../cni/version.ts";

/** The seed's directories: the defaults of setup.sh and of the flags. */
export const DEFAULTS = {
  cniConfDir: "/etc/cni/net.d/",
  binDir: "/opt/cni/bin",
  dockinConfDir: "/etc/cni/dockin/net.d",
  cacheDir: "/var/lib/cni/dockin",
  logFile: "/var/log/dockin-cni.log",
  logLevel: "info",
} as const;

export const MAIN_CONFIG_FILE = "00-dockin-cni.conflist";
/** The plugin names installed into the bin dir. */
export const PLUGINS = ["dockin-cni", "dockin-ipam"] as const;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface Dirs {
  cniConfDir: string;
  binDir: string;
  dockinConfDir: string;
}

/** Where the plugins come from: one multi-call standalone executable, installed under every
 * plugin name (one copy). */
export interface Source {
  file: string;
}

export interface InstallOptions extends Dirs {
  webhook: string;
  types: string[];
  /** undefined: chosen from the bridge plugin found in the bin dir. */
  cniVersion: string | undefined;
  cacheDir: string;
  logFile: string;
  logLevel: string;
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
  tokenFile: string | undefined;
  /** Where dockin-cni reports each detach, so the RM can release addresses (our RM: …/podDetached). */
  notifyUrl: string | undefined;
  /** undefined: the running executable, else (run from source) the repository's dist/bin/dockin. */
  from: string | undefined;
  dryRun: boolean;
}

export interface UninstallOptions extends Dirs {
  dryRun: boolean;
}

const dirOptions = {
  "cni-conf-dir": { type: "string", default: DEFAULTS.cniConfDir },
  "bin-dir": { type: "string", default: DEFAULTS.binDir },
  "dockin-conf-dir": { type: "string", default: DEFAULTS.dockinConfDir },
  "dry-run": { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

export const INSTALL_USAGE = `usage: dockin install <webhook-url> <type>[,<type>...] [options]
       (or --webhook URL --types a,b)

Installs the plugins into the bin dir, writes ${MAIN_CONFIG_FILE} into the CNI config dir and a
bridge network config per type into the Dockin config dir (an existing one is never replaced).

options:
  --cni-conf-dir DIR     CNI config dir the runtime reads (default ${DEFAULTS.cniConfDir}; setup.sh: CNI_CONF_PATH)
  --bin-dir DIR          CNI plugin dir (default ${DEFAULTS.binDir}; setup.sh: BIN_DIR)
  --dockin-conf-dir DIR  network configs (default ${DEFAULTS.dockinConfDir}; setup.sh: DOCKIN_CONF_DIR)
  --cni-version V        cniVersion of the configs (default: the newest the bin dir's bridge speaks, up to 1.0.0)
  --cache-dir DIR        attachment records (default ${DEFAULTS.cacheDir})
  --log-file FILE        dockin-cni's log (default ${DEFAULTS.logFile})
  --log-level LEVEL      ${LEVELS.join(", ")} (default ${DEFAULTS.logLevel})
  --ca-file, --cert-file, --key-file, --token-file FILE
                         TLS and bearer-token settings for the webhook, written into the config
  --notify-url URL       told of every detach so the RM can release addresses (setup.sh: NOTIFY_URL);
                         for dockin rm serve: http://<rm>:10002/rmController/podDetached
  --from FILE            the dockin executable to install (default: the one running)
  --dry-run              print the plan, change nothing
`;

export const UNINSTALL_USAGE = `usage: dockin uninstall [options]

Removes the plugins from the bin dir and ${MAIN_CONFIG_FILE} from the CNI config dir. The network
configs in the Dockin config dir are kept.

options:
  --cni-conf-dir DIR     (default ${DEFAULTS.cniConfDir}; setup.sh: CNI_CONF_PATH)
  --bin-dir DIR          (default ${DEFAULTS.binDir}; setup.sh: BIN_DIR)
  --dockin-conf-dir DIR  (default ${DEFAULTS.dockinConfDir}; setup.sh: DOCKIN_CONF_DIR), to list what is kept
  --dry-run              print the plan, change nothing
`;

/** Runs a parseArgs call, turning its complaint into a UsageError with the usage text. */
function parse<T>(run: () => T, help: string): T {
  try {
    return run();
  } catch (err) {
    // parseArgs's advice about positionals starting with '-' does not apply here.
    const message = (err as Error).message.replace(/\. To specify a positional argument[\s\S]*$/, "");
    throw new UsageError(`${message}; see ${help}`);
  }
}

function dirs(values: { "cni-conf-dir": string; "bin-dir": string; "dockin-conf-dir": string }): Dirs {
  const out = {
    cniConfDir: values["cni-conf-dir"],
    binDir: values["bin-dir"],
    dockinConfDir: values["dockin-conf-dir"],
  };
  for (const [flag, v] of Object.entries(values)) {
    if (v === "") throw new UsageError(`--${flag} must not be empty`);
  }
  return {
    cniConfDir: resolve(out.cniConfDir),
    binDir: resolve(out.binDir),
    dockinConfDir: resolve(out.dockinConfDir),
  };
}

/** The webhook URL, or why it is not one dockin-cni can call. */
export function webhookProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" is not a URL (expected e.g. http://127.0.0.1:10002/rmController/getPodMultiNetwork)`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return `"${url}" must be an http:// or https:// URL`;
  }
  if (parsed.search !== "" || parsed.hash !== "") {
    return `"${url}" must not carry a query or fragment: dockin-cni adds ?podName=...`;
  }
  return undefined;
}

/** The comma-separated type list, validated: non-empty, valid names, no duplicates. */
export function parseTypes(list: string): string[] {
  const types = list
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
  if (types.length === 0) {
    throw new UsageError(
      `the network type list "${list}" is empty: give at least one type, e.g. test,dockin`,
    );
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const t of types) {
    const p = networkNameProblem(t);
    if (p !== undefined) problems.push(`network type "${t}" ${p}`);
    else if (seen.has(t)) problems.push(`network type "${t}" is listed twice`);
    seen.add(t);
  }
  if (problems.length > 0) throw new UsageError(problems.join("; "));
  return types;
}

function absolute(flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v === "") throw new UsageError(`--${flag} must not be empty`);
  return resolve(v);
}

/** undefined when --help was asked. */
export function parseInstallArgs(argv: string[]): InstallOptions | undefined {
  const { values, positionals } = parse(
    () =>
      parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          ...dirOptions,
          webhook: { type: "string" },
          types: { type: "string" },
          "cni-version": { type: "string" },
          "cache-dir": { type: "string", default: DEFAULTS.cacheDir },
          "log-file": { type: "string", default: DEFAULTS.logFile },
          "log-level": { type: "string", default: DEFAULTS.logLevel },
          "ca-file": { type: "string" },
          "cert-file": { type: "string" },
          "key-file": { type: "string" },
          "token-file": { type: "string" },
          "notify-url": { type: "string" },
          from: { type: "string" },
        },
      }),
    "dockin install --help",
  );
  if (values.help) return undefined;
  // Positionals fill, in order, what the flags did not give: the seed's `install <url> <types>`.
  const rest = [...positionals];
  const webhook = values.webhook ?? rest.shift();
  const typeList = values.types ?? rest.shift();
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"; see dockin install --help`);
  if (webhook === undefined) throw new UsageError(`missing the webhook URL; see dockin install --help`);
  if (typeList === undefined) {
    throw new UsageError(`missing the network types (e.g. test,dockin); see dockin install --help`);
  }
  const urlProblem = webhookProblem(webhook);
  if (urlProblem !== undefined) throw new UsageError(`bad webhook URL: ${urlProblem}`);
  const types = parseTypes(typeList);
  const notifyUrl = values["notify-url"];
  const notifyProblem = notifyUrl === undefined ? undefined : webhookProblem(notifyUrl);
  if (notifyProblem !== undefined) throw new UsageError(`bad --notify-url: ${notifyProblem}`);
  const cniVersion = values["cni-version"];
  if (cniVersion !== undefined && !isSpecVersion(cniVersion)) {
    throw new UsageError(`--cni-version "${cniVersion}" is not a CNI spec version (e.g. 1.0.0)`);
  }
  if (!isLevel(values["log-level"])) {
    throw new UsageError(`--log-level "${values["log-level"]}" is not one of ${LEVELS.join(", ")}`);
  }
  const certFile = absolute("cert-file", values["cert-file"]);
  const keyFile = absolute("key-file", values["key-file"]);
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--cert-file and --key-file go together");
  }
  return {
    ...dirs(values),
    webhook,
    types,
    cniVersion,
    cacheDir: absolute("cache-dir", values["cache-dir"]) ?? DEFAULTS.cacheDir,
    logFile: absolute("log-file", values["log-file"]) ?? DEFAULTS.logFile,
    logLevel: values["log-level"],
    caFile: absolute("ca-file", values["ca-file"]),
    certFile,
    keyFile,
    tokenFile: absolute("token-file", values["token-file"]),
    notifyUrl,
    from: absolute("from", values.from),
    dryRun: values["dry-run"],
  };
}

export function parseUninstallArgs(argv: string[]): UninstallOptions | undefined {
  const { values, positionals } = parse(
    () => parseArgs({ args: argv, allowPositionals: true, options: dirOptions }),
    "dockin uninstall --help",
  );
  if (values.help) return undefined;
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"; see dockin uninstall --help`);
  }
  return { ...dirs(values), dryRun: values["dry-run"] };
}
