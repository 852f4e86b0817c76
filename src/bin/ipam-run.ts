// dockin-ipam's run: the lean ADD answers the common case (src/ipam/lean.ts); anything else goes to
// the protocol driver and the full plugin, loaded only then, with the stdin already read. The
// executable's entry (main.ts) runs an ADD from here directly, without a role's dynamic import.
import { readAll } from "../cni/stdin.ts";
import { leanAdd } from "../ipam/lean.ts";

/** The full plugin on the protocol driver; `stdin` when it has been read already. */
export async function runFull(stdin: string | undefined): Promise<void> {
  const [{ processIO, runPlugin }, { ipamPlugin }] = await Promise.all([
    import("../cni/skel.ts"),
    import("../ipam/plugin.ts"),
  ]);
  await runPlugin(
    ipamPlugin,
    stdin === undefined ? processIO : { ...processIO, readStdin: async () => stdin },
  );
}

/** An ADD: the lean answer when there is one, else the full plugin's. */
export async function runAdd(): Promise<void> {
  let stdin: string | undefined;
  try {
    stdin = await readAll(Bun.stdin.stream());
  } catch {
    stdin = undefined; // the driver reads it again and says what is wrong
  }
  const result = stdin === undefined ? undefined : leanAdd(process.env, stdin);
  if (result === undefined) await runFull(stdin);
  else await Bun.write(Bun.stdout, result);
}
