// View switching without reloads. The view lives in the query string (`?view=images`),
// not in the path: the server serves index.html at "/" only, and /images/… is image bytes.
//
// The address names the view asked for; `resolve` says which one is shown (signed out, most
// views show the sign-in form instead, and the address stays so that signing in leads back).

const TITLES = { upload: "Upload", images: "Images", tokens: "API tokens", users: "Users", signin: "Sign in" };

export class Router {
  /**
   * @param {Record<string, {activate?: () => void}>} views
   * @param {(name: string) => string} resolve  the view to show when `name` is asked for
   */
  constructor(views, resolve = (name) => name) {
    this.views = views;
    this.resolve = resolve;
    this.current = null;
    this.requested = null;
    document.addEventListener("click", (event) => this.onClick(event));
    window.addEventListener("popstate", () => this.show(viewFromLocation(), { focus: true }));
  }

  start() {
    this.show(viewFromLocation(), { focus: false });
  }

  /** Show again what the address asks for (who may see what changed: signed in or out). */
  refresh({ focus = true } = {}) {
    this.show(viewFromLocation(), { focus });
  }

  /** Show a view and record it in the history (no-op if it is already shown). */
  go(name) {
    if (name === this.current && name === this.requested) return;
    history.pushState({ view: name }, "", urlFor(name));
    this.show(name, { focus: true });
  }

  /** Show a view in place of the current history entry. */
  replace(name) {
    history.replaceState({ view: name }, "", urlFor(name));
    this.show(name, { focus: true });
  }

  onClick(event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = /** @type {HTMLElement} */ (event.target).closest("a[data-view-link]");
    if (!link) return;
    event.preventDefault();
    this.go(link.dataset.viewLink);
  }

  /** Show `name` instead of the view the address asks for, which stays (the sign-in form). */
  showInstead(name) {
    this.display(name, { focus: true });
  }

  show(requested, { focus }) {
    if (!(requested in this.views)) requested = "upload";
    this.requested = requested;
    this.display(this.resolve(requested), { focus });
  }

  display(name, { focus }) {
    if (!(name in this.views)) name = "upload";
    const changed = name !== this.current;
    this.current = name;
    for (const section of document.querySelectorAll("[data-view]")) {
      section.hidden = section.getAttribute("data-view") !== name;
    }
    for (const link of document.querySelectorAll(".tabs [data-view-link], .account [data-view-link]")) {
      if (link.getAttribute("data-view-link") === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    document.title = `${TITLES[name]} · Imagehost`;
    if (changed && focus) {
      const heading = document.querySelector(`[data-view="${name}"] h1`);
      if (heading instanceof HTMLElement) heading.focus({ preventScroll: true });
      window.scrollTo(0, 0);
    }
    const view = this.views[name];
    if (changed && view.activate) view.activate();
  }
}

function viewFromLocation() {
  return new URLSearchParams(location.search).get("view") || "upload";
}

/** The current URL with only the view changed, so other parameters (pageSize) survive. */
function urlFor(name) {
  const url = new URL(location.href);
  url.searchParams.delete("image"); // an open viewer belongs to the view it was opened in
  if (name === "upload") url.searchParams.delete("view");
  else url.searchParams.set("view", name);
  url.hash = "";
  return url.pathname + url.search;
}
