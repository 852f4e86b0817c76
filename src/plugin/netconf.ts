// The network configs in confDir: `.json`, `.conf` and `.conflist` files, found by their `name`
// (the file name does not matter). `//` and `/* */` comments are allowed, as in the seed's samples.

import { readdirSync, readFileSync } from "node:fs";
import { sortedStrings } from "../cni/each.ts";
import { joinPath } from "../cni/path.ts";
import { isJsSpace } from "../net/chars.ts";
import { isObject, type Json } from "../net/json.ts";

export interface NetworkFile {
  name: string;
  path: string;
  /** The plugins to run in order: one for `.json`/`.conf`, the chain of a `.conflist`. */
  plugins: Json[];
  /** The file's top level (a `.conflist` without its `plugins`), for `routes`/`dns`. */
  top: Json;
}

export interface NetworkDir {
  byName: Map<string, NetworkFile>;
  /** Files that could not be read or parsed, with why; reported when a network is missing. */
  broken: string[];
}

/**
 * Removes `//` and `/* *\/` comments outside strings, and drops a trailing comma before `}` or `]`
 * (comments and whitespace between them allowed), in one scan, so that strings stay as written.
 */
export function stripComments(text: string): string {
  let out = "";
  // Where in `out` the last comma outside a string stands, while only whitespace or comments follow it.
  let comma = -1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      comma = -1;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 2;
    } else {
      if ((c === "}" || c === "]") && comma >= 0) out = out.slice(0, comma) + out.slice(comma + 1);
      if (c === ",") comma = out.length;
      else if (!isJsSpace(c.charCodeAt(0))) comma = -1;
      out += c;
      i++;
    }
  }
  return out;
}

/** Parses one network file; throws with the reason when it is not a usable network config. */
export function parseNetworkFile(path: string, text: string): NetworkFile {
  const value: unknown = JSON.parse(stripComments(text));
  if (!isObject(value)) throw new Error("not a JSON object");
  if (typeof value.name !== "string" || value.name === "") throw new Error('it has no "name"');
  const isList = path.endsWith(".conflist") || Array.isArray(value.plugins);
  if (isList) {
    const plugins = value.plugins;
    if (!Array.isArray(plugins) || plugins.length === 0) throw new Error('"plugins" is not a non-empty list');
    for (let i = 0; i < plugins.length; i++) {
      const p: unknown = plugins[i];
      if (!isObject(p) || typeof p.type !== "string" || p.type === "")
        throw new Error(`plugins[${i}] has no "type"`);
    }
    const { plugins: _, ...top } = value;
    return { name: value.name, path, plugins: plugins as Json[], top };
  }
  if (typeof value.type !== "string" || value.type === "") throw new Error('it has no "type"');
  return { name: value.name, path, plugins: [value], top: value };
}

/** Reads every network file of `dir`, in file-name order; the first file with a name wins. */
export function loadNetworkDir(dir: string): NetworkDir {
  const byName = new Map<string, NetworkFile>();
  const broken: string[] = [];
  let names: string[];
  try {
    names = sortedStrings(readdirSync(dir));
  } catch (err) {
    broken.push(`${dir}: ${(err as Error).message}`);
    return { byName, broken };
  }
  for (const entry of names) {
    if (!entry.endsWith(".json") && !entry.endsWith(".conf") && !entry.endsWith(".conflist")) continue;
    const path = joinPath(dir, entry);
    try {
      const file = parseNetworkFile(path, readFileSync(path, "utf8"));
      if (byName.has(file.name)) {
        broken.push(`${path}: network "${file.name}" is already defined by ${byName.get(file.name)!.path}`);
      } else byName.set(file.name, file);
    } catch (err) {
      broken.push(`${path}: ${(err as Error).message}`);
    }
  }
  return { byName, broken };
}
