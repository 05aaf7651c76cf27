/* fb_cli_read.c — `fedbus tail` and `fedbus replay`: messages from the broker's feed and history, printed.
 *
 * `fedbus tail --durable=NAME` keeps its cursor (fb_subscriber_position())
 * in STATE_DIR/NAME.cursor, written every S_SAVE_US and at exit (temporary
 * file, fsync, rename), and starts after it: a kill loses nothing, and
 * repeats at most what was printed in the last S_SAVE_US. Messages the
 * broker's retention dropped before tail could print them are reported on
 * stderr, with their global_seqs, and end it (exit 1) unless --skip-lost. */
#include "fb_cli.h"
#include "fb_curve.h"
#include "fb_time.h"
#include "fedbus/fedbus.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_SAVE_US 200000   /* how often a durable tail writes its cursor */
#define S_REPORT_US 1000000 /* how often repairs are reported on stderr */

/* tail's options: the shared ones, then its own (offsets from the start of
 * this struct, which begins with the shared ones). */
typedef struct {
    fb_cli_opts_t o;
    char durable[65];
    char state_dir[512];
    int skip_lost;
} s_tail_opts_t;

#define S_TAIL_STR(f) offsetof(s_tail_opts_t, f), sizeof(((s_tail_opts_t *)0)->f)

static const fb_cfg_key_t s_tail_keys[] = {
    {"feed", FB_CFG_STR, FB_CLI_STR(feed), FB_DEFAULT_FEED, 0, 0, "broker feed endpoint"},
    {"replay", FB_CFG_STR, FB_CLI_STR(replay), FB_DEFAULT_REPLAY, 0, 0, "broker replay endpoint"},
    {"from-seq", FB_CFG_INT, FB_CLI_INT(from_seq), "0", 0, INT64_MAX,
     "print stored history from this global_seq first (0 = live only)"},
    {"count", FB_CFG_INT, FB_CLI_INT(count), "0", 0, INT64_MAX, "exit after this many messages (0 = never)"},
    {"idle", FB_CFG_INT, FB_CLI_INT(idle_s), "0", 0, 86400, "exit after this many seconds without a message (0 = never)"},
    {"format", FB_CFG_STR, FB_CLI_STR(format), "json", 0, 0, "json (one object per line) or text (one readable line)"},
    {"lang", FB_CFG_STR, FB_CLI_STR(lang), "ko", 0, 0, "language of titles in text format: ko or en"},
    {"durable", FB_CFG_STR, S_TAIL_STR(durable), "", 0, 0,
     "keep the cursor under this name (letters, digits, . _ -) and start after it next time"},
    {"state-dir", FB_CFG_STR, S_TAIL_STR(state_dir), "", 0, 0,
     "where durable cursors live (default $XDG_STATE_HOME/fedbus or ~/.local/state/fedbus)"},
    {"skip-lost", FB_CFG_BOOL, offsetof(s_tail_opts_t, skip_lost), 0, "false", 0, 0,
     "when messages to print were dropped by the broker's retention, say so on stderr and go on (default: exit 1)"},
    {"keys", FB_CFG_STR, FB_CLI_STR(keys), "", 0, 0,
     "this member's secret key file: the broker is reached with CURVE (with broker-key; also FEDBUS_KEYS)"},
    {"broker-key", FB_CFG_STR, FB_CLI_STR(broker_key), "", 0, 0,
     "the broker's public key: its .pub file or 40 characters of Z85 (also FEDBUS_BROKER_KEY)"},
    FB_CFG_END,
};

