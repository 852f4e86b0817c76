import { runPlugin } from "../cni/skel.ts";
import { ipamPlugin } from "../ipam/plugin.ts";

runPlugin(ipamPlugin);
