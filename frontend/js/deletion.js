// Delete with an undo window: the image leaves the page at once, a toast offers Undo, and the
// server-side delete is sent when the toast goes (its time is up, another toast replaced it,
// or the page is left: see main.js).

import { announce } from "./announce.js";
import { showToast } from "./toast.js";

export const UNDO_WINDOW_MS = 5000;

/** @param {import("./store.js").Store} store */
export function deleteWithUndo(store, id) {
  const node = store.removeForUndo(id);
  if (!node) return null;
  showToast(`Deleted ${node.filename}`, {
    duration: UNDO_WINDOW_MS,
    action: {
      label: "Undo",
      run: () => {
        if (store.undoDelete(id)) announce(`Restored ${node.filename}.`);
      },
    },
    onExpire: async () => {
      const result = await store.commitDelete(id);
      if (result && !result.ok) showToast(result.message, { error: true });
    },
  });
  return node;
}
