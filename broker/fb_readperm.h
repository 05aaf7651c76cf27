/* fb_readperm.h — what a member may read: its read patterns as exact feed prefixes, subscriptions and replay prefixes narrowed to them.
 *
 * A member's read permission is a list of topic patterns (the syntax of
 * docs/protocol.md, "Patterns"; the registry's `read` column). The feed can
 * only filter by byte prefix, so a pattern grants anything only when the
 * topics it matches are exactly those that start with a few byte prefixes:
 * '*' as the first segment (one prefix per kind) or as the last segments
 * ("cfp.kr-seoul.*"), never between two literal segments ("cfp.*.bio"
 * would need every origin listed); such a pattern grants nothing, on the
 * feed and in replay alike, and `fedbus member` refuses it.
 *
 * Pure: no socket, no PostgreSQL; the feed (fb_feed) and the replay service
 * (fb_replay_srv) call it with the patterns of the member the connection's
 * ZAP identity names. Any thread. */
#ifndef FB_READPERM_H
#define FB_READPERM_H

#include "fedbus/fb_topic.h"

#include <stddef.h>
#include <stdint.h>

/* A feed subscription prefix: a mark byte (0x01 batched, 0x02 head), topic
 * bytes, and a NUL when it names one topic exactly. */
#define FB_READPERM_PREFIX_MAX (FB_TOPIC_MAX + 3)

typedef struct {
    uint8_t b[FB_READPERM_PREFIX_MAX];
    size_t len;
} fb_readperm_prefix_t;

/* Most prefixes one pattern yields: two (a topic and what lies below it)
 * for each of the three kinds. */
#define FB_READPERM_PATTERN_PREFIXES 6

/* Returns 1 when one of the n patterns matches every topic ("*", "*.*",
 * "*.*.*": a topic has at least three segments), else 0. */
int fb_readperm_all(const char *const *patterns, size_t n);

/* Writes into out (room for max) the byte prefixes that a feed frame (topic,
 * NUL, envelope) starts with exactly when its topic matches pattern: "B."
 * for what lies below the literal segments B, and "B\0" for the topic B
 * itself when it has three segments or more. Returns how many, or -1 when
 * pattern is not a pattern, cannot be said by prefixes (see above), or
 * max is too small. */
int fb_readperm_feed_prefixes(const char *pattern, fb_readperm_prefix_t *out, int max);

/* Returns 1 when topic (len bytes) matches one of the patterns that grant
 * something (fb_readperm_feed_prefixes() >= 0), else 0. */
int fb_readperm_may_read(const char *const *patterns, size_t n, const char *topic, size_t len);

/* Narrows the feed subscription sub (len bytes, after the (un)subscribe
 * byte) to the n patterns: into out (room for max) go the prefixes that
 * select what sub selects and the patterns permit, each once:
 *  - a member that reads everything (fb_readperm_all()), and any
 *    subscription to head frames (0x02...) or to seal frames (0x03...),
 *    keep sub as it is;
 *  - the empty subscription (everything) becomes every permitted prefix,
 *    plain and batched (0x01 before it), and the head mark 0x02;
 *  - any other (plain, or batched after 0x01) becomes, for each permitted
 *    prefix P, the longer of sub and P when one starts with the other.
 * Returns how many (0: nothing of sub is permitted), or -1 when they do
 * not fit in max. */
int fb_readperm_narrow(const uint8_t *sub, size_t len, const char *const *patterns, size_t n,
                       fb_readperm_prefix_t *out, int max);

/* Narrows the nreq topic prefixes of a replay request (none: everything)
 * to the n patterns: *out receives the prefixes to read (each a malloc'd
 * string, in a malloc'd array; the caller frees both) and *nout their
 * number. A member that reads everything gets the request's own back (none
 * stays none); any other gets, for each pair of a requested prefix R and a
 * prefix P of a permitted pattern (fb_pattern_prefixes(), which selects a
 * superset: the rows read are then checked with fb_readperm_may_read()),
 * the longer of the two when one starts with the other, each once.
 * Returns 0 (*nout == 0 for a member that reads everything and asked for
 * everything, or when nothing asked is permitted: fb_readperm_all() tells
 * which), or -1 when out of memory. */
int fb_readperm_replay(const char *const *patterns, size_t n, const char *const *req, size_t nreq, char ***out,
                       size_t *nout);

/* Frees what fb_readperm_replay() returned (accepts NULL). */
void fb_readperm_free(char **prefixes, size_t n);

#endif
