#!/usr/bin/env python3
"""live_test.py — the dashboard of a real broker in headless Chromium: the six seeded hubs up, then one stopped.

  live_test.py --bin BUILD_DIR --seeds seeds/members.json --out DIR [--port-base 29200]

Runs against PostgreSQL from the PG* environment (pg_virtualenv, as ops/test
gives it) in a database of its own. Makes keys for the broker and for every
member of the seeds file, registers them with `fedbus member import` (so the
Korean and English names come from the registry), starts the broker with
http-port and http-token-file and one node per member with a short
heartbeat, and checks:

  - the token guards the page as well as /api/status: 401 (the login page)
    without it; the login form and ?token= give a session cookie that both
    accept; a wrong token, bearer or cookie is refused;
  - every hub publishes its seed messages (seeds/messages/) through its node;
  - one page, loaded once in Chromium (driven over its DevTools protocol on a
    pipe), shows every hub with both its names and the state "up" (the
    screenshot of it is docs/img/dashboard.png);
  - a node killed, the same page shows it "stale" and then "down" within the
    broker's stale-after and down-after (plus a heartbeat and a poll), while
    the others stay up; `fedbus status` says 1 and then 2 meanwhile.

Screenshots (dashboard-live-six-up.png, dashboard-live-one-stale.png,
dashboard-live-one-down.png) and the processes' logs are kept in DIR.
Exit 0 when every check holds, 1 otherwise (one line per failure).
"""
import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

STALE_MS = 3000     # the broker's stale-after in this test
DOWN_MS = 9000      # its down-after
HEARTBEAT_MS = 300  # each node's heartbeat
POLL_MS = 2000      # how often the page asks /api/status (web/dashboard/app.js)
SLACK_MS = 2500     # for a busy machine
VICTIM = "kr-busan"
TOKEN = "it-dashboard-Zk3qX9"
CHROMIUM_TIMEOUT_S = 30


class Failures:
    def __init__(self):
        self.lines = []

    def expect(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            self.lines.append(what)
        return ok


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe):
    JSON messages, each ended by a NUL, written to its fd 3 and read from its fd 4."""

    def __init__(self, exe, profile):
        os.makedirs(profile, exist_ok=True)
        found = shutil.which(exe)
        if not found:
            sys.exit("live_test: %s not found; ops/install-deps installs the Debian package chromium" % exe)
        to_child, self.w = os.pipe()
        self.r, from_child = os.pipe()
        # The shell puts the two pipe ends on the child's fds 3 and 4, whatever numbers they have here.
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", 'exec "$0" "$@" 3<&%d 4>&%d' % (to_child, from_child), found,
             "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--lang=en-US", "--window-size=1280,900", "--hide-scrollbars",
             "--user-data-dir=" + profile, "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile, "stderr"), "w"),
            pass_fds=(to_child, from_child))
        os.close(to_child)
        os.close(from_child)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def close(self):
        for fd in (self.w, self.r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def call(self, method, params=None, session=True):
        """Sends one command and returns its result; exits on an error or after CHROMIUM_TIMEOUT_S."""
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + CHROMIUM_TIMEOUT_S
        while True:
            while b"\0" not in self.buf:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    sys.exit("live_test: chromium did not answer %s (exit %s)" % (method, self.proc.poll()))
                chunk = os.read(self.r, 65536)
                if not chunk:
                    sys.exit("live_test: chromium closed its pipe during %s" % method)
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") != self.next_id:
                continue  # an event, or an answer nobody waits for
            if "error" in reply:
                sys.exit("live_test: chromium: %s: %s" % (method, reply["error"]))
            return reply.get("result", {})

    def open(self, url):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.call("Page.enable")
        self.call("Page.navigate", {"url": url})

    def eval(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return r.get("result", {}).get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


# What the page shows: {member: {state, label, text}}, the "updated" line, the login form, the URL.
PAGE_JS = """JSON.stringify({
  members: Object.fromEntries(Array.from(document.querySelectorAll('article[data-member]')).map(function (a) {
    var l = a.querySelector('.state-label');
    return [a.getAttribute('data-member'), {state: a.getAttribute('data-state'),
            label: l ? l.textContent.trim() : null, text: a.textContent.replace(/\\s+/g, ' ')}];
  })),
  fresh: (document.getElementById('updated') || {getAttribute: function () { return null; }}).getAttribute('data-fresh'),
  auth: !!document.querySelector('form#auth:not([hidden])'),
  href: window.location.href
})"""


class Http:
    """Plain requests to the broker's HTTP port that do not follow redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(Http.NoRedirect)

    def get(self, path, headers=None, data=None):
        req = urllib.request.Request(self.base + path, headers=headers or {}, data=data)
        try:
            with self.opener.open(req, timeout=5) as r:
                return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as e:
            return 0, {}, str(e)  # nothing answers (yet)


