// Wires the page together: the store, the two views, the router and page-wide handlers.

import { announce } from "./announce.js";
import { $ } from "./dom.js";
import { ImagesView } from "./images-view.js";
import { Router } from "./router.js";
import { DEFAULT_PAGE_SIZE, Store } from "./store.js";
import { dismiss, setUpToast } from "./toast.js";
import { UploadView } from "./upload-view.js";
import { Viewer } from "./viewer.js";

/** `?pageSize=N` (1..100) sets the Images view's page size, handy for small screens and tests. */
function pageSizeFromLocation() {
  const value = Number.parseInt(new URLSearchParams(location.search).get("pageSize") || "", 10);
  return Number.isInteger(value) && value >= 1 && value <= 100 ? value : DEFAULT_PAGE_SIZE;
}

const store = new Store({ pageSize: pageSizeFromLocation() });
setUpToast();
const viewer = new Viewer(store);
const uploadView = new UploadView(store, viewer);
const imagesView = new ImagesView(store, viewer);
const router = new Router({ upload: uploadView, images: imagesView });

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
  if (router.current === "images") store.loadImages();
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

store.loadLimits();
router.start();
// The Images tab shows the count from the start (the Images view loads the list itself).
if (router.current !== "images") store.loadImages();
// A deep link to one image (`?image=<id>`): open it over the view, stepping through that view's list.
viewer.syncWithLocation((id) => (router.current === "images" ? imagesView : uploadView).viewerSource(id));
document.documentElement.classList.add("is-ready");
