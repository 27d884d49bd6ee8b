"""Every endpoint of http/API.md over real HTTP on loopback, on a
database seeded through the API itself: send counts (POST /v1/sends),
bounces and complaints (POST /v1/messages, classified and stored as an
SMTP delivery would be), then what reads them back: identities,
reputation, time series, alerts, suppression (list, look-up, PUT,
DELETE, check, import), events (list, one, raw), /metrics, /healthz,
/readyz.  Usage: test_api.py HTTP_TESTD."""

import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from lib import (NOW_UNIX, Daemon, Tmp, arf, check, done, dsn)  # noqa: E402

tmp = Tmp()
d = Daemon(tmp, "api", "--set", "http.metrics_identities=1")
c = d.client()

# ---- health --------------------------------------------------------------
r = c.get("/healthz")
check(r.status == 200 and r.json == {"status": "ok", "version": "0.1.0"},
      "healthz: %r" % r)
r = c.get("/readyz")
check(r.status == 200 and r.json["status"] == "ready", "readyz: %r" % r)
names = [x["name"] for x in r.json["checks"]]
check(names == ["database", "spool"], "readyz checks: %r" % names)
check(all(x["ok"] for x in r.json["checks"]), "readyz all ok")
r = c.request("HEAD", "/healthz")
check(r.status == 200 and r.body == b"", "HEAD healthz: %r" % r)

# ---- intake: sends -------------------------------------------------------
r = c.request("POST", "/v1/sends", {"sends": [
    {"identity": "shop.example.com", "count": 600,
     "timestamp": "2024-06-01T08:10:00Z"},
    {"identity": "orders@shop.example.com", "count": 400,
     "timestamp": NOW_UNIX - 3600},
    {"identity": "news.example.org", "count": 1000}]})
check(r.status == 200 and r.json == {"imported": 2000, "skipped": 0},
      "sends counts: %r" % r)
r = c.request("POST", "/v1/sends",
              {"identity": "quiet.example.com", "count": 50})
check(r.status == 200 and r.json["imported"] == 50, "sends single: %r" % r)
ses = {"eventType": "Send", "mail": {
    "timestamp": "2024-06-01T11:00:00.000Z", "source": "a@ses.example.com",
    "destination": ["x@gmail.com", "y@gmail.com"]}}
r = c.request("POST", "/v1/sends", [ses, ses,
                                    {"eventType": "Bounce", "mail": {}}])
check(r.status == 200 and r.json == {"imported": 4, "skipped": 1},
      "sends SES array: %r" % r)
lines = "\n".join(__import__("json").dumps(ses) for _ in range(3)) + "\n"
r = c.request("POST", "/v1/sends", lines, ctype="application/x-ndjson")
check(r.status == 200 and r.json["imported"] == 6, "sends ndjson: %r" % r)

# ---- intake: messages ----------------------------------------------------
bounce_ids = []
for i in range(60):
    rcpt = "user%02d@%s" % (i, "gmail.com" if i % 2 else "example.net")
    r = c.request("POST", "/v1/messages", dsn(rcpt, n=i),
                  ctype="message/rfc822")
    ok = check(r.status == 202 and len(r.json["eventIds"]) == 1 and
               not r.json["duplicate"], "message %d: %r" % (i, r))
    if ok:
        bounce_ids.append(r.json["eventIds"][0])
        ev = r.json["events"][0]
        check(ev["eventType"] == "Bounce" and ev["reason"] == "userunknown"
              and ev["bounceType"] == "Permanent" and ev["recipient"] == rcpt,
              "message %d event: %r" % (i, ev))
r = c.request("POST", "/v1/messages", dsn("user00@example.net", n=0))
check(r.status == 202 and r.json["duplicate"] and
      r.json["eventIds"] == bounce_ids[:1], "duplicate message: %r" % r)
