// The RM's HTTP server on Bun.serve (HTTP or HTTPS, optionally with client certificates): routing,
// authentication, errors as `{code, reason, message}`, metrics, request logs and a graceful close.
// A handler sets a Reply (src/rm/http.ts); the server answers with it as one Response.
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { errorText } from "../cni/errors.ts";
import { RmError } from "./errors.ts";
import { addressAt, historyPage, parseAddress, parseHistoryQuery, parseInteger } from "./history-api.ts";
import { MAX_BODY, Reply, readJson, sendJson, sendText, type Tokens } from "./http.ts";
import type { RmLogger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { poolSize, poolsOf } from "./pool.ts";
import type { RmService } from "./service.ts";
import { Console } from "./ui/console.ts";
import { CSRF_HEADER, checkCsrf, checkOrigin, cookie, SESSION_COOKIE, validSession } from "./ui/session.ts";

/** Pods per page of GET /api/v1/pods when the query gives no `limit`. */
const DEFAULT_PAGE = 1000;
/** The most pods one page of GET /api/v1/pods may hold. */
const MAX_PAGE = 100_000;

export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** When set, clients must present a certificate signed by this CA. */
  clientCa?: string | Buffer;
}

export interface ServerOptions {
  service: RmService;
  logger: RmLogger;
  /** Log every request (debug level); otherwise only writes and failures. */
  debug?: boolean;
  /** Bearer tokens required by the admin API and /metrics when set. */
  tokens?: Tokens;
  /** Whether the webhook also requires a token (default: yes, when tokens are set). */
  webhookAuth?: boolean;
  tls?: TlsOptions;
  maxBody?: number;
}

type Handler = (ctx: RequestContext) => Promise<void>;

interface RequestContext {
  req: Request;
  res: Reply;
  path: string;
  query: URLSearchParams;
  params: string[];
}

interface Route {
  /** Pattern shown in metrics and logs, e.g. /api/v1/pods/{namespace}/{name}. */
  pattern: string;
  match: RegExp;
  auth: "none" | "admin" | "webhook";
  methods: Partial<Record<string, Handler>>;
}

const SEGMENT = "([^/]+)";

/** How long a connection may stay idle (keep-alive) or silent mid-request, in seconds (Bun's limit: 255). */
const IDLE_SECONDS = 65;

/** The request target (path and query) of Bun's request URL: absolute, or as sent without a Host. */
function targetOf(url: string): string {
  if (url.startsWith("/")) return url;
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  return slash < 0 ? "/" : url.slice(slash);
}

export class RmServer {
  private server: Bun.Server<undefined> | undefined;
  readonly metrics = new Metrics();
  private readonly options: ServerOptions;
  private readonly service: RmService;
  private readonly routes: Route[];
  /** Routes without parameters, by path (most requests: the webhook). */
  private readonly exact = new Map<string, Route>();
  private readonly bootId = randomBytes(4).toString("hex");
  private requestCount = 0;
  /** Set when a close starts: /readyz answers 503, and every reply from then on closes its connection. */
  private draining = false;
  /** The web console at /ui. */
  private readonly console: Console;

  constructor(options: ServerOptions) {
    this.options = { ...options };
    this.service = options.service;
    this.console = new Console({ secure: options.tls !== undefined });
    this.routes = this.buildRoutes();
    for (const r of this.routes) if (!r.pattern.includes("{")) this.exact.set(r.pattern, r);
  }

  /** Replaces the accepted bearer tokens (SIGHUP re-reads the token file); later requests use them. */
  setTokens(tokens: Tokens): void {
    this.options.tokens = tokens;
  }

