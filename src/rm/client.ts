// The RM's client: one JSON request to its admin API (docs/rm.md) over http or https, with a
// bearer token and client certificate when asked, and the server's `{message}` surfaced. Used by
// the CLI's admin commands (src/cli/commands/admin.ts) and the demo. Nothing of the RM's server
// is imported here.
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { errorText } from "../cni/errors.ts";

/** The RM answered with an error: its status and `{message}`. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** A connection option that cannot be used (not a URL, an unreadable file); names the option. */
export class ClientOptionError extends Error {}

/** The connection options, under the names of the CLI's flags (which the messages name). */
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
    throw new ClientOptionError(`${flag} ${path}: ${errorText(err)}`);
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
      throw new ClientOptionError(`--server "${server}" is not a URL (e.g. http://127.0.0.1:10002)`);
    }
    if (this.base.protocol !== "http:" && this.base.protocol !== "https:")
      throw new ClientOptionError(`--server "${server}": use http:// or https://`);
    const tokenFile = values["token-file"] ?? process.env.DOCKIN_TOKEN_FILE;
    if (tokenFile !== undefined && tokenFile !== "") {
      const line = readOption("--token-file", tokenFile)
        .toString("utf8")
        .split(/\r?\n/)
        .map((l) => l.trim())
        .find((l) => l !== "" && !l.startsWith("#"));
      if (line === undefined)
        throw new ClientOptionError(`--token-file ${tokenFile}: the file holds no token`);
      this.token = line;
    }
    if (values["ca-cert"] !== undefined) this.tls.ca = readOption("--ca-cert", values["ca-cert"]);
    if ((values.cert === undefined) !== (values.key === undefined))
      throw new ClientOptionError("--cert and --key go together");
    if (values.cert !== undefined) this.tls.cert = readOption("--cert", values.cert);
    if (values.key !== undefined) this.tls.key = readOption("--key", values.key);
  }

  /** Sends one request; resolves with the JSON reply of a 2xx, rejects with ApiError otherwise. */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    return (await this.exchange(method, path, body)).body;
  }

  /** A PUT, saying whether it created the object (201) or replaced one of that name (200). */
  async put(path: string, body: unknown): Promise<{ created: boolean; body: unknown }> {
    const reply = await this.exchange("PUT", path, body);
    return { created: reply.status === 201, body: reply.body };
  }

  /**
   * The RM's clock now, from its /healthz: the time its records' times are compared with (a gc's
   * `listedAt`). Not the Date header, which a server may cache for a second or more.
   */
  async time(): Promise<string> {
    const { time } = ((await this.request("GET", "/healthz")) ?? {}) as { time?: unknown };
    if (typeof time !== "string" || Number.isNaN(Date.parse(time)))
      throw new Error(
        `the RM at ${this.base.origin} does not tell its clock (/healthz has no time): upgrade it`,
      );
    return time;
  }

  /** Sends one request; resolves with the status and JSON reply of a 2xx, rejects with ApiError otherwise. */
  exchange(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
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
          if (status >= 200 && status < 300) return resolve({ status, body: json });
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
        reject(
          new Error(
            `cannot reach the RM at ${this.base.origin} (is it running? start one with 'dockin rm serve', or give its URL with --server or DOCKIN_SERVER)`,
            { cause: err },
          ),
        ),
      );
      req.end(payload);
    });
  }
}
