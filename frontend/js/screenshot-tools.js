// Ready-made uploader settings that carry an API token: a ShareX custom uploader (.sxcu) and a
// curl command (for Flameshot or any script). Both send the GraphQL multipart request the page
// sends: `operations`, then `map`, then the file as part "0".

/** The upload as a script sends it; the file variable is null and filled from part "0". */
export const UPLOAD_OPERATIONS = JSON.stringify({
  query:
    "mutation Upload($file: Upload!) { uploadImage(file: $file) { __typename " +
    "... on Image { url thumbnailUrl } ... on UploadError { code message } } }",
  variables: { file: null },
});

export const UPLOAD_MAP = JSON.stringify({ 0: ["variables.file"] });

/** Where scripts send uploads: this page's own origin. */
export function graphqlEndpoint(origin = location.origin) {
  return `${origin}/graphql`;
}

/** A ShareX custom uploader (https://getsharex.com/docs/custom-uploader) as a JSON string. */
export function sharexUploader(secret, origin = location.origin) {
  const host = new URL(origin).host;
  const uploader = {
    Version: "15.0.0",
    Name: `Imagehost (${host})`,
    DestinationType: "ImageUploader",
    RequestMethod: "POST",
    RequestURL: graphqlEndpoint(origin),
    Headers: { Authorization: `Bearer ${secret}` },
    Body: "MultipartFormData",
    Arguments: { operations: UPLOAD_OPERATIONS, map: UPLOAD_MAP },
    FileFormName: "0",
    URL: "{json:data.uploadImage.url}",
    ThumbnailURL: "{json:data.uploadImage.thumbnailUrl}",
    ErrorMessage: "{json:data.uploadImage.message}",
  };
  return `${JSON.stringify(uploader, null, 2)}\n`;
}

/** A file name for the .sxcu download: the host and the token's label, safe on every system. */
export function sharexFileName(label, origin = location.origin) {
  const safe = (text) => text.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "");
  const parts = [safe(new URL(origin).hostname) || "imagehost", safe(label)].filter(Boolean);
  return `imagehost-${parts.join("-")}.sxcu`;
}

/** One line to paste into a shell: uploads file.png and prints the server's JSON answer. */
export function curlCommand(secret, origin = location.origin) {
  return [
    "curl",
    `-H ${shellQuote(`Authorization: Bearer ${secret}`)}`,
    `-F ${shellQuote(`operations=${UPLOAD_OPERATIONS}`)}`,
    `-F ${shellQuote(`map=${UPLOAD_MAP}`)}`,
    "-F 0=@file.png",
    shellQuote(graphqlEndpoint(origin)),
  ].join(" ");
}

/** POSIX shell single quotes (a ' inside becomes '\''). */
function shellQuote(text) {
  return `'${text.replace(/'/g, "'\\''")}'`;
}
