// The page's state and the actions that change it. Views listen for its events:
//   "limits"        the upload limits arrived (or failed to)
//   "upload"        one upload row changed (detail: the upload)
//   "uploads-reset" the upload list was cleared
//   "images"        the image list changed
//   "connection"    the server became unreachable or reachable again (detail: {message})
//   "browser-uploads" this browser's list of anonymous uploads (and their delete tokens) changed

import * as api from "./api.js";
import { browserUpload, forgetUpload, rememberUpload } from "./browser-uploads.js";
import { checkFile } from "./file-check.js";

const PARALLEL_UPLOADS = 3;
export const DEFAULT_PAGE_SIZE = 50;

let nextUploadId = 1;

export class Store extends EventTarget {
  constructor({ pageSize = DEFAULT_PAGE_SIZE } = {}) {
    super();
    this.limits = null;
    this.limitsReady = null;
    /** @type {Array<object>} newest first */
    this.uploads = [];
    this.pageSize = pageSize;
    /** Admins: list everyone's images (`images(all: true)`), not only their own. */
    this.imagesAll = false;
    this.images = {
      nodes: [],
      totalCount: null,
      endCursor: null,
      hasNextPage: false,
      status: "idle", // idle | loading | loaded | error
      error: "",
      loadingMore: false,
    };
    this.connectionProblem = "";
    this.active = 0;
    this.waiting = [];
    /** Images taken off the lists whose server-side delete waits for the undo window. */
    this.pendingDeletes = new Map();
  }

  emit(type, detail = null) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setConnection(error) {
    const message = error && error.kind === "network" ? error.message : "";
    if (message === this.connectionProblem) return;
    this.connectionProblem = message;
    this.emit("connection", { message });
  }

  // ---- limits --------------------------------------------------------------

  loadLimits() {
    this.limitsReady = api.fetchLimits().then(
      (limits) => {
        this.limits = limits;
        this.setConnection(null);
        this.emit("limits");
        return limits;
      },
      (error) => {
        this.setConnection(error);
        this.emit("limits");
        return null;
      },
    );
    return this.limitsReady;
  }

  // ---- uploads -------------------------------------------------------------

  /** Add files to the upload list; each is checked, then sent when a slot is free. */
  addFiles(files) {
    const added = Array.from(files).map((file) => ({
      id: nextUploadId++,
      file,
      name: file.name || "unnamed file",
      size: file.size,
      state: "checking", // checking | queued | uploading | done | error
      progress: 0,
      image: null,
      error: "",
      retryable: false,
    }));
    this.uploads = [...added.slice().reverse(), ...this.uploads];
    for (const upload of added) {
      this.emit("upload", upload);
      this.prepare(upload);
    }
    return added;
  }

  async prepare(upload) {
    let limits = this.limits;
    if (!limits && this.limitsReady) limits = await this.limitsReady;
    if (!limits) limits = await this.loadLimits();
    const verdict = await checkFile(upload.file, limits);
    if (!verdict.ok) {
      this.update(upload, { state: "error", error: verdict.message, retryable: false });
      return;
    }
    this.update(upload, { state: "queued" });
    this.waiting.push(upload);
    this.pump();
  }

  pump() {
    while (this.active < PARALLEL_UPLOADS && this.waiting.length > 0) {
      const upload = this.waiting.shift();
      if (upload.state !== "queued") continue;
      this.active += 1;
      this.send(upload).finally(() => {
        this.active -= 1;
        this.pump();
      });
    }
  }

  async send(upload) {
    this.update(upload, { state: "uploading", progress: 0 });
    try {
      const result = await api.uploadImage(upload.file, {
        onProgress: (fraction) => this.update(upload, { progress: fraction }),
      });
      this.setConnection(null);
      if (result.__typename === "Image") {
        this.update(upload, { state: "done", progress: 1, image: result });
        if (result.deleteToken && rememberUpload(result)) this.emit("browser-uploads");
        this.noteUploaded(result);
      } else {
        this.update(upload, { state: "error", error: result.message, retryable: false });
      }
    } catch (error) {
      this.setConnection(error);
      const retryable = error.kind === "network" || error.status >= 500;
      this.update(upload, { state: "error", error: error.message, retryable });
    }
  }