for i in range(2):
    r = c.request("POST", "/v1/messages",
                  arf("reader%d@example.net" % i, n=i))
    check(r.status == 202 and r.json["events"][0]["eventType"] ==
          "Complaint", "complaint %d: %r" % (i, r))
r = c.request("POST", "/v1/messages",
              "From: a@b.example\nTo: c@d.example\nSubject: hello\n\nhi\n")
check(r.status == 202 and r.json["eventIds"] == [] and
      r.json["events"] == [], "not feedback: %r" % r)

# ---- identities ----------------------------------------------------------
r = c.get("/v1/identities")
check(r.status == 200 and r.json["window"] == 86400, "identities: %r" % r)
ids = {x["identity"]: x for x in r.json.get("identities", [])}
check(sorted(ids) == ["news.example.org", "quiet.example.com",
                      "ses.example.com", "shop.example.com"],
      "identities listed: %r" % sorted(ids))
shop = ids.get("shop.example.com", {})
check(shop.get("sends") == 1000 and shop.get("hardBounces") == 60 and
      abs(shop.get("bounceRate", 0) - 0.06) < 1e-9 and
      shop.get("bounceStatus") == "warning" and
      shop.get("status") == "warning" and shop.get("lowVolume") is False
      and shop.get("account") == "default", "shop stats: %r" % shop)
news = ids.get("news.example.org", {})
check(news.get("complaints") == 2 and
      abs(news.get("complaintRate", 0) - 0.002) < 1e-9 and
      news.get("complaintStatus") == "warning", "news stats: %r" % news)
check(ids.get("quiet.example.com", {}).get("lowVolume") is True,
      "quiet is low volume")
check("nextToken" not in r.json, "identities: one page")
r = c.get("/v1/identities?status=warning")
check([x["identity"] for x in r.json["identities"]] ==
      ["news.example.org", "shop.example.com"], "status=warning: %r" % r)
r = c.get("/v1/identities?status=critical")
check(r.json["identities"] == [], "status=critical: %r" % r)
seen, tok, pages = [], None, 0
while pages < 10:
    r = c.get("/v1/identities?pageSize=1" +
              ("&nextToken=" + tok if tok else ""))
    pages += 1
    seen += [x["identity"] for x in r.json["identities"]]
    tok = r.json.get("nextToken")
    if not tok:
        break
check(seen == sorted(ids) and pages == 4, "identities paged: %r" % seen)
# Ranked, worst first (ties by name), paged by (value, name).
for key, want in [
        ("bounceRate", ["shop.example.com", "news.example.org",
                        "quiet.example.com", "ses.example.com"]),
        ("complaintRate", ["news.example.org", "quiet.example.com",
                           "ses.example.com", "shop.example.com"]),
        ("sends", ["news.example.org", "shop.example.com",
                   "quiet.example.com", "ses.example.com"]),
        ("identity", sorted(ids))]:
    r = c.get("/v1/identities?sort=" + key)
    got = [x["identity"] for x in r.json.get("identities", [])]
    check(r.status == 200 and got == want and "nextToken" not in r.json,
          "sort=%s: %r" % (key, got))
    seen, tok, pages = [], None, 0
    while pages < 10:
        r = c.get("/v1/identities?sort=%s&pageSize=1" % key +
                  ("&nextToken=" + tok if tok else ""))
        pages += 1
        seen += [x["identity"] for x in r.json.get("identities", [])]
        tok = r.json.get("nextToken")
        if not tok:
            break
    check(seen == want and pages == 4, "sort=%s paged: %r" % (key, seen))
r = c.get("/v1/identities?sort=bounceRate&status=warning")
check([x["identity"] for x in r.json["identities"]] ==
      ["shop.example.com", "news.example.org"],
      "sort=bounceRate&status=warning: %r" % r)
r = c.get("/v1/identities?sort=worst")
check(r.status == 400 and r.error_code() == "InvalidParameter",
      "sort=worst: %r" % r)
