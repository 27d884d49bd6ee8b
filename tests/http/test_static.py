"""The dashboard's static files: served from the web root with the right
Content-Type and a strict Content-Security-Policy; index.html for "/"
and for directories; hidden files, unknown extensions, symbolic links
leading out of the root, ".." and encoded slashes never reach a file
outside it; GET and HEAD only; none without a web root.
Usage: test_static.py HTTP_TESTD."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from lib import Daemon, Tmp, check, done, get_raw_target  # noqa: E402

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

tmp = Tmp()
web = tmp.path("web")
os.makedirs(os.path.join(web, "assets"))
os.makedirs(os.path.join(web, "sub"))
files = {
    "index.html": b"<!doctype html><title>console</title>",
    "assets/app.js": b"console.log('rebound');\n",
    "assets/app.mjs": b"export const x = 1;\n",
    "assets/style.css": b"body { margin: 0 }\n",
    "assets/data.json": b'{"ok": true}\n',
    "assets/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "assets/logo.png": b"\x89PNG\r\n\x1a\nfake",
    "assets/font.woff2": b"wOF2fake",
    "favicon.ico": b"\x00\x00\x01\x00",
    "LICENSE.txt": b"license text\n",
    "sub/index.html": b"<p>sub</p>",
    ".secret.html": b"hidden",
    "assets/tool.sh": b"#!/bin/sh\n",
    "noext": b"no extension",
}
for rel, data in files.items():
    with open(os.path.join(web, rel), "wb") as f:
        f.write(data)
outside = tmp.path("outside.html")
with open(outside, "w") as f:
    f.write("outside the web root")
os.symlink(outside, os.path.join(web, "escape.html"))
os.symlink("/etc/passwd", os.path.join(web, "passwd.txt"))
os.symlink(os.path.join(web, "assets", "app.js"),
           os.path.join(web, "inside.js"))

d = Daemon(tmp, "static", "--web", web,
           "--set", "http.admin_tokens=admin-token-0123456789")
c = d.client()

types = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/assets/app.js": ("assets/app.js", "text/javascript; charset=utf-8"),
    "/assets/app.mjs": ("assets/app.mjs", "text/javascript; charset=utf-8"),
    "/assets/style.css": ("assets/style.css", "text/css; charset=utf-8"),
    "/assets/data.json": ("assets/data.json", "application/json"),
    "/assets/logo.svg": ("assets/logo.svg", "image/svg+xml"),
    "/assets/logo.png": ("assets/logo.png", "image/png"),
    "/assets/font.woff2": ("assets/font.woff2", "font/woff2"),
    "/favicon.ico": ("favicon.ico", "image/x-icon"),
    "/LICENSE.txt": ("LICENSE.txt", "text/plain; charset=utf-8"),
    "/sub/": ("sub/index.html", "text/html; charset=utf-8"),
    "/sub": ("sub/index.html", "text/html; charset=utf-8"),
    "/inside.js": ("assets/app.js", "text/javascript; charset=utf-8"),
}
for path, (rel, ctype) in types.items():
    r = c.get(path)
    check(r.status == 200 and r.body == files[rel] and
          r.header("content-type") == ctype,
          "GET %s: %r %r" % (path, r, r.header("content-type")))
    check(r.header("content-security-policy") == CSP and
          r.header("x-content-type-options") == "nosniff" and
          r.header("x-frame-options") == "DENY" and
          r.header("referrer-policy") == "no-referrer" and
          r.header("cache-control") == "no-cache",
          "security headers of %s: %r" % (path, r.headers))
r = c.request("HEAD", "/assets/app.js")
check(r.status == 200 and r.body == b"" and
      r.header("content-length") == str(len(files["assets/app.js"])),
      "HEAD: %r" % r)
check(c.reconnects == 0, "static files keep the connection")

for path in ["/.secret.html", "/assets/tool.sh", "/noext", "/escape.html",
             "/passwd.txt", "/missing.html", "/assets/", "/sub/missing.js",
             "/a%2Fb.html", "/assets%2Fapp.js", "/-x.html" + "/z" * 3,
             "/~root.html", "/assets/app.js/x"]:
    r = c.get(path)
    check(r.status == 404 and r.body.find(b"outside") < 0 and
          r.body.find(b"root:") < 0, "GET %s: 404: %r" % (path, r))
for target in [b"/../outside.html", b"/assets/../../outside.html",
               b"/%2e%2e/outside.html", b"/assets/%2E%2E/%2E%2E/etc/passwd",
               b"/..%5coutside.html", b"/%00index.html",
               b"/index.html%00.js", b"/%c0%ae%c0%ae/outside.html"]:
    st, ans = get_raw_target(d, target)
    check(st in (400, 404) and b"outside the web root" not in ans and
          b"root:" not in ans, "raw %r: refused: %r" % (target, ans[:120]))
    if b"%c0" not in target:
        check(st == 400, "raw %r: 400" % target)
for method in ["POST", "PUT", "DELETE"]:
    r = c.request(method, "/index.html", token="admin-token-0123456789")
    check(r.status == 405 and r.header("allow") == "GET, HEAD",
          "%s static: 405: %r" % (method, r))
check(d.stop() == 0, "exit")

n = Daemon(tmp, "noweb")
r = n.client().get("/")
check(r.status == 404 and r.error_code() == "NotFound", "no web root: %r" % r)
check(n.stop() == 0, "exit")
tmp.cleanup()
done()
