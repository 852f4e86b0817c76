// The entry of the one executable `npm run build` makes (dist/bin/dockin, hard-linked as
// dist/bin/dockin-cni and dist/bin/dockin-ipam): the role is the name it runs as.
import { runAdd } from "./ipam-run.ts";
import { dispatch, roleOf } from "./multicall.ts";

const roles = {
  "dockin-cni": () => import("./dockin-cni.ts"),
  "dockin-ipam": () => import("./dockin-ipam.ts"),
  dockin: () => import("./dockin.ts"),
};

// An IPAM ADD, the run on every pod's path twice, starts here: no role module to import first.
if (process.env.CNI_COMMAND === "ADD" && roleOf(process.argv0, Object.keys(roles)) === "dockin-ipam") {
  await runAdd();
} else {
  dispatch(roles);
}
