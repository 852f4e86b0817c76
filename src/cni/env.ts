// The CNI_* environment, parsed and validated once, at the edge.

import { cniArgPairs, ifNameProblem, ignoreUnknownOf, isContainerId } from "./checks.ts";
import { CniError, ErrorCode } from "./errors.ts";
import { VERBS, type Verb } from "./version.ts";

export interface CniEnv {
  command: Verb;
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS as written (`K=V;K2=V2`), parsed by `parseCniArgs` when a plugin needs it. */
  args: string;
  /** CNI_PATH split into directories. */
  path: string[];
}

/**
 * Which variables each verb needs: the spec's table, with CNI_PATH required for ADD, CHECK and DEL
 * as the reference skel requires it (the spec lists it as optional there). GC needs CNI_PATH;
 * STATUS and VERSION need nothing but CNI_COMMAND.
 */
export const REQUIRED: Readonly<Record<Verb, readonly string[]>> = {
  ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  DEL: ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
  STATUS: [],
  GC: ["CNI_PATH"],
  VERSION: [],
};

export function parseCommand(env: NodeJS.ProcessEnv): Verb {
  const command = env.CNI_COMMAND;
  if (command === undefined || command === "") {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      "CNI_COMMAND is not set: this program is a CNI plugin, run by a container runtime",
    );
  }
  if (!(VERBS as readonly string[]).includes(command)) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_COMMAND "${command}" is unknown; expected one of ${VERBS.join(", ")}`,
    );
  }
  return command as Verb;
}

/** Throws error 4 naming every variable `command` needs that is unset or empty. */
export function checkRequired(env: NodeJS.ProcessEnv, command: Verb): void {
  const missing: string[] = [];
  for (const name of REQUIRED[command]) if ((env[name] ?? "") === "") missing.push(name);
  if (missing.length > 0) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `required environment variables missing for ${command}: ${missing.join(", ")}`,
    );
  }
}

/** CNI_PATH's directories, empty entries dropped. */
function splitPath(value: string): string[] {
  const dirs: string[] = [];
  for (const dir of value.split(":")) if (dir !== "") dirs.push(dir);
  return dirs;
}

export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = parseCommand(env);
  checkRequired(env, command);
  return envFor(env, command);
}

/** The rest of parseEnv, for a caller that has parsed the command and checked the required ones. */
export function envFor(env: NodeJS.ProcessEnv, command: Verb): CniEnv {
  const containerId = env.CNI_CONTAINERID ?? "";
  if (containerId !== "" && !isContainerId(containerId)) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_CONTAINERID "${containerId}" is invalid: it must start with a letter or digit, then letters, digits, '_', '.' or '-'`,
      { details: containerId },
    );
  }
  const ifName = env.CNI_IFNAME ?? "";
  const ifProblem = ifName === "" ? undefined : ifNameProblem(ifName);
  if (ifProblem !== undefined) {
    throw new CniError(ErrorCode.InvalidEnvironment, `CNI_IFNAME "${ifName}" ${ifProblem}`);
  }
  return {
    command,
    containerId,
    netns: env.CNI_NETNS ?? "",
    ifName,
    args: env.CNI_ARGS ?? "",
    path: splitPath(env.CNI_PATH ?? ""),
  };
}

/** CNI_ARGS as ordered pairs (checks.ts cniArgPairs); throws error 4 naming a pair that is not one. */
export function parseCniArgs(args: string): Map<string, string> {
  const pairs = cniArgPairs(args);
  if (!(pairs instanceof Map)) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_ARGS: invalid pair "${pairs.bad}"; expected KEY=VALUE`,
    );
  }
  return pairs;
}

/** Whether CNI_ARGS asks to ignore keys the plugin does not know (checks.ts ignoreUnknownOf). */
export function ignoresUnknown(args: Map<string, string>): boolean {
  const v = args.get("IgnoreUnknown");
  const ignore = ignoreUnknownOf(v);
  if (ignore === undefined) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_ARGS: invalid value "${v}" for IgnoreUnknown; expected 1, true, 0 or false`,
    );
  }
  return ignore;
}

/**
 * Checks CNI_ARGS against the keys a plugin knows, as the reference plugins do: an unknown key is
 * an error unless `IgnoreUnknown` is set.
 */
export function checkKnownArgs(args: Map<string, string>, known: readonly string[]): void {
  if (ignoresUnknown(args)) return;
  const unknown = [...args.keys()].filter((key) => key !== "IgnoreUnknown" && !known.includes(key));
  if (unknown.length > 0) {
    const list = unknown.map((k) => `"${k}"`).join(", ");
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_ARGS: unknown ${unknown.length === 1 ? "key" : "keys"} ${list}; known keys are ${known.join(", ")} (add IgnoreUnknown=1 to ignore others)`,
    );
  }
}

/**
 * Whether two paths name the same file (the same namespace, for namespace files); false when
 * either cannot be read. node:fs is loaded here, not imported: only a plugin that enters the
 * namespace (one that has node:fs loaded already) comes here, and an IPAM plugin's start-up must
 * not pay for it (skel.ts).
 */
export function sameFile(a: string, b: string): boolean {
  const { statSync } = process.getBuiltinModule("node:fs");
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/**
 * Throws error 8 when CNI_NETNS names the plugin's own network namespace (a runtime bug that would
 * have the plugin rewire the host), as the reference skel checks; CNI_NETNS_OVERRIDE=1 or true
 * turns the check off. A path that cannot be read is left to the plugin (DEL must not fail on it).
 */
export function checkNetnsNotOwn(env: NodeJS.ProcessEnv, ownPath = "/proc/self/ns/net"): void {
  const netns = env.CNI_NETNS ?? "";
  const override = (env.CNI_NETNS_OVERRIDE ?? "").toLowerCase();
  if (netns === "" || override === "1" || override === "true") return;
  if (sameFile(netns, ownPath)) {
    throw new CniError(
      ErrorCode.InvalidNetNS,
      `CNI_NETNS "${netns}" is the plugin's own network namespace; the container needs one of its own`,
    );
  }
}
