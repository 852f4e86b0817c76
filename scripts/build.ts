// Builds the executables under dist/bin, run directly by the pinned Node 24: for each, one bundle,
// dist/lib/<name>.js, with its V8 code cache dist/lib/<name>.cache, and a small dist/bin/<name>
// that compiles the bundle from that cache and runs it.
// - the plugins (dockin-cni, dockin-ipam): the cache is made from a training run of their verbs
//   (scripts/code-cache.ts). Start-up is a plugin's whole cost, and the cache spares it parsing
//   and compiling its own functions.
// - dockin (the CLI and the RM): the cache of its top-level code.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import { build } from "esbuild";
import { wrapRole } from "../src/bin/multicall.ts";
import { pinnedNode, type TrainedRole, trainedCodeCache } from "./code-cache.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The plugins must stay lean: the RM (SQLite, etcd, the HTTP server) and the CLI may never reach
 * their import graph. Matched against every bundled input path and imported module name.
 */
const forbiddenInPlugins = [/^node:sqlite$/, /^etcd3$/, /^src\/rm\//, /^src\/cli\//];

const plugins: TrainedRole[] = ["dockin-ipam", "dockin-cni"];

const binDir = join(root, "dist", "bin");
const libDir = join(root, "dist", "lib");
mkdirSync(binDir, { recursive: true });
mkdirSync(libDir, { recursive: true });
writeFileSync(join(root, "dist", "package.json"), '{ "type": "commonjs" }\n');

async function bundle(name: string, plugin: boolean): Promise<string> {
  const result = await build({
    entryPoints: [join(root, "src", "bin", `${name}.ts`)],
    bundle: true,
    write: false,
    platform: "node",
    format: "cjs",
    target: "node24",
    minifySyntax: true,
    legalComments: "none",
    external: ["etcd3"],
    metafile: true,
    logLevel: "warning",
  });
  if (plugin) {
    const inputs = result.metafile.inputs;
    const names = [
      ...Object.keys(inputs),
      ...Object.values(inputs).flatMap((input) => input.imports.map((i) => i.path)),
    ];
    const bad = [...new Set(names.filter((n) => forbiddenInPlugins.some((re) => re.test(n))))];
    if (bad.length > 0) {
      throw new Error(`build: ${name} must not import ${bad.join(", ")} (plugin start-up path)`);
    }
  }
  return result.outputFiles[0]!.text;
}

/** dist/bin/<name>: compiles dist/lib/<name>.js from its code cache and runs it. */
function loader(name: string, js: string, cache: string): string {
  return `#!${pinnedNode}
"use strict";
// ${name}: runs ${js} with the V8 code cache that \`npm run build\` made for it. Made by
// scripts/build.ts. DOCKIN_CODE_CACHE_DEBUG=1 says whether V8 took the cache (it compiles as
// usual when it does not: a new Node, other flags).
// Built-in modules through process.getBuiltinModule, not require: this file runs the same whether
// Node takes it for CommonJS or for an ES module (a package.json with "type" above where it is).
const { readFileSync, writeSync } = process.getBuiltinModule("node:fs");
const { Script } = process.getBuiltinModule("node:vm");
const { createRequire } = process.getBuiltinModule("node:module");
const file = ${JSON.stringify(js)};
let cachedData;
try {
  cachedData = readFileSync(${JSON.stringify(cache)});
} catch {
  // no cache: compiled as usual
}
const script = new Script(readFileSync(file, "utf8"), { filename: file, cachedData });
if (process.env.DOCKIN_CODE_CACHE_DEBUG === "1") {
  const state = cachedData === undefined ? "absent" : script.cachedDataRejected ? "rejected" : "accepted";
  writeSync(2, \`${name}: code cache \${state}\\n\`);
}
const m = { exports: {} };
script.runInThisContext()(m.exports, createRequire(file), m, file, ${JSON.stringify(libDir)});
`;
}

for (const name of [...plugins, "dockin"]) {
  const plugin = (plugins as string[]).includes(name);
  const wrapped = wrapRole(await bundle(name, plugin));
  const js = join(libDir, `${name}.js`);
  const cache = join(libDir, `${name}.cache`);
  writeFileSync(js, wrapped);
  writeFileSync(
    cache,
    plugin
      ? await trainedCodeCache(name as TrainedRole, wrapped)
      : new Script(wrapped, { filename: js }).createCachedData(),
  );
  const bin = join(binDir, name);
  writeFileSync(bin, loader(name, js, cache));
  chmodSync(bin, 0o755);
}
console.log(
  `built ${plugins.map((p) => `dist/bin/${p}`).join(", ")} (trained code caches) and dist/bin/dockin (dist/lib/*.js)`,
);