  /** Listens on host:port (port 0 picks one); resolves with the bound address. */
  async listen(host: string, port: number): Promise<AddressInfo> {
    const tls = this.options.tls;
    this.server = Bun.serve({
      hostname: host,
      port,
      idleTimeout: IDLE_SECONDS,
      // A client certificate signed by the client CA is required: without one, or with another
      // CA's, the TLS handshake fails or the connection closes before any request is read.
      ...(tls === undefined
        ? {}
        : {
            tls:
              tls.clientCa === undefined
                ? { cert: tls.cert, key: tls.key }
                : {
                    cert: tls.cert,
                    key: tls.key,
                    ca: tls.clientCa,
                    requestCert: true,
                    rejectUnauthorized: true,
                  },
          }),
      fetch: (req) => this.handle(req),
      // handle() answers every error itself; this is the last resort should it throw.
      error: (err) => this.errorReply(err, "", "").response(),
    });
    return this.address();
  }

  private address(): AddressInfo {
    if (this.server === undefined) throw new Error("the RM's server is not listening");
    const address = this.server.hostname ?? "";
    return { address, family: address.includes(":") ? "IPv6" : "IPv4", port: this.server.port ?? 0 };
  }

  get url(): string {
    const addr = this.address();
    const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    return `${this.options.tls === undefined ? "http" : "https"}://${host}:${addr.port}`;
  }

