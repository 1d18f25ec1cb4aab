import { api } from "../api.js";
import { h, mount, fmt, link, snippet, errorBox } from "../ui.js";

// The search page's own parameters, as they appear in its address (#/search?...).
const FIELDS = ["q", "mode", "doc_type", "batch_id", "path_prefix", "date_from", "date_to", "sort"];

function pageLink(values, changes) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...values, ...changes })) if (v) params.set(k, v);
  return `#/search?${params}`;
}

export async function render(query) {
  const values = Object.fromEntries(FIELDS.map((k) => [k, query.get(k) || ""]));
  values.mode ||= "keyword";
  values.sort ||= "relevance";
  const offset = Number(query.get("offset") || 0);
  const types = await api.types();
  const box = h("input", { name: "q", value: values.q, placeholder: "words, \"a phrase\", -not",
    id: "search-box", type: "search", required: true });
  const choice = (name, options) => h("select", { name }, options.map(([value, label]) =>
    h("option", { value, selected: value === values[name] }, label)));
  const form = h("form", { class: "filters", role: "search", onsubmit: (e) => {
    e.preventDefault();
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
    location.hash = `#/search?${params}`;
  } },
  h("label", {}, "Search", box),
  h("label", {}, "Mode", choice("mode", ["keyword", "semantic", "hybrid"].map((m) => [m, m]))),
  h("label", {}, "Type", choice("doc_type", [["", "any"], ...types.map((t) => [t.name, t.name])])),
  h("label", {}, "Folder", h("input", { name: "path_prefix", value: values.path_prefix,
    placeholder: "2019/", maxlength: 1024 })),
  h("label", {}, "From", h("input", { name: "date_from", type: "date", value: values.date_from })),
  h("label", {}, "To", h("input", { name: "date_to", type: "date", value: values.date_to })),
  h("label", {}, "Order", choice("sort", [["relevance", "best match"], ["date", "newest"],
    ["date_asc", "oldest"]])),
  h("label", {}, "Batch", h("input", { name: "batch_id", value: values.batch_id,
    placeholder: "batch id" })),
  h("button", { type: "submit" }, "Search"));
  const body = h("div");
  mount(h("h1", {}, "Search"), form, body);
  box.focus();
  if (!values.q) return;
  try {
    const r = await api.search({ ...values, limit: 20, offset });
    // A capped count (PostgreSQL search stops at 1,000): "1,000+ found", pages end there.
    const more = r.total_is_lower_bound ? "+" : "";
    body.replaceChildren(h("p", { class: "muted" }, `${fmt.n(r.total)}${more} found.` +
      (more ? " Add a word or a filter to narrow the search." : "")),
      facets(values, r.facets, more),
      h("ol", { class: "hits", start: offset + 1 }, r.hits.map((hit) => h("li", { class: "hit" },
        link(`#/documents/${hit.id}`, hit.source_path || hit.filename), " ",
        h("span", { class: "muted" }, hit.doc_type || ""), h("div", {}, snippet(hit.snippet))))),
      h("div", { class: "pager" },
        offset > 0 ? link(pageLink(values, { offset: Math.max(0, offset - 20) }), "← previous") : "",
        offset + 20 < r.total ? link(pageLink(values, { offset: offset + 20 }), "next →") : ""));
  } catch (err) { body.replaceChildren(errorBox(err)); }
}

// Matches per type, each a link that narrows the search to it (or widens it back).
function facets(values, counts, more = "") {
  const byType = Object.entries(counts?.doc_type || {});
  if (!byType.length) return "";
  const any = values.doc_type ? [link(pageLink(values, { doc_type: "" }), "any type"), " "] : [];
  return h("p", { class: "facets" }, "By type: ", ...any,
    ...byType.flatMap(([name, n]) => [
      link(pageLink(values, { doc_type: name }), `${name} (${fmt.n(n)}${more})`), " "]));
}
