// The Upload view: the drop zone, the file picker, and one row per file.

import { announce } from "./announce.js";
import { $, copyFromButton, fromTemplate, setText } from "./dom.js";
import { formatBytes, formatDimensions, listTypes, typeName } from "./format.js";
import { setPreview } from "./previews.js";

/** The preview's CSS box (app.css `.upload__thumb`): 56 px, 44 px on phones. */
const PREVIEW_BOX = 56;
const PREVIEW_SIZES = "(max-width: 680px) 44px, 56px";

export class UploadView {
  /**
   * @param {import("./store.js").Store} store
   * @param {import("./viewer.js").Viewer} viewer
   */
  constructor(store, viewer) {
    this.store = store;
    this.viewer = viewer;
    this.zone = $("#dropzone");
    this.input = /** @type {HTMLInputElement} */ ($("#file-input"));
    this.list = $("#uploads");
    this.empty = $("#uploads-empty");
    this.clear = $("#clear-uploads");
    this.limitsText = $("#upload-limits");
    /** @type {Map<number, HTMLElement>} */
    this.rows = new Map();
    this.dragDepth = 0;

    this.zone.addEventListener("click", () => this.openPicker());
    this.zone.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        this.openPicker();
      }
    });
    this.input.addEventListener("change", () => {
      if (this.input.files && this.input.files.length) store.addFiles(this.input.files);
      this.input.value = "";
    });

    this.zone.addEventListener("dragenter", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      this.dragDepth += 1;
      this.zone.classList.add("is-over");
    });
    this.zone.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    this.zone.addEventListener("dragleave", () => {
      this.dragDepth = Math.max(0, this.dragDepth - 1);
      if (this.dragDepth === 0) this.zone.classList.remove("is-over");
    });
    this.zone.addEventListener("drop", (event) => {
      event.preventDefault();
      event.stopPropagation();
      this.dragDepth = 0;
      this.zone.classList.remove("is-over");
      const files = event.dataTransfer ? event.dataTransfer.files : null;
      if (files && files.length) store.addFiles(files);
    });

    this.list.addEventListener("click", (event) => this.onListClick(event));
    this.clear.addEventListener("click", () => store.clearFinished());

    store.addEventListener("upload", (event) => this.renderRow(event.detail));
    store.addEventListener("uploads-reset", () => this.renderAll());
    store.addEventListener("limits", () => this.renderLimits());
    this.renderAll();
  }

  openPicker() {
    this.input.click();
  }

  onListClick(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    const row = target.closest(".upload");
    if (!row) return;
    const upload = this.store.uploads.find((item) => String(item.id) === row.dataset.id);
    if (!upload) return;
    const copy = target.closest(".copy-button");
    if (copy && upload.image) {
      copyFromButton(copy, upload.image.url, row.querySelector(".url-field"));
      return;
    }
    if (target.closest(".upload__retry")) {
      this.store.retry(upload.id);
      return;
    }
    if (upload.image && (target.closest(".upload__thumb") || target.closest(".upload__name"))) {
      this.viewer.open(upload.image, this.viewerSource());
    }
  }

  /** What the viewer steps through when opened from here: this page's finished uploads. */
  viewerSource() {
    return {
      list: () => this.store.uploads.filter((upload) => upload.image).map((upload) => upload.image),
      focusRow: (id) => {
        const upload = this.store.uploads.find((item) => item.image && item.image.id === id);
        const row = upload ? this.rows.get(upload.id) : null;
        if (!row || !row.isConnected || row.closest("[hidden]")) return false;
        /** @type {HTMLElement} */ (row.querySelector(".upload__thumb")).focus();
        return true;
      },
    };
  }

  renderLimits() {
    const limits = this.store.limits;
    if (!limits) return;
    // Types, and their usual extensions for systems that do not map newer types (HEIC) to files.
    const extensions = limits.acceptedTypes.map((type) => `.${type.split("/")[1]}`);
    this.input.accept = [...limits.acceptedTypes, ...extensions].join(",");
    setText(this.limitsText, `${listTypes(limits.acceptedTypes)} · up to ${formatBytes(limits.maxUploadBytes)} each`);
  }

  renderAll() {
    const keep = new Set(this.store.uploads.map((upload) => upload.id));
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) {
        row.remove();
        this.rows.delete(id);
      }
    }
    for (const upload of this.store.uploads) this.renderRow(upload);
    this.renderSummary();
  }

  renderSummary() {
    const count = this.store.uploads.length;
    this.empty.hidden = count > 0;
    this.clear.hidden = !this.store.uploads.some((u) => u.state === "done" || u.state === "error");
  }

  renderRow(upload) {
    let row = this.rows.get(upload.id);
    if (!row) {
      row = fromTemplate("upload-row");
      row.dataset.id = String(upload.id);
      setText(row.querySelector(".upload__name"), upload.name);
      row.querySelector(".upload__name").title = upload.name;
      row.querySelector(".progress").setAttribute("aria-label", `Uploading ${upload.name}`);
      row.querySelector(".url-field").setAttribute("aria-label", `Shareable link to ${upload.name}`);
      row.querySelector(".copy-button__what").textContent = ` link to ${upload.name}`;
      row.querySelector(".upload__thumb").setAttribute("aria-label", `View ${upload.name}`);
      row.querySelector(".upload__retry").setAttribute("aria-label", `Retry ${upload.name}`);
      this.rows.set(upload.id, row);
      this.list.prepend(row);
    }
    row.dataset.state = upload.state;

    const meta = row.querySelector(".upload__meta");
    const progress = /** @type {HTMLProgressElement} */ (row.querySelector(".progress"));
    const percent = row.querySelector(".upload__percent");
    if (upload.state === "done" && upload.image) {
      const image = upload.image;
      setText(meta, `${typeName(image.contentType)} · ${formatDimensions(image.width, image.height)} · ${formatBytes(image.size)}`);
      const field = /** @type {HTMLInputElement} */ (row.querySelector(".url-field"));
      if (field.value !== image.url) field.value = image.url;
      const img = /** @type {HTMLImageElement} */ (row.querySelector(".upload__img"));
      if (img.hidden) {
        img.addEventListener("load", () => row.classList.add("has-preview"), { once: true });
        setPreview(img, image, PREVIEW_BOX, PREVIEW_SIZES);
        img.hidden = false;
        /** @type {HTMLButtonElement} */ (row.querySelector(".upload__thumb")).disabled = false;
      }
    } else {
      setText(meta, formatBytes(upload.size));
    }
    if (upload.state === "checking" || upload.state === "queued") {
      progress.removeAttribute("value");
      setText(percent, upload.state === "checking" ? "Checking…" : "Waiting…");
    } else if (upload.state === "uploading") {
      const value = Math.round(upload.progress * 100);
      progress.value = value;
      setText(percent, value >= 100 ? "Processing…" : `${value}%`);
    }
    if (upload.state === "error") {
      const text = row.querySelector(".upload__error-text");
      if (text.textContent !== upload.error) announce(upload.error, { urgent: true });
      setText(text, upload.error);
      row.querySelector(".upload__retry").hidden = !upload.retryable;
    }
    this.renderSummary();
  }
}

function carriesFiles(event) {
  const types = event.dataTransfer ? Array.from(event.dataTransfer.types || []) : [];
  return types.includes("Files");
}
