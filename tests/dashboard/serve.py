#!/usr/bin/env python3
"""serve.py — a stand-in for the broker's HTTP routes the dashboard uses, for testing the page alone.

Serves the dashboard's files straight from the source tree (/ and /dashboard/
are index.html, /dashboard/NAME is the file NAME) and GET /api/status from a
JSON file that is read again at every request, so a test changes what the
page sees by rewriting that file. Without the file /api/status answers 503.
When --token-file names a file that holds a token, /api/* asks for
"Authorization: Bearer TOKEN" or the session cookie and answers 401 without
either, as the broker does with `http-token-file`; a page loaded with
?token=TOKEN gets the cookie, as from the broker. Unlike the broker it
serves the page's files without the token, so that a test can see how the
page takes an /api/status that refuses it. Prints "serving
http://ADDR:PORT/" once it listens.

    serve.py --root web/dashboard --fixture status.json [--port 0] [--token-file F]
"""
import argparse
import hashlib
import http.server
import os
import re
import sys
import urllib.parse

COOKIE = "fedbus_dashboard"

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def make_handler(args):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):  # quiet unless asked
            if args.verbose:
                sys.stderr.write("serve.py: " + fmt % a + "\n")

        def answer(self, status, ctype, body, cookie=None):
            self.send_response(status)
            if cookie:
                self.send_header("Set-Cookie", cookie)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def token(self):
            try:
                with open(args.token_file, encoding="utf-8") as f:
                    return f.read().strip()
            except (OSError, TypeError):
                return ""

        def session(self, tok):
            """The cookie's value, as the broker derives it (broker/fb_bhttp.c)."""
            return hashlib.sha256(b"fedbus-dashboard\n" + tok.encode()).hexdigest()

        def authorized(self, tok):
            if self.headers.get("Authorization", "") == "Bearer " + tok:
                return True
            for pair in self.headers.get("Cookie", "").split(";"):
                name, _, value = pair.strip().partition("=")
                if name == COOKIE and value == self.session(tok):
                    return True
            return False

        def do_GET(self):
            path, _, query = self.path.partition("?")
            if path.startswith("/api/"):
                tok = self.token()
                if tok and not self.authorized(tok):
                    return self.answer(401, "text/plain; charset=utf-8", b"a bearer token is needed\n")
                if path != "/api/status":
                    return self.answer(404, "text/plain; charset=utf-8", b"not found\n")
                try:
                    with open(args.fixture, "rb") as f:
                        body = f.read()
                except OSError:
                    return self.answer(503, "text/plain; charset=utf-8", b"no status fixture\n")
                return self.answer(200, "application/json", body)
            if path in ("/", "/dashboard", "/dashboard/"):
                path = "/dashboard/index.html"
            m = re.fullmatch(r"/dashboard/([A-Za-z0-9_-][A-Za-z0-9._-]*)", path)
            file = os.path.join(args.root, m.group(1)) if m else None
            if not file or not os.path.isfile(file):
                return self.answer(404, "text/plain; charset=utf-8", b"not found\n")
            with open(file, "rb") as f:
                body = f.read()
            ctype = TYPES.get(os.path.splitext(file)[1], "application/octet-stream")
            tok = self.token()
            given = urllib.parse.parse_qs(query).get("token", [None])[0]
            cookie = None
            if tok and given == tok:
                cookie = "%s=%s; Path=/; HttpOnly; SameSite=Lax" % (COOKIE, self.session(tok))
            return self.answer(200, ctype, body, cookie)

        do_HEAD = do_GET

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", required=True, help="the dashboard's files (web/dashboard)")
    p.add_argument("--fixture", required=True, help="the JSON answered at /api/status")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: a free port")
    p.add_argument("--token-file", help="when it holds a token, /api/* needs it")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    if not os.path.isfile(os.path.join(args.root, "index.html")):
        sys.exit("serve.py: %s has no index.html" % args.root)
    srv = http.server.ThreadingHTTPServer((args.bind, args.port), make_handler(args))
    print("serving http://%s:%d/" % (args.bind, srv.server_address[1]), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