r = c.get("/v1/identities?sort=bounceRate&pageSize=1")
tok = r.json.get("nextToken", "")
r = c.get("/v1/identities?sort=sends&pageSize=1&nextToken=" + tok)
check(r.status == 400, "a bounceRate token with sort=sends: %r" % r)
r = c.get("/v1/identities?window=1h")
check(r.status == 200 and r.json["window"] == 3600 and
      [x["identity"] for x in r.json["identities"]] ==
      ["news.example.org", "quiet.example.com"], "window=1h: %r" % r)

# ---- reputation ----------------------------------------------------------
r = c.get("/v1/identities/shop.example.com/reputation")
rep = r.json or {}
check(r.status == 200 and rep.get("identity") == "shop.example.com",
      "reputation: %r" % r)
check(rep.get("from") == "2024-05-31T13:00:00.000Z" and
      rep.get("to") == "2024-06-01T13:00:00.000Z", "reputation window")
check(rep.get("thresholds") == {"bounceWarning": 0.05,
                                "bounceCritical": 0.1,
                                "complaintWarning": 0.001,
                                "complaintCritical": 0.005,
                                "minSends": 200}, "thresholds: %r"
      % rep.get("thresholds"))
check([(a["metric"], a["status"]) for a in rep.get("alerts", [])] ==
      [("bounceRate", "warning")], "reputation alerts: %r"
      % rep.get("alerts"))
check(rep.get("byReason") == [{"reason": "userunknown", "hardBounces": 60,
                               "softBounces": 0, "undeterminedBounces": 0,
                               "complaints": 0, "total": 60}],
      "byReason: %r" % rep.get("byReason"))
prov = {p["provider"]: p["total"] for p in rep.get("byProvider", [])}
check(prov.get("Gmail") == 30 and sum(prov.values()) == 60,
      "byProvider: %r" % prov)
r2 = c.get("/v1/identities/orders%40shop.example.com/reputation")
check(r2.status == 200 and r2.json["identity"] == "shop.example.com",
      "reputation by address: %r" % r2)
r = c.get("/v1/identities/unknown.example.com/reputation")
check(r.status == 404 and r.error_code() == "NotFound",
      "reputation unknown: %r" % r)

# ---- time series ---------------------------------------------------------
base = "/v1/identities/shop.example.com/timeseries"
r = c.get(base + "?metric=sends&from=2024-06-01T00:00:00Z"
          "&to=2024-06-01T12:00:00Z")
pts = r.json["points"] if r.status == 200 else []
check(len(pts) == 12 and sum(p["value"] for p in pts) == 1000 and
      pts[8]["value"] == 600 and pts[11]["value"] == 400 and
      pts[0]["timestamp"] == "2024-06-01T00:00:00.000Z" and
      "thresholds" not in r.json, "timeseries sends: %r" % r)
r = c.get(base + "?metric=bounceRate&from=2024-06-01T00:00:00Z"
          "&to=2024-06-01T12:00:00Z&step=6h")
pts = r.json["points"] if r.status == 200 else []
check(len(pts) == 2 and r.json["thresholds"] == {"warning": 0.05,
                                                "critical": 0.1} and
      r.json["window"] == 86400 and r.json["step"] == 21600,
      "timeseries rate: %r" % r)
check(len(pts) == 2 and pts[0]["value"] == 0 and
      abs(pts[1]["value"] - 0.06) < 1e-9 and pts[1]["sends"] == 1000 and
      pts[1]["count"] == 60, "rate points: %r" % pts)
r = c.get(base + "?metric=bounces")
check(r.status == 200 and len(r.json["points"]) == 168 and
      sum(p["value"] for p in r.json["points"]) == 60,
      "timeseries default 7 days: %r" % r.status)

