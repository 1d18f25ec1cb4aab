import { api } from "../api.js";
import { h, mount, fmt, table, link, status, errorBox } from "../ui.js";

const FILTERS = ["status", "doc_type", "batch_id", "path_prefix", "needs_review", "warning",
  "parent_id"];
const LIMIT = 50;

// Pages follow cursors (next_cursor / prev_cursor), never offsets: page 10,000 costs what
// page 1 costs. The total is counted only when asked (it reads every match).
export async function renderList(query) {
  const filters = Object.fromEntries(FILTERS.map((k) => [k, query.get(k) || ""]));
  const cursor = query.get("cursor") || "";
  const order = ORDERS.some(([v]) => v === query.get("order")) ? query.get("order") : "";
  const types = await api.types();
  const select = (name, options, value = filters[name]) => h("select", { name },
    options.map(([v, t]) => h("option", { value: v, selected: value === v }, t)));
  const input = (name, placeholder) => h("input", { name, value: filters[name], placeholder });
  const form = h("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
    location.hash = `#/documents?${params}`;
  } },
  h("label", {}, "Status", select("status", [["", "any"], ["queued", "queued"], ["processing", "processing"],
    ["completed", "completed"], ["failed", "failed"], ["cancelled", "cancelled"]])),
  h("label", {}, "Type", select("doc_type", [["", "any"], ...types.map((t) => [t.name, t.name])])),
  h("label", {}, "Batch", input("batch_id", "batch id")),
  h("label", {}, "Folder", input("path_prefix", "2019/")),
  h("label", {}, "Review", select("needs_review", [["", "any"], ["true", "needs review"], ["false", "reviewed"]])),
  h("label", {}, "Warning", select("warning", [["", "any"], ["any", "with any warning"], ["no_text", "no_text"],
    ["partial", "partial"], ["truncated", "truncated"]])),
  h("label", {}, "Order", select("order", ORDERS, order)),
  h("button", { type: "submit" }, "Filter"));
  const body = h("div");
  mount(h("h1", {}, "Documents"), form, body);
  const active = Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
  if (order) active.order = order;
  try {
    const page = await api.documents(active, { limit: LIMIT, cursor });
    const here = new URLSearchParams(active);
    body.replaceChildren(
      page.documents.length === 0 ? h("p", { class: "muted" }, "No documents.")
        : table(["Document", "Status", "Type", "Reason / warnings", "Added"], page.documents.map((d) =>
          h("tr", {}, h("td", {}, link(`#/documents/${d.id}`, fmt.path(d))),
            h("td", {}, status(d.status), d.needs_review ? h("span", { class: "muted" }, " · review") : ""),
            h("td", {}, d.doc_type || "–"),
            h("td", {}, d.error ? h("span", { class: "error" }, `${d.error.code}: ${d.error.message}`)
              : d.warnings.map((w) => w.code).join(", ")),
            h("td", {}, fmt.when(d.created_at))))),
      pagerFor(page, here, active));
  } catch (err) { body.replaceChildren(errorBox(err)); }
}

const ORDERS = [["", "oldest first"], ["newest", "newest first"], ["path", "by folder and name"]];

function pagerFor(page, here, active) {
  const at = (cursor) => {
    const params = new URLSearchParams(here);
    if (cursor) params.set("cursor", cursor);
    return `#/documents?${params}`;
  };
  const count = h("button", { class: "secondary", id: "count-documents", onclick: async (e) => {
    e.target.disabled = true;
    try {
      const counted = await api.documents(active, { limit: 1, count: "true" });
      e.target.replaceWith(h("span", { class: "muted", id: "documents-total" }, `${fmt.n(counted.total)} in all`));
    } catch (err) { e.target.replaceWith(errorBox(err)); }
  } }, "Count them");
  const el = h("div", { class: "pager" }, h("span", { class: "muted" }, `${fmt.n(page.documents.length)} shown`), count);
  if (page.prev_cursor) el.append(link(at(""), "« first"), link(at(page.prev_cursor), "← previous"));
  if (page.next_cursor) el.append(link(at(page.next_cursor), "next →"));
  return el;
}

// The text with each field's evidence (start..end) marked.
export function markedText(text, fields) {
  const spans = fields.filter((f) => f.start >= 0 && f.end > f.start && f.end <= text.length)
    .sort((a, b) => a.start - b.start);
  const el = h("pre", { class: "text", id: "doc-text" });
  let at = 0;
  for (const f of spans) {
    if (f.start < at) continue; // overlapping evidence: the first one wins
    el.append(text.slice(at, f.start), h("mark", { class: "f", title: f.name, "data-field": f.name },
      text.slice(f.start, f.end)));
    at = f.end;
  }
  el.append(text.slice(at));
  return el;
}

