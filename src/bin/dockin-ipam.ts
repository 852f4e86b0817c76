// dockin-ipam: the static IPAM plugin (src/bin/ipam-run.ts).
import { runAdd, runFull } from "./ipam-run.ts";

if (process.env.CNI_COMMAND === "ADD") await runAdd();
else await runFull(undefined);
