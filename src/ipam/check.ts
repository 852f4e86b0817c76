// CHECK: the addresses this configuration hands out must be in the `prevResult` the runtime
// passes (the result of the ADD), with the same prefix length and, where one is configured,
// the same gateway. A gateway in prevResult that the configuration does not set is fine: the
// bridge plugin adds one when it is the gateway itself.
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { NetConf } from "../cni/skel.ts";
import { compareVersions, isSpecVersion } from "../cni/version.ts";
import { formatIP, formatPrefix, type IP, type Prefix, parseIP, sameIP } from "../net/ip.ts";
import { field, isObject, type Json } from "../net/json.ts";
import { cidrProblem, ipProblem, parseCidr } from "./addr.ts";
import type { IpamConfig } from "./config.ts";
import { invalidConfig, quote, Reader } from "./read.ts";

interface PrevIP {
  prefix: Prefix;
  gateway: IP | undefined;
}

/** The versions whose results share one format: a prevResult must be in its config's. */
function resultFormat(version: string): string {
  if (compareVersions(version, "0.3.0") < 0) return "0.1.0/0.2.0";
  if (compareVersions(version, "1.0.0") < 0) return "0.3.0/0.3.1/0.4.0";
  return "1.0.0/1.1.0";
}

/** Reads prevResult's addresses, checking the fields the reference decoder checks. */
function readPrevResult(raw: Json, configVersion: string): PrevIP[] {
  const version = field(raw, "cniVersion");
  const prevVersion = typeof version === "string" && version !== "" ? version : configVersion;
  if (!isSpecVersion(prevVersion) || resultFormat(prevVersion) !== resultFormat(configVersion)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `prevResult.cniVersion: ${quote(prevVersion)} does not match the configuration's cniVersion ${quote(configVersion)}; the runtime passes prevResult in the configuration's version`,
    );
  }
  const r = new Reader();
  const ips: PrevIP[] = [];
  (r.list(raw, "ips", "prevResult.ips") ?? []).forEach((item, i) => {
    const path = `prevResult.ips[${i}]`;
    if (!isObject(item)) {
      r.typeError(path, "an object", item);
      return;
    }
    const address = r.string(item, "address", `${path}.address`);
    const gwText = r.string(item, "gateway", `${path}.gateway`);
    r.int(item, "interface", `${path}.interface`);
    const prefix = address === undefined ? undefined : parseCidr(address);
    const gateway = gwText === undefined || gwText === "" ? undefined : parseIP(gwText);
    if (address === undefined) r.invalid(`${path}.address`, "is missing");
    else if (prefix === undefined) r.invalid(`${path}.address`, cidrProblem(address));
    if (gwText !== undefined && gwText !== "" && gateway === undefined) {
      r.invalid(`${path}.gateway`, ipProblem(gwText));
    }
    if (prefix !== undefined) ips.push({ prefix, gateway });
  });
  (r.list(raw, "routes", "prevResult.routes") ?? []).forEach((item, i) => {
    const path = `prevResult.routes[${i}]`;
    if (!isObject(item)) {
      r.typeError(path, "an object", item);
      return;
    }
    const dst = r.string(item, "dst", `${path}.dst`);
    if (dst !== undefined && parseCidr(dst) === undefined) r.invalid(`${path}.dst`, cidrProblem(dst));
    const gw = r.string(item, "gw", `${path}.gw`);
    if (gw !== undefined && gw !== "" && parseIP(gw) === undefined) r.invalid(`${path}.gw`, ipProblem(gw));
  });
  r.throwIfAny("invalid prevResult");
  return ips;
}

/** Throws unless every configured address is in prevResult as configured. */
export function checkPrevResult(conf: IpamConfig, config: NetConf, ifName: string): void {
  const raw = field(config, "prevResult");
  if (raw === undefined) {
    throw invalidConfig(
      "prevResult: is missing; CHECK compares the configured addresses with the result of ADD, which the runtime passes as prevResult",
    );
  }
  if (!isObject(raw)) {
    throw new CniError(ErrorCode.DecodeFailure, `prevResult: must be an object, not ${quote(raw)}`);
  }
  const prev = readPrevResult(raw, config.cniVersion);
  const problems: string[] = [];
  for (const want of conf.addresses) {
    const wanted = `${formatPrefix(want.prefix)} (${want.from})`;
    // As in the reference plugin, the first entry with the same address decides.
    const got = prev.find((p) => sameIP(p.prefix.ip, want.prefix.ip));
    if (got === undefined) {
      problems.push(`${wanted} is not in prevResult.ips`);
    } else if (got.prefix.length !== want.prefix.length) {
      problems.push(`${wanted} is in prevResult.ips as ${formatPrefix(got.prefix)}`);
    } else if (
      want.gateway !== undefined &&
      (got.gateway === undefined || !sameIP(got.gateway, want.gateway))
    ) {
      const had = got.gateway === undefined ? "no gateway" : `gateway ${formatIP(got.gateway)}`;
      problems.push(`${wanted} should have gateway ${formatIP(want.gateway)}, prevResult has ${had}`);
    }
  }
  if (problems.length > 0) {
    // The spec gives CHECK failures no code of their own.
    throw new CniError(ErrorCode.Internal, `CHECK of ${quote(ifName)} failed: ${problems.join("; ")}`);
  }
}
