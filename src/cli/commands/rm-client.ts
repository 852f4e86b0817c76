// What the admin commands (networks, pods, policies) share: the connection options, one request
// to the RM with its error message surfaced, tables and JSON output.
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { ParseArgsConfig } from "node:util";
import { describe } from "../../cni/errors.ts";
import { FlagError, parseFlags } from "../args.ts";

export class UsageError extends Error {}

/** The RM answered with an error: its status and `{message}`. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

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

export interface ClientValues {
  server?: string | undefined;
  "token-file"?: string | undefined;
  "ca-cert"?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

function readOption(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`${flag} ${path}: ${describe(err)}`);
  }
}

export class RmClient {
  private readonly base: URL;
  private readonly token: string | undefined;
  private readonly tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};

  constructor(values: ClientValues) {
    const server = values.server ?? process.env.DOCKIN_SERVER ?? "http://127.0.0.1:10002";
    try {
      this.base = new URL(server);
    } catch {
      throw new UsageError(`--server "${server}" is not a URL (e.g. http://127.0.0.1:10002)`);
    }
    if (this.base.protocol !== "http:" && this.base.protocol !== "https:")
      throw new UsageError(`--server "${server}": use http:// or https://`);
    const tokenFile = values["token-file"] ?? process.env.DOCKIN_TOKEN_FILE;
    if (tokenFile !== undefined && tokenFile !== "") {
      const line = readOption("--token-file", tokenFile)
        .toString("utf8")
        .split(/\r?\n/)
        .map((l) => l.trim())
        .find((l) => l !== "" && !l.startsWith("#"));
      if (line === undefined) throw new UsageError(`--token-file ${tokenFile}: the file holds no token`);
      this.token = line;
    }
    if (values["ca-cert"] !== undefined) this.tls.ca = readOption("--ca-cert", values["ca-cert"]);
    if ((values.cert === undefined) !== (values.key === undefined))
      throw new UsageError("--cert and --key go together");
    if (values.cert !== undefined) this.tls.cert = readOption("--cert", values.cert);
    if (values.key !== undefined) this.tls.key = readOption("--key", values.key);
  }

  /** Sends one request; resolves with the JSON reply of a 2xx, rejects with ApiError otherwise. */
  request(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(
      path.replace(/^\//, ""),
      this.base.href.endsWith("/") ? this.base : `${this.base.href}/`,
    );
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { accept: "application/json" };
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = Buffer.byteLength(payload);
    }
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers, timeout: 30_000, ...this.tls }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text === "" ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(json);
          const message = (json as { message?: unknown } | undefined)?.message;
          reject(
            new ApiError(
              status,
              typeof message === "string" ? message : `HTTP ${status}: ${text.slice(0, 200)}`,
            ),
          );
        });
      });
      req.on("timeout", () => req.destroy(new Error("no answer within 30 s")));
      req.on("error", (err) =>
        reject(new Error(`cannot reach the RM at ${this.base.origin}`, { cause: err })),
      );
      req.end(payload);
    });
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
    throw new UsageError(`-f ${path}: not JSON: ${describe(err)}`);
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
  try {
    await run(rest);
    return 0;
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`dockin ${command} ${sub}: ${err.message}\n\n${usage}`);
      return 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`dockin ${command} ${sub}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ApiError) {
      process.stderr.write(`dockin ${command} ${sub}: ${err.message} (HTTP ${err.status})\n`);
      return 1;
    }
    process.stderr.write(`dockin ${command} ${sub}: ${describe(err)}\n`);
    return 1;
  }
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