  retry(id) {
    const upload = this.uploads.find((item) => item.id === id);
    if (!upload || !upload.retryable) return;
    this.update(upload, { state: "checking", error: "", retryable: false, progress: 0 });
    this.prepare(upload);
  }

  /** Forget finished rows (done or refused); rows still in flight stay. */
  clearFinished() {
    this.uploads = this.uploads.filter((upload) => upload.state !== "done" && upload.state !== "error");
    this.emit("uploads-reset");
  }

  update(upload, changes) {
    Object.assign(upload, changes);
    this.emit("upload", upload);
  }

  // ---- images --------------------------------------------------------------

  /** (Re)load the first page. */
  async loadImages() {
    const images = this.images;
    const ticket = (this.imagesTicket = (this.imagesTicket || 0) + 1);
    images.status = images.status === "loaded" ? "loaded" : "loading";
    images.refreshing = true;
    images.error = "";
    this.emit("images");
    try {
      const page = await api.fetchImages(this.pageSize, null, { all: this.imagesAll });
      if (ticket !== this.imagesTicket) return;
      this.setConnection(null);
      Object.assign(images, {
        nodes: this.withoutPending(page.edges.map((edge) => edge.node)),
        totalCount: page.totalCount - this.pendingDeletes.size,
        endCursor: page.pageInfo.endCursor,
        hasNextPage: page.pageInfo.hasNextPage,
        status: "loaded",
      });
    } catch (error) {
      if (ticket !== this.imagesTicket) return;
      this.setConnection(error);
      images.status = images.status === "loaded" ? "loaded" : "error";
      images.error = `Could not load the images. ${error.message}`;
    } finally {
      if (ticket === this.imagesTicket) {
        images.refreshing = false;
        this.emit("images");
      }
    }
  }

  async loadMoreImages() {
    const images = this.images;
    if (!images.hasNextPage || images.loadingMore) return;
    const ticket = this.imagesTicket;
    images.loadingMore = true;
    images.error = "";
    this.emit("images");
    try {
      const page = await api.fetchImages(this.pageSize, images.endCursor, { all: this.imagesAll });
      if (ticket !== this.imagesTicket) return;
      this.setConnection(null);
      const known = new Set(images.nodes.map((node) => node.id));
      images.nodes = images.nodes.concat(this.withoutPending(page.edges.map((edge) => edge.node)).filter((node) => !known.has(node.id)));
      images.totalCount = page.totalCount - this.pendingDeletes.size;
      images.endCursor = page.pageInfo.endCursor;
      images.hasNextPage = page.pageInfo.hasNextPage;
    } catch (error) {
      this.setConnection(error);
      images.error = `Could not load more images. ${error.message}`;
    } finally {
      images.loadingMore = false;
      this.emit("images");
    }
  }

  /**
   * Take an image off the lists at once; the server-side delete waits for `commitDelete` (the
   * end of the undo window) and `undoDelete` puts it back without any request.
   */
  removeForUndo(id) {
    const images = this.images;
    const index = images.nodes.findIndex((item) => item.id === id);
    const upload = this.uploads.find((item) => item.image && item.image.id === id);
    const node = index >= 0 ? images.nodes[index] : upload ? upload.image : null;
    if (!node || this.pendingDeletes.has(id)) return null;
    const uploadIndex = upload ? this.uploads.indexOf(upload) : -1;
    this.pendingDeletes.set(id, { node, index, upload, uploadIndex });
    if (index >= 0) {
      images.nodes = images.nodes.filter((item) => item.id !== id);
      if (images.totalCount !== null) images.totalCount -= 1;
    }
    if (upload) this.uploads = this.uploads.filter((item) => item !== upload);
    this.emit("images");
    this.emit("uploads-reset");
    return node;
  }

