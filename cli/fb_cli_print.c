/* fb_cli_print.c — how tail and replay print messages (text, JSON, pretty JSON, colour) and read times (--since).
 *
 * JSON is one object a line (or indented with --pretty), for programs;
 * text is one readable line — sequence, local time, origin, kind, title —
 * for people, coloured only on a terminal and never when NO_COLOR is set
 * (no-color.org). A replay that runs long on a terminal draws its progress
 * on stderr, so stdout stays the messages alone. */
#include "fb_cli_print.h"
#include "fb_cli.h"
#include "fb_ics.h"
#include "fb_time.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_PROGRESS_US 250000 /* how often the progress line is redrawn */

int fb_cli_out_init(fb_cli_out_t *out, const char *cmd, const char *format, const char *lang, int pretty, int replay)
{
    memset(out, 0, sizeof(*out));
    if ((!strcmp(format, "ics") || !strcmp(format, "jsonfeed")) && !replay) {
        fprintf(stderr, "fedbus %s: --format: %s is for replay (a calendar or a feed has an end; a tail does not)\n",
                cmd, format);
        return -1;
    }
    if (strcmp(format, "json") && strcmp(format, "text") && strcmp(format, "ics") && strcmp(format, "jsonfeed")) {
        fprintf(stderr, "fedbus %s: --format: '%s' is none of json, text%s\n", cmd, format,
                replay ? ", ics, jsonfeed" : "");
        return -1;
    }
    if (strcmp(lang, "ko") && strcmp(lang, "en")) {
        fprintf(stderr, "fedbus %s: --lang: '%s' is neither ko nor en\n", cmd, lang);
        return -1;
    }
    const char *nc = getenv("NO_COLOR");
    out->text = strcmp(format, "text") == 0;
    out->ics = strcmp(format, "ics") == 0;
    out->jsonfeed = strcmp(format, "jsonfeed") == 0;
    out->pretty = pretty;
    out->lang = lang;
    out->colour = isatty(STDOUT_FILENO) && !(nc && nc[0]);
    return 0;
}

/* The colour of a kind's name (ANSI SGR). */
static const char *s_kind_colour(const char *kind)
{
    if (!strcmp(kind, "event")) return "32";
    if (!strcmp(kind, "cfp")) return "33";
    if (!strcmp(kind, "researcher")) return "35";
    return "0";
}

static void s_print_text(const fb_message_t *msg, const fb_cli_out_t *out)
{
    char when[32] = "-";
    time_t t = (time_t)(msg->created_at_us / 1000000);
    struct tm tm;
    if (msg->created_at_us > 0 && localtime_r(&t, &tm)) strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
    const char *kind = fb_message_kind(msg), *title = fb_message_title(msg, out->lang);
    const char *cat = strchr(msg->topic, '.');
    cat = cat ? strchr(cat + 1, '.') : NULL;
    char what[96];
    snprintf(what, sizeof(what), "%s%s%s", kind[0] ? kind : "?", cat ? "." : "", cat ? cat + 1 : "");
    if (out->colour)
        printf("\033[2m#%-6llu %s\033[0m  \033[36m%-24s\033[0m \033[%sm%-22s\033[0m \033[1m%s\033[0m\n",
               (unsigned long long)msg->global_seq, when, msg->origin, s_kind_colour(kind), what, title);
    else
        printf("#%-6llu %s  %-24s %-22s %s\n", (unsigned long long)msg->global_seq, when, msg->origin, what, title);
}

static int s_print_json(const fb_message_t *msg, const fb_cli_out_t *out)
{
    char *line = fb_message_json(msg);
    if (!line) return -1;
    if (out->pretty) {
        json_t *j = json_loads(line, 0, NULL);
        char *nice = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (nice) {
            free(line);
            line = nice;
        }
    }
    puts(line);
    free(line);
    return 0;
}

/* One message as a calendar or a feed item: 1 written, 0 left out (no
 * item of that kind, or an event or call without a readable time: said on
 * stderr), -1 out of memory. */
