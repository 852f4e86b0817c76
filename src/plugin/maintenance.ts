// STATUS (is an ADD possible now?) and GC (remove attachments the runtime no longer knows).
import { CniError, ErrorCode, errorText } from "../cni/errors.ts";
import { findPlugin } from "../cni/exec.ts";
import { validAttachmentsOf } from "../cni/skel.ts";
import { delegateContext, type PluginContext, webhookOptions } from "./context.ts";
import { notify } from "./del.ts";
import { IPAM_TYPE } from "./delegate.ts";
import { detach } from "./detach.ts";
import { loadNetworkDir } from "./netconf.ts";
import {
  addInProgress,
  keepUnreadable,
  listRecordFiles,
  readRecordFile,
  removeStaleTemps,
} from "./record.ts";
import { callWebhook, safeUrl } from "./webhook.ts";

/** Ready when every delegate of every network in confDir exists and the backend answers HTTP. */
export async function status(ctx: PluginContext): Promise<void> {
  const { conf } = ctx;
  const dir = loadNetworkDir(conf.confDir);
  const path = delegateContext(ctx, "", "").path;
  const types = new Set([
    IPAM_TYPE,
    ...[...dir.byName.values()].flatMap((f) => f.plugins.map((p) => String(p.type))),
  ]);
  const missing: string[] = [];
  for (const type of types) {
    try {
      findPlugin(type, path);
    } catch {
      missing.push(type);
    }
  }
  if (missing.length > 0) {
    throw new CniError(
      ErrorCode.PluginNotAvailable,
      `delegates not found in [${path.join(" ")}]: ${missing.join(", ")}`,
    );
  }
  if (dir.byName.size === 0) {
    throw new CniError(
      ErrorCode.PluginNotAvailable,
      `no network config in ${conf.confDir}${dir.broken.length ? ` (${dir.broken.join("; ")})` : ""}`,
    );
  }
  try {
    await callWebhook(conf.backend, {
      ...webhookOptions(conf),
      deadlineMs: Math.min(conf.timeoutMs, 5_000),
      retries: 0,
    });
  } catch (err) {
    // Any HTTP answer below 500 means the backend is up (it may want a pod name).
    if (err instanceof CniError && err.code === ErrorCode.BackendRefused) return;
    throw new CniError(
      ErrorCode.PluginNotAvailable,
      `backend ${safeUrl(conf.backend)} does not answer: ${errorText(err)}`,
    );
  }
}

/**
 * Detaches and forgets every record not in the valid attachments, telling the RM of each (as DEL
 * does), except the record of an ADD still running (`addInProgress`); keeps going on errors. A
 * config without the list is refused, never read as "none valid".
 */
export async function gc(ctx: PluginContext): Promise<void> {
  const { conf, log } = ctx;
  const valid = new Set(validAttachmentsOf(ctx.args.config).map((a) => `${a.containerID}:${a.ifname}`));
  removeStaleTemps(conf.cacheDir);
  const records = listRecordFiles(conf.cacheDir);
  const failures: string[] = [];
  for (const file of records) {
    const read = readRecordFile(file);
    if (read.kind === "missing") continue; // a DEL removed it meanwhile
    if (read.kind !== "found") {
      // Evidence of what was attached: kept aside, never deleted (as DEL does with it).
      keepUnreadable(file, read.reason, log);
      continue;
    }
    const r = read.record;
    if (valid.has(`${r.containerId}:${r.ifName}`)) continue;
    // The runtime's list was made before an ADD that is running now began: that ADD finishes (or
    // rolls back) on its own, and a later GC or DEL sees its outcome. One that died half-way has
    // no live owner and is detached below.
    if (addInProgress(r)) {
      log.info("GC: leaving an ADD in progress alone", {
        containerId: r.containerId,
        ifName: r.ifName,
        pid: r.owner?.pid,
      });
      continue;
    }
    try {
      // A /proc/<pid>/ns/net path may name another process's namespace by now: only a bind
      // mount (/var/run/netns/…, as containerd, CRI-O and podman use) is trusted.
      await detach(ctx, r, r.netns.startsWith("/proc/") ? "" : r.netns);
      log.info("GC: detached", { containerId: r.containerId, ifName: r.ifName, outcome: "ok" });
      await notify(ctx, r.pod, r.containerId, r.ifName);
    } catch (err) {
      failures.push(`${r.containerId}/${r.ifName}: ${errorText(err)}`);
    }
  }
  if (failures.length > 0) {
    throw new CniError(
      ErrorCode.DelegateFailed,
      `GC could not detach ${failures.length} attachment(s): ${failures.join("; ")}`,
    );
  }
}