  /** Put a removed image back where it was; nothing was sent. */
  undoDelete(id) {
    const pending = this.pendingDeletes.get(id);
    if (!pending) return false;
    this.pendingDeletes.delete(id);
    this.restore(pending);
    return true;
  }

  restore({ node, index, upload, uploadIndex }) {
    const images = this.images;
    if (index >= 0 && !images.nodes.some((item) => item.id === node.id)) {
      const nodes = images.nodes.slice();
      nodes.splice(Math.min(index, nodes.length), 0, node);
      images.nodes = nodes;
      if (images.totalCount !== null) images.totalCount += 1;
    }
    if (upload && !this.uploads.includes(upload)) {
      const uploads = this.uploads.slice();
      uploads.splice(Math.min(uploadIndex, uploads.length), 0, upload);
      this.uploads = uploads;
    }
    this.emit("images");
    this.emit("uploads-reset");
  }

  /** Send the delete of an image removed for undo. Resolves to a message (and puts the row back on failure). */
  async commitDelete(id, { keepalive = false } = {}) {
    const pending = this.pendingDeletes.get(id);
    if (!pending) return null;
    this.pendingDeletes.delete(id);
    const name = pending.node.filename;
    // An anonymous upload of this browser is deleted with its token (nobody is signed in).
    const known = browserUpload(id);
    const deleteToken = pending.node.deleteToken || (known ? known.deleteToken : null);
    let result;
    try {
      result = await api.deleteImage(id, { keepalive, deleteToken });
    } catch (error) {
      this.setConnection(error);
      this.restore(pending);
      return { ok: false, message: `Could not delete ${name}. ${error.message}` };
    }
    this.setConnection(null);
    if (known) {
      forgetUpload(id);
      this.emit("browser-uploads");
    }
    if (result.__typename === "DeletedImage") return { ok: true, message: `Deleted ${name}.` };
    return { ok: true, message: `${name} was already gone.` };
  }

  /** The page is being left: send every delete still waiting for its undo window. */
  commitAllDeletes() {
    return Promise.all(Array.from(this.pendingDeletes.keys(), (id) => this.commitDelete(id, { keepalive: true })));
  }

  /** Show everyone's images (admins) or only the viewer's, from the first page. */
  setImagesAll(all) {
    if (this.imagesAll === all) return;
    this.imagesAll = all;
    this.images.nodes = [];
    this.images.totalCount = null;
    this.images.status = "idle";
    this.loadImages();
  }

  /** An image deleted from elsewhere on the page (this browser's anonymous uploads). */
  forgetImage(id) {
    const images = this.images;
    if (images.nodes.some((node) => node.id === id)) {
      images.nodes = images.nodes.filter((node) => node.id !== id);
      if (images.totalCount !== null) images.totalCount -= 1;
      this.emit("images");
    }
    const before = this.uploads.length;
    this.uploads = this.uploads.filter((upload) => !(upload.image && upload.image.id === id));
    if (this.uploads.length !== before) this.emit("uploads-reset");
  }

  /** Someone else (or nobody) is the viewer now: forget the last one's lists. */
  resetForViewer() {
    this.imagesTicket = (this.imagesTicket || 0) + 1; // answers still on their way are for the last viewer
    this.imagesAll = false;
    Object.assign(this.images, {
      nodes: [],
      totalCount: null,
      endCursor: null,
      hasNextPage: false,
      status: "idle",
      error: "",
      loadingMore: false,
      refreshing: false,
    });
    this.uploads = this.uploads.filter((upload) => upload.state !== "done" && upload.state !== "error");
    this.emit("images");
    this.emit("uploads-reset");
  }

  /** The server still lists images waiting for their undo window; the page does not. */
  withoutPending(nodes) {
    return nodes.filter((node) => !this.pendingDeletes.has(node.id));
  }

  /** Keep a loaded list current with uploads made from this page. */
  noteUploaded(image) {
    const images = this.images;
    if (images.status !== "loaded") return;
    if (images.nodes.some((node) => node.id === image.id)) return;
    images.nodes = [image, ...images.nodes];
    if (images.totalCount !== null) images.totalCount += 1;
    this.emit("images");
  }
}