class Federation:
    """The database, keys, broker and nodes of one run; stop() ends them all."""

    def __init__(self, a, work):
        self.a, self.work = a, work
        self.db = "fedbus_it_dashboard_live"
        self.procs = {}
        self.logs = os.path.join(a.out, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.http = a.port_base
        self.ingest, self.feed, self.replay = ("tcp://127.0.0.1:%d" % (a.port_base + i) for i in (1, 2, 3))

    def run(self, argv, env=None):
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, env=env)
        if r.returncode != 0:
            sys.exit("live_test: %s exited %d: %s" % (" ".join(argv), r.returncode, r.stdout.decode()[-2000:]))
        return r.stdout.decode()

    def spawn(self, name, argv):
        log = open(os.path.join(self.logs, name + ".log"), "w")
        self.procs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def kill(self, name):
        p = self.procs.pop(name)
        p.kill()
        p.wait()

    def stop(self):
        for name in reversed(list(self.procs)):
            p = self.procs.pop(name)
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run(["dropdb", "--if-exists", self.db], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self, members):
        cli = os.path.join(self.a.bin, "cli", "fedbus")
        subprocess.run(["dropdb", "--if-exists", self.db], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.run(["createdb", self.db])
        keys = os.path.join(self.work, "keys")
        os.makedirs(keys)
        for m in ["broker"] + members:
            self.run([cli, "keygen", "--member=" + m, "--out=" + keys])
        env = dict(os.environ, FEDBUS_PG="dbname=" + self.db)
        self.run([cli, "member", "import", self.a.seeds, "--keys-dir=" + keys, "--actor=it_dashboard"], env=env)
        self.token_file = os.path.join(self.work, "token")
        with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(TOKEN + "\n")
        self.spawn("broker", [
            os.path.join(self.a.bin, "broker", "fedbus-broker"), "--pg=dbname=" + self.db,
            "--ingest=" + self.ingest, "--feed=" + self.feed, "--replay=" + self.replay,
            "--keys=" + os.path.join(keys, "broker.key"), "--stats-interval=0",
            "--http-port=%d" % self.http, "--http-token-file=" + self.token_file,
            "--stale-after=%d" % STALE_MS, "--down-after=%d" % DOWN_MS])
        for i, m in enumerate(members):
            self.spawn(m, [
                os.path.join(self.a.bin, "nodes", "fedbus-node"), "--member=" + m,
                "--broker=" + self.ingest, "--feed=" + self.feed, "--replay=" + self.replay,
                "--submit=tcp://127.0.0.1:%d" % (self.a.port_base + 10 + i),
                "--state-dir=" + os.path.join(self.work, "state", m),
                "--keys=" + os.path.join(keys, m + ".key"), "--broker-key=" + os.path.join(keys, "broker.pub"),
                "--heartbeat-ms=%d" % HEARTBEAT_MS])

    def publish_seeds(self, members):
        """Each member's seed messages (seeds/messages/MEMBER/) published through its node, all at once."""
        cli = os.path.join(self.a.bin, "cli", "fedbus")
        root = os.path.join(os.path.dirname(os.path.abspath(self.a.seeds)), "messages")
        runs = [subprocess.Popen([cli, "publish", "--quiet", "--node=tcp://127.0.0.1:%d" % (self.a.port_base + 10 + i),
                                  os.path.join(root, m)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                for i, m in enumerate(members) if os.path.isdir(os.path.join(root, m))]
        return all(r.wait(timeout=60) == 0 for r in runs)

    def status_exit(self):
        """`fedbus status`'s exit status against this broker, with the token."""
        return subprocess.run([os.path.join(self.a.bin, "cli", "fedbus"), "status",
                               "--broker-http=http://127.0.0.1:%d" % self.http,
                               "--http-token-file=" + self.token_file],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20).returncode


def wait_all_up(fed, http, ids, timeout_s):
    """Waits until /api/status (with the bearer token) says every id is up; returns the document or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if fed.procs["broker"].poll() is not None:
            return None
        st, _, body = http.get("/api/status", {"Authorization": "Bearer " + TOKEN})
        if st == 200:
            doc = json.loads(body)
            states = {m["id"]: m["state"] for m in doc.get("members", [])}
            if all(states.get(i) == "up" for i in ids):
                return doc
        time.sleep(0.2)
    return None


def check_token(f, http):
    """The page and /api/status want the token; the login form and ?token= give the session cookie."""
    st, _, body = http.get("/")
    f.expect(st == 401 and 'action="/dashboard/login"' in body and VICTIM not in body,
             "without the token the dashboard answers 401 with the login page (got %d)" % st)
    st, _, _ = http.get("/dashboard/app.js")
    f.expect(st == 401, "without the token the page's script answers 401 (got %d)" % st)
    st, _, _ = http.get("/api/status")
    f.expect(st == 401, "without the token /api/status answers 401 (got %d)" % st)
    st, _, _ = http.get("/api/status", {"Authorization": "Bearer not-" + TOKEN})
    f.expect(st == 401, "a wrong bearer token is refused (got %d)" % st)
    st, h, _ = http.get("/?token=not-" + TOKEN)
    f.expect(st == 401 and "Set-Cookie" not in h, "?token= with a wrong token gets the login page, no cookie (%d)" % st)
    st, h, _ = http.get("/dashboard/login", data=b"token=wrong")
    f.expect(st == 303 and h.get("Location") == "/?login=failed" and "Set-Cookie" not in h,
             "a wrong token posted to the login form goes back to it, no cookie (%d %s)" % (st, h.get("Location")))
    st, h, _ = http.get("/dashboard/login", data=b"token=%zz" + TOKEN.encode())
    f.expect(st == 303 and h.get("Location") == "/?login=failed" and "Set-Cookie" not in h,
             "a badly encoded form goes back to the login page, no cookie (%d)" % st)
    st, h, _ = http.get("/dashboard/login", data=urllib.parse.urlencode({"token": TOKEN}).encode())
    cookie = h.get("Set-Cookie", "")
    f.expect(st == 303 and h.get("Location") == "/" and cookie.startswith("fedbus_dashboard=") and
             "HttpOnly" in cookie and TOKEN not in cookie,
             "the right token posted gives an HttpOnly session cookie without the token in it (%d %r)" % (st, cookie))
    session = {"Cookie": cookie.split(";", 1)[0]}
    st, _, body = http.get("/", session)
    f.expect(st == 200 and "/dashboard/app.js" in body, "with the session cookie the dashboard is served (%d)" % st)
    st, _, _ = http.get("/api/status", session)
    f.expect(st == 200, "with the session cookie /api/status answers (%d)" % st)
    st, _, _ = http.get("/api/status", {"Cookie": "fedbus_dashboard=" + "0" * 64})
    f.expect(st == 401, "a made-up session cookie is refused (%d)" % st)
    st, h, _ = http.get("/?lang=en&token=" + TOKEN)
    f.expect(st == 200 and h.get("Set-Cookie", "").startswith("fedbus_dashboard="),
             "?token= with the right token serves the page with the session cookie (%d)" % st)
    st, _, _ = http.get("/metrics")
    f.expect(st == 200, "/metrics needs no token (%d)" % st)


def page_until(b, pred, timeout_s):
    """Reads the page every 200 ms until pred(page) holds; returns (page, seconds) or (last page, None)."""
    t0 = time.monotonic()
    page = None
    while time.monotonic() - t0 < timeout_s:
        page = json.loads(b.eval(PAGE_JS) or "null") or {"members": {}}
        if pred(page):
            return page, time.monotonic() - t0
        time.sleep(0.2)
    return page, None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", required=True, help="the build tree (broker/, nodes/, cli/)")
    p.add_argument("--seeds", required=True, help="seeds/members.json")
    p.add_argument("--out", required=True, help="where screenshots and logs are kept")
    p.add_argument("--port-base", type=int, default=29200)
    p.add_argument("--chromium", default="chromium")
    a = p.parse_args()
    with open(a.seeds, encoding="utf-8") as fh:
        seeds = json.load(fh)["members"]
    ids = [m["id"] for m in seeds]
    if VICTIM not in ids:
        sys.exit("live_test: %s has no %s" % (a.seeds, VICTIM))
    os.makedirs(a.out, exist_ok=True)
    for name in os.listdir(a.out):
        if name.endswith(".png"):
            os.unlink(os.path.join(a.out, name))
    work = tempfile.mkdtemp(prefix="fedbus-live-")
    fed = Federation(a, work)
    f = Failures()
    b = None
    t_start = time.monotonic()
    try:
        fed.start(ids)
        http = Http("http://127.0.0.1:%d" % fed.http)
        if not f.expect(wait_all_up(fed, http, ids, 20) is not None, "/api/status says all %d members up" % len(ids)):
            return 1
        check_token(f, http)
        f.expect(fed.publish_seeds(ids), "every hub published its seed messages through its node")

        b = Chromium(a.chromium, os.path.join(work, "chromium"))
        b.open(http.base + "/?lang=en&token=" + TOKEN)
        page, took = page_until(b, lambda pg: all(pg["members"].get(i, {}).get("state") == "up" for i in ids), 15)
        f.expect(took is not None, "the page shows all %d hubs up (%s)" % (
            len(ids), {i: c.get("state") for i, c in page["members"].items()}))
        # The seeds' last messages reach the page with its next polls.
        page, took = page_until(b, lambda pg: len(pg["members"]) == len(ids) and all(
            "last message—" not in c["text"].replace("last message —", "last message—")
            for c in pg["members"].values()), 8)
        f.expect(took is not None, "every card shows its hub's last message")
        for m in seeds:
            card = page["members"].get(m["id"], {})
            f.expect(card.get("label") == "up" and m["name"]["en"] in card.get("text", "") and
                     m["name"]["ko"] in card.get("text", ""),
                     "%s's card says up with its names %r and %r" % (m["id"], m["name"]["en"], m["name"]["ko"]))
        f.expect(len(page["members"]) == len(ids), "exactly %d cards (%d)" % (len(ids), len(page["members"])))
        f.expect(page["fresh"] == "yes" and not page["auth"], "the page is fresh and asks for no token")
        f.expect("token=" not in page["href"], "the token is gone from the address bar (%s)" % page["href"])
        b.screenshot(os.path.join(a.out, "dashboard-live-six-up.png"))

        # One node killed: the same page, polling by itself, turns its card stale, then down.
        fed.kill(VICTIM)
        t_kill = time.monotonic()
        page, took = page_until(b, lambda pg: pg["members"].get(VICTIM, {}).get("state") != "up",
                                (STALE_MS + POLL_MS + SLACK_MS) / 1000)
        card = page["members"].get(VICTIM, {})
        f.expect(took is not None and card.get("state") == "stale" and card.get("label") == "stale",
                 "%s shown stale %.1f s after its node was killed (stale-after %.1f s; page shows %r)" % (
                     VICTIM, time.monotonic() - t_kill, STALE_MS / 1000, card.get("state")))
        f.expect(time.monotonic() - t_kill >= (STALE_MS - HEARTBEAT_MS) / 1000 - 0.2,
                 "not before stale-after (%.1f s)" % (time.monotonic() - t_kill))
        f.expect(all(page["members"].get(i, {}).get("state") == "up" for i in ids if i != VICTIM),
                 "the other hubs still shown up")
        f.expect(fed.status_exit() == 1, "fedbus status exits 1 (something stale)")
        b.screenshot(os.path.join(a.out, "dashboard-live-one-stale.png"))

        page, took = page_until(b, lambda pg: pg["members"].get(VICTIM, {}).get("state") == "down",
                                max(0.0, (DOWN_MS + POLL_MS + SLACK_MS) / 1000 - (time.monotonic() - t_kill)))
        card = page["members"].get(VICTIM, {})
        f.expect(took is not None and card.get("label") == "down",
                 "%s shown down %.1f s after its node was killed (down-after %.1f s; page shows %r)" % (
                     VICTIM, time.monotonic() - t_kill, DOWN_MS / 1000, card.get("state")))
        f.expect(all(page["members"].get(i, {}).get("state") == "up" for i in ids if i != VICTIM),
                 "the other hubs still shown up")
        f.expect(page["fresh"] == "yes", "the page still says it is updating")
        f.expect(fed.status_exit() == 2, "fedbus status exits 2 (something down)")
        b.screenshot(os.path.join(a.out, "dashboard-live-one-down.png"))
    finally:
        if b:
            b.close()
        fed.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("live_test: %d checks failed, %.1f s; screenshots and logs in %s" % (
        len(f.lines), time.monotonic() - t_start, a.out))
    return 1 if f.lines else 0


if __name__ == "__main__":
    sys.exit(main())