  /**
   * Stops accepting connections, lets requests in flight finish (at most `graceMs`), then closes
   * what is left. /readyz answers 503 from the first moment.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.draining = true;
    const server = this.server;
    if (server === undefined) return;
    // Idle connections close now; requests in flight finish, their replies saying `connection:
    // close` (handle), then their connections close. Whatever is left after the grace is cut.
    const timer = setTimeout(() => void server.stop(true), graceMs);
    timer.unref();
    try {
      await server.stop(false);
    } finally {
      clearTimeout(timer);
    }
  }

  private buildRoutes(): Route[] {
    const s = this.service;
    const route = (pattern: string, auth: Route["auth"], methods: Route["methods"]): Route => ({
      pattern,
      auth,
      methods,
      match: new RegExp(`^${pattern.replace(/\{[a-z]+\}/gi, SEGMENT)}$`),
    });
    const body = (ctx: RequestContext) => readJson(ctx.req, this.options.maxBody ?? MAX_BODY);
    const p = (ctx: RequestContext, i: number): string => ctx.params[i] ?? "";
    return [
      route("/healthz", "none", {
        // `time`: the RM's clock, to the millisecond (what a gc's listedAt is compared with).
        GET: async ({ res }) => sendJson(res, 200, { status: "ok", time: new Date().toISOString() }),
      }),
      route("/readyz", "none", {
        GET: async ({ res }) => {
          if (this.draining) return sendJson(res, 503, { status: "shutting down" });
          try {
            await s.store.ping();
            sendJson(res, 200, { status: "ready", store: s.store.description });
          } catch (err) {
            sendJson(res, 503, { status: "store unavailable", message: errorText(err) });
          }
        },
      }),
      route("/metrics", "admin", {
        GET: async ({ res }) => {
          const [networks, usage, pods] = await Promise.all([
            s.store.listNetworks(),
            s.store.usage(),
            s.store.countPods(),
          ]);
          const gauges = networks.flatMap((n) =>
            poolsOf(n.spec).map((pool) => ({
              network: n.name,
              family: pool.family,
              size: Number(poolSize(pool)),
              allocated: usage.find((u) => u.network === n.name && u.family === pool.family)?.allocated ?? 0,
            })),
          );
          sendText(res, 200, this.metrics.render(gauges, pods), "text/plain; version=0.0.4; charset=utf-8");
        },
      }),
      route("/rmController/getPodMultiNetwork", "webhook", {
        GET: (ctx) => this.webhook(ctx),
      }),
      route("/api/v1/networks", "admin", {
        GET: async ({ res }) => sendJson(res, 200, { items: await s.listNetworks() }),
      }),
      route("/api/v1/networks/{name}", "admin", {
        GET: async (ctx) => sendJson(ctx.res, 200, await s.getNetwork(p(ctx, 0))),
        PUT: async (ctx) => {
          const { network, created } = await s.putNetwork(p(ctx, 0), await body(ctx));
          sendJson(ctx.res, created ? 201 : 200, network);
        },
        DELETE: async (ctx) => {
          await s.deleteNetwork(p(ctx, 0));
          sendJson(ctx.res, 200, { name: p(ctx, 0), deleted: true });
        },
      }),
      route("/api/v1/pods", "admin", {
        GET: (ctx) => this.listPods(ctx, undefined),
      }),
      route("/api/v1/pods/{namespace}", "admin", {
        GET: (ctx) => this.listPods(ctx, p(ctx, 0)),
      }),
      route("/api/v1/pods/{namespace}/{name}", "admin", {
        GET: async (ctx) => sendJson(ctx.res, 200, await s.getPod(p(ctx, 0), p(ctx, 1))),
        PUT: async (ctx) => {
          const { pod, created } = await s.putPod(p(ctx, 0), p(ctx, 1), await body(ctx));
          sendJson(ctx.res, created ? 201 : 200, pod);
        },
        DELETE: async (ctx) => sendJson(ctx.res, 200, await s.deletePod(p(ctx, 0), p(ctx, 1))),
      }),
      route("/api/v1/pods/{namespace}/{name}/release", "webhook", {
        POST: async (ctx) => {
          const b = await body(ctx);
          let containerId = ctx.query.get("containerId") ?? undefined;
          if (b !== undefined) {
            const o = b as Record<string, unknown> | null;
            const extra =
              o === null || typeof o !== "object"
                ? ["(body)"]
                : Object.keys(o).filter((k) => k !== "containerId");
            if (extra.length > 0 || (o?.containerId !== undefined && typeof o.containerId !== "string")) {
              throw new RmError(
                "BadRequest",
                `invalid release: the body may only hold {"containerId": "<id>"}`,
              );
            }
            if (typeof o?.containerId === "string") containerId = o.containerId;
          }
          sendJson(ctx.res, 200, await s.releasePod(p(ctx, 0), p(ctx, 1), containerId));
        },
      }),
      // The plugin's detach notification (its `notifyUrl`): the same as the release endpoint, in
      // the plugin's body: {"event":"detached","podName","podNamespace"?,"containerId"?,"podUid"?,"ifName"?}.
      route("/rmController/podDetached", "webhook", {
        POST: async (ctx) => {
          const b = (await body(ctx)) as Record<string, unknown> | undefined;
          const problems: string[] = [];
          if (b === undefined || b === null || typeof b !== "object" || Array.isArray(b)) {
            problems.push("(body): must be a JSON object");
          } else {
            const known = ["event", "podName", "podNamespace", "containerId", "podUid", "ifName"];
            for (const k of Object.keys(b)) if (!known.includes(k)) problems.push(`${k}: unknown field`);
            if (b.event !== undefined && b.event !== "detached")
              problems.push(`event: "${String(b.event)}" is not "detached"`);
            if (typeof b.podName !== "string" || b.podName === "") problems.push("podName: is required");
            for (const k of ["podNamespace", "containerId", "podUid", "ifName"])
              if (b[k] !== undefined && typeof b[k] !== "string") problems.push(`${k}: must be a string`);
          }
          if (problems.length > 0)
            throw new RmError("BadRequest", `invalid detach notification: ${problems.join("; ")}`);
          const n = b as { podName: string; podNamespace?: string; containerId?: string };
          const ns = n.podNamespace === undefined || n.podNamespace === "" ? "default" : n.podNamespace;
          const containerId = n.containerId === "" ? undefined : n.containerId;
          sendJson(ctx.res, 200, await s.releasePod(ns, n.podName, containerId));
        },
      }),
      route("/api/v1/gc", "admin", {
        POST: async (ctx) => sendJson(ctx.res, 200, await s.gc(await body(ctx))),
      }),
      route("/api/v1/history", "admin", {
        GET: async (ctx) => sendJson(ctx.res, 200, await historyPage(s.store, parseHistoryQuery(ctx.query))),
      }),
      route("/api/v1/addresses/{ip}", "admin", {
        GET: async (ctx) => sendJson(ctx.res, 200, await addressAt(s.store, p(ctx, 0), ctx.query)),
      }),
      route("/api/v1/policies", "admin", {
        GET: async ({ res }) => sendJson(res, 200, { items: await s.listPolicies() }),
      }),
      route("/api/v1/policies/{name}", "admin", {
        GET: async (ctx) => sendJson(ctx.res, 200, await s.getPolicy(p(ctx, 0))),
        PUT: async (ctx) => {
          const { policy, created } = await s.putPolicy(p(ctx, 0), await body(ctx));
          sendJson(ctx.res, created ? 201 : 200, policy);
        },
        DELETE: async (ctx) => {
          await s.deletePolicy(p(ctx, 0));
          sendJson(ctx.res, 200, { name: p(ctx, 0), deleted: true });
        },
      }),
    ];
  }

  private async listPods(ctx: RequestContext, namespace: string | undefined): Promise<void> {
    const q = ctx.query;
    if (q.has("q")) return this.searchPods(ctx, namespace);
    // A page at a time: a cluster may hold 150,000 pods. `next` names where the next page starts.
    const limit = parseInteger(q, "limit", DEFAULT_PAGE, 1, MAX_PAGE);
    const after = q.get("after") ?? undefined;
    if (after !== undefined && !after.includes("/")) {
      throw new RmError("BadRequest", `invalid query: after: "${after}" is not namespace/name`);
    }
    const ns = namespace ?? q.get("namespace") ?? undefined;
    const network = q.get("network") ?? undefined;
    const options: { namespace?: string; after?: string; limit?: number; network?: string } = {};
    if (ns !== undefined) options.namespace = ns;
    if (after !== undefined) options.after = after;
    if (network !== undefined) options.network = network;
    options.limit = limit;
    const items = await this.service.listPods(options);
    const last = items[items.length - 1];
    const reply: { items: unknown[]; next?: string } = { items };
    if (items.length === limit && last !== undefined) reply.next = `${last.namespace}/${last.name}`;
    sendJson(ctx.res, 200, reply);
  }

  /**
   * `?q=TEXT[&offset=N][&limit=N]`: the pods a search names (src/rm/pod-match.ts), a page of them,
   * with how many match in all, so that a client shows one page without fetching every pod.
   */
  private async searchPods(ctx: RequestContext, namespace: string | undefined): Promise<void> {
    const q = ctx.query;
    if (q.has("after")) {
      throw new RmError(
        "BadRequest",
        "invalid query: after goes with a plain listing; a search pages with offset",
      );
    }
    const limit = parseInteger(q, "limit", DEFAULT_PAGE, 1, MAX_PAGE);
    const offset = parseInteger(q, "offset", 0, 0, Number.MAX_SAFE_INTEGER);
    const ns = namespace ?? q.get("namespace") ?? undefined;
    // Exact filters on top of the search: the pods attached to a network, the pod holding an address.
    const network = q.get("network") ?? undefined;
    const addressText = q.get("address");
    const address = addressText === null ? undefined : parseAddress("address", addressText);
    const { items, total } = await this.service.searchPods(q.get("q") ?? "", {
      offset,
      limit,
      ...(ns === undefined ? {} : { namespace: ns }),
      ...(network === undefined ? {} : { network }),
      ...(address === undefined ? {} : { address }),
    });
    sendJson(ctx.res, 200, { items, total, offset });
  }

