// The console's figures: the bundle's size (raw and gzip) as served at /ui, building the address
// map of a /16 (65,536 cells) in Node, and in Debian's chromium (headless) drawing it and showing
// a /16 network's page (API reads included) with PODS pods on it.
// Usage: npm run build && bun bench/console.ts [rounds] [pods]   (15 and 1000 by default)
import { performance } from "node:perf_hooks";
import { gzipSync } from "node:zlib";
import { APP_CSS, APP_JS } from "../src/rm/ui/assets.gen.ts";
import { buildPoolMap } from "../src/rm/ui/client/pool.ts";
import { startRm } from "../test/rm/helpers.ts";
import { openBrowser } from "../test/ui/browser.ts";
import { median } from "./stats.ts";

const rounds = Number(process.argv[2] ?? 15);
const pods = Number(process.argv[3] ?? 1000);

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const js = gzipSync(APP_JS, { level: 9 }).length;
const css = gzipSync(APP_CSS, { level: 9 }).length;
console.log(
  `bundle: app.js ${kib(APP_JS.length)} (${kib(js)} gzip), app.css ${kib(APP_CSS.length)} (${kib(css)} gzip); total ${kib(js + css)} gzip`,
);

const held = Array.from({ length: pods }, (_, i) => ({
  address: `10.250.${(i + 2) >> 8}.${(i + 2) & 255}`,
  pod: `load/app-${i}`,
  fixed: i % 10 === 0,
}));
const build: number[] = [];
for (let i = 0; i < rounds; i++) {
  const t = performance.now();
  buildPoolMap({ subnet: "10.250.0.0/16", gateway: "10.250.0.1" }, held);
  build.push(performance.now() - t);
}
console.log(
  `build the map of a /16 with ${pods} held (in this process): median ${median(build).toFixed(2)} ms`,
);

const rm = await startRm();
const browser = await openBrowser();
try {
  await rm.call("PUT", "/api/v1/networks/big", { subnet: "10.250.0.0/16", gateway: "10.250.0.1" });
  for (let i = 0; i < pods; i += 50)
    await Promise.all(
      Array.from({ length: Math.min(50, pods - i) }, (_, j) =>
        rm.call("PUT", `/api/v1/pods/load/app-${i + j}`, { networks: [{ network: "big" }] }),
      ),
    );
  const page = await browser.context.newPage();
  await page.goto(`${rm.url}/ui/#/pods`);
  const draw: number[] = [];
  const show: number[] = [];
  for (let i = 0; i < rounds; i++) {
    for (const hash of ["#/policies", "#/networks/big"]) {
      const ms = await page.evaluate(async (h) => {
        const t = performance.now();
        location.hash = h;
        while (document.body.dataset.route !== h || document.body.dataset.loading !== undefined)
          await new Promise((r) => setTimeout(r, 1));
        return performance.now() - t;
      }, hash);
      if (hash === "#/networks/big") show.push(ms);
    }
    draw.push(await page.evaluate(() => window.dockinConsole?.maps.big?.drawMs ?? Number.NaN));
  }
  console.log(`draw a /16 on the canvas (chromium): median ${median(draw).toFixed(2)} ms over ${rounds}`);
  console.log(
    `show the /16 network's page (${pods} pods read through the API, map, figures): median ${median(show).toFixed(1)} ms`,
  );
} finally {
  await browser.close();
  await rm.stop();
}
