// The main plugin configuration (stdin), validated once, at the edge: the seed's keys, `cacheDir`,
// and the webhook, delegate and notification settings documented in docs/plugin.md.
import { eachOf } from "../cni/each.ts";
import { ErrorCode, FieldErrors } from "../cni/errors.ts";
import { isLevel, type Level } from "../cni/log.ts";
import type { NetConf } from "../cni/skel.ts";

export interface MainConfig {
  cniVersion: string;
  name: string;
  confDir: string;
  binDir: string;
  cacheDir: string;
  logFile: string | undefined;
  logLevel: Level;
  /** The webhook URL (http or https). */
  backend: string;
  /** PEM CA bundle that signs the backend's certificate (https). */
  caFile: string | undefined;
  /** Client certificate and key (PEM) for mutual TLS. */
  certFile: string | undefined;
  keyFile: string | undefined;
  /** A file holding a bearer token sent as `Authorization: Bearer …` (read per call, never logged). */
  tokenFile: string | undefined;
  /** Time allowed for one webhook request. */
  timeoutMs: number;
  /** Time allowed for the whole webhook exchange, retries and backoff included. */
  deadlineMs: number;
  /** Extra attempts after the first, on a transport failure, 5xx or 429. */
  retries: number;
  maxReplyBytes: number;
  /** Time allowed for each delegate call. */
  delegateTimeoutMs: number;
  /** Told (POST) when a pod is detached, so the RM can release its addresses. */
  notifyUrl: string | undefined;
}

const DEFAULTS = {
  confDir: "/etc/cni/dockin/net.d",
  binDir: "/opt/cni/bin",
  cacheDir: "/var/lib/cni/dockin",
  logLevel: "info" as Level,
  timeoutMs: 5_000,
  deadlineMs: 30_000,
  retries: 3,
  maxReplyBytes: 1024 * 1024,
  delegateTimeoutMs: 45_000,
};

/** Keys the spec and runtimes put in any plugin's config; accepted and not used here. */
const SPEC_KEYS = [
  "cniVersion",
  "name",
  "type",
  "args",
  "runtimeConfig",
  "capabilities",
  "prevResult",
  "dns",
  "ipam",
  "disableCheck",
  "disableGC",
  "cni.dev/valid-attachments",
  "cni.dev/attachments",
];
const STRING_KEYS = [
  "confDir",
  "binDir",
  "cacheDir",
  "logFile",
  "logLevel",
  "backend",
  "caFile",
  "certFile",
  "keyFile",
  "tokenFile",
  "notifyUrl",
] as const;
const NUMBER_KEYS = ["timeoutMs", "deadlineMs", "retries", "maxReplyBytes", "delegateTimeoutMs"] as const;
const KNOWN = new Set<string>([...SPEC_KEYS, ...STRING_KEYS, ...NUMBER_KEYS]);

/** Edit distance, to suggest the key a misspelled one meant. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

export function suggestKey(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function checkUrl(errors: FieldErrors, key: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    errors.add(key, `"${value}" is not a URL`);
    return;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    errors.add(key, `"${value}" must be an http:// or https:// URL`);
  }
}

/**
 * Validates the main config; every problem is reported together, with its key. With `lenient`
 * (DEL and GC, which must clean up whatever the config says) problems are returned, not thrown.
 */
export function parseMainConfig(conf: NetConf, lenient = false): { config: MainConfig; problems: string[] } {
  const errors = new FieldErrors();
  for (const key of Object.keys(conf)) {
    if (KNOWN.has(key)) continue;
    if (key === "plugins") {
      // A whole .conflist piped in by hand: a runtime passes one entry of it.
      errors.add(
        key,
        'this is a network configuration list (.conflist); a runtime passes the plugin one entry of "plugins", with the list\'s "name" and "cniVersion" added (docs/plugin.md, "Run it by hand")',
      );
      continue;
    }
    const hint = suggestKey(key, KNOWN);
    errors.add(key, `unknown key${hint === undefined ? "" : `; did you mean "${hint}"?`}`);
  }
  const strings: Partial<Record<(typeof STRING_KEYS)[number], string>> = {};
  for (const key of STRING_KEYS) {
    const v = conf[key];
    if (v === undefined || v === null || v === "") continue;
    if (typeof v !== "string") errors.add(key, `must be a string, not ${JSON.stringify(v)}`);
    else strings[key] = v;
  }
  const numbers: Partial<Record<(typeof NUMBER_KEYS)[number], number>> = {};
  for (const key of NUMBER_KEYS) {
    const v = conf[key];
    if (v === undefined || v === null) continue;
    const min = key === "retries" ? 0 : 1;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
      errors.add(key, `must be an integer of at least ${min}, not ${JSON.stringify(v)}`);
    } else numbers[key] = v;
  }
  if (strings.logLevel !== undefined && !isLevel(strings.logLevel)) {
    errors.add("logLevel", `"${strings.logLevel}" is not one of error, warn, info, debug`);
  }
  if (strings.backend === undefined) errors.add("backend", "is required: the webhook URL");
  else checkUrl(errors, "backend", strings.backend);
  if (strings.notifyUrl !== undefined) checkUrl(errors, "notifyUrl", strings.notifyUrl);
  if ((strings.certFile === undefined) !== (strings.keyFile === undefined)) {
    errors.add(strings.certFile === undefined ? "certFile" : "keyFile", "certFile and keyFile go together");
  }
  for (const key of ["confDir", "binDir", "cacheDir"] as const) {
    const v = strings[key];
    if (v !== undefined && !v.startsWith("/")) errors.add(key, `"${v}" must be an absolute path`);
  }
  if (!lenient) errors.throwIfAny(`dockin-cni config "${conf.name}"`, ErrorCode.InvalidConfig);
  const level = strings.logLevel;
  const config: MainConfig = {
    cniVersion: conf.cniVersion,
    name: conf.name,
    confDir: strings.confDir ?? DEFAULTS.confDir,
    binDir: strings.binDir ?? DEFAULTS.binDir,
    cacheDir: strings.cacheDir ?? DEFAULTS.cacheDir,
    logFile: strings.logFile,
    logLevel: isLevel(level) ? level : DEFAULTS.logLevel,
    backend: strings.backend ?? "",
    caFile: strings.caFile,
    certFile: strings.certFile,
    keyFile: strings.keyFile,
    tokenFile: strings.tokenFile,
    timeoutMs: numbers.timeoutMs ?? DEFAULTS.timeoutMs,
    deadlineMs: numbers.deadlineMs ?? DEFAULTS.deadlineMs,
    retries: numbers.retries ?? DEFAULTS.retries,
    maxReplyBytes: numbers.maxReplyBytes ?? DEFAULTS.maxReplyBytes,
    delegateTimeoutMs: numbers.delegateTimeoutMs ?? DEFAULTS.delegateTimeoutMs,
    notifyUrl: strings.notifyUrl,
  };
  return { config, problems: eachOf(errors.problems, (p) => `${p.path}: ${p.message}`) };
}

/** The logging keys alone, read leniently so that a config with other problems still logs. */
export function loggingOf(conf: Record<string, unknown>): {
  file: string | undefined;
  level: Level | undefined;
} {
  const file = typeof conf.logFile === "string" && conf.logFile !== "" ? conf.logFile : undefined;
  const level = isLevel(conf.logLevel) ? conf.logLevel : undefined;
  return { file, level };
}
