// The account menu in the header: who is signed in, API tokens, Users (admins), change password,
// sign out. A disclosure: the button opens a panel of ordinary links and buttons (Tab moves
// through them, Escape or a click elsewhere closes it).

import * as api from "./api.js";
import { announce } from "./announce.js";
import { openFormDialog } from "./dialogs.js";
import { $, setText } from "./dom.js";
import { showToast } from "./toast.js";

export class AccountMenu {
  /**
   * @param {import("./session.js").Session} session
   * @param {{signOut: () => Promise<void>}} actions  what signing out involves beyond the session
   */
  constructor(session, actions) {
    this.session = session;
    this.actions = actions;
    this.root = $("#account");
    this.button = /** @type {HTMLButtonElement} */ ($("#account-button"));
    this.panel = $("#account-panel");

    this.button.addEventListener("click", () => this.toggle(this.panel.hidden));
    this.root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.panel.hidden) {
        event.preventDefault();
        this.toggle(false);
        this.button.focus();
      }
    });
    // A click outside, or focus leaving the menu, closes it; following one of its links too.
    document.addEventListener("click", (event) => {
      const target = /** @type {Node} */ (event.target);
      if (!this.root.contains(target) || (target instanceof Element && target.closest("a"))) this.toggle(false);
    });
    this.root.addEventListener("focusout", (event) => {
      const next = /** @type {Node | null} */ (event.relatedTarget);
      if (next && !this.root.contains(next)) this.toggle(false);
    });
    $("#sign-out").addEventListener("click", () => {
      this.toggle(false);
      this.actions.signOut();
    });
    $("#change-password-open").addEventListener("click", () => {
      this.toggle(false);
      this.changePassword();
    });
    session.addEventListener("change", () => this.render());
    this.render();
  }

  toggle(open) {
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
  }

  render() {
    const viewer = this.session.viewer;
    const signedIn = Boolean(viewer);
    this.root.hidden = !signedIn;
    $("#signin-link").hidden = signedIn || !this.session.publicUploads || this.session.status === "unknown";
    for (const element of document.querySelectorAll("[data-needs-account]")) {
      /** @type {HTMLElement} */ (element).hidden = !signedIn;
    }
    if (!signedIn) {
      this.toggle(false);
      return;
    }
    setText($("#account-name"), viewer.username);
    setText($("#account-who"), viewer.username);
    setText($("#account-role"), viewer.isAdmin ? " (admin)" : "");
    $("#account-users-item").hidden = !viewer.isAdmin;
  }

  changePassword() {
    openFormDialog("password-dialog", {
      submit: async (form) => {
        const current = /** @type {HTMLInputElement} */ (form.elements.namedItem("current")).value;
        const next = /** @type {HTMLInputElement} */ (form.elements.namedItem("new")).value;
        const result = await api.changePassword(current, next);
        if (result.__typename === "AccountError") return result.message;
        showToast("Password changed.");
        announce("Password changed.");
        this.session.update(result);
        return "";
      },
    });
  }
}