static const fb_cfg_key_t s_replay_keys[] = {
    {"replay", FB_CFG_STR, FB_CLI_STR(replay), FB_DEFAULT_REPLAY, 0, 0, "broker replay endpoint"},
    {"from-seq", FB_CFG_INT, FB_CLI_INT(from_seq), "0", 0, INT64_MAX,
     "first global_seq (0 = the oldest the broker keeps)"},
    {"since", FB_CFG_STR, FB_CLI_STR(since), "", 0, 0, "only messages stored at or after this RFC 3339 time"},
    {"limit", FB_CFG_INT, FB_CLI_INT(limit), "0", 0, UINT32_MAX, "at most this many messages (0 = all)"},
    {"timeout-ms", FB_CFG_INT, FB_CLI_INT(timeout_ms), "10000", 1, 3600000, "wait this long for each chunk"},
    {"format", FB_CFG_STR, FB_CLI_STR(format), "json", 0, 0, "json (one object per line) or text (one readable line)"},
    {"lang", FB_CFG_STR, FB_CLI_STR(lang), "ko", 0, 0, "language of titles in text format: ko or en"},
    {"keys", FB_CFG_STR, FB_CLI_STR(keys), "", 0, 0,
     "this member's secret key file: the broker is reached with CURVE (with broker-key; also FEDBUS_KEYS)"},
    {"broker-key", FB_CFG_STR, FB_CLI_STR(broker_key), "", 0, 0,
     "the broker's public key: its .pub file or 40 characters of Z85 (also FEDBUS_BROKER_KEY)"},
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

static int s_print(const fb_message_t *msg, void *arg)
{
    const fb_cli_opts_t *o = arg;
    if (strcmp(o->format, "text") == 0) {
        printf("#%-6llu %-40s %s\n", (unsigned long long)msg->global_seq, msg->topic,
               fb_message_title(msg, o->lang));
        return fb_cli_stop ? 1 : 0;
    }
    char *line = fb_message_json(msg);
    if (!line) return -1;
    puts(line);
    free(line);
    return fb_cli_stop ? 1 : 0;
}

static int s_check_format(const char *cmd, const fb_cli_opts_t *o)
{
    if (strcmp(o->format, "json") && strcmp(o->format, "text")) {
        fprintf(stderr, "fedbus %s: --format: '%s' is neither json nor text\n", cmd, o->format);
        return -1;
    }
    if (strcmp(o->lang, "ko") && strcmp(o->lang, "en")) {
        fprintf(stderr, "fedbus %s: --lang: '%s' is neither ko nor en\n", cmd, o->lang);
        return -1;
    }
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
    return "";
}

/* ------------------------------------------------------ durable cursor --- */

/* Makes dir and its parents (mode 0700); returns 0 or -1. */
static int s_mkdirs(char *dir)
{
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            int rc = mkdir(dir, 0700);
            *p = '/';
            if (rc != 0 && errno != EEXIST) return -1;
        }
    return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* Sets path to the cursor file of o->durable, making its directory;
 * returns 0, or -1 after saying why. */
static int s_cursor_path(const s_tail_opts_t *o, char *path, size_t size)
{
    char dir[600];
    const char *n = o->durable, *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int ok = n[0] && n[0] != '.';
    for (const char *c = n; *c; c++) ok &= isalnum((unsigned char)*c) || *c == '.' || *c == '_' || *c == '-';
    if (!ok) {
        fprintf(stderr, "fedbus tail: --durable: '%s' is not a name of letters, digits, '.', '_' and '-'\n", n);
        return -1;
    }
    if (o->state_dir[0]) snprintf(dir, sizeof(dir), "%s", o->state_dir);
    else if (xdg && xdg[0] == '/') snprintf(dir, sizeof(dir), "%s/fedbus", xdg);
    else if (home && home[0]) snprintf(dir, sizeof(dir), "%s/.local/state/fedbus", home);
    else snprintf(dir, sizeof(dir), ".");
    if (s_mkdirs(dir) != 0) {
        fprintf(stderr, "fedbus tail: cannot make %s: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(path, size, "%s/%s.cursor", dir, n);
    return 0;
}

/* Reads the cursor at path into *pos: returns 1, 0 when there is none yet,
 * or -1 after saying why (a file that is not a cursor is not overwritten). */
static int s_cursor_load(const char *path, uint64_t *pos)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        fprintf(stderr, "fedbus tail: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned long long v;
    char nl = 0;
    int n = fscanf(f, "%llu%c", &v, &nl);
    fclose(f);
    if (n != 2 || nl != '\n') {
        fprintf(stderr, "fedbus tail: %s is not a cursor (one global_seq and a newline); remove it to start afresh\n",
                path);
        return -1;
    }
    *pos = v;
    return 1;
}

/* Writes pos to path through a temporary file, fsync and rename, so that
 * a crash leaves the old cursor or the new one. Returns 0 or -1. */
static int s_cursor_save(const char *path, uint64_t pos)
{
    char tmp[700], line[32];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int len = snprintf(line, sizeof(line), "%llu\n", (unsigned long long)pos);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    int ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- tail --- */

/* What one run of tail keeps between messages. */
typedef struct {
    fb_subscriber_t *sub;
    const char *cursor;     /* durable: the cursor file; else NULL */
    uint64_t saved;         /* the position last written */
    uint64_t reported;      /* repairs last reported */
    int64_t next_save_us, next_report_us;
} s_tail_t;

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
    if (!t->cursor || (!now && us < t->next_save_us)) return 0;
    t->next_save_us = us + S_SAVE_US;
    uint64_t pos = fb_subscriber_position(t->sub);
    if (pos == t->saved) return 0;
    /* What the cursor covers must be out of this process first. */
    if (fflush(stdout) != 0 || s_cursor_save(t->cursor, pos) != 0) {
        fprintf(stderr, "fedbus tail: cannot write %s: %s\n", t->cursor, strerror(errno));
        return -1;
    }
    t->saved = pos;
    return 0;
}

/* Starts sub where the cursor (or --from-seq) says; returns 0 or -1. */
static int s_tail_start(s_tail_t *t, const s_tail_opts_t *to, char *path, size_t size)
{
    uint64_t pos = 0;
    int have = 0;
    if (to->durable[0]) {
        if (s_cursor_path(to, path, size) != 0 || (have = s_cursor_load(path, &pos)) < 0) return -1;
        t->cursor = path;
        t->saved = pos;
    }
    if (have) return fb_subscriber_from(t->sub, pos + 1) == FB_OK ? 0 : -1;
    if (to->o.from_seq > 0) return fb_subscriber_from(t->sub, (uint64_t)to->o.from_seq) == FB_OK ? 0 : -1;
    return 0;
}

int fb_cli_tail(int argc, char **argv)
{
    s_tail_opts_t to;
    fb_cli_opts_t *o = &to.o;
    int nargs;
    memset(&to, 0, sizeof(to));
    fb_cli_parse("tail", s_tail_keys, o, argc, argv, &nargs, "PATTERN...");
    if (nargs == 0) {
        fprintf(stderr, "fedbus tail: name at least one pattern, e.g. cfp or '*.kr-incheon' (see --help)\n");
        return 2;
    }
    if (s_check_patterns("tail", nargs, argv) || s_check_format("tail", o)) return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    s_tail_t t = {0};
    char path[700];
    fb_curve_t c;
    fb_endpoint_opts_t feed, replay;
    if (s_endpoint("tail", o, &c, o->feed, &feed) != 0) return 2;
    s_endpoint("tail", o, &c, o->replay, &replay);
    t.sub = fb_subscriber_open(&feed, &replay);
    fb_curve_clear(&c);
    if (!t.sub) {
        fprintf(stderr, "fedbus tail: cannot connect to %s\n", o->feed);
        return 1;
    }
    for (int i = 1; i <= nargs; i++) fb_subscriber_add(t.sub, argv[i]);
    int rc = s_tail_start(&t, &to, path, sizeof(path)) == 0 ? 0 : 1;
    long long seen = 0;
    int64_t last = fb_time_mono_us();
    while (!rc && !fb_cli_stop && (o->count == 0 || seen < o->count)) {
        fb_message_t msg;
        int r = fb_subscriber_recv(t.sub, &msg, 200);
        if (r == FB_OK) {
            s_print(&msg, o);
            seen++;
            last = fb_time_mono_us();
        } else if (r == FB_ETIMEOUT || r == FB_EINTR) {
            if (o->idle_s && fb_time_mono_us() - last > o->idle_s * 1000000) break;
        } else if (r == FB_ELOST) {
            uint64_t first, lastseq;
            fb_subscriber_lost(t.sub, &first, &lastseq);
            fprintf(stderr,
                    "fedbus tail: global_seq %llu to %llu were dropped by the broker's retention before they could be"
                    " printed: the messages among them are lost%s\n",
                    (unsigned long long)first, (unsigned long long)lastseq, to.skip_lost ? "" : " (--skip-lost goes on)");
            if (!to.skip_lost) rc = 1;
        } else {
            fprintf(stderr, "fedbus tail: %s%s%s\n", r == FB_ESTORE ? "cannot repair a gap in the feed: " : "",
                    fb_strerror(r), s_hint(r, &c));
            rc = 1;
        }
        if (s_tail_tick(&t, 0) != 0) rc = 1;
    }
    if (s_tail_tick(&t, 1) != 0) rc = 1;
    fb_subscriber_destroy(&t.sub);
    return rc;
}

int fb_cli_replay(int argc, char **argv)
{
    fb_cli_opts_t o;
    int nargs;
    int64_t since = 0;
    int off;
    fb_cli_parse("replay", s_replay_keys, &o, argc, argv, &nargs, "[PATTERN...]");
    if (s_check_patterns("replay", nargs, argv) || s_check_format("replay", &o)) return 2;
    if (o.since[0] && fb_time_parse(o.since, &since, &off) != 0) {
        fprintf(stderr, "fedbus replay: --since: '%s' is not an RFC 3339 time such as 2026-03-01T00:00:00+09:00\n",
                o.since);
        return 2;
    }
    fb_curve_t c;
    fb_endpoint_opts_t e;
    if (s_endpoint("replay", &o, &c, o.replay, &e) != 0) return 2;
    int rc = fb_replay_opts(&e, (const char *const *)argv + 1, nargs, (uint64_t)o.from_seq, since,
                            (uint32_t)o.limit, s_print, &o, (int)o.timeout_ms);
    fb_curve_clear(&c);
    fflush(stdout);
    if (rc == FB_ELOST) {
        fprintf(stderr, "fedbus replay: history from %s is beyond the broker's retention (dropped);"
                        " --from-seq=0 starts at the oldest message kept\n", o.since[0] ? "--since" : "--from-seq");
        return 1;
    }
    if (rc != FB_OK) {
        fprintf(stderr, "fedbus replay: %s%s\n", fb_strerror(rc), s_hint(rc, &c));
        return 1;
    }
    return 0;
}
