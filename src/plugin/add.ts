// ADD: ask the webhook, validate the whole reply, write the record, attach every network in
// parallel, add policy routing (and enslave an uplink again when a reboot lost it), roll
// everything back on any failure, return the master's result.

import { eachOf } from "../cni/each.ts";
import { CniError, ErrorCode, errorText } from "../cni/errors.ts";
import type { Interface, IPConfig, Result } from "../cni/result.ts";
import { clock, delegateContext, type PluginContext, webhookOptions } from "./context.ts";
import { addChain, type DelegateContext, recordNetwork } from "./delegate.ts";
import { detach } from "./detach.ts";
import { type PodIdentity, podLabel, requirePod } from "./identity.ts";
import { loadNetworkDir } from "./netconf.ts";
import {
  type AttachmentRecord,
  keepUnreadable,
  newRecord,
  type RecordNetwork,
  readRecord,
  recordPath,
  writeRecord,
} from "./record.ts";
import { type Plan, validateReply } from "./reply.ts";
import { addPolicy } from "./routing.ts";
import { ensureUplink, uplinkOf } from "./uplink.ts";
import { callWebhook, podQueryUrl, safeUrl } from "./webhook.ts";

/** The master's result as the runtime needs it: its interface named CNI_IFNAME, `sandbox` set. */
export function masterResult(result: Result, ifName: string, netns: string): Result {
  const interfaces: Interface[] = eachOf(result.interfaces ?? [], (i) => ({ ...i }));
  let index = -1;
  for (let n = 0; n < interfaces.length && index < 0; n++) {
    if (interfaces[n]!.name === ifName && interfaces[n]!.sandbox) index = n;
  }
  for (let n = 0; n < interfaces.length && index < 0; n++) if (interfaces[n]!.name === ifName) index = n;
  if (index < 0) {
    interfaces.push({ name: ifName, sandbox: netns });
    index = interfaces.length - 1;
  } else if (!interfaces[index]!.sandbox) {
    interfaces[index]!.sandbox = netns;
  }
  const ips: IPConfig[] = eachOf(result.ips ?? [], (ip) => ({ ...ip, interface: ip.interface ?? index }));
  return { ...result, interfaces, ips };
}

/** The attachment record of a validated plan (state `adding`), and the delegates' context. */
export async function planRecord(
  ctx: PluginContext,
  plan: Plan,
  pod: PodIdentity,
): Promise<{ record: AttachmentRecord; dctx: DelegateContext }> {
  const { env } = ctx.args;
  const dctx = delegateContext(ctx, env.netns, env.args);
  const record = newRecord({
    containerId: env.containerId,
    ifName: env.ifName,
    netns: env.netns,
    args: dctx.args,
    pod,
    cniVersion: ctx.args.config.cniVersion,
    networks: await Promise.all(eachOf(plan.networks, (n) => recordNetwork(n, dctx))),
  });
  return { record, dctx };
}

/**
 * Attaches every network in parallel (its chain, then its policy routing, whose `ip` starts with
 * the chain and waits for it, and its uplink made a port of its bridge if it is not); throws the
 * first network's failure, with the network named, once all of them have settled.
 */
async function attachAll(
  networks: RecordNetwork[],
  dctx: DelegateContext,
  { pod, mark, confDir }: { pod: PodIdentity; mark: (phase: string) => void; confDir: string },
): Promise<void> {
  const outcomes = await Promise.allSettled(
    eachOf(networks, async (net) => {
      const chain = addChain(net, dctx);
      const policy = addPolicy(dctx.netns, net, chain);
      try {
        net.result = await chain;
      } catch (err) {
        await policy; // its `ip` exits without a command: nothing of it outlives the failure
        throw err;
      }
      mark(`attach:${net.ifName}`);
      // The uplink beside the policy: the bridge is there now, as the bridge plugin made it.
      const uplink = uplinkOf(net);
      const enslaving =
        uplink === undefined
          ? undefined
          : ensureUplink(uplink, { network: net.name, confDir, log: dctx.log });
      await Promise.allSettled([enslaving, policy]); // both done before either's failure counts
      await enslaving;
      await policy;
      mark(`policy:${net.ifName}`);
    }),
  );
  let failedAt = -1;
  for (let i = 0; i < outcomes.length && failedAt < 0; i++)
    if (outcomes[i]!.status === "rejected") failedAt = i;
  if (failedAt < 0) return;
  const reason = (outcomes[failedAt] as PromiseRejectedResult).reason;
  const net = networks[failedAt]!;
  const code = reason instanceof CniError ? reason.code : ErrorCode.DelegateFailed;
  // The delegate's message is inlined, not chained as `cause`: logs would print it twice.
  throw new CniError(
    code,
    `attaching network "${net.name}" (${net.ifName}) to pod ${podLabel(pod)}: ${reason instanceof Error ? reason.message : String(reason)}`,
  );
}

