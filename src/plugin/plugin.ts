// dockin-cni: the multi-network meta plugin, as the protocol layer runs it.

import type { Plugin } from "../cni/skel.ts";
import { ALL_VERSIONS } from "../cni/version.ts";
import { add } from "./add.ts";
import { check } from "./check.ts";
import { withContext } from "./context.ts";
import { del } from "./del.ts";
import { gc, status } from "./maintenance.ts";

export const plugin: Plugin = {
  about: "dockin-cni: multi-network meta plugin (Dockin 0.2.0)",
  versions: ALL_VERSIONS,
  entersNetns: true,
  add: (args) => withContext(args, false, add),
  del: (args) => withContext(args, true, del),
  check: (args) => withContext(args, false, check),
  status: (args) => withContext(args, false, status),
  gc: (args) => withContext(args, true, gc),
};
