// Search: one box for an address, a pod (name or namespace/name) or a network; and an address's
// page: who holds it now, who held it at a time (one click), and its history.
import { formatIP, parseIP } from "../../../net/ip.ts";
import {
  type AddressAnswer,
  addressAt,
  api,
  bare,
  enc,
  type NetworkView,
  NO_HISTORY,
  type PodView,
  searchPods,
} from "./api.ts";
import { h, link, localTime, replace } from "./dom.ts";
import { historyTable } from "./history.ts";
import { go } from "./router.ts";

/** Where a search goes: an address to its page, an exact network or pod to its page. */
export async function search(main: HTMLElement, q: string): Promise<void> {
  const text = q.trim();
  if (parseIP(text) !== undefined) return go(`#/address/${enc(text)}`);
  const [{ items: networks }, { items: pods }] = await Promise.all([
    api<{ items: NetworkView[] }>("GET", "/api/v1/networks"),
    searchPods(text, 0, 100),
  ]);
  const exactNet = networks.find((n) => n.name === text);
  const exactPod = pods.find((p) => `${p.namespace}/${p.name}` === text);
  if (exactNet !== undefined && exactPod === undefined) return go(`#/networks/${enc(text)}`);
  if (exactPod !== undefined && exactNet === undefined)
    return go(`#/pods/${enc(exactPod.namespace)}/${enc(exactPod.name)}`);
  const nets = networks.filter(
    (n) => n.name.toLowerCase().includes(text.toLowerCase()) || n.subnet.startsWith(text),
  );
  const found = pods; // the first 100 the RM found
  replace(
    main,
    h("h1", {}, `Search: "${text}"`),
    h("h2", {}, `Networks (${nets.length})`),
    nets.length === 0
      ? h("p", { class: "muted" }, "none")
      : h(
          "ul",
          { class: "plain" },
          nets.map((n) => h("li", {}, link(`#/networks/${enc(n.name)}`, n.name), ` ${n.subnet}`)),
        ),
    h("h2", {}, `Pods (${found.length})`),
    found.length === 0
      ? h("p", { class: "muted" }, "none")
      : h(
          "ul",
          { class: "plain" },
          found.map((p) =>
            h("li", {}, link(`#/pods/${enc(p.namespace)}/${enc(p.name)}`, `${p.namespace}/${p.name}`)),
          ),
        ),
  );
}

/** The pod holding an address now, from the pods themselves (works without history). */
function holderNow(pods: readonly PodView[], ip: string): { pod: PodView; network: string } | undefined {
  for (const pod of pods)
    for (const a of pod.networks)
      if (a.addresses.some((x) => bare(x.address) === ip)) return { pod, network: a.network };
  return undefined;
}

/** An RFC 3339 UTC time from a datetime-local value (the user's zone). */
const fromLocal = (value: string): string | undefined => {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
};

const toLocalInput = (iso: string): string => {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};

function holderText(answer: AddressAnswer): HTMLElement {
  const hd = answer.holder;
  if (hd === null) return h("p", { class: "holder" }, "No pod held it.");
  return h(
    "p",
    { class: "holder" },
    link(`#/pods/${enc(hd.namespace)}/${enc(hd.name)}`, `${hd.namespace}/${hd.name}`),
    ` on ${hd.network}`,
    hd.node === null ? "" : `, node ${hd.node}`,
    `, since ${localTime(hd.since)}`,
  );
}

export async function addressPage(main: HTMLElement, ip: string, query: URLSearchParams): Promise<void> {
  if (parseIP(ip) === undefined) {
    replace(main, h("h1", {}, "Address"), h("p", { role: "alert" }, `"${ip}" is not an IP address.`));
    return;
  }
  const at = query.get("at") ?? undefined;
  const [now, then] = await Promise.all([addressAt(ip), at === undefined ? undefined : addressAt(ip, at)]);
  // An RM without the address endpoint: the pod holding it, found by the RM's exact filter.
  const exact = formatIP(parseIP(ip)!);
  const current =
    now !== undefined ? undefined : holderNow((await searchPods("", 0, 10, { address: exact })).items, exact);
  const when = h("input", {
    id: "at",
    name: "at",
    type: "datetime-local",
    step: "1",
    value: toLocalInput(at ?? new Date(Date.now() - 3600_000).toISOString()),
  });
  const ask = h(
    "form",
    { class: "inline", "aria-label": "who held it at a time" },
    h("label", { for: "at" }, "Who held it at"),
    when,
    h("button", { type: "submit" }, "Ask"),
  );
  ask.addEventListener("submit", (e) => {
    e.preventDefault();
    const iso = fromLocal(when.value);
    if (iso !== undefined) go(`#/address/${enc(ip)}?at=${enc(iso)}`);
  });
  const yesterday = new Date(Date.now() - 86_400_000).toISOString();
  replace(
    main,
    h("h1", {}, `Address ${ip}`),
    h("h2", {}, "Now"),
    now !== undefined
      ? holderText(now)
      : current === undefined
        ? h("p", { class: "holder" }, "No pod holds it.")
        : h(
            "p",
            { class: "holder" },
            link(
              `#/pods/${enc(current.pod.namespace)}/${enc(current.pod.name)}`,
              `${current.pod.namespace}/${current.pod.name}`,
            ),
            ` on ${current.network}`,
            current.pod.node === undefined ? "" : `, node ${current.pod.node}`,
          ),
    h("h2", {}, "At a time"),
    now === undefined
      ? h("p", { class: "muted no-history" }, `${NO_HISTORY}.`)
      : [
          ask,
          h("p", {}, link(`#/address/${enc(ip)}?at=${enc(yesterday)}`, "Same time yesterday")),
          then === undefined
            ? null
            : h(
                "div",
                { class: "then" },
                h("h3", {}, then.at === null ? "Now" : `At ${localTime(then.at)}`),
                holderText(then),
              ),
        ],
    h("h2", {}, "History"),
    now === undefined
      ? h("p", { class: "muted no-history" }, `${NO_HISTORY}.`)
      : historyTable(now.history, { address: ip }),
  );
}
