/* fb_readperm.c — read patterns as exact feed prefixes; feed subscriptions and replay prefixes narrowed to them. */
#include "fb_readperm.h"

#include "fb_envelope.h"
#include "fb_wire.h"

#include <stdlib.h>
#include <string.h>

static const char *const s_kinds[] = {FB_KIND_EVENT, FB_KIND_CFP, FB_KIND_RESEARCHER};
#define S_NKINDS 3
#define S_MIN_SEGMENTS 3 /* every topic has at least this many */

/* Splits pattern at its dots into seg/seglen (at most FB_TOPIC_MAX_SEGMENTS);
 * returns how many segments, or -1 when pattern is not a valid pattern. */
static int s_split(const char *pattern, const char **seg, size_t *seglen)
{
    if (!pattern || !fb_pattern_valid(pattern, NULL)) return -1;
    int k = 0;
    for (const char *p = pattern;; k++) {
        const char *dot = strchr(p, '.');
        seg[k] = p;
        seglen[k] = dot ? (size_t)(dot - p) : strlen(p);
        if (!dot) return k + 1;
        p = dot + 1;
    }
}

static int s_star(const char *seg, size_t len)
{
    return len == 1 && seg[0] == '*';
}

/* Appends len bytes to *p (room until FB_READPERM_PREFIX_MAX); returns 0, or -1 when they do not fit. */
static int s_put(fb_readperm_prefix_t *p, const void *b, size_t len)
{
    if (p->len + len > sizeof(p->b)) return -1;
    memcpy(p->b + p->len, b, len);
    p->len += len;
    return 0;
}

int fb_readperm_all(const char *const *patterns, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *seg[FB_TOPIC_MAX_SEGMENTS];
        size_t len[FB_TOPIC_MAX_SEGMENTS];
        int k = s_split(patterns[i], seg, len), stars = 0;
        while (stars < k && s_star(seg[stars], len[stars])) stars++;
        if (k > 0 && stars == k && k <= S_MIN_SEGMENTS) return 1;
    }
    return 0;
}

int fb_readperm_feed_prefixes(const char *pattern, fb_readperm_prefix_t *out, int max)
{
    const char *seg[FB_TOPIC_MAX_SEGMENTS];
    size_t len[FB_TOPIC_MAX_SEGMENTS];
    int k = s_split(pattern, seg, len);
    if (k < 0) return -1;
    int m = k; /* the segments before the trailing '*'s */
    while (m > 0 && s_star(seg[m - 1], len[m - 1])) m--;
    /* Trailing '*'s ask for that many segments at least: "B." gives one
     * more than B has, and every topic has three. */
    int below_min = m + 1 > S_MIN_SEGMENTS ? m + 1 : S_MIN_SEGMENTS;
    if (k > m && k > below_min) return -1;
    for (int i = 1; i < m; i++)
        if (s_star(seg[i], len[i])) return -1; /* between literal segments */
    int lead_star = m == 0 || s_star(seg[0], len[0]);
    int nheads = lead_star ? S_NKINDS : 1, count = 0;
    for (int h = 0; h < nheads; h++) {
        fb_readperm_prefix_t b = {.len = 0};
        const char *head = lead_star ? s_kinds[h] : seg[0];
        if (s_put(&b, head, lead_star ? strlen(head) : len[0]) != 0) return -1;
        for (int i = 1; i < m; i++)
            if (s_put(&b, ".", 1) != 0 || s_put(&b, seg[i], len[i]) != 0) return -1;
        /* "B." always; "B\0" when B is a whole topic (no '*' after it). */
        int exact = k == m && m >= S_MIN_SEGMENTS;
        if (count + 1 + exact > max) return -1;
        out[count] = b;
        if (s_put(&out[count], ".", 1) == 0 && out[count].len <= FB_TOPIC_MAX) count++;
        if (exact) {
            out[count] = b;
            if (s_put(&out[count], "", 1) == 0) count++;
        }
    }
    return count;
}

int fb_readperm_may_read(const char *const *patterns, size_t n, const char *topic, size_t len)
{
    fb_readperm_prefix_t p[FB_READPERM_PATTERN_PREFIXES];
    for (size_t i = 0; i < n; i++)
        if (fb_pattern_match(patterns[i], topic, len) && fb_readperm_feed_prefixes(patterns[i], p, FB_READPERM_PATTERN_PREFIXES) >= 0)
            return 1;
    return 0;
}

/* Adds a (mark, then len bytes of b) to out[*count] unless there already;
 * returns 0, or -1 when out is full. */
