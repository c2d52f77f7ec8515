// "Your uploads in this browser": signed out in public-uploads mode, the anonymous uploads whose
// delete tokens this browser keeps, each with its link and a Delete button.

import { announce } from "./announce.js";
import * as api from "./api.js";
import { browserUploads, forgetUpload } from "./browser-uploads.js";
import { confirmAction } from "./dialogs.js";
import { $, fromTemplate } from "./dom.js";
import { showToast } from "./toast.js";

export class BrowserUploadsView {
  /**
   * @param {import("./session.js").Session} session
   * @param {import("./store.js").Store} store
   */
  constructor(session, store) {
    this.session = session;
    this.store = store;
    this.section = $("#browser-uploads");
    this.list = $("#browser-uploads-list");
    this.list.addEventListener("click", (event) => {
      const button = /** @type {HTMLElement} */ (event.target).closest(".browser-upload__delete");
      if (button) this.remove(/** @type {HTMLElement} */ (button.closest(".browser-upload")).dataset.id);
    });
    session.addEventListener("change", () => this.render());
    store.addEventListener("browser-uploads", () => this.render());
    // Another tab of this site uploaded or deleted.
    window.addEventListener("storage", () => this.render());
    this.render();
  }

  render() {
    const entries = this.session.status === "signed-out" ? browserUploads() : [];
    this.section.hidden = entries.length === 0;
    const focused = document.activeElement && this.list.contains(document.activeElement);
    this.list.replaceChildren(...entries.map((entry) => this.row(entry)));
    if (focused) $("#upload-title").focus();
  }

  row(entry) {
    const row = fromTemplate("browser-upload-row");
    row.dataset.id = entry.id;
    const link = /** @type {HTMLAnchorElement} */ (row.querySelector(".browser-upload__link"));
    link.href = entry.url;
    link.textContent = entry.filename || entry.url;
    link.title = entry.url;
    row.querySelector(".browser-upload__delete").setAttribute("aria-label", `Delete ${entry.filename || entry.url}`);
    return row;
  }

  async remove(id) {
    const entry = browserUploads().find((item) => item.id === id);
    if (!entry) return;
    const sure = await confirmAction({
      title: `Delete ${entry.filename}?`,
      text: "The image and its link stop working for everyone. This cannot be undone.",
      confirm: "Delete image",
    });
    if (!sure) return;
    let result;
    try {
      result = await api.deleteImage(id, { deleteToken: entry.deleteToken });
    } catch (error) {
      this.store.setConnection(error);
      showToast(`Could not delete ${entry.filename}. ${error.message}`, { error: true });
      return;
    }
    // Deleted, or gone already (the token cannot delete anything else): either way nothing is left to keep.
    forgetUpload(id);
    this.store.forgetImage(id);
    const said = result.__typename === "DeletedImage" ? `Deleted ${entry.filename}.` : `${entry.filename} was already gone.`;
    showToast(said);
    announce(said);
    this.render();
  }
}
