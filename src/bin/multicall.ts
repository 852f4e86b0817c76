// The multi-call entry of the executable: one file installed under several names (`dockin-cni`,
// `dockin-ipam`, anything else is `dockin`) runs the role its name says. A role is loaded by its
// loader, a dynamic import (or, for dockin-ipam's small run, a function the entry imports), so a
// plugin's start-up never evaluates the RM or the CLI (the build splits them into their own chunks).

/** The last component of a path (node:path would cost a plugin's start-up a module load). */
const basename = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

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
  // dockin-cni's launcher (src/install/launcher.ts) names the role; nothing it starts inherits it.
  const named = process.env.DOCKIN_ROLE;
  if (named !== undefined) delete process.env.DOCKIN_ROLE;
  const roles = Object.keys(loaders);
  const role = named !== undefined && roles.includes(named) ? named : roleOf(argv0, roles);
  const load = loaders[role];
  if (load === undefined) {
    console.error(`${basename(argv0)}: this build has no "${role}" role`);
    process.exitCode = 2;
    return;
  }
  load().catch((err: unknown) => {
    console.error(`${role}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  });
}
