// The static plugin's CNI_ARGS: `IP` (a comma list of CIDRs, added to the configured addresses)
// and `GATEWAY` (a comma list of addresses, each set as the gateway of the `IP` addresses whose
// subnet holds it). Any other key is an error unless `IgnoreUnknown` is set, as in every
// reference plugin.
import { eachOf } from "../cni/each.ts";
import { checkKnownArgs, parseCniArgs } from "../cni/env.ts";
import { ErrorCode, FieldErrors } from "../cni/errors.ts";
import { contains, parseIP } from "../net/ip.ts";
import { cidrProblem, ipProblem, parseCidr, type StaticAddress } from "./addr.ts";

const KNOWN = ["IP", "GATEWAY"] as const;

/** The addresses CNI_ARGS asks for (none when it has no `IP`); throws error 4 on bad input. */
export function addressesFromCniArgs(raw: string): StaticAddress[] {
  if (raw === "") return [];
  const args = parseCniArgs(raw);
  checkKnownArgs(args, KNOWN);

  const errors = new FieldErrors();
  const out: StaticAddress[] = [];
  const items = (key: string): string[] => {
    const value = args.get(key) ?? "";
    return value === "" ? [] : eachOf(value.split(","), (item) => item.trim());
  };
  const ips = items("IP");
  for (let i = 0; i < ips.length; i++) {
    const text = ips[i] as string;
    const path = ips.length > 1 ? `IP[${i}]` : "IP";
    const prefix = parseCidr(text);
    if (prefix === undefined) errors.add(path, cidrProblem(text));
    else out.push({ prefix, from: `CNI_ARGS ${path}` });
  }
  const gateways = items("GATEWAY");
  for (let i = 0; i < gateways.length; i++) {
    const text = gateways[i] as string;
    const gateway = parseIP(text);
    if (gateway === undefined) {
      errors.add(gateways.length > 1 ? `GATEWAY[${i}]` : "GATEWAY", ipProblem(text));
      continue;
    }
    for (const address of out) if (contains(address.prefix, gateway)) address.gateway = gateway;
  }
  errors.throwIfAny("invalid CNI_ARGS", ErrorCode.InvalidEnvironment);
  return out;
}
