// dockin-ipam's run: the lean ADD answers the common case (src/ipam/lean.ts); anything else goes to
// the protocol driver and the full plugin, loaded only then (with the stdin, when read already).
// The executable's entry (main.ts) imports this statically, and it imports nothing but lean.ts,
// which imports nothing: an IPAM run, twice on every pod's path, loads the entry's one chunk and no
// other (a module shared with another role, such as src/cni/stdin.ts, would be a chunk of its own).
import { leanAdd } from "../ipam/lean.ts";

/** The full plugin on the protocol driver; `stdin` when it has been read already. */
async function runFull(stdin: string | undefined): Promise<void> {
  const [{ processIO, runPlugin }, { ipamPlugin }] = await Promise.all([
    import("../cni/skel.ts"),
    import("../ipam/plugin.ts"),
  ]);
  await runPlugin(
    ipamPlugin,
    stdin === undefined ? processIO : { ...processIO, readStdin: async () => stdin },
  );
}

/**
 * The whole stdin as text, read as src/cni/stdin.ts's readAll reads it (the stream's reader, no
 * thread pool; a leading byte order mark dropped).
 */
async function readStdin(): Promise<string> {
  const reader = Bun.stdin.stream().getReader();
  const chunks: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return new TextDecoder().decode(chunks.length === 1 ? chunks[0] : Bun.concatArrayBuffers(chunks));
}

/** One run of dockin-ipam: an ADD's lean answer when there is one, else the full plugin's. */
export async function runIpam(): Promise<void> {
  if (process.env.CNI_COMMAND !== "ADD") return runFull(undefined);
  let stdin: string | undefined;
  try {
    stdin = await readStdin();
  } catch {
    stdin = undefined; // the driver reads it again and says what is wrong
  }
  const result = stdin === undefined ? undefined : leanAdd(process.env, stdin);
  if (result === undefined) await runFull(stdin);
  else await Bun.write(Bun.stdout, result);
}
