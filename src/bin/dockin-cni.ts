import { readAllSync } from "../cni/fd-io.ts";
import { processIO, readConfig, runPlugin } from "../cni/skel.ts";
import { connectsUnderWay } from "../plugin/http-raw.ts";
import { plugin } from "../plugin/plugin.ts";

// stdin read synchronously: dockin-cni loads node:fs anyway, and a read through Bun's stream costs
// 0.3-0.5 ms more (its JavaScript, and a thread-pool thread at the end of the stream).
void runPlugin(plugin, { ...processIO, readStdin: () => readConfig(() => readAllSync(0)) }).then(() => {
  // A webhook attempt cancelled while still connecting leaves its connect to the kernel, which may
  // take two minutes to give up: the runtime waits for the plugin's exit, so it exits now.
  if (connectsUnderWay() > 0) process.exit();
});
