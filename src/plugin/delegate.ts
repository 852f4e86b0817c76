// Talking to delegates: the config each plugin of a network gets (with `ipam` set to dockin-ipam
// and the pod's addresses), the version it is spoken to in, and running a chain for ADD, DEL and
// CHECK with `prevResult` threaded as libcni does.
import { eachOf } from "../cni/each.ts";
import { CniError, ErrorCode, errorText } from "../cni/errors.ts";
import { execPlugin, findPlugin } from "../cni/exec.ts";
import type { Logger } from "../cni/log.ts";
import { formatResult, parseResult, type Result } from "../cni/result.ts";
import { compareVersions, LATEST, negotiate } from "../cni/version.ts";
import { clock } from "./context.ts";
import type { RecordNetwork, RecordPlugin } from "./record.ts";
import type { PlannedNetwork } from "./reply.ts";
import { TABLE_BASE } from "./routing.ts";

type Json = Record<string, unknown>;

/** The IPAM plugin every network's addresses go through (a drop-in for the reference `static`). */
export const IPAM_TYPE = "dockin-ipam";

/**
 * What the plugin that runs dockin-ipam gets on top of its environment, which it passes on to its
 * IPAM plugin (libcni does). A run of a few milliseconds repays neither of what they turn off:
 * - `BUN_JSC_useJIT=0`: JavaScriptCore's JIT (0.91x of dockin-ipam's time; BENCHMARKS.md);
 * - `MIMALLOC_PURGE_DELAY=-1`: the allocator's returning of freed memory to the system, and the two
 *   threads that start for it (a scavenger and a thread-pool worker): 2.3 ms less CPU a pod, for
 *   its two dockin-ipam runs.
 * Given to that plugin only: a Bun of another version, in a plugin of someone else's, might not
 * know the JSC option (Bun refuses to start on an unknown one), and dockin-ipam's is the pinned one,
 * tested with both. (mimalloc ignores what it does not know, and a plugin that does not use it
 * never reads the variable.)
 */
export const IPAM_ENV = { BUN_JSC_useJIT: "0", MIMALLOC_PURGE_DELAY: "-1" } as const;

/** Whether a delegate config hands its addresses to dockin-ipam. */
const runsOurIpam = (config: Json): boolean =>
  typeof config.ipam === "object" && config.ipam !== null && (config.ipam as Json).type === IPAM_TYPE;

/**
 * The reference plugins (containernetworking-plugins up to 1.x) speak at most 1.0.0 and are not
 * asked; any other delegate is asked once with VERSION. Dockin's own speak 1.1.0.
 */
const REFERENCE_PLUGINS = new Set([
  "bridge",
  "macvlan",
  "ipvlan",
  "vlan",
  "ptp",
  "host-device",
  "tuning",
  "sbr",
  "portmap",
  "bandwidth",
  "firewall",
  "vrf",
  "loopback",
]);
const REFERENCE_MAX = "1.0.0";

export interface DelegateContext {
  containerId: string;
  netns: string;
  args: string;
  /** Where delegates are found: binDir, then CNI_PATH. */
  path: readonly string[];
  timeoutMs: number;
  log: Logger;
  /** The runtime's capability arguments (dockin-cni's own `runtimeConfig`), if any. */
  runtimeConfig?: Json;
}

/** The newest version `type` speaks, at most ours: known for reference plugins, else asked. */
export async function delegateVersion(type: string, ctx: DelegateContext): Promise<string> {
  if (REFERENCE_PLUGINS.has(type)) return REFERENCE_MAX;
  const file = findPlugin(type, ctx.path);
  const reply = await execPlugin({
    file,
    env: { command: "VERSION", path: ctx.path },
    stdin: { cniVersion: LATEST },
    timeoutMs: Math.min(ctx.timeoutMs, 10_000),
  });
  const supported = (reply as { supportedVersions?: unknown } | undefined)?.supportedVersions;
  const list: string[] = [];
  if (Array.isArray(supported)) for (const v of supported) if (typeof v === "string") list.push(v);
  const version = negotiate(LATEST, list);
  if (version === undefined) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `delegate "${type}" supports no CNI version Dockin speaks (it lists [${list.join(" ")}])`,
    );
  }
  return version;
}

