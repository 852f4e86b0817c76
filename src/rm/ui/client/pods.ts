// The pods pages: a searchable, paged table; one pod's page (networks, addresses, history,
// release); the form that reserves a fixed address for a pod.
import {
  ApiError,
  api,
  bare,
  enc,
  history,
  type NetworkView,
  NO_HISTORY,
  type PodView,
  searchPods,
} from "./api.ts";
import { h, link, localTime, replace, status } from "./dom.ts";
import { type Field, field, formAlert, input, select, showErrors } from "./form.ts";
import { historyTable } from "./history.ts";
import { go } from "./router.ts";

const PAGE = 50;

const addresses = (p: PodView): string[] =>
  p.networks.flatMap((a) => a.addresses.map((x) => bare(x.address)));

export async function podsPage(main: HTMLElement, query: URLSearchParams): Promise<void> {
  const q = query.get("q") ?? "";
  const page = Math.max(0, Math.floor(Number(query.get("page") ?? 0)) || 0);
  // The RM searches and pages: only this page's pods come over.
  const { items: shown, total } = await searchPods(q, page * PAGE, PAGE);
  const pages = Math.max(1, Math.ceil(total / PAGE));
  const box = input("q", q, { type: "search", placeholder: "namespace/name, node, address, network" });
  box.id = "pod-filter";
  const filter = h(
    "form",
    { class: "inline", role: "search", "aria-label": "Filter pods" },
    h("label", { for: "pod-filter" }, "Filter pods"),
    box,
    h("button", { type: "submit" }, "Filter"),
  );
  filter.addEventListener("submit", (e) => {
    e.preventDefault();
    go(`#/pods?q=${enc(box.value.trim())}`);
  });
  const nav = (p: number, text: string, disabled: boolean) =>
    disabled
      ? h("span", { class: "muted", "aria-disabled": "true" }, text)
      : link(`#/pods?q=${enc(q)}&page=${p}`, text);
  replace(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Pods"), link("#/reserve", "Reserve an address")),
    filter,
    h(
      "table",
      { class: "pods" },
      h(
        "caption",
        {},
        `${total} pods${q === "" ? "" : ` matching "${q}"`}; page ${Math.min(page + 1, pages)} of ${pages}`,
      ),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["namespace", "name", "node", "addresses", "policy", "sticky"].map((c) =>
            h("th", { scope: "col" }, c),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        shown.map((p) =>
          h(
            "tr",
            {},
            h("td", {}, p.namespace),
            h("td", {}, link(`#/pods/${enc(p.namespace)}/${enc(p.name)}`, p.name)),
            h("td", {}, p.node ?? ""),
            h("td", {}, addresses(p).join(", ")),
            h("td", {}, p.policy ?? ""),
            h("td", {}, p.sticky ? "yes" : "no"),
          ),
        ),
      ),
    ),
    h(
      "nav",
      { class: "pager", "aria-label": "pages" },
      nav(page - 1, "← Previous", page === 0),
      " ",
      nav(page + 1, "Next →", page + 1 >= pages),
    ),
  );
}

export async function podPage(main: HTMLElement, namespace: string, name: string): Promise<void> {
  const pod = await api<PodView>("GET", `/api/v1/pods/${enc(namespace)}/${enc(name)}`);
  const path = `/api/v1/pods/${enc(namespace)}/${enc(name)}`;
  const line = status();
  const act = (label: string, run: () => Promise<string>) => {
    const b = h("button", { type: "button" }, label);
    b.addEventListener("click", () => {
      b.disabled = true;
      run().then(
        (text) => {
          line.textContent = text;
          b.disabled = false;
        },
        (err: unknown) => {
          line.textContent = `${label} failed: ${(err as Error).message}`;
          b.disabled = false;
        },
      );
    });
    return b;
  };
  const hist = h("div", {}, h("p", { class: "muted" }, "Loading history…"));
  void history({ pod: `${namespace}/${name}` }).then(
    (events) =>
      replace(
        hist,
        events === undefined ? h("p", { class: "muted no-history" }, `${NO_HISTORY}.`) : historyTable(events),
      ),
    (err: unknown) => replace(hist, h("p", {}, (err as Error).message)),
  );
  replace(
    main,
    h("h1", {}, `Pod ${pod.namespace}/${pod.name}`),
    h(
      "dl",
      { class: "facts" },
      [
        ["node", pod.node ?? "—"],
        ["policy", pod.policy ?? "— (admin API)"],
        ["sticky", pod.sticky ? "yes: kept when the pod is gone" : "no: released when gone"],
        ["container", pod.containerId ?? "—"],
        ["created", localTime(pod.created)],
        ["updated", localTime(pod.updated)],
      ].map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))),
    ),
    h("h2", {}, "Networks"),
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["network", "interface", "master", "addresses"].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        {},
        pod.networks.map((a) =>
          h(
            "tr",
            {},
            h("td", {}, link(`#/networks/${enc(a.network)}`, a.network)),
            h("td", {}, a.ifName),
            h("td", {}, a.master ? "yes" : ""),
            h(
              "td",
              {},
              a.addresses.map((x, i) => [
                i > 0 ? ", " : "",
                link(`#/address/${enc(bare(x.address))}`, x.address),
                x.fixed ? " (fixed)" : "",
              ]),
            ),
          ),
        ),
      ),
    ),
    h(
      "div",
      { class: "actions" },
      link(`#/reserve?namespace=${enc(namespace)}&name=${enc(name)}`, "Reserve an address for this pod"),
      act("Release", async () => {
        const r = await api<{ released: boolean; reason: string }>("POST", `${path}/release`);
        return r.released ? "Released." : `Kept: ${r.reason}`;
      }),
      act("Delete pod", async () => {
        const gone = await api<PodView>("DELETE", path);
        return `Deleted; released ${addresses(gone).join(", ") || "nothing"}.`;
      }),
    ),
    line,
    h("h2", {}, "History"),
    hist,
  );
}