static int s_add(fb_readperm_prefix_t *out, int *count, int max, int mark, const uint8_t *b, size_t len)
{
    fb_readperm_prefix_t p = {.len = 0};
    if (mark) p.b[p.len++] = (uint8_t)mark;
    if (s_put(&p, b, len) != 0) return 0; /* longer than any frame's start: selects nothing */
    for (int i = 0; i < *count; i++)
        if (out[i].len == p.len && memcmp(out[i].b, p.b, p.len) == 0) return 0;
    if (*count >= max) return -1;
    out[(*count)++] = p;
    return 0;
}

/* The longer of a and b when one starts with the other (*len set), else NULL. */
static const uint8_t *s_meet(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, size_t *len)
{
    size_t l = alen < blen ? alen : blen;
    if (memcmp(a, b, l) != 0) return NULL;
    *len = alen > blen ? alen : blen;
    return alen > blen ? a : b;
}

int fb_readperm_narrow(const uint8_t *sub, size_t len, const char *const *patterns, size_t n,
                       fb_readperm_prefix_t *out, int max)
{
    int count = 0;
    if (fb_readperm_all(patterns, n) || (len && (sub[0] == FB_WIRE_FEED_HEAD_MARK || sub[0] == FB_WIRE_FEED_SEAL_MARK)))
        return s_add(out, &count, max, 0, sub, len) == 0 ? count : -1;
    /* Batched frames and count frames: narrowed like the topic prefix after the mark. */
    int mark = len && (sub[0] == FB_FEED_MARK || sub[0] == FB_WIRE_FEED_COUNT_MARK) ? sub[0] : 0;
    const uint8_t *t = sub + (mark ? 1 : 0);
    size_t tlen = len - (mark ? 1 : 0);
    for (size_t i = 0; i < n; i++) {
        fb_readperm_prefix_t p[FB_READPERM_PATTERN_PREFIXES];
        int np = fb_readperm_feed_prefixes(patterns[i], p, FB_READPERM_PATTERN_PREFIXES);
        for (int j = 0; j < np; j++) {
            if (len == 0) {
                /* Everything: the permitted topics in both kinds of frame. */
                if (s_add(out, &count, max, 0, p[j].b, p[j].len) != 0 ||
                    s_add(out, &count, max, FB_FEED_MARK, p[j].b, p[j].len) != 0)
                    return -1;
                continue;
            }
            size_t l;
            const uint8_t *meet = s_meet(t, tlen, p[j].b, p[j].len, &l);
            if (meet && s_add(out, &count, max, mark, meet, l) != 0) return -1;
        }
    }
    if (len == 0 && count > 0) {
        uint8_t head = FB_WIRE_FEED_HEAD_MARK;
        if (s_add(out, &count, max, 0, &head, 1) != 0) return -1;
    }
    return count;
}

void fb_readperm_free(char **prefixes, size_t n)
{
    for (size_t i = 0; prefixes && i < n; i++) free(prefixes[i]);
    free(prefixes);
}

/* Adds a copy of the len bytes at s to *v (n, cap) unless there already; returns 0 or -1. */
static int s_add_str(char ***v, size_t *n, size_t *cap, const char *s, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen((*v)[i]) == len && memcmp((*v)[i], s, len) == 0) return 0;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        char **nv = realloc(*v, c * sizeof(*nv));
        if (!nv) return -1;
        *v = nv, *cap = c;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, s, len);
    copy[len] = '\0';
    (*v)[(*n)++] = copy;
    return 0;
}

int fb_readperm_replay(const char *const *patterns, size_t n, const char *const *req, size_t nreq, char ***out,
                       size_t *nout)
{
    char **v = NULL;
    size_t nv = 0, cap = 0;
    int all = fb_readperm_all(patterns, n);
    static const char *const everything[] = {""};
    if (!nreq && !all) req = everything, nreq = 1;
    for (size_t r = 0; r < nreq; r++) {
        if (all) {
            if (s_add_str(&v, &nv, &cap, req[r], strlen(req[r])) != 0) goto error;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            fb_readperm_prefix_t exact[FB_READPERM_PATTERN_PREFIXES];
            char p[S_NKINDS][FB_TOPIC_MAX + 1];
            if (fb_readperm_feed_prefixes(patterns[i], exact, FB_READPERM_PATTERN_PREFIXES) < 0) continue;
            int np = fb_pattern_prefixes(patterns[i], p, S_NKINDS);
            for (int j = 0; j < np; j++) {
                size_t l;
                const uint8_t *meet =
                    s_meet((const uint8_t *)req[r], strlen(req[r]), (const uint8_t *)p[j], strlen(p[j]), &l);
                if (meet && l > 0 && s_add_str(&v, &nv, &cap, (const char *)meet, l) != 0) goto error;
            }
        }
    }
    *out = v;
    *nout = nv;
    return 0;
error:
    fb_readperm_free(v, nv);
    *out = NULL;
    *nout = 0;
    return -1;
}
