// View switching without reloads. The view lives in the query string (`?view=images`),
// not in the path: the server serves index.html at "/" only, and /images/… is image bytes.

const TITLES = { upload: "Upload", images: "Images" };

export class Router {
  /** @param {Record<string, {activate?: () => void}>} views */
  constructor(views) {
    this.views = views;
    this.current = null;
    document.addEventListener("click", (event) => this.onClick(event));
    window.addEventListener("popstate", () => this.show(viewFromLocation(), { focus: true }));
  }

  start() {
    this.show(viewFromLocation(), { focus: false });
  }

  /** Show a view and record it in the history (no-op if it is already shown). */
  go(name) {
    if (name === this.current) return;
    history.pushState({ view: name }, "", urlFor(name));
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

  show(name, { focus }) {
    if (!(name in this.views)) name = "upload";
    const changed = name !== this.current;
    this.current = name;
    for (const section of document.querySelectorAll("[data-view]")) {
      section.hidden = section.getAttribute("data-view") !== name;
    }
    for (const link of document.querySelectorAll(".tabs [data-view-link]")) {
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
