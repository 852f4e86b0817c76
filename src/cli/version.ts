// Which Dockin this is: its release (package.json's version), the commit it was built from and the
// Bun inside it. The build writes the first two in (scripts/build.ts, `define`); run from source,
// they are unknown.

declare const DOCKIN_VERSION: string;
declare const DOCKIN_COMMIT: string;

export interface BuildInfo {
  version: string;
  commit: string;
  bun: string;
}

export function buildInfo(): BuildInfo {
  return {
    version: typeof DOCKIN_VERSION === "string" ? DOCKIN_VERSION : "unknown (run from source)",
    commit: typeof DOCKIN_COMMIT === "string" ? DOCKIN_COMMIT : "unknown",
    bun: Bun.version,
  };
}

/** `dockin 0.2.0 (commit 3b23644c0ffe, Bun 1.4.5)`: what `dockin version` prints. */
export function versionLine(info: BuildInfo = buildInfo()): string {
  return `dockin ${info.version} (commit ${info.commit}, Bun ${info.bun})`;
}

/** `dockin version`. */
export default async function versionCommand(argv: string[]): Promise<number> {
  if (argv.length > 0 && argv[0] !== "--help" && argv[0] !== "-h") {
    process.stderr.write(`dockin version: unexpected argument "${argv[0]}"\n`);
    return 2;
  }
  process.stdout.write(`${versionLine()}\n`);
  return 0;
}