# ---- alerts --------------------------------------------------------------
r = c.get("/v1/alerts")
al = [(a["identity"], a["metric"], a["status"]) for a in r.json["alerts"]]
check(al == [("news.example.org", "complaintRate", "warning"),
             ("shop.example.com", "bounceRate", "warning")],
      "alerts active: %r" % r)
check(all(a["threshold"] in (0.05, 0.001) and a["since"]
          for a in r.json["alerts"]), "alerts fields")
r = c.get("/v1/alerts?state=active&identity=shop.example.com")
check(len(r.json["alerts"]) == 1, "alerts of one identity: %r" % r)
r = c.get("/v1/alerts?state=all")
check(r.status == 200 and len(r.json["alerts"]) == 2 and
      all(a["from"] == "ok" and a["to"] == "warning" and a["id"]
          for a in r.json["alerts"]), "alerts all: %r" % r)
r1 = c.get("/v1/alerts?state=all&pageSize=1")
r2 = c.get("/v1/alerts?state=all&pageSize=1&nextToken=" +
           r1.json.get("nextToken", "x"))
check(r1.json["alerts"][0]["id"] != r2.json["alerts"][0]["id"] and
      "nextToken" not in r2.json, "alerts paged: %r %r" % (r1, r2))
r1 = c.get("/v1/alerts?pageSize=1")
r2 = c.get("/v1/alerts?pageSize=1&nextToken=" + r1.json.get("nextToken", ""))
check([a["identity"] for a in r1.json["alerts"] + r2.json["alerts"]] ==
      ["news.example.org", "shop.example.com"], "active paged")

# ---- suppression ---------------------------------------------------------
r = c.get("/v1/suppression/user03%40gmail.com")
check(r.status == 200 and r.json["suppressed"] and
      r.json["emailAddress"] == "user03@gmail.com", "lookup: %r" % r)
ent = {e["list"]: e for e in r.json.get("entries", [])}
g = ent.get("global", {})
check(g.get("reason") == "BOUNCE" and g.get("bounceReason") ==
      "userunknown" and g.get("strikes") == 1 and
      g.get("expiresAt") == "2024-06-15T12:00:00.000Z" and
      g.get("lastUpdateTime") == "2024-06-01T12:00:00.000Z" and
      g.get("eventId") in bounce_ids, "global entry: %r" % g)
check(ent.get("account", {}).get("origin") == "auto" and
      r.json["list"] == "account" and r.json["expiresAt"] is None,
      "top entry is the lasting one: %r" % r.json)
r = c.get("/v1/suppression/USER03@Gmail.COM")
check(r.status == 200, "lookup normalised: %r" % r)
r = c.get("/v1/suppression/nobody@gmail.com")
check(r.status == 404 and r.error_code() == "NotFound", "not suppressed")
r = c.get("/v1/suppression/user03@gmail.com?account=other")
check(r.status == 200 and [e["list"] for e in r.json["entries"]] ==
      ["global"], "lookup with account: %r" % r)

r = c.request("PUT", "/v1/suppression/manual@example.com",
              {"reason": "COMPLAINT"})
check(r.status == 200 and r.json == {
    "emailAddress": "manual@example.com", "list": "account",
    "account": "default", "reason": "COMPLAINT",
    "lastUpdateTime": "2024-06-01T12:00:00.000Z", "expiresAt": None,
    "origin": "manual", "eventId": None}, "PUT: %r" % r)
r = c.request("PUT", "/v1/suppression/manual@example.com",
              {"reason": "BOUNCE", "account": "shop"})
check(r.status == 200 and r.json["account"] == "shop", "PUT shop: %r" % r)
r = c.get("/v1/suppression/manual@example.com")
check(sorted(e["account"] for e in r.json["entries"]) ==
      ["default", "shop"], "two accounts: %r" % r)
