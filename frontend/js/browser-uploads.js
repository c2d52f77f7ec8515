// The delete tokens of this browser's anonymous uploads (public-uploads mode), kept in
// localStorage keyed by image id with what the list needs to show (name, url), so the uploader
// can delete them later, after a reload too. Only this origin's pages can read them.

const KEY = "imagehost.anonymousUploads";

/** @typedef {{id: string, filename: string, url: string, deleteToken: string, createdAt: string}} BrowserUpload */

/** @returns {Record<string, BrowserUpload>} */
function read() {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) || "{}");
    return value && typeof value === "object" && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

function write(entries) {
  try {
    if (Object.keys(entries).length === 0) localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, JSON.stringify(entries));
    return true;
  } catch {
    return false; // storage full or disabled: the upload still worked, it just cannot be deleted from here later
  }
}

/** Keep an anonymous upload's delete token; false when the browser would not store it. */
export function rememberUpload(image) {
  if (!image || !image.id || !image.deleteToken) return false;
  const entries = read();
  entries[image.id] = {
    id: image.id,
    filename: image.filename,
    url: image.url,
    deleteToken: image.deleteToken,
    createdAt: image.createdAt,
  };
  return write(entries);
}

/** @returns {BrowserUpload | null} */
export function browserUpload(id) {
  return read()[id] || null;
}

/** This browser's anonymous uploads, newest first. */
export function browserUploads() {
  return Object.values(read())
    .filter((entry) => entry && typeof entry.id === "string" && typeof entry.deleteToken === "string")
    .sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
}

export function forgetUpload(id) {
  const entries = read();
  if (!(id in entries)) return;
  delete entries[id];
  write(entries);
}
