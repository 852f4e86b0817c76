// Detaching from a record: every network in reverse order (its rules, then its chain's DEL in
// reverse), continuing past failures; the record is removed last, only when everything succeeded.
import { describe } from "../cni/errors.ts";
import { type Context, delegateContext } from "./context.ts";
import { delChain } from "./delegate.ts";
import { type AttachmentRecord, removeRecord } from "./record.ts";
import { removePolicy } from "./routing.ts";

export async function detach(ctx: Context, record: AttachmentRecord, netns: string): Promise<void> {
  const dctx = delegateContext(ctx, netns, record.args);
  dctx.containerId = record.containerId;
  let first: unknown;
  for (const net of [...record.networks].reverse()) {
    try {
      if (netns !== "") await removePolicy(netns, net);
      await delChain(net, dctx);
    } catch (err) {
      ctx.log.error("detach failed", { network: net.name, ifName: net.ifName, error: describe(err) });
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
  removeRecord(ctx.conf.cacheDir, record.containerId, record.ifName);
}
