// The options of `dockin install` / `dockin uninstall`, parsed and validated once. setup.sh maps
// its environment (CNI_CONF_PATH, BIN_DIR, DOCKIN_CONF_DIR, DOCKIN_CACHE_DIR, …) onto the same flags.
import { resolve } from "node:path";
import { FlagError, parseFlags } from "../cli/args.ts";
import { networkNameProblem } from "../cni/checks.ts";
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
  containersConfDir: "/etc/containers/containers.conf.d",
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

/**
 * Where a network's gateway is. `bridge`: the bridge holds the gateway address (the bridge
 * plugin's `isGateway`, which also turns on IPv4 forwarding; `ipMasq` adds NAT for traffic
 * leaving the subnet). `uplink`: the bridge enslaves a NIC of the site's network, whose router is
 * the gateway. `chosen` is false for the default (gateway on the bridge).
 */
export type Gateway =
  | { mode: "bridge"; ipMasq: boolean; chosen: boolean }
  | { mode: "uplink"; nic: string; chosen: true };

/** The seed endpoint's path; the RM's detach endpoint sits beside it. */
export const WEBHOOK_PATH = "/rmController/getPodMultiNetwork";
export const NOTIFY_PATH = "/rmController/podDetached";

/** The RM's base URL for a backend URL that looks like the Dockin RM's webhook, else undefined. */
export function rmBase(backend: string): string | undefined {
  let url: URL;
  try {
    url = new URL(backend);
  } catch {
    return undefined;
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (!path.endsWith(WEBHOOK_PATH)) return undefined;
  return `${url.origin}${path.slice(0, -WEBHOOK_PATH.length)}`;
}

/** The notify URL beside a Dockin RM's webhook URL (same origin and prefix), else undefined. */
export function notifyBeside(webhook: string): string | undefined {
  const base = rmBase(webhook);
  return base === undefined ? undefined : `${base}${NOTIFY_PATH}`;
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
  /** How notifyUrl was set: by --notify-url, beside a Dockin RM's webhook, or not (--no-notify). */
  notifySource: "flag" | "beside-rm" | "none";
  /** Per network type, where its gateway is. */
  gateways: Map<string, Gateway>;
  /** Also write the podman drop-in (containers.conf.d) that makes podman call CNI plugins. */
  podman: boolean;
  /** The containers.conf drop-in dir podman reads. */
  containersConfDir: string;
  /** Ask the webhook once and warn (never fail) when nothing answers. */
  probe: boolean;
  /** undefined: the running executable, else (run from source) the repository's dist/bin/dockin. */
  from: string | undefined;
  /**
   * dockin-cni as a /bin/sh launcher of the executable (src/install/launcher.ts); false: the
   * executable itself, hard-linked, for nodes without /bin/sh.
   */
  launcher: boolean;
  dryRun: boolean;
}

export interface UninstallOptions extends Dirs {
  dryRun: boolean;
  /** Where `install --podman` put its drop-in (removed when it is still ours). */
  containersConfDir: string;
  /**
   * dockin-cni's attachment records and its log: kept, and said so. Undefined: as the main config
   * being removed says, else the defaults.
   */
  cacheDir: string | undefined;
  logFile: string | undefined;
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
  --cache-dir DIR        attachment records (default ${DEFAULTS.cacheDir}; setup.sh: DOCKIN_CACHE_DIR)
  --log-file FILE        dockin-cni's log (default ${DEFAULTS.logFile}; setup.sh: DOCKIN_LOG_FILE)
  --log-level LEVEL      ${LEVELS.join(", ")} (default ${DEFAULTS.logLevel})
  --ca-file, --cert-file, --key-file, --token-file FILE
                         TLS and bearer-token settings for the webhook, written into the config
  --notify-url URL       told of every detach so the RM can release addresses (setup.sh: NOTIFY_URL);
                         default beside a Dockin RM's webhook (…${WEBHOOK_PATH}): …${NOTIFY_PATH}
  --no-notify            write no notify URL (the RM then keeps detached pods' addresses)
  --gateway-on-bridge[=TYPE,...]
                         the bridge holds the gateway address (isGateway; turns on IPv4 forwarding):
                         pods reach their gateway on this node. The default for every type
  --ip-masq[=TYPE,...]   with the gateway on the bridge, NAT what leaves the subnet (ipMasq)
  --uplink [TYPE=]NIC    the bridge enslaves NIC (the gateway is the site's router behind it);
                         repeat per type; TYPE= may be left out with one type. install creates the
                         bridge and enslaves NIC now; after a reboot dockin-cni does it again at
                         the first pod's ADD
  --podman               also write the drop-in 50-dockin-cni.conf so that podman 4+ calls CNI
                         plugins (network_backend = "cni"); run containers with --network dockin-cni
                         (docs/podman.md)
  --containers-conf-dir DIR  where that drop-in goes (default ${DEFAULTS.containersConfDir};
                         setup.sh: CONTAINERS_CONF_DIR)
  --no-probe             do not ask the webhook whether it answers (install only warns when not)
  --from FILE            the dockin executable to install (default: the one running)
  --no-launcher          install the executable itself as dockin-cni too (a hard link), for nodes
                         without /bin/sh (Talos); dockin-cni then runs without the launcher's settings
  --dry-run              print the plan, change nothing
`;

export const UNINSTALL_USAGE = `usage: dockin uninstall [options]

Removes the plugins from the bin dir and ${MAIN_CONFIG_FILE} from the CNI config dir. The network
configs in the Dockin config dir are kept.

options:
  --cni-conf-dir DIR     (default ${DEFAULTS.cniConfDir}; setup.sh: CNI_CONF_PATH)
  --bin-dir DIR          (default ${DEFAULTS.binDir}; setup.sh: BIN_DIR)
  --dockin-conf-dir DIR  (default ${DEFAULTS.dockinConfDir}; setup.sh: DOCKIN_CONF_DIR), to list what is kept
  --containers-conf-dir DIR  where install --podman wrote its drop-in (removed when unchanged;
                         default ${DEFAULTS.containersConfDir})
  --cache-dir DIR, --log-file FILE
                         dockin-cni's attachment records and log, kept (listed); default: what the
                         main config says, else ${DEFAULTS.cacheDir} and ${DEFAULTS.logFile}
  --dry-run              print the plan, change nothing
`;

/** Runs a parseFlags call, turning its complaint into a UsageError followed by the usage text. */
function parse<T>(run: () => T, usage: string): T {
  try {
    return run();
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    throw new UsageError(`${err.message}\n\n${usage}`);
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

/** Flags whose value is optional: a bare `--flag` is written `--flag=*` (every type) for parseArgs. */
function optionalValues(argv: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    if (arg === "--") {
      out.push(...argv.slice(out.length));
      break;
    }
    out.push(flags.includes(arg.slice(2)) && arg.startsWith("--") ? `${arg}=*` : arg);
  }
  return out;
}

/** The types a `--flag[=TYPE,...]` names (`*`: all of `types`), each checked against `types`. */
function namedTypes(flag: string, value: string | undefined, types: readonly string[]): string[] {
  if (value === undefined) return [];
  if (value === "*") return [...types];
  const named = value.split(",").map((t) => t.trim());
  for (const t of named) {
    if (!types.includes(t))
      throw new UsageError(
        `--${flag}=${value}: "${t}" is not one of the types being installed (${types.join(", ")})`,
      );
  }
  return named;
}

/** Where each type's gateway is: --uplink, --gateway-on-bridge (default), with --ip-masq. */
export function parseGateways(
  types: readonly string[],
  flags: { uplinks: readonly string[]; onBridge: string | undefined; ipMasq: string | undefined },
): Map<string, Gateway> {
  const out = new Map<string, Gateway>();
  const nics = new Map<string, string>();
  for (const u of flags.uplinks) {
    const eq = u.indexOf("=");
    const type = eq < 0 ? (types.length === 1 ? types[0] : undefined) : u.slice(0, eq);
    const nic = eq < 0 ? u : u.slice(eq + 1);
    if (type === undefined)
      throw new UsageError(`--uplink ${u}: with several types, name the network: --uplink TYPE=${nic}`);
    if (!types.includes(type))
      throw new UsageError(
        `--uplink ${u}: "${type}" is not one of the types being installed (${types.join(", ")})`,
      );
    if (!/^[A-Za-z0-9_.@:-]{1,15}$/.test(nic) || nic === "." || nic === "..")
      throw new UsageError(`--uplink ${u}: "${nic}" is not an interface name (e.g. eth1, enp3s0.100)`);
    if (out.has(type)) throw new UsageError(`--uplink: network "${type}" is given two uplinks`);
    const other = nics.get(nic);
    if (other !== undefined)
      throw new UsageError(
        `--uplink: ${nic} cannot be the uplink of both "${other}" and "${type}" (a link has one bridge)`,
      );
    nics.set(nic, type);
    out.set(type, { mode: "uplink", nic, chosen: true });
  }
  const explicit =
    flags.onBridge === "*"
      ? types.filter((t) => !out.has(t))
      : namedTypes("gateway-on-bridge", flags.onBridge, types);
  const masq =
    flags.ipMasq === "*" ? types.filter((t) => !out.has(t)) : namedTypes("ip-masq", flags.ipMasq, types);
  if (flags.ipMasq === "*" && masq.length === 0) {
    throw new UsageError(
      `--ip-masq: no network has its gateway on the bridge; network "${types[0]}" cannot have both --uplink and --ip-masq: with an uplink the gateway is the site's router`,
    );
  }
  for (const t of [...explicit, ...masq]) {
    if (out.get(t)?.mode === "uplink") {
      throw new UsageError(
        `network "${t}" cannot have both --uplink and ${explicit.includes(t) ? "--gateway-on-bridge" : "--ip-masq"}: with an uplink the gateway is the site's router`,
      );
    }
  }
  for (const t of types) {
    if (out.has(t)) continue;
    out.set(t, {
      mode: "bridge",
      ipMasq: masq.includes(t),
      chosen: explicit.includes(t) || masq.includes(t),
    });
  }
  return out;
}

/** undefined when --help was asked. */
export function parseInstallArgs(argv: string[]): InstallOptions | undefined {
  const { values, positionals } = parse(
    () =>
      parseFlags({
        args: optionalValues(argv, ["gateway-on-bridge", "ip-masq"]),
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
          "no-notify": { type: "boolean", default: false },
          "gateway-on-bridge": { type: "string" },
          "ip-masq": { type: "string" },
          uplink: { type: "string", multiple: true },
          podman: { type: "boolean", default: false },
          "containers-conf-dir": { type: "string", default: DEFAULTS.containersConfDir },
          "no-probe": { type: "boolean", default: false },
          from: { type: "string" },
          "no-launcher": { type: "boolean", default: false },
        },
      }),
    INSTALL_USAGE,
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
  const given = values["notify-url"];
  const notifyProblem = given === undefined ? undefined : webhookProblem(given);
  if (notifyProblem !== undefined) throw new UsageError(`bad --notify-url: ${notifyProblem}`);
  if (given !== undefined && values["no-notify"])
    throw new UsageError("--notify-url and --no-notify exclude each other");
  const beside = values["no-notify"] ? undefined : notifyBeside(webhook);
  const notifyUrl = given ?? beside;
  const notifySource = given !== undefined ? "flag" : beside !== undefined ? "beside-rm" : "none";
  const gateways = parseGateways(types, {
    uplinks: values.uplink ?? [],
    onBridge: values["gateway-on-bridge"],
    ipMasq: values["ip-masq"],
  });
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
    notifySource,
    gateways,
    podman: values.podman,
    containersConfDir:
      absolute("containers-conf-dir", values["containers-conf-dir"]) ?? DEFAULTS.containersConfDir,
    probe: !values["no-probe"],
    from: absolute("from", values.from),
    launcher: !values["no-launcher"],
    dryRun: values["dry-run"],
  };
}

export function parseUninstallArgs(argv: string[]): UninstallOptions | undefined {
  const { values, positionals } = parse(
    () =>
      parseFlags({
        args: argv,
        allowPositionals: true,
        options: {
          ...dirOptions,
          "containers-conf-dir": { type: "string", default: DEFAULTS.containersConfDir },
          "cache-dir": { type: "string" },
          "log-file": { type: "string" },
        },
      }),
    UNINSTALL_USAGE,
  );
  if (values.help) return undefined;
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"; see dockin uninstall --help`);
  }
  return {
    ...dirs(values),
    dryRun: values["dry-run"],
    containersConfDir:
      absolute("containers-conf-dir", values["containers-conf-dir"]) ?? DEFAULTS.containersConfDir,
    cacheDir: absolute("cache-dir", values["cache-dir"]),
    logFile: absolute("log-file", values["log-file"]),
  };
}
