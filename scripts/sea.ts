// Builds the standalone executable dist/sea/dockin: a Node single executable application made
// from the pinned Node 24 with every role bundled in (dockin-cni, dockin-ipam, dockin). It acts
// on the name it is run as; `dockin install` links it into the CNI bin dir under each plugin
// name, so a host keeps one copy.
//
// Usage: node scripts/sea.ts [--out PATH] [--layout assets|bundle] [--no-code-cache] [--force]
//
// The result is cached: dist/sea/<name>.key holds a hash of everything that goes into it (the
// bundle, the SEA config, the Node binary, the injector), and a build with the same key reuses
// the executable. Never strip it: the blob lives in an ELF note that strip removes.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Script } from "node:vm";
import { build, type Plugin } from "esbuild";
import { roleFilename, wrapRole } from "../src/bin/multicall.ts";
import { pinnedNode, trainedCodeCache } from "./code-cache.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The roles, in dispatch order; a role whose src/bin entry does not exist yet is left out. */
export const ROLES = ["dockin-cni", "dockin-ipam", "dockin"] as const;
/** postject is not a dependency of the project (see docs/install.md); this exact version is used. */
export const POSTJECT = "postject@1.0.0-alpha.6";
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
/** Bump when the way the executable is made changes, so cached builds are not reused. */
const RECIPE = "sea-3";

export const defaultOut = join(root, "dist", "sea", "dockin");

/**
 * How the roles are laid out in the executable:
 * - "assets" (default): each role is its own bundle, a SEA asset with its V8 code cache; the main
 *   script only picks the role, so a plugin parses and compiles its own code and nothing else.
 * - "bundle": one bundle of every role, each evaluated lazily (all of it is parsed at start-up).
 */
export type Layout = "assets" | "bundle";

export interface SeaOptions {
  out?: string;
  layout?: Layout;
  codeCache?: boolean;
  force?: boolean;
  log?: (line: string) => void;
}

function presentRoles(): string[] {
  return ROLES.filter((role) => existsSync(join(root, "src", "bin", `${role}.ts`)));
}

/** The generated main script: the multi-call dispatcher with one loader per present role. */
function entrySource(roles: readonly string[], layout: Layout): string {
  if (layout === "assets") {
    return `import { assetRoles, dispatch } from "./multicall.ts";\ndispatch(assetRoles(${JSON.stringify(roles)}));\n`;
  }
  const lines = roles.map((r) => `  ${JSON.stringify(r)}: () => import(${JSON.stringify(`./${r}.ts`)}),`);
  return `import { dispatch } from "./multicall.ts";\ndispatch({\n${lines.join("\n")}\n});\n`;
}

function resolvable(name: string): boolean {
  try {
    createRequire(join(root, "package.json")).resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** Optional packages the RM may load (the etcd client): bundled when installed, else left out. */
const external = ["etcd3"].filter((name) => !resolvable(name));

/**
 * etcd3 reads its gRPC definitions from its own directory when it loads: lib/connection-pool.js
 * calls loadSync on `${__dirname}/../proto/rpc.proto`, which imports kv.proto and auth.proto; an
 * installed executable has no node_modules beside it (in the SEA, __dirname is "/dockin-sea"). So the
 * bundle carries them instead: at build time the same protobufjs that @grpc/proto-loader uses parses
 * the three files with the parse option etcd3 gives (keepCase), and the call becomes
 * `fromJSON(<that root as JSON>, <etcd3's options>)`, @grpc/proto-loader's own entry for a
 * pre-parsed root. No temp files, no file system at run time, about 25 KB in the `dockin` role only
 * (the plugin roles never reach etcd3); test/etcd/sea.test.ts checks that both give the same
 * package definition. dist/bin keeps etcd3 external and is not touched.
 */
const ETCD_POOL = /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/;
const ETCD_LOAD = /\(0,\s*([\w$]+)\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`,\s*(\{[^}]*\})/;

/** etcd3's rpc.proto (and its imports) parsed as etcd3's connection pool parses them, as JSON. */
export function etcdProtoJson(pool: string, keepCase: boolean): string {
  const fromPool = createRequire(pool);
  const protobuf = createRequire(fromPool.resolve("@grpc/proto-loader"))("protobufjs") as {
    Root: new () => { loadSync(file: string, o: object): { resolveAll(): { toJSON(): unknown } } };
  };
  const rpc = join(dirname(pool), "..", "proto", "rpc.proto");
  return JSON.stringify(new protobuf.Root().loadSync(rpc, { keepCase }).resolveAll().toJSON());
}

/** Rewrites etcd3's proto loading to use the definitions embedded at build time (see above). */
const etcdProtos: Plugin = {
  name: "dockin-etcd-protos",
  setup(b) {
    b.onLoad({ filter: ETCD_POOL }, (args) => {
      const source = readFileSync(args.path, "utf8");
      const m = ETCD_LOAD.exec(source);
      if (m === null) {
        // A new etcd3 that loads its protos some other way: fail rather than make an RM that
        // cannot reach etcd.
        throw new Error(`${args.path}: etcd3's loadSync(rpc.proto) call not found; update scripts/sea.ts`);
      }
      const [call, loader = "", options = ""] = m;
      const json = etcdProtoJson(args.path, /\bkeepCase:\s*true\b/.test(options));
      const embedded = `(0, ${loader}.fromJSON)(JSON.parse(${JSON.stringify(json)}), ${options}`;
      return { contents: source.replace(call, () => embedded), loader: "js" };
    });
  },
};

