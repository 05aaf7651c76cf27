/* fb_msgtext.h — a message's fields as text for people: the words calendars and feeds show (fb_ics, fb_jsonfeed). */
#ifndef FB_MSGTEXT_H
#define FB_MSGTEXT_H

#include <jansson.h>
#include <stddef.h>

/* The string at key of obj; "" when obj or the key is missing, or not a
 * string. Lives as long as obj. */
const char *fb_mt_str(const json_t *obj, const char *key);

/* The Text at key of obj ({"ko": ..., "en": ...}) in lang, else in the
 * other language; "" when neither. */
const char *fb_mt_text(const json_t *obj, const char *key, const char *lang);

/* An integer at key that JSON may carry as a number or as text (int64);
 * 0 when missing. */
long long fb_mt_int(const json_t *obj, const char *key);

/* The non-empty ones of parts joined by sep (malloc'd; NULL when out of
 * memory). */
char *fb_mt_join(const char *const *parts, size_t n, const char *sep);

/* Whether s can stand as a URI as it is: printable ASCII, no space, a
 * scheme before the first colon. */
int fb_mt_plain_uri(const char *s);

/* "name, address, city, country" of a venue, the parts there are, else
 * its online URL (malloc'd; NULL when out of memory). */
char *fb_mt_location(const json_t *venue, const char *lang);

/* "Deadline" in lang ("ko" or "en"). */
const char *fb_mt_deadline_label(const char *lang);

/* The text of a message's body (kind "event", "cfp" or "researcher") for
 * people: its summary (a researcher update's detail) in lang; then the
 * title and summary in the other language; then labelled facts: host,
 * series, registration, capacity of an event; programme, budget, awards,
 * opening, eligibility, contact and host of a call; affiliation, team and
 * date of an update. malloc'd ("" for another kind); NULL when out of
 * memory. */
char *fb_mt_describe(const json_t *body, const char *kind, const char *lang);

#endif
