/* fb_member.h — a member's registry record: its fields, their rules, the defaults of each kind.
 *
 * Pure: no database, no files. fb_registry stores these records; the CLI
 * fills them from flags or from a members file (seeds/members.json). */
#ifndef FB_MEMBER_H
#define FB_MEMBER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fedbus/fb_topic.h"

#define FB_MEMBER_PATTERNS_MAX 32 /* publish or read patterns of one member */
#define FB_MEMBER_NAME_MAX 200    /* bytes of a name (UTF-8) */
#define FB_MEMBER_REGION_MAX 100  /* bytes of a region (UTF-8) */
#define FB_MEMBER_DURATION_MAX (366LL * 24 * 3600) /* longest duration fb_member_duration() takes, s */

/* The id the broker's own key files carry (fedbus keygen --member=broker);
 * no member may take it. */
#define FB_MEMBER_BROKER_ID "broker"

typedef struct {
    int n;
    char p[FB_MEMBER_PATTERNS_MAX][FB_TOPIC_MAX + 1];
} fb_member_patterns_t;

typedef struct {
    char id[FB_SEGMENT_MAX + 1];
    char kind[16];    /* "hub", "partner" or "observer" */
    char name_ko[FB_MEMBER_NAME_MAX + 1];
    char name_en[FB_MEMBER_NAME_MAX + 1];
    char country[3];  /* ISO 3166-1 alpha-2, upper case, or "" */
    char region[FB_MEMBER_REGION_MAX + 1];
    fb_member_patterns_t publish, read;
    bool publish_set, read_set; /* given; when not, fb_member_defaults() fills them */
} fb_member_t;

/* Returns 1 when kind is "hub", "partner" or "observer", else 0. */
int fb_member_kind_valid(const char *kind);

/* Fills the patterns m does not set from its kind (m->id and m->kind set):
 * hub publishes "*.ID" and reads "*"; partner publishes "*.ID" and reads
 * "event" and "cfp" (the public kinds); observer publishes nothing and
 * reads "event" and "cfp". Returns 0, or -1 for an unknown kind. */
int fb_member_defaults(fb_member_t *m);

/* Adds the comma-separated patterns of text to list, each checked with
 * fb_pattern_valid() and added once. "" adds nothing. Returns 0, or -1 with
 * "publish: 'x': reason" (what names the list) in err. */
int fb_member_patterns_add(fb_member_patterns_t *list, const char *what, const char *text, char *err,
                           size_t err_size);

/* Writes the patterns comma-separated into out; returns 0, or -1 when they do not fit. */
int fb_member_patterns_join(const fb_member_patterns_t *list, char *out, size_t size);

/* Returns 1 when a and b hold the same patterns in the same order. */
int fb_member_patterns_equal(const fb_member_patterns_t *a, const fb_member_patterns_t *b);

/* Checks read patterns: each a topic pattern the feed can apply exactly
 * (fb_readperm_feed_prefixes(): '*' only as leading or trailing segments).
 * Returns 0, or -1 with "read: 'x': reason" in err. */
int fb_member_check_read(const fb_member_patterns_t *read, char *err, size_t err_size);

/* Checks every field of m (after fb_member_defaults()): the id (1-32 of
 * [a-z0-9-], not "broker"), the kind, the country (two capital letters or
 * empty), names and region (UTF-8 without control characters, within
 * their limits) and the patterns. Returns 0, or -1 with a one-line reason. */
int fb_member_check(const fb_member_t *m, char *err, size_t err_size);

/* Fills m from one record of a members file: "id", "kind", "name"
 * {"ko", "en"}, "country", "region" (or else "city"), and optional
 * "publish" and "read" (arrays of patterns); other keys are ignored. The
 * defaults of the kind fill what is not given, and the result is checked.
 * Returns 0, or -1 with a one-line reason. */
int fb_member_from_json(const json_t *obj, fb_member_t *m, char *err, size_t err_size);

/* A JSON array of the patterns of list (new reference), or NULL when out of memory. */
json_t *fb_member_patterns_json(const fb_member_patterns_t *list);

/* Parses a duration: "0", or one or more of N followed by d, h, m or s
 * ("1h", "90m", "1h30m", "45s"), at most FB_MEMBER_DURATION_MAX. Returns 0
 * and the seconds in *seconds, or -1. */
int fb_member_duration(const char *text, int64_t *seconds);

#endif
