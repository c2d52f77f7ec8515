// The Images view: a table of stored images, newest first, paged with the API's cursors.

import { $, copyFromButton, fromTemplate, setText } from "./dom.js";
import { formatBytes, formatDimensions, formatFullDate, formatWhen, plural, typeName } from "./format.js";
import { showToast } from "./toast.js";

export class ImagesView {
  /** @param {import("./store.js").Store} store */
  constructor(store) {
    this.store = store;
    this.table = $("#images-table");
    this.body = $("#images-body");
    this.count = $("#images-count");
    this.empty = $("#images-empty");
    this.loading = $("#images-loading");
    this.error = $("#images-error");
    this.more = /** @type {HTMLButtonElement} */ ($("#images-more"));
    this.refresh = /** @type {HTMLButtonElement} */ ($("#images-refresh"));
    this.tabCount = $("[data-total-count]");
    /** @type {Map<string, HTMLElement>} */
    this.rows = new Map();

    this.more.addEventListener("click", () => store.loadMoreImages());
    this.refresh.addEventListener("click", () => store.loadImages());
    this.body.addEventListener("click", (event) => this.onClick(event));
    store.addEventListener("images", () => this.render());
    this.render();
  }

  /** Called by the router each time the view is shown: the list may have changed elsewhere. */
  activate() {
    this.store.loadImages();
  }

  onClick(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    const row = /** @type {HTMLElement | null} */ (target.closest(".image-row"));
    if (!row) return;
    const node = this.store.images.nodes.find((item) => item.id === row.dataset.id);
    if (!node) return;
    const copy = target.closest(".copy-button");
    if (copy) {
      copyFromButton(copy, node.url, row.querySelector(".url-field"));
      return;
    }
    const remove = /** @type {HTMLButtonElement | null} */ (target.closest(".delete-button"));
    if (remove) this.remove(row, remove, node);
  }

  async remove(row, button, node) {
    button.disabled = true;
    row.classList.add("is-deleting");
    // Where keyboard focus goes once the row is gone: the next row's delete button, else the previous one's.
    const neighbour = row.nextElementSibling || row.previousElementSibling;
    const hadFocus = row.contains(document.activeElement);
    const result = await this.store.deleteImage(node.id);
    showToast(result.message, { error: !result.ok });
    if (!result.ok) {
      button.disabled = false;
      row.classList.remove("is-deleting");
      return;
    }
    if (hadFocus) {
      const next = neighbour && neighbour.isConnected ? neighbour.querySelector(".delete-button") : null;
      (next || $("#images-title")).focus();
    }
  }

  render() {
    const images = this.store.images;
    const loaded = images.status === "loaded";

    if (images.totalCount === null) {
      setText(this.count, "");
      this.tabCount.hidden = true;
    } else {
      setText(this.count, plural(images.totalCount, "image", "images"));
      setText(this.tabCount, String(images.totalCount));
      this.tabCount.hidden = false;
    }

    this.loading.hidden = images.status !== "loading";
    this.error.hidden = !images.error;
    setText(this.error, images.error);
    this.empty.hidden = !(loaded && images.nodes.length === 0);
    this.table.hidden = !(loaded && images.nodes.length > 0);
    this.refresh.disabled = Boolean(images.refreshing);

    this.more.hidden = !(loaded && images.hasNextPage);
    this.more.disabled = images.loadingMore;
    setText(this.more, images.loadingMore ? "Loading…" : `Load more (${Math.max(0, (images.totalCount || 0) - images.nodes.length)} left)`);

    this.renderRows(images.nodes);
  }

  renderRows(nodes) {
    const wanted = new Set(nodes.map((node) => node.id));
    for (const [id, row] of this.rows) {
      if (!wanted.has(id)) {
        row.remove();
        this.rows.delete(id);
      }
    }
    // Walk in order and move rows only where needed, so existing rows (and focus) stay put.
    let cursor = this.body.firstElementChild;
    for (const node of nodes) {
      let row = this.rows.get(node.id);
      if (!row) {
        row = this.createRow(node);
        this.rows.set(node.id, row);
      }
      if (row !== cursor) this.body.insertBefore(row, cursor);
      else cursor = cursor.nextElementSibling;
      this.updateTime(row, node);
    }
  }

  createRow(node) {
    const row = fromTemplate("image-row");
    row.dataset.id = node.id;
    const link = /** @type {HTMLAnchorElement} */ (row.querySelector(".thumb"));
    link.href = node.url;
    link.setAttribute("aria-label", `Open ${node.filename} in a new tab`);
    const img = /** @type {HTMLImageElement} */ (row.querySelector(".thumb__img"));
    img.src = node.url;
    const name = row.querySelector(".cell-name");
    name.textContent = node.filename;
    name.setAttribute("title", node.filename);
    row.querySelector(".cell-type").textContent = typeName(node.contentType);
    row.querySelector(".cell-dims").textContent = formatDimensions(node.width, node.height);
    row.querySelector(".cell-size").textContent = formatBytes(node.size);
    row.querySelector(".cell-summary").textContent =
      `${typeName(node.contentType)} · ${formatDimensions(node.width, node.height)} · ${formatBytes(node.size)}`;
    const field = /** @type {HTMLInputElement} */ (row.querySelector(".url-field"));
    field.value = node.url;
    field.setAttribute("aria-label", `Shareable link to ${node.filename}`);
    row.querySelector(".copy-button").setAttribute("aria-label", `Copy link to ${node.filename}`);
    const remove = row.querySelector(".delete-button");
    remove.setAttribute("aria-label", `Delete ${node.filename}`);
    remove.setAttribute("title", "Delete");
    return row;
  }

  updateTime(row, node) {
    const time = row.querySelector(".cell-time");
    const date = new Date(node.createdAt);
    if (Number.isNaN(date.getTime())) {
      setText(time, node.createdAt);
      return;
    }
    time.setAttribute("datetime", node.createdAt);
    time.setAttribute("title", formatFullDate(date));
    setText(time, formatWhen(date));
  }
}
