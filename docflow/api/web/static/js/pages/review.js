// Documents whose type was chosen with low confidence, one after another, by keyboard:
// a = accept the type, t = change the type, f = fix a field, n or j = next.
import { api } from "../api.js";
import { h, mount, fmt, errorBox } from "../ui.js";
import { documentView } from "./documents.js";

export async function render() {
  const types = await api.types();
  const help = h("p", { class: "muted" }, h("kbd", {}, "a"), " accept · ", h("kbd", {}, "t"), " change type · ",
    h("kbd", {}, "f"), " fix a field · ", h("kbd", {}, "n"), "/", h("kbd", {}, "j"), " next");
  const counter = h("p", { id: "review-count" });
  const body = h("div");
  mount(h("h1", {}, "Review"), help, counter, body);
  const skipped = new Set();
  let current = null;

  const next = async () => {
    current = null; // keys wait until the next document is on screen
    // Accepted documents leave the queue; skipped ones are passed over until a reload.
    const page = await api.documents({ needs_review: "true", status: "completed" },
      { limit: skipped.size + 1, count: "true" });
    counter.textContent = `${fmt.n(page.total)} documents wait for review.`;
    const doc = page.documents.find((d) => !skipped.has(d.id));
    if (!doc) { current = null; body.replaceChildren(h("p", {}, "Nothing left to review.")); return; }
    current = await api.document(doc.id);
    body.replaceChildren(h("h2", {}, fmt.path(current)), documentView(current, types, next));
  };
  const onKey = async (e) => {
    if (!current || e.target.matches("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    try {
      if (e.key === "a" && current.doc_type) {
        await api.correct(current.id, { doc_type: current.doc_type.name });
        await next();
      } else if (e.key === "t") {
        e.preventDefault(); document.getElementById("type-select").focus();
      } else if (e.key === "f") {
        e.preventDefault(); document.getElementById("field-name").focus();
      } else if (e.key === "n" || e.key === "j") {
        skipped.add(current.id); await next();
      }
    } catch (err) { body.prepend(errorBox(err)); }
  };
  document.addEventListener("keydown", onKey);
  await next();
  return () => document.removeEventListener("keydown", onKey);
}
