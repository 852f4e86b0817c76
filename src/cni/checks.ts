// The CNI checks that need no error class: names, interface names and CNI_ARGS pairs. env.ts
// turns their answers into CNI errors; dockin-ipam's lean ADD (src/ipam/lean.ts) asks them
// directly, without loading the errors or the protocol driver.
import { isGoSpace, isName, utf8Length } from "../net/chars.ts";

/** A container id or network name: /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, as the reference library checks. */
export const isContainerId = (text: string): boolean => isName(text, "_.-");

/** Why an interface name is not a valid Linux name, or undefined when it is. */
export function ifNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  // Linux counts bytes (IFNAMSIZ is 16 with the terminating NUL), as the reference library does.
  const bytes = utf8Length(name);
  if (bytes > 15) return `is ${bytes} bytes long; Linux allows at most 15`;
  if (name === "." || name === "..") return "may not be '.' or '..'";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2f || c === 0x3a || isGoSpace(c)) return "may not contain '/', ':' or white space";
  }
  return undefined;
}

/** Why a network name is invalid (the spec's rule for `name`), or undefined when it is valid. */
export function networkNameProblem(name: string): string | undefined {
  if (name === "") return "is missing";
  if (!isContainerId(name)) {
    return "must start with a letter or digit, then letters, digits, '_', '.' or '-'";
  }
  return undefined;
}

/**
 * CNI_ARGS (`K=V;K2=V2`) as ordered pairs, as the reference library splits them: every pair needs
 * exactly one '=' (an empty pair, as after a trailing ';', is not one); an empty key is kept, as
 * an unknown key; a repeated key keeps its last value. `{ bad }` names the first pair that is not.
 */
export function cniArgPairs(args: string): Map<string, string> | { bad: string } {
  const out = new Map<string, string>();
  if (args === "") return out;
  for (const pair of args.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.indexOf("=", eq + 1) >= 0) return { bad: pair };
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

/**
 * What an `IgnoreUnknown` value says, as the reference library reads its boolean arguments: "1" or
 * "true" (any case) yes, "0" or "false" no, absent no; undefined for any other value.
 */
export function ignoreUnknownOf(value: string | undefined): boolean | undefined {
  if (value === undefined) return false;
  const lower = value.toLowerCase();
  if (lower === "1" || lower === "true") return true;
  if (lower === "0" || lower === "false") return false;
  return undefined;
}
