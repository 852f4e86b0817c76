// Debian's chromium, headless, driven by playwright-core (no browser download: the system's
// /usr/bin/chromium), with a fresh profile in a temp dir removed on close.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.DOCKIN_CHROMIUM ?? "/usr/bin/chromium";

/** The browser's time zone in the tests: half an hour off the hour, to catch a lost offset. */
export const BROWSER_ZONE = "Asia/Kolkata";
export const BROWSER_OFFSET = "+05:30";

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set DOCKIN_CHROMIUM)`);
  }
  const profile = mkdtempSync(join(tmpdir(), "dockin-chromium-"));
  try {
    // launchPersistentContext passes `profile` as --user-data-dir and --headless (headless: true).
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      // A zone of its own, not the machine's: the console shows times in the browser's zone.
      timezoneId: BROWSER_ZONE,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    return {
      context,
      async close() {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}

/** Every input, select and textarea of the page that has no label (empty when all have one). */
export function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLInputElement>("input, select, textarea")]
      .filter((el) => el.type !== "hidden")
      .filter((el) => {
        const label = [...(el.labels ?? [])].map((l) => l.textContent?.trim() ?? "").join("");
        return label === "" && (el.getAttribute("aria-label") ?? "") === "";
      })
      .map((el) => `${el.tagName.toLowerCase()}[name=${el.name}]`),
  );
}

/** What Tab reaches, in order, from the top of the page: `tag: accessible text` per stop. */
export async function tabStops(page: Page, count: number): Promise<string[]> {
  // Focus starts from the top of the page, as after loading it (a mark outside the tab order).
  await page.evaluate(() => {
    const mark = document.createElement("span");
    mark.id = "tab-start";
    mark.tabIndex = -1;
    document.body.prepend(mark);
    mark.focus();
  });
  const stops: string[] = [];
  for (let i = 0; i < count; i++) {
    await page.keyboard.press("Tab");
    stops.push(
      await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (el === null || el === document.body) return "(body)";
        const input = el as HTMLInputElement;
        const label = input.labels?.[0]?.textContent?.trim();
        const text = label ?? el.getAttribute("aria-label") ?? el.textContent?.trim() ?? "";
        return `${el.tagName.toLowerCase()}: ${text}`;
      }),
    );
  }
  await page.evaluate(() => document.getElementById("tab-start")?.remove());
  return stops;
}
