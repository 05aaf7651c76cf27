/* fb_feed.c — the feed's subscription prefixes, its plain frames, and batched frames of one topic. */
#include "fb_feed.h"

#include "fb_envelope.h"
#include "fb_log.h"
#include "fb_time.h"
#include "fb_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A set of feed subscription prefixes (bytes, not strings). */
typedef struct {
    uint8_t **v;
    size_t *len;
    size_t n, cap;
} s_prefixes_t;

struct fb_feed {
    void *xpub;           /* NULL while a reopen could not bind */
    fb_zmq_opts_t opts;   /* how it is made; its strings are copies */
    char *endpoint, *curve_secretkey, *zap_domain;
    fb_broker_stats_t *stats;
    /* The feed's subscriptions as XPUB reports them (each distinct prefix
     * once): plain ones, and ones to batched frames (FB_FEED_MARK, kept
     * without it). A kind of frame is built for a topic only while one of
     * its prefixes may select it; the answer is kept for the last topic. */
    s_prefixes_t plain, batched;
    uint64_t ignored;       /* subscriptions too long, or past FB_FEED_PREFIXES_MAX */
    uint64_t gen;           /* changes with the prefixes */
    char want_topic[FB_TOPIC_MAX + 1];
    uint64_t want_gen;      /* gen when want_* were worked out */
    int want_plain, want_batched;
    const fb_batch_item_t *run[FB_FEED_BATCH_MAX]; /* the batched frame being gathered: one topic */
    size_t nrun, run_bytes;
    int64_t next_head_us; /* when the next head frame is due without a batch */
};

/* Adds (add) or removes a prefix of len bytes; returns 0, or -1 when out of
 * memory or past FB_FEED_PREFIXES_MAX (the prefix is then not kept: frames
 * are built as if it were). */
static int s_prefixes_set(s_prefixes_t *ps, const uint8_t *p, size_t len, int add)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->len[i] == len && memcmp(ps->v[i], p, len) == 0) {
            if (add) return 0;
            free(ps->v[i]);
            ps->v[i] = ps->v[--ps->n];
            ps->len[i] = ps->len[ps->n];
            return 0;
        }
    if (!add) return 0;
    if (ps->n >= FB_FEED_PREFIXES_MAX && len) return -1; /* "" (everything) always fits */
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        uint8_t **v = realloc(ps->v, cap * sizeof(*v));
        if (!v) return -1;
        ps->v = v;
        size_t *l = realloc(ps->len, cap * sizeof(*l));
        if (!l) return -1;
        ps->len = l;
        ps->cap = cap;
    }
    uint8_t *c = malloc(len ? len : 1);
    if (!c) return -1;
    memcpy(c, p, len);
    ps->v[ps->n] = c;
    ps->len[ps->n++] = len;
    return 0;
}

static void s_prefixes_free(s_prefixes_t *ps)
{
    for (size_t i = 0; i < ps->n; i++) free(ps->v[i]);
    free(ps->v);
    free(ps->len);
    memset(ps, 0, sizeof(*ps));
}

/* Whether a frame that starts with topic and a NUL may match one of ps:
 * a prefix within the topic must match it; a longer one, the topic and
 * the NUL (what follows is envelope bytes: taken as a match). */
static int s_prefixes_select(const s_prefixes_t *ps, const char *topic, size_t tlen)
{
    for (size_t i = 0; i < ps->n; i++) {
        size_t l = ps->len[i];
        if (l <= tlen ? memcmp(ps->v[i], topic, l) == 0 : memcmp(ps->v[i], topic, tlen) == 0 && ps->v[i][tlen] == 0)
            return 1;
    }
    return 0;
}

/* A copy of s (NULL stays NULL); sets *failed when out of memory. */
static char *s_dup(const char *s, int *failed)
{
    char *c = s ? strdup(s) : NULL;
    if (s && !c) *failed = 1;
    return c;
}

fb_feed_t *fb_feed_new(const fb_zmq_opts_t *o, fb_broker_stats_t *stats)
{
    fb_feed_t *self = calloc(1, sizeof(*self));
    int failed = !self;
    if (failed) goto error;
    self->stats = stats;
    self->opts = *o;
    self->opts.endpoint = self->endpoint = s_dup(o->endpoint, &failed);
    self->opts.curve_secretkey = self->curve_secretkey = s_dup(o->curve_secretkey, &failed);
    self->opts.zap_domain = self->zap_domain = s_dup(o->zap_domain, &failed);
    if (failed) goto error;
    if (!(self->xpub = fb_zmq_open(&self->opts))) goto error;
    return self;
error:;
    int e = failed ? ENOMEM : errno;
    fb_feed_destroy(&self);
    errno = e;
    return NULL;
}

void fb_feed_destroy(fb_feed_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_feed_t *self = *self_p;
    s_prefixes_free(&self->plain);
    s_prefixes_free(&self->batched);
    if (self->xpub) zmq_close(self->xpub);
    free(self->endpoint);
    free(self->curve_secretkey);
    free(self->zap_domain);
    free(self);
    *self_p = NULL;
}

