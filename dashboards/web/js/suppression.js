/*
 * suppression: look an address up (GET /v1/suppression/{address}: which
 * list, why, since and until when), lift it (DELETE, everywhere or from
 * one account's list), add one to an account list (PUT), and page
 * through the lists in force (GET /v1/suppression with nextToken).
 * Changes need an admin token; the page says so instead of failing
 * silently.  The address being looked at is in the route
 * (#/suppression?address=...), so it can be linked to and bookmarked.
 */
import * as api from "./api.js";
import {h, replace, select} from "./dom.js";
import {timeEl} from "./format.js";
import {errorBox, eventHref, loading, suppressionHref} from "./ui.js";

const PAGE_SIZES = [["25", "25"], ["50", "50"], ["100", "100"]];

/* The list browser's filters and position, kept while the tab lives. */
const state = {list: "", reason: "", pageSize: "25", tokens: [undefined], page: 0};

function resetPaging() {
  state.tokens = [undefined];
  state.page = 0;
}

function needTokenNote() {
  if (api.getToken()) return null;
  return h("p", {class: "note"}, "Changes need an admin token: ",
    h("button", {type: "button", class: "link", onclick: () => window.dispatchEvent(new Event("rebound:need-token"))}, "enter one"),
    ".");
}

function untilEl(e) {
  return e.expiresAt ? timeEl(e.expiresAt) : h("span", null, "until removed");
}

function detailOf(e) {
  if (e.list === "global") return `${e.bounceReason || "bounce"}, period ${e.strikes || 1}`;
  return `${e.origin || ""}`;
}

/* Remove button with an inline confirmation step. */
function removeControl(address, account, onDone) {
  const what = account ? `from the list of account ${account}` : "from every list";
  const box = h("div", {class: "remove"});
  const ask = () => replace(box,
    h("button", {type: "button", class: account ? "danger-outline" : "danger", onclick: confirmStep},
      account ? `Remove from ${account}` : "Remove from every list"));
  const confirmStep = () => {
    const yes = h("button", {type: "button", class: "danger", onclick: run}, "Yes, remove");
    replace(box, h("p", {class: "confirm", role: "alert"},
      `Remove ${address} ${what}? Mail to it will be sent again.`),
    yes, " ", h("button", {type: "button", class: "secondary", onclick: ask}, "Cancel"));
    yes.focus();
  };
  const run = async () => {
    replace(box, loading("Removing…"));
    try {
      const r = await api.json(`/v1/suppression/${api.seg(address)}`, {method: "DELETE", query: {account}});
      onDone(r);
    } catch (e) {
      replace(box, errorBox(e));
      box.append(h("button", {type: "button", class: "secondary", onclick: ask}, "Back"));
    }
  };
  ask();
  return box;
}

