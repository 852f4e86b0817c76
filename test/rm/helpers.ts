// Test helpers for the RM: a real server on port 0 over a real SQLite file in a temp dir.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Tokens } from "../../src/rm/http.ts";
import { streamLogger } from "../../src/rm/log.ts";
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
  const logger = streamLogger("error");
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

/** The dockin CLI as a command line: the executable that ships (`npm run build` makes it). */
export function dockinCommand(): string[] {
  const built = join(import.meta.dirname, "..", "..", "dist", "bin", "dockin");
  if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` (./dev setup)`);
  return [built];
}

export interface RmProcess {
  url: string;
  child: ChildProcess;
  /** stderr so far (the structured log). */
  log(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `dockin rm serve --listen 127.0.0.1:0 …` as a child process; resolves once it listens. */
export function startRmProcess(args: string[]): Promise<RmProcess> {
  const [cmd, ...pre] = dockinCommand();
  const child = spawn(cmd ?? "", [...pre, "rm", "serve", "--listen", "127.0.0.1:0", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the RM did not start within 10 s: ${stderr}`));
    }, 10_000);
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`the RM exited (${code}) before listening: ${stderr}`));
    };
    child.once("exit", early);
    let listening = false;
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (listening) return;
      const m = /"msg":"listening".*?"url":"([^"]+)"/.exec(stderr);
      if (m?.[1] !== undefined) {
        listening = true;
        clearTimeout(timer);
        child.off("exit", early);
        resolve({
          url: m[1],
          child,
          log: () => stderr,
          stop: async (signal = "SIGTERM") => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
  });
}

/** Runs the dockin CLI; resolves with its exit code and output. */
export function runDockin(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, ...pre] = dockinCommand();
  return new Promise((resolve) => {
    execFile(
      cmd ?? "",
      [...pre, ...args],
      { env: { ...process.env, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
