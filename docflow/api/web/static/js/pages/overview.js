import { api, subscribe } from "../api.js";
import { h, mount, card, fmt, table, link } from "../ui.js";

// The counters by status arrive over /api/events (`progress`, from the database's counters,
// whenever they change); throughput, workers and failures are read again when they move (at
// most every 5 s) and once a minute while nothing does, so a lost worker shows even then.
export async function render() {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  mount(h("h1", {}, "Overview"), body);
  let shown = await api.overview();
  body.replaceChildren(view(shown));
  const refresh = async () => {
    const o = await api.overview();
    shown = { ...o, total: shown.total, statuses: shown.statuses }; // the stream's are newer
    body.replaceChildren(view(shown));
  };
  let pending = null;
  const stop = subscribe(api.eventsUrl(), { progress: (p) => {
    shown = { ...shown, total: p.total, statuses: Object.fromEntries(
      ["queued", "processing", "completed", "failed", "cancelled"].map((k) => [k, p[k]])) };
    body.replaceChildren(view(shown));
    if (!pending) pending = setTimeout(() => { pending = null; refresh().catch(() => {}); }, 5000);
  } });
  const timer = setInterval(() => refresh().catch(() => {}), 60000);
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
