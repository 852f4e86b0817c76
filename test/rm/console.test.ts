// The console's HTTP side without a browser: the login, the session cookie, CSRF and Origin
// checks on the same /api/v1 the CLI uses, and the bundled assets (the browser runs are in
// test/ui/console.test.ts).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bundleUi } from "../../scripts/build-ui.ts";
import { Tokens } from "../../src/rm/http.ts";
import { APP_CSS, APP_JS } from "../../src/rm/ui/assets.gen.ts";
import { newSession, validSession } from "../../src/rm/ui/session.ts";
import { obj, type Rm, startRm, startRmProcess } from "./helpers.ts";

const TOKEN = "admin-token-1";

/** The session cookie a login sets, and its attributes. */
async function login(
  rm: Rm,
  token: string,
): Promise<{ status: number; cookie?: string; setCookie: string; body: string }> {
  const res = await fetch(`${rm.url}/ui/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: rm.url },
    body: new URLSearchParams({ token }).toString(),
  });
  const setCookie = res.headers.get("set-cookie") ?? "";
  const m = /^(dockin_console=[^;]+)/.exec(setCookie);
  return {
    status: res.status,
    setCookie,
    body: await res.text(),
    ...(m?.[1] === undefined ? {} : { cookie: m[1] }),
  };
}

async function csrfOf(rm: Rm, cookie: string): Promise<string> {
  const html = await (await fetch(`${rm.url}/ui/`, { headers: { cookie } })).text();
  const m = /<meta name="dockin-csrf" content="([^"]+)">/.exec(html);
  assert.ok(m?.[1], `no CSRF token in the page: ${html}`);
  return m[1];
}

describe("console access with tokens", () => {
  let rm: Rm;
  before(async () => {
    rm = await startRm({ tokens: new Tokens(`${TOKEN}\nadmin-token-2\n`), webhookAuth: false });
  });
  after(() => rm.stop());

  it("sends a visitor without a session to the login form; the app script needs a session", async () => {
    const page = await fetch(`${rm.url}/ui/`, { redirect: "manual" });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get("location"), "/ui/login");
    assert.equal((await fetch(`${rm.url}/ui`, { redirect: "manual" })).headers.get("location"), "/ui/");
    const form = await fetch(`${rm.url}/ui/login`);
    assert.equal(form.status, 200);
    assert.match(await form.text(), /<label for="token">Admin token<\/label>/);
    assert.match(form.headers.get("content-security-policy") ?? "", /default-src 'none'; script-src 'self'/);
    assert.equal((await fetch(`${rm.url}/ui/app.js`)).status, 401);
    assert.equal((await fetch(`${rm.url}/ui/app.css`)).status, 200);
    assert.equal((await fetch(`${rm.url}/ui/nothing`)).status, 404);
  });

  it("refuses a wrong or empty token, and a login posted from another origin", async () => {
    const wrong = await login(rm, "nope");
    assert.equal(wrong.status, 403);
    assert.equal(wrong.cookie, undefined);
    assert.match(wrong.body, /This token is not accepted/);
    assert.equal((await login(rm, "")).status, 401);
    const foreign = await fetch(`${rm.url}/ui/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://evil.example" },
      body: `token=${TOKEN}`,
    });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.headers.get("set-cookie"), null);
  });

  it("the webhook being open (--webhook-auth none) opens nothing of the console", async () => {
    assert.equal((await rm.call("GET", "/rmController/getPodMultiNetwork?podName=x")).status, 404);
    assert.equal((await fetch(`${rm.url}/ui/`, { redirect: "manual" })).status, 303);
    assert.equal((await rm.call("GET", "/api/v1/networks")).status, 401);
  });

  it("a login sets an HttpOnly, SameSite=Strict cookie that opens the console and reads the API", async () => {
    const { status, cookie, setCookie } = await login(rm, TOKEN);
    assert.equal(status, 303);
    assert.ok(cookie);
    assert.match(setCookie, /; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    const page = await fetch(`${rm.url}/ui/`, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script src="\/ui\/app.js" defer><\/script>/);
    const js = await fetch(`${rm.url}/ui/app.js`, { headers: { cookie } });
    assert.equal(js.status, 200);
    assert.equal(await js.text(), APP_JS);
    assert.equal((await rm.call("GET", "/api/v1/networks", undefined, { cookie })).status, 200);
    // A character in the middle of the signature: the last base64url character carries padding
    // bits, so changing it may decode to the same bytes (a valid cookie, ~1 run in 16).
    const at = cookie.length - 8;
    const forged = `${cookie.slice(0, at)}${cookie[at] === "A" ? "B" : "A"}${cookie.slice(at + 1)}`;
    assert.equal((await rm.call("GET", "/api/v1/networks", undefined, { cookie: forged })).status, 401);
  });

  it("a write with the cookie needs the page's CSRF header and the RM's own Origin", async () => {
    const { cookie } = await login(rm, TOKEN);
    assert.ok(cookie);
    const body = { subnet: "10.99.0.0/24" };
    const bare = await rm.call("PUT", "/api/v1/networks/csrf-a", body, { cookie });
    assert.equal(bare.status, 403);
    assert.match(String(obj(bare).message), /x-dockin-csrf/);
    const csrf = await csrfOf(rm, cookie);
    const other = await login(rm, TOKEN);
    assert.ok(other.cookie);
    const otherCsrf = await csrfOf(rm, other.cookie);
    assert.equal(
      (await rm.call("PUT", "/api/v1/networks/csrf-a", body, { cookie, "x-dockin-csrf": otherCsrf })).status,
      403,
      "another session's CSRF token",
    );
    const foreign = await rm.call("PUT", "/api/v1/networks/csrf-a", body, {
      cookie,
      "x-dockin-csrf": csrf,
      origin: "http://evil.example",
    });
    assert.equal(foreign.status, 403);
    assert.match(String(obj(foreign).message), /origin http:\/\/evil.example is refused/);
    const ok = await rm.call("PUT", "/api/v1/networks/csrf-a", body, {
      cookie,
      "x-dockin-csrf": csrf,
      origin: rm.url,
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    // The CLI's way is unchanged: a bearer token, no Origin, no CSRF header.
    const cli = await rm.call("DELETE", "/api/v1/networks/csrf-a", undefined, {
      authorization: `Bearer ${TOKEN}`,
    });
    assert.equal(cli.status, 200);
  });

  it("logging out clears the cookie", async () => {
    const res = await fetch(`${rm.url}/ui/logout`, {
      method: "POST",
      redirect: "manual",
      headers: { origin: rm.url },
    });
    assert.equal(res.status, 303);
    assert.match(res.headers.get("set-cookie") ?? "", /^dockin_console=; .*Max-Age=0/);
  });
});

describe("console sessions", () => {
  it("end when they expire or when their token leaves the token file", () => {
    const tokens = new Tokens("a\nb\n");
    const now = Date.parse("2026-11-30T10:00:00Z");
    const s = newSession(tokens, now);
    assert.equal(validSession(tokens, s, now), true);
    assert.equal(validSession(tokens, s, now + 12 * 3600 * 1000), false);
    assert.equal(validSession(new Tokens("b\na\n"), s, now), true, "still signed by a listed token");
    assert.equal(validSession(new Tokens("b\n"), s, now), false, "signed by a rotated-out token");
    assert.equal(validSession(tokens, `${s}x`, now), false);
    assert.equal(validSession(tokens, s.replace(/^v1\.\d+/, `v1.${now / 1000 + 10 ** 7}`), now), false);
  });
});

describe("console without tokens", () => {
  let rm: Rm;
  before(async () => {
    rm = await startRm();
  });
  after(() => rm.stop());

  it("opens like the API does, and still refuses writes from another origin", async () => {
    const page = await fetch(`${rm.url}/ui/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<meta name="dockin-auth" content="none">/);
    assert.equal((await fetch(`${rm.url}/ui/login`, { redirect: "manual" })).status, 303);
    assert.equal((await fetch(`${rm.url}/ui/app.js`)).status, 200);
    const foreign = await rm.call(
      "PUT",
      "/api/v1/networks/x",
      { subnet: "10.1.0.0/24" },
      { origin: "http://evil.example" },
    );
    assert.equal(foreign.status, 403);
    assert.equal((await rm.call("PUT", "/api/v1/networks/x", { subnet: "10.1.0.0/24" })).status, 201);
  });
});

describe("console assets", () => {
  it("src/rm/ui/assets.gen.ts is the bundle of the current client source", async () => {
    const { js, css } = await bundleUi();
    assert.equal(APP_JS, js, "stale: run node scripts/build-ui.ts");
    assert.equal(APP_CSS, css, "stale: run node scripts/build-ui.ts");
    assert.doesNotMatch(APP_JS + APP_CSS, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, "no asset from outside");
  });
});

describe("dockin rm serve", () => {
  it("serves the console from the executable, behind --token-file, and logs its URL", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dockin-console-"));
    writeFileSync(join(dir, "tokens"), `${TOKEN}\n`);
    const rm = await startRmProcess([
      "--store",
      `sqlite:${join(dir, "rm.db")}`,
      "--token-file",
      join(dir, "tokens"),
    ]);
    try {
      assert.match(rm.log(), /"console":"http:\/\/127\.0\.0\.1:\d+\/ui\/"/);
      assert.equal(
        (await fetch(`${rm.url}/ui/`, { redirect: "manual" })).headers.get("location"),
        "/ui/login",
      );
      const res = await fetch(`${rm.url}/ui/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `token=${TOKEN}`,
      });
      const cookie = /^(dockin_console=[^;]+)/.exec(res.headers.get("set-cookie") ?? "")?.[1];
      assert.ok(cookie);
      const js = await fetch(`${rm.url}/ui/app.js`, { headers: { cookie } });
      assert.equal(js.status, 200);
      assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/);
      // The bundle the executable was built with (the same as APP_JS once `npm run build` ran).
      assert.match(await js.text(), /window\.dockinConsole/);
    } finally {
      await rm.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
