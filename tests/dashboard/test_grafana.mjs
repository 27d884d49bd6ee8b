/*
 * test_grafana: dashboards/grafana/rebound.json is a valid Grafana
 * dashboard over a Prometheus data source *variable* (no fixed data
 * source), with a panel for each thing an operator must see, and every
 * PromQL expression names only metrics, labels and variables that exist:
 * the metric and label names are checked against the /metrics of a
 * running `rebound serve` over a seeded database, after traffic that
 * makes each family show (feedback over SMTP and HTTP, an SMTP
 * rejection, API calls).
 * Usage: node test_grafana.mjs REBOUND
 */
import {readFileSync} from "node:fs";
import {join} from "node:path";
import * as lib from "./lib.mjs";
import {analyse, parseExposition, seriesNames} from "./promql.mjs";
import {seed, feedbackMessage} from "./seed.mjs";

const {check, ok, fail} = lib;
const bin = process.argv[2];
if (!bin) {
  console.error("usage: node test_grafana.mjs REBOUND");
  process.exit(2);
}
const FILE = join(lib.root, "dashboards", "grafana", "rebound.json");

/* What the dashboard must show (issue: intake by source, events by type
 * and reason, top identities by rate, suppression sizes, spool and outbox
 * depth, SMTP rejections, HTTP latency): metric and, where it matters,
 * the grouping label. */
const REQUIRED = [
  ["rebound_messages_received_total", "source"],
  ["rebound_events_total", "type"],
  ["rebound_events_total", "reason"],
  ["rebound_identity_bounce_rate", "identity"],
  ["rebound_identity_complaint_rate", "identity"],
  ["rebound_suppression_entries", "list"],
  ["rebound_spool_depth", null],
  ["rebound_outbox_depth", null],
  ["rebound_smtp_rejections_total", "code"],
  ["rebound_http_request_duration_seconds_bucket", "le"],
];

/* Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = new Set(["instance", "job"]);
/* Grafana's own variables. */
const BUILTIN_VARS = /^__/;

/* ---- 1. the file ---------------------------------------------------------- */

let dash;
try {
  dash = JSON.parse(readFileSync(FILE, "utf8"));
  ok("rebound.json is JSON");
} catch (e) {
  fail(`rebound.json: ${e.message}`);
  process.exit(1);
}
check(typeof dash.title === "string" && dash.title && typeof dash.uid === "string" && /^[A-Za-z0-9_-]{1,40}$/.test(dash.uid),
  "title and a valid uid", {title: dash.title, uid: dash.uid});
check(Number.isInteger(dash.schemaVersion) && dash.schemaVersion >= 30, "schemaVersion of a current Grafana", dash.schemaVersion);
check(dash.id === null || dash.id === undefined, "no instance-specific id (importable anywhere)", dash.id);

const vars = (dash.templating && dash.templating.list) || [];
const dsVar = vars.find((v) => v.type === "datasource" && v.query === "prometheus");
check(Boolean(dsVar), "a Prometheus data source variable", vars.map((v) => v.name));
const dsRef = dsVar ? `\${${dsVar.name}}` : null;
const varNames = new Set(vars.map((v) => v.name));

const panels = [];
const walk = (list) => {
  for (const p of list || []) {
    panels.push(p);
    walk(p.panels);
  }
};
walk(dash.panels);
check(panels.length > 0, "the dashboard has panels");

