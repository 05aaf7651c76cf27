/* fedbus.c — the fedbus command line: publish, tail, replay. */
#include "fb_config.h"
#include "fb_time.h"
#include "fedbus/fedbus.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char node[256];
    char feed[256];
    char replay[256];
    long long timeout_ms;
    long long from_seq;
    long long count;
    long long idle_s;
    char since[64];
    long long limit;
    int quiet;
    char format[16];
    char lang[8];
} s_opts_t;

#define S_STR(f) offsetof(s_opts_t, f), sizeof(((s_opts_t *)0)->f)
#define S_INT(f) offsetof(s_opts_t, f), 0

static const fb_cfg_key_t s_publish_keys[] = {
    {"node", FB_CFG_STR, S_STR(node), "tcp://127.0.0.1:7711", 0, 0, "the node's submit endpoint"},
    {"timeout-ms", FB_CFG_INT, S_INT(timeout_ms), "15000", 1, 3600000, "wait this long for each ack"},
    {"quiet", FB_CFG_BOOL, S_INT(quiet), "false", 0, 0, "print rejects only"},
    FB_CFG_END,
};

static const fb_cfg_key_t s_tail_keys[] = {
    {"feed", FB_CFG_STR, S_STR(feed), FB_DEFAULT_FEED, 0, 0, "broker feed endpoint"},
    {"replay", FB_CFG_STR, S_STR(replay), FB_DEFAULT_REPLAY, 0, 0, "broker replay endpoint"},
    {"from-seq", FB_CFG_INT, S_INT(from_seq), "0", 0, INT64_MAX,
     "print stored history from this global_seq first (0 = live only)"},
    {"count", FB_CFG_INT, S_INT(count), "0", 0, INT64_MAX, "exit after this many messages (0 = never)"},
    {"idle", FB_CFG_INT, S_INT(idle_s), "0", 0, 86400, "exit after this many seconds without a message (0 = never)"},
    {"format", FB_CFG_STR, S_STR(format), "json", 0, 0, "json (one object per line) or text (one readable line)"},
    {"lang", FB_CFG_STR, S_STR(lang), "ko", 0, 0, "language of titles in text format: ko or en"},
    FB_CFG_END,
};

static const fb_cfg_key_t s_replay_keys[] = {
    {"replay", FB_CFG_STR, S_STR(replay), FB_DEFAULT_REPLAY, 0, 0, "broker replay endpoint"},
    {"from-seq", FB_CFG_INT, S_INT(from_seq), "1", 0, INT64_MAX, "first global_seq"},
    {"since", FB_CFG_STR, S_STR(since), "", 0, 0, "only messages stored at or after this RFC 3339 time"},
    {"limit", FB_CFG_INT, S_INT(limit), "0", 0, UINT32_MAX, "at most this many messages (0 = all)"},
    {"timeout-ms", FB_CFG_INT, S_INT(timeout_ms), "10000", 1, 3600000, "wait this long for each chunk"},
    {"format", FB_CFG_STR, S_STR(format), "json", 0, 0, "json (one object per line) or text (one readable line)"},
    {"lang", FB_CFG_STR, S_STR(lang), "ko", 0, 0, "language of titles in text format: ko or en"},
    FB_CFG_END,
};

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: fedbus COMMAND [options] [arguments]\n"
            "\n"
            "Commands:\n"
            "  publish PATH...   publish JSON messages (files, directories of *.json, or - for stdin)\n"
            "                    through the local node\n"
            "  tail PATTERN...   print live messages matching the patterns as JSON lines\n"
            "  replay [PATTERN...]  print stored history as JSON lines\n"
            "\n"
            "Patterns: kind.origin.category with '*' for any segment, shorter = broader:\n"
            "  cfp                  every call for proposals\n"
            "  '*.kr-incheon'       everything from Incheon\n"
            "  cfp.kr-daejeon.bio   calls in bio from Daejeon\n"
            "\n"
            "'fedbus COMMAND --help' lists the options of a command.\n");
}

static int s_parse(const char *cmd, const fb_cfg_key_t *keys, s_opts_t *o, int argc, char **argv,
                   int *nargs, const char *synopsis)
{
    char err[256];
    int rc = fb_config_load(keys, o, argc, argv, nargs, err, sizeof(err));
    if (rc == 1) {
        printf("usage: fedbus %s [options] %s\n\nOptions:\n", cmd, synopsis);
        fb_config_help(keys, stdout);
        exit(0);
    }
    if (rc < 0) {
        fprintf(stderr, "fedbus %s: %s\n", cmd, err);
        exit(2);
    }
    return 0;
}

/* ------------------------------------------------------------- publish --- */

