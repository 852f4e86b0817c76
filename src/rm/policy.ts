// Which policy gives an unregistered pod its networks.
import type { Policy } from "./model.ts";

/** The policy that applies to a pod: highest priority, then longest prefix, then namespace set, then name. */
export function matchPolicy(
  policies: readonly Policy[],
  namespace: string,
  name: string,
): Policy | undefined {
  const matching = policies.filter(
    (p) =>
      (p.namespace === undefined || p.namespace === namespace) &&
      (p.podPrefix === undefined || name.startsWith(p.podPrefix)),
  );
  matching.sort(
    (a, b) =>
      b.priority - a.priority ||
      (b.podPrefix?.length ?? -1) - (a.podPrefix?.length ?? -1) ||
      Number(b.namespace !== undefined) - Number(a.namespace !== undefined) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return matching[0];
}
