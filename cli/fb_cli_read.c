/* fb_cli_read.c — `fedbus tail` and `fedbus replay`: messages from the broker's feed and history, printed.
 *
 * Both ask first what answers at their endpoints (fb_cli_probe.c), so a
 * mistake is said in a second or two: replay stops (exit 1 when nothing
 * answers, 2 when it is the wrong kind of socket); tail, which outlives
 * broker restarts, warns on stderr while it cannot reach the broker and
 * says when it is subscribed.
 *
 * `fedbus tail --durable=NAME` keeps its cursor (fb_cli_cursor.c), written
 * every S_SAVE_US and at exit, and starts after it: a kill loses nothing,
 * and repeats at most what was printed in the last S_SAVE_US. Messages the
 * broker's retention dropped before tail could print them are reported on
 * stderr, with their global_seqs, and end it (exit 1) unless --skip-lost. */
#include "fb_cli.h"
#include "fb_cli_cursor.h"
#include "fb_cli_print.h"
#include "fb_cli_probe.h"
#include "fb_curve.h"
#include "fb_signed_dir.h"
#include "fb_time.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_SAVE_US 200000     /* how often a durable tail writes its cursor */
#define S_REPORT_US 1000000  /* how often repairs are reported on stderr */
#define S_RETRY_US 1000000   /* while the broker is not reached: how often tail looks again */
#define S_WATCH_US 3000000   /* while no message comes: how often tail checks the broker is there */

/* tail's options: the shared ones, then its own (offsets from the start of
 * this struct, which begins with the shared ones). */
typedef struct {
    fb_cli_opts_t o;
    char durable[65];
    char state_dir[512];
    int skip_lost;
} s_tail_opts_t;

#define S_TAIL_STR(f) offsetof(s_tail_opts_t, f), sizeof(((s_tail_opts_t *)0)->f)

#define S_KEYS_KEYS                                                                                           \
    {"keys", FB_CFG_STR, FB_CLI_STR(keys), "", 0, 0,                                                          \
     "this member's secret key file: the broker is reached with CURVE (with broker-key; also FEDBUS_KEYS)"},  \
    {"broker-key", FB_CFG_STR, FB_CLI_STR(broker_key), "", 0, 0,                                              \
     "the broker's public key: its .pub file or 40 characters of Z85 (also FEDBUS_BROKER_KEY)"}

#define S_VERIFY_KEY                                                                                         \
    {"no-verify", FB_CFG_BOOL, FB_CLI_INT(no_verify), "false", 0, 0,                                         \
     "print messages without checking their origin's signature (default: checked; see below)"},              \
    {"directory", FB_CFG_STR, FB_CLI_STR(directory), "", 0, 0,                                                \
     "check against the keys of this member directory file (`fedbus member export-directory`, best --sign)"  \
     " instead of the directory the broker serves"},                                                          \
    {"directory-key", FB_CFG_STR, FB_CLI_STR(directory_key), "", 0, 0,                                        \
     "the broker's key file (.pub or .key): --directory must be signed with it"}

/* What --help says after the options of tail and replay. */
#define S_VERIFY_HELP                                                                                         \
    "Every message is checked against its origin's signature (the seal of its frame, with the origin's key\n"  \
    "from the member directory the broker serves over the CURVE link). A message that fails (edited after\n"    \
    "signing, forged, signed with a key outside its window) is not printed: stderr names its message_id,\n"    \
    "origin and why, and the exit status is 3. Messages published unsigned (broker signatures = optional)\n"   \
    "and the broker's own _fedbus.health are printed as they are. --directory (with --directory-key) pins the\n" \
    "keys instead: a directory file the broker's key signed (`fedbus member export-directory --sign`).\n"       \
    "Exit status: 0 done; 1 failed (broker not reached, history lost, ...); 2 a bad option; 3 a message\n"     \
    "failed verification.\n"

