// dockin-cni as installed: a /bin/sh launcher beside the Dockin executable (installed as
// dockin-ipam), which it runs in dockin-cni's role with the settings a run of milliseconds wants
// and a Bun executable cannot give itself, its environment being read before its code runs
// (BENCHMARKS.md, "a launcher"): JavaScriptCore without its JIT, no GC timer, and no returning of
// freed memory to the system. dockin-ipam gets the first two through the delegate that runs it
// (IPAM_ENV, src/plugin/delegate.ts). The role travels in DOCKIN_ROLE (src/bin/multicall.ts).
import { readdirSync, rmdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { IPAM_ENV } from "../plugin/delegate.ts";

/** The file the launcher runs: the executable, installed beside it under this name. */
export const LAUNCHED = "dockin-ipam";

/**
 * What the launcher sets for dockin-cni: what dockin-ipam gets, and no GC timer (dockin-cni lives
 * long enough in a burst for Bun's one-second timer to collect; dockin-ipam never does).
 */
export const LAUNCHER_ENV = { ...IPAM_ENV, BUN_GC_TIMER_DISABLE: "1" } as const;

/**
 * Where the launcher marks, per install directory, that it has read the executable since the boot
 * (`<READ_MARKS><dir>`, a directory): /run starts empty at every boot.
 */
export const READ_MARKS = "/run/dockin-read";

/**
 * The launcher's text. Before the first run after a boot it reads the executable whole (dropping
 * what of it is cached first): the kernel then caches it in large folios, and every later run of
 * it, as dockin-cni or as dockin-ipam, starts about 1.5 ms faster than when runs fault it in a
 * page at a time (BENCHMARKS.md, "The page cache"). A run that finds the mark costs one stat();
 * where /run is not writable (a rootless runtime) nothing is read, ever.
 */
export function launcherScript(): string {
  const settings = Object.entries(LAUNCHER_ENV)
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");
  return `#!/bin/sh
# dockin-cni, Dockin's CNI meta plugin: the Dockin executable beside this file (${LAUNCHED}) runs
# it, with settings a plugin run of a few milliseconds wants and cannot give itself (no JIT, no
# GC timer, no returning of freed memory; Dockin's BENCHMARKS.md). Written by dockin install.
case $0 in
*/*) dir=\${0%/*} ;;
*) dir=$(command -v -- "$0") && dir=\${dir%/*} || dir=. ;;
esac
# The first run after a boot reads the executable whole, so that the kernel caches it in large
# pieces: every later run then starts faster (BENCHMARKS.md, "The page cache").
case $dir in
/*) if [ ! -d "${READ_MARKS}$dir" ] && [ -w /run ]; then
  dd if="$dir/${LAUNCHED}" iflag=nocache count=0 2>/dev/null
  cat -- "$dir/${LAUNCHED}" >/dev/null 2>&1 && mkdir -p -- "${READ_MARKS}$dir" 2>/dev/null
fi ;;
esac
${settings} DOCKIN_ROLE=dockin-cni exec "$dir/${LAUNCHED}" "$@"
`;
}

/** The launcher's read marks (their install directories), as the launcher names them. */
export function readMarks(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(join(READ_MARKS, dir));
    } catch {
      return;
    }
    if (entries.length === 0 && dir !== "/") out.push(dir);
    for (const e of entries) walk(join(dir, e));
  };
  walk("/");
  return out;
}

/** Removes the read mark of install directory `dir`, and the marks' directories it leaves empty. */
export function removeReadMark(dir: string): void {
  for (let d = join(READ_MARKS, dir); d.startsWith(READ_MARKS); d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch {
      return; // gone already, or not empty: another install's mark is below it
    }
  }
}
