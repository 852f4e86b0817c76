// CNI spec versions and which verbs each allows.
import { isDigits } from "../net/chars.ts";
import { CniError, ErrorCode } from "./errors.ts";

export const ALL_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type SpecVersion = (typeof ALL_VERSIONS)[number];
export const LATEST: SpecVersion = "1.1.0";

export type Verb = "ADD" | "DEL" | "CHECK" | "STATUS" | "GC" | "VERSION";
export const VERBS: readonly Verb[] = ["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"];

/** The first spec version that has each verb. */
const VERB_SINCE: Record<Verb, SpecVersion> = {
  ADD: "0.1.0",
  DEL: "0.1.0",
  VERSION: "0.1.0",
  CHECK: "0.4.0",
  STATUS: "1.1.0",
  GC: "1.1.0",
};

export function isSpecVersion(v: unknown): v is SpecVersion {
  return typeof v === "string" && (ALL_VERSIONS as readonly string[]).includes(v);
}

/**
 * Parses a dotted version as the reference library does: up to three integer parts ("1.0" is
 * 1.0.0) and the empty string meaning 0.1.0 (a config that declares no version). Undefined when
 * the text is not a version.
 */
export function parseVersion(v: string): [number, number, number] | undefined {
  if (v === "") return [0, 1, 0];
  const parts = v.split(".");
  if (parts.length > 3) return undefined;
  const out: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? "";
    if (!isDigits(part)) return undefined;
    out[i] = Number(part);
  }
  return out;
}

/** Compares two dotted versions numerically: negative, zero or positive. Throws on a non-version. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (pa === undefined || pb === undefined) {
    const bad = pa === undefined ? a : b;
    throw new CniError(ErrorCode.DecodeFailure, `invalid version "${bad}": expected MAJOR.MINOR.MICRO`);
  }
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function verbAllowed(verb: Verb, version: string): boolean {
  return compareVersions(version, VERB_SINCE[verb]) >= 0;
}

export function sinceVersion(verb: Verb): SpecVersion {
  return VERB_SINCE[verb];
}

/** The newest of `wanted` and the versions `supported` lists: what to speak to a delegate. */
export function negotiate(wanted: string, supported: readonly string[]): string | undefined {
  if (parseVersion(wanted) === undefined) return undefined;
  let best: string | undefined;
  for (const v of supported) {
    if (parseVersion(v) === undefined || compareVersions(v, wanted) > 0) continue;
    if (best === undefined || compareVersions(v, best) >= 0) best = v;
  }
  return best;
}
