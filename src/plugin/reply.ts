// The webhook's reply, validated whole before anything is created. The result is a plan: which
// network configs to attach, under which interface names, with which addresses.

import { ifNameProblem } from "../cni/checks.ts";
import { CniError, ErrorCode, FieldErrors } from "../cni/errors.ts";
import { isName } from "../net/chars.ts";
import {
  contains,
  type Family,
  formatIP,
  formatPrefix,
  lastAddress,
  maskToLength,
  networkOf,
  type Prefix,
  parseIP,
  parsePrefix,
  sameIP,
} from "../net/ip.ts";
import { isObject, type Json } from "../net/json.ts";
import type { NetworkDir, NetworkFile } from "./netconf.ts";

export interface PlannedAddress {
  /** `ip/length`, canonical. */
  address: string;
  gateway?: string;
  family: Family;
}

export interface PlannedNetwork {
  /** The entry's position in the reply's `data`. */
  index: number;
  /** The network's name (the entry's `type`). */
  name: string;
  file: NetworkFile;
  ifName: string;
  master: boolean;
  addresses: PlannedAddress[];
}

export interface Plan {
  networks: PlannedNetwork[];
  warnings: string[];
  reqId?: string;
}

export interface ReplyContext {
  /** CNI_IFNAME: the master's interface. */
  ifName: string;
  /** For messages: `namespace/name`. */
  pod: string;
  networks: NetworkDir;
}

export const MAX_ENTRIES = 32;
/** A network name: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/. */
const isNetworkName = (text: string): boolean => text.length <= 253 && isName(text, "_.-");

const present = (v: unknown): boolean => v !== undefined && v !== null && v !== "";
const show = (v: unknown): string => JSON.stringify(v)?.slice(0, 80) ?? String(v);

interface Candidate {
  prefix: Prefix;
  gateway: string | undefined;
  where: string;
}

/** Why a host address is unusable in its prefix (network or broadcast address), if it is. */
function hostProblem(prefix: Prefix): string | undefined {
  if (prefix.ip.family !== 4 || prefix.length >= 31) return undefined;
  if (sameIP(prefix.ip, networkOf(prefix).ip)) return "is the network address of its subnet";
  if (sameIP(prefix.ip, lastAddress(prefix))) return "is the broadcast address of its subnet";
  return undefined;
}

function checkGateway(
  errors: FieldErrors,
  warnings: string[],
  where: string,
  prefix: Prefix,
  gateway: unknown,
  master: boolean,
): string | undefined {
  if (!present(gateway)) return undefined;
  const gw = typeof gateway === "string" ? parseIP(gateway) : undefined;
  if (gw === undefined) {
    errors.add(where, `${show(gateway)} is not an IP address`);
    return undefined;
  }
  if (gw.family !== prefix.ip.family) {
    errors.add(where, `${show(gateway)} is not of the address's family (IPv${prefix.ip.family})`);
    return undefined;
  }
  if (sameIP(gw, prefix.ip)) {
    errors.add(where, `${show(gateway)} is the pod's own address`);
    return undefined;
  }
  if (!contains(prefix, gw)) {
    const subnet = formatPrefix(networkOf(prefix));
    if (master) {
      errors.add(where, `${show(gateway)} is outside the master's subnet ${subnet}`);
    } else {
      warnings.push(
        `${where} ${formatIP(gw)} is outside ${subnet}: dropped (no policy route for this address)`,
      );
    }
    return undefined;
  }
  return formatIP(gw);
}

function entryAddresses(
  entry: Json,
  path: string,
  master: boolean,
  errors: FieldErrors,
  warnings: string[],
): Candidate[] {
  const out: Candidate[] = [];
  if (present(entry.podIp)) {
    const ip = typeof entry.podIp === "string" ? parseIP(entry.podIp) : undefined;
    if (ip === undefined) errors.add(`${path}.podIp`, `${show(entry.podIp)} is not an IP address`);
    let length: number | undefined;
    if (!present(entry.subnetMask)) {
      errors.add(`${path}.subnetMask`, "is required with podIp (a dotted mask or a prefix length)");
    } else if (typeof entry.subnetMask !== "string" && typeof entry.subnetMask !== "number") {
      errors.add(`${path}.subnetMask`, `${show(entry.subnetMask)} is not a mask`);
    } else if (ip !== undefined) {
      length = maskToLength(entry.subnetMask, ip.family);
      if (length === undefined || length === 0) {
        errors.add(
          `${path}.subnetMask`,
          `${show(entry.subnetMask)} is not a valid ${ip.family === 4 ? "IPv4 mask (dotted or 1-32)" : "IPv6 prefix length (1-128)"}`,
        );
      }
    }
    if (ip !== undefined && length !== undefined && length > 0) {
      const prefix = { ip, length };
      const problem = hostProblem(prefix);
      if (problem) errors.add(`${path}.podIp`, `${show(entry.podIp)} ${problem}`);
      const gateway = checkGateway(errors, warnings, `${path}.gateway`, prefix, entry.gateway, master);
      out.push({ prefix, gateway, where: `${path}.podIp` });
    }
  } else if (present(entry.gateway)) {
    errors.add(`${path}.gateway`, "is given without podIp");
  }
  if (entry.ips !== undefined && entry.ips !== null) {
    if (!Array.isArray(entry.ips)) {
      errors.add(`${path}.ips`, "is not a list");
    } else {
      for (let j = 0; j < entry.ips.length; j++) {
        const item: unknown = entry.ips[j];
        const where = `${path}.ips[${j}]`;
        if (!isObject(item)) {
          errors.add(where, "is not an object");
          continue;
        }
        const prefix = typeof item.address === "string" ? parsePrefix(item.address) : undefined;
        if (prefix === undefined || prefix.length === 0) {
          errors.add(
            `${where}.address`,
            `${show(item.address)} is not an address with a prefix length (ip/len)`,
          );
          continue;
        }
        const problem = hostProblem(prefix);
        if (problem) errors.add(`${where}.address`, `${show(item.address)} ${problem}`);
        const gateway = checkGateway(errors, warnings, `${where}.gateway`, prefix, item.gateway, master);
        out.push({ prefix, gateway, where: `${where}.address` });
      }
    }
  }
  return out;
}

