// dockin-cni as installed: a /bin/sh launcher beside the Dockin executable (installed as
// dockin-ipam), which it runs in dockin-cni's role with the settings a run of milliseconds wants
// and a Bun executable cannot give itself, its environment being read before its code runs
// (BENCHMARKS.md, "a launcher"): JavaScriptCore without its JIT, no GC timer, and no returning of
// freed memory to the system. dockin-ipam gets the first two through the delegate that runs it
// (IPAM_ENV, src/plugin/delegate.ts). The role travels in DOCKIN_ROLE (src/bin/multicall.ts).
import { IPAM_ENV } from "../plugin/delegate.ts";

/** The file the launcher runs: the executable, installed beside it under this name. */
export const LAUNCHED = "dockin-ipam";

/**
 * What the launcher sets for dockin-cni: what dockin-ipam gets, and no GC timer (dockin-cni lives
 * long enough in a burst for Bun's one-second timer to collect; dockin-ipam never does).
 */
export const LAUNCHER_ENV = { ...IPAM_ENV, BUN_GC_TIMER_DISABLE: "1" } as const;

/** The launcher's text. */
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
${settings} DOCKIN_ROLE=dockin-cni exec "$dir/${LAUNCHED}" "$@"
`;
}
