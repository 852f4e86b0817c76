// `dockin rm migrate --from SPEC --to SPEC`: copies a store into an empty one and verifies the copy.

import { migrate } from "../../rm/migrate.ts";
import { openStore } from "../../rm/open-store.ts";
import type { Store } from "../../rm/store.ts";
import { parseFlags } from "../args.ts";

const USAGE = `usage: dockin rm migrate --from SPEC --to SPEC [options]

Copies every network, policy, pod, address, allocation cursor and address history event from one
store into an empty one, then reads both again and compares them. Stop the RM serving the source first.

  --from SPEC              sqlite:PATH or etcd:URL[,URL…]
  --to SPEC                sqlite:PATH or etcd:URL[,URL…] (must be empty)
  --etcd-ca PATH           CA bundle (PEM) of the etcd members' certificates
  --etcd-cert PATH         etcd client certificate (PEM) …
  --etcd-key PATH          … and its key
  --etcd-prefix PREFIX     etcd key prefix (default /dockin)
  --concurrency N          pods copied at once (default 32)
`;

export default async function rmMigrate(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseFlags({
      args: argv,
      options: {
        from: { type: "string" },
        to: { type: "string" },
        "etcd-ca": { type: "string" },
        "etcd-cert": { type: "string" },
        "etcd-key": { type: "string" },
        "etcd-prefix": { type: "string" },
        concurrency: { type: "string", default: "32" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`dockin rm migrate: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const from = values.from;
  const to = values.to;
  const concurrency = Number(values.concurrency);
  if (typeof from !== "string" || typeof to !== "string") {
    process.stderr.write(`dockin rm migrate: --from and --to are required\n\n${USAGE}`);
    return 2;
  }
  if (from === to) {
    process.stderr.write("dockin rm migrate: --from and --to name the same store\n");
    return 2;
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    process.stderr.write("dockin rm migrate: --concurrency: expected a positive integer\n");
    return 2;
  }
  const etcd: Record<string, string> = {};
  for (const flag of ["ca", "cert", "key", "prefix"]) {
    const v = values[`etcd-${flag}`];
    if (typeof v === "string") etcd[flag] = v;
  }
  const stores: Store[] = [];
  try {
    const source = await openStore(from, { etcd });
    stores.push(source);
    const target = await openStore(to, { etcd });
    stores.push(target);
    const report = await migrate(source, target, {
      concurrency,
      progress: (line) => process.stderr.write(`dockin rm migrate: ${line}\n`),
    });
    process.stdout.write(
      `migrated ${source.description} to ${target.description}: ${report.networks} network(s), ${report.policies} policy(ies), ${report.pods} pod(s), ${report.addresses} address(es), ${report.cursors} cursor(s), ${report.events} history event(s); verified\n`,
    );
    return 0;
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
}
