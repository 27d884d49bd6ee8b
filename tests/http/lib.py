"""Shared by tests/http/test_*.py: start http_testd on a loopback port
picked by the kernel over a database in a temporary directory, speak
HTTP/1.1 to it (http.client, one persistent connection per client, and
raw sockets for what a well-behaved client would never send), build
feedback messages of our own, and count failures.

Usage of a test: test_X.py HTTP_TESTD.  Exit 0 when every check passed.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# The tests' clock: 2024-06-01T12:00:00Z (REBOUND_NOW).
NOW = "2024-06-01T12:00:00Z"
NOW_UNIX = 1717243200

TESTD = sys.argv[1] if len(sys.argv) > 1 else None
# A sanitizer build is several times slower: waits scale with it.
SLOW = 4 if os.environ.get("REBOUND_SANITIZE") == "1" else 1

failures = 0
checks = 0


def check(cond, what):
    """One assertion; prints and counts a failure, never stops."""
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL: " + what, file=sys.stderr)
    return cond


def done():
    print("%d checks, %d failed" % (checks, failures))
    sys.exit(1 if failures else 0)


class Tmp:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rebound-http.")

    def path(self, name):
        return os.path.join(self.dir, name)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Daemon:
    """http_testd over TMP/NAME.db; args are more http_testd options."""

    def __init__(self, tmp, name, *args, env=None, expect_fail=False):
        self.tmp = tmp
        self.name = name
        ready = tmp.path(name + ".url")
        if os.path.exists(ready):
            os.unlink(ready)
        e = dict(os.environ)
        e["REBOUND_NOW"] = NOW
        if env:
            e.update(env)
        self.log = open(tmp.path(name + ".log"), "ab")
        cmd = [TESTD, "--db", tmp.path(name + ".db"), "--ready", ready]
        cmd += list(args)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log,
                                     env=e)
        self.url = None
        deadline = time.time() + 15 * SLOW
        while time.time() < deadline:
            if os.path.exists(ready):
                with open(ready) as f:
                    self.url = f.read().strip()
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.url is None and not expect_fail:
            raise RuntimeError("http_testd %s did not start: %s"
                               % (name, self.log_text()))
        if self.url:
            hostport = self.url.split("//", 1)[1]
            self.host, port = hostport.rsplit(":", 1)
            self.host = self.host.strip("[]")
            self.port = int(port)

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.tmp.path(self.name + ".log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_exit(self, timeout=10):
        try:
            return self.proc.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def stop(self):
        """SIGTERM and wait; returns the exit status (0 expected: under
        ASan a leak makes it non-zero)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(20)
        self.log.close()
        return rc

    def client(self, token=None):
        return Client(self.host, self.port, token)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.json = None
        ct = headers.get("content-type", "")
        if ct.startswith("application/json") and body:
            try:
                self.json = json.loads(body.decode("utf-8"))
            except ValueError:
                self.json = None

    def header(self, name):
        return self.headers.get(name.lower())

    def error_code(self):
        try:
            return self.json["error"]["code"]
        except (TypeError, KeyError):
            return None

    def error_param(self):
        try:
            return self.json["error"].get("parameter")
        except (TypeError, KeyError, AttributeError):
            return None

    def __repr__(self):
        return "%d %s" % (self.status, self.body[:300])


class Client:
    """One persistent HTTP/1.1 connection (reopened if the server closed
    it; `reconnects` counts how often)."""

    def __init__(self, host, port, token=None):
        self.host = host
        self.port = port
        self.token = token
        self.conn = None
        self.reconnects = -1

    def request(self, method, path, body=None, headers=None, token=None,
                ctype=None):
        h = dict(headers or {})
        tok = token if token is not None else self.token
        if tok:
            h["Authorization"] = "Bearer " + tok
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        if ctype:
            h["Content-Type"] = ctype
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=30 * SLOW)
                self.reconnects += 1
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return Response(r.status, hdrs, data)
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def raw(daemon, data, timeout=10):
    """Send raw bytes on a new connection; the status code of the answer
    (0 when the server closed without one) and the whole answer."""
    s = socket.create_connection((daemon.host, daemon.port),
                                 timeout=timeout * SLOW)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":", 1)[1])
                        if len(rest) >= n:
                            s.close()
                            return status_of(out), out
    except socket.timeout:
        pass
    s.close()
    return status_of(out), out


