// The entry of the one executable `npm run build` makes (dist/bin/dockin, hard-linked as
// dist/bin/dockin-cni and dist/bin/dockin-ipam): the role is the name it runs as. dockin-ipam's
// run is imported here, not loaded (src/bin/ipam-run.ts); the other roles are.
import { runIpam } from "./ipam-run.ts";
import { dispatch } from "./multicall.ts";

dispatch({
  "dockin-cni": () => import("./dockin-cni.ts"),
  "dockin-ipam": runIpam,
  dockin: () => import("./dockin.ts"),
});
