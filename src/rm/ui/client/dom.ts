// A few lines of DOM building instead of a UI library: h("a", {href}, "text") makes an element.
/// <reference lib="dom" />

export type Child = Node | string | number | null | undefined | false | Child[];
type Listener = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | Listener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "class") el.className = String(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `parent`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

const two = (n: number): string => String(n).padStart(2, "0");

/**
 * A time from the API (RFC 3339, UTC) in the browser's zone, written the same in every locale and
 * to the second, with the zone's offset: `2026-11-30 15:04:05 +01:00`. (The locale's own format
 * can read 11/30 as 30 November or fail to parse, and drops the zone: "who held it at 14:05?"
 * needs neither doubt.)
 */
export const localTime = (iso: string): string => {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const east = -d.getTimezoneOffset(); // minutes east of UTC, at that moment (summer time included)
  const offset = `${east < 0 ? "-" : "+"}${two(Math.floor(Math.abs(east) / 60))}:${two(Math.abs(east) % 60)}`;
  const date = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  return `${date} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${offset}`;
};

export const link = (href: string, ...children: Child[]): HTMLAnchorElement => h("a", { href }, ...children);

/** A status line read out by screen readers when it changes. */
export const status = (text = ""): HTMLParagraphElement =>
  h("p", { class: "status", role: "status", "aria-live": "polite" }, text);