export async function add(ctx: PluginContext): Promise<Result> {
  const { env } = ctx.args;
  const { conf, log } = ctx;
  // Milliseconds since the process started, at each phase (logged at debug level at the end).
  // (to a tenth of a millisecond).
  const tenths = () => Math.round(clock() * 10) / 10;
  const phases: Record<string, number> = { start: tenths() };
  const mark = (name: string) => {
    phases[name] = tenths();
  };
  const pod = requirePod(env.args);
  log.with({ pod: podLabel(pod) });

  // The webhook exchange starts first; the local work (confDir, the cache) runs once the request
  // is written, while the backend computes its reply (it waits in the socket buffer meanwhile).
  const started = clock();
  let sent: () => void = () => {};
  const written = new Promise<void>((resolve) => {
    sent = resolve;
  });
  const asked = callWebhook(podQueryUrl(conf.backend, pod, env.containerId), webhookOptions(conf), {
    onAttempt: (attempt, outcome, ms) => {
      sent(); // a first attempt that failed before its request was written
      log.info("webhook", { url: safeUrl(conf.backend), attempt, ms, outcome });
    },
    onSent: () => sent(),
  }).catch((err: unknown) => {
    const code = err instanceof CniError ? err.code : ErrorCode.BackendRefused;
    throw new CniError(code, `asking the backend about pod ${podLabel(pod)}: ${(err as Error).message}`);
  });
  asked.catch(() => {}); // awaited below; this only keeps an early throw from leaving it unhandled
  await Promise.race([
    written,
    asked.then(
      () => {},
      () => {},
    ),
  ]);
  mark("sent");
  const networksDir = loadNetworkDir(conf.confDir);
  const leftover = readRecord(conf.cacheDir, env.containerId, env.ifName);
  if (leftover.kind === "found") {
    log.warn("a record of an earlier ADD exists: detaching it first");
    await detach(ctx, leftover.record, env.netns);
  } else if (leftover.kind === "corrupt") {
    // Evidence, not garbage: the new record must not overwrite it.
    keepUnreadable(recordPath(conf.cacheDir, env.containerId, env.ifName), leftover.reason, log);
  }
  mark("local");
  const reply = await asked;
  mark("webhook");
  const plan = validateReply(reply, {
    ifName: env.ifName,
    pod: podLabel(pod),
    networks: networksDir,
  });
  for (const w of plan.warnings) log.warn(w, { reqId: plan.reqId });
  if (log.enabled("debug")) {
    const networks: string[] = [];
    for (const n of plan.networks) {
      const addresses: string[] = [];
      for (const a of n.addresses) addresses.push(a.address);
      networks.push(`${n.name}:${n.ifName}:${addresses.join(",")}`);
    }
    log.debug("plan", { reqId: plan.reqId, networks, ms: Math.round(clock() - started) });
  }

  const { record, dctx } = await planRecord(ctx, plan, pod);
  const networks = record.networks;
  mark("plan");
  writeRecord(conf.cacheDir, record);
  mark("record");

  try {
    await attachAll(networks, dctx, { pod, mark, confDir: conf.confDir });
    record.state = "attached";
    writeRecord(conf.cacheDir, record);
  } catch (err) {
    // Anything that fails after the first write (a delegate, a policy, the rewrite as
    // `attached` on a full disk) leaves nothing: the record on disk names what to detach.
    log.error("ADD failed after the record was written: rolling back", { error: errorText(err) });
    try {
      await detach(ctx, record, env.netns);
    } catch (undo) {
      log.error("rollback incomplete: the record stays for DEL", { error: errorText(undo) });
    }
    throw err;
  }
  mark("done");
  log.debug("timings", { phases });
  let master = networks[0]!;
  for (const n of networks) {
    if (!n.master) continue;
    master = n;
    break;
  }
  return masterResult(master.result!, env.ifName, env.netns);
}
