// Requests to the server the portal came from (never elsewhere). A personal
// token, when the user gave one, goes in the Authorization header.

const TOKEN_KEY = "hysope.token";

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/// The Authorization header of the user's token, if any.
function authorization() {
  const bearer = token();
  return bearer ? { Authorization: `Bearer ${bearer}` } : {};
}

export class ApiError extends Error {
  constructor(status, detail, url) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.url = url;
  }
}

/// Fetches `path` (server-relative) as JSON; an error reply becomes an ApiError
/// with the server's `detail`.
export async function getJson(path, { signal } = {}) {
  return send(path, { signal });
}

/// POSTs `body` as JSON to `path` and reads the JSON reply.
export async function postJson(path, body, { signal, headers } = {}) {
  return send(path, { signal, method: "POST", body: JSON.stringify(body), type: "application/json", extra: headers });
}

/// Keeps the personal token the user gave (this tab only), or forgets it.
export function setToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // A browser that keeps nothing: the token lasts this page.
  }
}

/// Downloads `path` with the token (a job's files need it: a plain link sends
/// none) as `name`.
export async function download(path, name) {
  const response = await fetch(path, { headers: authorization() });
  if (!response.ok) throw new ApiError(response.status, response.statusText, path);
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/// The text of `path` (with the user's token): a job's result file.
export async function getText(path, { signal } = {}) {
  const response = await fetch(path, { headers: authorization(), signal });
  if (!response.ok) throw new ApiError(response.status, response.statusText, path);
  return response.text();
}

/// Uploads `file` (a File of an <input type=file>) for the caller's jobs: its
/// record, whose `href` (/uploads/ID) an input names it by.
export async function upload(file) {
  return send(`/uploads?name=${encodeURIComponent(file.name)}`, {
    method: "POST", body: file, type: file.type || "application/octet-stream",
  });
}

/// A request of `method` to `path`, its JSON reply (or null for an empty one).
export async function send(path, { signal, method = "GET", body, type, extra = {} }) {
  const headers = { Accept: "application/json, application/geo+json", ...extra, ...authorization() };
  if (type) headers["Content-Type"] = type;
  const response = await fetch(path, { headers, signal, method, body });
  if (!response.ok) {
    let detail = "";
    try {
      detail = (await response.json()).detail || "";
    } catch {
      detail = response.statusText;
    }
    throw new ApiError(response.status, detail, path);
  }
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/// The absolute URL of a server-relative path, for links a user copies.
export function absolute(path) {
  return new URL(path, window.location.origin).href;
}