const ids = new Set();
const boxes = [];
let bad = 0;
for (const p of panels) {
  const where = `panel ${p.id} "${p.title}"`;
  if (!Number.isInteger(p.id) || ids.has(p.id)) {
    fail(`${where}: id missing or repeated`);
    bad++;
  }
  ids.add(p.id);
  const g = p.gridPos || {};
  if (![g.x, g.y, g.w, g.h].every(Number.isInteger) || g.w < 1 || g.x < 0 || g.x + g.w > 24 || g.h < 1) {
    fail(`${where}: gridPos ${JSON.stringify(g)} is not within the 24 columns`);
    bad++;
  }
  for (const b of boxes) {
    if (g.x < b.x + b.w && b.x < g.x + g.w && g.y < b.y + b.h && b.y < g.y + g.h) {
      fail(`${where} overlaps panel ${b.id}`);
      bad++;
    }
  }
  boxes.push({...g, id: p.id});
  if (p.type === "row") continue;
  if (!p.title) {
    fail(`panel ${p.id}: no title`);
    bad++;
  }
  const dsOk = (d) => d && d.type === "prometheus" && d.uid === dsRef;
  if (!dsOk(p.datasource)) {
    fail(`${where}: datasource ${JSON.stringify(p.datasource)} is not the variable ${dsRef}`);
    bad++;
  }
  const targets = p.targets || [];
  if (targets.length === 0) {
    fail(`${where}: no query`);
    bad++;
  }
  const refIds = new Set();
  for (const t of targets) {
    if (!t.refId || refIds.has(t.refId) || !t.expr || (t.datasource && !dsOk(t.datasource))) {
      fail(`${where}: target ${JSON.stringify(t.refId)}: needs a unique refId, an expr and the data source variable`);
      bad++;
    }
    refIds.add(t.refId);
  }
}
check(bad === 0, `${panels.length} panels: unique ids, inside the grid, not overlapping, each on ${dsRef}`);
const fixed = [];
const findFixed = (o, path) => {
  if (Array.isArray(o)) o.forEach((v, i) => findFixed(v, `${path}[${i}]`));
  else if (o && typeof o === "object") {
    if (o.type === "prometheus" && "uid" in o && !/^\$\{\w+\}$/.test(o.uid)) fixed.push(path);
    for (const [k, v] of Object.entries(o)) findFixed(v, `${path}.${k}`);
  }
};
findFixed(dash, "");
check(fixed.length === 0, "no fixed Prometheus data source anywhere", fixed);

/* ---- 2. the expressions --------------------------------------------------- */

const exprs = [];
for (const p of panels) for (const t of p.targets || []) if (t.expr) exprs.push({panel: p, expr: t.expr});
for (const v of vars) {
  const q = typeof v.query === "string" ? v.query : v.query && v.query.query;
  if (v.type === "query" && q) exprs.push({panel: {id: "var", title: `variable ${v.name}`}, expr: q.replace(/^label_values\((.*),\s*\w+\)$/, "$1")});
}
const used = new Map(); /* metric -> [{panel, expr}] */
const uses = [];
let exprBad = 0;
for (const e of exprs) {
  const a = analyse(e.expr);
  uses.push({...e, a});
  for (const err of a.errors) {
    fail(`panel ${e.panel.id} "${e.panel.title}": ${err} in ${e.expr}`);
    exprBad++;
  }
  for (const v of a.variables) {
    if (!BUILTIN_VARS.test(v) && !varNames.has(v)) {
      fail(`panel ${e.panel.id}: variable $${v} is not defined`);
      exprBad++;
    }
  }
  if (a.metrics.size === 0) {
    fail(`panel ${e.panel.id}: reads no metric: ${e.expr}`);
    exprBad++;
  }
  for (const m of a.metrics) {
    if (!used.has(m)) used.set(m, []);
    used.get(m).push(e);
  }
}
check(exprBad === 0, `${exprs.length} PromQL expressions: brackets, strings, matchers and variables are well formed`);
for (const [metric, label] of REQUIRED) {
  const hit = uses.some((u) => u.a.metrics.has(metric) && (!label || u.a.groupLabels.has(label)));
  check(hit, `a panel shows ${metric}${label ? ` by ${label}` : ""}`);
}

/* Metrics of the dashboard missing from http/API.md's table are said
 * (the table is the contract, but /metrics below is what decides). */
const apiMd = readFileSync(join(lib.root, "http", "API.md"), "utf8");
const documented = new Set([...apiMd.matchAll(/^\| `(rebound_[a-z0-9_]+)`/gm)].map((m) => m[1]));
for (const m of used.keys()) {
  if (!documented.has(m) && !documented.has(m.replace(/_(bucket|sum|count)$/, ""))) {
    console.log(`note: ${m} is not in the metrics table of http/API.md`);
  }
}

/* ---- 3. against a running rebound serve ---------------------------------- */

