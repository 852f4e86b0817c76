// The CNI_* environment, parsed and validated once, at the edge.
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

/** Which variables each verb needs (the spec's table). */
const REQUIRED: Record<Verb, readonly string[]> = {
  ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  DEL: ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
  STATUS: [],
  GC: [],
  VERSION: [],
};

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Why an interface name is not a valid Linux name, or undefined when it is. */
export function ifNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name.length > 15) return `is ${name.length} characters long; Linux allows at most 15`;
  if (name === "." || name === "..") return "may not be '.' or '..'";
  if (/[/:\s]/.test(name)) return "may not contain '/', ':' or white space";
  return undefined;
}

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

export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = parseCommand(env);
  const missing = REQUIRED[command].filter((name) => (env[name] ?? "") === "");
  if (missing.length > 0) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `required environment variables missing for ${command}: ${missing.join(", ")}`,
    );
  }
  const containerId = env.CNI_CONTAINERID ?? "";
  if (containerId !== "" && !CONTAINER_ID.test(containerId)) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_CONTAINERID "${containerId}" is invalid: it must start with a letter or digit, then letters, digits, '_', '.' or '-'`,
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
    path: (env.CNI_PATH ?? "").split(":").filter((d) => d !== ""),
  };
}

/** Parses CNI_ARGS (`K=V;K2=V2`) into ordered pairs; a pair without '=' is an error. */
export function parseCniArgs(args: string): Map<string, string> {
  const out = new Map<string, string>();
  if (args === "") return out;
  for (const pair of args.split(";")) {
    const eq = pair.indexOf("=");
    if (eq <= 0 || pair.indexOf("=", eq + 1) >= 0) {
      throw new CniError(
        ErrorCode.InvalidEnvironment,
        `CNI_ARGS: invalid pair "${pair}"; expected KEY=VALUE`,
      );
    }
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

/** Whether CNI_ARGS asks to ignore keys the plugin does not know (`IgnoreUnknown=1`). */
export function ignoresUnknown(args: Map<string, string>): boolean {
  const v = args.get("IgnoreUnknown");
  return v !== undefined && ["1", "true", "True", "TRUE", "t", "T"].includes(v);
}

/**
 * Checks CNI_ARGS against the keys a plugin knows, as the reference plugins do: an unknown key is
 * an error unless `IgnoreUnknown` is set.
 */
export function checkKnownArgs(args: Map<string, string>, known: readonly string[]): void {
  if (ignoresUnknown(args)) return;
  for (const key of args.keys()) {
    if (key !== "IgnoreUnknown" && !known.includes(key)) {
      throw new CniError(
        ErrorCode.InvalidEnvironment,
        `CNI_ARGS: unknown key "${key}"; known keys are ${known.join(", ")} (add IgnoreUnknown=1 to ignore others)`,
      );
    }
  }
}
