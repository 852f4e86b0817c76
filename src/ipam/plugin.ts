// dockin-ipam: static IP address management, a drop-in for the reference `static` plugin.
// It allocates nothing, so DEL, STATUS and GC have nothing to do.

import { eachOf } from "../cni/each.ts";
import type { IPConfig, Result } from "../cni/result.ts";
import type { Plugin } from "../cni/skel.ts";
import { ALL_VERSIONS } from "../cni/version.ts";
import { formatIP, formatPrefix } from "../net/ip.ts";
import { checkPrevResult } from "./check.ts";
import { type IpamConfig, parseIpamConfig } from "./config.ts";

export function toResult(conf: IpamConfig): Result {
  const ips = eachOf(conf.addresses, (a): IPConfig => {
    const ip: IPConfig = { address: formatPrefix(a.prefix) };
    if (a.gateway !== undefined) ip.gateway = formatIP(a.gateway);
    return ip;
  });
  return { cniVersion: conf.cniVersion, ips, routes: conf.routes, dns: conf.dns };
}

export const ipamPlugin: Plugin = {
  about: "dockin-ipam: static IPAM plugin (a drop-in for the reference static plugin)",
  versions: ALL_VERSIONS,
  add: async ({ config, env }) => toResult(parseIpamConfig(config, env.args)),
  check: async ({ config, env }) => checkPrevResult(parseIpamConfig(config, env.args), config, env.ifName),
  del: async () => {},
  status: async () => {},
  gc: async () => {},
};
