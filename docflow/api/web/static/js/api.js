// Every call the web app makes to the docflow API, in one place: when an endpoint changes
// (paging, facets), only this module does.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(handler) { onUnauthorized = handler; }

export function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("docflow_csrf="));
  return found ? decodeURIComponent(found.slice("docflow_csrf=".length)) : null;
}

function changeHeaders(extra = {}) {
  const headers = { ...extra };
  const token = csrfToken();
  if (token) headers["X-CSRF-Token"] = token;
  return headers;
}

async function request(method, path, { query, json, headers, raw } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") params.set(k, v);
    }
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  const init = { method, credentials: "same-origin", headers: method === "GET" ? { ...headers }
    : changeHeaders(headers) };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const response = await fetch(url, init);
  if (response.status === 401 && !path.startsWith("/api/auth/login")) onUnauthorized();
  if (!response.ok) {
    let body = {};
    try { body = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, body.code, body.message || body.detail);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

export const api = {
  me: () => request("GET", "/api/auth/me"),
  loginMethods: () => request("GET", "/api/auth/methods"),
  login: (username, password) => request("POST", "/api/auth/login",
    { json: { username, password } }),
  logout: () => request("POST", "/api/auth/logout"),
  limits: () => request("GET", "/api/limits"),
  overview: () => request("GET", "/api/overview"),
  workers: () => request("GET", "/api/workers"),
  batch: (id) => request("GET", `/api/batches/${encodeURIComponent(id)}`),
  batchStatus: (id) => request("GET", `/api/batch-status/${encodeURIComponent(id)}`),
  batchFailures: (id) => request("GET", `/api/batches/${encodeURIComponent(id)}/failures`),
  retryBatch: (id) => request("POST", `/api/batches/${encodeURIComponent(id)}/retry`),
  cancelBatch: (id) => request("POST", `/api/batches/${encodeURIComponent(id)}/cancel`),
  failuresExportUrl: (id, format) =>
    `/api/batches/${encodeURIComponent(id)}/failures/export?format=${format}`,
  listBatches: (page) => request("GET", "/api/batches", { query: page }),
  createBatch: (name, key) => request("POST", "/api/batches",
    { json: { name }, headers: { "Idempotency-Key": key } }),
  // Documents: filters as /api/documents takes them; page = {limit, cursor, count}.
  documents: (filters, page) => request("GET", "/api/documents", { query: { ...filters, ...page } }),
  document: (id) => request("GET", `/api/documents/${encodeURIComponent(id)}`),
  documentFileUrl: (id, inline = false) =>
    `/api/documents/${encodeURIComponent(id)}/file${inline ? "?inline=true" : ""}`,
  correct: (id, body) => request("PATCH", `/api/documents/${encodeURIComponent(id)}`, { json: body }),
  search: (params) => request("GET", "/api/search", { query: params }),
  types: () => request("GET", "/api/document-types"),
  saveType: (name, body) => request("PUT", `/api/document-types/${encodeURIComponent(name)}`,
    { json: body }),
  testRule: (rule, documentId, text) => request("POST", "/api/document-types/test-rule",
    { json: { rule, document_id: documentId || null, text: text || null } }),
  batchEventsUrl: (id) => `/api/batches/${encodeURIComponent(id)}/events`,
  eventsUrl: () => "/api/events",
};

// A multipart body with an Idempotency-Key header on each file part (FormData cannot set
// part headers), so a retried part never makes a second document. Files are read lazily.
export function appendFiles(batchId, items, onProgress) {
  const boundary = `----docflow${crypto.randomUUID().replaceAll("-", "")}`;
  const chunks = [];
  for (const { file, path, key } of items) {
    const name = path.replaceAll("\"", "%22")
      .replaceAll("\r", "%0D").replaceAll("\n", "%0A");
    chunks.push(`--${boundary}\r\nContent-Disposition: form-data; name="files"; ` +
      `filename="${name}"\r\nContent-Type: ${file.type || "application/octet-stream"}\r\n` +
      `Idempotency-Key: ${key}\r\n\r\n`, file, "\r\n");
  }
  chunks.push(`--${boundary}--\r\n`);
  const body = new Blob(chunks);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/batches/${encodeURIComponent(batchId)}/files`);
    xhr.setRequestHeader("Content-Type", `multipart/form-data; boundary=${boundary}`);
    const token = csrfToken();
    if (token) xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 401) onUnauthorized();
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data.code, data.message));
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "The connection failed."));
    xhr.send(body);
  });
}

// Server-Sent Events with the browser's EventSource (it resumes with Last-Event-ID itself).
export function subscribe(url, handlers) {
  const source = new EventSource(url, { withCredentials: true });
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => handler(JSON.parse(e.data)));
  }
  return () => source.close();
}
