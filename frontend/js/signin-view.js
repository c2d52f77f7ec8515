// The sign-in view: username and password, the server's refusal in words, and why it is shown
// when the session ended.

import { announce } from "./announce.js";
import { $, setText } from "./dom.js";

export class SignInView {
  /** @param {import("./session.js").Session} session */
  constructor(session) {
    this.session = session;
    this.form = /** @type {HTMLFormElement} */ ($("#signin-form"));
    this.username = /** @type {HTMLInputElement} */ ($("#signin-username"));
    this.password = /** @type {HTMLInputElement} */ ($("#signin-password"));
    this.submit = /** @type {HTMLButtonElement} */ (this.form.querySelector("[type=submit]"));
    this.error = $("#signin-error");
    this.notice = $("#signin-notice");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    session.addEventListener("change", () => this.render());
    this.render();
  }

  activate() {
    this.render();
    if (this.session.notice) announce(this.session.notice, { urgent: true });
  }

  render() {
    setText(this.notice, this.session.notice);
    this.notice.hidden = !this.session.notice;
    $("#signin-public").hidden = !this.session.publicUploads;
    if (this.session.signedIn) {
      this.password.value = "";
      this.showError("");
    }
  }

  showError(message) {
    setText(this.error, message);
    this.error.hidden = !message;
    if (message) announce(message, { urgent: true });
  }

  async send() {
    const username = this.username.value.trim();
    const password = this.password.value;
    if (!username || !password) {
      this.showError("Enter your username and password.");
      (username ? this.password : this.username).focus();
      return;
    }
    this.submit.disabled = true;
    setText(this.submit, "Signing in…");
    try {
      const problem = await this.session.signIn(username, password);
      if (problem) {
        this.showError(problem);
        this.password.select();
        this.password.focus();
      }
    } catch (error) {
      this.showError(`Could not sign in. ${error.message}`);
    } finally {
      this.submit.disabled = false;
      setText(this.submit, "Sign in");
    }
  }
}