/** Validates the whole reply; throws one error listing every problem, or returns the plan. */
export function validateReply(reply: unknown, ctx: ReplyContext): Plan {
  const what = `webhook reply for pod ${ctx.pod}`;
  if (!isObject(reply)) throw new CniError(ErrorCode.BackendRefused, `${what}: not a JSON object`);
  const code = reply.code;
  const message = typeof reply.message === "string" ? reply.message : "";
  if (code !== 0 && code !== "0") {
    throw new CniError(
      ErrorCode.BackendRefused,
      code === undefined
        ? `${what}: it has no "code"`
        : `backend refused pod ${ctx.pod}: code ${show(code)}${message ? `: ${message}` : ""}`,
    );
  }
  const errors = new FieldErrors();
  const warnings: string[] = [];
  const data = reply.data;
  if (!Array.isArray(data) || data.length === 0) {
    errors.add(
      "data",
      Array.isArray(data) ? "is empty: the pod has no network" : "is not a list of networks",
    );
    errors.throwIfAny(what, ErrorCode.BackendRefused);
    return { networks: [], warnings };
  }
  if (data.length > MAX_ENTRIES) errors.add("data", `has ${data.length} entries; at most ${MAX_ENTRIES}`);
  const networks: PlannedNetwork[] = [];
  const masters: number[] = [];
  const ifNames = new Map<string, number>();
  const seen = new Map<string, string>();
  for (let index = 0; index < Math.min(data.length, MAX_ENTRIES); index++) {
    const entry: unknown = data[index];
    const path = `data[${index}]`;
    if (!isObject(entry)) {
      errors.add(path, "is not an object");
      continue;
    }
    if (entry.master !== undefined && entry.master !== null && typeof entry.master !== "boolean") {
      errors.add(`${path}.master`, `${show(entry.master)} is not true or false`);
    }
    const master = entry.master === true;
    if (master) masters.push(index);
    let file: NetworkFile | undefined;
    if (typeof entry.type !== "string" || !isNetworkName(entry.type)) {
      errors.add(`${path}.type`, `${show(entry.type)} is not a network name`);
    } else {
      file = ctx.networks.byName.get(entry.type);
      if (file === undefined) {
        const broken = ctx.networks.broken.length ? ` (unreadable: ${ctx.networks.broken.join("; ")})` : "";
        errors.add(`${path}.type`, `no network config named "${entry.type}" in confDir${broken}`);
      }
    }
    let ifName: string | undefined;
    if (present(entry.ifName)) {
      const problem = typeof entry.ifName === "string" ? ifNameProblem(entry.ifName) : "is not a string";
      if (problem) errors.add(`${path}.ifName`, `${show(entry.ifName)} ${problem}`);
      else ifName = entry.ifName as string;
    }
    if (master) {
      if (ifName !== undefined && ifName !== ctx.ifName) {
        errors.add(
          `${path}.ifName`,
          `the master's interface must be CNI_IFNAME "${ctx.ifName}", not "${ifName}"`,
        );
      }
      ifName = ctx.ifName;
    } else if (ifName === undefined && !present(entry.ifName)) {
      errors.add(`${path}.ifName`, "is required for a non-master network");
    }
    if (ifName !== undefined) {
      const other = ifNames.get(ifName);
      if (other !== undefined) errors.add(`${path}.ifName`, `"${ifName}" is also used by data[${other}]`);
      else ifNames.set(ifName, index);
    }
    const candidates = entryAddresses(entry, path, master, errors, warnings);
    if (candidates.length === 0 && !present(entry.podIp) && !Array.isArray(entry.ips)) {
      errors.add(path, "has no address: give podIp and subnetMask, or ips");
    }
    const gateways = new Map<Family, string>();
    const addresses: PlannedAddress[] = [];
    for (const c of candidates) {
      const ipText = formatIP(c.prefix.ip);
      const dup = seen.get(ipText);
      if (dup !== undefined) errors.add(c.where, `${ipText} is also given by ${dup}`);
      seen.set(ipText, c.where);
      const family = c.prefix.ip.family;
      if (c.gateway !== undefined) {
        const prev = gateways.get(family);
        if (prev !== undefined && prev !== c.gateway) {
          errors.add(c.where, `a second IPv${family} gateway ${c.gateway} (the entry already has ${prev})`);
        }
        gateways.set(family, c.gateway);
      }
      const planned: PlannedAddress = { address: formatPrefix(c.prefix), family };
      if (c.gateway !== undefined) planned.gateway = c.gateway;
      addresses.push(planned);
    }
    if (file !== undefined && ifName !== undefined) {
      networks.push({ index, name: file.name, file, ifName, master, addresses });
    }
  }
  if (masters.length === 0) errors.add("data", "no entry is the master (exactly one must have master: true)");
  if (masters.length > 1) {
    errors.add(
      "data",
      `${masters.length} entries are the master (data[${masters.join("], data[")}]); exactly one must be`,
    );
  }
  errors.throwIfAny(what, ErrorCode.BackendRefused);
  const plan: Plan = { networks, warnings };
  if (typeof reply.reqId === "string") plan.reqId = reply.reqId;
  return plan;
}
