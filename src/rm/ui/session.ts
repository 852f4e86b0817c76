// Console sessions: after a login with the admin token, the browser holds a signed cookie
// (HttpOnly, SameSite=Strict) instead of the token. The cookie is stateless, signed with the
// token itself (Tokens.sign), so it works on every RM replica that shares the token file, and a
// token removed from the file (SIGHUP) ends its sessions. Writes made with the cookie must also
// carry the session's CSRF token in a header (`x-dockin-csrf`), which a page on another site can
// neither read nor send; any write whose Origin is not the RM's own is refused as well.
import { randomBytes } from "node:crypto";
import { RmError } from "../errors.ts";
import type { Tokens } from "../http.ts";

export const SESSION_COOKIE = "dockin_console";
export const CSRF_HEADER = "x-dockin-csrf";
/** How long a console login lasts. */
export const SESSION_SECONDS = 12 * 3600;

/** A new session cookie's value: `v1.<expiry seconds>.<nonce>.<signature>`. */
export function newSession(tokens: Tokens, nowMs = Date.now()): string {
  const payload = `v1.${Math.floor(nowMs / 1000) + SESSION_SECONDS}.${randomBytes(16).toString("base64url")}`;
  return `${payload}.${tokens.sign(`session|${payload}`)}`;
}

/** Whether a cookie value is a live session signed by an accepted token. */
export function validSession(tokens: Tokens, value: string, nowMs = Date.now()): boolean {
  const m = /^(v1\.(\d{1,12})\.[\w-]{22})\.([\w-]{43})$/.exec(value);
  if (m === null) return false;
  if (Number(m[2]) * 1000 <= nowMs) return false;
  return tokens.verify(`session|${m[1]}`, m[3] ?? "");
}

/** The CSRF token of a session: the page gets it with the HTML and sends it on every write. */
export function csrfToken(tokens: Tokens, session: string): string {
  return tokens.sign(`csrf|${session}`);
}

export function checkCsrf(tokens: Tokens, session: string, given: string | undefined): void {
  if (given === undefined || !tokens.verify(`csrf|${session}`, given)) {
    throw new RmError(
      "Forbidden",
      `a write with the console's cookie needs the ${CSRF_HEADER} header of its page (reload the console)`,
    );
  }
}

/** The value of one cookie of a request, if sent. */
export function cookie(headers: Headers, name: string): string | undefined {
  const header = headers.get("cookie");
  if (header === null) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(value: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}${secure ? "; Secure" : ""}`;
}

export function clearedCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? "; Secure" : ""}`;
}

/**
 * Refuses a write (any method but GET/HEAD) sent by a browser page of another origin: browsers
 * send `Origin` on such requests; clients such as the CLI send none and are not affected.
 */
export function checkOrigin(req: Request, secure: boolean): void {
  const method = req.method;
  if (method === "GET" || method === "HEAD") return;
  const origin = req.headers.get("origin");
  if (origin === null) return;
  const own = `${secure ? "https" : "http"}://${req.headers.get("host") ?? ""}`;
  if (origin !== own) {
    throw new RmError("Forbidden", `a write from the origin ${origin} is refused (this RM is ${own})`);
  }
}