r = c.request("DELETE", "/v1/suppression/manual@example.com?account=shop")
check(r.status == 200 and r.json["removed"] == 1, "DELETE one: %r" % r)
r = c.request("DELETE", "/v1/suppression/manual@example.com")
check(r.status == 200 and r.json["removed"] == 1, "DELETE rest: %r" % r)
r = c.request("DELETE", "/v1/suppression/manual@example.com")
check(r.status == 404, "DELETE again: %r" % r)
r = c.request("DELETE", "/v1/suppression/user05@gmail.com")
check(r.status == 200 and r.json["removed"] == 2, "DELETE both lists")
r = c.get("/v1/suppression/user05@gmail.com")
check(r.status == 404, "removed from both: %r" % r)

r = c.request("POST", "/v1/suppression/check", {
    "emailAddresses": ["user07@gmail.com", "free@example.com",
                       "not an address", "USER09@GMAIL.com"]})
res = r.json["results"] if r.status == 200 else []
check(len(res) == 4 and res[0]["suppressed"] and
      res[0]["emailAddress"] == "user07@gmail.com" and
      not res[1]["suppressed"] and "error" in res[2] and
      res[3]["emailAddress"] == "user09@gmail.com" and res[3]["suppressed"],
      "check: %r" % r)
r = c.request("POST", "/v1/suppression/check",
              {"emailAddresses": ["x%d@example.com" % i
                                  for i in range(1000)]})
check(r.status == 200 and len(r.json["results"]) == 1000,
      "check 1000: %r" % r.status)

lines = ('{"address": "imp1@example.com", "reason": "BOUNCE"}\n'
         '{"emailAddress": "imp2@example.com", "reason": "COMPLAINT",'
         ' "account": "shop"}\n'
         '{"address": "imp3@example.com", "reason": "BOUNCE",'
         ' "list": "global", "until": "2024-06-20T00:00:00Z"}\n')
r = c.request("POST", "/v1/suppression/import", lines,
              ctype="application/x-ndjson")
check(r.status == 200 and r.json == {"lines": 3, "imported": 3},
      "import jsonl: %r" % r)
r = c.get("/v1/suppression/imp3@example.com")
check(r.status == 200 and r.json["expiresAt"] ==
      "2024-06-20T00:00:00.000Z", "imported global: %r" % r)
r = c.request("POST", "/v1/suppression/import?account=csv",
              "address,reason\nimp4@example.com,BOUNCE\n"
              "imp5@example.com,COMPLAINT\n", ctype="text/csv")
check(r.status == 200 and r.json["imported"] == 2, "import csv: %r" % r)
r = c.get("/v1/suppression/imp5@example.com")
check(r.status == 200 and r.json["account"] == "csv", "csv account")
r = c.request("POST", "/v1/suppression/import",
              [{"address": "imp6@example.com", "reason": "BOUNCE"}])
check(r.status == 200 and r.json["imported"] == 1, "import json: %r" % r)
r = c.request("POST", "/v1/suppression/import",
              '{"address": "imp7@example.com", "reason": "BOUNCE"}\n'
              '{"address": "bad", "reason": "BOUNCE"}\n',
              ctype="application/x-ndjson")
check(r.status == 400 and "body:2" in r.json["error"]["message"],
      "import bad line: %r" % r)
r = c.get("/v1/suppression/imp7@example.com")
check(r.status == 404, "failed import kept nothing: %r" % r)

r = c.get("/v1/suppression?list=global&pageSize=1000")
gl = [e["emailAddress"] for e in r.json["suppressedDestinations"]]
check(len(gl) == 59 + 1 and gl == sorted(gl) and "nextToken" not in r.json
      and "imp3@example.com" in gl, "global list: %d" % len(gl))
r = c.get("/v1/suppression?reason=COMPLAINT")
check(sorted(e["emailAddress"] for e in r.json["suppressedDestinations"]) ==
      ["imp2@example.com", "imp5@example.com", "reader0@example.net",
       "reader1@example.net"], "reason=COMPLAINT: %r" % r)
