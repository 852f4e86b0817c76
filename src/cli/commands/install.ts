import { formatReport, install } from "../../install/install.ts";
import { INSTALL_USAGE, parseInstallArgs, UsageError } from "../../install/options.ts";

export default async function installCommand(argv: string[]): Promise<number> {
  try {
    const opts = parseInstallArgs(argv);
    if (opts === undefined) {
      process.stdout.write(INSTALL_USAGE);
      return 0;
    }
    const report = await install(opts);
    process.stdout.write(formatReport("install", report, opts.dryRun));
    return 0;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`dockin install: ${err.message}\n`);
    return 2;
  }
}