#define S_FORMAT_KEYS                                                                                         \
    {"format", FB_CFG_STR, FB_CLI_STR(format), "json", 0, 0,                                                  \
     "json (one object per line), text (time, origin, kind, title; coloured on a terminal unless NO_COLOR);"    \
     " replay also ics (an iCalendar calendar of events, and of calls at their deadline) or jsonfeed (a JSON"  \
     " Feed of events, calls and researcher updates, for feed readers)"},                                     \
    {"pretty", FB_CFG_BOOL, FB_CLI_INT(pretty), "false", 0, 0, "json indented, an object over several lines"}, \
    {"lang", FB_CFG_STR, FB_CLI_STR(lang), "ko", 0, 0, "language of titles in text, ics and jsonfeed: ko or en"}

static const fb_cfg_key_t s_tail_keys[] = {
    {"feed", FB_CFG_STR, FB_CLI_STR(feed), FB_DEFAULT_FEED, 0, 0, "broker feed endpoint (HOST:PORT means tcp://)"},
    {"replay", FB_CFG_STR, FB_CLI_STR(replay), FB_DEFAULT_REPLAY, 0, 0, "broker replay endpoint"},
    {"from-seq", FB_CFG_INT, FB_CLI_INT(from_seq), "0", 0, INT64_MAX,
     "print stored history from this global_seq first (0 = live only)"},
    {"since", FB_CFG_STR, FB_CLI_STR(since), "", 0, 0,
     "print stored history from this time first: " FB_CLI_TIME_HELP},
    {"count", FB_CFG_INT, FB_CLI_INT(count), "0", 0, INT64_MAX, "exit after this many messages (0 = never)"},
    {"idle", FB_CFG_INT, FB_CLI_INT(idle_s), "0", 0, 86400, "exit after this many seconds without a message (0 = never)"},
    S_FORMAT_KEYS,
    {"durable", FB_CFG_STR, S_TAIL_STR(durable), "", 0, 0,
     "keep the cursor under this name (letters, digits, . _ -) and start after it next time"},
    {"state-dir", FB_CFG_STR, S_TAIL_STR(state_dir), "", 0, 0,
     "where durable cursors live (default $XDG_STATE_HOME/fedbus or ~/.local/state/fedbus)"},
    {"skip-lost", FB_CFG_BOOL, offsetof(s_tail_opts_t, skip_lost), 0, "false", 0, 0,
     "when messages to print were dropped by the broker's retention, say so on stderr and go on (default: exit 1)"},
    S_VERIFY_KEY,
    S_KEYS_KEYS,
    FB_CFG_END,
};

static const fb_cfg_key_t s_replay_keys[] = {
    {"replay", FB_CFG_STR, FB_CLI_STR(replay), FB_DEFAULT_REPLAY, 0, 0,
     "broker replay endpoint (HOST:PORT means tcp://)"},
    {"from-seq", FB_CFG_INT, FB_CLI_INT(from_seq), "0", 0, INT64_MAX,
     "first global_seq (0 = the oldest the broker keeps)"},
    {"since", FB_CFG_STR, FB_CLI_STR(since), "", 0, 0, "only messages stored at or after: " FB_CLI_TIME_HELP},
    {"until", FB_CFG_STR, FB_CLI_STR(until), "", 0, 0, "only messages stored at or before: " FB_CLI_TIME_HELP},
    {"limit", FB_CFG_INT, FB_CLI_INT(limit), "0", 0, UINT32_MAX, "at most this many messages (0 = all)"},
    {"count", FB_CFG_BOOL, FB_CLI_INT(count_only), "false", 0, 0, "print how many messages match, not them"},
    {"timeout-ms", FB_CFG_INT, FB_CLI_INT(timeout_ms), "10000", 1, 3600000, "wait this long for each chunk"},
    S_FORMAT_KEYS,
    S_VERIFY_KEY,
    S_KEYS_KEYS,
    FB_CFG_END,
};