  /**
   * The bearer token (the CLI, the plugins) or, for the console, its session cookie; a write with
   * the cookie needs the session's CSRF header too. Without tokens everything is open.
   */
  private authorize(req: Request, res: Reply, route: Route): void {
    const tokens = this.options.tokens;
    if (tokens === undefined || route.auth === "none") return;
    if (route.auth === "webhook" && this.options.webhookAuth === false) return;
    const authorization = req.headers.get("authorization") ?? undefined;
    const session = cookie(req.headers, SESSION_COOKIE);
    if (authorization === undefined && session !== undefined && validSession(tokens, session)) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        checkCsrf(tokens, session, req.headers.get(CSRF_HEADER) ?? undefined);
      }
      return;
    }
    try {
      tokens.check(authorization);
    } catch (err) {
      if (err instanceof RmError && err.reason === "Unauthorized")
        res.setHeader("www-authenticate", "Bearer");
      throw err;
    }
  }

  private reqId(req: Request): string {
    const given = req.headers.get("x-request-id");
    if (given !== null && /^[\w.:-]{1,64}$/.test(given)) return given;
    return `${this.bootId}-${++this.requestCount}`;
  }

  private async webhook(ctx: RequestContext): Promise<void> {
    const q = ctx.query;
    const reqId = this.reqId(ctx.req);
    const podName = q.get("podName") ?? "";
    try {
      if (podName === "") throw new RmError("BadRequest", "the podName query parameter is required");
      const query = { podName, podNamespace: q.get("podNamespace") || "default" } as Parameters<
        RmService["webhook"]
      >[0];
      const containerId = q.get("containerId");
      if (containerId) query.containerId = containerId;
      const node = q.get("node");
      if (node) query.node = node;
      const data = await this.service.webhookJson(query);
      const text = `{"code":0,"reqId":${JSON.stringify(reqId)},"message":"success","data":${data}}`;
      ctx.res.send(200, { "content-type": "application/json" }, text);
    } catch (err) {
      const status = err instanceof RmError ? err.status : 500;
      if (status >= 500)
        this.options.logger.error("webhook failed", { reqId, podName, error: errorText(err) });
      sendJson(ctx.res, status, { code: status, reqId, message: errorText(err), data: [] });
    }
  }

  private async handle(req: Request): Promise<Response> {
    const started = process.hrtime.bigint();
    const res = new Reply();
    const target = targetOf(req.url);
    let pattern = "(unmatched)";
    try {
      const mark = target.indexOf("?");
      const path = mark < 0 ? target : target.slice(0, mark);
      const query = new URLSearchParams(mark < 0 ? "" : target.slice(mark + 1));
      checkOrigin(req, this.options.tls !== undefined);
      if (path === "/ui" || path.startsWith("/ui/")) {
        pattern = "/ui";
        await this.console.handle(req, res, path, this.options.tokens);
      } else {
        let route = this.exact.get(path);
        let params: string[] = [];
        for (const r of route === undefined ? this.routes : []) {
          const m = r.match.exec(path);
          if (m === null) continue;
          route = r;
          try {
            params = m.slice(1).map((x) => decodeURIComponent(x));
          } catch {
            throw new RmError("BadRequest", `the path ${path} is not valid percent-encoding`);
          }
          break;
        }
        if (route === undefined) throw new RmError("NotFound", `no such endpoint: ${req.method} ${path}`);
        pattern = route.pattern;
        const method = req.method === "HEAD" ? "GET" : req.method;
        const handler = route.methods[method];
        if (handler === undefined) {
          res.setHeader("allow", Object.keys(route.methods).join(", "));
          throw new RmError("MethodNotAllowed", `${req.method} is not allowed on ${route.pattern}`);
        }
        this.authorize(req, res, route);
        await handler({ req, res, path, query, params });
      }
    } catch (err) {
      this.errorReply(err, req.method, target, res);
    }
    // A close has started: this connection is not kept alive for more requests.
    if (this.draining) res.setHeader("connection", "close");
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.metrics.observe(pattern, req.method, res.status, seconds);
    if (this.options.debug || (req.method !== "GET" && req.method !== "HEAD")) {
      this.options.logger.info("request", {
        method: req.method,
        path: target,
        route: pattern,
        status: res.status,
        ms: Math.round(seconds * 1e4) / 10,
      });
    }
    return res.response();
  }

  /** Sets `res` (headers set before the error, such as `allow`, stay) to the error's JSON reply. */
  private errorReply(err: unknown, method: string, path: string, res = new Reply()): Reply {
    const status = err instanceof RmError ? err.status : 500;
    const reason = err instanceof RmError ? err.reason : "Internal";
    if (status >= 500) this.options.logger.error("request failed", { method, path, error: errorText(err) });
    // A body we refused to read is not drained: close the connection instead.
    sendJson(res, status, { code: status, reason, message: errorText(err) }, status === 413);
    return res;
  }
}
