// Hash routes (#/networks, #/pods/NS/NAME?…): the server serves one page, /ui/.
export function go(hash: string): void {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

export interface Route {
  parts: string[];
  query: URLSearchParams;
}

export function current(): Route {
  const raw = location.hash.replace(/^#\/?/, "");
  const mark = raw.indexOf("?");
  const path = mark < 0 ? raw : raw.slice(0, mark);
  const parts = path
    .split("/")
    .filter((p) => p !== "")
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { parts, query: new URLSearchParams(mark < 0 ? "" : raw.slice(mark + 1)) };
}
