// The image viewer: a modal <dialog> with the image large, its details, copyable snippets,
// delete, and next/previous (buttons and the arrow keys). The open image is in the address
// (`?image=<id>`, beside the view), so a viewer can be linked to and reloaded.

import * as api from "./api.js";
import { announce } from "./announce.js";
import { deleteWithUndo } from "./deletion.js";
import { $, copyFromButton, setText } from "./dom.js";
import { formatBytes, formatDimensions, formatFullDate, typeName } from "./format.js";
import { SNIPPET_KINDS, snippetsFor } from "./snippets.js";
import { showToast } from "./toast.js";

export const IMAGE_PARAM = "image";

/**
 * Where an open image sits: the list it was opened from (read fresh at each step, since
 * rows come and go) and how to give focus back to an image's row.
 * @typedef {{list: () => Array<object>, focusRow: (id: string) => boolean,
 *            more?: () => Promise<boolean>, total?: () => number}} Source
 */

export class Viewer {
  /** @param {import("./store.js").Store} store */
  constructor(store) {
    this.store = store;
    this.dialog = /** @type {HTMLDialogElement} */ ($("#viewer"));
    this.img = /** @type {HTMLImageElement} */ ($("#viewer-img"));
    this.prev = /** @type {HTMLButtonElement} */ ($("#viewer-prev"));
    this.next = /** @type {HTMLButtonElement} */ ($("#viewer-next"));
    this.node = null;
    /** @type {Source | null} */
    this.source = null;
    this.opener = null;

    $("#viewer-close").addEventListener("click", () => this.close());
    this.prev.addEventListener("click", () => this.step(-1));
    this.next.addEventListener("click", () => this.step(1));
    $("#viewer-delete").addEventListener("click", () => this.deleteShown());
    this.dialog.addEventListener("keydown", (event) => this.onKey(event));
    this.dialog.addEventListener("close", () => this.onClosed());
    // A click on the backdrop (outside the dialog's box) closes it, as Escape does.
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog && outside(this.dialog, event)) this.close();
    });
    this.dialog.addEventListener("click", (event) => {
      const button = /** @type {HTMLElement} */ (event.target).closest("[data-copy]");
      if (!button || !this.node) return;
      const field = /** @type {HTMLInputElement} */ (this.dialog.querySelector(`[data-snippet="${button.dataset.copy}"]`));
      copyFromButton(button, field.value, field);
    });
    window.addEventListener("popstate", () => this.syncWithLocation());
    // Pages load and rows come back (Undo) while it is open: previous/next follow.
    store.addEventListener("images", () => {
      if (this.node) this.renderPosition();
    });
  }

  /**
   * @param {object} node  an Image
   * @param {Source} source
   */
  open(node, source) {
    this.source = source;
    this.show(node);
    // The toast (Undo) and the live regions must stay usable and heard: the page behind is inert.
    this.dialog.append($("#live-regions"));
    if (!this.dialog.open) this.dialog.showModal();
    $("#viewer-close").focus();
  }

  show(node) {
    this.node = node;
    setText($("#viewer-title"), node.filename);
    this.img.alt = node.filename;
    this.img.width = node.width;
    this.img.height = node.height;
    this.img.src = node.url;
    setText($("#viewer-type"), typeName(node.contentType));
    setText($("#viewer-dims"), formatDimensions(node.width, node.height));
    setText($("#viewer-size"), formatBytes(node.size));
    const date = new Date(node.createdAt);
    const time = $("#viewer-date");
    time.setAttribute("datetime", node.createdAt);
    setText(time, Number.isNaN(date.getTime()) ? node.createdAt : formatFullDate(date));
    const snippets = snippetsFor(node);
    for (const kind of SNIPPET_KINDS) {
      const field = /** @type {HTMLInputElement} */ (this.dialog.querySelector(`[data-snippet="${kind}"]`));
      field.value = snippets[kind];
    }
    /** @type {HTMLAnchorElement} */ ($("#viewer-original")).href = node.url;
    $("#viewer-delete").setAttribute("aria-label", `Delete ${node.filename}`);
    this.renderPosition();
    this.writeLocation(node.id);
  }

  renderPosition() {
    const list = this.source ? this.source.list() : [];
    const index = list.findIndex((item) => item.id === this.node.id);
    const canLoadMore = Boolean(this.source && this.source.more && this.source.total && this.source.total() > list.length);
    this.prev.disabled = index <= 0;
    this.next.disabled = index < 0 || (index >= list.length - 1 && !canLoadMore);
    const total = this.source && this.source.total ? this.source.total() : list.length;
    setText($("#viewer-position"), index >= 0 ? `${index + 1} of ${total}` : "");
  }

  async step(delta) {
    if (!this.node || !this.source) return;
    let list = this.source.list();
    let index = list.findIndex((item) => item.id === this.node.id);
    if (index < 0) return;
    if (delta > 0 && index === list.length - 1 && this.source.more) {
      if (!(await this.source.more())) return;
      list = this.source.list();
      index = list.findIndex((item) => item.id === this.node.id);
    }
    const target = list[index + delta];
    if (!target) return;
    this.show(target);
    announce(`${target.filename}, ${$("#viewer-position").textContent}`);
  }

  onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const target = /** @type {HTMLElement} */ (event.target);
    if (target instanceof HTMLInputElement) return; // arrows move the caret in a snippet field
    if (event.key === "ArrowLeft") {
      event.preventDefault();
      this.step(-1);
    } else if (event.key === "ArrowRight") {
      event.preventDefault();
      this.step(1);
    }
  }

  deleteShown() {
    const node = this.node;
    if (!node || !this.source) return;
    const list = this.source.list();
    const index = list.findIndex((item) => item.id === node.id);
    const following = index >= 0 ? list[index + 1] || list[index - 1] : null;
    deleteWithUndo(this.store, node.id);
    if (following) {
      this.show(following);
      $("#viewer-delete").focus();
    } else {
      this.close();
    }
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  /** After any close (Escape, the button, the backdrop, history): forget, and give focus back. */
  onClosed() {
    const node = this.node;
    this.node = null;
    document.body.append($("#live-regions"));
    this.img.removeAttribute("src");
    this.writeLocation(null);
    const source = this.source;
    this.source = null;
    if (node && source && source.focusRow(node.id)) return;
    const heading = document.querySelector("[data-view]:not([hidden]) h1");
    if (heading instanceof HTMLElement) heading.focus();
  }

  writeLocation(id) {
    const url = new URL(location.href);
    if ((url.searchParams.get(IMAGE_PARAM) || null) === id) return;
    if (id) url.searchParams.set(IMAGE_PARAM, id);
    else url.searchParams.delete(IMAGE_PARAM);
    history.replaceState(history.state, "", url.pathname + url.search);
  }

  /**
   * Open the image the address names (a deep link, or history), fetching it when it is not on
   * a loaded page; close when the address names none.
   * @param {(id: string) => Source} sourceFor
   */
  async syncWithLocation(sourceFor = this.sourceFor) {
    if (sourceFor) this.sourceFor = sourceFor;
    const id = new URLSearchParams(location.search).get(IMAGE_PARAM);
    if (!id) {
      this.close();
      return;
    }
    if (this.node && this.node.id === id) return;
    let node = null;
    try {
      node = await api.fetchImage(id);
    } catch (error) {
      this.store.setConnection(error);
      showToast(`Could not open the image. ${error.message}`, { error: true });
      return;
    }
    if (!node) {
      this.writeLocation(null);
      showToast("That image does not exist, or was deleted.", { error: true });
      return;
    }
    this.open(node, this.sourceFor(id));
  }
}

function outside(dialog, event) {
  const box = dialog.getBoundingClientRect();
  return event.clientX < box.left || event.clientX > box.right || event.clientY < box.top || event.clientY > box.bottom;
}
