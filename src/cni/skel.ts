// The protocol driver every Dockin plugin runs on: reads the environment and stdin once,
// checks the version and verb, calls the plugin, and prints the result or the error object.
// stdout carries nothing else.
import { readFileSync, writeSync } from "node:fs";
import { type CniEnv, parseCommand, parseEnv } from "./env.ts";
import { CniError, ErrorCode, toErrorObject } from "./errors.ts";
import { formatResult, parseResult, type Result } from "./result.ts";
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
  readStdin(): string;
  writeStdout(text: string): void;
  setExitCode(code: number): void;
}

export const processIO: PluginIO = {
  env: process.env,
  readStdin: () => {
    try {
      return readFileSync(0, "utf8");
    } catch (err) {
      // A closed or absent stdin is an empty config; the decoder then says what is missing.
      if ((err as NodeJS.ErrnoException).code === "EAGAIN" || (err as NodeJS.ErrnoException).code === "EOF")
        return "";
      throw new CniError(ErrorCode.IOFailure, "reading the network configuration from stdin", { cause: err });
    }
  },
  writeStdout: (text) => {
    writeSync(1, text);
  },
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

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
  const cniVersion = value.cniVersion ?? "0.1.0";
  if (typeof cniVersion !== "string") {
    throw new CniError(
      ErrorCode.DecodeFailure,
      `cniVersion must be a string such as "1.0.0", not ${JSON.stringify(cniVersion)}`,
    );
  }
  for (const key of ["name", "type"] as const) {
    if (value[key] !== undefined && typeof value[key] !== "string") {
      throw new CniError(
        ErrorCode.DecodeFailure,
        `${key} must be a string, not ${JSON.stringify(value[key])}`,
      );
    }
  }
  return { ...value, cniVersion, name: (value.name as string) ?? "", type: (value.type as string) ?? "" };
}

/** The `prevResult` of a CHECK or DEL config, in the 1.x shape; undefined when absent. */
export function prevResultOf(config: NetConf): Result | undefined {
  if (config.prevResult === undefined || config.prevResult === null) return undefined;
  return parseResult(config.prevResult, config.cniVersion);
}

function printJson(io: PluginIO, value: unknown): void {
  io.writeStdout(`${JSON.stringify(value, null, 4)}\n`);
}

/** Runs one plugin invocation to the end; never throws. */
export async function runPlugin(plugin: Plugin, io: PluginIO = processIO): Promise<void> {
  let outVersion: string = plugin.versions.at(-1) ?? LATEST;
  try {
    const command = parseCommand(io.env);
    if (command === "VERSION") {
      const stdin = io.readStdin().trim();
      const asked = stdin === "" ? undefined : decodeConfig(stdin).cniVersion;
      const cniVersion =
        asked !== undefined && plugin.versions.includes(asked as SpecVersion) ? asked : outVersion;
      printJson(io, { cniVersion, supportedVersions: plugin.versions });
      return;
    }
    const env = parseEnv(io.env);
    const stdin = io.readStdin();
    const config = decodeConfig(stdin);
    if (!isSpecVersion(config.cniVersion) || !plugin.versions.includes(config.cniVersion)) {
      throw new CniError(ErrorCode.IncompatibleVersion, "incompatible CNI versions", {
        details: `config is "${config.cniVersion}", plugin supports [${plugin.versions.join(" ")}]`,
      });
    }
    outVersion = config.cniVersion;
    if (!verbAllowed(command, config.cniVersion)) {
      throw new CniError(
        ErrorCode.IncompatibleVersion,
        `config version "${config.cniVersion}" does not allow ${command}; it needs cniVersion ${sinceVersion(command)} or newer`,
      );
    }
    const args: CmdArgs = { env, config, stdin };
    switch (command) {
      case "ADD": {
        const result = await plugin.add(args);
        printJson(io, formatResult(result, config.cniVersion));
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
    printJson(io, toErrorObject(err, outVersion));
    io.setExitCode(1);
  }
}