static int s_check_patterns(const char *cmd, int nargs, char **argv)
{
    for (int i = 1; i <= nargs; i++) {
        const char *why = NULL;
        if (!fb_pattern_valid(argv[i], &why)) {
            fprintf(stderr, "fedbus %s: pattern '%s': %s\n", cmd, argv[i], why);
            return -1;
        }
    }
    return 0;
}

/* Writes endpoint in its tcp:// form back into itself (size bytes);
 * returns 0, or -1 after saying why. */
static int s_norm(const char *cmd, const char *flag, char *endpoint, size_t size)
{
    char ep[256];
    if (fb_cli_endpoint_norm(endpoint, ep, sizeof(ep)) != 0 || strlen(ep) >= size) {
        fprintf(stderr, "fedbus %s: --%s: '%s' is too long\n", cmd, flag, endpoint);
        return -1;
    }
    snprintf(endpoint, size, "%s", ep);
    return 0;
}

/* Fills e (for endpoint) with o's CURVE keys, read into c; returns 0, or
 * -1 after saying why. */
static int s_endpoint(const char *cmd, const fb_cli_opts_t *o, fb_curve_t *c, const char *endpoint,
                      fb_endpoint_opts_t *e)
{
    char err[600];
    memset(e, 0, sizeof(*e));
    e->endpoint = endpoint;
    if (fb_curve_client(c, o->keys, o->broker_key, err, sizeof(err)) != 0) {
        fprintf(stderr, "fedbus %s: %s\n", cmd, err);
        return -1;
    }
    if (c->on) {
        e->curve_serverkey = c->server_key;
        e->curve_publickey = c->public_key;
        e->curve_secretkey = c->secret_key;
    }
    return 0;
}

/* What a failure means, for a person. */
static const char *s_hint(int rc, const fb_curve_t *c)
{
    if (rc == FB_ETIMEOUT && !c->on) return " (a broker that runs with keys answers only clients given --keys and --broker-key)";
    if (rc == FB_ETIMEOUT) return " (or the broker does not admit this key: is the member registered and active?)";
    if (rc == FB_EREJECTED) return ": NOT_AUTHORIZED (this member is suspended or revoked, or its key changed)";
    if (rc == FB_EPROTO)
        return ": the endpoint answered, but not as a broker's replay endpoint (the broker's ingest, or a node's "
               "submit socket?); see --replay (default " FB_DEFAULT_REPLAY ")";
    return "";
}

/* ---------------------------------------------------------------- tail --- */

/* What one run of tail keeps between messages. */
typedef struct {
    fb_subscriber_t *sub;
    const char *cursor;     /* durable: the cursor file; else NULL */
    uint64_t saved;         /* the position last written */
    uint64_t reported;      /* repairs last reported */
    int64_t next_save_us, next_report_us;
    const char *feed;       /* the feed endpoint, for the broker watch */
    int have_keys, reached; /* reached: the broker's feed answered the last probe */
    int failed;             /* a message failed verification: exit 3 */
    int64_t next_probe_us, last_msg_us;
    char patterns[512];     /* the patterns, for the "subscribed" line */
} s_tail_t;

/* Looks at the broker when due: while it is not reached, every S_RETRY_US;
 * while no message comes, every S_WATCH_US. Says on stderr when it is lost
 * and when it is back (subscribed). */
static void s_tail_watch(s_tail_t *t)
{
    int64_t us = fb_time_mono_us();
    if (us < t->next_probe_us || (t->reached && us - t->last_msg_us < S_WATCH_US)) return;
    char msg[600];
    int rc = fb_cli_check(FB_ROLE_FEED, t->feed, t->have_keys, msg, sizeof(msg));
    t->next_probe_us = us + (rc ? S_RETRY_US : S_WATCH_US);
    if (rc == 0 && !t->reached) fprintf(stderr, "fedbus tail: subscribed to %s at %s\n", t->patterns, t->feed);
    else if (rc != 0 && t->reached) fprintf(stderr, "fedbus tail: warning: %s; still trying\n", msg);
    t->reached = rc == 0;
}

