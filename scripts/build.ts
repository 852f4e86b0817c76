// Builds what ships: dist/bin/dockin, one standalone executable made by the pinned Bun
// (`bun build --compile`), with every role in it; dist/bin/dockin-ipam, a hard link to it; and
// dist/bin/dockin-cni, the /bin/sh launcher that runs it as dockin-cni (src/install/launcher.ts).
// It acts on the name it runs as, or the role its launcher names (src/bin/main.ts); it needs
// neither Node nor Bun on the host. Runs under the pinned Bun: `npm run build`, or
//   node_modules/@oven/bun-linux-x64/bin/bun scripts/build.ts [--baseline] [--out DIR] [--jit-policy N]
//
// - ES modules with code splitting: each role is its own chunk, loaded by the dispatcher's
//   dynamic import, so a plugin never parses the RM, the CLI or the etcd client.
// - Bytecode (`--bytecode`): the chunks are compiled at build time; start-up skips parsing.
// - `--baseline`: made from Bun's baseline build, for x86-64 CPUs without AVX2 (before Haswell,
//   2013); the default build needs AVX2 and is faster (BENCHMARKS.md).
// - The plugins' import graph must not reach the RM, the CLI, SQLite or etcd: checked here, and
//   the build fails when it does.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { LAUNCHED, launcherScript } from "../src/install/launcher.ts";
import { PLUGINS } from "../src/install/options.ts";
import { leanAdd } from "../src/ipam/lean.ts";
import { buildUi } from "./build-ui.ts";
import { etcdProtos } from "./etcd-protos.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The Bun builds the executable can be made from (each an npm package pinned in package.json). */
export const RUNTIMES = {
  default: join(root, "node_modules", "@oven", "bun-linux-x64", "bin", "bun"),
  baseline: join(root, "node_modules", "@oven", "bun-linux-x64-baseline", "bin", "bun"),
} as const;

/**
 * The plugins must stay lean: the RM (SQLite, etcd, the HTTP server) and the CLI may never reach
 * their import graph. Matched against every bundled input path and imported module name.
 */
const forbiddenInPlugins = [
  /^node:sqlite$/,
  /^bun:sqlite$/,
  /(^|\/)etcd3(\/|$)/,
  /(^|\/)src\/rm\//,
  /(^|\/)src\/cli\//,
  // On Bun each costs a plugin run a module load for what Bun or a few lines do (BENCHMARKS.md):
  // child_process (Bun.spawn), path (src/cni/path.ts), os.
  /^(node:)?(child_process|path|os)$/,
];

/** What one plugin may not import on top: an IPAM plugin's run does not load node:fs (~1 ms). */
const forbiddenIn: Partial<Record<(typeof PLUGINS)[number], RegExp[]>> = {
  "dockin-ipam": [/^(node:)?fs$/],
};

function fail(message: string): never {
  throw new Error(`build: ${message}`);
}

function logsOf(result: { logs: unknown[] }): string {
  return result.logs.map(String).join("\n");
}

/**
 * A plugin's stdout carries its result and nothing else: its sources may not write there except
 * through the protocol driver (fd 1), so they may not name process.stdout (the driver does not
 * redirect it: see guardStdout in src/cni/skel.ts).
 */
const forbiddenInPluginSources = /\bprocess\.stdout\b/;

/** Source text without its comments (roughly: enough to tell code from prose). */
const withoutComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");

