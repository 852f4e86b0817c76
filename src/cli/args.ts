// Command-line flags for every `dockin` command: node:util's parseArgs, with its complaints turned
// into one clear line. An unknown flag gets the nearest known one ("unknown option --subnt; did
// you mean --subnet?"); the command prints its usage below the line.
import { type ParseArgsConfig, parseArgs } from "node:util";

/** A flag the command does not take, or a flag used wrongly. The command adds its usage. */
export class FlagError extends Error {
  override readonly name = "FlagError";
  /** Kept so callers that test parseArgs's codes keep working. */
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/** The edit distance between two short strings (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The known name nearest to `name`, when it is near enough to be a typo (or a prefix of it). */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = k.startsWith(name) && name.length >= 3 ? 1 : editDistance(name, k);
    if (best === undefined || d < best.d) best = { name: k, d };
  }
  if (best === undefined) return undefined;
  return best.d <= Math.max(2, Math.floor(best.name.length / 3)) ? best.name : undefined;
}

/** The first flag of `args` that `options` does not declare, as written (`--subnt`, `-x`). */
function unknownFlag(args: readonly string[], options: ParseArgsConfig["options"]): string | undefined {
  const names = Object.keys(options ?? {});
  const shorts = Object.values(options ?? {}).flatMap((o) => (o.short === undefined ? [] : [o.short]));
  for (const arg of args) {
    if (arg === "--") return undefined;
    if (arg.startsWith("--")) {
      const name = arg.slice(2).split("=")[0] ?? "";
      if (!names.includes(name)) return `--${name}`;
    } else if (arg.startsWith("-") && arg.length > 1) {
      for (const c of arg.slice(1)) if (!shorts.includes(c)) return `-${c}`;
    }
  }
  return undefined;
}

/**
 * parseArgs with a clear error: `unknown option --subnt; did you mean --subnet?`. Other
 * complaints (a missing value, a stray argument) keep parseArgs's text without its advice about
 * positionals starting with "-", which does not apply to these commands.
 */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const code = String((err as { code?: unknown }).code ?? "");
    if (!code.startsWith("ERR_PARSE_ARGS")) throw err;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const flag = unknownFlag(config.args ?? [], config.options);
      if (flag !== undefined) {
        const guess = flag.startsWith("--")
          ? nearest(flag.slice(2), Object.keys(config.options ?? {}))
          : undefined;
        throw new FlagError(
          `unknown option ${flag}${guess === undefined ? "" : `; did you mean --${guess}?`}`,
          code,
        );
      }
    }
    const text = (err as Error).message.replace(/\. To specify a positional argument[\s\S]*$/, "");
    throw new FlagError(text, code);
  }
}