/* Writes the cursor and reports repairs when due (now: whatever the time).
 * Returns 0, or -1 when the cursor cannot be written. */
static int s_tail_tick(s_tail_t *t, int now)
{
    int64_t us = fb_time_mono_us();
    uint64_t rep = fb_subscriber_repaired(t->sub);
    if (rep != t->reported && (now || us >= t->next_report_us)) {
        fprintf(stderr, "fedbus tail: repaired %llu messages from replay\n", (unsigned long long)(rep - t->reported));
        t->reported = rep;
        t->next_report_us = us + S_REPORT_US;
    }
    if (!now) s_tail_watch(t);
    if (!t->cursor || (!now && us < t->next_save_us)) return 0;
    t->next_save_us = us + S_SAVE_US;
    uint64_t pos = fb_subscriber_position(t->sub);
    if (pos == t->saved) return 0;
    /* What the cursor covers must be out of this process first. */
    if (fflush(stdout) != 0 || fb_cli_cursor_save(t->cursor, pos) != 0) {
        fprintf(stderr, "fedbus tail: cannot write %s: %s\n", t->cursor, strerror(errno));
        return -1;
    }
    t->saved = pos;
    return 0;
}

/* Finds the first stored global_seq at or after since_us (any pattern
 * given): sets *seq (0 when none is stored yet). */
static int s_first(const fb_message_t *msg, void *arg)
{
    *(uint64_t *)arg = msg->global_seq;
    return 1;
}

/* Starts sub where the cursor, --since or --from-seq says; returns 0 or -1. */
static int s_tail_start(s_tail_t *t, const s_tail_opts_t *to, const fb_endpoint_opts_t *replay, char *path,
                        size_t size)
{
    uint64_t pos = 0;
    int have = 0;
    if (to->durable[0]) {
        if (fb_cli_cursor_path(to->durable, to->state_dir, path, size) != 0 ||
            (have = fb_cli_cursor_load(path, &pos)) < 0)
            return -1;
        t->cursor = path;
        t->saved = pos;
    }
    if (have) return fb_subscriber_from(t->sub, pos + 1) == FB_OK ? 0 : -1;
    if (to->o.since[0]) {
        int64_t since;
        uint64_t first = 0;
        if (fb_cli_time_parse(to->o.since, &since) != 0) {
            fprintf(stderr, "fedbus tail: --since: '%s' is not a time: give %s\n", to->o.since, FB_CLI_TIME_HELP);
            return -1;
        }
        /* Only where history starts: the messages are checked when printed. */
        int rc = fb_replay_verify(replay, &(fb_verify_options_t){.mode = FB_VERIFY_OFF}, NULL, 0, 0, since, 1, s_first,
                                  &first, 10000);
        if (rc != FB_OK) {
            fprintf(stderr, "fedbus tail: --since: cannot ask %s: %s\n", replay->endpoint, fb_strerror(rc));
            return -1;
        }
        if (first) return fb_subscriber_from(t->sub, first) == FB_OK ? 0 : -1;
        return 0; /* nothing stored since then: live from now */
    }
    if (to->o.from_seq > 0) return fb_subscriber_from(t->sub, (uint64_t)to->o.from_seq) == FB_OK ? 0 : -1;
    return 0;
}

/* Checks --feed (and --replay, when history is asked for) before anything
 * else; returns -1 to go on (t->reached says whether the feed answered),
 * or the exit status. */
