import { runPlugin } from "../cni/skel.ts";
import { ipamPlugin } from "../ipam/plugin.ts";

void runPlugin(ipamPlugin);
