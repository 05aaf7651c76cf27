/* fb_cli_print.h — how tail and replay print messages (text, JSON, pretty JSON, colour) and read times (--since). */
#ifndef FB_CLI_PRINT_H
#define FB_CLI_PRINT_H

#include "fb_jsonfeed.h"
#include "fedbus/fedbus.h"

#include <stdint.h>

typedef struct {
    int text;          /* --format=text, else JSON */
    int ics;           /* --format=ics: events and calls as a calendar (replay) */
    int jsonfeed;      /* --format=jsonfeed: a feed for readers (replay) */
    fb_jsonfeed_t jf;  /* the feed being written */
    int pretty;        /* --pretty: JSON indented */
    int colour;        /* stdout is a terminal and NO_COLOR is unset */
    int count_only;    /* --count: nothing printed, messages counted */
    int progress;      /* replay with stderr a terminal: a progress line */
    const char *lang;  /* "ko" or "en" */
    int64_t until_us;  /* > 0: stop at the first message stored after it */
    long long printed; /* messages printed (or counted) */
    int64_t next_progress_us;
    int progress_drawn; /* a progress line is on stderr */
    int until_reached;
} fb_cli_out_t;

/* Checks format and lang ("json", "text", or, for replay, "ics" and
 * "jsonfeed"; "ko" or "en") and fills out; returns 0, or -1 after saying
 * why on stderr (cmd names the command). */
int fb_cli_out_init(fb_cli_out_t *out, const char *cmd, const char *format, const char *lang, int pretty, int replay);

/* With --format=ics or jsonfeed: writes the calendar's or the feed's head
 * (name: its title); returns 0, or -1 when out of memory. Nothing otherwise. */
int fb_cli_out_begin(fb_cli_out_t *out, const char *name);

/* With --format=ics or jsonfeed: writes the end. Nothing otherwise. */
void fb_cli_out_end(fb_cli_out_t *out);

/* Prints (or counts) msg; returns 0 to go on, 1 when --until is passed or
 * a signal asked to stop, -1 when out of memory. An fb_replay_fn. */
int fb_cli_out_print(const fb_message_t *msg, void *out);

/* Clears the progress line, if one was drawn. */
void fb_cli_out_done(fb_cli_out_t *out);

/* Reads a time for --since and --until: RFC 3339 (2026-03-01T09:00:00+09:00),
 * a date (2026-03-01, local midnight), "now", "today" or "yesterday" (local
 * midnight), or an age: 90s, 15m, 1h, 2d, 1w (that long before now).
 * Returns 0 with *us set (UTC microseconds), or -1. */
int fb_cli_time_parse(const char *s, int64_t *us);

/* The --help words for the times above. */
#define FB_CLI_TIME_HELP "an RFC 3339 time, a date, today, yesterday, or an age such as 1h, 30m, 2d"

#endif
