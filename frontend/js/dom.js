// Small DOM helpers shared by the views.

export function $(selector, root = document) {
  const element = root.querySelector(selector);
  if (!element) throw new Error(`missing element: ${selector}`);
  return element;
}

/** A fresh copy of a <template>'s first element. */
export function fromTemplate(id) {
  const template = /** @type {HTMLTemplateElement} */ (document.getElementById(id));
  return /** @type {HTMLElement} */ (template.content.firstElementChild.cloneNode(true));
}

/** Set text only when it changed, so screen readers and selection are not disturbed. */
export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/**
 * Copy `text` to the clipboard. The async Clipboard API needs a secure context
 * (https or localhost); over plain http elsewhere, select a field and copy instead.
 */
export async function copyText(text, field = null) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the selection-based copy
    }
  }
  if (field) {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }
  return false;
}

const confirmTimers = new WeakMap();

/** Run a copy from a button next to a URL field and show "Copied" on the button for a while. */
export async function copyFromButton(button, text, field) {
  const label = button.querySelector(".copy-button__label");
  const ok = await copyText(text, field);
  if (!ok && field) {
    field.focus();
    field.select();
  }
  label.textContent = ok ? "Copied" : "Press Ctrl+C";
  button.classList.toggle("is-copied", ok);
  clearTimeout(confirmTimers.get(button));
  confirmTimers.set(button, setTimeout(() => {
    label.textContent = "Copy";
    button.classList.remove("is-copied");
  }, 2000));
  return ok;
}
