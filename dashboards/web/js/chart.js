/*
 * chart: the rate-over-time line chart of the identity page, in our own
 * SVG.  Why not a library: the console needs one chart kind (a line with
 * two horizontal threshold lines and a hover read-out), about 250 lines
 * here; a vendored library would be 40-200 KB to audit and keep updated,
 * and most set inline style attributes, which the server's CSP
 * (style-src 'self') blocks.  Looks are classes in app.css; SVG geometry
 * attributes are not styles, so the CSP allows them.
 *
 * Input: points [{timestamp, value, sends, count}] (API timeseries, one
 * per step), the step in seconds, thresholds {warning, critical}.  A
 * point covers [timestamp, timestamp + step) and its rate is that of the
 * window ending at the end of the interval, so it is drawn there.  Points
 * without sends have no rate: the line has a gap.  The y axis always
 * reaches above the critical threshold, so both threshold lines show.
 * The chart draws at its container's pixel width (text stays readable
 * at 390 px) and redraws when that changes.  Keyboard: focus the chart,
 * then Left/Right/Home/End move the read-out.
 */
import {h, s} from "./dom.js";
import {pctShort, time} from "./format.js";

const HEIGHT = 260;
const MARGIN = {top: 16, right: 16, bottom: 30, left: 52};
/* Minimum pixels between x labels ("12 Jun" is about 40 px wide). */
const X_LABEL_GAP = 64;
/* Below this width the chart is not drawn narrower (phones are 320+). */
const MIN_WIDTH = 280;
/* Threshold labels closer than this (px) would overlap: one goes below. */
const LABEL_CLEARANCE = 14;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

/* A round step near raw: 1, 2, 2.5 or 5 times a power of ten. */
function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return m * p;
}

/* y axis: 0 to a round value above max, with its tick step. */
function yAxis(max) {
  const top = max > 0 ? max * 1.15 : 0.01;
  const step = niceStep(top / 4);
  return {max: Math.ceil(top / step - 1e-9) * step, step};
}

/* x ticks (ms) between t0 and t1 at a spacing that fits the width. */
function xTicks(t0, t1, plotW) {
  const span = t1 - t0;
  const maxTicks = Math.max(2, Math.floor(plotW / X_LABEL_GAP));
  const choices = [HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY];
  const every = choices.find((c) => span / c <= maxTicks) || 28 * DAY;
  const ticks = [];
  for (let t = Math.ceil(t0 / every) * every; t <= t1; t += every) ticks.push(t);
  return {ticks, every};
}

function xLabel(t, every) {
  const d = new Date(t);
  const day = `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
  if (every >= DAY) return day;
  const hh = String(d.getUTCHours()).padStart(2, "0");
  return d.getUTCHours() === 0 ? day : `${hh}:00`;
}

/* Path data of the line, "M" at each start after a gap. */
function linePath(xy) {
  let d = "";
  let pen = false;
  for (const p of xy) {
    if (p === null) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`;
    pen = true;
  }
  return d;
}

/* The filled area under each unbroken run of the line. */
function areaPath(xy, y0) {
  let d = "";
  let run = [];
  const flush = () => {
    if (run.length > 0) {
      d += `M${run[0].x.toFixed(1)},${y0.toFixed(1)}`;
      for (const p of run) d += `L${p.x.toFixed(1)},${p.y.toFixed(1)}`;
      d += `L${run[run.length - 1].x.toFixed(1)},${y0.toFixed(1)}Z`;
    }
    run = [];
  };
  for (const p of xy) {
    if (p === null) flush();
    else run.push(p);
  }
  flush();
  return d;
}