def status_of(answer):
    try:
        return int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def get_raw_target(daemon, target, extra=b""):
    return raw(daemon, b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n" +
               extra + b"Connection: close\r\n\r\n")


# ---- feedback messages of our own -------------------------------------------

def dsn(recipient, sender="orders@shop.example.com", status="5.1.1",
        n=0, arrival="Sat, 1 Jun 2024 09:00:01 +0000"):
    """A Postfix-style DSN of one recipient (n makes it distinct)."""
    dom = sender.split("@", 1)[1]
    b = "bnd%06d" % n
    code = status.replace(".", "")[0] + "50"
    return ("Return-Path: <>\n"
            "From: MAILER-DAEMON@mta.%(dom)s (Mail Delivery System)\n"
            "To: bounces@%(dom)s\n"
            "Subject: Undelivered Mail Returned to Sender\n"
            "Date: Sat, 1 Jun 2024 09:00:05 +0000\n"
            "Auto-Submitted: auto-replied\n"
            "MIME-Version: 1.0\n"
            "Message-Id: <%(b)s.dsn@mta.%(dom)s>\n"
            "Content-Type: multipart/report; report-type=delivery-status;"
            " boundary=\"%(b)s\"\n\n"
            "--%(b)s\nContent-Type: text/plain\n\n"
            "Your message could not be delivered.\n\n"
            "--%(b)s\nContent-Type: message/delivery-status\n\n"
            "Reporting-MTA: dns; mta.%(dom)s\n"
            "Arrival-Date: %(arrival)s\n\n"
            "Final-Recipient: rfc822; %(rcpt)s\n"
            "Action: failed\nStatus: %(status)s\n"
            "Diagnostic-Code: smtp; %(code)s %(status)s <%(rcpt)s>: "
            "Recipient address rejected: User unknown\n\n"
            "--%(b)s\nContent-Type: message/rfc822\n\n"
            "From: \"Shop\" <%(sender)s>\nTo: %(rcpt)s\n"
            "Subject: Order %(n)d\n"
            "Message-ID: <order-%(n)d@%(dom)s>\n"
            "Date: Sat, 1 Jun 2024 09:00:00 +0000\n\n"
            "Thank you for order %(n)d.\n\n--%(b)s--\n"
            % {"dom": dom, "b": b, "rcpt": recipient, "status": status,
               "code": code, "sender": sender, "n": n,
               "arrival": arrival})


def arf(recipient, sender="newsletter@news.example.org", n=0):
    """An ARF abuse report about one message (n makes it distinct)."""
    dom = sender.split("@", 1)[1]
    b = "fbl%06d" % n
    return ("Return-Path: <>\n"
            "From: Feedback Loop <fbl@reports.example.net>\n"
            "To: fbl@%(dom)s\n"
            "Subject: Complaint about a message from %(dom)s\n"
            "Date: Sat, 1 Jun 2024 10:30:00 +0000\n"
            "Message-ID: <%(b)s@reports.example.net>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/report; report-type=feedback-report;"
            " boundary=\"%(b)s\"\n\n"
            "--%(b)s\nContent-Type: text/plain\n\n"
            "A user marked this message as spam.\n\n"
            "--%(b)s\nContent-Type: message/feedback-report\n\n"
            "Feedback-Type: abuse\nUser-Agent: Reports/1.0\nVersion: 1\n"
            "Original-Mail-From: <bounces@%(dom)s>\n"
            "Original-Rcpt-To: <%(rcpt)s>\n"
            "Arrival-Date: Sat, 1 Jun 2024 10:00:00 +0000\n"
            "Reported-Domain: %(dom)s\n\n"
            "--%(b)s\nContent-Type: message/rfc822\n\n"
            "From: \"News\" <%(sender)s>\nTo: %(rcpt)s\n"
            "Subject: Issue %(n)d\n"
            "Message-ID: <issue-%(n)d@%(dom)s>\n"
            "Date: Sat, 1 Jun 2024 09:59:00 +0000\n\n"
            "This week's news.\n\n--%(b)s--\n"
            % {"dom": dom, "b": b, "rcpt": recipient, "sender": sender,
               "n": n})
