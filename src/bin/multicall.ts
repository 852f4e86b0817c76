// The multi-call entry of the standalone executable: one binary installed under several names
// (`dockin-cni`, `dockin-ipam`, anything else is `dockin`) runs the role its name says. Each role
// is loaded only when it runs, so a plugin's start-up never evaluates the RM or the CLI.
import { createRequire } from "node:module";
import { basename, dirname } from "node:path";
import { getAsset, getRawAsset } from "node:sea";
import { Script } from "node:vm";

/** Loads (and so runs) one role's entry module. */
export type RoleLoader = () => Promise<unknown>;

/** The role for the name the executable was run as; `fallback` when the name is not a role. */
export function roleOf(argv0: string, roles: readonly string[], fallback = "dockin"): string {
  const name = basename(argv0);
  return roles.includes(name) ? name : fallback;
}

/**
 * Runs the role named by `argv0` (the name as invoked: a hard link or a symbolic link keeps it,
 * whereas `process.execPath` resolves symbolic links).
 */
export function dispatch(loaders: Record<string, RoleLoader>, argv0: string = process.argv0): void {
  const role = roleOf(argv0, Object.keys(loaders));
  const load = loaders[role];
  if (load === undefined) {
    process.stderr.write(`${basename(argv0)}: this build has no "${role}" role\n`);
    process.exitCode = 2;
    return;
  }
  load().catch((err: unknown) => {
    process.stderr.write(`${role}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}

/** Each role's bundle as a CommonJS function; the build compiles the same text for its code cache. */
export function wrapRole(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

export function roleFilename(role: string): string {
  return `/dockin-sea/${role}.js`;
}

function cacheOf(role: string): { cachedData?: Buffer } {
  try {
    return { cachedData: Buffer.from(getRawAsset(`${role}.cache`)) };
  } catch {
    return {}; // built without code caches
  }
}

/**
 * Loaders for roles kept as SEA assets (`<role>.js` and its V8 code cache `<role>.cache`): only the
 * role that runs is read, compiled (from the cache when V8 accepts it) and run.
 */
export function assetRoles(roles: readonly string[]): Record<string, RoleLoader> {
  const out: Record<string, RoleLoader> = {};
  for (const role of roles) {
    out[role] = async () => {
      const filename = roleFilename(role);
      const source = getAsset(`${role}.js`, "utf8");
      const cache = cacheOf(role);
      const script = new Script(wrapRole(source), { filename, ...cache });
      if (process.env.DOCKIN_SEA_DEBUG === "1") {
        const state =
          cache.cachedData === undefined
            ? "absent"
            : script.cachedDataRejected === true
              ? "rejected"
              : "accepted";
        process.stderr.write(`sea: role ${role} (${source.length} bytes), code cache ${state}\n`);
      }
      const run = script.runInThisContext() as (...args: unknown[]) => void;
      const module = { exports: {} };
      run(module.exports, createRequire(process.execPath), module, filename, dirname(filename));
    };
  }
  return out;
}
