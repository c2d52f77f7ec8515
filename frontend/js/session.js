// Who is signed in. Views listen for its "change" event (detail: {reason}), reasons being
//   "loaded"     the first answer to `viewer` arrived
//   "signed-in"  the sign-in form worked
//   "signed-out" the viewer signed out
//   "ended"      an answer said UNAUTHENTICATED while the page thought it was signed in
//   "updated"    the viewer's own record changed (e.g. after a password change)

import * as api from "./api.js";
import { authSignals } from "./graphql.js";

export const SESSION_ENDED_MESSAGE = "Your session ended; please sign in again.";

export class Session extends EventTarget {
  constructor() {
    super();
    /** @type {null | {id: string, username: string, isAdmin: boolean}} */
    this.viewer = null;
    this.publicUploads = false;
    this.status = "unknown"; // unknown | signed-in | signed-out
    /** Shown on the sign-in view: why it is there (the session ended), or "". */
    this.notice = "";
    authSignals.addEventListener("unauthenticated", () => this.ended());
  }

  get signedIn() {
    return this.status === "signed-in";
  }

  get isAdmin() {
    return Boolean(this.viewer && this.viewer.isAdmin);
  }

  emit(reason) {
    this.dispatchEvent(new CustomEvent("change", { detail: { reason } }));
  }

  /** Ask the server who this is. Rejects (a RequestError) when it cannot be reached. */
  async load() {
    const { viewer, publicUploads } = await api.fetchViewer();
    this.publicUploads = publicUploads;
    this.set(viewer);
    this.emit("loaded");
  }

  set(viewer) {
    this.viewer = viewer;
    this.status = viewer ? "signed-in" : "signed-out";
  }

  /**
   * Sign in; resolves to null on success, else the message to show (with when to retry).
   * Network failures reject.
   */
  async signIn(username, password) {
    const result = await api.signIn(username, password);
    if (result.__typename === "SignedIn") {
      this.notice = "";
      this.set(result.user);
      this.emit("signed-in");
      return null;
    }
    return describeFailure(result);
  }

  async signOut() {
    try {
      await api.signOut();
    } finally {
      // Signed out on this page even when the answer was lost: the server forgets idle sessions.
      this.notice = "";
      this.set(null);
      this.emit("signed-out");
    }
  }

  /** The server no longer knows this page's session (signed out elsewhere, expired, password reset). */
  ended() {
    if (!this.signedIn) return;
    this.notice = SESSION_ENDED_MESSAGE;
    this.set(null);
    this.emit("ended");
  }

  /** The viewer's own record after a change (password, quota). */
  update(viewer) {
    if (!this.viewer || !viewer || viewer.id !== this.viewer.id) return;
    this.viewer = viewer;
    this.emit("updated");
  }
}

/** A SignInFailed in words, with when another attempt may work. */
export function describeFailure(failure) {
  const message = failure.message || "Signing in did not work.";
  if (failure.code !== "RATE_LIMITED" || !failure.retryAfterSeconds) return message;
  const seconds = failure.retryAfterSeconds;
  const at = new Date(Date.now() + seconds * 1000);
  const clock = at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  return `${message} Try again in ${waitText(seconds)} (at ${clock}).`;
}

function waitText(seconds) {
  if (seconds < 60) return seconds === 1 ? "1 second" : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? "1 minute" : `${minutes} minutes`;
}
