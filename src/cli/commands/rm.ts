// `dockin rm serve`: runs the resource manager until SIGTERM/SIGINT.
import { readFileSync } from "node:fs";
import { errorText } from "../../cni/errors.ts";
import { isLevel } from "../../cni/log.ts";
import { DEFAULT_RETENTION, HistoryPruner, parseRetention } from "../../rm/history-prune.ts";
import { Tokens } from "../../rm/http.ts";
import { rmLogger } from "../../rm/log.ts";
import { openStore } from "../../rm/open-store.ts";
import { RmServer, type TlsOptions } from "../../rm/server.ts";
import { RmService } from "../../rm/service.ts";
import { FlagError, parseFlags } from "../args.ts";

const USAGE = `usage: dockin rm serve [options]
       dockin rm migrate --from SPEC --to SPEC [options]   (copies one store into another: see
                                                           'dockin rm migrate --help')

Runs the resource manager: the webhook (/rmController/getPodMultiNetwork), the admin API (/api/v1) and
the console (/ui/: a web page over the same API; sign in with a token of --token-file when set).

options:
  --listen HOST:PORT       address to serve on (default 127.0.0.1:10002; [::1]:10002 for IPv6)
  --store SPEC             sqlite:PATH (default sqlite:/var/lib/dockin/rm.db) or etcd:URL[,URL…] (every member)
  --etcd-ca PATH           etcd: CA bundle (PEM) of the members' certificates (https:// endpoints)
  --etcd-cert PATH         etcd: client certificate (PEM) when the members require one …
  --etcd-key PATH          … and its key
  --etcd-prefix PREFIX     etcd: key prefix (default /dockin); RMs sharing one prefix share one state
  --sqlite-sync MODE       full (default: fsync every commit) or normal (survives kill -9, not power loss)
  --token-file PATH        require "Authorization: Bearer <token>" (one token a line) on the admin API and
                           /metrics; SIGHUP re-reads the file
  --webhook-auth MODE      token (default: the webhook and release endpoints need the token too) or none
  --tls-cert PATH          serve HTTPS with this certificate (PEM) …
  --tls-key PATH           … and this key
  --client-ca PATH         require client certificates signed by this CA (with --tls-cert)
  --log-file PATH          write the structured JSON log lines here (default: stderr)
  --log-level LEVEL        error, warn, info (default) or debug (debug logs every request)
  --shutdown-grace SECS    on SIGTERM, how long requests in flight may take (default 10)
  --history-retention DUR  how long address history is kept: 90d (default), 12h, 30m…, or 0 (forever);
                           pruned in the background (an address's latest event is always kept)
`;

class UsageError extends Error {}

function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (m === null || port > 65535)
    throw new UsageError(`--listen "${text}": expected HOST:PORT (e.g. 127.0.0.1:10002)`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

const read = (flag: string, path: string): Buffer => {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`${flag} ${path}: ${errorText(err)}`);
  }
};

