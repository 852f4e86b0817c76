// The networks pages: every network's use as a picture (address map, use over time, numbers),
// one network's page, and the form that creates or edits a network.
import {
  ApiError,
  allPods,
  api,
  bare,
  enc,
  history,
  type NetworkView,
  NO_HISTORY,
  type PodView,
  podsOn,
} from "./api.ts";
import { useChart, useOverTime } from "./chart.ts";
import { h, link, localTime, replace } from "./dom.ts";
import { type Field, field, formAlert, input, showErrors } from "./form.ts";
import { addressMap } from "./map.ts";
import { buildPoolMap, type Holder, type PoolInput } from "./pool.ts";
import { go } from "./router.ts";

/** The addresses of a network held by pods, with their holders. */
export function holdersOf(pods: readonly PodView[], network: string): Holder[] {
  const out: Holder[] = [];
  for (const p of pods)
    for (const a of p.networks)
      if (a.network === network)
        for (const ad of a.addresses)
          out.push({ address: bare(ad.address), fixed: ad.fixed, pod: `${p.namespace}/${p.name}` });
  return out;
}

function figures(n: NetworkView | NonNullable<NetworkView["ipv6"]>, label: string): HTMLElement {
  return h(
    "dl",
    { class: "figures", "aria-label": `${label} figures` },
    h("div", {}, h("dt", {}, "size"), h("dd", { "data-figure": "size" }, String(n.size))),
    h("div", {}, h("dt", {}, "allocated"), h("dd", { "data-figure": "allocated" }, String(n.allocated))),
    h("div", {}, h("dt", {}, "free"), h("dd", { "data-figure": "free" }, String(n.free))),
  );
}

function pools(
  n: NetworkView,
): { key: string; pool: PoolInput; view: NetworkView | NonNullable<NetworkView["ipv6"]> }[] {
  const out: { key: string; pool: PoolInput; view: NetworkView | NonNullable<NetworkView["ipv6"]> }[] = [
    { key: n.name, pool: n, view: n },
  ];
  if (n.ipv6 !== undefined) out.push({ key: `${n.name}/ipv6`, pool: n.ipv6, view: n.ipv6 });
  return out;
}

async function usePanel(network: NetworkView, heldNow: number): Promise<HTMLElement> {
  const events = await history({ network: network.name }, 1000);
  if (events === undefined) return h("p", { class: "muted no-history" }, `Use over time: ${NO_HISTORY}.`);
  const size = Number(network.size) + Number(network.ipv6?.size ?? 0);
  return useChart(useOverTime(events, heldNow, Date.now()), size);
}

function networkCard(n: NetworkView, pods: readonly PodView[], width: number, detail: boolean): HTMLElement {
  const use = h("div", { class: "use" }, h("p", { class: "muted" }, "Loading use over time…"));
  const held = holdersOf(pods, n.name);
  void usePanel(n, held.length).then(
    (el) => replace(use, el),
    (err: unknown) => replace(use, h("p", { class: "muted" }, `Use over time: ${(err as Error).message}`)),
  );
  return h(
    "section",
    { class: "network card", "data-network": n.name, "aria-labelledby": `net-${n.name}` },
    h(
      "h2",
      { id: `net-${n.name}` },
      detail ? n.name : link(`#/networks/${enc(n.name)}`, n.name),
      " ",
      h("span", { class: "muted" }, n.subnet, n.ipv6 === undefined ? "" : ` + ${n.ipv6.subnet}`),
    ),
    pools(n).map(({ key, pool, view }) =>
      h(
        "div",
        { class: "pool" },
        h(
          "h3",
          {},
          pool.subnet,
          pool.gateway === undefined ? "" : h("span", { class: "muted" }, ` gateway ${pool.gateway}`),
        ),
        figures(view, pool.subnet),
        addressMap(key, buildPoolMap(pool, held), {
          width,
          ...(detail ? { open: (ip: string) => go(`#/address/${enc(ip)}`) } : {}),
        }),
      ),
    ),
    h("h3", {}, "Use over time"),
    use,
  );
}

export async function networksPage(main: HTMLElement): Promise<void> {
  const [{ items }, pods] = await Promise.all([
    api<{ items: NetworkView[] }>("GET", "/api/v1/networks"),
    allPods(),
  ]);
  replace(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Networks"), link("#/networks-new", "New network")),
    items.length === 0 ? h("p", {}, "No network yet.") : null,
    h(
      "div",
      { class: "cards" },
      items.map((n) => networkCard(n, pods, 320, false)),
    ),
  );
}

