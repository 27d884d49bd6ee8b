/*
 * seed: fill a database for the dashboard tests with the rebound CLI
 * only (sends add, ingest, suppression add), as a user would.  Four
 * identities over the last two days: one OK, one at bounce-rate
 * warning, one at complaint-rate critical, one below rates.min_sends.
 * The feedback messages are made from the templates in messages/ (our
 * own DSN and ARF report), one per recipient, dated in the hour they
 * belong to.  Returns what the API must then say (computed from the
 * plan below, not read back).
 *
 * Hour boundaries: data sits only 1-20 and 30-47 hours back, so the
 * 24-hour window holds the same data even if the clock passes an hour
 * while a test runs.  Usage as a program: node seed.mjs REBOUND DB.
 */
import {execFileSync} from "node:child_process";
import {mkdtempSync, readFileSync, writeFileSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {dirname, join} from "node:path";
import {fileURLToPath} from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const HOUR = 3600;

/* Recipient domains, cycled: four known providers and one "Other". */
const DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "web.de", "mail.example.net"];
/* Their providers in data/providers.tsv. */
const PROVIDER = {"gmail.com": "Gmail", "outlook.com": "Microsoft", "yahoo.com": "Yahoo", "web.de": "GMX/Web.de", "mail.example.net": "Other"};
const HARD = [
  ["5.1.1", "550 5.1.1 The account you tried to reach does not exist", "userunknown"],
  ["5.1.1", "550 5.1.1 Recipient address rejected: user unknown", "userunknown"],
  ["5.1.2", "550 5.1.2 Host unknown: the domain has no mail exchanger", "hostunknown"],
];
const SOFT = {
  mailboxfull: ["5.2.2", "552 5.2.2 Mailbox full: quota exceeded"],
  badreputation: ["5.7.1", "554 5.7.1 Message blocked due to the poor reputation of the sending IP"],
};

/*
 * The plan: per identity, sends by hours back, and feedback batches
 * [hoursBack, kind, n] with kind "hard", a SOFT reason or "complaint".
 */
export const PLAN = [
  {identity: "shop.example.com", sender: "orders@shop.example.com", short: "shop",
    sends: {2: 1200, 9: 800, 36: 600},
    feedback: [[2, "hard", 12], [9, "hard", 8], [2, "mailboxfull", 4], [36, "hard", 6], [5, "complaint", 1]]},
  {identity: "news.example.org", sender: "digest@news.example.org", short: "news",
    sends: {1: 500, 8: 500, 40: 1000},
    feedback: [[1, "hard", 35], [8, "hard", 25], [8, "badreputation", 5], [40, "hard", 10]]},
  {identity: "promo.example.net", sender: "deals@promo.example.net", short: "promo",
    sends: {3: 1000},
    feedback: [[3, "hard", 10], [3, "complaint", 7]]},
  {identity: "tiny.example", sender: "hello@tiny.example", short: "tiny",
    sends: {4: 50},
    feedback: [[4, "hard", 5]]},
];

/* A manual account-list entry (not from any feedback). */
export const MANUAL = {address: "former.customer@client.example", reason: "COMPLAINT"};

const WINDOW_HOURS = 24;

function fill(template, vars) {
  return template.replace(/@([A-Z]+)@/g, (m, k) => (k in vars ? vars[k] : m));
}

function rfc2822(t) {
  return new Date(t * 1000).toUTCString().replace("GMT", "+0000");
}

const templates = {};
function template(name) {
  if (!templates[name]) templates[name] = readFileSync(join(here, "messages", `${name}.eml`), "utf8");
  return templates[name];
}

/*
 * One feedback message of ours: kind "hard", a SOFT reason or
 * "complaint", about a message from sender (whose domain is the
 * identity) to rcpt, dated at unix time t; id makes it unique.
 */
export function feedbackMessage({kind, identity, sender, rcpt, t, id, variant = 0}) {
  const rcptHost = rcpt.slice(rcpt.indexOf("@") + 1);
  const [status, diag] = kind === "hard" ? HARD[variant % HARD.length] : SOFT[kind] || ["", ""];
  return fill(template(kind === "complaint" ? "complaint" : "bounce"), {
    DATE: rfc2822(t), ID: id, HOST: identity, SENDER: sender,
    RCPT: rcpt, RCPTHOST: rcptHost, STATUS: status, DIAG: diag,
  });
}

