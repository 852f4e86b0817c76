// The network configs in the Dockin config dir: found by their `name` field (the file name does
// not matter), read the way dockin-cni reads them (the seed's samples carry `// comments`).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isObject } from "../net/json.ts";
import { stripComments } from "../plugin/netconf.ts";
import type { Gateway } from "./options.ts";

export const NETCONF_EXTENSIONS = [".conf", ".json", ".conflist"];

/** JSON with comments and trailing commas, read exactly as dockin-cni reads confDir. */
export function parseJsonc(text: string): unknown {
  return JSON.parse(stripComments(text));
}

export interface NetworkFile {
  /** Absolute path of the file. */
  path: string;
  file: string;
  /** The parsed object, when the file is a JSON object. */
  config?: Record<string, unknown>;
  /** The `name` field, when present and a string. */
  name?: string;
  /** Why the file could not be read as a network config. */
  problem?: string;
}

/** The plugins of a network config: its `plugins` list (a .conflist), or the config itself. */
export function pluginsOf(config: Record<string, unknown>): unknown[] {
  return Array.isArray(config.plugins) ? config.plugins : [config];
}

/** The dockin-cni plugin entry of a parsed .conf or .conflist, with the list's cniVersion. */
export function dockinEntry(parsed: unknown): Record<string, unknown> | undefined {
  if (!isObject(parsed)) return undefined;
  if (parsed.type === "dockin-cni") return parsed;
  if (!Array.isArray(parsed.plugins)) return undefined;
  const entry = parsed.plugins.find((p) => isObject(p) && p.type === "dockin-cni");
  return isObject(entry) ? { cniVersion: parsed.cniVersion, name: parsed.name, ...entry } : undefined;
}

/** The config's `bridge` plugin (where its bridge, uplink and isGateway are), if it has one. */
export function bridgePluginOf(config: Record<string, unknown>): Record<string, unknown> | undefined {
  return pluginsOf(config).find((p): p is Record<string, unknown> => isObject(p) && p.type === "bridge");
}

/** Every config file of `dir` (sorted by file name); an absent directory has none. */
export function scanNetworks(dir: string): NetworkFile[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const out: NetworkFile[] = [];
  for (const file of names) {
    if (!NETCONF_EXTENSIONS.some((ext) => file.endsWith(ext))) continue;
    const path = join(dir, file);
    const entry: NetworkFile = { path, file };
    try {
      const parsed = parseJsonc(readFileSync(path, "utf8"));
      if (!isObject(parsed)) entry.problem = "is not a JSON object";
      else {
        entry.config = parsed;
        if (typeof parsed.name === "string") entry.name = parsed.name;
        else entry.problem = 'has no string "name"';
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === "EISDIR") continue;
      entry.problem =
        e.code === undefined ? `is not valid JSON (${e.message})` : `cannot be read (${e.message})`;
    }
    out.push(entry);
  }
  return out;
}

/** The file whose `name` is `network` (the first by file name, as dockin-cni picks). */
export function findNetwork(files: readonly NetworkFile[], network: string): NetworkFile | undefined {
  return files.find((f) => f.name === network);
}

/** The file name stem (without extension) of a config file. */
export function stemOf(file: string): string {
  const ext = NETCONF_EXTENSIONS.find((e) => file.endsWith(e));
  return ext === undefined ? file : file.slice(0, -ext.length);
}

/**
 * The bridge for a network: `dk-<name>` when that is a valid interface name (15 characters at
 * most), else `dk-` and a short hash of the name, so every network gets its own bridge.
 */
export function bridgeName(network: string): string {
  const plain = `dk-${network}`;
  if (plain.length <= 15 && /^[A-Za-z0-9_.-]+$/.test(plain)) return plain;
  const hash = createHash("sha256").update(network).digest("hex").slice(0, 8);
  const head = network.replace(/[^A-Za-z0-9]/g, "").slice(0, 3);
  return `dk-${head}${head === "" ? "" : "-"}${hash}`.slice(0, 15);
}

/**
 * The bridge network config written for a listed type that has none. With the gateway on the
 * bridge: `isGateway` (and `ipMasq` when asked, written either way so the choice shows). With an
 * uplink: `uplink` names the NIC; the bridge plugin ignores the key, install and doctor read it.
 */
export function bridgeConfig(
  network: string,
  cniVersion: string,
  gateway: Gateway = { mode: "bridge", ipMasq: false, chosen: false },
): Record<string, unknown> {
  const base = { cniVersion, name: network, type: "bridge", bridge: bridgeName(network) };
  if (gateway.mode === "uplink") return { ...base, isGateway: false, uplink: gateway.nic };
  return { ...base, isGateway: true, ipMasq: gateway.ipMasq };
}

/** How a plan line names a network's gateway choice. */
export function describeGateway(gateway: Gateway): string {
  if (gateway.mode === "uplink") return `uplink ${gateway.nic}: the gateway is the site's router behind it`;
  const masq = gateway.ipMasq ? ", ipMasq: NAT for traffic leaving the subnet" : "";
  return `gateway on the bridge (isGateway; turns on net.ipv4.ip_forward)${masq}${gateway.chosen ? "" : "; by default (--uplink TYPE=NIC puts the gateway behind a NIC instead)"}`;
}
