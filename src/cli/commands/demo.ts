import { defaultBinDir, runDemo } from "../../demo/demo.ts";
import { FlagError, parseFlags } from "../args.ts";

const USAGE =
  "usage: dockin demo [--keep] [--bin-dir DIR] [--cni-path DIR]\n\n" +
  "Runs the whole product on this machine (as root): an RM on a temporary SQLite store, two\n" +
  "networks, a policy, two pods attached through dockin-cni, pings over both networks, then\n" +
  "removes everything it made.\n\n" +
  "  --keep   after the pings, keep the pods and the RM (and print its console's URL) until\n" +
  "           Ctrl-C or SIGTERM, then clean up as usual\n";

/** Resolves on the first SIGINT or SIGTERM (which then no longer end the process). */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
}

function parse(argv: string[]) {
  return parseFlags({
    args: argv,
    options: {
      "bin-dir": { type: "string" },
      "cni-path": { type: "string", default: "/usr/lib/cni" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
}

export default async function demo(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`dockin demo: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  return runDemo({
    binDir: values["bin-dir"] ?? defaultBinDir(),
    cniPath: values["cni-path"],
    prefix: "dkdemo",
    out: (line) => process.stdout.write(`${line}\n`),
    ...(values.keep ? { keepUntil: untilSignal } : {}),
  });
}