/*
 * Seed db with bin (the rebound binary); env for the CLI (data dir).
 * Returns {identities: {name: expected row, with byReason and
 * byProvider: {name: total}}, bounced: [address...], manual, base}.
 */
export function seed(bin, db, env) {
  const now = Math.floor(Date.now() / 1000);
  const base = Math.floor(now / HOUR) * HOUR;
  const at = (k) => base - k * HOUR + 1800;
  const run = (...args) => execFileSync(bin, args, {env: {...process.env, ...env}, stdio: ["ignore", "pipe", "pipe"]});
  const dir = mkdtempSync(join(tmpdir(), "rebound-seed-"));
  const expected = {};
  const bounced = [];
  let n = 0;
  try {
    for (const p of PLAN) {
      const row = {identity: p.identity, sends: 0, hardBounces: 0, softBounces: 0, complaints: 0, byReason: {}, byProvider: {}};
      for (const [k, count] of Object.entries(p.sends)) {
        run("sends", "add", "--db", db, "--identity", p.identity, "--count", String(count), "--at", String(at(Number(k))));
        if (Number(k) < WINDOW_HOURS) row.sends += count;
      }
      for (const [k, kind, count] of p.feedback) {
        for (let i = 0; i < count; i++) {
          const domain = DOMAINS[(n + i) % DOMAINS.length];
          const rcpt = `${p.short}-${k}h-${kind}-${String(i).padStart(2, "0")}@${domain}`;
          if (k < WINDOW_HOURS) {
            /* Complaints have the fine reason "feedback" (DESIGN.md). */
            const reason = kind === "hard" ? HARD[i % HARD.length][2] : kind === "complaint" ? "feedback" : kind;
            row.byReason[reason] = (row.byReason[reason] || 0) + 1;
            row.byProvider[PROVIDER[domain]] = (row.byProvider[PROVIDER[domain]] || 0) + 1;
          }
          const msg = feedbackMessage({kind, identity: p.identity, sender: p.sender, rcpt, t: at(k) + i,
            id: `${p.short}-${k}-${kind}-${i}`, variant: i});
          writeFileSync(join(dir, `${String(n + i).padStart(4, "0")}.eml`), msg);
          if (kind === "hard") bounced.push(rcpt);
        }
        n += count;
        if (k < WINDOW_HOURS) {
          if (kind === "hard") row.hardBounces += count;
          else if (kind === "complaint") row.complaints += count;
          else row.softBounces += count;
        }
      }
      row.bounceRate = row.hardBounces / row.sends;
      row.complaintRate = row.complaints / row.sends;
      expected[p.identity] = row;
    }
    run("ingest", "--db", db, dir);
    run("suppression", "add", MANUAL.address, "--reason", MANUAL.reason, "--db", db);
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
  /* Statuses by the default thresholds (rates.*): 5 %/10 % bounces,
   * 0.1 %/0.5 % complaints, 200 sends at least. */
  for (const r of Object.values(expected)) {
    const level = (v, w, c) => (v >= c ? "critical" : v >= w ? "warning" : "ok");
    r.lowVolume = r.sends < 200;
    r.bounceStatus = r.lowVolume ? "ok" : level(r.bounceRate, 0.05, 0.1);
    r.complaintStatus = r.lowVolume ? "ok" : level(r.complaintRate, 0.001, 0.005);
    const rank = {ok: 0, warning: 1, critical: 2};
    r.status = rank[r.bounceStatus] >= rank[r.complaintStatus] ? r.bounceStatus : r.complaintStatus;
  }
  return {identities: expected, bounced, manual: MANUAL, messages: n, base};
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [bin, db] = process.argv.slice(2);
  if (!bin || !db) {
    console.error("usage: node seed.mjs REBOUND DB");
    process.exit(2);
  }
  const r = seed(bin, db, {});
  console.log(JSON.stringify(r.identities, null, 2));
  console.log(`${r.messages} messages, ${r.bounced.length} hard-bounced addresses`);
}
