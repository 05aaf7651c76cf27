/* fb_topic.c — topic grammar, subscription patterns and their ZeroMQ prefixes. */
#include "fedbus/fb_topic.h"

#include <stdio.h>
#include <string.h>

static const char *const s_kinds[] = {FB_KIND_EVENT, FB_KIND_CFP, FB_KIND_RESEARCHER};
#define S_NKINDS ((int)(sizeof(s_kinds) / sizeof(s_kinds[0])))

int fb_segment_valid(const char *name, size_t len)
{
    if (len == 0 || len > FB_SEGMENT_MAX || name[0] == '-') return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
    }
    return 1;
}

int fb_topic_kind_known(const char *kind, size_t len)
{
    for (int i = 0; i < S_NKINDS; i++)
        if (strlen(s_kinds[i]) == len && memcmp(s_kinds[i], kind, len) == 0) return 1;
    return 0;
}

int fb_topic_valid(const char *topic, size_t len, const char **why)
{
    const char *reason = NULL;
    int nseg = 0;
    size_t start = 0;
    if (len == 0) {
        reason = "topic is empty";
        goto error;
    }
    if (len > FB_TOPIC_MAX) {
        reason = "topic is longer than 255 bytes";
        goto error;
    }
    for (size_t i = 0; i <= len; i++) {
        if (i < len && topic[i] != '.') continue;
        if (!fb_segment_valid(topic + start, i - start)) {
            reason = "topic segment is not 1-32 of [a-z0-9-]";
            goto error;
        }
        if (nseg == 0 && !fb_topic_kind_known(topic, i)) {
            reason = "topic does not start with a known kind (event, cfp, researcher)";
            goto error;
        }
        nseg++;
        start = i + 1;
    }
    if (nseg < 3 || nseg > FB_TOPIC_MAX_SEGMENTS) {
        reason = "topic must have 3 to 6 segments: kind.origin.category[.sub]";
        goto error;
    }
    return 1;
error:
    if (why) *why = reason;
    return 0;
}

int fb_topic_segment(const char *topic, size_t len, int n, char *out, size_t out_size)
{
    size_t start = 0;
    int seg = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && topic[i] != '.') continue;
        if (seg == n) {
            size_t l = i - start;
            if (l + 1 > out_size) return -1;
            memcpy(out, topic + start, l);
            out[l] = '\0';
            return (int)l;
        }
        seg++;
        start = i + 1;
    }
    return -1;
}

int fb_pattern_valid(const char *pattern, const char **why)
{
    size_t len = strlen(pattern);
    size_t start = 0;
    int nseg = 0;
    const char *reason = NULL;
    if (strcmp(pattern, FB_TOPIC_HEALTH) == 0) return 1;
    if (len == 0 || len > FB_TOPIC_MAX) {
        reason = "pattern is empty or longer than 255 bytes";
        goto error;
    }
    for (size_t i = 0; i <= len; i++) {
        if (i < len && pattern[i] != '.') continue;
        size_t l = i - start;
        int star = (l == 1 && pattern[start] == '*');
        if (!star && !fb_segment_valid(pattern + start, l)) {
            reason = "pattern segment is neither '*' nor 1-32 of [a-z0-9-]";
            goto error;
        }
        if (nseg == 0 && !star && !fb_topic_kind_known(pattern, l)) {
            reason = "pattern does not start with a known kind (event, cfp, researcher) or '*'";
            goto error;
        }
        nseg++;
        start = i + 1;
    }
    if (nseg > FB_TOPIC_MAX_SEGMENTS) {
        reason = "pattern has more than 6 segments";
        goto error;
    }
    return 1;
error:
    if (why) *why = reason;
    return 0;
}

int fb_pattern_match(const char *pattern, const char *topic, size_t len)
{
    const char *p = pattern;
    size_t t = 0;
    for (;;) {
        const char *pe = strchr(p, '.');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p);
        if (t > len) return 0;
        const char *te = memchr(topic + t, '.', len - t);
        size_t tl = te ? (size_t)(te - (topic + t)) : len - t;
        if (tl == 0) return 0;
        if (!(pl == 1 && p[0] == '*') && (pl != tl || memcmp(p, topic + t, pl) != 0)) return 0;
        if (!pe) return 1;
        if (!te) return 0; /* pattern is longer than the topic */
        p = pe + 1;
        t += tl + 1;
    }
}

/* Appends the pattern's literal head (segments from `from` up to the first
 * '*') to prefix, which already holds base. A complete pattern keeps no
 * trailing dot, so "cfp.kr-daejeon.bio" also selects "...bio.health"; the
 * exact match is then fb_pattern_match()'s. */
static void s_literal_head(const char *from, char *prefix)
{
    size_t n = strlen(prefix);
    const char *p = from;
    while (*p) {
        const char *pe = strchr(p, '.');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p);
        if (pl == 1 && p[0] == '*') return;
        memcpy(prefix + n, p, pl);
        n += pl;
        if (pe) prefix[n++] = '.';
        prefix[n] = '\0';
        if (!pe) return;
        p = pe + 1;
    }
}

int fb_pattern_prefixes(const char *pattern, char prefixes[][FB_TOPIC_MAX + 1], int max)
{
    if (!fb_pattern_valid(pattern, NULL)) return -1;
    if (pattern[0] == '*') {
        if (max < S_NKINDS) return -1;
        const char *rest = pattern[1] == '.' ? pattern + 2 : pattern + 1;
        for (int i = 0; i < S_NKINDS; i++) {
            snprintf(prefixes[i], FB_TOPIC_MAX + 1, "%s.", s_kinds[i]);
            if (*rest) s_literal_head(rest, prefixes[i]);
        }
        return S_NKINDS;
    }
    if (max < 1) return -1;
    prefixes[0][0] = '\0';
    s_literal_head(pattern, prefixes[0]);
    return 1;
}
