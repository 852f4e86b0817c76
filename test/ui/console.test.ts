// The console in a real browser (Debian's chromium, headless, through playwright-core) against a
// real RM on SQLite with networks, a policy and pods. Screenshots of each page go to a temp dir
// (removed afterwards) or, with DOCKIN_UI_SCREENSHOTS=DIR, to DIR (kept: docs/images for the README).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Locator, Page } from "playwright-core";
import { formatIP } from "../../src/net/ip.ts";
import { Tokens } from "../../src/rm/http.ts";
import { COLORS } from "../../src/rm/ui/client/map.ts";
import { STATES } from "../../src/rm/ui/client/pool.ts";
import { obj, type Rm, startRm } from "../rm/helpers.ts";
import { BROWSER_OFFSET, type Browser, openBrowser, tabStops, unlabelled } from "./browser.ts";

const TOKEN = "console-admin-token";
/** Pods beside the named ones: more than a page of the pods table (50). */
const LOAD = 120;
const bearer = { authorization: `Bearer ${TOKEN}` };

const keep = process.env.DOCKIN_UI_SCREENSHOTS;
const shots = keep ?? mkdtempSync(join(tmpdir(), "dockin-ui-shots-"));
mkdirSync(shots, { recursive: true });

interface PodJson {
  namespace: string;
  name: string;
  networks: { network: string; addresses: { address: string; fixed: boolean }[] }[];
}

let rm: Rm;
let browser: Browser;
let page: Page;
/** Script errors in the page: none may happen. */
const pageErrors: string[] = [];

async function api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await rm.call(method, path, body, bearer);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return obj(r);
}

/** Opens a console route and waits until the app has drawn it. */
async function visit(hash: string): Promise<void> {
  await page.goto(`${rm.url}/ui/${hash}`);
  await settle(hash);
}

async function settle(hash: string): Promise<void> {
  assert.deepEqual(pageErrors, [], "errors in the page");
  await page.waitForFunction(
    (h) => document.body.dataset.route === h && document.body.dataset.loading === undefined,
    hash,
  );
}

