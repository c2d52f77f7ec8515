// Turning numbers and dates into short human text.

const UNITS = ["bytes", "KiB", "MiB", "GiB"];

/** 1536 → "1.5 KiB"; binary units, as the server's limits are set. */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes === 1) return "1 byte";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  const text = new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }).format(value);
  return `${text} ${UNITS[unit]}`;
}

const TYPE_NAMES = {
  "image/jpeg": "JPEG",
  "image/png": "PNG",
  "image/gif": "GIF",
  "image/webp": "WebP",
  "image/avif": "AVIF",
  "image/heic": "HEIC",
};

/** "image/jpeg" → "JPEG". */
export function typeName(mime) {
  return TYPE_NAMES[mime] || (mime || "").replace(/^image\//, "").toUpperCase();
}

/** ["image/jpeg", "image/png", "image/gif"] → "JPEG, PNG or GIF". */
export function listTypes(mimes) {
  const names = mimes.map(typeName);
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}

export function formatDimensions(width, height) {
  return `${width} × ${height}`;
}

const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** A short "5 minutes ago" for recent dates, the date and time otherwise. */
export function formatWhen(date, now = new Date()) {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return absolute.format(date);
}

export function formatFullDate(date) {
  return absolute.format(date);
}

export function plural(count, one, many) {
  return `${new Intl.NumberFormat().format(count)} ${count === 1 ? one : many}`;
}
