// DEL: from the record alone when there is one; without one, the webhook's answer as a fallback;
// when that fails too, success with a warning (a DEL that fails forever leaves a stuck pod),
// except with an unreadable record while the pod still has interfaces: then DEL fails, so that
// the runtime retries until the backend can say what to detach. An unreadable record is never
// deleted: once DEL is done with it, it is set aside, renamed, as evidence.

import { CniError, ErrorCode, errorText } from "../cni/errors.ts";
import { planRecord } from "./add.ts";
import { type PluginContext, webhookOptions } from "./context.ts";
import { detach } from "./detach.ts";
import { type PodIdentity, podIdentity, podLabel } from "./identity.ts";
import { loadNetworkDir } from "./netconf.ts";
import { keepUnreadable, readRecord, recordPath, removeStaleTemps } from "./record.ts";
import { validateReply } from "./reply.ts";
import { podLinks } from "./routing.ts";
import { callWebhook, podQueryUrl } from "./webhook.ts";

export async function del(ctx: PluginContext): Promise<void> {
  const { env } = ctx.args;
  const { conf, log } = ctx;
  removeStaleTemps(conf.cacheDir, `${env.containerId}:${env.ifName}.json.`);
  const found = readRecord(conf.cacheDir, env.containerId, env.ifName);
  if (found.kind === "found") {
    const record = found.record;
    log.with({ pod: podLabel(record.pod) });
    await detach(ctx, record, env.netns);
    await notify(ctx, record.pod, record.containerId, record.ifName);
    return;
  }
  const pod = podOf(ctx);
  if (pod !== undefined) log.with({ pod: podLabel(pod) });
  if (found.kind === "corrupt") {
    log.warn("attachment record unreadable: falling back to the webhook", { error: found.reason });
  } else {
    log.info("no attachment record: falling back to the webhook");
  }
  try {
    await fallback(ctx, pod);
  } catch (err) {
    if (found.kind === "corrupt") await refuseIfAttached(ctx, found.reason, err);
    log.warn("DEL without a record could not reach the delegates; nothing else to do", {
      error: errorText(err),
    });
  }
  if (found.kind === "corrupt")
    keepUnreadable(recordPath(conf.cacheDir, env.containerId, env.ifName), found.reason, log);
  if (pod !== undefined) await notify(ctx, pod, env.containerId, env.ifName);
}

/** The pod named by CNI_ARGS; undefined (with a warning) when CNI_ARGS cannot be parsed. */
function podOf(ctx: PluginContext): PodIdentity | undefined {
  try {
    return podIdentity(ctx.args.env.args);
  } catch (err) {
    ctx.log.warn("CNI_ARGS unreadable: DEL goes on without the pod's name", { error: errorText(err) });
    return undefined;
  }
}

/**
 * With an unreadable record and no answer from the backend, nothing says which interfaces are
 * Dockin's: if the pod still has any, DEL fails (code 11) and the runtime retries; the record
 * stays in place so that the retry comes back here. A pod with no interface left has nothing
 * to detach.
 */
async function refuseIfAttached(ctx: PluginContext, reason: string, backendError: unknown): Promise<void> {
  const { env } = ctx.args;
  const left = await podLinks(env.netns);
  if (left.length === 0) return;
  throw new CniError(
    ErrorCode.TryAgainLater,
    `DEL of ${env.containerId} (${env.ifName}): the attachment record is unreadable (${reason}) and the backend could not say which networks to detach (${errorText(backendError)}); the pod still has ${left.join(", ")}: retry when the backend answers`,
  );
}

/** DEL of each network the webhook names for the pod, in parallel, without prevResult. */
async function fallback(ctx: PluginContext, pod: PodIdentity | undefined): Promise<void> {
  const { env } = ctx.args;
  const { conf } = ctx;
  if (pod === undefined) throw new Error("CNI_ARGS names no pod (no readable K8S_POD_NAME)");
  if (conf.backend === "") throw new Error("no backend configured");
  const options = { ...webhookOptions(conf), deadlineMs: Math.min(conf.deadlineMs, 5_000), retries: 1 };
  const reply = await callWebhook(podQueryUrl(conf.backend, pod, env.containerId), options);
  const plan = validateReply(reply, {
    ifName: env.ifName,
    pod: podLabel(pod),
    networks: loadNetworkDir(conf.confDir),
  });
  const { record } = await planRecord(ctx, plan, pod);
  // The file at the record's path, if any, is the unreadable one: del() sets it aside.
  await detach(ctx, record, env.netns, { removeFile: false });
}
/** Tells the RM the pod is detached (POST notifyUrl); a failure is only a warning. */
export async function notify(
  ctx: PluginContext,
  pod: PodIdentity,
  containerId: string,
  ifName: string,
): Promise<void> {
  const { conf, log } = ctx;
  if (conf.notifyUrl === undefined) return;
  const body: Record<string, string> = {
    event: "detached",
    podName: pod.name,
    containerId: pod.infraContainerId ?? containerId,
    ifName,
  };
  if (pod.namespace !== undefined) body.podNamespace = pod.namespace;
  if (pod.uid !== undefined) body.podUid = pod.uid;
  const started = Date.now();
  try {
    await callWebhook(
      conf.notifyUrl,
      { ...webhookOptions(conf), deadlineMs: 2_000, timeoutMs: 2_000, retries: 0 },
      {
        method: "POST",
        body,
      },
    );
    log.info("notified", { outcome: "ok", ms: Date.now() - started });
  } catch (err) {
    log.warn("notifying the RM of the detach failed", {
      outcome: "failed",
      ms: Date.now() - started,
      error: errorText(err),
    });
  }
}
