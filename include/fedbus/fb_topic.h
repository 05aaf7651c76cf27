/* fb_topic.h — topic grammar and subscription patterns.
 *
 * A topic is kind.origin.category[.sub...]: 3 to FB_TOPIC_MAX_SEGMENTS
 * segments of [a-z0-9-] (1-32 bytes, not starting with '-'), e.g.
 * "cfp.kr-daejeon.bio". Kind comes first so that ZeroMQ prefix filters select
 * "every CFP" with one prefix.
 *
 * A pattern has the same shape, may be shorter, and may hold "*" for a whole
 * segment: "cfp" (every CFP), "*.kr-incheon" (everything from Incheon),
 * "cfp.kr-daejeon.bio" (CFPs in bio from Daejeon). A pattern matches a topic
 * when every pattern segment equals the topic's segment at that place or is
 * "*"; a topic may have more segments than the pattern. */
#ifndef FB_TOPIC_H
#define FB_TOPIC_H

#include "fedbus/fb_export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FB_TOPIC_MAX 255
#define FB_TOPIC_MAX_SEGMENTS 6
#define FB_SEGMENT_MAX 32
#define FB_PATTERN_MAX_PREFIXES 8

/* The payload kinds, in topic spelling. */
#define FB_KIND_EVENT "event"
#define FB_KIND_CFP "cfp"
#define FB_KIND_RESEARCHER "researcher"
/* The kind of the broker's own MemberState payload: never in a member's topic. */
#define FB_KIND_MEMBER_STATE "member-state"

/* The reserved topic the broker publishes member state changes on (origin
 * FB_ORIGIN_BROKER). It is outside the topic grammar, so no member can
 * publish on it; fb_pattern_valid() takes it as a pattern of its own (and
 * "*" patterns do not cover it: subscribe to it by name). */
#define FB_TOPIC_HEALTH "_fedbus.health"
#define FB_ORIGIN_BROKER "_fedbus"

/* Returns 1 when topic (len bytes, not NUL-terminated) follows the grammar,
 * else 0 and, when why is not NULL, points *why at a static reason. */
FB_EXPORT int fb_topic_valid(const char *topic, size_t len, const char **why);

/* Returns 1 when name is a valid segment / member id, else 0. */
FB_EXPORT int fb_segment_valid(const char *name, size_t len);

/* Returns 1 when kind is one of the known payload kinds, else 0. */
FB_EXPORT int fb_topic_kind_known(const char *kind, size_t len);

/* Copies segment n (0-based) of topic into out (NUL-terminated, out_size
 * bytes); returns its length, or -1 when topic has no such segment or it does
 * not fit. */
FB_EXPORT int fb_topic_segment(const char *topic, size_t len, int n, char *out, size_t out_size);

/* Returns 1 when pattern is well-formed (or is FB_TOPIC_HEALTH), else 0 and *why (if not NULL). */
FB_EXPORT int fb_pattern_valid(const char *pattern, const char **why);

/* Returns 1 when pattern matches topic (len bytes), else 0. */
FB_EXPORT int fb_pattern_match(const char *pattern, const char *topic, size_t len);

/* Expands pattern into the ZeroMQ SUB prefixes that cover it: writes up to
 * max NUL-terminated strings of FB_TOPIC_MAX+1 bytes into prefixes and
 * returns how many, or -1 for an invalid pattern. A leading "*" expands to one
 * prefix per kind; the prefix stops before the next "*". Prefixes select a
 * superset: apply fb_pattern_match() to what arrives. */
FB_EXPORT int fb_pattern_prefixes(const char *pattern, char prefixes[][FB_TOPIC_MAX + 1], int max);

#ifdef __cplusplus
}
#endif
#endif
