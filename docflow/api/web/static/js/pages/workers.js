import { api } from "../api.js";
import { h, mount, fmt, table } from "../ui.js";

const STATE_CLASS = { online: "completed", lost: "failed", stopped: "cancelled" };

export async function render() {
  const body = h("div");
  mount(h("h1", {}, "Workers"), body);
  const show = async () => {
    const w = await api.workers();
    body.replaceChildren(
      h("p", {}, `${w.worker_count} online, ${w.active_tasks} tasks running.`),
      w.workers.length === 0 ? h("p", { class: "muted" }, "No worker has reported yet.")
        : table(["Name", "Host", "State", "Tasks", "Queues", "Last heartbeat"],
          w.workers.map((x) => h("tr", {}, h("td", {}, x.name), h("td", {}, `${x.hostname} (pid ${x.pid})`),
            h("td", {}, h("span", { class: `status ${STATE_CLASS[x.state] || ""}` }, x.state)),
            h("td", {}, `${x.active_tasks} / ${x.concurrency}`), h("td", {}, x.queues.join(", ")),
            h("td", {}, fmt.when(x.last_heartbeat))))));
  };
  await show();
  const timer = setInterval(() => show().catch(() => {}), 5000);
  return () => clearInterval(timer);
}
