// One invocation's context: the main config, the logger, the delegate settings. Every verb runs
// inside `withContext`, which logs its outcome and duration in one line.
import { errorText } from "../cni/errors.ts";
import { Logger } from "../cni/log.ts";
import type { CmdArgs } from "../cni/skel.ts";
import { loggingOf, type MainConfig, parseMainConfig } from "./config.ts";
import type { DelegateContext } from "./delegate.ts";
import { delegateArgs } from "./identity.ts";
import type { WebhookOptions } from "./webhook.ts";

/** The plugin's own directory first, then CNI_PATH's others. */
function binDirFirst(binDir: string, path: readonly string[]): string[] {
  const out = [binDir];
  for (const d of path) if (d !== binDir) out.push(d);
  return out;
}

/** Milliseconds since the process started (the phases in the debug log's `timings`). */
export const clock = (): number => process.uptime() * 1000;

export interface PluginContext {
  args: CmdArgs;
  conf: MainConfig;
  log: Logger;
}

/** Runs one verb with its config and logger; the outcome is logged whether it succeeds or not. */
export async function withContext<T>(
  args: CmdArgs,
  lenient: boolean,
  body: (ctx: PluginContext) => Promise<T>,
): Promise<T> {
  const { env } = args;
  const log = new Logger({
    plugin: "dockin-cni",
    command: env.command,
    containerId: env.containerId || undefined,
  });
  const started = clock();
  try {
    const logging = loggingOf(args.config);
    // The seed's sample logs to /data/kubernetes/dockin-cni.log, whose directory may not exist
    // yet: the logger makes it at its first write.
    log.configure(logging.file, logging.level);
    const { config, problems } = parseMainConfig(args.config, lenient);
    for (const p of problems) log.warn(`config problem ignored for ${env.command}: ${p}`);
    const value = await body({ args, conf: config, log });
    log.info(`${env.command} done`, { ms: Math.round(clock() - started), outcome: "ok" });
    return value;
  } catch (err) {
    log.error(`${env.command} failed`, {
      ms: Math.round(clock() - started),
      outcome: "failed",
      error: errorText(err),
    });
    throw err;
  }
}

export function webhookOptions(conf: MainConfig): WebhookOptions {
  return {
    caFile: conf.caFile,
    certFile: conf.certFile,
    keyFile: conf.keyFile,
    tokenFile: conf.tokenFile,
    timeoutMs: conf.timeoutMs,
    deadlineMs: conf.deadlineMs,
    retries: conf.retries,
    maxReplyBytes: conf.maxReplyBytes,
  };
}

export function delegateContext(ctx: PluginContext, netns: string, cniArgs: string): DelegateContext {
  const rc = ctx.args.config.runtimeConfig;
  return {
    ...(typeof rc === "object" && rc !== null && !Array.isArray(rc)
      ? { runtimeConfig: rc as Record<string, unknown> }
      : {}),
    containerId: ctx.args.env.containerId,
    netns,
    args: delegateArgs(cniArgs),
    path: binDirFirst(ctx.conf.binDir, ctx.args.env.path),
    timeoutMs: ctx.conf.delegateTimeoutMs,
    log: ctx.log,
  };
}
