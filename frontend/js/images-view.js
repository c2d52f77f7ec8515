// The Images view: a table of stored images, newest first, paged with the API's cursors.

import { announce } from "./announce.js";
import { deleteWithUndo } from "./deletion.js";
import { $, copyFromButton, fromTemplate, setText } from "./dom.js";
import { formatBytes, formatDimensions, formatFullDate, formatWhen, plural, typeName } from "./format.js";
import { setPreview } from "./previews.js";

/** The preview's CSS box (app.css `.thumb__img`): 48 px, 56 px on phones. */
const PREVIEW_BOX = 56;
const PREVIEW_SIZES = "(max-width: 680px) 56px, 48px";

export class ImagesView {
  /**
   * @param {import("./store.js").Store} store
   * @param {import("./viewer.js").Viewer} viewer
   * @param {import("./session.js").Session} session
   */
  constructor(store, viewer, session) {
    this.store = store;
    this.viewer = viewer;
    this.session = session;
    this.allSwitch = $("#images-all-switch");
    this.allInput = /** @type {HTMLInputElement} */ ($("#images-all"));
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
    // Admins: everyone's images, with an owner label on each row.
    this.allInput.addEventListener("change", () => store.setImagesAll(this.allInput.checked));
    session.addEventListener("change", () => this.render());
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
    if (remove) {
      this.remove(row, node);
      return;
    }
    // Anywhere else on the row but its controls (the URL field): open the viewer.
    if (target.closest("input, a, button:not(.thumb)")) return;
    this.openViewer(node);
  }

  openViewer(node) {
    this.viewer.open(node, this.viewerSource());
  }

  /** What the viewer steps through when opened from here: the loaded list, paged on demand. */
  viewerSource() {
    return {
      list: () => this.store.images.nodes,
      total: () => this.store.images.totalCount ?? this.store.images.nodes.length,
      more: async () => {
        await this.store.loadMoreImages();
        return true;
      },
      focusRow: (id) => {
        const row = this.rows.get(id);
        if (!row || !row.isConnected || row.closest("[hidden]")) return false;
        /** @type {HTMLElement} */ (row.querySelector(".thumb")).focus();
        return true;
      },
    };
  }

  remove(row, node) {
    // Where keyboard focus goes once the row is gone: the next row's delete button, else the previous one's.
    const neighbour = row.nextElementSibling || row.previousElementSibling;
    const hadFocus = row.contains(document.activeElement);
    if (!deleteWithUndo(this.store, node.id)) return;
    if (hadFocus) {
      const next = neighbour && neighbour.isConnected ? neighbour.querySelector(".delete-button") : null;
      (next || $("#images-title")).focus();
    }
  }

  render() {
    const images = this.store.images;
    const loaded = images.status === "loaded";
    this.allSwitch.hidden = !this.session.isAdmin;
    this.allInput.checked = this.store.imagesAll;

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
    if (images.error && images.error !== this.error.textContent) announce(images.error, { urgent: true });
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
      this.updateOwner(row, node);
    }
  }

  createRow(node) {
    const row = fromTemplate("image-row");
    row.dataset.id = node.id;
    row.querySelector(".thumb").setAttribute("aria-label", `View ${node.filename}`);
    setPreview(/** @type {HTMLImageElement} */ (row.querySelector(".thumb__img")), node, PREVIEW_BOX, PREVIEW_SIZES);
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
    row.querySelector(".copy-button__what").textContent = ` link to ${node.filename}`;
    const remove = row.querySelector(".delete-button");
    remove.setAttribute("aria-label", `Delete ${node.filename}`);
    remove.setAttribute("title", "Delete");
    return row;
  }

  /** The owner label shows while everyone's images are listed ("anonymous": a public upload). */
  updateOwner(row, node) {
    const owner = /** @type {HTMLElement} */ (row.querySelector(".cell-owner"));
    const shown = this.store.imagesAll;
    owner.hidden = !shown;
    setText(owner, shown ? (node.owner ? node.owner.username : "anonymous") : "");
    owner.title = shown ? (node.owner ? `Uploaded by ${node.owner.username}` : "Uploaded without an account") : "";
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