int fb_feed_reopen(fb_feed_t *self)
{
    if (self->xpub) {
        zmq_close(self->xpub);
        self->xpub = NULL;
        /* Its subscriptions went with it; the clients send them again. */
        s_prefixes_free(&self->plain);
        s_prefixes_free(&self->batched);
        self->gen++;
        self->nrun = self->run_bytes = 0;
    }
    if (!(self->xpub = fb_zmq_open(&self->opts))) return -1;
    return 0;
}

uint64_t fb_feed_ignored(const fb_feed_t *self)
{
    return self->ignored;
}

void *fb_feed_socket(fb_feed_t *self)
{
    return self->xpub;
}

void fb_feed_drain(fb_feed_t *self)
{
    if (!self->xpub) return;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, self->xpub, ZMQ_DONTWAIT) >= 0) {
        const uint8_t *d = zmq_msg_data(&m);
        size_t n = zmq_msg_size(&m);
        if (n < 1 || d[0] > 1) continue; /* not a (un)subscription */
        int batched = n >= 2 && d[1] == FB_FEED_MARK;
        s_prefixes_t *ps = batched ? &self->batched : &self->plain;
        if (n - 1 - (size_t)batched > FB_FEED_PREFIX_MAX) {
            /* Past the socket's ZMQ_MAXMSGSIZE only if that was not set. */
            self->ignored++;
            continue;
        }
        if (s_prefixes_set(ps, d + 1 + batched, n - 1 - (size_t)batched, d[0]) != 0) {
            /* Not kept: from now on every frame of that kind is built. */
            if (self->ignored++ == 0) fb_warn("feed: a subscription not kept (out of memory or prefixes)");
            s_prefixes_set(ps, (const uint8_t *)"", 0, 1);
        }
        self->gen++;
        fb_debug("feed %s%s '%.*s'", d[0] ? "subscribe" : "unsubscribe", batched ? " (batched)" : "",
                 (int)(n - 1 - (size_t)batched), (const char *)d + 1 + batched);
    }
    zmq_msg_close(&m);
}

void fb_feed_flush(fb_feed_t *self)
{
    if (!self->nrun) return;
    if (!self->xpub) {
        self->nrun = self->run_bytes = 0;
        return;
    }
    const char *topic = self->run[0]->topic;
    size_t tlen = strlen(topic);
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, 1 + tlen + 1 + self->run_bytes) == 0) {
        uint8_t *p = zmq_msg_data(&msg);
        *p++ = FB_FEED_MARK;
        memcpy(p, topic, tlen);
        p += tlen;
        *p++ = '\0';
        for (size_t i = 0; i < self->nrun; i++) {
            const fb_batch_item_t *it = self->run[i];
            p += fb_wire_put_item_header(it->env_len + it->stamp_len, p); /* FeedBatch.envelopes */
            memcpy(p, it->env_data, it->env_len);
            memcpy(p + it->env_len, it->stamp, it->stamp_len);
            p += it->env_len + it->stamp_len;
        }
        if (zmq_msg_send(&msg, self->xpub, 0) < 0) zmq_msg_close(&msg);
        else self->stats->feed_batches++;
    }
    self->nrun = 0;
    self->run_bytes = 0;
}

void fb_feed_send(fb_feed_t *self, const fb_batch_item_t *it)
{
    size_t tlen = strlen(it->topic);
    if (self->want_gen != self->gen || strcmp(self->want_topic, it->topic) != 0) {
        memcpy(self->want_topic, it->topic, tlen + 1);
        self->want_gen = self->gen;
        self->want_plain = s_prefixes_select(&self->plain, it->topic, tlen);
        self->want_batched = s_prefixes_select(&self->batched, it->topic, tlen);
    }
    if (self->want_batched) {
        size_t entry = fb_wire_item_size(it->env_len + it->stamp_len);
        if (self->nrun && (self->nrun == FB_FEED_BATCH_MAX || self->run_bytes + entry > FB_FEED_BATCH_BYTES ||
                           strcmp(self->run[0]->topic, it->topic) != 0))
            fb_feed_flush(self);
        self->run[self->nrun++] = it;
        self->run_bytes += entry;
    }
    if (!self->want_plain) return;
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, tlen + 1 + it->env_len + it->stamp_len) != 0) return;
    uint8_t *p = zmq_msg_data(&msg);
    memcpy(p, it->topic, tlen);
    p[tlen] = '\0';
    memcpy(p + tlen + 1, it->env_data, it->env_len);
    memcpy(p + tlen + 1 + it->env_len, it->stamp, it->stamp_len);
    if (zmq_msg_send(&msg, self->xpub, 0) < 0) zmq_msg_close(&msg);
    else self->stats->feed_frames++;
}

/* ---------------------------------------------------------- head frames --- */

void fb_feed_head(fb_feed_t *self, uint64_t head)
{
    if (!self->xpub) return;
    uint8_t frame[FB_WIRE_FEED_HEAD_MAX];
    size_t len = fb_wire_put_feed_head(head, frame);
    /* Dropped for a subscriber whose queue is full, like any frame: the
     * next one, at most FB_FEED_HEAD_US later, says the same or more. */
    zmq_send(self->xpub, frame, len, ZMQ_DONTWAIT);
    self->next_head_us = fb_time_mono_us() + FB_FEED_HEAD_US;
}

void fb_feed_head_tick(fb_feed_t *self, uint64_t head)
{
    if (fb_time_mono_us() >= self->next_head_us) fb_feed_head(self, head);
}
