"""The HTTP server inside the real `rebound serve`: it listens where
--http says, /readyz reports the spool and the pipeline of the SMTP
component (503 while the spool directory is gone), POST /v1/messages
goes through the daemon's pipeline, mail delivered over SMTP shows up
in the API, /metrics carries the daemon's SMTP and spool series, the
static web root is served, and SIGTERM stops it all with exit 0.
Usage: test_serve.py HTTP_TESTD REBOUND."""

import os
import re
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lib  # noqa: E402
from lib import NOW, SLOW, Client, Tmp, check, done, dsn  # noqa: E402

rebound = sys.argv[2]
tmp = Tmp()
web = tmp.path("web")
os.mkdir(web)
with open(os.path.join(web, "index.html"), "w") as f:
    f.write("<!doctype html><title>rebound</title>\n")
log = tmp.path("serve.log")
env = dict(os.environ, REBOUND_NOW=NOW, REBOUND_HTTP_WEB_ROOT=web)
proc = subprocess.Popen(
    [rebound, "serve", "--db", tmp.path("serve.db"), "--spool",
     tmp.path("serve.spool"), "--smtp", "127.0.0.1:0", "--http",
     "127.0.0.1:0", "--domain", "fb.example", "--log-file", log],
    stdout=subprocess.DEVNULL, stderr=open(tmp.path("serve.err"), "wb"),
    env=env)
lib._procs.append(proc)


def log_text():
    try:
        with open(log) as f:
            return f.read()
    except OSError:
        return ""


deadline = time.time() + 20 * SLOW
while time.time() < deadline and "serve: ready" not in log_text():
    if proc.poll() is not None:
        break
    time.sleep(0.05)
text = log_text()
m_http = re.search(r"http: API and dashboard on http://([0-9.]+):(\d+)", text)
m_smtp = re.search(r"smtp: listening on ([0-9.]+):(\d+)", text)
if not (m_http and m_smtp):
    print("serve did not start:\n" + text, file=sys.stderr)
    proc.kill()
    sys.exit(1)
c = Client(m_http.group(1), int(m_http.group(2)))
smtp_addr = (m_smtp.group(1), int(m_smtp.group(2)))

r = c.get("/readyz")
checks = {x["name"]: x for x in (r.json or {}).get("checks", [])}
check(r.status == 200 and sorted(checks) == ["database", "pipeline",
                                             "spool"],
      "readyz in serve: %r" % r)
check(checks.get("pipeline", {}).get("detail") == "backlog 0 of 10000",
      "pipeline detail: %r" % checks.get("pipeline"))

r = c.request("POST", "/v1/messages", dsn("web1@example.net", n=1))
check(r.status == 202 and len(r.json["eventIds"]) == 1,
      "POST /v1/messages through the pipeline: %r" % r)

s = smtplib.SMTP(*smtp_addr, timeout=10 * SLOW)
s.sendmail("", ["bounces@fb.example"], dsn("mx1@example.net", n=2))
# A relay attempt: refused, and counted by reply code in /metrics.
try:
    s.sendmail("", ["someone@elsewhere.example"], b"Subject: x\r\n\r\nx\r\n")
    check(False, "relaying refused")
except smtplib.SMTPRecipientsRefused as e:
    code = e.recipients["someone@elsewhere.example"][0]
    check(code == 550, "relay refusal code: %r" % code)
s.quit()
found = False
deadline = time.time() + 10 * SLOW
while time.time() < deadline and not found:
    r = c.get("/v1/events?recipient=mx1%40example.net")
    found = r.status == 200 and len(r.json["events"]) == 1
    if not found:
        time.sleep(0.05)
check(found, "SMTP delivery visible over HTTP")
r = c.get("/v1/suppression/mx1@example.net")
check(r.status == 200 and r.json["suppressed"], "suppressed: %r" % r)
r = c.get("/v1/identities/shop.example.com/reputation")
check(r.status == 200 and r.json["hardBounces"] == 2,
      "reputation: %r" % r)

# The spool forgets a message just after the store has it: wait.
deadline = time.time() + 10 * SLOW
while True:
    r = c.get("/metrics")
    text = r.body.decode()
    if "rebound_spool_depth 0" in text.splitlines() or \
            time.time() > deadline:
        break
    time.sleep(0.05)
for want in ('rebound_messages_received_total{source="smtp"} 1',
             'rebound_messages_received_total{source="http"} 1',
             "rebound_smtp_sessions_total 1", "rebound_spool_depth 0",
             'rebound_smtp_rejections_total{code="550"} 1',
             'rebound_smtp_rejections_total{code="421"} 0',
             'rebound_events_total{type="Bounce",reason="userunknown"} 2'):
    check(want in text.splitlines(), "metrics: %s" % want)
check(text.count("# TYPE rebound_messages_received_total counter") == 1,
      "one family for all sources")

r = c.get("/")
check(r.status == 200 and b"<title>rebound</title>" in r.body and
      r.header("content-type") == "text/html; charset=utf-8",
      "web root served: %r" % r)

os.rename(tmp.path("serve.spool"), tmp.path("serve.spool.away"))
r = c.get("/readyz")
check(r.status == 503 and r.error_code() == "NotReady" and
      r.json["error"]["message"].startswith("spool:") and
      r.header("retry-after") == "1", "spool gone: 503: %r" % r)
r = c.get("/metrics")
check("rebound_ready 0" in r.body.decode().splitlines(), "rebound_ready 0")
os.rename(tmp.path("serve.spool.away"), tmp.path("serve.spool"))
r = c.get("/readyz")
check(r.status == 200, "ready again: %r" % r)

c.close()
proc.terminate()
try:
    rc = proc.wait(timeout=20 * SLOW)
except subprocess.TimeoutExpired:
    proc.kill()
    rc = None
check(rc == 0, "serve exit status %r" % rc)
check("http: stopped; 1 messages received" in log_text(), "http stop log")
if lib.failures:
    print(log_text()[-3000:], file=sys.stderr)
tmp.cleanup()
done()
