// One short message at a time, read out by screen readers (the element is a live region).

let timer = 0;

export function showToast(message, { error = false } = {}) {
  const toast = document.getElementById("toast");
  toast.textContent = message;
  toast.classList.toggle("toast--error", error);
  toast.classList.add("is-visible");
  clearTimeout(timer);
  timer = setTimeout(() => toast.classList.remove("is-visible"), error ? 6000 : 3000);
}
