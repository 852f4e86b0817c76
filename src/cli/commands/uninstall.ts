import { formatReport, uninstall } from "../../install/install.ts";
import { parseUninstallArgs, UNINSTALL_USAGE, UsageError } from "../../install/options.ts";

export default async function uninstallCommand(argv: string[]): Promise<number> {
  try {
    const opts = parseUninstallArgs(argv);
    if (opts === undefined) {
      process.stdout.write(UNINSTALL_USAGE);
      return 0;
    }
    process.stdout.write(formatReport("uninstall", uninstall(opts), opts.dryRun));
    return 0;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`dockin uninstall: ${err.message}\n`);
    return 2;
  }
}
