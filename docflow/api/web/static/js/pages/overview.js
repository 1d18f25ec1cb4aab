import { api, subscribe } from "../api.js";
import { h, mount, card, fmt, table, link } from "../ui.js";

export async function render() {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  mount(h("h1", {}, "Overview"), body);
  const show = async () => body.replaceChildren(view(await api.overview()));
  await show();
  // Finished documents arrive as events; the counters are read again at most every 3 s.
  let pending = null;
  const stop = subscribe(api.eventsUrl(), { document: () => {
    if (!pending) pending = setTimeout(() => { pending = null; show().catch(() => {}); }, 3000);
  } });
  const timer = setInterval(() => show().catch(() => {}), 15000);
  return () => { stop(); clearInterval(timer); clearTimeout(pending); };
}

function view(o) {
  const s = o.statuses;
  return h("div", {},
    h("div", { class: "cards" },
      card("documents", fmt.n(o.total), "total"),
      card("queued", fmt.n(s.queued), "queued"),
      card("processing", fmt.n(s.processing), "processing"),
      card("completed", fmt.n(s.completed), "completed"),
      card("failed", fmt.n(s.failed), "failed"),
      card("cancelled", fmt.n(s.cancelled), "cancelled")),
    h("h2", {}, "Throughput"),
    h("div", { class: "cards" },
      card(`documents / min (last ${o.throughput.window_minutes} min)`,
        fmt.n(o.throughput.documents_per_minute), "dpm"),
      card("pages / min", fmt.n(o.throughput.pages_per_minute), "ppm"),
      card("time left for what is queued", fmt.duration(o.eta_seconds), "eta"),
      card("messages in the broker", fmt.n(o.pending_messages), "broker")),
    h("h2", {}, "Workers"),
    h("div", { class: "cards" },
      card("online", fmt.n(o.workers.online), "w-online"),
      card("lost", fmt.n(o.workers.lost), "w-lost"),
      card("busy / slots", `${fmt.n(o.workers.active_tasks)} / ${fmt.n(o.workers.concurrency)}`,
        "w-busy")),
    h("p", {}, link("#/workers", "All workers")),
    h("h2", {}, "Failures in the last hour"),
    o.failures_last_hour.length === 0 ? h("p", { class: "muted" }, "None.")
      : table(["Code", "Count", "Example"], o.failures_last_hour.map((f) => h("tr", {},
        h("td", {}, link(`#/documents?status=failed`, f.code)), h("td", {}, fmt.n(f.count)),
        h("td", {}, f.message)))));
}
