// Test helpers for the RM: a real server on port 0 over a real SQLite file in a temp dir.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "../../src/cni/log.ts";
import type { Tokens } from "../../src/rm/http.ts";
import { RmServer, type TlsOptions } from "../../src/rm/server.ts";
import { RmService } from "../../src/rm/service.ts";
import { openSqliteStore } from "../../src/rm/sqlite-store.ts";
import type { Store } from "../../src/rm/store.ts";

export interface Rm {
  url: string;
  dir: string;
  dbPath: string;
  store: Store;
  server: RmServer;
  /** Sends JSON, returns status and parsed body. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  stop(): Promise<void>;
}

export interface Reply {
  status: number;
  body: unknown;
  headers: Headers;
}

/** The parsed body as a record, for reading fields in assertions. */
export const obj = (r: Reply): Record<string, unknown> => r.body as Record<string, unknown>;

export async function startRm(
  options: { tokens?: Tokens; webhookAuth?: boolean; tls?: TlsOptions; dir?: string } = {},
): Promise<Rm> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "dockin-rm-"));
  const dbPath = join(dir, "rm.db");
  const store = await openSqliteStore(dbPath);
  const logger = new Logger({}, { stderr: false });
  logger.configure(undefined, "error");
  const server = new RmServer({
    service: new RmService(store),
    logger,
    ...(options.tokens === undefined ? {} : { tokens: options.tokens }),
    ...(options.webhookAuth === undefined ? {} : { webhookAuth: options.webhookAuth }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  await server.listen("127.0.0.1", 0);
  const url = server.url;
  return {
    url,
    dir,
    dbPath,
    store,
    server,
    async call(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)["content-type"] = "application/json";
      }
      const res = await fetch(`${url}${path}`, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON (metrics)
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async stop() {
      await server.close(1000);
      await store.close();
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}
