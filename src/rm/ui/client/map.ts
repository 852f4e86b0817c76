// The address map: one cell per address of a pool, drawn on a <canvas> (a /16 is 65,536 cells:
// pixels, not DOM nodes). Hovering or moving with the arrow keys names the address and its
// holder; Enter or a click opens the address. The cells drawn are exposed for tests and tools
// as window.dockinConsole.maps[<network>] (the very PoolMap the canvas was drawn from).
import { h, status } from "./dom.ts";
import { type CellState, cellAddress, type PoolMap, STATES } from "./pool.ts";

export const COLORS: Record<CellState, [number, number, number]> = {
  free: [226, 232, 240],
  allocated: [37, 99, 235],
  reserved: [147, 51, 234],
  gateway: [234, 88, 12],
  excluded: [71, 85, 105],
};

const css = (state: CellState): string => `rgb(${COLORS[state].join(",")})`;

export interface DrawnMap {
  map: PoolMap;
  /** Pixels per cell side. */
  cell: number;
  canvas: HTMLCanvasElement;
  /** How long drawing the cells took (ms). */
  drawMs: number;
}

declare global {
  interface Window {
    dockinConsole?: { maps: Record<string, DrawnMap> };
  }
}

function draw(canvas: HTMLCanvasElement, map: PoolMap, cell: number): void {
  const rows = Math.ceil(map.count / map.cols);
  canvas.width = map.cols * cell;
  canvas.height = rows * cell;
  const ctx = canvas.getContext("2d");
  if (ctx === null) return;
  const image = ctx.createImageData(canvas.width, canvas.height);
  const data = image.data;
  const gap = cell >= 4 ? 1 : 0;
  const inner = cell - gap;
  for (let i = 0; i < map.count; i++) {
    const [r, g, b] = COLORS[STATES[map.states[i] ?? 0] as CellState];
    const x0 = (i % map.cols) * cell;
    const y0 = Math.floor(i / map.cols) * cell;
    for (let y = y0; y < y0 + inner; y++) {
      let p = (y * canvas.width + x0) * 4;
      for (let x = 0; x < inner; x++, p += 4) {
        data[p] = r;
        data[p + 1] = g;
        data[p + 2] = b;
        data[p + 3] = 255;
      }
    }
  }
  ctx.putImageData(image, 0, 0);
}

function swatch(state: CellState): HTMLElement {
  const el = h("span", { class: "swatch", "aria-hidden": "true" });
  el.style.background = css(state);
  return el;
}

export function legend(map: PoolMap): HTMLElement {
  return h(
    "ul",
    { class: "legend", "aria-label": "address map legend" },
    STATES.map((s) =>
      h("li", {}, swatch(s), `${s} `, h("strong", { "data-state": s }, map.counts[s].toLocaleString())),
    ),
  );
}

/**
 * The map of one pool. `width` is the most pixels it may take across; `open` is called with an
 * address when a cell is chosen.
 */
export function addressMap(
  network: string,
  map: PoolMap,
  options: { width: number; open?: (address: string) => void },
): HTMLElement {
  const cell = Math.max(1, Math.min(16, Math.floor(options.width / map.cols)));
  const more = map.total > BigInt(map.count) ? ` (the first ${map.count.toLocaleString()} addresses)` : "";
  const summary =
    `Address map of ${network}, ${map.subnet}${more}: ` +
    STATES.map((s) => `${map.counts[s]} ${s}`).join(", ");
  const canvas = h("canvas", {
    class: "address-map",
    role: "img",
    "aria-label": summary,
    "data-network": network,
    "data-cells": map.count,
    tabindex: options.open === undefined ? undefined : 0,
  });
  const started = performance.now();
  draw(canvas, map, cell);
  const drawMs = performance.now() - started;
  window.dockinConsole ??= { maps: {} };
  window.dockinConsole.maps[network] = { map, cell, canvas, drawMs };
  const line = status(more === "" ? "" : `Showing${more}.`);
  let cursor = -1;
  canvas.addEventListener("focus", () => {
    if (cursor < 0) cursor = 0;
    line.textContent = describe(cursor);
  });
  const describe = (i: number): string => {
    const state = STATES[map.states[i] ?? 0] as CellState;
    const holder = map.holders.get(i);
    return `${cellAddress(map, i)}: ${state}${holder === undefined ? "" : ` by ${holder}`}`;
  };
  const at = (e: MouseEvent): number | undefined => {
    const r = canvas.getBoundingClientRect();
    const x = Math.floor(((e.clientX - r.left) * (canvas.width / r.width)) / cell);
    const y = Math.floor(((e.clientY - r.top) * (canvas.height / r.height)) / cell);
    const i = y * map.cols + x;
    return x >= 0 && x < map.cols && i >= 0 && i < map.count ? i : undefined;
  };
  canvas.addEventListener("mousemove", (e) => {
    const i = at(e);
    line.textContent = i === undefined ? "" : describe(i);
  });
  if (options.open !== undefined) {
    const open = options.open;
    canvas.classList.add("clickable");
    canvas.addEventListener("click", (e) => {
      const i = at(e);
      if (i !== undefined) open(cellAddress(map, i));
    });
    canvas.addEventListener("keydown", (e) => {
      const step: Record<string, number> = {
        ArrowRight: 1,
        ArrowLeft: -1,
        ArrowDown: map.cols,
        ArrowUp: -map.cols,
      };
      if (e.key === "Enter" && cursor >= 0) {
        open(cellAddress(map, cursor));
        return;
      }
      const d = step[e.key];
      if (d === undefined) return;
      e.preventDefault();
      cursor = Math.min(map.count - 1, Math.max(0, cursor + d));
      line.textContent = describe(cursor);
    });
  }
  return h("figure", { class: "map" }, canvas, h("figcaption", {}, legend(map), line));
}