static int s_tail_probe(s_tail_t *t, const s_tail_opts_t *to)
{
    char msg[600];
    int rc = fb_cli_check(FB_ROLE_FEED, to->o.feed, t->have_keys, msg, sizeof(msg));
    if (rc >= 2) {
        fprintf(stderr, "fedbus tail: %s\n", msg);
        return rc == 3 ? 1 : 2;
    }
    if (rc == 1) fprintf(stderr, "fedbus tail: warning: %s; still trying\n", msg);
    t->reached = rc == 0;
    if (to->o.from_seq || to->o.since[0] || to->durable[0]) {
        int r = fb_cli_check(FB_ROLE_REPLAY, to->o.replay, t->have_keys, msg, sizeof(msg));
        if (r >= 2 || (r == 1 && to->o.since[0])) {
            fprintf(stderr, "fedbus tail: %s\n", msg);
            return r == 2 ? 2 : 1;
        }
    }
    return -1;
}

/* The keys of --directory into *keys (NULL, 0: none given); returns 0, or
 * -1 after saying why. */
static int s_pinned(const char *cmd, const fb_cli_opts_t *o, fb_signing_key_t **keys, size_t *n)
{
    char err[600];
    *keys = NULL;
    *n = 0;
    if (!o->directory[0] && o->directory_key[0]) {
        fprintf(stderr, "fedbus %s: --directory-key checks a --directory: give one\n", cmd);
        return -1;
    }
    if (!o->directory[0]) return 0;
    if (fb_signed_dir_load_keys(o->directory, o->directory_key, keys, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "fedbus %s: %s\n", cmd, err);
        return -1;
    }
    return 0;
}

/* Says on stderr that msg failed verification. */
static void s_report_failed(const char *cmd, const fb_message_t *msg)
{
    fprintf(stderr, "fedbus %s: message %s from %s (global_seq %llu, origin_seq %llu) failed verification: %s\n", cmd,
            msg->message_id[0] ? msg->message_id : "-", msg->origin, (unsigned long long)msg->global_seq,
            (unsigned long long)msg->origin_seq, fb_message_verify_detail(msg));
}

/* Receives and prints until done; returns the exit status. */
static int s_tail_loop(s_tail_t *t, const s_tail_opts_t *to, fb_cli_out_t *out, const fb_curve_t *c)
{
    const fb_cli_opts_t *o = &to->o;
    int rc = 0;
    t->last_msg_us = fb_time_mono_us();
    while (!rc && !fb_cli_stop && (o->count == 0 || out->printed < o->count)) {
        fb_message_t msg;
        int r = fb_subscriber_recv(t->sub, &msg, 200);
        if (r == FB_OK) {
            if (!t->reached) fprintf(stderr, "fedbus tail: subscribed to %s at %s\n", t->patterns, t->feed);
            t->reached = 1;
            fb_cli_out_print(&msg, out);
            t->last_msg_us = fb_time_mono_us();
        } else if (r == FB_EVERIFY) {
            s_report_failed("tail", &msg);
            t->failed = 1;
            t->last_msg_us = fb_time_mono_us();
        } else if (r == FB_ETIMEOUT || r == FB_EINTR) {
            if (o->idle_s && fb_time_mono_us() - t->last_msg_us > o->idle_s * 1000000) break;
        } else if (r == FB_ELOST) {
            uint64_t first, lastseq;
            fb_subscriber_lost(t->sub, &first, &lastseq);
            fprintf(stderr,
                    "fedbus tail: global_seq %llu to %llu were dropped by the broker's retention before they could be"
                    " printed: the messages among them are lost%s\n",
                    (unsigned long long)first, (unsigned long long)lastseq, to->skip_lost ? "" : " (--skip-lost goes on)");
            if (!to->skip_lost) rc = 1;
        } else {
            fprintf(stderr, "fedbus tail: %s%s%s\n", r == FB_ESTORE ? "cannot repair a gap in the feed: " : "",
                    fb_strerror(r), s_hint(r, c));
            rc = 1;
        }
        if (s_tail_tick(t, 0) != 0) rc = 1;
    }
    if (s_tail_tick(t, 1) != 0) rc = 1;
    return rc ? rc : t->failed ? 3 : 0;
}