const isDefault = (dst: unknown): boolean => dst === "0.0.0.0/0" || dst === "::/0";

/**
 * The `ipam` block of a network's main plugin: the pod's addresses, the network file's routes
 * and dns (top level or in its own ipam), and, for the master only, the default route of each
 * family that has a gateway. Default routes a non-master file asks for are dropped (a warning):
 * a second default route would fight the master's.
 */
export function ipamBlock(net: PlannedNetwork, warn: (msg: string) => void): Json {
  const top = net.file.top;
  const first = net.file.plugins[0] ?? {};
  const ownIpam = (typeof first.ipam === "object" && first.ipam !== null ? first.ipam : {}) as Json;
  const routes: Json[] = [];
  for (const source of [top.routes, ownIpam.routes]) {
    if (!Array.isArray(source)) continue;
    for (const r of source) {
      if (typeof r !== "object" || r === null) continue;
      if (isDefault((r as Json).dst)) {
        if (!net.master)
          warn(`network "${net.name}": default route ${(r as Json).dst} dropped (not the master)`);
        continue;
      }
      routes.push(r as Json);
    }
  }
  const bridgeAddsDefault = net.master && first.isDefaultGateway === true;
  if (net.master && !bridgeAddsDefault) {
    for (const a of net.addresses) {
      if (a.gateway === undefined) continue;
      const dst = a.family === 4 ? "0.0.0.0/0" : "::/0";
      let has = false;
      for (const r of routes) has ||= r.dst === dst;
      if (!has) routes.push({ dst, gw: a.gateway });
    }
  }
  const ipam: Json = {
    type: IPAM_TYPE,
    addresses: eachOf(net.addresses, (a) =>
      a.gateway ? { address: a.address, gateway: a.gateway } : { address: a.address },
    ),
  };
  if (routes.length) ipam.routes = routes;
  const dns = top.dns ?? ownIpam.dns;
  if (dns !== undefined) ipam.dns = dns;
  return ipam;
}

/**
 * The capability arguments a plugin of the master's chain gets, as libcni gives them to the plugins
 * of a conflist: those of the runtime's `runtimeConfig` (portMappings, bandwidth, mac, …) that
 * the plugin declares in its `capabilities`. Never `ips`: the pod's addresses are the RM's.
 */
