// Forms whose fields show the API's own validation messages beside them: each field is named by
// the API's field path ("subnet", "networks[0].ip"); a problem whose path starts with a field's
// path ("exclude[2]" for "exclude") lands there, anything else in the form's alert.
import { ApiError } from "./api.ts";
import { type Child, h, replace } from "./dom.ts";

let ids = 0;

export interface Field {
  /** The API field paths this field shows problems for. */
  paths: string[];
  row: HTMLElement;
  input: HTMLInputElement | HTMLSelectElement;
  error: HTMLElement;
}

export function field(
  label: string,
  paths: string[],
  input: HTMLInputElement | HTMLSelectElement,
  hint?: string,
): Field {
  const id = `f${++ids}`;
  input.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const described = [hint === undefined ? "" : `${id}-hint`, `${id}-error`].filter((x) => x !== "").join(" ");
  input.setAttribute("aria-describedby", described);
  const row = h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    hint === undefined ? null : h("p", { class: "hint", id: `${id}-hint` }, hint),
    error,
  );
  return { paths, row, input, error };
}

export const input = (name: string, value = "", attrs: Record<string, string> = {}): HTMLInputElement =>
  h("input", { name, value, autocomplete: "off", spellcheck: "false", ...attrs });

export function select(name: string, options: string[], value?: string): HTMLSelectElement {
  return h(
    "select",
    { name },
    options.map((o) => h("option", { value: o, selected: o === value }, o)),
  );
}

const covers = (fieldPath: string, path: string): boolean =>
  path === fieldPath || path.startsWith(`${fieldPath}[`) || path.startsWith(`${fieldPath}.`);

/** Clears the fields' messages, then shows an error: by field where the API names one. */
export function showErrors(fields: Field[], alert: HTMLElement, err: unknown): void {
  for (const f of fields) {
    f.error.hidden = true;
    f.error.textContent = "";
    f.input.removeAttribute("aria-invalid");
  }
  replace(alert);
  alert.hidden = true;
  if (err === undefined) return;
  const general: Child[] = [];
  if (err instanceof ApiError && err.fields.size > 0) {
    for (const [path, problems] of err.fields) {
      // The field naming the path exactly wins, then the one with the longest covering path.
      const score = (x: Field): number =>
        Math.max(...x.paths.map((p) => (p === path ? 1000 : covers(p, path) ? p.length : -1)));
      const f = fields.filter((x) => score(x) >= 0).sort((a, b) => score(b) - score(a))[0];
      const text = problems.map((p) => (f?.paths.includes(path) ? p : `${path}: ${p}`));
      if (f === undefined) {
        general.push(h("p", {}, text.join("; ")));
        continue;
      }
      f.error.hidden = false;
      f.error.textContent = [f.error.textContent, ...text].filter((x) => x !== "").join("; ");
      f.input.setAttribute("aria-invalid", "true");
    }
    const first = fields.find((f) => !f.error.hidden);
    first?.input.focus();
  } else {
    general.push(h("p", {}, err instanceof Error ? err.message : String(err)));
  }
  if (general.length > 0) {
    alert.hidden = false;
    replace(alert, ...general);
  }
}

export const formAlert = (): HTMLElement => h("div", { class: "form-alert", role: "alert", hidden: true });
