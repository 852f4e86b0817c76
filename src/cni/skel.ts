// The protocol driver every Dockin plugin runs on: reads the environment and stdin once,
// checks the version and verb, calls the plugin, and prints the result or the error object.
// stdout carries nothing else.
//
// It loads no node: module on an IPAM plugin's path: on Bun, node:fs alone costs such a run about
// 1 ms (BENCHMARKS.md), so stdin and stdout go through Bun's own file API. On the path of every
// plugin run (this driver, env.ts, version.ts, result.ts, the IPAM config), plain loops stand
// where map/filter/flatMap/forEach would: the engine compiles each of those built-ins from
// source at its first call, 0.1-0.3 M instructions apiece (BENCHMARKS.md).
import { field, isObject } from "../net/json.ts";
import { networkNameProblem } from "./checks.ts";
import { type CniEnv, checkNetnsNotOwn, checkRequired, envFor, parseCommand } from "./env.ts";
import { CniError, ErrorCode, FieldErrors, toErrorObject } from "./errors.ts";
import { formatResult, parseResult, type Result } from "./result.ts";
import { readAll } from "./stdin.ts";
import { isSpecVersion, LATEST, type SpecVersion, sinceVersion, verbAllowed } from "./version.ts";

/** The network configuration from stdin: the spec's keys, plus whatever the plugin defines. */
export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  [key: string]: unknown;
}

export interface CmdArgs {
  env: CniEnv;
  config: NetConf;
  /** stdin exactly as received. */
  stdin: string;
}

export interface Plugin {
  /** Printed when run by hand, e.g. "dockin-ipam: static IPAM plugin (Dockin 0.2.0)". */
  about: string;
  versions: readonly SpecVersion[];
  /**
   * The plugin works inside CNI_NETNS (it moves or configures interfaces there): the driver then
   * refuses, before calling it, a CNI_NETNS that is the plugin's own namespace (error 8). An IPAM
   * plugin never enters the namespace and is not checked, as the reference `static` is not.
   */
  entersNetns?: boolean;
  add(args: CmdArgs): Promise<Result>;
  del(args: CmdArgs): Promise<void>;
  check?(args: CmdArgs): Promise<void>;
  /** STATUS: resolve when ready for ADD; throw error 50/51 otherwise. Absent: always ready. */
  status?(args: CmdArgs): Promise<void>;
  /** GC: remove what is not in `cni.dev/valid-attachments`. Absent: nothing to collect. */
  gc?(args: CmdArgs): Promise<void>;
}

/** Where the driver reads and writes: the real process by default, a fake one in unit tests. */
export interface PluginIO {
  env: NodeJS.ProcessEnv;
  readStdin(): string | Promise<string>;
  /** Whether stdin is a terminal (VERSION then reads nothing). Absent: it never is. */
  stdinIsTerminal?(): boolean;
  /** Resolves once the whole text is written. */
  writeStdout(text: string): void | Promise<void>;
  setExitCode(code: number): void;
  /** For the `about` text when run by hand (no CNI_COMMAND). Absent: that case is error 4. */
  writeStderr?(text: string): void | Promise<void>;
  /** Makes sure nothing but `writeStdout` can reach stdout (console.log goes to stderr instead). */
  guardStdout?(): void;
}

/**
 * The console's methods that may print to stdout in one runtime or another, and the ones that
 * keep the state those print (a timer's start, a count, a group's indent).
 */
const CONSOLE_METHODS = [
  "log",
  "info",
  "debug",
  "dir",
  "dirxml",
  "table",
  "trace",
  "count",
  "countReset",
  "group",
  "groupCollapsed",
  "groupEnd",
  "time",
  "timeLog",
  "timeEnd",
  "assert",
] as const;

/** Codes of a stdin that is closed or gives nothing: an empty config (the decoder says what is missing). */
const NO_STDIN = new Set(["EAGAIN", "EOF", "EBADF"]);

/**
 * The network configuration read from stdin by `read`: a closed stdin, or one that gives nothing,
 * is an empty config (the decoder says what is missing); any other failure is an I/O error.
 */
