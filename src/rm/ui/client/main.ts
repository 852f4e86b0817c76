// The Dockin console: the page's frame (navigation, the one search box, sign-out) and the routes.
/// <reference lib="dom" />
import { ApiError } from "./api.ts";
import { h, replace } from "./dom.ts";
import { networkForm, networkPage, networksPage } from "./networks.ts";
import { podPage, podsPage, reserveForm } from "./pods.ts";
import { policiesPage, policyForm } from "./policies.ts";
import { current, go } from "./router.ts";
import { addressPage, search } from "./search.ts";

const main = h("main", { id: "main", tabindex: "-1" });
const box = h("input", {
  id: "search",
  name: "q",
  type: "search",
  placeholder: "address, pod or network",
  autocomplete: "off",
});

function frame(): HTMLElement {
  const form = h(
    "form",
    { role: "search", class: "search" },
    h("label", { for: "search" }, "Search"),
    box,
    h("button", { type: "submit" }, "Go"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (box.value.trim() !== "") go(`#/search?q=${encodeURIComponent(box.value.trim())}`);
  });
  const auth = document.querySelector<HTMLMetaElement>('meta[name="dockin-auth"]')?.content;
  const signOut =
    auth === "token"
      ? h(
          "form",
          { method: "post", action: "/ui/logout", class: "signout" },
          h("button", { type: "submit" }, "Sign out"),
        )
      : null;
  // The hash holds the route: the skip link moves the focus itself.
  const skip = h("a", { href: "#main", class: "skip" }, "Skip to content");
  skip.addEventListener("click", (e) => {
    e.preventDefault();
    main.focus();
  });
  return h(
    "div",
    { class: "frame" },
    skip,
    h(
      "header",
      {},
      h("a", { href: "#/networks", class: "brand" }, "Dockin"),
      h(
        "nav",
        { "aria-label": "console" },
        h("a", { href: "#/networks" }, "Networks"),
        h("a", { href: "#/pods" }, "Pods"),
        h("a", { href: "#/policies" }, "Policies"),
      ),
      form,
      signOut,
    ),
    main,
  );
}

async function route(): Promise<void> {
  const { parts, query } = current();
  const [page, a, b, c] = parts;
  for (const link of document.querySelectorAll<HTMLAnchorElement>("header nav a")) {
    if (link.getAttribute("href") === `#/${page ?? "networks"}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  switch (page) {
    case undefined:
    case "networks":
      if (a === undefined) return networksPage(main);
      return b === "edit" ? networkForm(main, a) : networkPage(main, a);
    case "networks-new":
      return networkForm(main, undefined);
    case "pods":
      if (a !== undefined && b !== undefined) return podPage(main, a, b);
      return podsPage(main, query);
    case "reserve":
      return reserveForm(main, query);
    case "policies":
      return a === undefined ? policiesPage(main) : policyForm(main, a);
    case "policies-new":
      return policyForm(main, undefined);
    case "search":
      box.value = query.get("q") ?? "";
      return search(main, query.get("q") ?? "");
    case "address":
      return addressPage(main, a ?? "", query);
    default:
      replace(
        main,
        h("h1", {}, "Not found"),
        h("p", {}, `No console page "${[page, a, b, c].filter(Boolean).join("/")}".`),
      );
  }
}

let seq = 0;
async function show(): Promise<void> {
  const mine = ++seq;
  document.body.dataset.loading = "true";
  try {
    await route();
  } catch (err) {
    if (mine !== seq) return;
    const text =
      err instanceof ApiError ? `${err.message} (${err.status} ${err.reason})` : (err as Error).message;
    replace(main, h("h1", {}, "Something went wrong"), h("p", { role: "alert" }, text));
  } finally {
    if (mine === seq) {
      delete document.body.dataset.loading;
      // The page shown, for tests and tools waiting on a navigation.
      document.body.dataset.route = location.hash;
      document.title = `${main.querySelector("h1")?.textContent ?? "Dockin"} · Dockin console`;
      main.focus({ preventScroll: true });
    }
  }
}

const app = document.getElementById("app");
if (app !== null) {
  replace(app, frame());
  window.addEventListener("hashchange", () => void show());
  void show();
}
