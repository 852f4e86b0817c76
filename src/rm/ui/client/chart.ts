// Use over time: the addresses a network holds, walked back from now through its history events
// (newest first), drawn as a small SVG step line. Without history on the RM it says so.
import type { HistoryEvent } from "./api.ts";
import { h, localTime } from "./dom.ts";

const SVG = "http://www.w3.org/2000/svg";

/** How an event changes the number of addresses held. */
const DELTA: Record<HistoryEvent["event"], number> = {
  allocated: 1,
  reserved: 1,
  released: -1,
  gc: -1,
  "network-deleted": -1,
  reassigned: 0,
};

export interface UsePoint {
  time: number;
  held: number;
}

/** The number held after each event, oldest first, ending with `heldNow` at `now`. */
export function useOverTime(events: readonly HistoryEvent[], heldNow: number, now: number): UsePoint[] {
  const points: UsePoint[] = [{ time: now, held: heldNow }];
  let held = heldNow;
  for (const e of events) {
    points.push({ time: Date.parse(e.time), held });
    held = Math.max(0, held - DELTA[e.event]);
  }
  const oldest = events[events.length - 1];
  if (oldest !== undefined) points.push({ time: Date.parse(oldest.time) - 1, held });
  return points.reverse();
}

const el = (tag: string, attrs: Record<string, string | number>): SVGElement => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
};

export function useChart(points: UsePoint[], size: number): HTMLElement {
  const first = points[0];
  const last = points[points.length - 1];
  if (first === undefined || last === undefined || points.length < 3) {
    return h("p", { class: "muted" }, "No history yet for this network.");
  }
  const W = 360;
  const H = 90;
  const t0 = first.time;
  const span = Math.max(1, last.time - t0);
  // Scaled to the peak (a /16 held by a few pods would be a flat line at the bottom); the caption gives the size.
  const top = Math.max(1, ...points.map((p) => p.held)) * 1.25;
  const x = (t: number) => ((t - t0) / span) * W;
  const y = (n: number) => H - (n / top) * H;
  let d = `M0 ${y(first.held).toFixed(1)}`;
  for (const p of points.slice(1)) d += ` H${x(p.time).toFixed(1)} V${y(p.held).toFixed(1)}`;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "use-chart", role: "img" });
  svg.setAttribute(
    "aria-label",
    `Addresses held from ${localTime(new Date(t0).toISOString())} (${first.held}) to now (${last.held}), of ${size}`,
  );
  svg.appendChild(el("path", { d, fill: "none", class: "use-line" }));
  return h(
    "figure",
    { class: "chart" },
    svg as unknown as HTMLElement,
    h(
      "figcaption",
      { class: "muted" },
      `${localTime(new Date(t0).toISOString())} → now · held ${last.held} of ${size} (peak ${Math.max(...points.map((p) => p.held))})`,
    ),
  );
}
