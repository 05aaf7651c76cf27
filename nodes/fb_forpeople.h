/* fb_forpeople.h — the node's feeds for people: GET /v1/calendar.ics (iCalendar) and GET /v1/feed.json (JSON Feed).
 *
 * A calendar application or a feed reader subscribes to the node's URL and
 * polls it; each poll reads the broker's history through replay, with the
 * node's own member keys (so it sees what the member may read), checks
 * every message against its origin's signature, and writes what verified
 * as one calendar (fb_ics) or feed (fb_jsonfeed). Nothing is kept between
 * polls. */
#ifndef FB_FORPEOPLE_H
#define FB_FORPEOPLE_H

#include "fb_curve.h"

#include <stddef.h>
#include <stdint.h>

/* The most patterns one request asks for, and the most messages it reads. */
#define FB_FORPEOPLE_PATTERNS_MAX 16
#define FB_FORPEOPLE_MESSAGES_MAX 50000

/* Where the history comes from: the broker's replay endpoint, reached with
 * curve (curve->on 0: plaintext). */
typedef struct {
    const char *replay;
    const fb_curve_t *curve;
    int timeout_ms; /* how long the broker may take to send each chunk */
} fb_forpeople_src_t;

/* What is written. */
typedef enum { FB_FORPEOPLE_ICS, FB_FORPEOPLE_JSONFEED } fb_forpeople_format_t;

/* Writes, as format says, the calendar (events and calls) or the feed
 * (events, calls and researcher updates) titled name, of the messages
 * matching patterns stored since since_us (at most
 * FB_FORPEOPLE_MESSAGES_MAX of them, the oldest first), text in lang ("ko"
 * or "en"), into *out (malloc'd; *len bytes). Returns FB_OK, or an FB_E*
 * code with why (whysize bytes) saying what failed: the broker not reached
 * (FB_ETIMEOUT, FB_EIO), refused (FB_EREJECTED), history beyond retention
 * (FB_ELOST), out of memory. Messages that fail verification are left out
 * and counted in *failed; *items counts what was written. */
int fb_forpeople_build(const fb_forpeople_src_t *src, fb_forpeople_format_t format, const char *const *patterns,
                       int npatterns, int64_t since_us, const char *lang, const char *name, char **out, size_t *len,
                       long long *items, long long *failed, char *why, size_t whysize);

#endif
