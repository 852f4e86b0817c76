// The shape of parsed JSON that every reader of configs, replies and request bodies checks first.
// A leaf, which the protocol driver and every reader of configs import.

/** A JSON object as parsed: its keys not yet checked. */
export type Json = Record<string, unknown>;

/** Whether a parsed JSON value is an object (not null, not an array). */
export const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The value of `key` in `obj` as Go's encoding/json reads it: any key equal ignoring case matches,
 * the last one wins, and null is the same as absent.
 */
export function field(obj: Json, key: string): unknown {
  let found: unknown;
  const lower = key.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) found = obj[k];
  return found ?? undefined;
}