typedef struct {
    fb_publisher_t *pub;
    s_opts_t *o;
    int ok, rejected, failed;
} s_pub_ctx_t;

static char *s_read_all(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        if (n == cap && !(buf = realloc(buf, cap *= 2))) return NULL;
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* The messages of one `fedbus publish`: every file read first, then all
 * published at once (as batches, in order). */
typedef struct {
    char **names, **texts;
    size_t *lens;
    size_t n, cap;
} s_items_t;

static void s_read_file(s_pub_ctx_t *c, s_items_t *it, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        c->failed++;
        fprintf(stderr, "fedbus publish: %s: %s\n", path, strerror(errno));
        return;
    }
    size_t len = 0;
    char *text = s_read_all(f, &len);
    if (f != stdin) fclose(f);
    if (!text) {
        c->failed++;
        fprintf(stderr, "fedbus publish: %s: cannot read\n", path);
        return;
    }
    if (it->n == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 64;
        char **nn = realloc(it->names, cap * sizeof(*nn)), **tt = nn ? realloc(it->texts, cap * sizeof(*tt)) : NULL;
        if (nn) it->names = nn;
        if (tt) it->texts = tt;
        size_t *ll = tt ? realloc(it->lens, cap * sizeof(*ll)) : NULL;
        if (ll) it->lens = ll;
        if (!nn || !tt || !ll) {
            c->failed++;
            fprintf(stderr, "fedbus publish: %s: out of memory\n", path);
            free(text);
            return;
        }
        it->cap = cap;
    }
    it->names[it->n] = strdup(path);
    it->texts[it->n] = text;
    it->lens[it->n] = len;
    it->n++;
}

static int s_json_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static void s_read_path(s_pub_ctx_t *c, s_items_t *it, const char *path)
{
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        struct dirent **list;
        int n = scandir(path, &list, s_json_name, alphasort);
        if (n < 0) {
            c->failed++;
            fprintf(stderr, "fedbus publish: %s: %s\n", path, strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            char full[4096];
            snprintf(full, sizeof(full), "%s/%s", path, list[i]->d_name);
            if (!s_stop) s_read_file(c, it, full);
            free(list[i]);
        }
        free(list);
        return;
    }
    s_read_file(c, it, path);
}

/* Reports what became of one message, as one line. */
static void s_report(s_pub_ctx_t *c, const char *name, int rc, const fb_ack_t *ack)
{
    if (rc == FB_OK) {
        c->ok++;
        if (!c->o->quiet)
            printf("%s global_seq=%llu origin_seq=%llu id=%s %s\n",
                   ack->status == FB_ACK_DUPLICATE ? "duplicate" : "accepted",
                   (unsigned long long)ack->global_seq, (unsigned long long)ack->origin_seq,
                   ack->message_id, name);
    } else if (rc == FB_EREJECTED) {
        c->rejected++;
        printf("rejected %s: %s %s\n", ack->reason_name, ack->detail, name);
    } else {
        c->failed++;
        fprintf(stderr, "fedbus publish: %s: %s%s%s\n", name, fb_strerror(rc), ack->detail[0] ? ": " : "",
                ack->detail);
    }
    fflush(stdout);
}

/* One message goes alone; several go as batches, one round trip for many. */
static void s_publish_items(s_pub_ctx_t *c, const s_items_t *it)
{
    if (it->n == 0) return;
    fb_ack_t *acks = calloc(it->n, sizeof(*acks));
    int *rcs = calloc(it->n, sizeof(*rcs));
    if (!acks || !rcs) {
        c->failed += (int)it->n;
        fprintf(stderr, "fedbus publish: out of memory\n");
    } else if (it->n == 1) {
        rcs[0] = fb_publisher_send_json(c->pub, it->texts[0], it->lens[0], &acks[0], (int)c->o->timeout_ms);
        s_report(c, it->names[0], rcs[0], &acks[0]);
    } else {
        fb_publisher_send_json_many(c->pub, (const char *const *)it->texts, it->lens, it->n, acks, rcs,
                                    (int)c->o->timeout_ms);
        for (size_t i = 0; i < it->n; i++) s_report(c, it->names[i], rcs[i], &acks[i]);
    }
    free(acks);
    free(rcs);
}

