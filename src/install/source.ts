// Where the plugins come from: the one multi-call executable that `npm run build` makes
// (dist/bin/dockin), installed under each plugin name. That is the running `dockin` when it is the
// built executable, else (run from source, in development) the repository's dist/bin/dockin.
import { accessSync, constants, existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { type Source, UsageError } from "./options.ts";

/**
 * Whether this process is the compiled executable: Bun puts a compiled program's modules in its
 * virtual file system, under /$bunfs/.
 */
export function isStandalone(moduleUrl: string = import.meta.url): boolean {
  return moduleUrl.includes("/$bunfs/");
}

/** The repository that holds the running source (src/…), if any. */
export function repoRoot(start: string | undefined = process.argv[1]): string | undefined {
  if (start === undefined || isStandalone()) return undefined;
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

/** The directory of the running executable's plugins: dist/bin when run from source. */
export function executableDir(): string | undefined {
  if (isStandalone()) return dirname(process.execPath);
  const root = repoRoot();
  return root === undefined ? undefined : join(root, "dist", "bin");
}

/** Why `file` is not an executable regular file, or undefined when it is one. */
export function executableProblem(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return "not a regular file";
    accessSync(file, constants.X_OK);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function checkExecutable(file: string, what: string, hint: string): void {
  const problem = executableProblem(file);
  if (problem !== undefined) {
    throw new UsageError(`${what} "${file}" is not an executable file (${problem}): ${hint}`);
  }
}

export function resolveSource(opts: { from: string | undefined }): Source {
  const build = "build it with `npm run build` (dist/bin/dockin)";
  if (opts.from !== undefined) {
    checkExecutable(opts.from, "--from", build);
    return { file: opts.from };
  }
  if (isStandalone()) return { file: process.execPath };
  const dir = executableDir();
  const file = dir === undefined ? undefined : join(dir, "dockin");
  if (file === undefined || !existsSync(file)) {
    throw new UsageError(
      `no dockin executable to install${file === undefined ? "" : ` (${file} is missing)`}: ${build}, or pass --from FILE`,
    );
  }
  checkExecutable(file, "dockin executable", build);
  return { file };
}
