// Shared by the install tests: the standalone executable (dist/bin/dockin, made by `npm run build`),
// temp trees, snapshots of a tree, read-only mounts, processes.
import { execFile, type SpawnSyncReturns, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { removeReadMark } from "../../src/install/launcher.ts";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const setupSh = join(root, "setup.sh");
export const WEBHOOK = "http://127.0.0.1:10002/rmController/getPodMultiNetwork";

/** dist/bin/dockin, the executable that ships (`npm run build` makes it; ./dev test runs that first). */
export function builtExecutable(): string {
  const file = join(root, "dist", "bin", "dockin");
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` (./dev setup)`);
  return file;
}

export interface Tree {
  root: string;
  cniConfDir: string;
  binDir: string;
  dockinConfDir: string;
  cacheDir: string;
  /** Where setup.sh links `dockin` (DOCKIN_LINK_DIR). */
  linkDir: string;
  /** Where install --podman writes its drop-in (CONTAINERS_CONF_DIR). */
  containersConfDir: string;
  env: NodeJS.ProcessEnv;
  /** Read-only mounts made by readOnly(), unmounted by cleanup(). */
  mounts: string[];
  cleanup(): void;
}

/** A temp root with the three install dirs named (not created: install creates them). */
export function tempTree(): Tree {
  const base = mkdtempSync(join(tmpdir(), "dockin-install-"));
  const t: Tree = {
    root: base,
    cniConfDir: join(base, "etc", "cni", "net.d"),
    binDir: join(base, "opt", "cni", "bin"),
    dockinConfDir: join(base, "etc", "cni", "dockin", "net.d"),
    cacheDir: join(base, "var", "lib", "cni", "dockin"),
    linkDir: join(base, "usr", "local", "bin"),
    containersConfDir: join(base, "etc", "containers", "containers.conf.d"),
    env: {},
    mounts: [],
    cleanup() {
      for (const m of t.mounts.reverse()) spawnSync("umount", [m]);
      rmSync(base, { recursive: true, force: true });
      removeReadMark(t.binDir); // a run of its dockin-cni's launcher made it (src/install/launcher.ts)
    },
  };
  // Every directory setup.sh writes is under the temp root: never /usr/local/bin or /etc/containers.
  t.env = {
    CNI_CONF_PATH: t.cniConfDir,
    BIN_DIR: t.binDir,
    DOCKIN_CONF_DIR: t.dockinConfDir,
    DOCKIN_LINK_DIR: t.linkDir,
    CONTAINERS_CONF_DIR: t.containersConfDir,
  };
  return t;
}

/** Mounts an empty read-only tmpfs on `dir` (root ignores permission bits, not EROFS). */
export function readOnly(tree: Tree, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "dockin-test-ro", dir], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`mount ${dir}: ${r.stderr}`);
  tree.mounts.push(dir);
}

/** Every path under `dir` with its inode, mode, size and (for small files) a content hash. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = lstatSync(p);
      const rel = p.slice(dir.length);
      if (st.isDirectory()) {
        out[rel] = `dir ${st.mode.toString(8)}`;
        walk(p);
      } else {
        const hash = st.size < 1 << 16 ? createHash("sha1").update(readFileSync(p)).digest("hex") : "";
        out[rel] = `${st.ino} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${hash}`;
      }
    }
  };
  walk(dir);
  return out;
}

/** Runs setup.sh with the tree's directories in its environment. */
export function setup(
  tree: Tree,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): SpawnSyncReturns<string> {
  builtExecutable();
  return spawnSync("sh", [setupSh, ...args], {
    cwd: root,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...tree.env, ...extraEnv },
  });
}

/** setup.sh without blocking this process (for a server the test runs in-process). */
export function setupAsync(
  tree: Tree,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  builtExecutable();
  return new Promise((resolve) => {
    execFile(
      "sh",
      [setupSh, ...args],
      {
        cwd: root,
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...tree.env, ...extraEnv },
      },
      (err, stdout, stderr) => resolve({ status: err === null ? 0 : Number(err.code ?? 1), stdout, stderr }),
    );
  });
}

/** Runs a command with exactly `env` (nothing inherited). */
export function runEnv(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
): SpawnSyncReturns<string> {
  return spawnSync(file, args, { encoding: "utf8", env, input: input ?? "" });
}

export function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}