r = c.get("/v1/suppression?list=account&account=csv")
check([e["emailAddress"] for e in r.json["suppressedDestinations"]] ==
      ["imp4@example.com", "imp5@example.com"], "account=csv: %r" % r)
r = c.get("/v1/suppression?startDate=2024-06-01T11:00:00Z"
          "&endDate=2024-06-01T13:00:00Z&list=account&account=shop")
check([e["emailAddress"] for e in r.json["suppressedDestinations"]] ==
      ["imp2@example.com"], "date range: %r" % r)
r = c.get("/v1/suppression?endDate=2024-06-01T11:00:00Z")
check(r.json["suppressedDestinations"] == [], "before any: %r" % r)
allrows, tok, n = [], None, 0
while n < 100:
    r = c.get("/v1/suppression?pageSize=7" +
              ("&nextToken=" + tok if tok else ""))
    n += 1
    allrows += [(e["list"], e.get("account"), e["emailAddress"])
                for e in r.json["suppressedDestinations"]]
    tok = r.json.get("nextToken")
    if not tok:
        break
check(len(allrows) == len(set(allrows)) and
      [x for x in allrows if x[0] == "global"] ==
      sorted(x for x in allrows if x[0] == "global") and
      allrows[0][0] == "global" and allrows[-1][0] == "account",
      "suppression paged: %d rows in %d pages" % (len(allrows), n))

# ---- events --------------------------------------------------------------
r = c.get("/v1/events")
evs = r.json["events"] if r.status == 200 else []
check(len(evs) == 62 and "nextToken" not in r.json, "events: %d" % len(evs))
check(evs[0]["eventType"] == "Complaint" and
      evs[0]["time"] == "2024-06-01T10:00:00.000Z", "newest first")
check(all(e["event"]["eventType"] == e["eventType"] for e in evs),
      "event JSON spliced")
r = c.get("/v1/events?eventType=Bounce&identity=orders%40shop.example.com")
check(len(r.json["events"]) == 60 and
      all(e["identity"] == "shop.example.com" for e in r.json["events"]),
      "events of identity: %r" % r.status)
r = c.get("/v1/events?recipient=User04%40Example.NET")
check([e["recipient"] for e in r.json["events"]] == ["user04@example.net"],
      "events by recipient: %r" % r)
r = c.get("/v1/events?since=2024-06-01T09:30:00Z")
check(len(r.json["events"]) == 2, "since: %r" % r.status)
r = c.get("/v1/events?until=2024-06-01T09:30:00Z&eventType=Complaint")
check(r.json["events"] == [], "until: %r" % r)
got, tok, n = [], None, 0
while n < 20:
    r = c.get("/v1/events?pageSize=25" +
              ("&nextToken=" + tok if tok else ""))
    n += 1
    got += [e["id"] for e in r.json["events"]]
    tok = r.json.get("nextToken")
    if not tok:
        break
check(n == 3 and len(got) == 62 and len(set(got)) == 62,
      "events paged: %d in %d" % (len(got), n))
eid = bounce_ids[3]
r = c.get("/v1/events/" + eid)
check(r.status == 200 and r.json["id"] == eid and
      r.json["recipient"] == "user03@gmail.com" and
      r.json["event"]["bounce"]["bouncedRecipients"][0]["emailAddress"] ==
      "user03@gmail.com", "event: %r" % r)
r = c.get("/v1/events/" + eid + "/raw")
check(r.status == 200 and r.header("content-type") == "message/rfc822" and
      r.body == dsn("user03@gmail.com", n=3).encode(), "raw: %r" % r)
r = c.get("/v1/events/999999")
check(r.status == 404, "event unknown: %r" % r)
r = c.get("/v1/events/999999/raw")
check(r.status == 404, "raw unknown: %r" % r)

# ---- metrics -------------------------------------------------------------
r = c.get("/metrics")
text = r.body.decode() if r.status == 200 else ""
check(r.header("content-type").startswith("text/plain; version=0.0.4"),
      "metrics type")
