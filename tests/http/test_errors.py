"""Every error of http/API.md over real HTTP, and the auth rules: 400
naming the parameter (query, path, body), malformed request targets
(NULs, bad %-escapes, "..", fragments: 400, never a file read), 401 with
WWW-Authenticate, 403, 404, 405 with Allow, 413 past the body limits
(Content-Length and chunked), 503 (not ready, intake busy, no intake),
tokens of both scopes, and the refusal to listen beyond loopback
without tokens.  Usage: test_errors.py HTTP_TESTD."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from lib import (Daemon, Tmp, check, done, dsn, get_raw_target,  # noqa: E402
                 raw)

tmp = Tmp()
notready = tmp.path("not-ready")
busy = tmp.path("busy")
d = Daemon(tmp, "err", "--not-ready", notready, "--busy", busy)
c = d.client()


def bad_param(path, param, method="GET", body=None, **kw):
    r = c.request(method, path, body=body, **kw)
    check(r.status == 400 and r.error_code() == "InvalidParameter" and
          r.error_param() == param and param in r.json["error"]["message"],
          "%s %s: 400 naming %s: %r" % (method, path, param, r))


def bad_request(path, method="GET", body=None, param=None, **kw):
    r = c.request(method, path, body=body, **kw)
    check(r.status == 400 and r.error_code() == "BadRequest" and
          (param is None or r.error_param() == param),
          "%s %s: 400 BadRequest: %r" % (method, path, r))


# ---- 400: query parameters ----------------------------------------------
bad_param("/v1/identities?pagesize=5", "pagesize")
bad_param("/v1/identities?pageSize=5&pageSize=6", "pageSize")
bad_param("/v1/identities?pageSize=0", "pageSize")
bad_param("/v1/identities?pageSize=1001", "pageSize")
bad_param("/v1/identities?pageSize=-1", "pageSize")
bad_param("/v1/identities?pageSize=1e3", "pageSize")
bad_param("/v1/identities?window=90m", "window")
bad_param("/v1/identities?window=91d", "window")
bad_param("/v1/identities?window=0", "window")
bad_param("/v1/identities?status=bad", "status")
bad_param("/v1/identities?nextToken=garbage%21", "nextToken")
bad_param("/v1/identities?nextToken=dG90YWxseSBub3QgYSB0b2tlbg", "nextToken")
bad_param("/v1/identities/a.example/reputation?window=1x", "window")
bad_param("/v1/identities/a.example/reputation?foo=1", "foo")
bad_param("/v1/identities/not%20an%20identity/reputation", "identity")
bad_param("/v1/identities/a.example/timeseries", "metric")
bad_param("/v1/identities/a.example/timeseries?metric=rate", "metric")
bad_param("/v1/identities/a.example/timeseries?metric=sends&step=30m", "step")
bad_param("/v1/identities/a.example/timeseries?metric=sends"
          "&from=2024-01-01T00:00:00Z&step=1h", "step")
bad_param("/v1/identities/a.example/timeseries?metric=sends&from=yesterday",
          "from")
bad_param("/v1/identities/a.example/timeseries?metric=sends"
          "&from=2024-06-02T00:00:00Z&to=2024-06-01T00:00:00Z", "from")
bad_param("/v1/alerts?state=open", "state")
bad_param("/v1/alerts?identity=%20", "identity")
bad_param("/v1/suppression?list=both", "list")
bad_param("/v1/suppression?reason=bounce", "reason")
bad_param("/v1/suppression?startDate=soon", "startDate")
bad_param("/v1/suppression?startDate=2024-06-02T00:00:00Z"
          "&endDate=2024-06-01T00:00:00Z", "startDate")
bad_param("/v1/suppression?account=" + "a" * 200, "account")
bad_param("/v1/suppression/not-an-address", "address")
bad_param("/v1/suppression/a@b.example?acount=x", "acount")
bad_param("/v1/events?eventType=bounce", "eventType")
bad_param("/v1/events?recipient=nobody", "recipient")
bad_param("/v1/events?since=2024-06-02T00:00:00Z&until=2024-06-01T00:00:00Z",
          "since")
bad_param("/v1/events/0", "id")
bad_param("/v1/events/12abc", "id")
bad_param("/v1/events/99999999999999999999", "id")
bad_param("/v1/events/1/raw?x=1", "x")
bad_param("/healthz?verbose=1", "verbose")

# A token of one listing with other filters, or of another listing.
for i in range(3):
    c.request("PUT", "/v1/suppression/p%d@example.com" % i,
              {"reason": "BOUNCE"})
r = c.get("/v1/suppression?pageSize=1")
tok = r.json.get("nextToken", "")
check(tok != "", "a token to reuse")
r = c.get("/v1/suppression?pageSize=1&nextToken=" + tok)
check(r.status == 200, "the token itself works: %r" % r)
bad_param("/v1/suppression?pageSize=1&reason=BOUNCE&nextToken=" + tok,
          "nextToken")
bad_param("/v1/events?nextToken=" + tok, "nextToken")
bad_param("/v1/suppression?nextToken=" + tok[:-2], "nextToken")

# ---- 400: bodies ---------------------------------------------------------
bad_request("/v1/suppression/a@b.example", "PUT", "{not json", param="body")
bad_request("/v1/suppression/a@b.example", "PUT", "", param="body")
bad_request("/v1/suppression/a@b.example", "PUT", "[1, 2]", param="body")
bad_param("/v1/suppression/a@b.example", "reason", "PUT", {"reason": "SPAM"})
bad_param("/v1/suppression/a@b.example", "reason", "PUT", {})
bad_param("/v1/suppression/a@b.example", "color", "PUT",
          {"reason": "BOUNCE", "color": "red"})
bad_param("/v1/suppression/a@b.example", "account", "PUT",
          {"reason": "BOUNCE", "account": 7})
bad_param("/v1/suppression/check", "emailAddresses", "POST", {})
bad_param("/v1/suppression/check", "emailAddresses", "POST",
          {"emailAddresses": []})
bad_param("/v1/suppression/check", "emailAddresses", "POST",
          {"emailAddresses": ["a@b.example"] * 1001})
bad_param("/v1/suppression/check", "emailAddresses[1]", "POST",
          {"emailAddresses": ["a@b.example", 5]})
bad_param("/v1/sends", "sends[1].count", "POST",
          {"sends": [{"identity": "a.example", "count": 1},
                     {"identity": "a.example", "count": -1}]})
bad_param("/v1/sends", "sends[0].identity", "POST",
          {"sends": [{"count": 1}]})
bad_param("/v1/sends", "sends[0].timestamp", "POST",
          {"sends": [{"identity": "a.example", "count": 1,
                      "timestamp": "noon"}]})
bad_param("/v1/sends", "sends[0].extra", "POST",
          {"sends": [{"identity": "a.example", "count": 1, "extra": 1}]})
bad_param("/v1/sends", "sends[1].identity", "POST",
          {"sends": [{"identity": "a.example", "count": 1},
                     {"identity": "not valid", "count": 1}]})
bad_param("/v1/sends", "sends", "POST", {"sends": []})
r = c.get("/v1/identities/a.example/reputation")
check(r.status == 404, "a failed batch counted nothing: %r" % r)
bad_request("/v1/sends", "POST", '{"eventType": "Send"}\nnot json\n',
            ctype="application/x-ndjson", param="body")
bad_request("/v1/messages", "POST", "", param="body")
bad_request("/v1/suppression/import", "POST", "", param="body")
bad_request("/v1/suppression/import", "POST", "address,reason\nx,BOUNCE\n",
            ctype="text/csv", param="body")
bad_param("/v1/suppression/import?format=xml", "format", "POST", "x")

# ---- 400: request targets, raw ------------------------------------------
for target in [b"/v1/events/%00", b"/v1/suppression/a%00@b.example",
               b"/v1/%G1", b"/v1/events/%4", b"/v1/events/%",
               b"/../etc/passwd", b"/v1/../metrics",
               b"/v1/suppression/a..b@example.com",
               b"/%2e%2e/etc/passwd", b"/%2E%2E%2Fetc%2Fpasswd",
               b"/static/..%2f..%2fetc%2fpasswd", b"/index.html#top",
               b"/v1/events?since=%ZZ", b"/v1/events?%00=1",
               b"/v1/events?eventType=Bounce%00", b"/v1/identities?=5",
               b"/v1/x\x01y", b"/" + b"a/" * 20, b"/" + b"x" * 9000]:
    st, ans = get_raw_target(d, target)
    check(st == 400 and b'"BadRequest"' in ans,
          "raw target %r: 400: %r" % (target[:60], ans[:200]))
st, ans = get_raw_target(d, b"/v1/events?" + b"&".join(
    b"k%d=1" % i for i in range(40)))
check(st == 400, "too many parameters: %r" % ans[:200])
st, ans = get_raw_target(d, b"*")
check(st == 400, "asterisk target: %r" % ans[:120])

# ---- 404 -----------------------------------------------------------------
for p in ["/v1/nothing", "/v1", "/v1/events/1/raw/more", "/v1/events/",
          "/metrics/extra", "/index.html"]:
    r = c.get(p)
    check(r.status == 404 and r.error_code() == "NotFound",
          "404 %s: %r" % (p, r))
r = c.get("/v1/events/424242")
check(r.status == 404, "unknown event: %r" % r)

# ---- 405 with Allow ------------------------------------------------------
for method, path, allow in [
        ("DELETE", "/v1/events", "GET, HEAD"),
        ("POST", "/v1/identities", "GET, HEAD"),
        ("GET", "/v1/suppression/check", "POST"),
        ("PUT", "/v1/sends", "POST"),
        ("PATCH", "/v1/suppression/a@b.example", "GET, HEAD, PUT, DELETE"),
        ("OPTIONS", "/metrics", "GET, HEAD"),
        ("POST", "/", "GET, HEAD")]:
    r = c.request(method, path)
    check(r.status == 405 and r.header("allow") == allow and
          r.error_code() == "MethodNotAllowed",
          "405 %s %s: %r allow=%r" % (method, path, r, r.header("allow")))

# ---- 413 -----------------------------------------------------------------
# Refused on the headers, before the body is read (a client that
# waits for "100 Continue" never sends it).
for method, path in [(b"POST", b"/v1/sends"),
                     (b"PUT", b"/v1/suppression/a@b.example"),
                     (b"POST", b"/v1/suppression/check")]:
    st, ans = raw(d, method + b" " + path + b" HTTP/1.1\r\nHost: t\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Expect: 100-continue\r\n"
                  b"Content-Length: 1048577\r\n\r\n")
    check(st == 413 and b"PayloadTooLarge" in ans and
          b"100 Continue" not in ans, "413 by Content-Length %s: %r"
          % (path, ans[:200]))
st, ans = raw(d, b"POST /v1/messages HTTP/1.1\r\nHost: t\r\n"
              b"Content-Length: 10485761\r\n\r\n")
check(st == 413, "413 messages by Content-Length: %r" % ans[:200])
r = c.request("POST", "/v1/sends", '{"identity": "ok.example", "count": 1}'
              + " " * (1024 * 1024 - 50))
check(r.status == 200, "just under 1 MB is fine: %r" % r)
st, ans = raw(d, b"POST /v1/sends HTTP/1.1\r\nHost: t\r\n"
              b"Transfer-Encoding: chunked\r\n"
              b"Content-Type: application/json\r\n\r\n" +
              b"".join(b"%x\r\n%s\r\n" % (65536, b" " * 65536)
                       for _ in range(17)) + b"0\r\n\r\n")
check(st == 413 and b"PayloadTooLarge" in ans,
      "413 chunked: %r" % ans[:200])
msg = dsn("large@example.net", n=77)
pad = "X-Pad: " + "y" * 998 + "\n"
large = msg.replace("Subject: Undelivered", pad * 5000 + "Subject: Undelivered")
check(len(large) > 4 * 1024 * 1024, "a 5 MB message")
r = c.request("POST", "/v1/messages", large)
check(r.status == 202, "5 MB message accepted (limit 10 MB): %r" % r)
st, ans = raw(d, b"POST /v1/messages HTTP/1.1\r\nHost: t\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n" +
              b"".join(b"%x\r\n%s\r\n" % (1 << 20, b"y" * (1 << 20))
                       for _ in range(11)) + b"0\r\n\r\n")
check(st == 413, "413 past 10 MB, chunked: %r" % ans[:200])

# ---- 503 -----------------------------------------------------------------
open(notready, "w").close()
r = c.get("/readyz")
check(r.status == 503 and r.error_code() == "NotReady" and
      r.json["status"] == "not ready" and
      r.json["error"]["message"] == "spool: not writable" and
      r.header("retry-after") == "1", "readyz 503: %r" % r)
os.unlink(notready)
check(c.get("/readyz").status == 200, "ready again")
open(busy, "w").close()
r = c.request("POST", "/v1/messages", dsn("busy@example.net", n=78))
check(r.status == 503 and r.header("retry-after") == "1" and
      r.error_code() == "NotReady", "intake busy: %r" % r)
os.unlink(busy)
r = c.request("POST", "/v1/messages", dsn("busy@example.net", n=78))
check(r.status == 202 and not r.json["duplicate"], "retried: %r" % r)
c.close()
check(d.stop() == 0, "err daemon exit: " + d.log_text()[-1500:])

n = Daemon(tmp, "nosubmit", "--no-submit")
r = n.client().request("POST", "/v1/messages", dsn("x@example.net"))
check(r.status == 503 and r.error_code() == "NotReady", "no intake: %r" % r)
check(n.stop() == 0, "nosubmit exit")

# ---- auth ----------------------------------------------------------------
READ = "read-token-0123456789"
ADMIN = "admin-token-0123456789"
a = Daemon(tmp, "auth", "--set", "http.read_tokens=" + READ + ", other-read-token-xyz",
           "--set", "http.admin_tokens=" + ADMIN)
anon = a.client()
rd = a.client(READ)
ad = a.client(ADMIN)
for path in ["/v1/identities", "/v1/events", "/v1/suppression", "/metrics",
             "/v1/alerts", "/v1/suppression/a@b.example"]:
    r = anon.get(path)
    check(r.status == 401 and r.error_code() == "Unauthorized" and
          r.header("www-authenticate") == 'Bearer realm="rebound"',
          "anonymous %s: 401: %r" % (path, r))
r = anon.get("/v1/events", token="wrong-token-0123456789")
check(r.status == 401, "unknown token: %r" % r)
r = anon.get("/v1/events", headers={"Authorization": "Basic dXNlcjpwdw=="})
check(r.status == 401, "basic auth is not a bearer token: %r" % r)
r = anon.get("/v1/events", token=READ[:-1])
check(r.status == 401, "a prefix of a token: %r" % r)
for path in ["/healthz", "/readyz"]:
    check(anon.get(path).status == 200, "public %s" % path)
check(anon.get("/nothing.html").status == 404, "static: no auth, 404")
for cl in (rd, ad):
    check(cl.get("/v1/events").status == 200, "read with %s" % cl.token)
    check(cl.get("/metrics").status == 200, "metrics with %s" % cl.token)
    r = cl.request("POST", "/v1/suppression/check",
                   {"emailAddresses": ["a@b.example"]})
    check(r.status == 200, "check is a read: %r" % r)
check(a.client("other-read-token-xyz").get("/v1/events").status == 200,
      "second read token")
for method, path, body in [
        ("PUT", "/v1/suppression/a@b.example", {"reason": "BOUNCE"}),
        ("DELETE", "/v1/suppression/a@b.example", None),
        ("POST", "/v1/sends", {"identity": "a.example", "count": 1}),
        ("POST", "/v1/suppression/import",
         '{"address": "b@c.example", "reason": "BOUNCE"}\n'),
        ("POST", "/v1/messages", dsn("auth@example.net", n=90))]:
    r = rd.request(method, path, body)
    check(r.status == 403 and r.error_code() == "Forbidden",
          "read token %s %s: 403: %r" % (method, path, r))
    r = anon.request(method, path, body)
    check(r.status == 401, "anonymous %s %s: 401: %r" % (method, path, r))
    r = ad.request(method, path, body)
    check(r.status in (200, 202), "admin %s %s: %r" % (method, path, r))
check(a.stop() == 0, "auth daemon exit")

# No token: loopback only.
for i, addr in enumerate(["0.0.0.0:0", "[::]:0", "192.0.2.1:0"]):
    x = Daemon(tmp, "open%d" % i, "--listen", addr, expect_fail=True)
    rc = x.wait_exit()
    check(x.url is None and rc == 1 and "no token is configured" in
          x.log_text(), "refuses %s without tokens: %r" % (addr, rc))
    x.log.close()
for i, addr in enumerate(["127.0.0.1:0", "localhost:0", "[::1]:0",
                          "127.1.2.3:0"]):
    x = Daemon(tmp, "lo%d" % i, "--listen", addr, expect_fail=True)
    if x.url is None and "Cannot assign" in x.log_text():
        x.log.close()
        continue  # no such loopback address on this machine (IPv6 off)
    check(x.url is not None, "loopback %s without tokens: %s"
          % (addr, x.log_text()[-300:]))
    if x.url:
        check(x.client().get("/healthz").status == 200, "serves %s" % addr)
    x.stop()
x = Daemon(tmp, "wide", "--listen", "0.0.0.0:0", "--set",
           "http.read_tokens=" + READ)
check(x.url is not None, "any address with a token")
check(x.client().get("/v1/events").status == 401, "and it needs it")
x.stop()
for i, bad in enumerate(["short", "has\tcontrol-character-x", "x" * 300]):
    x = Daemon(tmp, "badtok%d" % i, "--set", "http.admin_tokens=" + bad,
               expect_fail=True)
    check(x.url is None and x.wait_exit() == 1 and "http.admin_tokens" in
          x.log_text(), "bad token %r refused" % bad[:20])
    x.log.close()
for key, v in [("http.threads", "0"), ("http.max_connections", "0"),
               ("http.timeout", "0s"), ("http.metrics_identities", "1000000"),
               ("http.web_root", "/nonexistent/dir")]:
    x = Daemon(tmp, "badset" + key, "--set", key + "=" + v, expect_fail=True)
    check(x.url is None and x.wait_exit() == 1 and key in x.log_text(),
          "%s=%s refused: %s" % (key, v, x.log_text()[-200:]))
    x.log.close()
x = Daemon(tmp, "badlisten", "--listen", "nowhere", expect_fail=True)
check(x.url is None and x.wait_exit() == 1 and "ADDRESS:PORT" in
      x.log_text(), "bad listen address")
x.log.close()

tmp.cleanup()
done()
