/*
 * overview: the active alerts, then every identity of the window with
 * its sends, rates and status (GET /v1/alerts, GET /v1/identities).
 * The table is sorted and filtered in the page, so it loads the whole
 * list, page by page, up to MAX_IDENTITIES rows.  With more, it loads
 * again the worst bounce rates first (sort=bounceRate, slower: the
 * server ranks the whole window for each page), so that the cut list
 * keeps what matters (and says so).
 */
import * as api from "./api.js";
import {h, replace, select} from "./dom.js";
import {int, bounceRate, complaintRate, badge, timeEl, STATUS_RANK, METRIC_TEXT, rateOf} from "./format.js";
import {errorBox, identityHref, loading, WINDOWS} from "./ui.js";

/* Rows the page sorts by itself; more and the table would be slow to
 * redraw on each key press, and a person does not read them anyway. */
const MAX_IDENTITIES = 5000;

const COLUMNS = [
  {key: "identity", label: "Identity", type: "text"},
  {key: "status", label: "Status", type: "status"},
  {key: "sends", label: "Sends", type: "num"},
  {key: "hardBounces", label: "Hard bounces", type: "num"},
  {key: "bounceRate", label: "Bounce rate", type: "num"},
  {key: "complaints", label: "Complaints", type: "num"},
  {key: "complaintRate", label: "Complaint rate", type: "num"},
];

/* Kept across visits of the page in this tab. */
const state = {sort: "status", dir: -1, filter: "", status: ""};

function compare(a, b, key) {
  if (key === "identity") return a.identity.localeCompare(b.identity);
  if (key === "status") {
    return STATUS_RANK[a.status] - STATUS_RANK[b.status] ||
      a.bounceRate - b.bounceRate || a.complaintRate - b.complaintRate;
  }
  return (a[key] || 0) - (b[key] || 0);
}

function rateCell(v, status, fmt, label) {
  return h("td", {class: `num rate rate-${status}`, "data-label": label},
    h("span", null, fmt(v), status !== "ok" ? h("span", {class: "rate-flag"}, ` ${status}`) : null));
}

function alertsSection(alerts) {
  const sorted = alerts.slice().sort((a, b) =>
    STATUS_RANK[b.status] - STATUS_RANK[a.status] || a.identity.localeCompare(b.identity));
  return h("section", {class: "panel alerts", "aria-labelledby": "alerts-h"},
    h("h2", {id: "alerts-h"}, `Active alerts (${alerts.length})`),
    alerts.length === 0
      ? h("p", {class: "empty"}, "No active alerts: every identity is within its thresholds.")
      : h("ul", {class: "alert-list"}, sorted.map((a) => {
        const fmt = rateOf(a.metric);
        return h("li", {class: `alert alert-${a.status}`},
          badge(a.status),
          h("a", {href: identityHref(a.identity), class: "alert-identity"}, a.identity),
          h("span", {class: "alert-what"},
            `${METRIC_TEXT[a.metric] || a.metric} ${fmt(a.value)}`,
            h("span", {class: "muted"}, ` (${a.status} at ${fmt(a.threshold)}, ${int(a.sends)} sends)`)),
          h("span", {class: "alert-since"}, "since ", timeEl(a.since)));
      })));
}

function tiles(rows) {
  const n = (st) => rows.filter((r) => r.status === st).length;
  const sends = rows.reduce((t, r) => t + r.sends, 0);
  const tile = (label, value, cls) => h("div", {class: `tile ${cls || ""}`},
    h("div", {class: "tile-value"}, value), h("div", {class: "tile-label"}, label));
  return h("div", {class: "tiles"},
    tile("Identities", int(rows.length)),
    tile("Critical", int(n("critical")), n("critical") ? "tile-critical" : ""),
    tile("Warning", int(n("warning")), n("warning") ? "tile-warning" : ""),
    tile("Sends in the window", int(sends)));
}

function table(rows, tbody, countEl) {
  const f = state.filter.trim().toLowerCase();
  const shown = rows.filter((r) =>
    (!f || r.identity.toLowerCase().includes(f) || (r.account || "").toLowerCase().includes(f)) &&
    (!state.status || r.status === state.status));
  shown.sort((a, b) => state.dir * compare(a, b, state.sort) || a.identity.localeCompare(b.identity));
  replace(countEl, `${shown.length} of ${rows.length} identities shown`);
  if (shown.length === 0) {
    return replace(tbody, h("tr", null, h("td", {colspan: COLUMNS.length, class: "empty"},
      rows.length === 0 ? "No identity has sends or feedback in this window." : "No identity matches the filter.")));
  }
  replace(tbody, shown.map((r) => h("tr", {dataset: {identity: r.identity, status: r.status}},
    h("th", {scope: "row", "data-label": "Identity"},
      h("a", {href: identityHref(r.identity)}, r.identity),
      r.account && r.account !== "default" ? h("span", {class: "muted account"}, ` ${r.account}`) : null),
    h("td", {"data-label": "Status"}, badge(r.status, {lowVolume: r.lowVolume})),
    h("td", {class: "num", "data-label": "Sends"}, int(r.sends)),
    h("td", {class: "num", "data-label": "Hard bounces"}, int(r.hardBounces)),
    rateCell(r.bounceRate, r.bounceStatus, bounceRate, "Bounce rate"),
    h("td", {class: "num", "data-label": "Complaints"}, int(r.complaints)),
    rateCell(r.complaintRate, r.complaintStatus, complaintRate, "Complaint rate"))));
}

