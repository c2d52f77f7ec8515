// One short message at a time, read out by screen readers (the element is a live region that
// is in the page from the start). A toast may carry one action (Undo); while the pointer or
// keyboard focus is on it, it stays, so its time limit can be extended (WCAG 2.2.1).

let current = null;

/**
 * @param {string} message
 * @param {{error?: boolean, duration?: number, action?: {label: string, run: () => void},
 *          onExpire?: () => void}} options  `onExpire` runs when the toast goes without its
 *          action being used: on time, or because another toast replaced it.
 */
export function showToast(message, { error = false, duration = 0, action = null, onExpire = null } = {}) {
  dismiss({ expired: true });
  const toast = document.getElementById("toast");
  const text = toast.querySelector(".toast__text");
  const button = /** @type {HTMLButtonElement} */ (toast.querySelector(".toast__action"));
  text.textContent = message;
  button.hidden = !action;
  button.textContent = action ? action.label : "";
  toast.classList.toggle("toast--error", error);
  toast.classList.add("is-visible");
  const ms = duration || (error ? 6000 : 3000);
  const state = { toast, action, onExpire, ms, started: 0, timer: 0, held: false };
  current = state;
  startTimer(state);
}

/** Hide the current toast now; `expired` says whether its onExpire should run. */
export function dismiss({ expired }) {
  const state = current;
  if (!state) return;
  current = null;
  clearTimeout(state.timer);
  state.toast.classList.remove("is-visible");
  if (expired && state.onExpire) state.onExpire();
}

function startTimer(state) {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => {
    if (current === state && !state.held) dismiss({ expired: true });
  }, state.ms);
}

function hold(held) {
  const state = current;
  if (!state || !state.action) return;
  state.held = held;
  if (held) clearTimeout(state.timer);
  else startTimer(state);
}

export function setUpToast() {
  const toast = document.getElementById("toast");
  const button = toast.querySelector(".toast__action");
  button.addEventListener("click", () => {
    const state = current;
    if (!state || !state.action) return;
    const { action } = state;
    dismiss({ expired: false });
    action.run();
  });
  toast.addEventListener("pointerenter", () => hold(true));
  toast.addEventListener("pointerleave", () => hold(toast.contains(document.activeElement)));
  toast.addEventListener("focusin", () => hold(true));
  toast.addEventListener("focusout", (event) => {
    if (!toast.contains(/** @type {Node | null} */ (event.relatedTarget))) hold(false);
  });
}