async function lookup(out, address, refreshList) {
  replace(out, loading(`Looking up ${address}…`));
  let r;
  try {
    r = await api.json(`/v1/suppression/${api.seg(address)}`);
  } catch (e) {
    if (e.status === 404) {
      return replace(out, h("div", {class: "result result-clear", dataset: {suppressed: "false"}},
        h("h3", null, h("span", {class: "badge badge-ok"}, "Not suppressed"), " ", address),
        h("p", null, "rebound would let mail to this address through.")));
    }
    return replace(out, errorBox(e));
  }
  const done = (res) => {
    lookup(out, address, refreshList).then(() => {
      out.prepend(h("p", {class: "success", role: "status"},
        `Removed ${res.removed} entr${res.removed === 1 ? "y" : "ies"} of ${res.emailAddress}.`));
    });
    refreshList();
  };
  replace(out, h("div", {class: "result result-suppressed", dataset: {suppressed: "true"}},
    h("h3", null, h("span", {class: "badge badge-critical"}, "Suppressed"), " ", r.emailAddress),
    h("ul", {class: "why"}, (r.entries || []).map((e) => h("li", null, e.list === "global"
      ? ["On the ", h("strong", null, "global list"), ` after a hard bounce (${e.bounceReason || "bounce"}), until `, untilEl(e), "."]
      : ["On the list of account ", h("strong", null, e.account || ""), ` (${e.reason === "COMPLAINT" ? "complaint" : "bounce"}, added ${e.origin === "auto" ? "automatically" : e.origin === "import" ? "by an import" : "by hand"}), `, untilEl(e), "."]))),
    h("div", {class: "table-scroll"}, h("table", {class: "data entries stack"},
      h("thead", null, h("tr", null,
        ["List", "Reason", "Detail", "Since", "Until", "Event", ""].map((t) => h("th", {scope: "col"}, t)))),
      h("tbody", null, (r.entries || []).map((e) => h("tr", null,
        h("td", {"data-label": "List"}, e.list === "global" ? "global" : `account ${e.account}`),
        h("td", {"data-label": "Reason"}, e.reason),
        h("td", {"data-label": "Detail"}, detailOf(e)),
        h("td", {"data-label": "Since"}, timeEl(e.lastUpdateTime)),
        h("td", {"data-label": "Until"}, untilEl(e)),
        h("td", {"data-label": "Event"}, e.eventId ? h("a", {href: eventHref(e.eventId)}, `event ${e.eventId}`) : "–"),
        h("td", {"data-label": ""}, e.list === "account" && (r.entries || []).length > 1
          ? removeControl(r.emailAddress, e.account, done) : null)))))),
    h("div", {class: "actions"}, removeControl(r.emailAddress, undefined, done)),
    needTokenNote()));
}

function addForm(refreshList, show) {
  const addr = h("input", {id: "add-address", type: "text", inputmode: "email", autocomplete: "off", required: true, spellcheck: "false"});
  const acct = h("input", {id: "add-account", type: "text", autocomplete: "off", placeholder: "default", spellcheck: "false"});
  const out = h("div", {"aria-live": "polite"});
  const form = h("form", {class: "inline-form", novalidate: true},
    h("div", {class: "field grow"}, h("label", {for: "add-address"}, "Address"), addr),
    select("add-reason", "Reason", [["BOUNCE", "Bounce"], ["COMPLAINT", "Complaint"]], "BOUNCE", () => {}),
    h("div", {class: "field"}, h("label", {for: "add-account"}, "Account (optional)"), acct),
    h("div", {class: "field"}, h("span", {class: "label-spacer", "aria-hidden": "true"}, " "),
      h("button", {type: "submit"}, "Suppress")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const a = addr.value.trim();
    if (!a) return replace(out, h("p", {class: "error", role: "alert"}, "Enter an address."));
    const body = {reason: form.querySelector("#add-reason").value};
    if (acct.value.trim()) body.account = acct.value.trim();
    try {
      const r = await api.json(`/v1/suppression/${api.seg(a)}`, {method: "PUT", body});
      replace(out, h("p", {class: "success", role: "status"}, `${r.emailAddress} is on the list of account ${r.account} (${r.reason}).`));
      addr.value = "";
      refreshList();
      show(r.emailAddress);
    } catch (e) {
      replace(out, errorBox(e));
    }
  });
  return h("section", {class: "panel", "aria-labelledby": "add-h"},
    h("h2", {id: "add-h"}, "Add to an account list"),
    form, out);
}

