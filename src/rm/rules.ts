// Rules that span two kinds of object: a policy names networks. Each store checks them inside the
// transaction that writes (a check in one call and a write in another would race), with these
// messages, so that both stores refuse alike.
import { RmError } from "./errors.ts";
import type { Policy } from "./model.ts";

/** A 404 naming every network of `policy` that does not exist, or undefined when all do. */
export function missingNetworks(policy: Policy, exists: (network: string) => boolean): RmError | undefined {
  const problems = policy.networks.flatMap((att, i) =>
    exists(att.network) ? [] : [`networks[${i}].network: network "${att.network}" not found`],
  );
  if (problems.length === 0) return undefined;
  return new RmError("NotFound", `invalid policy: ${problems.join("; ")}; create the network first`);
}

/** A 409 naming the policies that name `network`, or undefined when none does. */
export function networkInUse(network: string, policies: readonly Policy[]): RmError | undefined {
  const users = policies.filter((p) => p.networks.some((a) => a.network === network));
  if (users.length === 0) return undefined;
  return new RmError(
    "Conflict",
    `network "${network}" is used by policy ${users.map((p) => `"${p.name}"`).join(", ")}; change the policy first`,
  );
}
