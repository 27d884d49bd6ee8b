/*
 * identity: one identity in full.  Its counts and rates over the window
 * with the breakdowns by reason and by mailbox provider (GET
 * .../reputation), the bounce and complaint rates hour by hour with the
 * thresholds (GET .../timeseries, one call per metric), and its recent
 * events, each linking to the event page with the raw feedback message
 * (GET /v1/events?identity=, a page at a time).
 */
import * as api from "./api.js";
import {h, s, replace, select} from "./dom.js";
import {int, bounceRate, complaintRate, badge, timeEl, METRIC_TEXT, rateOf} from "./format.js";
import {lineChart} from "./chart.js";
import {errorBox, eventHref, loading, suppressionHref, WINDOWS} from "./ui.js";

/* Chart ranges (the API allows at most 2000 points: 30 days of hours is 720). */
const RANGES = [
  ["48h", "Last 48 hours", 48],
  ["7d", "Last 7 days", 7 * 24],
  ["30d", "Last 30 days", 30 * 24],
];
/* Events per page of the recent-events table. */
const EVENTS_PAGE = 20;

function tile(label, value, extra, cls) {
  return h("div", {class: `tile ${cls || ""}`},
    h("div", {class: "tile-value"}, value),
    h("div", {class: "tile-label"}, label),
    extra ? h("div", {class: "tile-extra"}, extra) : null);
}

/* A breakdown table with a bar per row (an SVG rect: no inline styles). */
function breakdown(id, title, rows, nameKey, nameLabel) {
  const max = Math.max(1, ...rows.map((r) => r.total));
  return h("section", {class: "panel", "aria-labelledby": `${id}-h`},
    h("h2", {id: `${id}-h`}, title),
    rows.length === 0
      ? h("p", {class: "empty"}, "No bounces or complaints in this window.")
      : h("div", {class: "table-scroll"}, h("table", {class: "data breakdown", id},
        h("thead", null, h("tr", null,
          h("th", {scope: "col"}, nameLabel),
          h("th", {scope: "col", class: "num"}, "Hard"),
          h("th", {scope: "col", class: "num"}, "Soft"),
          h("th", {scope: "col", class: "num hide-narrow"}, "Undet."),
          h("th", {scope: "col", class: "num"}, "Compl."),
          h("th", {scope: "col", class: "num"}, "Total"),
          h("th", {scope: "col", class: "bar-col"}, h("span", {class: "visually-hidden"}, "Share")))),
        h("tbody", null, rows.map((r) => h("tr", null,
          h("th", {scope: "row"}, r[nameKey]),
          h("td", {class: "num"}, int(r.hardBounces)),
          h("td", {class: "num"}, int(r.softBounces)),
          h("td", {class: "num hide-narrow"}, int(r.undeterminedBounces)),
          h("td", {class: "num"}, int(r.complaints)),
          h("td", {class: "num"}, int(r.total)),
          h("td", {class: "bar-col", "aria-hidden": "true"},
            s("svg", {class: "bar", viewBox: "0 0 100 10", preserveAspectRatio: "none"},
              s("rect", {class: "bar-track", x: 0, y: 0, width: 100, height: 10}),
              s("rect", {class: "bar-hard", x: 0, y: 0, width: (100 * r.hardBounces) / max, height: 10}),
              s("rect", {class: "bar-other", x: (100 * r.hardBounces) / max, y: 0,
                width: (100 * (r.total - r.hardBounces)) / max, height: 10})))))))));
}

function eventRow(ev) {
  const detail = ev.bounceType ? `${ev.bounceType}` : ev.eventType === "Complaint" ? complaintType(ev) : "";
  return h("tr", {dataset: {event: ev.id}},
    h("td", {"data-label": "Time"}, timeEl(ev.time)),
    h("td", {"data-label": "Type"}, ev.eventType, detail ? h("span", {class: "muted"}, ` ${detail}`) : null),
    h("td", {"data-label": "Recipient", class: "addr"},
      ev.recipient ? h("a", {href: suppressionHref(ev.recipient), title: "Suppression of this address"}, ev.recipient) : "–"),
    h("td", {"data-label": "Reason"}, ev.reason || "–", ev.status ? h("span", {class: "muted"}, ` ${ev.status}`) : null),
    h("td", {"data-label": "Trusted", class: ev.trusted ? "trusted-yes" : ""}, ev.trusted ? "yes" : h("strong", null, "no (untrusted)")),
    h("td", {"data-label": "Message"}, h("a", {href: eventHref(ev.id)}, "Raw message", h("span", {class: "visually-hidden"}, ` of event ${ev.id}`))));
}

function complaintType(ev) {
  const c = ev.event && ev.event.complaint;
  return c && c.complaintFeedbackType ? c.complaintFeedbackType : "";
}

