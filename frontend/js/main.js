// Wires the page together: the session, the store, the views, the router and page-wide handlers.

import { AccountMenu } from "./account-menu.js";
import { announce } from "./announce.js";
import { BrowserUploadsView } from "./browser-uploads-view.js";
import { $ } from "./dom.js";
import { ImagesView } from "./images-view.js";
import { Router } from "./router.js";
import { Session } from "./session.js";
import { SignInView } from "./signin-view.js";
import { DEFAULT_PAGE_SIZE, Store } from "./store.js";
import { dismiss, showToast, setUpToast } from "./toast.js";
import { TokensView } from "./tokens-view.js";
import { UploadView } from "./upload-view.js";
import { UsersView } from "./users-view.js";
import { Viewer } from "./viewer.js";

/** `?pageSize=N` (1..100) sets the Images view's page size, handy for small screens and tests. */
function pageSizeFromLocation() {
  const value = Number.parseInt(new URLSearchParams(location.search).get("pageSize") || "", 10);
  return Number.isInteger(value) && value >= 1 && value <= 100 ? value : DEFAULT_PAGE_SIZE;
}

const session = new Session();
const store = new Store({ pageSize: pageSizeFromLocation() });
setUpToast();
const viewer = new Viewer(store);
const uploadView = new UploadView(store, viewer);
const imagesView = new ImagesView(store, viewer, session);
new BrowserUploadsView(session, store);
const views = {
  upload: uploadView,
  images: imagesView,
  tokens: new TokensView(session),
  users: new UsersView(session),
  signin: new SignInView(session),
};

/** Which view the visitor gets for the one the address asks for. */
function allowedView(name) {
  if (session.signedIn) {
    if (name === "signin") return "upload";
    if (name === "users" && !session.isAdmin) return "upload";
    return name;
  }
  // Signed out: the sign-in form, except the Upload view where anyone may upload.
  if (name === "upload" && session.publicUploads) return "upload";
  return "signin";
}

const router = new Router(views, allowedView);
new AccountMenu(session, { signOut });

/** Send the deletes still in their undo window, then end the session. */
async function signOut() {
  dismiss({ expired: false });
  await store.commitAllDeletes();
  try {
    await session.signOut();
  } catch (error) {
    showToast(`Signed out on this page; the server did not answer. ${error.message}`, { error: true });
  }
}

session.addEventListener("change", (event) => {
  const { reason } = /** @type {CustomEvent} */ (event).detail;
  if (reason === "loaded" || reason === "updated") return;
  // Nothing of the last viewer's stays: open dialogs close, lists are forgotten.
  viewer.close();
  for (const dialog of document.querySelectorAll("dialog[open]")) /** @type {HTMLDialogElement} */ (dialog).close();
  store.resetForViewer();
  if (reason === "signed-in") {
    // From the sign-in link, go on to the Upload view; otherwise back to the view that was asked for.
    if (router.requested === "signin") router.replace("upload");
    else router.refresh();
    announce(`Signed in as ${session.viewer.username}.`);
    if (router.current !== "images") store.loadImages();
  } else if (reason === "signed-out") {
    router.go("signin");
    announce("Signed out.");
  } else if (reason === "ended") {
    router.showInstead("signin");
  }
});

// Leaving the page (or hiding it, the last moment a phone reliably gives) ends every undo
// window: the deletes still waiting are sent, with keepalive so they outlive the page.
function endUndoWindows() {
  if (store.pendingDeletes.size === 0) return;
  dismiss({ expired: false });
  store.commitAllDeletes();
}
window.addEventListener("pagehide", endUndoWindows);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") endUndoWindows();
});

// A banner while the server cannot be reached; "Try again" asks it again.
const banner = $("#banner");
store.addEventListener("connection", (event) => {
  const { message } = /** @type {CustomEvent} */ (event).detail;
  $("#banner-text").textContent = message;
  banner.hidden = !message;
  if (message) announce(message, { urgent: true });
});
$("#banner-retry").addEventListener("click", () => {
  store.loadLimits();
  if (session.status === "unknown") start();
  else if (router.current === "images") store.loadImages();
});

// Files dropped or pasted anywhere on the page are uploaded, not opened by the browser.
function hasFiles(event) {
  return Array.from(event.dataTransfer ? event.dataTransfer.types : []).includes("Files");
}
window.addEventListener("dragover", (event) => {
  if (!hasFiles(event)) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
});
window.addEventListener("drop", (event) => {
  if (!hasFiles(event)) return;
  event.preventDefault();
  router.go("upload");
  store.addFiles(event.dataTransfer.files);
});
document.addEventListener("paste", (event) => {
  const files = Array.from(event.clipboardData ? event.clipboardData.files : []);
  if (files.length === 0) return;
  event.preventDefault();
  router.go("upload");
  store.addFiles(files.map(namePasted));
});

/** Screenshots arrive as "image.png"; give them a name that tells them apart. */
function namePasted(file) {
  if (file.name && file.name !== "image.png") return file;
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
  const extension = (file.type.split("/")[1] || "png").replace("jpeg", "jpg");
  return new File([file], `pasted-${stamp}.${extension}`, { type: file.type });
}

/** Ask who this is, then show the view the address asks for (or the sign-in form). */
async function start() {
  try {
    await session.load();
  } catch (error) {
    store.setConnection(error);
    return;
  }
  router.start();
  if (session.signedIn) {
    // The Images tab shows the count from the start (the Images view loads the list itself).
    if (router.current !== "images") store.loadImages();
    // A deep link to one image (`?image=<id>`): open it over the view, stepping through that view's list.
    viewer.syncWithLocation((id) => (router.current === "images" ? imagesView : uploadView).viewerSource(id));
  }
  document.documentElement.classList.add("is-ready");
}

store.loadLimits();
start();
