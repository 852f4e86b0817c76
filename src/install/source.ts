// Where the plugin executables come from: the standalone multi-call executable (the running one
// when `dockin` is itself standalone, else the repository's dist/sea/dockin), or, for development,
// dist/bin's bundles, which run on this repository's pinned Node.
import { accessSync, constants, existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { isSea } from "node:sea";
import { PLUGINS, type Source, UsageError } from "./options.ts";

/** The repository that holds the running `dockin` (dist/bin/dockin or src/bin/dockin.ts), if any. */
export function repoRoot(start: string | undefined = process.argv[1]): string | undefined {
  if (start === undefined || isSea()) return undefined;
  let dir: string;
  try {
    dir = dirname(realpathSync(start));
  } catch {
    return undefined;
  }
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown };
      if (pkg.name === "dockin") return dir;
    } catch {
      // no package.json here, or not ours
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function checkExecutable(file: string, what: string, hint: string): void {
  try {
    if (!statSync(file).isFile()) throw new Error("not a regular file");
    accessSync(file, constants.X_OK);
  } catch (err) {
    throw new UsageError(`${what} "${file}" is not an executable file (${(err as Error).message}): ${hint}`);
  }
}

export function resolveSource(opts: { from: string | undefined; dev: boolean }): Source {
  const build = "build it with `node scripts/sea.ts` (npm run dist)";
  if (opts.dev) {
    const root = repoRoot();
    if (root === undefined)
      throw new UsageError("--dev needs dockin run from its repository (dist/bin/dockin)");
    const dir = join(root, "dist", "bin");
    for (const p of PLUGINS) checkExecutable(join(dir, p), "plugin", "run `npm run build` first");
    return { kind: "dev", dir };
  }
  if (opts.from !== undefined) {
    checkExecutable(opts.from, "--from", build);
    return { kind: "sea", file: opts.from };
  }
  if (isSea()) return { kind: "sea", file: process.execPath };
  const root = repoRoot();
  const file = root === undefined ? undefined : join(root, "dist", "sea", "dockin");
  if (file === undefined || !existsSync(file)) {
    throw new UsageError(
      `no standalone executable to install${file === undefined ? "" : ` (${file} is missing)`}: ${build}, ` +
        "pass --from FILE, or --dev to install dist/bin's plugins (they need this repository's Node)",
    );
  }
  checkExecutable(file, "standalone executable", build);
  return { kind: "sea", file };
}

/** The file each plugin name is installed from. */
export function sourceFiles(source: Source): Record<(typeof PLUGINS)[number], string> {
  if (source.kind === "sea") return { "dockin-cni": source.file, "dockin-ipam": source.file };
  return { "dockin-cni": join(source.dir, "dockin-cni"), "dockin-ipam": join(source.dir, "dockin-ipam") };
}
