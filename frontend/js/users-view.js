// The Users view (admins): every account with its role, images, bytes and quota; create an
// account, set a quota (empty: no limit), reset a password, remove an account with its images.

import * as api from "./api.js";
import { announce } from "./announce.js";
import { confirmAction, openFormDialog } from "./dialogs.js";
import { $, fromTemplate, setText } from "./dom.js";
import { formatBytes, plural } from "./format.js";
import { showToast } from "./toast.js";

const MIB = 1024 * 1024;
/** GraphQL's Int is 32-bit: the largest quota the API can carry. */
const MAX_QUOTA_BYTES = 2 ** 31 - 1;

export class UsersView {
  /** @param {import("./session.js").Session} session */
  constructor(session) {
    this.session = session;
    this.users = [];
    this.form = /** @type {HTMLFormElement} */ ($("#user-form"));
    this.formError = $("#user-error");
    this.error = $("#users-error");
    this.table = $("#users-table");
    this.body = $("#users-body");

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
    this.body.addEventListener("click", (event) => this.onClick(event));
    session.addEventListener("change", (event) => {
      const { reason } = /** @type {CustomEvent} */ (event).detail;
      if (reason === "updated") return;
      this.users = [];
      this.render();
    });
  }

  activate() {
    this.load();
  }

  async load() {
    try {
      this.users = await api.fetchUsers();
      this.showError("");
    } catch (error) {
      this.showError(`Could not load the accounts. ${error.message}`);
    }
    this.render();
  }

  showError(message) {
    setText(this.error, message);
    this.error.hidden = !message;
    if (message) announce(message, { urgent: true });
  }

  showFormError(message) {
    setText(this.formError, message);
    this.formError.hidden = !message;
    if (message) announce(message, { urgent: true });
  }

  render() {
    setText($("#users-count"), this.users.length ? plural(this.users.length, "account", "accounts") : "");
    this.table.hidden = this.users.length === 0;
    this.body.replaceChildren(...this.users.map((user) => this.row(user)));
  }

  row(user) {
    const row = fromTemplate("user-row");
    row.dataset.id = user.id;
    row.querySelector(".user-row__name").textContent = user.username;
    row.querySelector(".user-row__role").textContent = user.isAdmin ? "admin" : "member";
    row.querySelector(".user-row__images").textContent = new Intl.NumberFormat().format(user.imageCount);
    row.querySelector(".user-row__stored").textContent = formatBytes(user.storedBytes);
    row.querySelector(".user-row__quota").textContent = user.quotaBytes === null ? "no limit" : formatBytes(user.quotaBytes);
    row.querySelector(".user-row__quota-button").setAttribute("aria-label", `Set quota of ${user.username}`);
    row.querySelector(".user-row__reset").setAttribute("aria-label", `Reset password of ${user.username}`);
    const remove = /** @type {HTMLButtonElement} */ (row.querySelector(".user-row__remove"));
    remove.setAttribute("aria-label", `Remove ${user.username}`);
    if (this.session.viewer && user.id === this.session.viewer.id) {
      remove.disabled = true;
      remove.title = "You cannot remove your own account";
    }
    return row;
  }

  onClick(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    const row = /** @type {HTMLElement | null} */ (target.closest(".user-row"));
    const user = row ? this.users.find((item) => item.id === row.dataset.id) : null;
    if (!user) return;
    if (target.closest(".user-row__quota-button")) this.setQuota(user);
    else if (target.closest(".user-row__reset")) this.resetPassword(user);
    else if (target.closest(".user-row__remove")) this.remove(user);
  }

  /** Put a changed account in its row (and in the header, when it is the viewer's own). */
  replace(user) {
    this.users = this.users.map((item) => (item.id === user.id ? user : item));
    this.session.update(user);
    this.render();
  }

  async create() {
    const username = /** @type {HTMLInputElement} */ ($("#user-username")).value.trim();
    const password = /** @type {HTMLInputElement} */ ($("#user-password")).value;
    const admin = /** @type {HTMLInputElement} */ ($("#user-admin")).checked;
    this.showFormError("");
    if (!username || !password) {
      this.showFormError("Enter a username and a password for the new account.");
      return;
    }
    const submit = /** @type {HTMLButtonElement} */ (this.form.querySelector("[type=submit]"));
    submit.disabled = true;
    try {
      const result = await api.createUser(username, password, admin);
      if (result.__typename === "AccountError") {
        this.showFormError(result.message);
        return;
      }
      this.form.reset();
      this.users = [...this.users.filter((item) => item.id !== result.id), result];
      this.render();
      showToast(`Created ${result.username}.`);
      announce(`Created ${result.username}.`);
      /** @type {HTMLElement} */ ($("#user-username")).focus();
    } catch (error) {
      this.showFormError(`Could not create the account. ${error.message}`);
    } finally {
      submit.disabled = false;
    }
  }

  setQuota(user) {
    openFormDialog("quota-dialog", {
      title: `Quota of ${user.username}`,
      prepare: (form) => {
        const field = /** @type {HTMLInputElement} */ (form.elements.namedItem("quota"));
        field.value = user.quotaBytes === null ? "" : String(Math.round((user.quotaBytes / MIB) * 100) / 100);
      },
      submit: async (form) => {
        const text = /** @type {HTMLInputElement} */ (form.elements.namedItem("quota")).value.trim();
        let quotaBytes = null;
        if (text !== "") {
          const mebibytes = Number(text);
          if (!Number.isFinite(mebibytes) || mebibytes < 0) return "Enter a number of MiB (0 or more), or leave it empty for no limit.";
          quotaBytes = Math.round(mebibytes * MIB);
          if (quotaBytes > MAX_QUOTA_BYTES) return `The largest quota the server takes is ${formatBytes(MAX_QUOTA_BYTES)}; leave it empty for no limit.`;
        }
        const result = await api.setUserQuota(user.id, quotaBytes);
        if (result.__typename === "AccountError") return result.message;
        this.replace(result);
        const said = result.quotaBytes === null ? `${result.username} has no quota now.` : `Quota of ${result.username}: ${formatBytes(result.quotaBytes)}.`;
        showToast(said);
        announce(said);
        return "";
      },
    });
  }

  resetPassword(user) {
    openFormDialog("reset-dialog", {
      title: `Reset password of ${user.username}`,
      submit: async (form) => {
        const password = /** @type {HTMLInputElement} */ (form.elements.namedItem("password")).value;
        const result = await api.resetPassword(user.id, password);
        if (result.__typename === "AccountError") return result.message;
        this.replace(result);
        const said = `New password set for ${result.username}; their sessions ended.`;
        showToast(said);
        announce(said);
        return "";
      },
    });
  }

  async remove(user) {
    const sure = await confirmAction({
      title: `Remove ${user.username}?`,
      text: `The account and its ${plural(user.imageCount, "image", "images")} (${formatBytes(user.storedBytes)}) are deleted. This cannot be undone.`,
      confirm: "Remove account",
    });
    if (!sure) return;
    try {
      const removed = await api.deleteUser(user.id);
      if (!removed) showToast(`${user.username} was already gone.`);
      else showToast(`Removed ${user.username}.`);
    } catch (error) {
      showToast(`Could not remove ${user.username}. ${error.message}`, { error: true });
      return;
    }
    this.users = this.users.filter((item) => item.id !== user.id);
    this.render();
    $("#users-title").focus();
  }
}