const dir = lib.scratch("grafana");
const db = join(dir, "rebound.db");
const env = {REBOUND_DATA_DIR: join(lib.root, "data")};
const seeded = seed(bin, db, env);
ok(`seeded ${seeded.messages} feedback messages over ${Object.keys(seeded.identities).length} identities`);
const srv = await lib.startServe(bin, dir, db, {env});
let text = "";
try {
  const now = Math.floor(Date.now() / 1000);
  /* Feedback after the start, so the counters "since start" have samples. */
  const viaHttp = feedbackMessage({kind: "hard", identity: "shop.example.com", sender: "orders@shop.example.com",
    rcpt: "late-http@gmail.com", t: now, id: "grafana-http"});
  const r = await fetch(`${srv.url}/v1/messages`, {method: "POST", body: viaHttp,
    headers: {Authorization: `Bearer ${lib.ADMIN_TOKEN}`, "Content-Type": "message/rfc822"}});
  check(r.status === 202, "POST /v1/messages: 202", r.status);
  check(Boolean(srv.smtp), "the SMTP address is in the log", srv.smtp);
  if (srv.smtp) {
    const viaSmtp = feedbackMessage({kind: "hard", identity: "news.example.org", sender: "digest@news.example.org",
      rcpt: "late-smtp@outlook.com", t: now, id: "grafana-smtp"});
    const replies = await lib.smtpSession(srv.smtp, [
      "EHLO grafana.test", "MAIL FROM:<>", "RCPT TO:<someone@not-a-feedback-domain.example>",
      "RCPT TO:<bounces@fb.example>", "DATA", lib.smtpBody(viaSmtp), "QUIT"]);
    check(/^5\d\d/.test(replies[3] || ""), "SMTP: a recipient outside the feedback domains is rejected", replies[3]);
    check(/^250/.test(replies[6] || ""), "SMTP: the bounce is accepted", replies[6]);
  }
  for (const p of ["/v1/identities", "/v1/alerts", "/v1/suppression?pageSize=5", "/readyz"]) await lib.api(srv.url, p);

  /* Database-derived values are refreshed at most every 5 s: wait for
   * the new events to be counted (bounded). */
  const end = Date.now() + 8000 * lib.SLOW;
  let fams;
  for (;;) {
    const m = await lib.api(srv.url, "/metrics");
    check(m.status === 200, "GET /metrics: 200", m.status);
    text = m.text;
    fams = parseExposition(text).families;
    const ev = fams.get("rebound_events_total");
    const smtpIn = (fams.get("rebound_messages_received_total") || {samples: []}).samples.some((s) => s.labels.source === "smtp");
    if ((ev && ev.samples.length >= 1 && smtpIn) || Date.now() > end) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  const noToken = await lib.api(srv.url, "/metrics", {token: null});
  check(noToken.status === 401, "/metrics needs a token when tokens are configured", noToken.status);
} finally {
  await srv.stop();
}

const {families, errors} = parseExposition(text);
check(errors.length === 0, "/metrics is valid Prometheus text format", errors.slice(0, 5));
const names = seriesNames(families);
ok(`/metrics has ${families.size} families: ${[...families.keys()].join(" ")}`);

for (const [m, es] of used) {
  const f = names.get(m);
  if (!f) {
    fail(`${m} (panel ${es.map((e) => e.panel.id).join(", ")}) is not in /metrics`);
    continue;
  }
  if (f.samples.length === 0) fail(`${m}: declared but without samples after the traffic`);
  else ok(`${m}: in /metrics (${f.type}, ${f.samples.length} samples)`);
}

/* Labels: each selector's label and each grouping label exists on a
 * metric of that expression. */
let labelBad = 0;
for (const u of uses) {
  const have = new Set([...TARGET_LABELS]);
  for (const m of u.a.metrics) {
    const f = names.get(m);
    for (const s of f ? f.samples : []) for (const l of Object.keys(s.labels)) have.add(l);
  }
  const known = [...u.a.metrics].every((m) => names.has(m));
  if (!known) continue;
  for (const [, l] of u.a.selectorLabels) {
    if (!have.has(l)) {
      fail(`panel ${u.panel.id} "${u.panel.title}": label ${l} is on none of ${[...u.a.metrics].join(", ")}`);
      labelBad++;
    }
  }
  for (const l of u.a.groupLabels) {
    if (!have.has(l)) {
      fail(`panel ${u.panel.id} "${u.panel.title}": grouping label ${l} is on none of ${[...u.a.metrics].join(", ")}`);
      labelBad++;
    }
  }
}
check(labelBad === 0, "every label in the expressions exists in /metrics");

lib.finish("dashboard_grafana");
