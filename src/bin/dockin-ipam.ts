// dockin-ipam: the static IPAM plugin (src/bin/ipam-run.ts).
import { runIpam } from "./ipam-run.ts";

await runIpam();
