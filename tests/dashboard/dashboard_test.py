#!/usr/bin/env python3
"""dashboard_test.py — loads the fedbus dashboard in headless Chromium and checks what it shows.

Two ways to run it:

  dashboard_test.py check URL --expect MEMBER=STATE ... [--token T] [--screenshot F]
      loads URL (a broker's dashboard, e.g. http://127.0.0.1:7704/) and checks
      that each MEMBER's card shows STATE (up, stale, down, never); exit 0 when
      all do, 1 with one line per difference otherwise.

  dashboard_test.py fixture --root web/dashboard --fixture status.json --out DIR [--port N]
      starts serve.py on the page's files and a copy of the fixture, and checks:
      every member of the fixture shown up with its names; one switched to down
      shown down, with PostgreSQL unreachable; a failing /api/status (a token
      needed) shown as not updating, and the token asked for; with ?token= the
      members shown again. Screenshots go to
      DIR (docs/img/dashboard.png comes from live_test.py, against a real broker).

Chromium runs with --no-sandbox (tests run as root) and a throw-away profile,
and each run is bounded in time.
"""
import argparse
import copy
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM_TIMEOUT_S = 60
STATE_TEXT = {"up": "up", "stale": "stale", "down": "down", "never": "never seen"}


class Browser:
    """Headless Chromium, one process per page load, in a private profile."""

    def __init__(self, exe, budget_ms=3000):
        found = shutil.which(exe)
        if not found:
            sys.exit("dashboard_test: %s not found; ops/install-deps installs the Debian package chromium" % exe)
        self.exe = found
        self.budget_ms = budget_ms
        self.profile = tempfile.mkdtemp(prefix="fedbus-chromium-")

    def close(self):
        shutil.rmtree(self.profile, ignore_errors=True)

    def _run(self, extra, url):
        cmd = [self.exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-extensions", "--disable-background-networking", "--lang=en-US",
               "--user-data-dir=" + self.profile, "--window-size=1280,900",
               "--virtual-time-budget=%d" % self.budget_ms] + extra + [url]
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CHROMIUM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            sys.exit("dashboard_test: chromium took more than %d s on %s" % (CHROMIUM_TIMEOUT_S, url))
        if r.returncode != 0:
            sys.exit("dashboard_test: chromium exited %d on %s: %s" % (
                r.returncode, url, r.stderr.decode(errors="replace")[-2000:]))
        return r.stdout.decode("utf-8", errors="replace")

    def dom(self, url):
        return self._run(["--dump-dom"], url)

    def screenshot(self, url, path):
        path = os.path.abspath(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)
        self._run(["--screenshot=" + path, "--hide-scrollbars"], url)
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            sys.exit("dashboard_test: chromium wrote no screenshot to " + path)


def text_of(fragment):
    return html.unescape(re.sub(r"<[^>]*>", " ", fragment))


def parse(dom):
    """What the page shows: {members: {id: {state, label, text}}, fresh, updated, pg, auth_shown}."""
    out = {"members": {}}
    for m in re.finditer(r'<article\b([^>]*)>(.*?)</article>', dom, re.S):
        attrs, body = m.group(1), m.group(2)
        mid = re.search(r'data-member="([^"]*)"', attrs)
        st = re.search(r'data-state="([^"]*)"', attrs)
        label = re.search(r'class="state-label">([^<]*)<', body)
        if mid:
            out["members"][html.unescape(mid.group(1))] = {
                "state": st.group(1) if st else None,
                "label": html.unescape(label.group(1)).strip() if label else None,
                "text": " ".join(text_of(body).split()),
            }
    up = re.search(r'<span id="updated"[^>]*data-fresh="([^"]*)"[^>]*>([^<]*)<', dom)
    out["fresh"] = up.group(1) if up else None
    out["updated"] = html.unescape(up.group(2)) if up else ""
    pg = re.search(r'data-pg="([^"]*)"', dom)
    out["pg"] = pg.group(1) if pg else None
    out["auth_shown"] = bool(re.search(r'<form id="auth"(?![^>]*\bhidden)[^>]*>', dom))
    return out


def check_states(page, expect):
    """Differences between the page and expect {member: state}, one string each."""
    bad = []
    for mid, state in sorted(expect.items()):
        card = page["members"].get(mid)
        if card is None:
            bad.append("%s: no card on the page" % mid)
        elif card["state"] != state or card["label"] != STATE_TEXT[state]:
            bad.append("%s: page shows state %r with text %r, expected %r" % (mid, card["state"], card["label"], state))
    return bad


def cmd_check(a):
    if not re.match(r"https?://[^/?#]+", a.url):
        sys.exit("dashboard_test: %r is not an http:// or https:// URL" % a.url)
    expect = {}
    for e in a.expect:
        mid, _, st = e.partition("=")
        if st not in STATE_TEXT:
            sys.exit("dashboard_test: --expect %r: the state must be one of %s" % (e, ", ".join(STATE_TEXT)))
        expect[mid] = st
    url = a.url + ("&" if "?" in a.url else "?") + "lang=en" + ("&token=" + a.token if a.token else "")
    b = Browser(a.chromium, a.budget_ms)
    try:
        bad = check_states(parse(b.dom(url)), expect)
        if a.screenshot:
            b.screenshot(url, a.screenshot)
    finally:
        b.close()
    for line in bad:
        print("FAIL " + line)
    return 1 if bad else 0


