// Page-wide live regions, in the markup from the start and never display:none, so screen
// readers know them before anything is said (a region that appears with its text is often missed).

const pending = { status: [], alert: [] };
const timers = { status: 0, alert: 0 };

/** Say `message` politely, or at once (`urgent`, for errors). Messages said together are read together. */
export function announce(message, { urgent = false } = {}) {
  const kind = urgent ? "alert" : "status";
  const region = document.getElementById(`announce-${kind}`);
  pending[kind].push(message);
  clearTimeout(timers[kind]);
  // Cleared first and filled a moment later, so the same message twice is read twice.
  region.textContent = "";
  timers[kind] = setTimeout(() => {
    region.textContent = pending[kind].join(" ");
    pending[kind] = [];
  }, 50);
}
