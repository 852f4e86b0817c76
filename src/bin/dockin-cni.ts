import { runPlugin } from "../cni/skel.ts";
import { plugin } from "../plugin/plugin.ts";

void runPlugin(plugin);
