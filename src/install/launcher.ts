// dockin-cni as installed: a /bin/sh launcher beside the Dockin executable (installed as
// dockin-ipam), which it runs in dockin-cni's role with the settings a run of milliseconds wants
// and a Bun executable cannot give itself, its environment being read before its code runs
// (BENCHMARKS.md, "a launcher"): JavaScriptCore without its JIT, no GC timer, and no returning of
// freed memory to the system. dockin-ipam gets the first two through the delegate that runs it
// (IPAM_ENV, src/plugin/delegate.ts). The role travels in DOCKIN_ROLE (src/bin/multicall.ts).
import { type Dirent, readdirSync, rmdirSync, rmSync } from "node:fs";
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
 * Where the launcher marks, per install directory, that it has read the executable since the boot:
 * the file `<READ_MARKS><dir>/read`. /run is a tmpfs on most hosts, empty at every boot; where it
 * persists, the read happens once per install directory.
 */
export const READ_MARKS = "/run/dockin-read";

/** The read mark of install directory `dir`. */
export const readMarkOf = (dir: string): string => join(READ_MARKS, dir, "read");

/**
 * The launcher's text. Its first run after a boot reads the executable whole (dropping what of it
 * is cached first): the kernel then caches it in large folios, and later runs of it, as dockin-cni
 * or as dockin-ipam, start about 1.5 ms faster than when runs fault it in a page at a time
 * (BENCHMARKS.md, "The page cache"), until memory pressure evicts it. The run that creates the mark
 * (O_EXCL, through the shell's noclobber) is the one that reads: of many first runs at once, one
 * reads and the others go on. A run that finds the mark costs one stat(); where /run is not
 * writable (a rootless runtime) nothing is read, ever; where it is but the mark cannot be made (a
 * full /run), nothing is read either, and each run pays a failed `mkdir -p` (about 1 ms).
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
# The first run after a boot (the one that makes the mark) reads the executable whole, so that the
# kernel caches it in large pieces: later runs then start faster (BENCHMARKS.md, "The page cache").
case $dir in
/*) if [ ! -e "${READ_MARKS}$dir/read" ] && [ -w /run ] && mkdir -p -- "${READ_MARKS}$dir" 2>/dev/null &&
  (set -C && : >"${READ_MARKS}$dir/read") 2>/dev/null; then
  dd if="$dir/${LAUNCHED}" of=/dev/null iflag=nocache count=0 2>/dev/null
  cat -- "$dir/${LAUNCHED}" >/dev/null 2>&1
fi ;;
esac
${settings} DOCKIN_ROLE=dockin-cni exec "$dir/${LAUNCHED}" "$@"
`;
}

/** The install directories that have a read mark. */
export function readMarks(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(join(READ_MARKS, dir), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name === "read") out.push(dir);
    }
  };
  walk("/");
  return out;
}

/**
 * The read marks made from now on (by runs of a test suite or a bench): the function returned
 * removes them and says of which install directories.
 */
export function readMarksFromNow(): () => string[] {
  const before = new Set(readMarks());
  return () => {
    const made = readMarks().filter((dir) => !before.has(dir));
    for (const dir of made) removeReadMark(dir);
    return made;
  };
}

/** Removes the read mark of install directory `dir`, and the marks' directories it leaves empty. */
export function removeReadMark(dir: string): void {
  try {
    rmSync(readMarkOf(dir), { force: true });
  } catch {
    return; // something else stands where its directory would be: no mark of ours
  }
  for (let d = join(READ_MARKS, dir); d.startsWith(READ_MARKS); d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch (err) {
      // Not empty (another install directory's mark is below it), or not a directory: stop.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") return;
    }
  }
}