async function shot(name: string): Promise<void> {
  const file = join(shots, `console-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  const png = readFileSync(file);
  assert.equal(png.subarray(1, 4).toString(), "PNG", `${file} is a PNG`);
}

async function assertLabelled(where: string): Promise<void> {
  assert.deepEqual(await unlabelled(page), [], `inputs without a label on ${where}`);
}

/** The text shown next to a form field (its error line), by the input's name. */
const fieldError = (name: string): Promise<string> =>
  page
    .locator(`.field:has([name="${name}"]) .field-error`)
    .textContent()
    .then((t) => t ?? "");

/** A table's (or row's) text: cells joined by tabs, rows by new lines. */
const cellText = (locator: Locator): Promise<string> =>
  locator.evaluate((el) =>
    [...(el.tagName === "TR" ? [el] : el.querySelectorAll("tr"))]
      .map((tr) => [...tr.querySelectorAll("td, th")].map((c) => c.textContent ?? "").join("\t"))
      .join("\n"),
  );

/** Whether the RM has the address-history endpoints (the issue 14 backend, merged separately). */
async function hasHistory(): Promise<boolean> {
  return (await rm.call("GET", "/api/v1/history?limit=1", undefined, bearer)).status !== 404;
}

before(async () => {
  rm = await startRm({ tokens: new Tokens(`${TOKEN}\n`), webhookAuth: false });
  await api("PUT", "/api/v1/networks/blue", {
    subnet: "10.250.0.0/16",
    gateway: "10.250.0.1",
    exclude: ["10.250.0.2", "10.250.255.100"],
  });
  await api("PUT", "/api/v1/networks/green", {
    subnet: "192.168.77.0/24",
    gateway: "192.168.77.1",
    rangeStart: "192.168.77.10",
    rangeEnd: "192.168.77.200",
    exclude: ["192.168.77.99"],
  });
  await api("PUT", "/api/v1/pods/shop/web-0", {
    networks: [{ network: "blue", ip: "10.250.1.37", master: true }, { network: "green" }],
  });
  await api("PUT", "/api/v1/pods/shop/web-1", { networks: [{ network: "blue" }] });
  await api("PUT", "/api/v1/pods/ops/db-0", { networks: [{ network: "green", ip: "192.168.77.150" }] });
  // A crowd, for the pager and a map with some use: LOAD pods on blue, every fourth on green too.
  for (let i = 0; i < LOAD; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, LOAD - i) }, (_, j) => {
        const n = i + j;
        const networks = [{ network: "blue" }, ...(n % 4 === 0 ? [{ network: "green" }] : [])];
        return api("PUT", `/api/v1/pods/load/app-${String(n).padStart(3, "0")}`, { networks });
      }),
    );
  }
  await api("PUT", "/api/v1/policies/batch", {
    namespace: "batch",
    networks: [{ network: "blue", master: true }],
  });
  // A pod made by the policy, through the webhook the plugin calls.
  const hook = await rm.call(
    "GET",
    "/rmController/getPodMultiNetwork?podName=job-1&podNamespace=batch&containerId=c0ffee&node=node-a",
  );
  assert.equal(hook.status, 200, JSON.stringify(hook.body));
  browser = await openBrowser();
  page = await browser.context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (err) => pageErrors.push(err.message));
  page.on("console", (m) => {
    // A failed request is the app's to show (401 before the login, 404 from an RM without history).
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push(m.text());
  });
});

after(async () => {
  await browser?.close();
  await rm?.stop();
  if (keep === undefined) rmSync(shots, { recursive: true, force: true });
});

describe("the console in chromium", () => {
  it("refuses to open without the admin token, with a wrong one, and with only the (open) webhook", async () => {
    await page.goto(`${rm.url}/ui/`);
    assert.equal(new URL(page.url()).pathname, "/ui/login");
    assert.equal(await page.locator("nav").count(), 0, "no console before the login");
    await assertLabelled("the login page");
    await shot("login");
    // The webhook needs no token on this RM (--webhook-auth none): it answers, the console does not.
    const webhook = await page.request.get(
      `${rm.url}/rmController/getPodMultiNetwork?podName=job-1&podNamespace=batch`,
    );
    assert.equal(webhook.status(), 200);
    assert.equal((await page.request.get(`${rm.url}/api/v1/networks`)).status(), 401);
    assert.equal((await page.request.get(`${rm.url}/ui/app.js`)).status(), 401);
    await page.fill("#token", "not-the-token");
    await page.press("#token", "Enter");
    await page.waitForSelector("#token-error");
    assert.equal(await page.locator("#token-error").textContent(), "This token is not accepted.");
    assert.equal(await page.locator("#token").getAttribute("aria-invalid"), "true");
    assert.deepEqual(await browser.context.cookies(), []);
  });

  it("signs in with the token, by keyboard, into an HttpOnly, SameSite=Strict cookie", async () => {
    await page.goto(`${rm.url}/ui/login`);
    assert.deepEqual(await tabStops(page, 2), ["input: Admin token", "button: Sign in"]);
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.type(TOKEN);
    await page.keyboard.press("Enter");
    await page.waitForURL(`${rm.url}/ui/`);
    await settle("");
    const [cookie] = await browser.context.cookies();
    assert.equal(cookie?.name, "dockin_console");
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, "Strict");
    assert.equal(await page.evaluate(() => document.cookie), "", "the page's script cannot read it");
  });

  it("the networks page shows the counts the API gives", async () => {
    await visit("#/networks");
    const { items } = (await api("GET", "/api/v1/networks")) as { items: Record<string, unknown>[] };
    assert.deepEqual(
      items.map((n) => n.name),
      ["blue", "green"],
    );
    for (const n of items) {
      const card = page.locator(`section.network[data-network="${n.name}"]`);
      for (const figure of ["size", "allocated", "free"]) {
        assert.equal(
          await card.locator(`[data-figure="${figure}"]`).first().textContent(),
          String(n[figure]),
          `${n.name} ${figure}`,
        );
      }
    }
    await assertLabelled("the networks page");
    await shot("networks");
  });

  it("the address maps' allocated and reserved cells are exactly the pods' addresses, drawn in their colours", async () => {
    const { items: pods } = (await api("GET", "/api/v1/pods")) as unknown as { items: PodJson[] };
    const { items: networks } = (await api("GET", "/api/v1/networks")) as {
      items: Record<string, unknown>[];
    };
    for (const n of networks) {
      const name = String(n.name);
      const held = pods.flatMap((p) =>
        p.networks.filter((a) => a.network === name).flatMap((a) => a.addresses),
      );
      // The API gives each address with its prefix length: 10.250.1.37/16.
      const ip = (a: { address: string }) => a.address.replace(/\/\d+$/, "");
      const expected = {
        allocated: held
          .filter((a) => !a.fixed)
          .map(ip)
          .sort(),
        reserved: held
          .filter((a) => a.fixed)
          .map(ip)
          .sort(),
      };
      assert.ok(held.length > 0, `the test gives ${name} some pods`);
      // The map the canvas was drawn from, and what the canvas holds at each of its cells.
      const drawn = await page.evaluate(
        ({ name, states, colors }) => {
          const d = window.dockinConsole?.maps[name];
          if (d === undefined) throw new Error(`no map of ${name}`);
          const ctx = d.canvas.getContext("2d");
          const byState: Record<string, number[]> = {};
          const wrongPixels: string[] = [];
          for (let i = 0; i < d.map.count; i++) {
            const state = states[d.map.states[i] ?? 0] as string;
            if (state !== "free") {
              byState[state] ??= [];
              byState[state].push(i);
            }
            if (state === "free" && i % 97 !== 0) continue; // every non-free cell, a sample of free ones
            const x = (i % d.map.cols) * d.cell;
            const y = Math.floor(i / d.map.cols) * d.cell;
            const px = [...(ctx?.getImageData(x, y, 1, 1).data ?? [])].slice(0, 3);
            if (px.join() !== (colors as Record<string, number[]>)[state]?.join())
              wrongPixels.push(`cell ${i} (${state}): ${px.join()}`);
          }
          return {
            base: d.map.base.value.toString(),
            count: d.map.count,
            byState,
            free: d.map.counts.free,
            wrongPixels: wrongPixels.slice(0, 5),
          };
        },
        { name, states: STATES, colors: COLORS },
      );
      const addresses = (state: string) =>
        (drawn.byState[state] ?? [])
          .map((i) => formatIP({ family: 4, value: BigInt(drawn.base) + BigInt(i) }))
          .sort();
      assert.deepEqual(addresses("allocated"), expected.allocated, `${name}: allocated cells`);
      assert.deepEqual(addresses("reserved"), expected.reserved, `${name}: reserved (fixed) cells`);
      assert.deepEqual(addresses("gateway"), [String(n.gateway)]);
      assert.equal(drawn.free, n.free, `${name}: free cells = the API's free`);
      assert.deepEqual(drawn.wrongPixels, [], `${name}: the canvas draws each cell in its state's colour`);
    }
    const blue = await page.evaluate(() => window.dockinConsole?.maps.blue?.map.count);
    assert.equal(blue, 65_536, "a /16 is drawn whole");
    assert.equal(await page.locator("canvas").count(), 2, "one canvas per pool, not a node per address");
  });

  it("a network's page: the map is reachable by keyboard and names the cell under the cursor", async () => {
    const asked: string[] = [];
    const onRequest = (r: { url(): string }) => {
      if (r.url().includes("/api/v1/pods")) asked.push(new URL(r.url()).search);
    };
    page.on("request", onRequest);
    await visit("#/networks/blue");
    page.off("request", onRequest);
    assert.deepEqual(asked, ["?network=blue&limit=1000"], "the network's pods, not every pod");
    await assertLabelled("a network's page");
    await shot("network");
    await page.focus("canvas.address-map");
    for (let i = 0; i < 37; i++) await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowDown");
    // Cell 256 + 37 of 10.250.0.0/16 (256 columns): 10.250.1.37, held by shop/web-0.
    assert.equal(
      await page.locator("figure.map .status").textContent(),
      "10.250.1.37: reserved by shop/web-0",
    );
    await page.keyboard.press("Enter");
    await settle("#/address/10.250.1.37");
  });

  it("tab order reaches the navigation, the search box and the page's controls", async () => {
    await visit("#/networks");
    const stops = await tabStops(page, 12);
    assert.deepEqual(stops.slice(0, 8), [
      "a: Skip to content",
      "a: Dockin",
      "a: Networks",
      "a: Pods",
      "a: Policies",
      "input: Search",
      "button: Go",
      "button: Sign out",
    ]);
    assert.deepEqual(stops.slice(8, 11), ["a: New network", "a: blue", "a: green"]);
  });

  it("the search box finds a pod by address and shows who holds it and its history", async () => {
    await visit("#/networks");
    await page.focus("#search");
    await page.keyboard.type("10.250.1.37");
    await page.keyboard.press("Enter");
    await settle("#/address/10.250.1.37");
    assert.match(String(await page.locator(".holder").first().textContent()), /^shop\/web-0 on blue/);
    await assertLabelled("an address's page");
    // The address's history: its events, each time in the browser's zone with its offset.
    assert.ok(await hasHistory(), "this RM keeps the address history");
    const rows = page.locator("table.history tbody tr");
    assert.ok((await rows.count()) >= 1, "the address has history");
    const first = await cellText(rows.last());
    assert.match(first, /(allocated|reserved)\s+10\.250\.1\.37\s+shop\/web-0\s+blue/);
    const shown = String(await rows.last().locator("td").first().textContent());
    const at = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) ([+-]\d\d:\d\d)$/.exec(shown);
    assert.ok(at, `a time written the same in every locale, with its offset: ${shown}`);
    assert.equal(at[3], BROWSER_OFFSET);
    const address = (await rm.call("GET", "/api/v1/addresses/10.250.1.37", undefined, bearer)).body as {
      history?: { time: string }[];
    };
    const times = (address.history ?? []).map((e) => Math.floor(Date.parse(e.time) / 1000));
    assert.ok(
      times.includes(Date.parse(`${at[1]}T${at[2]}${at[3]}`) / 1000),
      `${shown} is one of the API's event times (${JSON.stringify(address.history?.map((e) => e.time))})`,
    );
    await page.locator("table.history tbody tr td a").first().click();
    await page.waitForSelector(".then .holder");
    assert.match(String(await page.locator(".then .holder").textContent()), /^shop\/web-0 on blue/);
    await shot("address");
    await page.fill("#search", "db-0");
    await page.press("#search", "Enter");
    await settle("#/search?q=db-0");
    assert.equal(await page.locator("main li a").textContent(), "ops/db-0");
    await shot("search");
  });

  it("the pods page is a filtered, paged table; a pod's page shows networks, addresses and history", async () => {
    // The RM searches and pages: the page asks for its 50 pods, never for every pod.
    const asked: string[] = [];
    const onRequest = (r: { url(): string }) => {
      if (r.url().includes("/api/v1/pods")) asked.push(new URL(r.url()).search);
    };
    page.on("request", onRequest);
    await visit("#/pods");
    const total = LOAD + 4;
    assert.equal(await page.locator("table.pods caption").textContent(), `${total} pods; page 1 of 3`);
    assert.equal(await page.locator("table.pods tbody tr").count(), 50);
    page.off("request", onRequest);
    assert.deepEqual(asked, ["?q=&offset=0&limit=50"]);
    await page.click("text=Next →");
    await settle("#/pods?q=&page=1");
    assert.equal(await page.locator("table.pods caption").textContent(), `${total} pods; page 2 of 3`);
    // In the API's order (namespace, name): batch/job-1, then load/app-000…: row 51 is app-049.
    assert.equal(await page.locator("table.pods tbody tr td:nth-child(2)").first().textContent(), "app-049");
    await page.fill("#pod-filter", "shop/");
    await page.press("#pod-filter", "Enter");
    await settle("#/pods?q=shop%2F");
    const names = await page.locator("table.pods tbody tr td:nth-child(2)").allTextContents();
    assert.deepEqual(names, ["web-0", "web-1"]);
    await visit("#/pods?q=node-a");
    const row = await cellText(page.locator("table.pods tbody tr"));
    assert.match(row, /^batch\s+job-1\s+node-a\s+10\.250\.\d+\.\d+\s+batch\s+no$/);
    await assertLabelled("the pods page");
    await shot("pods");
    await visit("#/pods/shop/web-0");
    const nets = await cellText(page.locator("main table").first());
    assert.match(nets, /blue\s+\S+\s+yes\s+10\.250\.1\.37\/16 \(fixed\)/);
    assert.match(nets, /green\s+\S+\s+192\.168\.77\.\d+/);
    await page.waitForFunction(
      () => !document.querySelector("main")?.textContent?.includes("Loading history"),
    );
    assert.match(await cellText(page.locator("table.history")), /10\.250\.1\.37\s+shop\/web-0/);
    await assertLabelled("a pod's page");
    await shot("pod");
  });

  it("a reservation made in the console appears in the API; a taken address is refused next to the field", async () => {
    await visit("#/reserve");
    assert.deepEqual((await tabStops(page, 17)).slice(8, 14), [
      "input: Namespace",
      "input: Pod name",
      "select: Network",
      "input: Fixed address",
      "input: Interface",
      "button: Reserve",
    ]);
    await assertLabelled("the reservation form");
    await page.fill("[name=namespace]", "shop");
    await page.fill("[name=name]", "web-2");
    await page.selectOption("[name=network]", "blue");
    await page.fill("[name=address]", "10.250.1.37");
    await page.click("main button[type=submit]");
    await page.waitForSelector(".field:has([name=address]) .field-error:not([hidden])");
    const taken = await rm.call(
      "PUT",
      "/api/v1/pods/shop/web-2",
      { networks: [{ network: "blue", ip: "10.250.1.37", master: true }] },
      bearer,
    );
    assert.equal(taken.status, 409);
    assert.equal(await fieldError("address"), String(obj(taken).message));
    await shot("reserve");
    await page.selectOption("[name=network]", "green");
    await page.fill("[name=address]", "192.168.77.177");
    await page.click("main button[type=submit]");
    await settle("#/pods/shop/web-2");
    const pod = (await api("GET", "/api/v1/pods/shop/web-2")) as unknown as PodJson;
    assert.deepEqual(
      pod.networks.map((a) => [a.network, a.addresses]),
      [["green", [{ address: "192.168.77.177/24", gateway: "192.168.77.1", fixed: true }]]],
    );
  });

  it("a bad subnet shows the API's own message next to the field, and nothing is created", async () => {
    await visit("#/networks-new");
    await assertLabelled("the network form");
    await page.fill("[name=name]", "bad");
    await page.fill("[name=subnet]", "10.0.0.1/33");
    await page.fill("[name=gateway]", "10.0.0.1");
    await page.click("main button[type=submit]");
    await page.waitForSelector(".field:has([name=subnet]) .field-error:not([hidden])");
    const direct = await rm.call(
      "PUT",
      "/api/v1/networks/bad",
      { subnet: "10.0.0.1/33", gateway: "10.0.0.1" },
      bearer,
    );
    assert.equal(direct.status, 400);
    const message = String(obj(direct).message);
    const subnetProblem = /subnet: (.*?)(?:; |$)/.exec(message)?.[1];
    assert.ok(subnetProblem, message);
    assert.equal(await fieldError("subnet"), subnetProblem);
    assert.equal(await page.locator("[name=subnet]").getAttribute("aria-invalid"), "true");
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("name")), "subnet");
    assert.equal((await rm.call("GET", "/api/v1/networks/bad", undefined, bearer)).status, 404);
    await shot("network-form");
  });

  it("creates a network and edits a policy through the forms", async () => {
    await visit("#/networks-new");
    await page.fill("[name=name]", "red");
    await page.fill("[name=subnet]", "172.30.4.0/24");
    await page.fill("[name=gateway]", "172.30.4.1");
    await page.fill("[name=exclude]", "172.30.4.9, 172.30.4.10");
    await page.click("main button[type=submit]");
    await settle("#/networks/red");
    const red = await api("GET", "/api/v1/networks/red");
    assert.deepEqual(
      [red.subnet, red.gateway, red.exclude],
      ["172.30.4.0/24", "172.30.4.1", ["172.30.4.9", "172.30.4.10"]],
    );
    await visit("#/policies/batch");
    await assertLabelled("the policy form");
    await page.click("text=Add a network");
    await page.selectOption("[name=network-1]", "red");
    await page.fill("[name=ifName-1]", "bad name!");
    await page.click("main button[type=submit]");
    await page.waitForSelector(".field:has([name=ifName-1]) .field-error:not([hidden])");
    assert.match(await fieldError("ifName-1"), /^"bad name!" /);
    await shot("policy-form");
    await page.fill("[name=ifName-1]", "net1");
    await page.click("main button[type=submit]");
    await settle("#/policies");
    const batch = await api("GET", "/api/v1/policies/batch");
    assert.deepEqual(batch.networks, [
      { network: "blue", master: true, ips: [] },
      { network: "red", ifName: "net1", master: false, ips: [] },
    ]);
    await assertLabelled("the policies page");
    await shot("policies");
  });
});
