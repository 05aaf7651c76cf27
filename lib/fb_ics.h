/* fb_ics.h — stored events and calls for proposals as an iCalendar (RFC 5545) calendar: `fedbus replay --format=ics`, the node's GET /v1/calendar.ics. */
#ifndef FB_ICS_H
#define FB_ICS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What a message's header says, beside its JSON. */
typedef struct {
    const char *message_id;
    const char *origin;
    const char *topic;
    int64_t created_at_us;
    uint64_t global_seq;
} fb_ics_head_t;

/* Writes the calendar's head to f: VCALENDAR, its version, product, and
 * name (X-WR-CALNAME, e.g. the patterns asked for). Returns 0, or -1 when
 * out of memory. */
int fb_ics_begin(FILE *f, const char *name);

/* Writes one message as a VEVENT: an event at its time, a call for
 * proposals at its deadline (closes_at). msg is the message as JSON
 * (fb_message_json()); lang ("ko" or "en") picks the language of the
 * summary, the other one follows in the description. Returns 1 when
 * written, 0 when the message is no calendar item (researcher updates,
 * health), -1 when it cannot be one (why says so: a missing or unreadable
 * time) or memory ran out. Text is escaped by libical, lines are folded at
 * 75 octets between UTF-8 characters; a URL that is no plain URI is left out, and control
 * characters in text become spaces, so that no field can add lines. */
int fb_ics_item(FILE *f, const fb_ics_head_t *h, const json_t *msg, const char *lang, char *why, size_t whysize);

/* Writes the calendar's end. */
void fb_ics_end(FILE *f);

#endif
