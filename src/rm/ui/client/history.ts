// Address-history events as a table; each time is one click from "who held it then?".
import { enc, type HistoryEvent } from "./api.ts";
import { h, link, localTime } from "./dom.ts";

/** The moment just after an event: who held the address once the event was done. */
const after = (time: string): string => {
  const t = Date.parse(time);
  return Number.isNaN(t) ? time : new Date(t + 1).toISOString();
};

export function historyTable(
  events: readonly HistoryEvent[],
  options: { address?: string } = {},
): HTMLElement {
  if (events.length === 0) return h("p", { class: "muted" }, "No history events.");
  return h(
    "table",
    { class: "history" },
    h(
      "caption",
      {},
      `${events.length} ${events.length === 1 ? "event" : "events"}, newest first (times in your zone)`,
    ),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["time", "event", "address", "pod", "network", "node", "container"].map((c) =>
          h("th", { scope: "col" }, c),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      events.map((e) =>
        h(
          "tr",
          { "data-event": e.event },
          h(
            "td",
            {},
            options.address === undefined
              ? localTime(e.time)
              : link(`#/address/${enc(options.address)}?at=${enc(after(e.time))}`, localTime(e.time)),
          ),
          h("td", {}, e.event),
          h("td", {}, link(`#/address/${enc(e.address)}`, e.address)),
          h("td", {}, link(`#/pods/${enc(e.namespace)}/${enc(e.name)}`, `${e.namespace}/${e.name}`)),
          h("td", {}, e.network),
          h("td", {}, e.node ?? ""),
          h("td", { class: "mono" }, (e.containerId ?? "").slice(0, 12)),
        ),
      ),
    ),
  );
}
