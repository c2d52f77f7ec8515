// The API tokens view: the viewer's tokens (label, created, last used), creating one (its
// secret shown once, with a ShareX uploader and a curl command made from it) and revoking.
// The secret lives only in this view's fields while shown: never in storage, gone on reload.

import * as api from "./api.js";
import { announce } from "./announce.js";
import { confirmAction } from "./dialogs.js";
import { $, copyFromButton, fromTemplate, setText } from "./dom.js";
import { formatFullDate, formatWhen } from "./format.js";
import { curlCommand, sharexFileName, sharexUploader } from "./screenshot-tools.js";
import { showToast } from "./toast.js";

export class TokensView {
  /** @param {import("./session.js").Session} session */
  constructor(session) {
    this.session = session;
    this.tokens = [];
    this.form = /** @type {HTMLFormElement} */ ($("#token-form"));
    this.label = /** @type {HTMLInputElement} */ ($("#token-label"));
    this.formError = $("#token-error");
    this.error = $("#tokens-error");
    this.table = $("#tokens-table");
    this.body = $("#tokens-body");
    this.empty = $("#tokens-empty");
    this.panel = $("#new-token");
    this.download = /** @type {HTMLAnchorElement} */ ($("#sharex-download"));
    this.downloadUrl = "";

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
    this.body.addEventListener("click", (event) => {
      const button = /** @type {HTMLElement} */ (event.target).closest(".token-row__revoke");
      if (button) this.revoke(/** @type {HTMLElement} */ (button.closest(".token-row")).dataset.id);
    });
    this.panel.addEventListener("click", (event) => {
      const button = /** @type {HTMLElement} */ (event.target).closest("[data-copy-field]");
      if (!button) return;
      const field = /** @type {HTMLInputElement} */ ($(`#${button.dataset.copyField}`));
      copyFromButton(button, field.value, field);
    });
    $("#new-token-done").addEventListener("click", () => {
      this.hideSecret();
      this.label.focus();
    });
    // Signed out (or someone else signed in): nothing of the last viewer's stays on the page.
    session.addEventListener("change", (event) => {
      const { reason } = /** @type {CustomEvent} */ (event).detail;
      if (reason !== "updated") this.clear();
    });
  }

  activate() {
    this.load();
  }

  clear() {
    this.hideSecret();
    this.tokens = [];
    this.render();
  }

  async load() {
    try {
      this.tokens = await api.fetchApiTokens();
      this.showError("");
    } catch (error) {
      this.showError(`Could not load the tokens. ${error.message}`);
    }
    this.render();
  }

  showError(message) {
    setText(this.error, message);
    this.error.hidden = !message;
    if (message) announce(message, { urgent: true });
  }

  render() {
    this.table.hidden = this.tokens.length === 0;
    this.empty.hidden = this.tokens.length > 0 || !this.session.signedIn;
    this.body.replaceChildren(...this.tokens.map((token) => this.row(token)));
  }

  row(token) {
    const row = fromTemplate("token-row");
    row.dataset.id = token.id;
    row.querySelector(".token-row__label").textContent = token.label;
    setTime(row.querySelector(".token-row__created"), token.createdAt);
    const used = row.querySelector(".token-row__used");
    if (token.lastUsedAt) {
      const time = document.createElement("time");
      setTime(time, token.lastUsedAt);
      used.append(time);
    } else {
      used.textContent = "never";
    }
    row.querySelector(".token-row__revoke").setAttribute("aria-label", `Revoke ${token.label}`);
    return row;
  }

  async create() {
    const label = this.label.value.trim();
    setText(this.formError, "");
    this.formError.hidden = true;
    if (!label) {
      setText(this.formError, "Give the token a label, e.g. the tool that will use it.");
      this.formError.hidden = false;
      this.label.focus();
      return;
    }
    const submit = /** @type {HTMLButtonElement} */ (this.form.querySelector("[type=submit]"));
    submit.disabled = true;
    try {
      const created = await api.createApiToken(label);
      this.form.reset();
      this.tokens = [created.token, ...this.tokens.filter((token) => token.id !== created.token.id)];
      this.render();
      this.showSecret(created.token, created.secret);
    } catch (error) {
      setText(this.formError, `Could not create the token. ${error.message}`);
      this.formError.hidden = false;
      announce(this.formError.textContent, { urgent: true });
    } finally {
      submit.disabled = false;
    }
  }

  showSecret(token, secret) {
    this.hideSecret();
    setText($("#new-token-title"), `New token “${token.label}”`);
    /** @type {HTMLInputElement} */ ($("#new-token-secret")).value = secret;
    /** @type {HTMLTextAreaElement} */ ($("#new-token-curl")).value = curlCommand(secret);
    const file = new Blob([sharexUploader(secret)], { type: "application/json" });
    this.downloadUrl = URL.createObjectURL(file);
    this.download.href = this.downloadUrl;
    this.download.download = sharexFileName(token.label);
    this.panel.hidden = false;
    this.panel.focus();
    announce(`Token ${token.label} created. Copy its secret now: it won't be shown again.`);
  }

  /** Forget the secret: out of the fields, the download link revoked. */
  hideSecret() {
    this.panel.hidden = true;
    /** @type {HTMLInputElement} */ ($("#new-token-secret")).value = "";
    /** @type {HTMLTextAreaElement} */ ($("#new-token-curl")).value = "";
    if (this.downloadUrl) URL.revokeObjectURL(this.downloadUrl);
    this.downloadUrl = "";
    this.download.href = "./";
  }

  async revoke(id) {
    const token = this.tokens.find((item) => item.id === id);
    if (!token) return;
    const sure = await confirmAction({
      title: `Revoke “${token.label}”?`,
      text: "Scripts and tools using this token stop working at once. This cannot be undone.",
      confirm: "Revoke token",
    });
    if (!sure) return;
    try {
      await api.revokeApiToken(id);
    } catch (error) {
      showToast(`Could not revoke ${token.label}. ${error.message}`, { error: true });
      return;
    }
    this.tokens = this.tokens.filter((item) => item.id !== id);
    this.render();
    showToast(`Revoked ${token.label}.`);
    $("#tokens-title").focus();
  }
}

function setTime(element, value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    element.textContent = value;
    return;
  }
  element.setAttribute("datetime", value);
  element.setAttribute("title", formatFullDate(date));
  element.textContent = formatWhen(date);
}