export async function overviewPage(main, query) {
  const win = WINDOWS.some(([v]) => v === query.window) ? query.window : "24h";
  const body = h("div", null, loading("Loading identities and alerts…"));
  replace(main,
    h("div", {class: "page-head"},
      h("h1", {tabindex: -1}, "Overview"),
      h("div", {class: "controls"}, select("window", "Window", WINDOWS, win,
        (v) => { location.hash = `#/?window=${v}`; }))),
    body);

  let alerts, ids;
  try {
    [alerts, ids] = await Promise.all([
      api.all("/v1/alerts", {state: "active"}, "alerts", MAX_IDENTITIES * 2),
      api.all("/v1/identities", {window: win}, "identities", MAX_IDENTITIES),
    ]);
    if (ids.truncated)
      ids = await api.all("/v1/identities", {window: win, sort: "bounceRate"}, "identities", MAX_IDENTITIES);
  } catch (e) {
    return replace(body, errorBox(e));
  }

  const rows = ids.items;
  const tbody = h("tbody");
  const countEl = h("p", {class: "muted count", "aria-live": "polite"});
  const heads = COLUMNS.map((c) => {
    const btn = h("button", {type: "button", class: "sort"}, c.label, h("span", {class: "sort-mark", "aria-hidden": "true"}));
    const th = h("th", {scope: "col", class: c.type === "num" ? "num" : ""}, btn);
    btn.addEventListener("click", () => {
      if (state.sort === c.key) state.dir = -state.dir;
      else {
        state.sort = c.key;
        state.dir = c.type === "text" ? 1 : -1;
      }
      mark();
      table(rows, tbody, countEl);
    });
    return {th, key: c.key};
  });
  let sortSel = null;
  const mark = () => {
    if (sortSel) sortSel.querySelector("select").value = `${state.sort}:${state.dir}`;
    for (const {th, key} of heads) {
      if (key === state.sort) th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
  };
  mark();

  const filter = h("input", {id: "filter", type: "search", value: state.filter, placeholder: "domain or account", autocomplete: "off"});
  filter.addEventListener("input", () => {
    state.filter = filter.value;
    table(rows, tbody, countEl);
  });
  const statusSel = select("status-filter", "Status",
    [["", "All"], ["critical", "Critical"], ["warning", "Warning"], ["ok", "OK"]], state.status,
    (v) => {
      state.status = v;
      table(rows, tbody, countEl);
    });

  /* On narrow screens the table's header row is hidden (rows become
   * cards), so the sort is offered as a select there. */
  const SORTS = [["status:-1", "Status, worst first"], ["bounceRate:-1", "Bounce rate, highest"],
    ["complaintRate:-1", "Complaint rate, highest"], ["sends:-1", "Sends, most"], ["identity:1", "Identity, A to Z"]];
  sortSel = select("sort", "Sort by", SORTS, `${state.sort}:${state.dir}`, (v) => {
    const [k, d] = v.split(":");
    state.sort = k;
    state.dir = Number(d);
    mark();
    table(rows, tbody, countEl);
  });
  sortSel.classList.add("narrow-only");

  replace(body,
    alertsSection(alerts.items),
    tiles(rows),
    h("section", {class: "panel", "aria-labelledby": "ids-h"},
      h("div", {class: "panel-head"},
        h("h2", {id: "ids-h"}, "Identities"),
        h("div", {class: "controls"},
          h("div", {class: "field"}, h("label", {for: "filter"}, "Filter"), filter),
          statusSel, sortSel)),
      ids.truncated ? h("p", {class: "note"}, `Showing only the ${int(MAX_IDENTITIES)} identities with the highest bounce rates.`) : null,
      countEl,
      h("div", {class: "table-scroll"},
        h("table", {class: "data identities stack"},
          h("caption", {class: "visually-hidden"}, "Identities, sortable by each column"),
          h("thead", null, h("tr", null, heads.map((x) => x.th))),
          tbody))));
  table(rows, tbody, countEl);
}