int fb_cli_tail(int argc, char **argv)
{
    static s_tail_opts_t to;
    fb_cli_opts_t *o = &to.o;
    int nargs;
    memset(&to, 0, sizeof(to));
    fb_cli_parse_help("tail", s_tail_keys, o, argc, argv, &nargs, "PATTERN...", S_VERIFY_HELP);
    if (nargs == 0) {
        fprintf(stderr, "fedbus tail: name at least one pattern, e.g. cfp or '*.kr-incheon' (see --help)\n");
        return 2;
    }
    fb_cli_out_t out;
    if (s_check_patterns("tail", nargs, argv) || fb_cli_out_init(&out, "tail", o->format, o->lang, o->pretty, 0) ||
        s_norm("tail", "feed", o->feed, sizeof(o->feed)) || s_norm("tail", "replay", o->replay, sizeof(o->replay)))
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    s_tail_t t = {0};
    char path[700];
    fb_curve_t c;
    fb_endpoint_opts_t feed, replay;
    fb_signing_key_t *pinned;
    size_t npinned;
    if (s_pinned("tail", o, &pinned, &npinned) != 0) return 2;
    if (s_endpoint("tail", o, &c, o->feed, &feed) != 0) {
        free(pinned);
        return 2;
    }
    s_endpoint("tail", o, &c, o->replay, &replay);
    fb_cli_probe_keys(&c); /* the probes make a handshake with them */
    t.feed = o->feed;
    t.have_keys = c.on;
    for (int i = 1; i <= nargs; i++) {
        size_t n = strlen(t.patterns);
        snprintf(t.patterns + n, sizeof(t.patterns) - n, "%s%s", i > 1 ? ", " : "", argv[i]);
    }
    int rc = s_tail_probe(&t, &to);
    if (rc < 0 && !(t.sub = fb_subscriber_open(&feed, &replay))) {
        fprintf(stderr, "fedbus tail: cannot connect to %s\n", o->feed);
        rc = 1;
    }
    if (rc >= 0) {
        fb_curve_clear(&c);
        free(pinned);
        return rc;
    }
    for (int i = 1; i <= nargs; i++) fb_subscriber_add(t.sub, argv[i]);
    fb_subscriber_set_verify(t.sub, o->no_verify ? FB_VERIFY_OFF : FB_VERIFY_ON);
    if (pinned) fb_subscriber_pin_keys(t.sub, pinned, npinned);
    free(pinned);
    rc = s_tail_start(&t, &to, &replay, path, sizeof(path)) == 0 ? 0 : 1;
    fb_curve_clear(&c);
    if (!rc && t.reached) fprintf(stderr, "fedbus tail: subscribed to %s at %s\n", t.patterns, t.feed);
    t.next_probe_us = fb_time_mono_us() + (t.reached ? S_WATCH_US : S_RETRY_US);
    if (!rc) rc = s_tail_loop(&t, &to, &out, &c);
    fb_subscriber_destroy(&t.sub);
    return rc;
}

/* -------------------------------------------------------------- replay --- */

/* Reads --since and --until into *since and out->until_us; returns 0 or -1
 * after saying why. */
static int s_replay_times(const fb_cli_opts_t *o, int64_t *since, fb_cli_out_t *out)
{
    const char *bad = NULL, *flag = NULL;
    if (o->since[0] && fb_cli_time_parse(o->since, since) != 0) bad = o->since, flag = "since";
    else if (o->until[0] && fb_cli_time_parse(o->until, &out->until_us) != 0) bad = o->until, flag = "until";
    if (bad) {
        fprintf(stderr, "fedbus replay: --%s: '%s' is not a time: give %s (e.g. 2026-03-01T00:00:00+09:00)\n", flag,
                bad, FB_CLI_TIME_HELP);
        return -1;
    }
    if (o->until[0] && o->since[0] && out->until_us < *since) {
        fprintf(stderr, "fedbus replay: --until (%s) is before --since (%s)\n", o->until, o->since);
        return -1;
    }
    return 0;
}

