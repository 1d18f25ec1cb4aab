// The web app's shell: hash routes to pages, the login form when the API answers 401.
import { api, whenUnauthorized } from "./api.js";
import { h, mount, errorBox } from "./ui.js";
import * as overview from "./pages/overview.js";
import * as upload from "./pages/upload.js";
import * as batches from "./pages/batches.js";
import * as documents from "./pages/documents.js";
import * as review from "./pages/review.js";
import * as search from "./pages/search.js";
import * as workers from "./pages/workers.js";
import * as types from "./pages/types.js";

const routes = [
  [/^\/$/, overview.render],
  [/^\/upload$/, upload.render],
  [/^\/batches$/, batches.renderList],
  [/^\/batches\/([^/]+)$/, batches.renderOne],
  [/^\/documents$/, documents.renderList],
  [/^\/documents\/([^/]+)$/, documents.renderOne],
  [/^\/review$/, review.render],
  [/^\/search$/, search.render],
  [/^\/workers$/, workers.render],
  [/^\/types$/, types.render],
];

let cleanup = null;
let loginShown = false;

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, qs] = raw.split("?");
  return { path, query: new URLSearchParams(qs || "") };
}

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  loginShown = false;
  const { path, query } = parseHash();
  delete document.body.dataset.page; // set again once the page has rendered (tests wait on it)
  for (const a of document.querySelectorAll("nav a")) {
    const target = a.getAttribute("href").slice(1);
    a.classList.toggle("active", target === "/" ? path === "/" : path.startsWith(target));
  }
  document.getElementById("nav").classList.remove("open");
  for (const [pattern, render] of routes) {
    const m = path.match(pattern);
    if (m) {
      try {
        cleanup = (await render(...m.slice(1).map(decodeURIComponent), query)) || null;
        document.body.dataset.page = path;
      } catch (err) {
        if (err.status !== 401) mount(h("h1", {}, "Something went wrong"), errorBox(err));
      }
      return;
    }
  }
  mount(h("h1", {}, "Not found"), h("p", {}, "No page here. ", h("a", { href: "#/" }, "Overview")));
}

function showLogin() {
  if (loginShown) return;
  loginShown = true;
  if (cleanup) { cleanup(); cleanup = null; }
  const message = h("p", { class: "error", role: "alert" });
  const user = h("input", { name: "username", autocomplete: "username", required: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password",
    required: true });
  const form = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api.login(user.value, pass.value);
      loginShown = false;
      await showWho();
      route();
    } catch (err) { message.textContent = err.message; }
  } }, h("label", {}, "User name", user), h("label", {}, "Password", pass),
  h("button", { type: "submit" }, "Log in"), message);
  const section = mount(h("section", { class: "login card" }, h("h1", {}, "Log in to docflow"),
    form)).firstChild;
  user.focus();
  // A plain link: the provider's login page is a navigation, not a call.
  api.loginMethods().then((m) => {
    if (m.oidc_login_url && loginShown) {
      section.append(h("p", { class: "or" }, "or"), h("a", { class: "button sso",
        href: m.oidc_login_url }, `Log in with ${m.oidc_name}`));
    }
  }).catch(() => {});
}

async function showWho() {
  const who = document.getElementById("who");
  try {
    const me = await api.me();
    who.replaceChildren(`${me.name} (${me.scope})`);
    if (me.credentials_required && me.kind === "user") {
      who.append(" · ", h("a", { href: "#/", onclick: async (e) => {
        e.preventDefault(); await api.logout(); location.reload();
      } }, "log out"));
    }
  } catch { who.replaceChildren(); }
}

whenUnauthorized(showLogin);
document.getElementById("menu-toggle").addEventListener("click", () => {
  const nav = document.getElementById("nav");
  nav.classList.toggle("open");
});
window.addEventListener("hashchange", route);
showWho();
route();
