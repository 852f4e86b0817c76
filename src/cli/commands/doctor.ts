import { doctor, formatChecks } from "../../install/doctor.ts";
import { DEFAULTS, parseTypes, UsageError } from "../../install/options.ts";
import { parseFlags } from "../args.ts";

const DEFAULT_CNI_PATH = "/opt/cni/bin:/usr/lib/cni";

const USAGE = `usage: dockin doctor [--config FILE] [--cni-conf-dir DIR] [--types a,b] [--cni-path DIRS] [--timeout-ms N]

Checks this host's Dockin install and prints a checklist with the fix for each failure:
the main config parses; every network type has a valid config in confDir (the --types given,
else those the RM lists, else every config there); dockin-cni, dockin-ipam and the delegates
exist in binDir (a delegate may be in the runtime's CNI_PATH instead: a warning) and speak the
configured cniVersion; each bridge network has its gateway on the bridge (isGateway, with IPv4
forwarding on) or an uplink enslaved to it; the backend answers (with the config's TLS and token
settings); the cache dir is writable. Exit status 0 when no check failed.

options:
  --config FILE        the main config (default: the dockin-cni config in --cni-conf-dir)
  --cni-conf-dir DIR   where the runtime reads CNI configs (default ${DEFAULTS.cniConfDir})
  --types a,b          the network types the webhook returns
  --cni-path DIRS      where the runtime finds plugins besides binDir (default $CNI_PATH or ${DEFAULT_CNI_PATH})
  --timeout-ms N       time allowed for each backend request and plugin call (default 5000)
`;

export default async function doctorCommand(argv: string[]): Promise<number> {
  try {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(argv);
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
    }
    const { values } = parsed;
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const timeoutMs = Number(values["timeout-ms"]);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
      throw new UsageError(`--timeout-ms "${values["timeout-ms"]}" is not a positive integer`);
    }
    const { path, checks } = await doctor({
      config: values.config,
      cniConfDir: values["cni-conf-dir"],
      types: values.types === undefined ? undefined : parseTypes(values.types),
      timeoutMs,
      cniPath: values["cni-path"].split(":").filter((d) => d !== ""),
    });
    process.stdout.write(formatChecks(path, checks));
    return checks.some((c) => c.status === "fail") ? 1 : 0;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`dockin doctor: ${err.message}\n`);
    return 2;
  }
}

function parse(argv: string[]) {
  return parseFlags({
    args: argv,
    options: {
      config: { type: "string" },
      "cni-conf-dir": { type: "string", default: DEFAULTS.cniConfDir },
      types: { type: "string" },
      "cni-path": { type: "string", default: process.env.CNI_PATH || DEFAULT_CNI_PATH },
      "timeout-ms": { type: "string", default: "5000" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}
