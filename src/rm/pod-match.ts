// Which pods a search names: one predicate for the RM's `GET /api/v1/pods?q=` and the console,
// which both search the same way.

/** What the predicate reads of a pod (the API's pod view has all of it). */
export interface SearchablePod {
  namespace: string;
  name: string;
  node?: string;
  policy?: string;
  networks: readonly { network: string; addresses: readonly { address: string }[] }[];
}

/** An address without its prefix length ("10.250.0.4/16" → "10.250.0.4"). */
export const bareAddress = (address: string): string => address.split("/")[0] ?? address;

/**
 * Whether a pod matches a search: its namespace/name, node or policy by substring (any case), one
 * of its addresses exactly or by prefix, or one of its networks by name (any case).
 */
export function podMatches(p: SearchablePod, q: string): boolean {
  const t = q.trim().toLowerCase();
  if (t === "") return true;
  if (`${p.namespace}/${p.name}`.toLowerCase().includes(t)) return true;
  if ((p.node ?? "").toLowerCase().includes(t) || (p.policy ?? "").toLowerCase().includes(t)) return true;
  for (const attachment of p.networks) {
    if (attachment.network.toLowerCase() === t) return true;
    for (const a of attachment.addresses) if (bareAddress(a.address).startsWith(t)) return true;
  }
  return false;
}