/** Fails the build when a plugin's import graph reaches what only the RM or the CLI may load. */
async function checkPluginGraph(name: (typeof PLUGINS)[number]): Promise<void> {
  const result = await Bun.build({
    entrypoints: [join(root, "src", "bin", `${name}.ts`)],
    target: "bun",
    format: "esm",
    metafile: true,
    throw: false,
  });
  if (!result.success || result.metafile === undefined) fail(`${name}: ${logsOf(result)}`);
  const inputs = result.metafile.inputs;
  const names = [
    ...Object.keys(inputs),
    ...Object.values(inputs).flatMap((input) => input.imports.map((i) => i.path)),
  ].map((n) => n.replace(/^(\.\.\/)+/, "/").replace(root, ""));
  const forbidden = [...forbiddenInPlugins, ...(forbiddenIn[name] ?? [])];
  const bad = [...new Set(names.filter((n) => forbidden.some((re) => re.test(n.replace(/^\//, "")))))];
  if (bad.length > 0) fail(`${name} must not import ${bad.join(", ")} (plugin start-up path)`);
  const writers = Object.keys(inputs)
    .map((input) => resolve(input))
    .filter((file) => file.startsWith(join(root, "src")))
    .filter((file) => forbiddenInPluginSources.test(withoutComments(readFileSync(file, "utf8"))));
  if (writers.length > 0) {
    fail(
      `${name}: ${writers.map((f) => relative(root, f)).join(", ")} names process.stdout: a plugin writes its result through the protocol driver only`,
    );
  }
}

/**
 * What `dockin version` prints (src/cli/version.ts): package.json's version and the commit the tree
 * is at, `+dirty` when it has changes git tracks; "unknown" outside a git checkout.
 */
function buildDefines(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  const git = (args: string[]) => {
    const r = spawnSync("git", args, { cwd: root, encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : undefined;
  };
  const head = git(["rev-parse", "--short=12", "HEAD"]);
  const dirty = head !== undefined && (git(["status", "--porcelain", "--untracked-files=no"]) ?? "") !== "";
  const commit = head === undefined ? "unknown" : `${head}${dirty ? "+dirty" : ""}`;
  return { DOCKIN_VERSION: JSON.stringify(pkg.version), DOCKIN_COMMIT: JSON.stringify(commit) };
}

export interface BuildOptions {
  /** Where dockin, dockin-cni and dockin-ipam go (default dist/bin). */
  out?: string;
  /** Made from Bun's baseline build (no AVX2 needed). */
  baseline?: boolean;
  /** The JIT tier-up threshold scale the executable starts with (default JIT_POLICY). */
  jitPolicy?: number;
}

/**
 * The JIT tier-up thresholds, multiplied. A plugin runs for a few milliseconds: a function that
 * turns hot in that time is compiled on the JIT's thread and rarely runs long enough to repay it
 * (an IPAM run: 2.31x of Go static with the normal policy, 2.16x with this; BENCHMARKS.md). The
 * `dockin` role (the CLI and the RM) sets the normal policy back as it starts (src/bin/dockin.ts).
 */
export const JIT_POLICY = 1000;

/**
 * The run whose bytecode the executable lays out first (Bun's `bytecodeOrder`): dockin-ipam's lean
 * ADD, the shortest and most frequent run of all (twice on every pod's path). A run that starts
 * reads ahead, and faults in, the bytecode it uses; laid out together, that is a few hundred KiB
 * at the front instead of spans among every role's 3 MB. dockin-ipam alone measured 0.02-0.03x of
 * Go `static` faster; dockin-cni's runs, laid out after it, no slower (BENCHMARKS.md).
 */
const ORDER_RUN = {
  env: {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: "dockin-build",
    CNI_NETNS: "/var/run/netns/dockin-build",
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin",
    CNI_ARGS:
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=build;K8S_POD_INFRA_CONTAINER_ID=dockin-build",
  },
  config: JSON.stringify({
    cniVersion: "1.0.0",
    name: "build",
    type: "bridge",
    ipam: {
      type: "dockin-ipam",
      addresses: [{ address: "10.72.0.2/24", gateway: "10.72.0.1" }],
      routes: [{ dst: "0.0.0.0/0", gw: "10.72.0.1" }],
    },
  }),
};

/**
 * Runs a first build of the executable as ORDER_RUN does and returns the order file the run wrote
 * (BUN_BYTECODE_ORDER_OUT); `dir` is on the executable's file system (for the hard link whose
 * name selects the role) and is the caller's to remove.
 */
function recordOrder(exe: string, dir: string): string {
  const ipam = join(dir, LAUNCHED);
  linkSync(exe, ipam);
  const order = join(dir, "ipam-add.order");
  const run = spawnSync(ipam, [], {
    env: { ...ORDER_RUN.env, BUN_BYTECODE_ORDER_OUT: order },
    input: ORDER_RUN.config,
    encoding: "utf8",
  });
  // The lean path's answer, and no other: the layout is for that path.
  const lean = leanAdd(ORDER_RUN.env, ORDER_RUN.config);
  if (lean === undefined) {
    fail(
      "ORDER_RUN's config no longer takes dockin-ipam's lean path (src/ipam/lean.ts): give it one that does",
    );
  }
  if (run.status !== 0 || run.stdout !== lean) {
    fail(`the run that lays out the bytecode failed (status ${run.status}): ${run.stderr}${run.stdout}`);
  }
  return order;
}

/** Compiles the executable's entry into `outfile`; `order`: the order files to lay its bytecode out by. */
async function compile(outfile: string, opts: BuildOptions, order?: string): Promise<void> {
  const result = await Bun.build({
    entrypoints: [join(root, "src", "bin", "main.ts")],
    compile: {
      outfile,
      executablePath: opts.baseline ? RUNTIMES.baseline : RUNTIMES.default,
      // A plugin runs in the runtime's working directory: a .env or bunfig.toml there must not
      // reach its environment (Bun's compiled executables read both by default).
      autoloadDotenv: false,
      autoloadBunfig: false,
      jitPolicy: opts.jitPolicy ?? JIT_POLICY,
      ...(order === undefined ? {} : { bytecodeOrder: order }),
    },
    format: "esm",
    splitting: true,
    bytecode: true,
    minify: true,
    define: buildDefines(),
    plugins: [etcdProtos],
    throw: false,
  });
  if (!result.success) {
    rmSync(outfile, { force: true });
    fail(logsOf(result));
  }
}

/** Builds the executable, dockin-ipam's link to it and dockin-cni's launcher; returns the executable's path. */
export async function buildExecutable(opts: BuildOptions = {}): Promise<string> {
  const out = resolve(opts.out ?? join(root, "dist", "bin"));
  await buildUi(); // the RM's console, bundled into src/rm/ui/assets.gen.ts
  await Promise.all(PLUGINS.map(checkPluginGraph));
  mkdirSync(out, { recursive: true });
  // Built beside the result, then renamed over it: a test or an install may be running the
  // previous one. Built twice: the first build's run records the layout of the second.
  const tmp = join(out, `.dockin.build-${process.pid}`);
  const scratch = join(out, `.order.build-${process.pid}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch);
  try {
    await compile(tmp, opts);
    const order = recordOrder(tmp, scratch);
    await compile(tmp, opts, order);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const exe = join(out, "dockin");
  // dockin-ipam: a hard link to the executable; dockin-cni: its launcher (src/install/launcher.ts).
  const link = join(out, `.${LAUNCHED}.build-${process.pid}`);
  rmSync(link, { force: true });
  linkSync(tmp, link);
  renameSync(link, join(out, LAUNCHED));
  const script = join(out, `.dockin-cni.build-${process.pid}`);
  writeFileSync(script, launcherScript(), { mode: 0o755 });
  chmodSync(script, 0o755);
  renameSync(script, join(out, "dockin-cni"));
  renameSync(tmp, exe);
  return exe;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      baseline: { type: "boolean", default: false },
      out: { type: "string" },
      "jit-policy": { type: "string" },
    },
  });
  const exe = await buildExecutable({
    baseline: values.baseline,
    ...(values["jit-policy"] === undefined ? {} : { jitPolicy: Number(values["jit-policy"]) }),
    ...(values.out === undefined ? {} : { out: values.out }),
  });
  const mb = (statSync(exe).size / 1024 / 1024).toFixed(0);
  const where = relative(process.cwd(), dirname(exe)) || ".";
  console.log(
    `built ${where}/dockin (${mb} MB, Bun ${Bun.version}${values.baseline ? " baseline" : ""}; ` +
      `${where}/${LAUNCHED} a hard link to it, ${where}/dockin-cni its launcher)`,
  );
}