function original(doc) {
  const url = api.documentFileUrl(doc.id, true);
  const mime = doc.mime_type || "";
  if (mime === "application/pdf") return h("iframe", { class: "viewer", src: url, title: "original" });
  if (mime.startsWith("image/")) return h("img", { class: "viewer", src: url, alt: doc.filename });
  if (mime.startsWith("text/")) return h("iframe", { class: "viewer", src: url, title: "original" });
  return h("p", {}, h("a", { href: url }, "Download the original"), ` (${mime || "unknown type"})`);
}

export async function renderOne(docId) {
  const doc = await api.document(docId);
  const types = await api.types();
  mount(h("h1", {}, fmt.path(doc)), documentView(doc, types, () => renderOne(docId)));
}

export function documentView(doc, types, reload) {
  const message = h("p", { role: "status" });
  const typeSelect = h("select", { id: "type-select" }, types.map((t) =>
    h("option", { value: t.name, selected: doc.doc_type && doc.doc_type.name === t.name }, t.name)));
  const fieldName = h("input", { id: "field-name", placeholder: "total", list: "field-names" });
  const fieldValue = h("input", { id: "field-value", placeholder: "as printed" });
  const save = async (body) => {
    try { await api.correct(doc.id, body); message.textContent = "Saved."; await reload(); }
    catch (err) { message.replaceChildren(errorBox(err)); }
  };
  return h("div", { class: "document" },
    h("dl", { class: "kv" },
      h("dt", {}, "Status"), h("dd", {}, status(doc.status), doc.needs_review ? " · needs review" : ""),
      doc.error ? [h("dt", {}, "Reason"), h("dd", { class: "error", id: "doc-error" }, `${doc.error.code}: ${doc.error.message}`)] : [],
      doc.warnings.length ? [h("dt", {}, "Warnings"), h("dd", {}, doc.warnings.map((w) => h("div", {}, `${w.code}: ${w.message}`)))] : [],
      h("dt", {}, "Type"), h("dd", { id: "doc-type" }, doc.doc_type
        ? `${doc.doc_type.name} (${Math.round(doc.doc_type.confidence * 100)}%, by ${doc.doc_type.decider || "?"})` : "–"),
      h("dt", {}, "Format"), h("dd", {}, `${doc.format || "–"} · ${doc.mime_type || "–"} · ${fmt.n(doc.size)} bytes${doc.page_count ? ` · ${doc.page_count} page${doc.page_count === 1 ? "" : "s"}` : ""}`),
      doc.batch_id ? [h("dt", {}, "Batch"), h("dd", {}, link(`#/batches/${doc.batch_id}`, doc.batch_id))] : [],
      doc.parent_id ? [h("dt", {}, "Came from"), h("dd", {}, link(`#/documents/${doc.parent_id}`, "its parent"))] : [],
      h("dt", {}, "Attachments"), h("dd", {}, link(`#/documents?parent_id=${doc.id}`, "children")),
      h("dt", {}, "Finished"), h("dd", {}, fmt.when(doc.finished_at))),
    h("h2", {}, "Correct"),
    h("div", { class: "row" }, h("label", {}, "Type", typeSelect),
      h("button", { id: "save-type", onclick: () => save({ doc_type: typeSelect.value }) }, "Save type")),
    h("div", { class: "row" }, h("label", {}, "Field", fieldName), h("label", {}, "Value", fieldValue),
      h("button", { id: "save-field", onclick: () => save({ fields: [{ name: fieldName.value, value: fieldValue.value }] }) }, "Save field")),
    h("datalist", { id: "field-names" }, doc.fields.map((f) => h("option", { value: f.name }))),
    message,
    doc.fields.length ? [h("h2", {}, "Fields"), table(["Field", "Value", "Normalised", "Source"],
      doc.fields.map((f) => h("tr", {}, h("td", {}, f.name), h("td", {}, f.value), h("td", {}, f.normalized),
        h("td", {}, f.source))))] : [],
    h("div", { class: "split" },
      h("section", {}, h("h2", {}, "Original"), original(doc)),
      h("section", {}, h("h2", {}, "Text"), doc.text !== null && doc.text !== undefined
        ? markedText(doc.text, doc.fields) : h("p", { class: "muted" }, "No text yet."))));
}
