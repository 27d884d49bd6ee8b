/*
 * ui: small pieces every page uses: routes as links, the loading and
 * error boxes, the choice of windows.
 */
import {h} from "./dom.js";

/* Windows offered for the rates (API: whole hours, 1h to 90d). */
export const WINDOWS = [
  ["1h", "Last hour"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
  ["30d", "Last 30 days"],
];

export const identityHref = (id) => `#/identity/${encodeURIComponent(id)}`;
export const eventHref = (id) => `#/event/${encodeURIComponent(id)}`;
export const suppressionHref = (addr) => `#/suppression?address=${encodeURIComponent(addr)}`;

export function loading(text) {
  return h("p", {class: "loading", role: "status"}, text || "Loading…");
}

/* An API error as a box saying what to do about it. */
export function errorBox(e) {
  let hint = null;
  if (e.status === 401) hint = "This server needs an API token: enter it with the Token button at the top.";
  else if (e.status === 403) hint = "This token may read but not change anything: an admin token is needed.";
  else if (e.status === 0) hint = "Is rebound serve running? Reload the page to try again.";
  else if (e.status === 503) hint = "rebound is not ready (see its /readyz); try again in a moment.";
  return h("div", {class: "error", role: "alert"},
    h("p", null, h("strong", null, e.status ? `${e.status} ${e.code}` : e.code || "Error"), ": ", e.message),
    hint ? h("p", null, hint) : null);
}