async function serve(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      listen: { type: "string", default: "127.0.0.1:10002" },
      store: { type: "string", default: "sqlite:/var/lib/dockin/rm.db" },
      "sqlite-sync": { type: "string", default: "full" },
      "etcd-ca": { type: "string" },
      "etcd-cert": { type: "string" },
      "etcd-key": { type: "string" },
      "etcd-prefix": { type: "string" },
      "token-file": { type: "string" },
      "webhook-auth": { type: "string", default: "token" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "client-ca": { type: "string" },
      "log-file": { type: "string" },
      "log-level": { type: "string", default: "info" },
      "shutdown-grace": { type: "string", default: "10" },
      "history-retention": { type: "string", default: DEFAULT_RETENTION },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { host, port } = parseListen(values.listen);
  const sync = values["sqlite-sync"];
  if (sync !== "full" && sync !== "normal")
    throw new UsageError(`--sqlite-sync "${sync}": expected full or normal`);
  const webhookAuth = values["webhook-auth"];
  if (webhookAuth !== "token" && webhookAuth !== "none")
    throw new UsageError(`--webhook-auth "${webhookAuth}": expected token or none`);
  const level = values["log-level"];
  if (!isLevel(level)) throw new UsageError(`--log-level "${level}": expected error, warn, info or debug`);
  const grace = Number(values["shutdown-grace"]);
  if (!Number.isFinite(grace) || grace < 0) throw new UsageError(`--shutdown-grace: expected seconds`);
  let retentionMs: number;
  try {
    retentionMs = parseRetention(values["history-retention"]);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let tls: TlsOptions | undefined;
  if (values["tls-cert"] !== undefined || values["tls-key"] !== undefined) {
    if (values["tls-cert"] === undefined || values["tls-key"] === undefined)
      throw new UsageError("--tls-cert and --tls-key go together");
    tls = { cert: read("--tls-cert", values["tls-cert"]), key: read("--tls-key", values["tls-key"]) };
    if (values["client-ca"] !== undefined) tls.clientCa = read("--client-ca", values["client-ca"]);
  } else if (values["client-ca"] !== undefined) {
    throw new UsageError(
      "--client-ca needs --tls-cert and --tls-key (client certificates are a TLS feature)",
    );
  }
  let tokens: Tokens | undefined;
  if (values["token-file"] !== undefined) {
    try {
      tokens = new Tokens(read("--token-file", values["token-file"]).toString("utf8"));
    } catch (err) {
      throw new UsageError(`--token-file ${values["token-file"]}: ${errorText(err)}`);
    }
  }

  const logger = rmLogger(values["log-file"], level, { component: "rm" });
  const store = await openStore(values.store, {
    sqliteSync: sync,
    etcd: {
      ...(values["etcd-ca"] === undefined ? {} : { ca: values["etcd-ca"] }),
      ...(values["etcd-cert"] === undefined ? {} : { cert: values["etcd-cert"] }),
      ...(values["etcd-key"] === undefined ? {} : { key: values["etcd-key"] }),
      ...(values["etcd-prefix"] === undefined ? {} : { prefix: values["etcd-prefix"] }),
    },
  });
  const server = new RmServer({
    // On etcd, other replicas write too: the webhook reads every network afresh (no cache), so a
    // reply reflects every write acknowledged by any replica.
    service: new RmService(store, store.description.startsWith("etcd:") ? { networkCacheMs: 0 } : {}),
    logger,
    debug: level === "debug",
    ...(tokens === undefined ? {} : { tokens }),
    webhookAuth: webhookAuth === "token",
    ...(tls === undefined ? {} : { tls }),
  });
  try {
    await server.listen(host, port);
  } catch (err) {
    await store.close();
    throw new Error(`listening on ${values.listen}`, { cause: err });
  }
  const pruner = new HistoryPruner(store, retentionMs, logger);
  pruner.start();

  // SIGHUP re-reads the token file (rotation without a restart); a bad file keeps the old tokens.
  const tokenFile = values["token-file"];
  const reload = () => {
    if (tokenFile === undefined) return logger.info("SIGHUP: no --token-file to reload");
    try {
      server.setTokens(new Tokens(readFileSync(tokenFile, "utf8")));
      logger.info("token file reloaded", { file: tokenFile });
    } catch (err) {
      logger.error("token file reload failed; the previous tokens stay", {
        file: tokenFile,
        error: errorText(err),
      });
    }
  };
  process.on("SIGHUP", reload);
  // The handlers are in place before "listening" is logged: whoever waits for that line may stop
  // the RM at once, and gets a graceful shutdown.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      process.off("SIGHUP", reload);
      logger.info("shutting down", { signal });
      resolve();
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  logger.info("listening", {
    url: server.url,
    console: `${server.url}/ui/`,
    store: store.description,
    auth: tokens === undefined ? "none" : "token",
    webhookAuth: tokens === undefined ? "none" : webhookAuth,
    tls: tls === undefined ? "off" : tls.clientCa === undefined ? "on" : "client certificates",
    historyRetention: values["history-retention"],
  });
  await stopped;
  await server.close(grace * 1000);
  await pruner.stop();
  await store.close();
  logger.info("stopped");
  return 0;
}

export default async function rmCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    process.stdout.write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub === "migrate") return (await import("./rm-migrate.ts")).default(rest);
  if (sub !== "serve") {
    process.stderr.write(`dockin rm: unknown subcommand "${sub}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await serve(rest);
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`dockin rm serve: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`dockin rm serve: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
