/* fb_jsonfeed.h — stored messages as a JSON Feed (version 1.1) for feed readers: `fedbus replay --format=jsonfeed`, the node's GET /v1/feed.json. */
#ifndef FB_JSONFEED_H
#define FB_JSONFEED_H

#include "fb_ics.h"

#include <jansson.h>
#include <stdio.h>

/* A feed being written: items go out one by one, as replay hands them. */
typedef struct {
    FILE *f;
    long long items;
} fb_jsonfeed_t;

/* Writes the feed's head to f: its version, title (e.g. the patterns asked
 * for) and language ("ko" or "en"). Returns 0, or -1 when out of memory. */
int fb_jsonfeed_begin(fb_jsonfeed_t *jf, FILE *f, const char *title, const char *lang);

/* Writes one message as an item: an event (its time and place), a call
 * for proposals (its deadline and budget), a researcher update (who, what
 * happened). msg is the message as JSON (fb_message_json()); lang picks
 * the language of the title and text, the other one follows in the text.
 * The item's id is the message_id, its date the time the origin wrote it,
 * its tags the kind and the fields; _fedbus holds origin, topic and
 * global_seq. Returns 1 when written, 0 when the message is no item for
 * people (the broker's health messages, a kind this build does not know),
 * -1 when out of memory. */
int fb_jsonfeed_item(fb_jsonfeed_t *jf, const fb_ics_head_t *h, const json_t *msg, const char *lang);

/* Writes the feed's end. */
void fb_jsonfeed_end(fb_jsonfeed_t *jf);

#endif
