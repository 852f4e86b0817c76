// CNI spec versions and which verbs each allows.

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

/** Compares two dotted versions numerically: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
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
  const usable = supported.filter((v) => compareVersions(v, wanted) <= 0).sort(compareVersions);
  return usable.at(-1);
}