export function capabilityArgs(
  plugin: Json,
  runtimeConfig: Json | undefined,
  warn: (msg: string) => void,
): Json | undefined {
  const caps = plugin.capabilities;
  if (runtimeConfig === undefined || typeof caps !== "object" || caps === null) return undefined;
  const out: Json = {};
  for (const [name, on] of Object.entries(caps as Json)) {
    if (on !== true || !(name in runtimeConfig)) continue;
    if (name === "ips") {
      warn(
        `the runtime's runtimeConfig.ips is not passed to ${String(plugin.type)}: the pod's addresses come from the RM`,
      );
      continue;
    }
    out[name] = runtimeConfig[name];
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The configs of a network's chain, in order, each with the version it will be spoken to in. */
export async function pluginCalls(net: PlannedNetwork, ctx: DelegateContext): Promise<RecordPlugin[]> {
  const versions = await Promise.all(eachOf(net.file.plugins, (p) => delegateVersion(String(p.type), ctx)));
  return eachOf(net.file.plugins, (plugin, i) => {
    const cniVersion = versions[i]!;
    const config: Json = { ...plugin, cniVersion, name: net.name };
    if (net.master) {
      const args = capabilityArgs(plugin, ctx.runtimeConfig, (m) => ctx.log.warn(m, { network: net.name }));
      if (args !== undefined) config.runtimeConfig = args;
    }
    if (i === 0) {
      config.ipam = ipamBlock(net, (m) => ctx.log.warn(m, { network: net.name }));
      if (!net.master && config.isDefaultGateway === true) {
        ctx.log.warn(`network "${net.name}": isDefaultGateway ignored (not the master)`, {
          network: net.name,
        });
        config.isDefaultGateway = false;
      }
    }
    return { type: String(plugin.type), cniVersion, config };
  });
}

/** A planned network as the record holds it: its chain's configs, and its policy table if any. */
export async function recordNetwork(n: PlannedNetwork, ctx: DelegateContext): Promise<RecordNetwork> {
  const net: RecordNetwork = {
    name: n.name,
    ifName: n.ifName,
    master: n.master,
    addresses: n.addresses,
    plugins: await pluginCalls(n, ctx),
  };
  let hasGateway = false;
  for (const a of n.addresses) hasGateway ||= a.gateway !== undefined;
  if (!n.master && hasGateway) net.table = TABLE_BASE + n.index;
  if (n.file.top.disableCheck === true || n.file.top.disableCheck === "true") net.disableCheck = true;
  return net;
}

function withPrev(call: RecordPlugin, prev: Result | undefined): Json {
  if (prev === undefined) return call.config;
  return { ...call.config, prevResult: formatResult(prev, call.cniVersion) };
}

async function runOne(
  verb: "ADD" | "DEL" | "CHECK",
  net: RecordNetwork,
  call: RecordPlugin,
  prev: Result | undefined,
  ctx: DelegateContext,
): Promise<unknown> {
  const started = clock();
  const fields = { network: net.name, ifName: net.ifName, delegate: call.type, verb };
  try {
    const out = await execPlugin({
      file: findPlugin(call.type, ctx.path),
      env: {
        command: verb,
        containerId: ctx.containerId,
        netns: ctx.netns,
        ifName: net.ifName,
        args: ctx.args,
        path: ctx.path,
      },
      stdin: withPrev(call, prev),
      timeoutMs: ctx.timeoutMs,
      ...(runsOurIpam(call.config) ? { extraEnv: IPAM_ENV } : {}),
    });
    ctx.log.info("delegate", { ...fields, ms: Math.round(clock() - started), outcome: "ok" });
    return out;
  } catch (err) {
    ctx.log.warn("delegate", {
      ...fields,
      ms: Math.round(clock() - started),
      outcome: "failed",
      error: errorText(err),
    });
    throw err;
  }
}

/** ADD through the chain; returns the final result. */
export async function addChain(net: RecordNetwork, ctx: DelegateContext): Promise<Result> {
  let prev: Result | undefined;
  for (const call of net.plugins) {
    const out = await runOne("ADD", net, call, prev, ctx);
    if (out === undefined) {
      throw new CniError(
        ErrorCode.DelegateFailed,
        `${call.type} ADD for network "${net.name}" printed no result`,
      );
    }
    prev = parseResult(out, call.cniVersion);
  }
  return prev!;
}

/**
 * DEL through the chain in reverse; every plugin is called even when one fails; the first error is
 * thrown. A failed DEL is tried once more after a short pause: DEL is idempotent, and a transient
 * failure (bridge 1.1.1 sometimes loses its IPAM's output under load: "read |0: file already
 * closed") would otherwise leave the pod stuck until the runtime retries.
 */
export async function delChain(net: RecordNetwork, ctx: DelegateContext): Promise<void> {
  let first: unknown;
  for (const call of [...net.plugins].reverse()) {
    try {
      await runOne("DEL", net, call, net.result, ctx).catch(async () => {
        await new Promise((r) => setTimeout(r, 100));
        return runOne("DEL", net, call, net.result, ctx);
      });
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

/**
 * CHECK every plugin of the chain with the chain's cached result; none when the network's file
 * sets `disableCheck` (a plugin whose CHECK is known to be wrong), as libcni does for a conflist.
 */
export async function checkChain(net: RecordNetwork, ctx: DelegateContext): Promise<void> {
  if (net.result === undefined) {
    throw new CniError(ErrorCode.UnknownContainer, `network "${net.name}" was never fully attached`);
  }
  if (net.disableCheck === true) {
    ctx.log.debug("CHECK of the chain skipped: the network sets disableCheck", { network: net.name });
    return;
  }
  for (const call of net.plugins) {
    if (compareVersions(call.cniVersion, "0.4.0") < 0) continue; // CHECK came with 0.4.0
    await runOne("CHECK", net, call, net.result, ctx);
  }
}
