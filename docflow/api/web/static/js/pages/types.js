// Document types: descriptions, keywords and rules, and a rule tried against a document.
import { api } from "../api.js";
import { h, mount, errorBox } from "../ui.js";

export async function render() {
  const types = await api.types();
  mount(h("h1", {}, "Document types"), tester(),
    ...types.map((t) => editor(t)));
}

function editor(t) {
  const message = h("span", { role: "status" });
  const description = h("textarea", { rows: 2, cols: 60 }, t.description);
  const keywords = h("textarea", { rows: 2, cols: 60, placeholder: "phrase: weight, one a line" },
    Object.entries(t.keywords).map(([k, w]) => `${k}: ${w}`).join("\n"));
  const rules = h("textarea", { rows: 3, cols: 60, placeholder: "kind: pattern, one a line (any, all, phrase, regex, fuzzy)" },
    t.rules.map((r) => `${r.kind}: ${r.pattern}`).join("\n"));
  const save = async () => {
    try {
      const kw = {};
      for (const line of keywords.value.split("\n").filter((l) => l.trim())) {
        const at = line.lastIndexOf(":");
        const weight = at > 0 ? Number(line.slice(at + 1)) : NaN;
        if (Number.isNaN(weight)) kw[line.trim()] = 1; else kw[line.slice(0, at).trim()] = weight;
      }
      const ruleList = rules.value.split("\n").filter((l) => l.trim()).map(parseRule);
      await api.saveType(t.name, { description: description.value, keywords: kw, rules: ruleList });
      message.textContent = "Saved.";
    } catch (err) { message.replaceChildren(errorBox(err)); }
  };
  return h("section", { class: "card type" }, h("h2", {}, t.name, t.builtin ? h("span", { class: "muted" }, " · built in") : ""),
    h("label", {}, "Description", description), h("label", {}, "Keywords", keywords),
    h("label", {}, "Rules", rules), h("div", { class: "row" }, h("button", { onclick: save }, "Save"), message));
}

function parseRule(line) {
  const at = line.indexOf(":");
  return { kind: line.slice(0, at).trim(), pattern: line.slice(at + 1).trim() };
}

function tester() {
  const rule = h("input", { placeholder: "regex: INV-\\d+", size: 30, id: "rule-input" });
  const doc = h("input", { placeholder: "document id", size: 34, id: "rule-doc" });
  const out = h("span", { role: "status", id: "rule-result" });
  return h("section", { class: "card" }, h("h2", {}, "Try a rule against a document"),
    h("div", { class: "row" }, h("label", {}, "Rule (kind: pattern)", rule), h("label", {}, "Document", doc),
      h("button", { onclick: async () => {
        try {
          const r = await api.testRule(parseRule(rule.value), doc.value.trim());
          out.textContent = r.matched ? `Matches (${r.text_chars} characters read).` : "No match.";
        } catch (err) { out.replaceChildren(errorBox(err)); }
      } }, "Try")), out);
}