/* replay's printer: what fails verification is reported, not printed. */
typedef struct {
    fb_cli_out_t *out;
    int failed;
} s_replay_print_t;

static int s_replay_print(const fb_message_t *msg, void *arg)
{
    s_replay_print_t *p = arg;
    if (fb_message_verified(msg) != FB_MSG_FAILED) return fb_cli_out_print(msg, p->out);
    s_report_failed("replay", msg);
    p->failed = 1;
    return 0;
}

int fb_cli_replay(int argc, char **argv)
{
    static fb_cli_opts_t o;
    int nargs;
    int64_t since = 0;
    fb_cli_out_t out;
    char msg[600];
    fb_cli_parse_help("replay", s_replay_keys, &o, argc, argv, &nargs, "[PATTERN...]", S_VERIFY_HELP);
    if (s_check_patterns("replay", nargs, argv) || fb_cli_out_init(&out, "replay", o.format, o.lang, o.pretty, 1) ||
        s_norm("replay", "replay", o.replay, sizeof(o.replay)) || s_replay_times(&o, &since, &out))
        return 2;
    out.count_only = o.count_only;
    out.progress = isatty(STDERR_FILENO);
    fb_curve_t c;
    fb_endpoint_opts_t e;
    fb_verify_options_t v = {.mode = o.no_verify ? FB_VERIFY_OFF : FB_VERIFY_ON};
    fb_signing_key_t *pinned;
    if (s_pinned("replay", &o, &pinned, &v.nkeys) != 0) return 2;
    v.keys = pinned;
    if (s_endpoint("replay", &o, &c, o.replay, &e) != 0) {
        free(pinned);
        return 2;
    }
    fb_cli_probe_keys(&c);
    int rc = fb_cli_check(FB_ROLE_REPLAY, o.replay, c.on, msg, sizeof(msg));
    if (rc != 0) {
        fb_curve_clear(&c);
        free(pinned);
        fprintf(stderr, "fedbus replay: %s\n", msg);
        return rc == 2 ? 2 : 1;
    }
    char name[512];
    size_t n = (size_t)snprintf(name, sizeof(name), "fedbus");
    for (int i = 1; i <= nargs && n < sizeof(name); i++)
        n += (size_t)snprintf(name + n, sizeof(name) - n, "%s%s", i == 1 ? ": " : " ", argv[i]);
    if (fb_cli_out_begin(&out, name) != 0) {
        fb_curve_clear(&c);
        free(pinned);
        fprintf(stderr, "fedbus replay: out of memory\n");
        return 1;
    }
    s_replay_print_t pr = {&out, 0};
    rc = fb_replay_verify(&e, &v, (const char *const *)argv + 1, nargs, (uint64_t)o.from_seq, since,
                          (uint32_t)o.limit, s_replay_print, &pr, (int)o.timeout_ms);
    fb_curve_clear(&c);
    free(pinned);
    fb_cli_out_done(&out);
    /* A calendar cut short has no end: a program reading it sees so. */
    if (rc == FB_OK || rc == FB_EVERIFY) fb_cli_out_end(&out);
    if ((rc == FB_OK || rc == FB_EVERIFY) && o.count_only) printf("%lld\n", out.printed);
    fflush(stdout);
    if (rc == FB_ELOST) {
        fprintf(stderr, "fedbus replay: history from %s is beyond the broker's retention (dropped);"
                        " --from-seq=0 starts at the oldest message kept\n", o.since[0] ? "--since" : "--from-seq");
        return 1;
    }
    if (rc == FB_EVERIFY) return 3; /* each one was said on stderr */
    if (rc != FB_OK) {
        fprintf(stderr, "fedbus replay: %s%s\n", fb_strerror(rc), s_hint(rc, &c));
        return 1;
    }
    return 0;
}