static int s_print_item(const fb_message_t *msg, fb_cli_out_t *out)
{
    char *line = fb_message_json(msg), why[128] = "";
    json_t *j = line ? json_loads(line, 0, NULL) : NULL;
    free(line);
    if (!j) return -1;
    fb_ics_head_t h = {msg->message_id, msg->origin, msg->topic, msg->created_at_us, msg->global_seq};
    int rc;
    if (out->jsonfeed) {
        rc = fb_jsonfeed_item(&out->jf, &h, j, out->lang);
        if (rc < 0) snprintf(why, sizeof(why), "out of memory");
    } else
        rc = fb_ics_item(stdout, &h, j, out->lang, why, sizeof(why));
    json_decref(j);
    if (rc < 0 && strcmp(why, "out of memory") == 0) return -1;
    if (rc < 0) {
        fprintf(stderr, "fedbus replay: left out of the calendar: %s (%s, global_seq %llu) %s\n", msg->message_id,
                msg->topic, (unsigned long long)msg->global_seq, why);
        return 0;
    }
    return rc;
}

int fb_cli_out_begin(fb_cli_out_t *out, const char *name)
{
    if (out->count_only) return 0;
    if (out->jsonfeed) return fb_jsonfeed_begin(&out->jf, stdout, name, out->lang);
    return out->ics ? fb_ics_begin(stdout, name) : 0;
}

void fb_cli_out_end(fb_cli_out_t *out)
{
    if (out->count_only) return;
    if (out->jsonfeed) fb_jsonfeed_end(&out->jf);
    else if (out->ics) fb_ics_end(stdout);
}

static void s_progress(fb_cli_out_t *out, const fb_message_t *msg)
{
    int64_t now = fb_time_mono_us();
    if (!out->progress || now < out->next_progress_us) return;
    if (!out->next_progress_us) { /* the first message: only a replay that lasts gets a line */
        out->next_progress_us = now + 4 * S_PROGRESS_US;
        return;
    }
    out->next_progress_us = now + S_PROGRESS_US;
    out->progress_drawn = 1;
    fprintf(stderr, "\r\033[Kreplay: %lld messages, at global_seq %llu", out->printed,
            (unsigned long long)msg->global_seq);
}

int fb_cli_out_print(const fb_message_t *msg, void *arg)
{
    fb_cli_out_t *out = arg;
    if (out->until_us > 0 && msg->stored_at_us > out->until_us) {
        out->until_reached = 1;
        return 1;
    }
    out->printed++;
    if (out->count_only) {
        s_progress(out, msg);
        return fb_cli_stop ? 1 : 0;
    }
    if (out->ics || out->jsonfeed) {
        int rc = s_print_item(msg, out);
        if (rc < 0) return -1;
        if (rc == 0) out->printed--;
    } else if (out->text)
        s_print_text(msg, out);
    else if (s_print_json(msg, out) != 0)
        return -1;
    s_progress(out, msg);
    return fb_cli_stop ? 1 : 0;
}

void fb_cli_out_done(fb_cli_out_t *out)
{
    if (out->progress_drawn) fprintf(stderr, "\r\033[K");
    out->progress_drawn = 0;
}

/* Local midnight days_back days before today, in UTC microseconds. */
static int64_t s_midnight(int days_back)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_mday -= days_back;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm) * 1000000;
}

int fb_cli_time_parse(const char *s, int64_t *us)
{
    int off;
    if (fb_time_parse(s, us, &off) == 0) return 0;
    if (!strcmp(s, "now")) *us = fb_time_now_us();
    else if (!strcmp(s, "today")) *us = s_midnight(0);
    else if (!strcmp(s, "yesterday")) *us = s_midnight(1);
    else {
        struct tm tm = {0};
        char *end = NULL, tail = 0;
        if (sscanf(s, "%4d-%2d-%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tail) == 3 && strlen(s) == 10) {
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            tm.tm_isdst = -1;
            *us = (int64_t)mktime(&tm) * 1000000;
            return 0;
        }
        if (!isdigit((unsigned char)s[0])) return -1;
        long long n = strtoll(s, &end, 10);
        static const struct {
            const char *unit;
            long long s;
        } units[] = {{"s", 1}, {"m", 60}, {"min", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800}};
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (!strcmp(end, units[i].unit) && n >= 0 && n < 100LL * 365 * 86400 / units[i].s) {
                *us = fb_time_now_us() - n * units[i].s * 1000000;
                return 0;
            }
        return -1;
    }
    return 0;
}
