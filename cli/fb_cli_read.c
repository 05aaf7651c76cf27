/* fb_cli_read.c — `fedbus tail` and `fedbus replay`: messages from the broker's feed and history, printed. */
#include "fb_cli.h"
#include "fb_time.h"
#include "fedbus/fedbus.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const fb_cfg_key_t s_tail_keys[] = {
    {"feed", FB_CFG_STR, FB_CLI_STR(feed), FB_DEFAULT_FEED, 0, 0, "broker feed endpoint"},
    {"replay", FB_CFG_STR, FB_CLI_STR(replay), FB_DEFAULT_REPLAY, 0, 0, "broker replay endpoint"},
    {"from-seq", FB_CFG_INT, FB_CLI_INT(from_seq), "0", 0, INT64_MAX,
     "print stored history from this global_seq first (0 = live only)"},
    {"count", FB_CFG_INT, FB_CLI_INT(count), "0", 0, INT64_MAX, "exit after this many messages (0 = never)"},
    {"idle", FB_CFG_INT, FB_CLI_INT(idle_s), "0", 0, 86400, "exit after this many seconds without a message (0 = never)"},
    {"format", FB_CFG_STR, FB_CLI_STR(format), "json", 0, 0, "json (one object per line) or text (one readable line)"},
    {"lang", FB_CFG_STR, FB_CLI_STR(lang), "ko", 0, 0, "language of titles in text format: ko or en"},
    FB_CFG_END,
};

static const fb_cfg_key_t s_replay_keys[] = {
    {"replay", FB_CFG_STR, FB_CLI_STR(replay), FB_DEFAULT_REPLAY, 0, 0, "broker replay endpoint"},
    {"from-seq", FB_CFG_INT, FB_CLI_INT(from_seq), "1", 0, INT64_MAX, "first global_seq"},
    {"since", FB_CFG_STR, FB_CLI_STR(since), "", 0, 0, "only messages stored at or after this RFC 3339 time"},
    {"limit", FB_CFG_INT, FB_CLI_INT(limit), "0", 0, UINT32_MAX, "at most this many messages (0 = all)"},
    {"timeout-ms", FB_CFG_INT, FB_CLI_INT(timeout_ms), "10000", 1, 3600000, "wait this long for each chunk"},
    {"format", FB_CFG_STR, FB_CLI_STR(format), "json", 0, 0, "json (one object per line) or text (one readable line)"},
    {"lang", FB_CFG_STR, FB_CLI_STR(lang), "ko", 0, 0, "language of titles in text format: ko or en"},
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

int fb_cli_tail(int argc, char **argv)
{
    fb_cli_opts_t o;
    int nargs;
    fb_cli_parse("tail", s_tail_keys, &o, argc, argv, &nargs, "PATTERN...");
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
    while (!fb_cli_stop && (o.count == 0 || seen < o.count)) {
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
    int rc = fb_replay(o.replay, (const char *const *)argv + 1, nargs, (uint64_t)o.from_seq, since,
                       (uint32_t)o.limit, s_print, &o, (int)o.timeout_ms);
    fflush(stdout);
    if (rc != FB_OK) {
        fprintf(stderr, "fedbus replay: %s\n", fb_strerror(rc));
        return 1;
    }
    return 0;
}