class Failures:
    def __init__(self):
        self.lines = []

    def expect(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            self.lines.append(what)


def write_json(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    os.replace(tmp, path)


def start_server(root, fixture, port, token_file):
    cmd = [sys.executable, os.path.join(HERE, "serve.py"), "--root", root, "--fixture", fixture,
           "--port", str(port), "--token-file", token_file]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.match(r"serving (http://\S+)", line)
    if not m:
        p.kill()
        sys.exit("dashboard_test: serve.py did not start: %r" % line)
    return p, m.group(1)


def cmd_fixture(a):
    with open(a.fixture, encoding="utf-8") as f:
        six = json.load(f)
    ids = [m["id"] for m in six["members"]]
    work = tempfile.mkdtemp(prefix="fedbus-dash-")
    status, token_file = os.path.join(work, "status.json"), os.path.join(work, "token")
    write_json(status, six)
    srv, base = start_server(a.root, status, a.port, token_file)
    b = Browser(a.chromium, a.budget_ms)
    f = Failures()
    url = base + "?lang=en"
    t0 = time.monotonic()
    try:
        # 1. Every member of the fixture, up, with both its names.
        page = parse(b.dom(url))
        bad = check_states(page, {i: "up" for i in ids})
        f.expect(not bad, "all %d members shown up %s" % (len(ids), "; ".join(bad)))
        f.expect(len(page["members"]) == len(ids), "exactly %d cards (page has %d)" % (len(ids), len(page["members"])))
        for m in six["members"]:
            text = page["members"].get(m["id"], {}).get("text", "")
            f.expect(m["name"]["en"] in text and m["name"]["ko"] in text, "%s shows its English and Korean names" % m["id"])
        f.expect(page["fresh"] == "yes", "the last-updated line says fresh (%r)" % page["updated"])
        f.expect(page["pg"] == "up", "PostgreSQL shown reachable")
        b.screenshot(url, os.path.join(a.out, "dashboard-six-up.png"))

        # 2. One member switched to down and PostgreSQL unreachable: that card
        # says down, the others still up, the broker's line says so.
        down = copy.deepcopy(six)
        victim = "kr-busan" if "kr-busan" in ids else ids[0]
        for m in down["members"]:
            if m["id"] == victim:
                m.update(state="down", state_since="2026-12-02T14:00:58.000Z",
                         last_seen="2026-12-02T13:59:58.000Z",
                         last_message={"topic": "event." + victim, "at": "2026-12-02T13:59:41.000Z"},
                         msgs_per_min=0.0, series=m["series"][:-2] + [0, 0])
        down["summary"] = {"up": len(ids) - 1, "stale": 0, "down": 1, "never": 0}
        down["broker"]["state"] = "degraded"
        down["broker"]["postgres"].update(reachable=False, since="2026-12-02T14:01:00.000Z")
        write_json(status, down)
        page = parse(b.dom(url))
        expect = {i: "up" for i in ids}
        expect[victim] = "down"
        bad = check_states(page, expect)
        f.expect(not bad, "%s shown down, the others up %s" % (victim, "; ".join(bad)))
        f.expect("2 min ago" in page["members"].get(victim, {}).get("text", ""),
                 "%s's last seen shown relative to the broker's clock (2 min ago)" % victim)
        f.expect(page["pg"] == "down", "PostgreSQL shown unreachable")
        b.screenshot(url, os.path.join(a.out, "dashboard-one-down.png"))

        # 3. /api/status needs a token the page does not have: the poll fails,
        # the page says it is not updating and asks for the token.
        write_json(status, six)
        with open(token_file, "w") as tf:
            tf.write("s3cret\n")
        page = parse(b.dom(url))
        f.expect(page["fresh"] == "no" and "token" in page["updated"],
                 "a failing /api/status shown as not updating (%r)" % page["updated"])
        f.expect(page["auth_shown"] and not page["members"], "without the token the page asks for it")

        # 4. With ?token= it shows the members.
        page = parse(b.dom(url + "&token=s3cret"))
        bad = check_states(page, {i: "up" for i in ids})
        f.expect(not bad, "with ?token= the page shows the members %s" % "; ".join(bad))
    finally:
        b.close()
        srv.terminate()
        srv.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    print("dashboard_test: %d checks failed, %.1f s, screenshots in %s" % (len(f.lines), time.monotonic() - t0, a.out))
    return 1 if f.lines else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--chromium", default="chromium")
    p.add_argument("--budget-ms", type=int, default=3000, help="virtual time each page gets")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="check a running dashboard")
    c.add_argument("url")
    c.add_argument("--expect", action="append", default=[], metavar="MEMBER=STATE")
    c.add_argument("--token")
    c.add_argument("--screenshot")
    x = sub.add_parser("fixture", help="check the page against serve.py and a fixture")
    x.add_argument("--root", required=True)
    x.add_argument("--fixture", required=True)
    x.add_argument("--out", required=True)
    x.add_argument("--port", type=int, default=0)
    a = p.parse_args()
    return cmd_check(a) if a.cmd == "check" else cmd_fixture(a)


if __name__ == "__main__":
    sys.exit(main())
