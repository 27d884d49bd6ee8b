/*
 * event: one stored event (GET /v1/events/{id}) and the original
 * feedback message it came from (GET /v1/events/{id}/raw), shown as
 * text and offered as a download.  The raw message is fetched with the
 * token like every call (a plain link could not send it) and shown up
 * to RAW_SHOW_MAX characters; the download is always the whole message.
 */
import * as api from "./api.js";
import {h, replace} from "./dom.js";
import {timeEl} from "./format.js";
import {errorBox, identityHref, loading, suppressionHref} from "./ui.js";

/* Characters of the raw message put on the page (messages reach 10 MB;
 * a DSN's interesting part is at the top). */
const RAW_SHOW_MAX = 200000;

function dl(pairs) {
  return h("dl", {class: "facts"}, pairs.filter(([, v]) => v !== undefined).map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

export async function eventPage(main, query, id) {
  const body = h("div", null, loading());
  replace(main,
    h("nav", {class: "crumbs", "aria-label": "Breadcrumb"}, h("a", {href: "#/"}, "Overview"), " › ", `Event ${id}`),
    h("h1", {tabindex: -1}, `Event ${id}`),
    body);
  let ev;
  try {
    ev = await api.json(`/v1/events/${api.seg(id)}`);
  } catch (e) {
    return replace(body, errorBox(e));
  }
  const rawBox = h("div", null, loading("Loading the raw message…"));
  replace(body,
    dl([
      ["Time", timeEl(ev.time, {seconds: true})],
      ["Type", ev.eventType + (ev.bounceType ? ` (${ev.bounceType})` : "")],
      ["Identity", ev.identity ? h("a", {href: identityHref(ev.identity)}, ev.identity) : "unattributed"],
      ["Recipient", ev.recipient ? h("a", {href: suppressionHref(ev.recipient)}, ev.recipient) : "–"],
      ["Reason", ev.reason || "–"],
      ["Status code", ev.status || "–"],
      ["Trusted", ev.trusted ? "yes" : "no: its VERP signature failed; it moves no rate and suppresses nothing"],
    ]),
    h("section", {class: "panel", "aria-labelledby": "raw-h"},
      h("h2", {id: "raw-h"}, "Raw feedback message"),
      rawBox),
    h("section", {class: "panel"},
      h("details", null,
        h("summary", null, "Event JSON (SES-shaped, as published)"),
        h("pre", {class: "code"}, JSON.stringify(ev.event, null, 2)))));

  try {
    const buf = await api.bytes(`/v1/events/${api.seg(id)}/raw`);
    /* Shown decoded (bad bytes as U+FFFD); downloaded as received. */
    const raw = new TextDecoder("utf-8").decode(buf);
    const blob = new Blob([buf], {type: "message/rfc822"});
    const link = h("a", {class: "button secondary", href: URL.createObjectURL(blob), download: `rebound-event-${id}.eml`},
      "Download .eml");
    replace(rawBox,
      h("p", {class: "muted"}, `${buf.byteLength.toLocaleString("en-US")} bytes, as received. `, link),
      h("pre", {class: "code raw", tabindex: 0, "aria-label": "Raw message"}, raw.length > RAW_SHOW_MAX ? raw.slice(0, RAW_SHOW_MAX) : raw),
      raw.length > RAW_SHOW_MAX ? h("p", {class: "note"}, `Only the first ${RAW_SHOW_MAX.toLocaleString("en-US")} characters are shown; the download has all.`) : null);
  } catch (e) {
    replace(rawBox, e.status === 404 ? h("p", {class: "empty"}, "The raw message is no longer kept (retention.raw).") : errorBox(e));
  }
}