function eventsSection(identity) {
  const tbody = h("tbody", null, h("tr", null, h("td", {colspan: 6}, loading("Loading events…"))));
  const more = h("button", {type: "button", class: "secondary", hidden: true}, "Load more events");
  const status = h("p", {class: "muted count", "aria-live": "polite"});
  let next;
  let shown = 0;
  const load = async (first) => {
    more.disabled = true;
    try {
      const page = await api.json("/v1/events", {query: {identity, pageSize: EVENTS_PAGE, nextToken: next}});
      if (first) tbody.replaceChildren();
      for (const ev of page.events) tbody.append(eventRow(ev));
      shown += page.events.length;
      if (first && page.events.length === 0) {
        tbody.append(h("tr", null, h("td", {colspan: 6, class: "empty"}, "No events stored for this identity.")));
      }
      next = page.nextToken;
      more.hidden = !next;
      replace(status, `${shown} event${shown === 1 ? "" : "s"} shown, newest first${next ? "" : " (all)"}`);
    } catch (e) {
      if (first) replace(tbody, h("tr", null, h("td", {colspan: 6}, errorBox(e))));
      else status.replaceChildren(errorBox(e));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", () => load(false));
  load(true);
  return h("section", {class: "panel", "aria-labelledby": "events-h"},
    h("h2", {id: "events-h"}, "Recent events"),
    status,
    h("div", {class: "table-scroll"}, h("table", {class: "data events stack"},
      h("thead", null, h("tr", null,
        ["Time", "Type", "Recipient", "Reason", "Trusted", "Message"].map((t) => h("th", {scope: "col"}, t)))),
      tbody)),
    more);
}

async function chartsInto(el, identity, rep, range) {
  const hours = RANGES.find(([v]) => v === range)[2];
  const to = Date.parse(rep.to);
  const from = new Date(to - hours * 3600 * 1000).toISOString();
  replace(el, loading("Loading the rates over time…"));
  try {
    const base = `/v1/identities/${api.seg(identity)}/timeseries`;
    const q = {from, to: rep.to, step: "1h"};
    const [b, c] = await Promise.all([
      api.json(base, {query: {...q, metric: "bounceRate"}}),
      api.json(base, {query: {...q, metric: "complaintRate"}}),
    ]);
    const win = `${Math.round(b.window / 3600)} h`;
    replace(el,
      lineChart({id: "bounceRate", title: `Bounce rate, hourly (each point: the ${win} before it)`,
        seriesName: `Bounce rate (${win} rolling)`, points: b.points, step: b.step, thresholds: b.thresholds, format: bounceRate}),
      lineChart({id: "complaintRate", title: `Complaint rate, hourly (each point: the ${win} before it)`,
        seriesName: `Complaint rate (${win} rolling)`, points: c.points, step: c.step, thresholds: c.thresholds, format: complaintRate}));
  } catch (e) {
    replace(el, errorBox(e));
  }
}

export async function identityPage(main, query, identity) {
  const win = WINDOWS.some(([v]) => v === query.window) ? query.window : "24h";
  const range = RANGES.some(([v]) => v === query.range) ? query.range : "7d";
  const go = (w, r) => {
    location.hash = `#/identity/${encodeURIComponent(identity)}?window=${w}&range=${r}`;
  };
  const body = h("div", null, loading());
  replace(main,
    h("nav", {class: "crumbs", "aria-label": "Breadcrumb"}, h("a", {href: "#/"}, "Overview"), " › ", identity),
    body);

  let rep;
  try {
    rep = await api.json(`/v1/identities/${api.seg(identity)}/reputation`, {query: {window: win}});
  } catch (e) {
    return replace(body, h("h1", {tabindex: -1}, identity), errorBox(e));
  }
  const th = rep.thresholds || {};
  const charts = h("div", {class: "charts"});
  replace(body,
    h("div", {class: "page-head"},
      h("h1", {tabindex: -1}, rep.identity, " ", badge(rep.status, {lowVolume: rep.lowVolume})),
      h("div", {class: "controls"},
        select("window", "Window", WINDOWS, win, (v) => go(v, range)))),
    h("p", {class: "muted sub"},
      `Account ${rep.account}. Window `, timeEl(rep.from), " to ", timeEl(rep.to), ".",
      rep.lowVolume ? ` Fewer than ${int(th.minSends)} sends in the window: the status stays OK.` : ""),
    rep.alerts && rep.alerts.length
      ? h("ul", {class: "alert-list"}, rep.alerts.map((a) => h("li", {class: `alert alert-${a.status}`},
        badge(a.status),
        h("span", {class: "alert-what"}, `${METRIC_TEXT[a.metric] || a.metric} ${rateOf(a.metric)(rep[a.metric])}`),
        h("span", {class: "alert-since"}, "since ", timeEl(a.since)))))
      : null,
    h("div", {class: "tiles"},
      tile("Sends", int(rep.sends)),
      tile("Bounce rate", bounceRate(rep.bounceRate), [badge(rep.bounceStatus), ` warning ${bounceRate(th.bounceWarning)}, critical ${bounceRate(th.bounceCritical)}`],
        `tile-${rep.bounceStatus}`),
      tile("Complaint rate", complaintRate(rep.complaintRate), [badge(rep.complaintStatus), ` warning ${complaintRate(th.complaintWarning)}, critical ${complaintRate(th.complaintCritical)}`],
        `tile-${rep.complaintStatus}`),
      tile("Hard bounces", int(rep.hardBounces), `soft ${int(rep.softBounces)}, undetermined ${int(rep.undeterminedBounces)}`),
      tile("Complaints", int(rep.complaints), `not-spam ${int(rep.notSpam)}, unsubscribes ${int(rep.unsubscribes)}`),
      tile("Other feedback", int(rep.autoReplies + rep.delays), `auto-replies ${int(rep.autoReplies)}, delays ${int(rep.delays)}, untrusted ${int(rep.untrusted)}`)),
    h("section", {class: "panel", "aria-labelledby": "charts-h"},
      h("div", {class: "panel-head"},
        h("h2", {id: "charts-h"}, "Rates over time"),
        h("div", {class: "controls"}, select("range", "Range", RANGES.map(([v, t]) => [v, t]), range, (v) => go(win, v)))),
      charts),
    h("div", {class: "two"},
      breakdown("by-reason", "By reason", rep.byReason || [], "reason", "Reason"),
      breakdown("by-provider", "By mailbox provider", rep.byProvider || [], "provider", "Provider")),
    eventsSection(rep.identity));
  chartsInto(charts, rep.identity, rep, range);
}
