import { api } from "../api.js";
import { h, mount, fmt, link, snippet, errorBox } from "../ui.js";

export async function render(query) {
  const q = query.get("q") || "";
  const mode = query.get("mode") || "keyword";
  const docType = query.get("doc_type") || "";
  const batchId = query.get("batch_id") || "";
  const offset = Number(query.get("offset") || 0);
  const types = await api.types();
  const box = h("input", { name: "q", value: q, placeholder: "words, \"a phrase\", -not", id: "search-box",
    type: "search", required: true });
  const form = h("form", { class: "filters", role: "search", onsubmit: (e) => {
    e.preventDefault();
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
    location.hash = `#/search?${params}`;
  } },
  h("label", {}, "Search", box),
  h("label", {}, "Mode", h("select", { name: "mode" }, ["keyword", "semantic", "hybrid"].map((m) =>
    h("option", { value: m, selected: m === mode }, m)))),
  h("label", {}, "Type", h("select", { name: "doc_type" }, h("option", { value: "" }, "any"),
    types.map((t) => h("option", { value: t.name, selected: t.name === docType }, t.name)))),
  h("label", {}, "Batch", h("input", { name: "batch_id", value: batchId, placeholder: "batch id" })),
  h("button", { type: "submit" }, "Search"));
  const body = h("div");
  mount(h("h1", {}, "Search"), form, body);
  box.focus();
  if (!q) return;
  try {
    const r = await api.search({ q, mode, doc_type: docType, batch_id: batchId, limit: 20, offset });
    const base = `#/search?q=${encodeURIComponent(q)}&mode=${mode}&doc_type=${docType}&batch_id=${batchId}`;
    body.replaceChildren(h("p", { class: "muted" }, `${fmt.n(r.total)} found.`),
      h("ol", { class: "hits", start: offset + 1 }, r.hits.map((hit) => h("li", { class: "hit" },
        link(`#/documents/${hit.id}`, hit.source_path || hit.filename), " ",
        h("span", { class: "muted" }, hit.doc_type || ""), h("div", {}, snippet(hit.snippet))))),
      h("div", { class: "pager" },
        offset > 0 ? link(`${base}&offset=${Math.max(0, offset - 20)}`, "← previous") : "",
        offset + 20 < r.total ? link(`${base}&offset=${offset + 20}`, "next →") : ""));
  } catch (err) { body.replaceChildren(errorBox(err)); }
}