/* Draw into svg (emptied) at width px; returns the read-out mover. */
function draw(svg, width, o) {
  const W = Math.max(MIN_WIDTH, Math.floor(width));
  const plotW = W - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const stepMs = o.step * 1000;
  const pts = o.points.map((p) => ({
    t: Date.parse(p.timestamp) + stepMs,
    v: p.value,
    sends: p.sends,
    count: p.count,
    from: p.timestamp,
  }));
  const t0 = pts.length ? pts[0].t : Date.now();
  const t1 = pts.length > 1 ? pts[pts.length - 1].t : t0 + stepMs;
  const vmax = Math.max(0, ...pts.filter((p) => p.sends > 0).map((p) => p.v));
  const y = yAxis(Math.max(vmax, o.thresholds.critical || 0, o.thresholds.warning || 0));
  const X = (t) => MARGIN.left + ((t - t0) / (t1 - t0)) * plotW;
  const Y = (v) => MARGIN.top + (1 - v / y.max) * plotH;
  const y0 = Y(0);

  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${HEIGHT}`);
  svg.setAttribute("width", W);
  svg.setAttribute("height", HEIGHT);

  const grid = s("g", {class: "grid"});
  for (let v = 0; v <= y.max + 1e-12; v += y.step) {
    grid.append(s("line", {x1: MARGIN.left, x2: W - MARGIN.right, y1: Y(v), y2: Y(v)}));
    grid.append(s("text", {class: "tick", x: MARGIN.left - 8, y: Y(v) + 4, "text-anchor": "end"}, pctShort(v)));
  }
  const xt = xTicks(t0, t1, plotW);
  for (const t of xt.ticks) {
    grid.append(s("line", {class: "xgrid", x1: X(t), x2: X(t), y1: MARGIN.top, y2: y0}));
    grid.append(s("text", {class: "tick", x: X(t), y: HEIGHT - 10, "text-anchor": "middle"}, xLabel(t, xt.every)));
  }
  svg.append(grid);

  const xy = pts.map((p) => (p.sends > 0 ? {x: X(p.t), y: Y(p.v)} : null));
  svg.append(s("path", {class: "area", d: areaPath(xy, y0)}));
  svg.append(s("path", {class: "series", d: linePath(xy), dataset: {points: pts.length}}));
  svg.append(s("line", {class: "axis", x1: MARGIN.left, x2: W - MARGIN.right, y1: y0, y2: y0}));

  /* Thresholds: critical above warning; labels at the left end, where
   * the data is oldest (the latest hours matter most). */
  const th = [
    ["critical", o.thresholds.critical],
    ["warning", o.thresholds.warning],
  ].filter(([, v]) => typeof v === "number" && v > 0);
  let lastLabelY = -Infinity;
  for (const [name, v] of th) {
    const ty = Y(v);
    svg.append(s("line", {
      class: `threshold threshold-${name}`,
      x1: MARGIN.left, x2: W - MARGIN.right, y1: ty, y2: ty,
      dataset: {threshold: name, value: v},
    }));
    let ly = ty - 5;
    if (ly - lastLabelY < LABEL_CLEARANCE) ly = ty + 13;
    lastLabelY = ly;
    svg.append(s("text", {class: `threshold-label threshold-label-${name}`, x: MARGIN.left + 6, y: ly},
      `${name} ${pctShort(v)}`));
  }

  /* Read-out: guide line, dot and a label box, moved by pointer or keys. */
  const guide = s("line", {class: "guide", y1: MARGIN.top, y2: y0, visibility: "hidden"});
  const dot = s("circle", {class: "dot", r: 4, visibility: "hidden"});
  const tipBox = s("rect", {class: "tip-box", rx: 4, height: 38, visibility: "hidden"});
  const tip1 = s("text", {class: "tip-text tip-strong", visibility: "hidden"});
  const tip2 = s("text", {class: "tip-text", visibility: "hidden"});
  svg.append(guide, dot, tipBox, tip1, tip2);
  const readout = [guide, dot, tipBox, tip1, tip2];

  function show(i) {
    if (i === null || !pts[i]) {
      for (const el of readout) el.setAttribute("visibility", "hidden");
      return null;
    }
    const p = pts[i];
    const px = X(p.t);
    const py = p.sends > 0 ? Y(p.v) : y0;
    guide.setAttribute("x1", px);
    guide.setAttribute("x2", px);
    dot.setAttribute("cx", px);
    dot.setAttribute("cy", py);
    const line1 = p.sends > 0 ? `${o.format(p.v)}  (${p.count.toLocaleString("en-US")} / ${p.sends.toLocaleString("en-US")})` : "no sends";
    const line2 = `to ${time(new Date(p.t).toISOString())}`;
    tip1.textContent = line1;
    tip2.textContent = line2;
    for (const el of readout) el.setAttribute("visibility", "visible");
    dot.setAttribute("visibility", p.sends > 0 ? "visible" : "hidden");
    const tw = Math.max(tip1.getComputedTextLength(), tip2.getComputedTextLength()) + 16;
    let bx = px + 10;
    if (bx + tw > W - MARGIN.right) bx = px - 10 - tw;
    const by = MARGIN.top + 2;
    tipBox.setAttribute("x", bx);
    tipBox.setAttribute("y", by);
    tipBox.setAttribute("width", tw);
    tip1.setAttribute("x", bx + 8);
    tip1.setAttribute("y", by + 15);
    tip2.setAttribute("x", bx + 8);
    tip2.setAttribute("y", by + 31);
    return `${line2}: ${line1}`;
  }

  const hit = s("rect", {class: "hit", x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH});
  svg.append(hit);
  const nearest = (clientX) => {
    const r = svg.getBoundingClientRect();
    const x = ((clientX - r.left) / r.width) * W;
    let best = 0;
    for (let i = 1; i < pts.length; i++) {
      if (Math.abs(X(pts[i].t) - x) < Math.abs(X(pts[best].t) - x)) best = i;
    }
    return best;
  };
  return {show, nearest, count: pts.length};
}

/*
 * A chart block: title, the SVG, a legend, a live read-out for screen
 * readers and the numbers as a table.  opts: {title, points, step,
 * thresholds, format (value -> text), seriesName, id}.
 */
export function lineChart(opts) {
  const svg = s("svg", {
    class: "chart",
    tabindex: 0,
    role: "img",
    "aria-label": `${opts.title}: line chart, ${opts.points.length} hourly points, with the warning and critical thresholds. Use the left and right arrow keys to read values.`,
    dataset: {metric: opts.id},
  });
  const live = h("p", {class: "visually-hidden", "aria-live": "polite"});
  const wrap = h("div", {class: "chart-wrap"}, svg);
  let chart = null;
  let current = null;
  let lastW = 0;

  const render = () => {
    const w = wrap.clientWidth;
    if (w === 0 || w === lastW) return;
    lastW = w;
    chart = draw(svg, w, opts);
    if (current !== null) chart.show(current);
  };
  const move = (i) => {
    current = i === null ? null : Math.max(0, Math.min(chart.count - 1, i));
    const said = chart.show(current);
    if (said) live.textContent = said;
  };
  svg.addEventListener("pointermove", (e) => chart && move(chart.nearest(e.clientX)));
  svg.addEventListener("pointerleave", () => chart && document.activeElement !== svg && move(null));
  svg.addEventListener("blur", () => chart && move(null));
  svg.addEventListener("focus", () => chart && move(current === null ? chart.count - 1 : current));
  svg.addEventListener("keydown", (e) => {
    if (!chart || chart.count === 0) return;
    const c = current === null ? chart.count - 1 : current;
    const big = Math.max(1, Math.round(chart.count / 14));
    const next = {ArrowLeft: c - 1, ArrowRight: c + 1, PageUp: c - big, PageDown: c + big, Home: 0, End: chart.count - 1}[e.key];
    if (next !== undefined) {
      e.preventDefault();
      move(next);
    } else if (e.key === "Escape") {
      move(null);
    }
  });
  new ResizeObserver(render).observe(wrap);

  const th = opts.thresholds;
  const legend = h("ul", {class: "legend"},
    h("li", null, legendLine("series"), opts.seriesName),
    th.warning ? h("li", null, legendLine("threshold threshold-warning"), `Warning at ${pctShort(th.warning)}`) : null,
    th.critical ? h("li", null, legendLine("threshold threshold-critical"), `Critical at ${pctShort(th.critical)}`) : null);

  const rows = opts.points.filter((p) => p.sends > 0 || p.count > 0).slice().reverse();
  const table = h("details", {class: "chart-data"},
    h("summary", null, `Data table (${rows.length} hours with sends)`),
    h("div", {class: "table-scroll"},
      h("table", {class: "data"},
        h("thead", null, h("tr", null,
          h("th", {scope: "col"}, "Hour (UTC)"),
          h("th", {scope: "col", class: "num"}, "Rate"),
          h("th", {scope: "col", class: "num"}, "Count"),
          h("th", {scope: "col", class: "num"}, "Sends"))),
        h("tbody", null, rows.map((p) => h("tr", null,
          h("td", null, time(p.timestamp)),
          h("td", {class: "num"}, opts.format(p.value)),
          h("td", {class: "num"}, p.count.toLocaleString("en-US")),
          h("td", {class: "num"}, p.sends.toLocaleString("en-US"))))))));

  return h("figure", {class: "chart-card", id: opts.id ? `chart-${opts.id}` : undefined},
    h("figcaption", null, opts.title), wrap, legend, live, table);
}

function legendLine(cls) {
  return s("svg", {class: "legend-key", width: 28, height: 10, viewBox: "0 0 28 10", "aria-hidden": "true"},
    s("line", {class: cls, x1: 1, x2: 27, y1: 5, y2: 5}));
}
