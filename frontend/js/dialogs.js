// Modal dialogs for confirmations and small forms (native <dialog>: focus stays inside, Escape
// closes). While one is open the page-wide live regions move into it, as the viewer does, so
// announcements and toasts are still heard and usable (a modal dialog makes the rest inert).

import { announce } from "./announce.js";
import { $, setText } from "./dom.js";

/** @param {HTMLDialogElement} dialog */
function openModal(dialog) {
  const opener = /** @type {HTMLElement | null} */ (document.activeElement);
  const regions = $("#live-regions");
  dialog.append(regions);
  dialog.showModal();
  dialog.addEventListener(
    "close",
    () => {
      if (!document.querySelector("dialog[open]")) document.body.append(regions);
      if (opener && opener.isConnected) opener.focus();
    },
    { once: true },
  );
}

/**
 * Ask before something that cannot be undone; resolves to true when confirmed.
 * @param {{title: string, text: string, confirm: string}} options
 */
export function confirmAction({ title, text, confirm }) {
  const dialog = /** @type {HTMLDialogElement} */ ($("#confirm-dialog"));
  setText($("#confirm-title"), title);
  setText($("#confirm-text"), text);
  const ok = /** @type {HTMLButtonElement} */ ($("#confirm-ok"));
  setText(ok, confirm);
  return new Promise((resolve) => {
    let confirmed = false;
    const onOk = () => {
      confirmed = true;
      dialog.close();
    };
    const onCancel = () => dialog.close();
    const cancel = /** @type {HTMLElement} */ (dialog.querySelector("[data-dialog-cancel]"));
    ok.addEventListener("click", onOk);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener(
      "close",
      () => {
        ok.removeEventListener("click", onOk);
        cancel.removeEventListener("click", onCancel);
        resolve(confirmed);
      },
      { once: true },
    );
    openModal(dialog);
    // The safe choice has focus: Enter on a stray key press does not remove anything.
    cancel.focus();
  });
}

/**
 * Open a dialog holding a form. `submit` gets the form and resolves to an error message to show
 * (the dialog stays open), or "" to close it.
 * @param {string} id  the dialog's id
 * @param {{title?: string, prepare?: (form: HTMLFormElement) => void,
 *          submit: (form: HTMLFormElement) => Promise<string>}} options
 */
export function openFormDialog(id, { title, prepare, submit }) {
  const dialog = /** @type {HTMLDialogElement} */ ($(`#${id}`));
  const form = /** @type {HTMLFormElement} */ (dialog.querySelector("form"));
  const error = /** @type {HTMLElement} */ (dialog.querySelector("[data-dialog-error]"));
  const send = /** @type {HTMLButtonElement} */ (form.querySelector("[type=submit]"));
  const cancel = /** @type {HTMLElement} */ (dialog.querySelector("[data-dialog-cancel]"));
  form.reset();
  setText(error, "");
  error.hidden = true;
  if (title) setText(/** @type {HTMLElement} */ (dialog.querySelector(".dialog__title")), title);
  if (prepare) prepare(form);

  const onSubmit = async (event) => {
    event.preventDefault();
    send.disabled = true;
    let message;
    try {
      message = await submit(form);
    } catch (failure) {
      message = failure instanceof Error ? failure.message : String(failure);
    } finally {
      send.disabled = false;
    }
    if (!dialog.open) return;
    if (message) {
      setText(error, message);
      error.hidden = false;
      announce(message, { urgent: true });
      return;
    }
    dialog.close();
  };
  const onCancel = () => dialog.close();
  form.addEventListener("submit", onSubmit);
  cancel.addEventListener("click", onCancel);
  dialog.addEventListener(
    "close",
    () => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      form.reset();
    },
    { once: true },
  );
  openModal(dialog);
  const first = /** @type {HTMLElement | null} */ (form.querySelector("input"));
  if (first) first.focus();
}
