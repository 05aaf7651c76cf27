/* fb_calendar.h — the node's GET /v1/calendar.ics: events and calls for proposals from the broker's replay, as iCalendar.
 *
 * A calendar application subscribes to the node's URL and polls it; each
 * poll reads the broker's history through replay, with the node's own
 * member keys (so it sees what the member may read), checks every message
 * against its origin's signature, and writes what verified as one
 * calendar (fb_ics). Nothing is kept between polls. */
#ifndef FB_CALENDAR_H
#define FB_CALENDAR_H

#include "fb_curve.h"

#include <stddef.h>
#include <stdint.h>

/* The most patterns one calendar asks for, and the most messages it reads. */
#define FB_CALENDAR_PATTERNS_MAX 16
#define FB_CALENDAR_MESSAGES_MAX 50000

/* Where the history comes from: the broker's replay endpoint, reached with
 * curve (curve->on 0: plaintext). */
typedef struct {
    const char *replay;
    const fb_curve_t *curve;
    int timeout_ms; /* how long the broker may take to send each chunk */
} fb_calendar_src_t;

/* Writes the calendar named name (X-WR-CALNAME) of the events and calls
 * among the messages matching patterns stored since since_us (at most
 * FB_CALENDAR_MESSAGES_MAX of them, the oldest first), summaries in lang
 * ("ko" or "en"), into *out (malloc'd; *len bytes). Returns FB_OK, or an
 * FB_E* code with why (whysize bytes) saying what failed: the broker not
 * reached (FB_ETIMEOUT, FB_EIO), history beyond retention (FB_ELOST), out
 * of memory. Messages that fail verification are left out and counted in
 * *failed; *items counts what the calendar holds. */
int fb_calendar_build(const fb_calendar_src_t *src, const char *const *patterns, int npatterns, int64_t since_us,
                      const char *lang, const char *name, char **out, size_t *len, long long *items,
                      long long *failed, char *why, size_t whysize);

#endif
