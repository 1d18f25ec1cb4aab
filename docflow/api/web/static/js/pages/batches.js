import { api, subscribe } from "../api.js";
import { h, mount, fmt, table, bar, link, status, errorBox } from "../ui.js";

export async function renderList(query) {
  const cursor = query.get("cursor") || "";
  const page = await api.listBatches({ limit: 20, cursor });
  mount(h("h1", {}, "Batches"),
    page.batches.length === 0 ? h("p", { class: "muted" }, "No batch yet. ", link("#/upload", "Upload"))
      : table(["Batch", "Created", "Documents", "Progress", "Failed"], page.batches.map((b) =>
        h("tr", {}, h("td", {}, link(`#/batches/${b.batch_id}`, b.name || b.batch_id)),
          h("td", {}, fmt.when(b.created_at)), h("td", {}, fmt.n(b.progress.total)),
          h("td", {}, bar(b.progress.progress_percent), fmt.pct(b.progress.progress_percent)),
          h("td", {}, fmt.n(b.progress.failed))))),
    pager(page, "#/batches"));
}

// Newer and older pages by cursor; `base` is the page's hash without a query.
export function pager(page, base) {
  const el = h("div", { class: "pager" });
  const at = (cursor) => `${base}?cursor=${encodeURIComponent(cursor)}`;
  if (page.prev_cursor) el.append(link(base, "« newest"), link(at(page.prev_cursor), "← newer"));
  if (page.next_cursor) el.append(link(at(page.next_cursor), "older →"));
  return el;
}

// The batch's failed documents, a page at a time: "more" follows next_cursor.
function failedList(batchId) {
  const rows = h("tbody");
  const more = h("div", { class: "pager" });
  const el = h("div", { id: "failed-documents" }, h("table", { class: "wide" }, rows), more);
  const load = async (cursor) => {
    try {
      const page = await api.documents({ batch_id: batchId, status: "failed" }, { limit: 20, cursor });
      rows.append(...page.documents.map((d) => h("tr", {},
        h("td", {}, link(`#/documents/${d.id}`, fmt.path(d))),
        h("td", {}, d.error ? `${d.error.code}: ${d.error.message}` : ""))));
      more.replaceChildren(page.next_cursor ? h("button", { class: "secondary", id: "more-failed",
        onclick: () => load(page.next_cursor) }, "more failures") : "");
    } catch (err) { more.replaceChildren(errorBox(err)); }
  };
  load("");
  return el;
}

export async function renderOne(batchId) {
  const batch = await api.batch(batchId);
  const counters = h("div", { class: "cards" });
  const progressBar = h("div");
  const eta = h("p", { class: "muted" });
  const failures = h("div");
  const recent = h("tbody");
  const actions = h("div", { class: "row" });
  mount(h("h1", {}, batch.name || "Batch"), h("p", { class: "muted" }, `${batch.batch_id} · ${fmt.when(batch.created_at)}`),
    progressBar, eta, counters, actions,
    h("h2", {}, "Failures"), failures,
    h("h2", {}, "Just finished"), h("table", { class: "wide" }, recent),
    h("p", {}, link(`#/documents?batch_id=${batchId}`, "All documents of this batch")));

  const samples = []; // (time, finished) pairs for the ETA
  let lastFailed = -1;
  const showProgress = (p) => {
    const finished = p.completed + p.failed + p.cancelled;
    progressBar.replaceChildren(bar(p.progress_percent, p.total ? (100 * p.failed) / p.total : 0));
    counters.replaceChildren(
      ...[["total", p.total], ["queued", p.queued], ["processing", p.processing],
        ["completed", p.completed], ["failed", p.failed], ["cancelled", p.cancelled],
        ["with warnings", p.with_warnings]].map(([l, v]) => h("div", { class: "card" },
        h("div", { class: "n", "data-k": l }, fmt.n(v)), h("div", { class: "l" }, l))));
    samples.push([Date.now(), finished]);
    while (samples.length > 2 && Date.now() - samples[0][0] > 120000) samples.shift();
    const [t0, f0] = samples[0];
    const rate = (finished - f0) / ((Date.now() - t0) / 1000);
    eta.textContent = finished >= p.total ? `Done: ${fmt.pct(p.progress_percent)}`
      : `${fmt.pct(p.progress_percent)} · ${rate > 0 ? `about ${fmt.duration((p.total - finished) / rate)} left` : "waiting for workers"}`;
    eta.id = "batch-eta";
    if (p.failed !== lastFailed) { lastFailed = p.failed; showFailures(); }
  };
  const showFailures = async () => {
    try {
      const f = await api.batchFailures(batchId);
      const retryable = f.groups.filter((g) => g.retryable).reduce((s, g) => s + g.count, 0);
      actions.replaceChildren(
        h("button", { disabled: !retryable, onclick: async (e) => {
          e.target.disabled = true;
          const r = await api.retryBatch(batchId);
          e.target.textContent = `${r.retried} queued again`;
        } }, `Retry ${retryable} retryable`),
        h("a", { href: api.failuresExportUrl(batchId, "csv"), download: true }, "Failures as CSV"),
        h("a", { href: api.failuresExportUrl(batchId, "json"), download: true }, "as JSON"),
        h("button", { class: "secondary", onclick: async () => { await api.cancelBatch(batchId); } },
          "Cancel the rest"));
      failures.replaceChildren(...(f.groups.length === 0 ? [h("p", { class: "muted" }, "None.")]
        : [table(["Code", "Documents", "Message", ""], f.groups.map((g) => h("tr", {},
          h("td", {}, g.code), h("td", {}, fmt.n(g.count)), h("td", {}, g.message),
          h("td", {}, link(`#/documents?batch_id=${batchId}&status=failed`, "list"))))),
        failedList(batchId)]));
    } catch (err) { failures.replaceChildren(errorBox(err)); }
  };
  showProgress(await api.batchStatus(batchId));
  const stop = subscribe(api.batchEventsUrl(batchId), {
    progress: showProgress,
    document: (d) => {
      recent.prepend(h("tr", {}, h("td", {}, link(`#/documents/${d.id}`, d.source_path || d.filename)),
        h("td", {}, status(d.status)), h("td", {}, d.error ? `${d.error.code}: ${d.error.message}` : d.doc_type || "")));
      while (recent.children.length > 20) recent.lastChild.remove();
    },
  });
  return stop;
}
