// Upload files or whole folders: a batch is made (Idempotency-Key) and filled in parts, each
// part retried with the same keys, so a lost answer never makes a document twice.
import { api, appendFiles } from "../api.js";
import { h, mount, fmt, bar, table } from "../ui.js";

const PART_FILES = 50;
const PART_BYTES = 16 * 1024 * 1024;
const TRIES = 5;

export async function render() {
  const list = h("div", { class: "files" });
  const summary = h("div");
  const fileInput = h("input", { type: "file", multiple: true, id: "files-input",
    onchange: () => start(list, summary, [...fileInput.files].map(asItem)) });
  const folderInput = h("input", { type: "file", multiple: true, webkitdirectory: true,
    id: "folder-input", onchange: () => start(list, summary, [...folderInput.files].map(asItem)) });
  const drop = h("div", { class: "drop", id: "drop",
    ondragover: (e) => { e.preventDefault(); drop.classList.add("over"); },
    ondragleave: () => drop.classList.remove("over"),
    ondrop: async (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry())
        .filter(Boolean);
      const items = [];
      for (const entry of entries) await walk(entry, "", items);
      // No entries (a browser without the entries API, or files handed over by a script):
      // the dropped files themselves, without folders.
      if (!entries.length) items.push(...[...e.dataTransfer.files].map(asItem));
      start(list, summary, items);
    } },
  h("p", {}, h("strong", {}, "Drop files or folders here")),
  h("div", { class: "row" }, h("label", {}, "Files", fileInput), h("label", {}, "A folder", folderInput)));
  mount(h("h1", {}, "Upload"), drop,
    h("p", { class: "muted" }, "A folder's paths are kept: documents can be listed by folder later."),
    summary, list);
}

function asItem(file) { return { file, path: file.webkitRelativePath || file.name }; }

async function walk(entry, prefix, out) {
  if (entry.isFile) {
    const file = await new Promise((ok, fail) => entry.file(ok, fail));
    out.push({ file, path: prefix + entry.name });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) { // readEntries answers in pieces until it answers nothing
      const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
      if (batch.length === 0) break;
      for (const child of batch) await walk(child, `${prefix}${entry.name}/`, out);
    }
  }
}

function parts(items) {
  const out = [];
  let part = [];
  let bytes = 0;
  for (const item of items) {
    if (part.length && (part.length >= PART_FILES || bytes + item.file.size > PART_BYTES)) {
      out.push(part); part = []; bytes = 0;
    }
    part.push(item); bytes += item.file.size;
  }
  if (part.length) out.push(part);
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function start(list, summary, items) {
  if (!items.length) return;
  const limits = await api.limits();
  const uploadId = crypto.randomUUID();
  items.forEach((item, n) => {
    item.key = `web:${uploadId}:${n}`;
    item.state = h("span", { class: "muted" }, "waiting");
    item.row = h("tr", {}, h("td", {}, item.path), h("td", {}, fmt.n(item.file.size)), h("td", {}, item.state));
  });
  list.replaceChildren(table(["File", "Bytes", "State"], items.slice(0, 2000).map((i) => i.row)));
  const totalBytes = items.reduce((s, i) => s + i.file.size, 0) || 1;
  let sentBytes = 0;
  const progress = h("div");
  const links = h("p");
  summary.replaceChildren(h("p", {}, `${items.length} files, ${fmt.n(totalBytes)} bytes.`), progress, links);
  const setProgress = (extra) => progress.replaceChildren(bar(100 * Math.min(1, (sentBytes + extra) / totalBytes)));
  setProgress(0);
  // A batch holds at most max_files_per_batch documents: more files make more batches.
  const perBatch = limits.max_files_per_batch;
  let failedFiles = 0;
  for (let b = 0; b * perBatch < items.length; b++) {
    const slice = items.slice(b * perBatch, (b + 1) * perBatch);
    const name = `${slice[0].path.split("/")[0]}${items.length > perBatch ? ` part ${b + 1}` : ""}`;
    const batch = await withRetries(() => api.createBatch(name, `web:${uploadId}:batch:${b}`));
    links.append(h("a", { href: `#/batches/${batch.batch_id}`, class: "batch-link" },
      `Batch ${name} →`), " ");
    for (const part of parts(slice)) {
      const tooBig = part.filter((i) => i.file.size > limits.max_file_bytes);
      tooBig.forEach((i) => { i.state.textContent = "too large"; i.state.className = "error"; });
      const sendable = part.filter((i) => i.file.size <= limits.max_file_bytes);
      failedFiles += tooBig.length;
      if (!sendable.length) continue;
      const partBytes = sendable.reduce((s, i) => s + i.file.size, 0);
      sendable.forEach((i) => { i.state.textContent = "sending"; i.state.className = ""; });
      try {
        const answer = await withRetries(() => appendFiles(batch.batch_id, sendable,
          (share) => setProgress(share * partBytes)));
        answer.documents.forEach((d, n) => {
          const item = sendable[n];
          item.state.replaceChildren(h("a", { href: `#/documents/${d.document_id}` }, "stored"));
        });
      } catch (err) {
        failedFiles += sendable.length;
        sendable.forEach((i) => { i.state.textContent = err.message; i.state.className = "error"; });
      }
      sentBytes += partBytes;
      setProgress(0);
    }
  }
  summary.append(h("p", { class: failedFiles ? "error" : "", id: "upload-done" },
    failedFiles ? `Done; ${failedFiles} files were not sent.` : "All files sent."));
}

async function withRetries(call) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const transient = err.status === 0 || err.status === 429 || err.status >= 500;
      if (!transient || attempt >= TRIES) throw err;
      await sleep(Math.min(15000, 500 * 2 ** attempt) * (0.5 + Math.random()));
    }
  }
}
