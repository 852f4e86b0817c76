// Detaching from a record: every network in parallel, as ADD attaches them (each network's rules
// and its chain's DEL in reverse order, side by side), continuing past failures; the record is
// removed last, only when everything succeeded.
import { eachOf } from "../cni/each.ts";
import { errorText } from "../cni/errors.ts";
import { delegateContext, type PluginContext } from "./context.ts";
import { delChain } from "./delegate.ts";
import { type AttachmentRecord, removeRecord } from "./record.ts";
import { removePolicy } from "./routing.ts";

export interface DetachOptions {
  /** false leaves the file at the record's path alone (a record planned from the webhook). */
  removeFile?: boolean;
}

export async function detach(
  ctx: PluginContext,
  record: AttachmentRecord,
  netns: string,
  { removeFile = true }: DetachOptions = {},
): Promise<void> {
  const dctx = delegateContext(ctx, netns, record.args);
  dctx.containerId = record.containerId;
  const outcomes = await Promise.allSettled(
    eachOf(record.networks, async (net) => {
      try {
        // The rules and the chain are independent (the table's routes go with the interface):
        // both at once, each settled before the network counts as detached.
        const [rules, chain] = await Promise.allSettled([
          netns === "" ? undefined : removePolicy(netns, net),
          delChain(net, dctx),
        ]);
        // The chain's failure first: it says what is still attached.
        if (chain.status === "rejected") throw chain.reason;
        if (rules.status === "rejected") throw rules.reason;
      } catch (err) {
        ctx.log.error("detach failed", { network: net.name, ifName: net.ifName, error: errorText(err) });
        throw err;
      }
    }),
  );
  for (const o of outcomes) if (o.status === "rejected") throw o.reason;
  if (removeFile) removeRecord(ctx.conf.cacheDir, record.containerId, record.ifName);
}
