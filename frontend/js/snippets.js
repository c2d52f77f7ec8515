// Ready-to-paste references to an image: the URL, Markdown, HTML and BBCode.
// The file name is user text: each syntax gets it escaped by its own rules.

/** CommonMark lets any ASCII punctuation be backslash-escaped; these would change an alt text. */
const MARKDOWN_SPECIAL = /[\\`*_{}[\]()<>#+!|&~]/g;
const HTML_SPECIAL = /[&<>"']/g;
const HTML_ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeMarkdown(text) {
  return text.replace(MARKDOWN_SPECIAL, (ch) => `\\${ch}`);
}

export function escapeHtml(text) {
  return text.replace(HTML_SPECIAL, (ch) => HTML_ENTITIES[ch]);
}

/** A link destination Markdown reads to its end: no spaces, brackets or parentheses left raw. */
function markdownUrl(url) {
  return url.replace(/[\s()<>]/g, (ch) => encodeURIComponent(ch));
}

/** BBCode has no escapes: characters that would end the tag are dropped from the URL. */
function bbcodeUrl(url) {
  return url.replace(/[[\]\s]/g, (ch) => encodeURIComponent(ch));
}

/** The name without its extension, for alt text: "holiday photo.jpg" -> "holiday photo". */
export function altText(filename) {
  const stem = filename.replace(/\.[A-Za-z0-9]{1,10}$/, "");
  return stem || filename;
}

export const SNIPPET_KINDS = ["url", "markdown", "html", "bbcode"];

/** @param {{url: string, filename: string, width: number, height: number}} image */
export function snippetsFor(image) {
  const alt = altText(image.filename);
  return {
    url: image.url,
    markdown: `![${escapeMarkdown(alt)}](${markdownUrl(image.url)})`,
    html: `<img src="${escapeHtml(image.url)}" alt="${escapeHtml(alt)}" width="${image.width}" height="${image.height}">`,
    bbcode: `[img]${bbcodeUrl(image.url)}[/img]`,
  };
}