export async function reserveForm(main: HTMLElement, query: URLSearchParams): Promise<void> {
  const { items: networks } = await api<{ items: NetworkView[] }>("GET", "/api/v1/networks");
  const f = {
    namespace: field(
      "Namespace",
      ["namespace"],
      input("namespace", query.get("namespace") ?? "default", { required: "" }),
    ),
    name: field("Pod name", ["pod"], input("name", query.get("name") ?? "", { required: "" })),
    network: field(
      "Network",
      ["network"],
      select(
        "network",
        networks.map((n) => n.name),
        query.get("network") ?? undefined,
      ),
    ),
    address: field(
      "Fixed address",
      ["address"],
      input("address", query.get("address") ?? ""),
      "empty: the RM picks one from the range",
    ),
    ifName: field("Interface", ["ifName"], input("ifName", "", { placeholder: "eth0, net1…" }), "optional"),
  };
  const fields: Field[] = Object.values(f);
  const alert = formAlert();
  const form = h(
    "form",
    { class: "edit", novalidate: true, "aria-labelledby": "form-title" },
    fields.map((x) => x.row),
    alert,
    h("button", { type: "submit" }, "Reserve"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void reserve().catch((err: unknown) => showErrors(fields, alert, err));
  });
  const reserve = async () => {
    const ns = f.namespace.input.value.trim();
    const name = f.name.input.value.trim();
    const network = f.network.input.value;
    const ip = f.address.input.value.trim();
    const ifName = f.ifName.input.value.trim();
    if (ns === "" || name === "")
      throw new ApiError(400, "BadRequest", `invalid pod: ${ns === "" ? "namespace" : "pod"}: is required`);
    const path = `/api/v1/pods/${enc(ns)}/${enc(name)}`;
    // An existing pod keeps its other networks and fixed addresses; this network's entry is replaced.
    let existing: PodView | undefined;
    try {
      existing = await api<PodView>("GET", path);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
    const others = (existing?.networks ?? [])
      .filter((a) => a.network !== network)
      .map((a) => ({
        network: a.network,
        ifName: a.ifName,
        master: a.master,
        ips: a.addresses.filter((x) => x.fixed).map((x) => bare(x.address)),
      }));
    const mine: Record<string, unknown> = { network, master: others.every((a) => !a.master) };
    if (ip !== "") mine.ip = ip;
    if (ifName !== "") mine.ifName = ifName;
    const index = others.length;
    try {
      await api<PodView>("PUT", path, { networks: [...others, mine] });
    } catch (err) {
      if (err instanceof ApiError) {
        // This attachment's paths name the form's fields.
        const at = `networks[${index}].`;
        for (const [p, v] of [...err.fields]) {
          if (!p.startsWith(at)) continue;
          err.fields.delete(p);
          const key = p.slice(at.length).replace(/^ips\[\d+\]$/, "ip");
          err.fields.set(key === "ip" ? "address" : key, v);
        }
        if (err.fields.size === 0 && ip !== "" && err.message.includes(ip))
          err.fields.set("address", [err.message]);
      }
      throw err;
    }
    go(`#/pods/${enc(ns)}/${enc(name)}`);
  };
  replace(main, h("h1", { id: "form-title" }, "Reserve an address for a pod"), form);
}
