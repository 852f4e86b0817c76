// Policies: the list, and the form that creates or edits one (networks as rows).
import { ApiError, api, enc, type NetworkView, type Policy } from "./api.ts";
import { h, link, replace } from "./dom.ts";
import { type Field, field, formAlert, input, select, showErrors } from "./form.ts";
import { go } from "./router.ts";

export async function policiesPage(main: HTMLElement): Promise<void> {
  const { items } = await api<{ items: Policy[] }>("GET", "/api/v1/policies");
  replace(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Policies"), link("#/policies-new", "New policy")),
    h(
      "table",
      {},
      h("caption", {}, "Networks for pods the admin API did not register, by namespace and name prefix"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["name", "namespace", "pod prefix", "networks", "sticky", "priority"].map((c) =>
            h("th", { scope: "col" }, c),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        items.map((p) =>
          h(
            "tr",
            {},
            h("td", {}, link(`#/policies/${enc(p.name)}`, p.name)),
            h("td", {}, p.namespace ?? "(any)"),
            h("td", {}, p.podPrefix ?? "(any)"),
            h("td", {}, p.networks.map((a) => `${a.network}${a.master ? " (master)" : ""}`).join(", ")),
            h("td", {}, p.sticky ? "yes" : "no"),
            h("td", {}, String(p.priority)),
          ),
        ),
      ),
    ),
  );
}

export async function policyForm(main: HTMLElement, name: string | undefined): Promise<void> {
  const [p, { items: networks }] = await Promise.all([
    name === undefined ? undefined : api<Policy>("GET", `/api/v1/policies/${enc(name)}`),
    api<{ items: NetworkView[] }>("GET", "/api/v1/networks"),
  ]);
  const names = ["", ...networks.map((n) => n.name)];
  const sticky = h("input", { type: "checkbox", name: "sticky", checked: p?.sticky ?? false });
  const f = {
    name: field(
      "Name",
      ["name", "policy"],
      input("name", p?.name ?? "", p === undefined ? { required: "" } : { readonly: "" }),
    ),
    namespace: field(
      "Namespace",
      ["namespace"],
      input("namespace", p?.namespace ?? ""),
      "empty: any namespace",
    ),
    podPrefix: field(
      "Pod name prefix",
      ["podPrefix"],
      input("podPrefix", p?.podPrefix ?? ""),
      "empty: any pod",
    ),
    priority: field(
      "Priority",
      ["priority"],
      input("priority", String(p?.priority ?? 0), { inputmode: "numeric" }),
    ),
  };
  const rows: { network: Field; ifName: Field; master: HTMLInputElement }[] = [];
  const rowBox = h(
    "fieldset",
    { class: "rows" },
    h("legend", {}, "Networks (the master gets the default route)"),
  );
  const addRow = (a?: Policy["networks"][number]) => {
    const i = rows.length;
    const master = h("input", {
      type: "radio",
      name: "master",
      value: String(i),
      checked: a?.master ?? i === 0,
    });
    master.id = `master-${i}`;
    const row = {
      network: field(
        `Network ${i + 1}`,
        [`networks[${i}].network`, `networks[${i}]`],
        select(`network-${i}`, names, a?.network),
      ),
      ifName: field(`Interface ${i + 1}`, [`networks[${i}].ifName`], input(`ifName-${i}`, a?.ifName ?? "")),
      master,
    };
    rows.push(row);
    rowBox.appendChild(
      h(
        "div",
        { class: "row" },
        row.network.row,
        row.ifName.row,
        h("div", { class: "field" }, h("label", { for: master.id }, "master"), master),
      ),
    );
  };
  for (const a of p?.networks ?? [{ network: "" }]) addRow(a);
  const more = h("button", { type: "button" }, "Add a network");
  more.addEventListener("click", () => addRow());
  const stickyId = "sticky";
  sticky.id = stickyId;
  const alert = formAlert();
  const all = (): Field[] => [
    ...Object.values(f),
    ...rows.flatMap((r) => [r.network, r.ifName]),
    networksField,
  ];
  // Problems about the list as a whole ("networks: must list at least one network").
  const networksField: Field = {
    paths: ["networks"],
    row: rowBox,
    input: rows[0]?.network.input as HTMLSelectElement,
    error: h("p", { class: "field-error", hidden: true }),
  };
  rowBox.appendChild(networksField.error);
  const form = h(
    "form",
    { class: "edit", novalidate: true, "aria-labelledby": "form-title" },
    Object.values(f).map((x) => x.row),
    rowBox,
    more,
    h(
      "div",
      { class: "field" },
      h("label", { for: stickyId }, "Sticky: keep the pod's addresses when it is gone"),
      sticky,
    ),
    alert,
    h("button", { type: "submit" }, p === undefined ? "Create policy" : "Save policy"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const target = f.name.input.value.trim();
    const body: Record<string, unknown> = {
      networks: rows
        .filter((r) => r.network.input.value !== "")
        .map((r) => {
          const a: Record<string, unknown> = { network: r.network.input.value, master: r.master.checked };
          if (r.ifName.input.value.trim() !== "") a.ifName = r.ifName.input.value.trim();
          return a;
        }),
      sticky: sticky.checked,
    };
    const priority = f.priority.input.value.trim();
    body.priority = priority === "" ? 0 : Number.isNaN(Number(priority)) ? priority : Number(priority);
    if (f.namespace.input.value.trim() !== "") body.namespace = f.namespace.input.value.trim();
    if (f.podPrefix.input.value.trim() !== "") body.podPrefix = f.podPrefix.input.value.trim();
    if (target === "")
      return showErrors(all(), alert, new ApiError(400, "BadRequest", "invalid policy: name: is required"));
    api<Policy>("PUT", `/api/v1/policies/${enc(target)}`, body).then(
      () => go("#/policies"),
      (err: unknown) => showErrors(all(), alert, err),
    );
  });
  replace(
    main,
    h("h1", { id: "form-title" }, p === undefined ? "New policy" : `Edit policy ${p.name}`),
    form,
  );
}
