// DEL: from the record alone when there is one; without one, the webhook's answer as a fallback;
// when that fails too, success with a warning (a DEL that fails forever leaves a stuck pod).

import { rmSync } from "node:fs";
import { describe } from "../cni/errors.ts";
import { planRecord } from "./add.ts";
import { type Context, webhookOptions } from "./context.ts";
import { detach } from "./detach.ts";
import { type PodIdentity, podIdentity, podLabel } from "./identity.ts";
import { loadNetworkDir } from "./netconf.ts";
import { readRecord, recordPath } from "./record.ts";
import { validateReply } from "./reply.ts";
import { callWebhook, podQueryUrl } from "./webhook.ts";

export async function del(ctx: Context): Promise<void> {
  const { env } = ctx.args;
  const { conf, log } = ctx;
  const found = readRecord(conf.cacheDir, env.containerId, env.ifName);
  if (found.kind === "found") {
    const record = found.record;
    log.with({ pod: podLabel(record.pod) });
    await detach(ctx, record, env.netns);
    await notify(ctx, record.pod, record.containerId, record.ifName);
    return;
  }
  const pod = podIdentity(env.args);
  log.with({ pod: podLabel(pod) });
  if (found.kind === "corrupt") {
    log.warn("attachment record unreadable: falling back to the webhook", { error: found.reason });
  } else {
    log.info("no attachment record: falling back to the webhook");
  }
  try {
    await fallback(ctx, pod);
  } catch (err) {
    log.warn("DEL without a record could not reach the delegates; nothing else to do", {
      error: describe(err),
    });
  }
  if (found.kind === "corrupt")
    rmSync(recordPath(conf.cacheDir, env.containerId, env.ifName), { force: true });
  if (pod !== undefined) await notify(ctx, pod, env.containerId, env.ifName);
}

/** DEL of each network the webhook names for the pod, in reverse order, without prevResult. */
async function fallback(ctx: Context, pod: PodIdentity | undefined): Promise<void> {
  const { env } = ctx.args;
  const { conf } = ctx;
  if (pod === undefined) throw new Error("CNI_ARGS has no K8S_POD_NAME");
  if (conf.backend === "") throw new Error("no backend configured");
  const options = { ...webhookOptions(conf), deadlineMs: Math.min(conf.deadlineMs, 5_000), retries: 1 };
  const reply = await callWebhook(podQueryUrl(conf.backend, pod, env.containerId), options);
  const plan = validateReply(reply, {
    ifName: env.ifName,
    pod: podLabel(pod),
    networks: loadNetworkDir(conf.confDir),
  });
  const { record } = await planRecord(ctx, plan, pod);
  await detach(ctx, record, env.netns);
}

/** Tells the RM the pod is detached (POST notifyUrl); a failure is only a warning. */
export async function notify(
  ctx: Context,
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
  try {
    await callWebhook(
      conf.notifyUrl,
      { ...webhookOptions(conf), deadlineMs: 2_000, timeoutMs: 2_000, retries: 0 },
      {
        method: "POST",
        body,
      },
    );
    log.info("notified", { outcome: "ok" });
  } catch (err) {
    log.warn("notifying the RM of the detach failed", { outcome: "failed", error: describe(err) });
  }
}
