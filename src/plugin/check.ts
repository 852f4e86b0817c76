// CHECK: each network's chain CHECK with its cached result, then its policy routing.
import { CniError, ErrorCode } from "../cni/errors.ts";
import { delegateContext, type PluginContext } from "./context.ts";
import { checkChain } from "./delegate.ts";
import { podLabel } from "./identity.ts";
import { readRecord } from "./record.ts";
import { checkPolicy } from "./routing.ts";

export async function check(ctx: PluginContext): Promise<void> {
  const { env } = ctx.args;
  const found = readRecord(ctx.conf.cacheDir, env.containerId, env.ifName);
  if (found.kind !== "found") {
    throw new CniError(
      ErrorCode.UnknownContainer,
      `no attachment record for container ${env.containerId} (${env.ifName})${found.kind === "corrupt" ? `: ${found.reason}` : ""}`,
    );
  }
  const record = found.record;
  ctx.log.with({ pod: podLabel(record.pod) });
  if (record.state !== "attached") {
    throw new CniError(
      ErrorCode.UnknownContainer,
      `container ${env.containerId} was never fully attached (ADD did not finish)`,
    );
  }
  const dctx = delegateContext(ctx, env.netns, record.args);
  const results = await Promise.allSettled(
    record.networks.map(async (net) => {
      await checkChain(net, dctx);
      const problems = await checkPolicy(env.netns, net);
      if (problems.length > 0) {
        throw new CniError(ErrorCode.DelegateFailed, `policy routing: ${problems.join("; ")}`);
      }
    }),
  );
  const failures = results.flatMap((r, i) =>
    r.status === "rejected"
      ? [
          `network "${record.networks[i]!.name}" (${record.networks[i]!.ifName}): ${(r.reason as Error).message}`,
        ]
      : [],
  );
  if (failures.length > 0) {
    const first = (results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason;
    throw new CniError(
      first instanceof CniError ? first.code : ErrorCode.DelegateFailed,
      `CHECK of pod ${podLabel(record.pod)}: ${failures.join("; ")}`,
    );
  }
}
