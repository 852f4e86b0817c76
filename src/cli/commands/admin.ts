// What the admin commands (networks, pods, policies) share: the connection options of the RM's
// client (src/rm/client.ts), tables and JSON output, and the handling of errors and exit codes.
import { readFileSync } from "node:fs";
import type { ParseArgsConfig } from "node:util";
import { errorText } from "../../cni/errors.ts";
import { ApiError, ClientOptionError, RmClient } from "../../rm/client.ts";
import { FlagError, parseFlags } from "../args.ts";

export class UsageError extends Error {}

export const CLIENT_OPTIONS = {
  server: { type: "string" },
  "token-file": { type: "string" },
  "ca-cert": { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

export const CLIENT_USAGE = `connection options:
  --server URL         the RM (default $DOCKIN_SERVER or http://127.0.0.1:10002)
  --token-file PATH    send its first token as "Authorization: Bearer" (default $DOCKIN_TOKEN_FILE)
  --ca-cert PATH       trust this CA for an https:// server
  --cert PATH, --key PATH   client certificate and key, for an RM that requires them
  --json               print the server's JSON instead of a table
`;

function readOption(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`${flag} ${path}: ${errorText(err)}`);
  }
}

/** Renders rows as a left-aligned table under upper-case headers. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Reads a JSON body from a file, or stdin for "-". */
export function readBodyFile(path: string): unknown {
  const text = path === "-" ? readFileSync(0, "utf8") : readOption("-f", path).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`-f ${path}: not JSON: ${errorText(err)}`);
  }
}

/**
 * Parses an attachment written on the command line: NETWORK[,ifName=IF][,ip=IP][,master|,master=false].
 * `ip=` may repeat (one address per family).
 */
export function parseAttachment(text: string, allowIp: boolean): Record<string, unknown> {
  const [network, ...rest] = text.split(",");
  if (network === undefined || network === "")
    throw new UsageError(`--network "${text}": the network name is missing`);
  const att: Record<string, unknown> = { network };
  const ips: string[] = [];
  for (const part of rest) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? undefined : part.slice(eq + 1);
    if (key === "master") att.master = value === undefined || value === "true";
    else if ((key === "ifName" || key === "if") && value !== undefined) att.ifName = value;
    else if (key === "ip" && value !== undefined && allowIp) ips.push(value);
    else
      throw new UsageError(
        `--network "${text}": unknown part "${part}" (expected ifName=IF${allowIp ? ", ip=IP" : ""} or master)`,
      );
  }
  if (ips.length === 1) att.ip = ips[0];
  else if (ips.length > 1) att.ips = ips;
  return att;
}

/** Runs an admin subcommand with the shared handling of errors and exit codes. */
type Subcommand = (args: string[]) => Promise<void>;

/** An object kind's subcommands under their names and aliases: create|apply, list|ls, show|get, delete|rm. */
export function objectSubcommands(s: {
  create: Subcommand;
  list: Subcommand;
  show: Subcommand;
  remove: Subcommand;
}): Record<string, Subcommand> {
  return {
    create: s.create,
    apply: s.create,
    list: s.list,
    ls: s.list,
    show: s.show,
    get: s.show,
    delete: s.remove,
    rm: s.remove,
  };
}

export async function runAdmin(
  command: string,
  usage: string,
  subcommands: Record<string, Subcommand>,
  argv: string[],
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    process.stdout.write(usage);
    return sub === undefined ? 2 : 0;
  }
  const run = subcommands[sub];
  if (run === undefined) {
    process.stderr.write(`dockin ${command}: unknown subcommand "${sub}"\n\n${usage}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    // `dockin pods create --help`: the area's usage, which gives every subcommand's options.
    process.stdout.write(usage);
    return 0;
  }
  try {
    await run(rest);
    return 0;
  } catch (err) {
    return reportError(`dockin ${command} ${sub}`, usage, err);
  }
}

/**
 * What a command that talks to the RM prints for a failure, and its exit status: a bad flag (with
 * the usage) or bad usage 2, the RM's refusal (with its HTTP status) or anything else 1.
 */
export function reportError(prefix: string, usage: string, err: unknown): number {
  if (err instanceof FlagError) {
    process.stderr.write(`${prefix}: ${err.message}\n\n${usage}`);
    return 2;
  }
  if (err instanceof UsageError || err instanceof ClientOptionError) {
    process.stderr.write(`${prefix}: ${err.message}\n`);
    return 2;
  }
  if (err instanceof ApiError) {
    const hint = err.status === 401 ? "; give its admin token with --token-file or DOCKIN_TOKEN_FILE" : "";
    process.stderr.write(`${prefix}: ${err.message} (HTTP ${err.status})${hint}\n`);
    return 1;
  }
  process.stderr.write(`${prefix}: ${errorText(err)}\n`);
  return 1;
}

/** `namespace/name`, or `name` in the default namespace. */
export function podRef(text: string | undefined): { namespace: string; name: string } {
  if (text === undefined || text === "") throw new UsageError("the pod is missing (NAMESPACE/NAME or NAME)");
  const slash = text.indexOf("/");
  if (slash < 0) return { namespace: "default", name: text };
  return { namespace: text.slice(0, slash), name: text.slice(slash + 1) };
}

export const enc = encodeURIComponent;

/** The one positional argument a subcommand takes (`what` names it in the usage error). */
export function one(positionals: string[], what: string): string {
  if (positionals.length !== 1 || positionals[0] === undefined) throw new UsageError(`expected one ${what}`);
  return positionals[0];
}

/** `<kind> delete NAME`: DELETE /api/v1/<collection>/NAME, then a line or the server's JSON. */
export function deleteByName(kind: string, collection: string): Subcommand {
  return async (args) => {
    const { values, positionals } = parseFlags({ args, allowPositionals: true, options: CLIENT_OPTIONS });
    const name = one(positionals, `${kind} NAME`);
    const out = await new RmClient(values).request("DELETE", `/api/v1/${collection}/${enc(name)}`);
    if (values.json) return printJson(out);
    process.stdout.write(`${kind} ${name} deleted\n`);
  };
}