function listSection() {
  const tbody = h("tbody");
  const pager = h("div", {class: "pager"});
  const status = h("p", {class: "muted count", "aria-live": "polite"});
  const refresh = async () => {
    replace(tbody, h("tr", null, h("td", {colspan: 6}, loading())));
    replace(pager);
    let page;
    try {
      page = await api.json("/v1/suppression", {query: {
        list: state.list, reason: state.reason, pageSize: state.pageSize, nextToken: state.tokens[state.page]}});
    } catch (e) {
      return replace(tbody, h("tr", null, h("td", {colspan: 6}, errorBox(e))));
    }
    const items = page.suppressedDestinations || [];
    if (page.nextToken) state.tokens[state.page + 1] = page.nextToken;
    else state.tokens.length = state.page + 1;
    replace(status, items.length === 0 ? "" : `Page ${state.page + 1}: ${items.length} entr${items.length === 1 ? "y" : "ies"}${page.nextToken ? ", more on the next pages" : ""}.`);
    replace(tbody, items.length === 0
      ? h("tr", null, h("td", {colspan: 6, class: "empty"}, state.page === 0 ? "No entries in force." : "No more entries."))
      : items.map((e) => h("tr", {dataset: {address: e.emailAddress}},
        h("th", {scope: "row", "data-label": "Address", class: "addr"}, h("a", {href: suppressionHref(e.emailAddress)}, e.emailAddress)),
        h("td", {"data-label": "List"}, e.list === "global" ? "global" : `account ${e.account}`),
        h("td", {"data-label": "Reason"}, e.reason),
        h("td", {"data-label": "Detail"}, detailOf(e)),
        h("td", {"data-label": "Since"}, timeEl(e.lastUpdateTime)),
        h("td", {"data-label": "Until"}, untilEl(e)))));
    const prev = h("button", {type: "button", class: "secondary", disabled: state.page === 0}, "‹ Previous page");
    const next = h("button", {type: "button", class: "secondary", disabled: !page.nextToken}, "Next page ›");
    prev.addEventListener("click", () => { state.page--; refresh(); });
    next.addEventListener("click", () => { state.page++; refresh(); });
    replace(pager, prev, h("span", {class: "page-no"}, `Page ${state.page + 1}`), next);
  };
  const filters = h("div", {class: "controls"},
    select("list-filter", "List", [["", "Both"], ["global", "Global"], ["account", "Account"]], state.list,
      (v) => { state.list = v; resetPaging(); refresh(); }),
    select("reason-filter", "Reason", [["", "Any"], ["BOUNCE", "Bounce"], ["COMPLAINT", "Complaint"]], state.reason,
      (v) => { state.reason = v; resetPaging(); refresh(); }),
    select("page-size", "Per page", PAGE_SIZES, state.pageSize,
      (v) => { state.pageSize = v; resetPaging(); refresh(); }));
  const el = h("section", {class: "panel", "aria-labelledby": "lists-h"},
    h("div", {class: "panel-head"}, h("h2", {id: "lists-h"}, "Suppression lists"), filters),
    status,
    h("div", {class: "table-scroll"}, h("table", {class: "data suppressions stack"},
      h("thead", null, h("tr", null, ["Address", "List", "Reason", "Detail", "Since", "Until"].map((t) => h("th", {scope: "col"}, t)))),
      tbody)),
    pager);
  return {el, refresh};
}

export async function suppressionPage(main, query) {
  const list = listSection();
  const input = h("input", {id: "lookup", type: "text", inputmode: "email", autocomplete: "off", spellcheck: "false",
    value: query.address || "", placeholder: "name@example.com"});
  const out = h("div", {class: "lookup-result", "aria-live": "polite"});
  const show = (a) => {
    location.hash = suppressionHref(a);
  };
  const form = h("form", {class: "inline-form", role: "search"},
    h("div", {class: "field grow"}, h("label", {for: "lookup"}, "Email address"), input),
    h("div", {class: "field"}, h("span", {class: "label-spacer", "aria-hidden": "true"}, " "), h("button", {type: "submit"}, "Look up")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const a = input.value.trim();
    if (!a) return replace(out, h("p", {class: "error", role: "alert"}, "Enter an address to look up."));
    if (a === query.address) lookup(out, a, list.refresh);
    else show(a);
  });
  replace(main,
    h("div", {class: "page-head"}, h("h1", {tabindex: -1}, "Suppression")),
    h("section", {class: "panel", "aria-labelledby": "lookup-h"},
      h("h2", {id: "lookup-h"}, "Look up an address"),
      form, out),
    list.el,
    addForm(list.refresh, show));
  if (query.address) lookup(out, query.address, list.refresh);
  list.refresh();
}
