// The web console's pages at /ui: the login form, the page that loads the app, and the app's
// script and styles, all from the executable (assets.gen.ts, made by scripts/build-ui.ts). The
// app itself talks to the same /api/v1 the CLI uses.
import { RmError } from "../errors.ts";
import { type Reply, readText, type Tokens } from "../http.ts";
import { APP_CSS, APP_JS } from "./assets.gen.ts";
import {
  clearedCookie,
  cookie,
  csrfToken,
  newSession,
  SESSION_COOKIE,
  sessionCookie,
  validSession,
} from "./session.ts";

const LOGIN_BODY_LIMIT = 8 * 1024;

/** Headers of every console reply: nothing from elsewhere, no framing, no sniffing. */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
};

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string, head = ""): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/app.css">
${head}
</head>
<body>
${body}
</body>
</html>
`;
}

function loginPage(message: string | undefined): string {
  const error =
    message === undefined
      ? ""
      : `<p class="field-error" id="token-error" role="alert">${escapeHtml(message)}</p>`;
  return page(
    "Dockin console: sign in",
    `<main class="login">
<h1>Dockin console</h1>
<form method="post" action="/ui/login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus${message === undefined ? "" : ' aria-invalid="true" aria-describedby="token-error"'}>
${error}
<button type="submit">Sign in</button>
<p class="hint">One of the tokens of the RM's <code>--token-file</code> (the admin token).</p>
</form>
</main>`,
  );
}

export class Console {
  private readonly secure: boolean;

  constructor(options: { secure: boolean }) {
    this.secure = options.secure;
  }

  async handle(req: Request, res: Reply, path: string, tokens: Tokens | undefined): Promise<void> {
    const method = req.method === "HEAD" ? "GET" : req.method;
    const session = cookie(req.headers, SESSION_COOKIE);
    const signedIn = tokens === undefined || (session !== undefined && validSession(tokens, session));
    const allow = (...methods: string[]) => {
      if (methods.includes(method)) return;
      res.setHeader("allow", methods.join(", "));
      throw new RmError("MethodNotAllowed", `${req.method} is not allowed on ${path}`);
    };
    switch (path) {
      case "/ui":
        allow("GET");
        return this.redirect(res, "/ui/");
      case "/ui/": {
        allow("GET");
        if (!signedIn) return this.redirect(res, "/ui/login");
        const csrf = tokens === undefined || session === undefined ? "" : csrfToken(tokens, session);
        const head =
          `<meta name="dockin-auth" content="${tokens === undefined ? "none" : "token"}">\n` +
          `<meta name="dockin-csrf" content="${escapeHtml(csrf)}">\n<script src="/ui/app.js" defer></script>`;
        return this.send(
          res,
          200,
          "text/html; charset=utf-8",
          page("Dockin console", '<div id="app"></div>', head),
        );
      }
      case "/ui/login":
        allow("GET", "POST");
        if (tokens === undefined) return this.redirect(res, "/ui/");
        if (method === "GET") return this.send(res, 200, "text/html; charset=utf-8", loginPage(undefined));
        return this.login(req, res, tokens);
      case "/ui/logout":
        allow("POST");
        res.setHeader("set-cookie", clearedCookie(this.secure));
        return this.redirect(res, tokens === undefined ? "/ui/" : "/ui/login");
      case "/ui/app.css":
        allow("GET");
        return this.send(res, 200, "text/css; charset=utf-8", APP_CSS, true);
      case "/ui/app.js":
        allow("GET");
        if (!signedIn) throw new RmError("Unauthorized", "sign in to the console first (/ui/login)");
        return this.send(res, 200, "text/javascript; charset=utf-8", APP_JS, true);
      default:
        throw new RmError("NotFound", `no such console page: ${path}`);
    }
  }

  private async login(req: Request, res: Reply, tokens: Tokens): Promise<void> {
    const form = new URLSearchParams(await readText(req, LOGIN_BODY_LIMIT, "the login form"));
    const token = form.get("token") ?? "";
    try {
      tokens.check(`Bearer ${token.trim()}`);
    } catch (err) {
      const message =
        err instanceof RmError && err.reason === "Forbidden"
          ? "This token is not accepted."
          : "Enter the admin token.";
      return this.send(
        res,
        err instanceof RmError ? err.status : 401,
        "text/html; charset=utf-8",
        loginPage(message),
      );
    }
    res.setHeader("set-cookie", sessionCookie(newSession(tokens), this.secure));
    this.redirect(res, "/ui/");
  }

  private redirect(res: Reply, location: string): void {
    res.send(303, { location, "cache-control": "no-store", ...SECURITY_HEADERS });
  }

  private send(res: Reply, status: number, type: string, text: string, cacheable = false): void {
    res.send(
      status,
      {
        "content-type": type,
        "cache-control": cacheable ? "private, max-age=300" : "no-store",
        ...SECURITY_HEADERS,
      },
      text,
    );
  }
}