async function bundle(entry: { file: string } | { source: string }, outfile: string): Promise<Buffer> {
  await build({
    ...("file" in entry
      ? { entryPoints: [entry.file] }
      : {
          stdin: {
            contents: entry.source,
            resolveDir: join(root, "src", "bin"),
            sourcefile: "sea-entry.ts",
            loader: "ts" as const,
          },
        }),
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node24",
    // A role runs as a plain function (vm.Script), where import() has no loader: make it require().
    supported: { "dynamic-import": false },
    minifySyntax: true,
    legalComments: "none",
    external,
    plugins: [etcdProtos],
    logLevel: "warning",
  });
  return readFileSync(outfile);
}

/**
 * V8's code cache for a role's wrapped source, made by this same Node (so the SEA accepts it): for
 * a plugin, after a training run (scripts/code-cache.ts), so that it holds every function the
 * plugin runs; for the CLI, its top-level code only.
 */
async function codeCacheFor(role: string, source: string): Promise<Buffer> {
  if (role === "dockin-cni" || role === "dockin-ipam") return trainedCodeCache(role, wrapRole(source));
  return new Script(wrapRole(source), { filename: roleFilename(role) }).createCachedData();
}

function sha256(...parts: (string | Buffer)[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

function run(cmd: string, args: string[], what: string): void {
  const env = { ...process.env, PATH: `${dirname(pinnedNode)}:${process.env.PATH ?? "/usr/bin:/bin"}` };
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(
      `sea: ${what} failed (${cmd} ${args.join(" ")}): ${r.error?.message ?? ""}${r.stderr}${r.stdout}`,
    );
  }
}

/** The injector: a project-local postject when one is installed, else the pinned one through npx. */
function postjectCommand(): [string, string[]] {
  const local = join(root, "node_modules", ".bin", "postject");
  if (existsSync(local)) return [local, []];
  return ["npx", ["--yes", POSTJECT]];
}

/** Builds (or reuses) the standalone executable; returns its path. */
export async function buildSea(opts: SeaOptions = {}): Promise<string> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const out = resolve(opts.out ?? defaultOut);
  // A work dir per process: two test files may build at once; the results are renamed into place.
  const work = `${out}.build-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    return await buildIn(work, out, opts, log);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function buildIn(
  work: string,
  out: string,
  opts: SeaOptions,
  log: (line: string) => void,
): Promise<string> {
  const roles = presentRoles();
  const layout = opts.layout ?? "assets";
  const script = join(work, "main.cjs");
  const parts: Buffer[] = [await bundle({ source: entrySource(roles, layout) }, script)];
  const assets: Record<string, string> = {};
  if (layout === "assets") {
    for (const role of roles) {
      const js = join(work, `${role}.js`);
      const source = await bundle({ file: join(root, "src", "bin", `${role}.ts`) }, js);
      assets[`${role}.js`] = js;
      if (opts.codeCache ?? true) {
        writeFileSync(join(work, `${role}.cache`), await codeCacheFor(role, source.toString("utf8")));
        assets[`${role}.cache`] = join(work, `${role}.cache`);
      }
      parts.push(source);
    }
  }
  const config = {
    main: script,
    output: join(work, "blob"),
    disableExperimentalSEAWarning: true,
    useCodeCache: opts.codeCache ?? true,
    useSnapshot: false,
    assets,
  };
  const nodeStat = statSync(pinnedNode);
  const key = sha256(
    RECIPE,
    POSTJECT,
    layout,
    JSON.stringify({ ...config, main: "", output: "", assets: Object.keys(assets) }),
    `${nodeStat.size}:${nodeStat.mtimeMs}`,
    ...parts,
  );
  const keyFile = `${out}.key`;
  if (!opts.force && existsSync(out) && existsSync(keyFile) && readFileSync(keyFile, "utf8") === key) {
    log(`sea: ${relative(root, out)} is up to date (roles: ${roles.join(", ")}; layout: ${layout})`);
    return out;
  }

  const configFile = join(work, "sea-config.json");
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  run(pinnedNode, ["--experimental-sea-config", configFile], "making the SEA blob");
  const tmp = join(work, "dockin");
  rmSync(tmp, { force: true });
  copyFileSync(pinnedNode, tmp);
  chmodSync(tmp, 0o755);
  const [cmd, pre] = postjectCommand();
  run(cmd, [...pre, tmp, "NODE_SEA_BLOB", config.output, "--sentinel-fuse", FUSE], "injecting the blob");
  // Atomic: a test or an install may be reading the previous executable.
  renameSync(tmp, out);
  writeFileSync(`${keyFile}.${process.pid}`, key);
  renameSync(`${keyFile}.${process.pid}`, keyFile);
  const mb = (statSync(out).size / 1024 / 1024).toFixed(0);
  const missing = ROLES.filter((r) => !roles.includes(r));
  log(
    `sea: built ${relative(root, out)} (${mb} MB; roles: ${roles.join(", ")}; layout: ${layout}` +
      `${missing.length > 0 ? `; not yet in src/bin: ${missing.join(", ")}` : ""}` +
      `${external.length > 0 ? `; not bundled (not installed): ${external.join(", ")}` : ""})`,
  );
  return out;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      "no-code-cache": { type: "boolean", default: false },
      layout: { type: "string", default: "assets" },
      force: { type: "boolean", default: false },
    },
  });
  if (values.layout !== "assets" && values.layout !== "bundle") {
    throw new Error(`sea: --layout "${values.layout}": expected assets or bundle`);
  }
  const opts: SeaOptions = {
    codeCache: !values["no-code-cache"],
    force: values.force,
    layout: values.layout,
  };
  if (values.out !== undefined) opts.out = values.out;
  await buildSea(opts);
}