export async function readConfig(read: () => string | Promise<string>): Promise<string> {
  try {
    return await read();
  } catch (err) {
    if (NO_STDIN.has((err as NodeJS.ErrnoException).code ?? "")) return "";
    throw new CniError(
      ErrorCode.IOFailure,
      `reading the network configuration from stdin: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export const processIO: PluginIO = {
  env: process.env,
  // Through the event loop: the IPAM plugin does not load node:fs (dockin-cni, which does, reads
  // it synchronously: src/bin/dockin-cni.ts).
  readStdin: () => readConfig(() => readAll(Bun.stdin.stream())),
  // node:fs, loaded for VERSION only (fstat is not worth its load on the ADD path).
  stdinIsTerminal: () => {
    try {
      return process.getBuiltinModule("node:fs").fstatSync(0).isCharacterDevice();
    } catch {
      return false;
    }
  },
  // Bun.write finishes the write however slowly the reader reads (stdout may be non-blocking).
  writeStdout: async (text) => {
    await Bun.write(Bun.stdout, text);
  },
  setExitCode: (code) => {
    process.exitCode = code;
  },
  writeStderr: async (text) => {
    try {
      await Bun.write(Bun.stderr, text);
    } catch {
      // stderr closed: nothing to tell
    }
  },
  guardStdout: () => {
    // stdout is the protocol channel: any stray console output goes to stderr. Bun's console
    // writes to fd 1 itself, not through process.stdout (console.trace too): every method goes
    // through a console whose both streams are stderr, made on first use. process.stdout itself
    // is not redirected: on Bun, touching it in any way (a getter defined over it included) builds
    // the stream, a quarter of an IPAM plugin's start-up (BENCHMARKS.md); instead the build
    // refuses a plugin whose sources name it (scripts/build.ts).
    type Methods = Record<string, (...args: unknown[]) => void>;
    let quiet: Methods | undefined;
    const methods = console as unknown as Methods;
    for (const name of CONSOLE_METHODS) {
      methods[name] = (...args: unknown[]) => {
        quiet ??= new console.Console({
          stdout: process.stderr,
          stderr: process.stderr,
        }) as unknown as Methods;
        quiet[name]?.(...args);
      };
    }
  },
};

/** The newest version the plugin speaks. */
const newest = (plugin: Plugin): string => plugin.versions[plugin.versions.length - 1] ?? LATEST;

/** Parses the configuration on stdin (the spec's keys checked; the rest is the plugin's). */
export function decodeConfig(stdin: string): NetConf {
  let value: unknown;
  try {
    value = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(
      ErrorCode.DecodeFailure,
      `decoding the network configuration on stdin: ${(err as Error).message}`,
    );
  }
  if (!isObject(value)) {
    throw new CniError(
      ErrorCode.DecodeFailure,
      "decoding the network configuration on stdin: it is not a JSON object",
    );
  }
  // cniVersion, name and type as the reference library's Go decoder reads them: in any letter
  // case, the last one winning. A config without a version (or with an empty one) is 0.1.0.
  const version = field(value, "cniVersion");
  const cniVersion = version === undefined || version === "" ? "0.1.0" : version;
  if (typeof cniVersion !== "string") {
    throw new CniError(
      ErrorCode.DecodeFailure,
      `cniVersion must be a string such as "1.0.0", not ${JSON.stringify(cniVersion)}`,
    );
  }
  const read = { name: field(value, "name"), type: field(value, "type") };
  for (const key of ["name", "type"] as const) {
    if (read[key] !== undefined && typeof read[key] !== "string") {
      throw new CniError(
        ErrorCode.DecodeFailure,
        `${key} must be a string, not ${JSON.stringify(read[key])}`,
      );
    }
  }
  const name = (read.name as string | undefined) ?? "";
  const nameProblem = networkNameProblem(name);
  if (nameProblem !== undefined) {
    throw new CniError(
      ErrorCode.InvalidConfig,
      name === "" ? "missing network name" : `network name "${name}" ${nameProblem}`,
      name === "" ? {} : { details: name },
    );
  }
  return { ...value, cniVersion, name, type: (read.type as string | undefined) ?? "" };
}

/**
 * The VERSION answer. The config's version is echoed when the plugin speaks it, else the newest
 * it does; stdin is otherwise ignored (the reference skel does not even read it), so VERSION never
 * fails on what it is given.
 */
function versionReply(plugin: Plugin, stdin: string): { cniVersion: string; supportedVersions: string[] } {
  const latest: string = newest(plugin);
  let asked: unknown;
  try {
    asked = (JSON.parse(stdin) as Record<string, unknown> | null)?.cniVersion;
  } catch {
    asked = undefined;
  }
  const cniVersion =
    typeof asked === "string" && plugin.versions.includes(asked as SpecVersion) ? asked : latest;
  return { cniVersion, supportedVersions: [...plugin.versions] };
}

/** The `prevResult` of a CHECK or DEL config, in the 1.x shape; undefined when absent. */
export function prevResultOf(config: NetConf): Result | undefined {
  if (config.prevResult === undefined || config.prevResult === null) return undefined;
  return parseResult(config.prevResult, config.cniVersion);
}

/** One attachment a GC config says is still valid. */
export interface Attachment {
  containerID: string;
  ifname: string;
}

/**
 * The attachments a GC config says are still valid: `cni.dev/valid-attachments`, as libcni sends
 * it, or `cni.dev/attachments`, the name spec 1.1.0 was released with (libcni sends both since
 * 1.2.3), for runtimes that followed the spec's text. A list that is missing or malformed is
 * error 7, never an empty list: GC removes everything not listed, so guessing "none" would
 * remove every attachment.
 */
export function validAttachmentsOf(config: NetConf): Attachment[] {
  const key = ["cni.dev/valid-attachments", "cni.dev/attachments"].find((k) => config[k] !== undefined);
  if (key === undefined) {
    throw new CniError(
      ErrorCode.InvalidConfig,
      "GC config has no cni.dev/valid-attachments list: refusing to treat every attachment as stale",
    );
  }
  const list = config[key];
  if (!Array.isArray(list)) throw new CniError(ErrorCode.InvalidConfig, `${key} must be a list`);
  const errors = new FieldErrors();
  const out: Attachment[] = [];
  list.forEach((a: unknown, i) => {
    const entry = isObject(a) ? a : {};
    if (typeof entry.containerID !== "string" || entry.containerID === "") {
      errors.add(`${key}[${i}].containerID`, "must be a non-empty string");
    }
    if (typeof entry.ifname !== "string" || entry.ifname === "") {
      errors.add(`${key}[${i}].ifname`, "must be a non-empty string");
    }
    if (typeof entry.containerID === "string" && typeof entry.ifname === "string") {
      out.push({ containerID: entry.containerID, ifname: entry.ifname });
    }
  });
  errors.throwIfAny("invalid GC config");
  return out;
}

async function printJson(io: PluginIO, value: unknown): Promise<void> {
  await io.writeStdout(`${JSON.stringify(value, null, 4)}\n`);
}

/**
 * Runs one plugin invocation to the end; never throws. The checks come in the reference skel's
 * order: required variables (4), the config on stdin (6, or 7 for the network name), the container
 * id and interface name (4), the version (1), then, before the plugin is called rather than after
 * as in the reference, that CNI_NETNS is not the plugin's own namespace (8).
 */
export async function runPlugin(plugin: Plugin, io: PluginIO = processIO): Promise<void> {
  io.guardStdout?.();
  let outVersion: string = newest(plugin);
  try {
    if ((io.env.CNI_COMMAND ?? "") === "" && io.writeStderr !== undefined) {
      // Run by hand: say what this is, as the reference plugins do, and succeed.
      await io.writeStderr(
        `${plugin.about}\nCNI protocol versions supported: ${plugin.versions.join(", ")}\n`,
      );
      return;
    }
    const command = parseCommand(io.env);
    if (command === "VERSION") {
      // A person running the plugin at a terminal has no config to give: do not wait for one.
      const stdin = io.stdinIsTerminal?.() ? "" : await io.readStdin();
      await printJson(io, versionReply(plugin, stdin));
      return;
    }
    checkRequired(io.env, command);
    const stdin = await io.readStdin();
    const config = decodeConfig(stdin);
    // From here on, errors are printed in the config's version when the plugin speaks it.
    const supported = isSpecVersion(config.cniVersion) && plugin.versions.includes(config.cniVersion);
    if (supported) outVersion = config.cniVersion;
    const env = envFor(io.env, command);
    if (!supported) {
      throw new CniError(ErrorCode.IncompatibleVersion, "incompatible CNI versions", {
        details: `config is "${config.cniVersion}", plugin supports [${plugin.versions.join(" ")}]`,
      });
    }
    if (!verbAllowed(command, config.cniVersion)) {
      throw new CniError(
        ErrorCode.IncompatibleVersion,
        `config version "${config.cniVersion}" does not allow ${command}; it needs cniVersion ${sinceVersion(command)} or newer`,
      );
    }
    if (plugin.entersNetns && (command === "ADD" || command === "CHECK" || command === "DEL")) {
      checkNetnsNotOwn(io.env);
    }
    const args: CmdArgs = { env, config, stdin };
    switch (command) {
      case "ADD": {
        const result = await plugin.add(args);
        await printJson(io, formatResult(result, config.cniVersion));
        return;
      }
      case "DEL":
        await plugin.del(args);
        return;
      case "CHECK":
        await plugin.check?.(args);
        return;
      case "STATUS":
        await plugin.status?.(args);
        return;
      case "GC":
        await plugin.gc?.(args);
        return;
    }
  } catch (err) {
    io.setExitCode(1);
    await printJson(io, toErrorObject(err, outVersion));
  }
}
