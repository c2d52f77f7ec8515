// Checks made in the browser before a file is sent: its kind, judged by its first
// bytes as the server does, and its size. The server checks again; this only saves a
// pointless upload and shows the reason at once.

import { formatBytes, listTypes } from "./format.js";

const SIGNATURES = [
  { type: "image/jpeg", test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { type: "image/png", test: (b) => [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((v, i) => b[i] === v) },
  { type: "image/gif", test: (b) => ascii(b, 0, 4) === "GIF8" },
  { type: "image/webp", test: (b) => ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP" },
  { type: "image/avif", test: (b) => hasBrand(b, AVIF_BRANDS) },
  { type: "image/heic", test: (b) => hasBrand(b, HEIF_BRANDS) && !hasBrand(b, AVIF_BRANDS) },
];
const AVIF_BRANDS = ["avif", "avis"];
const HEIF_BRANDS = ["heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"];
const HEAD_BYTES = 64;

/** Whether an ISO-BMFF `ftyp` box at the start names one of `brands` (major or compatible). */
function hasBrand(b, brands) {
  if (b.length < 16 || ascii(b, 4, 8) !== "ftyp") return false;
  const boxSize = Math.min(b.length, ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0);
  const found = [ascii(b, 8, 12)];
  for (let offset = 16; offset + 4 <= boxSize; offset += 4) found.push(ascii(b, offset, offset + 4));
  return found.some((brand) => brands.includes(brand));
}

function ascii(bytes, start, end) {
  return String.fromCharCode(...bytes.subarray(start, end));
}

/** The image type the file's bytes announce, or "" when they match none. */
export async function sniffType(file) {
  const head = new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer());
  const match = SIGNATURES.find((signature) => signature.test(head));
  return match ? match.type : "";
}

/**
 * @param {File} file
 * @param {{maxUploadBytes: number, acceptedTypes: string[]} | null} limits  null while unknown
 * @returns {Promise<{ok: true, type: string} | {ok: false, code: string, message: string}>}
 */
export async function checkFile(file, limits) {
  const accepted = limits ? limits.acceptedTypes : SIGNATURES.map((s) => s.type);
  if (file.size === 0) {
    return { ok: false, code: "INVALID_IMAGE", message: `${file.name} is empty.` };
  }
  let type;
  try {
    type = await sniffType(file);
  } catch {
    return { ok: false, code: "UNREADABLE", message: `${file.name} could not be read. Is it still on the disk?` };
  }
  // Declared as a kind the server takes whose signature this page does not know (the server's
  // formats registry may list more): the server's own check decides.
  const known = SIGNATURES.some((signature) => signature.type === file.type);
  if (!type && !known && accepted.includes(file.type)) type = file.type;
  if (!type || !accepted.includes(type)) {
    return {
      ok: false,
      code: "UNSUPPORTED_TYPE",
      message: `${file.name} is not an image this server takes: use ${listTypes(accepted)}.`,
    };
  }
  if (limits && file.size > limits.maxUploadBytes) {
    return {
      ok: false,
      code: "TOO_LARGE",
      message: `${file.name} is ${formatBytes(file.size)}; the limit is ${formatBytes(limits.maxUploadBytes)} per file.`,
    };
  }
  return { ok: true, type };
}
