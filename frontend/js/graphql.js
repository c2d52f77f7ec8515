// The GraphQL client: the only module that talks to the network.
// JSON requests go through fetch; multipart uploads go through XMLHttpRequest,
// because only XHR reports upload progress.

const ENDPOINT = "/graphql";
const ACCEPT = "application/graphql-response+json, application/json";

/** A failed request, with a message a person can act on. */
export class RequestError extends Error {
  /**
   * @param {string} message
   * @param {{kind: "network" | "http" | "graphql" | "aborted", status?: number, code?: string}} details
   */
  constructor(message, { kind, status = 0, code = "" }) {
    super(message);
    this.name = "RequestError";
    this.kind = kind;
    this.status = status;
    this.code = code;
  }
}

/**
 * Tells the session when an answer says nobody is signed in (a GraphQL error or an HTTP 401
 * with extensions.code UNAUTHENTICATED): the session may have ended elsewhere or expired.
 * Listen for "unauthenticated".
 */
export const authSignals = new EventTarget();

const NETWORK_MESSAGE = "Could not reach the server. Check your connection or that Imagehost is running, then try again.";

/**
 * Run a query or mutation with a JSON body and return its `data`.
 * `keepalive` lets the request finish after the page is gone.
 */
export async function request(query, variables = {}, { keepalive = false } = {}) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: ACCEPT },
      body: JSON.stringify({ query, variables }),
      credentials: "same-origin",
      keepalive,
    });
  } catch {
    throw new RequestError(NETWORK_MESSAGE, { kind: "network" });
  }
  const text = await response.text().catch(() => "");
  return readResult(response.status, text);
}

/**
 * Run a mutation with files, as a GraphQL multipart request:
 * the `operations` field, then `map`, then one part per file.
 *
 * @param {string} query
 * @param {Record<string, unknown>} variables  file variables set to null
 * @param {Record<string, File>} files  variable path (e.g. "variables.file") to file
 * @param {{onProgress?: (fraction: number) => void, signal?: AbortSignal}} options
 */
export function upload(query, variables, files, { onProgress, signal } = {}) {
  const form = new FormData();
  const map = {};
  const paths = Object.keys(files);
  paths.forEach((path, index) => { map[String(index)] = [path]; });
  form.append("operations", JSON.stringify({ query, variables }));
  form.append("map", JSON.stringify(map));
  paths.forEach((path, index) => form.append(String(index), files[path], files[path].name));

  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", ENDPOINT);
    xhr.setRequestHeader("Accept", ACCEPT);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      try {
        resolve(readResult(xhr.status, xhr.responseText));
      } catch (error) {
        reject(error);
      }
    });
    xhr.addEventListener("error", () => reject(new RequestError(NETWORK_MESSAGE, { kind: "network" })));
    xhr.addEventListener("timeout", () => reject(new RequestError("The server took too long to answer. Try again.", { kind: "network" })));
    xhr.addEventListener("abort", () => reject(new RequestError("Upload cancelled.", { kind: "aborted" })));
    if (signal) {
      if (signal.aborted) { reject(new RequestError("Upload cancelled.", { kind: "aborted" })); return; }
      signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(form);
  });
}

/** Turn a status and body into `data`, or throw a RequestError with the server's own words. */
function readResult(status, text) {
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const firstError = body && Array.isArray(body.errors) ? body.errors[0] : null;
  const code = (firstError && firstError.extensions && firstError.extensions.code) || "";
  // The page never sends a token, so any 401 means its session is not (or no longer) valid.
  if (code === "UNAUTHENTICATED" || status === 401) authSignals.dispatchEvent(new Event("unauthenticated"));
  if (status < 200 || status >= 300) {
    if (firstError && typeof firstError.message === "string") {
      throw new RequestError(firstError.message, { kind: "http", status, code });
    }
    throw new RequestError(describeStatus(status), { kind: "http", status });
  }
  if (!body || typeof body !== "object") {
    throw new RequestError(`The server sent an unreadable answer (HTTP ${status}).`, { kind: "http", status });
  }
  if (firstError && !body.data) {
    throw new RequestError(firstError.message || "The server could not run the request.", { kind: "graphql", status, code });
  }
  if (firstError) console.warn("GraphQL errors beside data:", body.errors);
  return body.data;
}

function describeStatus(status) {
  if (status === 413) return "The upload is larger than the server accepts.";
  if (status === 502 || status === 503 || status === 504) return `The server is not available right now (HTTP ${status}). Try again in a moment.`;
  if (status >= 500) return `The server ran into an error (HTTP ${status}).`;
  return `The server refused the request (HTTP ${status}).`;
}