static int s_cmd_publish(int argc, char **argv)
{
    s_opts_t o;
    int nargs;
    memset(&o, 0, sizeof(o));
    s_parse("publish", s_publish_keys, &o, argc, argv, &nargs, "PATH...");
    if (nargs == 0) {
        fprintf(stderr, "fedbus publish: name at least one file, directory or - (see --help)\n");
        return 2;
    }
    s_pub_ctx_t c = {fb_publisher_new(o.node), &o, 0, 0, 0};
    if (!c.pub) {
        fprintf(stderr, "fedbus publish: cannot connect to %s\n", o.node);
        return 1;
    }
    s_items_t items = {0};
    for (int i = 1; i <= nargs && !s_stop; i++) s_read_path(&c, &items, argv[i]);
    if (!s_stop) s_publish_items(&c, &items);
    for (size_t i = 0; i < items.n; i++) {
        free(items.names[i]);
        free(items.texts[i]);
    }
    free(items.names);
    free(items.texts);
    free(items.lens);
    fb_publisher_destroy(&c.pub);
    if (!o.quiet || c.rejected || c.failed)
        fprintf(stderr, "fedbus publish: %d confirmed, %d rejected, %d failed\n", c.ok, c.rejected, c.failed);
    return c.rejected || c.failed ? 1 : 0;
}

/* ---------------------------------------------------------- tail/replay -- */

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
    const s_opts_t *o = arg;
    if (strcmp(o->format, "text") == 0) {
        printf("#%-6llu %-40s %s\n", (unsigned long long)msg->global_seq, msg->topic,
               fb_message_title(msg, o->lang));
        return s_stop ? 1 : 0;
    }
    char *line = fb_message_json(msg);
    if (!line) return -1;
    puts(line);
    free(line);
    return s_stop ? 1 : 0;
}

static int s_check_format(const char *cmd, const s_opts_t *o)
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

static int s_cmd_tail(int argc, char **argv)
{
    s_opts_t o;
    int nargs;
    memset(&o, 0, sizeof(o));
    s_parse("tail", s_tail_keys, &o, argc, argv, &nargs, "PATTERN...");
    if (nargs == 0) {
        fprintf(stderr, "fedbus tail: name at least one pattern, e.g. cfp or '*.kr-incheon' (see --help)\n");
        return 2;
    }
    if (s_check_patterns("tail", nargs, argv) || s_check_format("tail", &o)) return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    fb_subscriber_t *sub = fb_subscriber_new(o.feed, o.replay);
    if (!sub) {
        fprintf(stderr, "fedbus tail: cannot connect to %s\n", o.feed);
        return 1;
    }
    for (int i = 1; i <= nargs; i++) fb_subscriber_add(sub, argv[i]);
    if (o.from_seq > 0) fb_subscriber_from(sub, (uint64_t)o.from_seq);
    long long seen = 0;
    int64_t last = fb_time_mono_us(), rc = 0;
    while (!s_stop && (o.count == 0 || seen < o.count)) {
        fb_message_t msg;
        int r = fb_subscriber_recv(sub, &msg, 200);
        if (r == FB_OK) {
            s_print(&msg, &o);
            seen++;
            last = fb_time_mono_us();
        } else if (r == FB_ETIMEOUT || r == FB_EINTR) {
            if (o.idle_s && fb_time_mono_us() - last > o.idle_s * 1000000) break;
        } else {
            fprintf(stderr, "fedbus tail: %s\n", fb_strerror(r));
            rc = 1;
            break;
        }
    }
    fb_subscriber_destroy(&sub);
    return (int)rc;
}

static int s_cmd_replay(int argc, char **argv)
{
    s_opts_t o;
    int nargs;
    int64_t since = 0;
    int off;
    memset(&o, 0, sizeof(o));
    s_parse("replay", s_replay_keys, &o, argc, argv, &nargs, "[PATTERN...]");
    if (s_check_patterns("replay", nargs, argv) || s_check_format("replay", &o)) return 2;
    if (o.since[0] && fb_time_parse(o.since, &since, &off) != 0) {
        fprintf(stderr, "fedbus replay: --since: '%s' is not an RFC 3339 time such as 2026-03-01T00:00:00+09:00\n",
                o.since);
        return 2;
    }
    int rc = fb_replay(o.replay, (const char *const *)argv + 1, nargs, (uint64_t)o.from_seq, since,
                       (uint32_t)o.limit, s_print, &o, (int)o.timeout_ms);
    fflush(stdout);
    if (rc != FB_OK) {
        fprintf(stderr, "fedbus replay: %s\n", fb_strerror(rc));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("fedbus %s\n", fb_version());
        return 0;
    }
    if (!strcmp(argv[1], "publish")) return s_cmd_publish(argc - 1, argv + 1);
    if (!strcmp(argv[1], "tail")) return s_cmd_tail(argc - 1, argv + 1);
    if (!strcmp(argv[1], "replay")) return s_cmd_replay(argc - 1, argv + 1);
    fprintf(stderr, "fedbus: unknown command '%s' (see fedbus --help)\n", argv[1]);
    return 2;
}