export async function networkPage(main: HTMLElement, name: string): Promise<void> {
  // The network's own pods only: the RM filters them.
  const [n, pods] = await Promise.all([
    api<NetworkView>("GET", `/api/v1/networks/${enc(name)}`),
    podsOn(name),
  ]);
  replace(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, `Network ${n.name}`),
      link(`#/networks/${enc(n.name)}/edit`, "Edit network"),
    ),
    h(
      "p",
      { class: "muted" },
      `range ${n.rangeStart ?? "(subnet start)"} – ${n.rangeEnd ?? "(subnet end)"}`,
      n.exclude === undefined || n.exclude.length === 0 ? "" : ` · excluded ${n.exclude.join(", ")}`,
      ` · updated ${localTime(n.updated)}`,
    ),
    networkCard(n, pods, 768, true),
    h("h2", {}, `Pods on ${n.name} (${pods.length})`),
    h(
      "ul",
      { class: "plain" },
      pods.slice(0, 200).map((p) =>
        h(
          "li",
          {},
          link(`#/pods/${enc(p.namespace)}/${enc(p.name)}`, `${p.namespace}/${p.name}`),
          " ",
          p.networks
            .filter((a) => a.network === name)
            .flatMap((a) => a.addresses.map((x) => bare(x.address)))
            .join(", "),
        ),
      ),
    ),
  );
}

const list = (text: string): string[] =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");

export async function networkForm(main: HTMLElement, name: string | undefined): Promise<void> {
  const n = name === undefined ? undefined : await api<NetworkView>("GET", `/api/v1/networks/${enc(name)}`);
  const f = {
    name: field(
      "Name",
      ["network", "name"],
      input("name", n?.name ?? "", n === undefined ? { required: "" } : { readonly: "" }),
    ),
    subnet: field(
      "Subnet",
      ["subnet"],
      input("subnet", n?.subnet ?? "", { required: "", placeholder: "192.168.1.0/24" }),
    ),
    gateway: field("Gateway", ["gateway"], input("gateway", n?.gateway ?? "")),
    rangeStart: field("Range start", ["rangeStart"], input("rangeStart", n?.rangeStart ?? "")),
    rangeEnd: field("Range end", ["rangeEnd"], input("rangeEnd", n?.rangeEnd ?? "")),
    exclude: field(
      "Excluded addresses",
      ["exclude"],
      input("exclude", (n?.exclude ?? []).join(", ")),
      "separated by commas or spaces",
    ),
    v6subnet: field(
      "IPv6 subnet (dual stack)",
      ["ipv6.subnet", "ipv6"],
      input("ipv6subnet", n?.ipv6?.subnet ?? ""),
    ),
    v6gateway: field("IPv6 gateway", ["ipv6.gateway"], input("ipv6gateway", n?.ipv6?.gateway ?? "")),
  };
  const fields: Field[] = Object.values(f);
  const alert = formAlert();
  const value = (x: Field) => x.input.value.trim();
  const form = h(
    "form",
    { class: "edit", novalidate: true, "aria-labelledby": "form-title" },
    fields.map((x) => x.row),
    alert,
    h("button", { type: "submit" }, n === undefined ? "Create network" : "Save network"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body: Record<string, unknown> = { subnet: value(f.subnet) };
    for (const k of ["gateway", "rangeStart", "rangeEnd"] as const)
      if (value(f[k]) !== "") body[k] = value(f[k]);
    if (value(f.exclude) !== "") body.exclude = list(value(f.exclude));
    if (value(f.v6subnet) !== "") {
      const v6: Record<string, string> = { subnet: value(f.v6subnet) };
      if (value(f.v6gateway) !== "") v6.gateway = value(f.v6gateway);
      body.ipv6 = v6;
    }
    const target = value(f.name);
    if (target === "")
      return showErrors(
        fields,
        alert,
        new ApiError(400, "BadRequest", "invalid network: network: is required"),
      );
    api<NetworkView>("PUT", `/api/v1/networks/${enc(target)}`, body).then(
      () => go(`#/networks/${enc(target)}`),
      (err: unknown) => showErrors(fields, alert, err),
    );
  });
  replace(
    main,
    h("h1", { id: "form-title" }, n === undefined ? "New network" : `Edit network ${n.name}`),
    form,
  );
}