lines = text.splitlines()


def value(sample):
    for ln in lines:
        if ln.startswith(sample + " "):
            return float(ln.rsplit(" ", 1)[1])
    return None


check(value('rebound_events_total{type="Bounce",reason="userunknown"}') ==
      60, "events_total bounce")
check(value('rebound_events_total{type="Complaint",reason="feedback"}') ==
      2 or value('rebound_events_total{type="Complaint",reason=""}') == 2,
      "events_total complaint: %r" % [ln for ln in lines
                                      if "Complaint" in ln])
check(value('rebound_messages_received_total{source="http"}') == 64,
      "messages received http")
check(value('rebound_messages_received_total{source="smtp"}') == 0,
      "hook sample in the same family")
check(text.count("# TYPE rebound_messages_received_total") == 1,
      "one family header")
check(value('rebound_suppression_entries{list="global"}') == 60,
      "global entries: %r" % value(
          'rebound_suppression_entries{list="global"}'))
check(value('rebound_alerts_active{metric="bounceRate",status="warning"}')
      == 1, "alerts_active")
check(value("rebound_identities") == 4, "identities gauge")
idl = [ln for ln in lines if ln.startswith("rebound_identity_sends{")]
check(idl == ['rebound_identity_sends{identity="news.example.org"} 1000'] or
      idl == ['rebound_identity_sends{identity="shop.example.com"} 1000'],
      "per-identity series capped at 1: %r" % idl)
check(value("rebound_ready") == 1 and value("rebound_up") == 1, "up/ready")
check(value('rebound_http_request_duration_seconds_count'
            '{route="/v1/messages"}') == 64, "histogram count")
check(value('rebound_http_request_duration_seconds_bucket'
            '{route="/v1/messages",le="+Inf"}') == 64, "histogram +Inf")
check(value('rebound_http_requests_total{route="/v1/messages",code="202"}')
      == 64, "requests_total")
for ln in lines:
    if ln.startswith("#") or not ln:
        continue
    name = ln.split("{", 1)[0].split(" ", 1)[0]
    if not check(name.startswith("rebound_") and " " in ln,
                 "metric line: %r" % ln):
        break
    try:
        float(ln.rsplit(" ", 1)[1])
    except ValueError:
        check(False, "metric value: %r" % ln)

# ---- the reputation cache is exact ---------------------------------------
rep = "/v1/identities/shop.example.com/reputation"
r1 = c.get(rep)
r2 = c.get(rep)
check(r1.body == r2.body, "the same answer twice")
r = c.request("POST", "/v1/sends", {"identity": "shop.example.com",
                                    "count": 500})
r3 = c.get(rep)
check(r3.json["sends"] == r1.json["sends"] + 500,
      "a commit through the server shows at once: %r" % r3.json["sends"])
r = c.request("POST", "/v1/messages", dsn("late@example.net", n=999))
r4 = c.get(rep)
check(r4.json["hardBounces"] == r3.json["hardBounces"] + 1,
      "a commit of another connection shows at once: %r"
      % r4.json["hardBounces"])
r = c.get(rep + "?window=48h")
check(r.status == 200 and r.json["window"] == 172800, "other window")

# ---- keep-alive ----------------------------------------------------------
k = d.client()
for i in range(50):
    r = k.get("/v1/suppression/user%02d@gmail.com" % (2 * (i % 30) + 1))
    if r.status not in (200, 404):
        check(False, "keep-alive request %d: %r" % (i, r))
    r = k.get("/v1/nope")
check(k.reconnects == 0, "one connection for 100 requests (%d reconnects)"
      % k.reconnects)

c.close()
k.close()
rc = d.stop()
check(rc == 0, "clean exit (%r): %s" % (rc, d.log_text()[-2000:]))
tmp.cleanup()
done()
