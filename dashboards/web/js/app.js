/*
 * app: the console's entry point (index.html loads it as a module).
 * Routes live in the URL fragment, the only kind a static server with no
 * rewrite rules can serve: #/ (overview), #/identity/NAME, #/event/ID,
 * #/suppression[?address=A].  Each route renders into <main> and focuses
 * its heading, so keyboard and screen-reader users land on the new page.
 * The header holds the token form (sessionStorage, see api.js) and the
 * server's readiness (GET /readyz) and version (GET /healthz).
 */
import * as api from "./api.js";
import {h, replace} from "./dom.js";
import {overviewPage} from "./overview.js";
import {identityPage} from "./identity.js";
import {eventPage} from "./event.js";
import {suppressionPage} from "./suppression.js";

/* How often the header's readiness badge is refreshed (ms). */
const READY_POLL_MS = 30000;

const main = document.getElementById("main");
const panel = document.getElementById("token-panel");
const toggle = document.getElementById("token-toggle");
const tokenInput = document.getElementById("token");
const tokenState = document.getElementById("token-state");
const notice = document.getElementById("notice");

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = Object.fromEntries(new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)));
  const parts = path.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return {parts, query};
}

let renderSeq = 0;
let started = false;
async function route() {
  const seq = ++renderSeq;
  const {parts, query} = parseHash();
  let page = "overview";
  let run;
  if (parts.length === 0) run = () => overviewPage(main, query);
  else if (parts[0] === "identity" && parts[1]) {
    run = () => identityPage(main, query, parts[1]);
  } else if (parts[0] === "event" && parts[1]) {
    run = () => eventPage(main, query, parts[1]);
  } else if (parts[0] === "suppression") {
    page = "suppression";
    run = () => suppressionPage(main, query);
  } else {
    run = () => replace(main, h("h1", {tabindex: -1}, "Not found"),
      h("p", null, "No such page. ", h("a", {href: "#/"}, "Go to the overview"), "."));
  }
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.body.dataset.page = parts[0] || "overview";
  delete document.body.dataset.ready;
  const firstLoad = !started;
  started = true;
  await run();
  if (seq !== renderSeq) return;
  /* Move focus to the new page's heading once it is drawn (not on the
   * first load: the browser's own start position stays), unless the
   * user has already moved it. */
  const h1 = main.querySelector("h1");
  if (!firstLoad && h1 && (document.activeElement === document.body || document.activeElement === null)) h1.focus();
  updateTitle();
  document.body.dataset.ready = "1";
}

function updateTitle() {
  const h1 = main.querySelector("h1");
  const t = h1 ? h1.firstChild && h1.firstChild.textContent : "";
  document.title = t ? `${t} · rebound` : "rebound";
}

/* ---- the token -------------------------------------------------------- */

function showTokenState() {
  const has = api.getToken() !== "";
  replace(tokenState, has ? "A token is set for this tab." : "No token set: fine when the server needs none.");
  toggle.textContent = has ? "Token ✓" : "Token";
  toggle.setAttribute("aria-label", has ? "API token (set)" : "API token (not set)");
}

function openPanel(focus) {
  panel.hidden = false;
  toggle.setAttribute("aria-expanded", "true");
  if (focus) tokenInput.focus();
}

function closePanel() {
  panel.hidden = true;
  toggle.setAttribute("aria-expanded", "false");
}

toggle.addEventListener("click", () => (panel.hidden ? openPanel(true) : closePanel()));
document.getElementById("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  api.setToken(tokenInput.value.trim());
  tokenInput.value = "";
  showTokenState();
  closePanel();
  replace(notice);
  route();
});
document.getElementById("token-forget").addEventListener("click", () => {
  api.setToken("");
  tokenInput.value = "";
  showTokenState();
  route();
});
panel.addEventListener("keydown", (e) => {
  if (e.key === "Escape") {
    closePanel();
    toggle.focus();
  }
});

let asked = false;
api.onUnauthorized(() => {
  replace(notice, h("p", {class: "error"},
    api.getToken() ? "The server did not accept this token. Enter another one." : "This server needs an API token. Enter it to see the data."));
  if (!asked || !panel.hidden) openPanel(!asked);
  asked = true;
});
window.addEventListener("rebound:need-token", () => openPanel(true));

/* ---- server status in the header -------------------------------------- */

async function health() {
  const el = document.getElementById("health");
  try {
    const r = await fetch("/readyz", {cache: "no-store", headers: {Accept: "application/json"}});
    const j = await r.json();
    const failed = (j.checks || []).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    replace(el, h("span", {class: `dot-status ${r.ok ? "up" : "down"}`, "aria-hidden": "true"}),
      r.ok ? "Ready" : `Not ready (${failed.join(", ") || r.status})`);
    el.title = (j.checks || []).map((c) => `${c.name}: ${c.ok ? "ok" : "FAILED"} (${c.detail})`).join("\n");
  } catch {
    replace(el, h("span", {class: "dot-status down", "aria-hidden": "true"}), "Unreachable");
  }
}

async function version() {
  try {
    const r = await fetch("/healthz", {cache: "no-store"});
    const j = await r.json();
    if (j.version) replace(document.getElementById("version"), j.version);
  } catch {
    /* the footer keeps no version */
  }
}

window.addEventListener("hashchange", route);
showTokenState();
route();
health();
version();
setInterval(health, READY_POLL_MS);
