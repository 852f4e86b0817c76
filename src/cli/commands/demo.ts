import { parseArgs } from "node:util";
import { defaultBinDir, runDemo } from "../../demo/demo.ts";

export default async function demo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "bin-dir": { type: "string" },
      "cni-path": { type: "string", default: "/usr/lib/cni" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(
      "usage: dockin demo [--bin-dir DIR] [--cni-path DIR]\n\n" +
        "Runs the whole product on this machine (as root): an RM on a temporary SQLite store, two\n" +
        "networks, a policy, two pods attached through dockin-cni, pings over both networks, then\n" +
        "removes everything it made.\n",
    );
    return 0;
  }
  return runDemo({
    binDir: values["bin-dir"] ?? defaultBinDir(),
    cniPath: values["cni-path"],
    prefix: "dkdemo",
    out: (line) => process.stdout.write(`${line}\n`),
  });
}
