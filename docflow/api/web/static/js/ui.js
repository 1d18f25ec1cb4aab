// Small DOM helpers: elements are built with text nodes, never from HTML strings, so a file
// name or a document's text can hold anything.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function mount(...children) {
  const main = document.getElementById("main");
  main.replaceChildren();
  append(main, children);
  return main;
}

export const fmt = {
  n: (x) => (x === null || x === undefined ? "–" : Number(x).toLocaleString("en")),
  pct: (x) => `${(x ?? 0).toFixed(1)}%`,
  when: (iso) => (iso ? new Date(iso).toLocaleString() : "–"),
  duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    if (s < 90) return `${s} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    return `${(s / 3600).toFixed(1)} h`;
  },
  path: (d) => d.source_path || d.filename,
};

export const status = (s) => h("span", { class: `status ${s}` }, s);

export function card(label, value, id) {
  return h("div", { class: "card" }, h("div", { class: "n", "data-k": id }, value),
    h("div", { class: "l" }, label));
}

// A table.wide shows each row as a card on a narrow screen, without its header: each cell
// carries its column's name (data-label), which the narrow layout prints before it.
export function table(headers, rows, cls = "wide") {
  for (const row of rows.flat()) {
    [...row.children].forEach((cell, n) => { if (headers[n]) cell.dataset.label = headers[n]; });
  }
  return h("table", { class: cls }, h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows));
}

export function errorBox(err) {
  return h("p", { class: "errorbox", role: "alert" }, err.code ? `${err.code}: ` : "", err.message);
}

// A search snippet marks matches as <b>term</b>; keep those, show everything else as text.
export function snippet(text) {
  const el = h("span", { class: "snippet" });
  text.split(/(<b>.*?<\/b>)/g).forEach((part) => {
    const m = part.match(/^<b>(.*)<\/b>$/);
    el.append(m ? h("b", {}, m[1]) : document.createTextNode(part));
  });
  return el;
}

export function bar(percent, failedPercent = 0) {
  const done = h("span");
  done.style.width = `${Math.max(0, percent - failedPercent)}%`;
  const failed = h("span", { class: "failed" });
  failed.style.width = `${failedPercent}%`;
  const el = h("div", { class: "bar", role: "progressbar", "aria-valuenow": percent.toFixed(1),
    "aria-valuemin": "0", "aria-valuemax": "100" }, done);
  el.style.display = "flex";
  el.append(failed);
  return el;
}

export function link(href, text) { return h("a", { href }, text); }
