// The entry of the one executable `npm run build` makes (dist/bin/dockin, hard-linked as
// dist/bin/dockin-cni and dist/bin/dockin-ipam): the role is the name it runs as.
import { dispatch } from "./multicall.ts";

dispatch({
  "dockin-cni": () => import("./dockin-cni.ts"),
  "dockin-ipam": () => import("./dockin-ipam.ts"),
  dockin: () => import("./dockin.ts"),
});
