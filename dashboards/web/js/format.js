/*
 * format: numbers, rates, times and status badges, the same way on every
 * page.  Rates are fractions from the API (0.05 is 5 %); bounce rates get
 * two decimals and complaint rates three, as `rebound stats` prints them.
 * Times are shown in UTC (the footer says so), like the API sends them.
 */
import {h} from "./dom.js";

export function int(n) {
  if (n === undefined || n === null) return "–";
  return Number(n).toLocaleString("en-US");
}

export function pct(v, decimals = 2) {
  if (v === undefined || v === null || Number.isNaN(v)) return "–";
  return `${(v * 100).toFixed(decimals)}%`;
}

export const bounceRate = (v) => pct(v, 2);
export const complaintRate = (v) => pct(v, 3);

/* Shortest percent text that still tells threshold values apart. */
export function pctShort(v) {
  const p = v * 100;
  const d = p >= 10 || Number.isInteger(p) ? 0 : p >= 1 ? 1 : p >= 0.1 ? 2 : 3;
  return `${Number(p.toFixed(d))}%`;
}

/* "2024-06-01T12:00:00.000Z" -> "2024-06-01 12:00 UTC". */
export function time(iso, {seconds = false} = {}) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const t = d.toISOString();
  return `${t.slice(0, 10)} ${t.slice(11, seconds ? 19 : 16)} UTC`;
}

/* A <time> element with the machine-readable value. */
export function timeEl(iso, opts) {
  if (!iso) return h("span", {class: "muted"}, opts && opts.none ? opts.none : "–");
  return h("time", {datetime: iso}, time(iso, opts));
}

export const STATUS_RANK = {critical: 2, warning: 1, ok: 0};
const STATUS_TEXT = {critical: "Critical", warning: "Warning", ok: "OK"};

/*
 * The status badge: the word always (readable without colour), a shape
 * (app.css draws one per status) and the colour.
 */
export function badge(status, {lowVolume = false} = {}) {
  const st = STATUS_TEXT[status] ? status : "ok";
  return h("span", {class: `badge badge-${st}`, dataset: {status: st}},
    STATUS_TEXT[st],
    lowVolume ? h("span", {class: "badge-note"}, " · low volume") : null);
}

export const METRIC_TEXT = {
  bounceRate: "Bounce rate",
  complaintRate: "Complaint rate",
};

export function rateOf(metric) {
  return metric === "complaintRate" ? complaintRate : bounceRate;
}
