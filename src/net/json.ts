// The shape of parsed JSON that every reader of configs, replies and request bodies checks first.
// A leaf: the plugins' lean paths import it too.

/** A JSON object as parsed: its keys not yet checked. */
export type Json = Record<string, unknown>;

/** Whether a parsed JSON value is an object (not null, not an array). */
export const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
