// dockin-ipam: the lean ADD answers the common case (src/ipam/lean.ts); anything else goes to the
// protocol driver and the full plugin, loaded only then, with the stdin already read.
import { readAll } from "../cni/stdin.ts";
import { leanAdd } from "../ipam/lean.ts";

async function full(stdin: string | undefined): Promise<void> {
  const [{ processIO, runPlugin }, { ipamPlugin }] = await Promise.all([
    import("../cni/skel.ts"),
    import("../ipam/plugin.ts"),
  ]);
  await runPlugin(
    ipamPlugin,
    stdin === undefined ? processIO : { ...processIO, readStdin: async () => stdin },
  );
}

if (process.env.CNI_COMMAND === "ADD") {
  let stdin: string | undefined;
  try {
    stdin = await readAll(Bun.stdin.stream());
  } catch {
    stdin = undefined; // the driver reads it again and says what is wrong
  }
  const result = stdin === undefined ? undefined : leanAdd(process.env, stdin);
  if (result === undefined) await full(stdin);
  else await Bun.write(Bun.stdout, result);
} else {
  await full(undefined);
}
