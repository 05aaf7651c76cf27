/* fb_feed.c — the feed's subscription prefixes, its plain frames, and batched frames of one topic. */
#include "fb_feed.h"

#include "fb_envelope.h"
#include "fb_feedsub.h"
#include "fb_log.h"
#include "fb_pace.h"
#include "fb_readperm.h"
#include "fb_time.h"
#include "fb_verify.h"
#include "fb_wire.h"
#include "fb_zap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Most prefixes one subscription is narrowed to. */
#define S_NARROW_MAX 512
/* Count-frame prefixes a topic is counted against, kept for the last topic. */
#define S_COUNTED_MAX 32

/* A set of feed subscription prefixes (bytes, not strings), each with the
 * number of subscriptions that asked for it. */
typedef struct {
    uint8_t **v;
    size_t *len;
    uint32_t *count;
    uint64_t *sent; /* a count-frame prefix (FB_WIRE_FEED_COUNT_MARK...): messages sent under it since it came */
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
    /* Count frames: the plain set's count prefixes want_topic starts with
     * (indexes), or ncounted -1 when there are more than S_COUNTED_MAX. */
    uint32_t counted[S_COUNTED_MAX];
    int ncounted;
    uint64_t seals_gen;     /* gen when want_seals was worked out */
    int want_seals;         /* someone subscribes to seal frames (FB_WIRE_FEED_SEAL_MARK...) */
    const fb_batch_item_t *run[FB_FEED_BATCH_MAX]; /* the batched frame being gathered: one topic */
    size_t nrun, run_bytes;
    int64_t next_head_us; /* when the next head frame is due without a batch */
    /* Read permissions (NULL: none, the socket filters as clients ask):
     * who each subscriber is, what each connection asked and got. */
    fb_identity_t *identity;
    fb_feedsub_t *subs;
    fb_pace_t *pace;
    fb_readperm_prefix_t narrowed[S_NARROW_MAX];
};

/* Counts one more (add) or one less subscription to a prefix of len bytes;
 * at none it is forgotten. Returns 0, or -1 when out of memory or past
 * FB_FEED_PREFIXES_MAX (the prefix is then not kept: frames are built as
 * if it were). */
static int s_prefixes_set(s_prefixes_t *ps, const uint8_t *p, size_t len, int add)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->len[i] == len && memcmp(ps->v[i], p, len) == 0) {
            if (add) {
                ps->count[i]++;
                return 0;
            }
            if (--ps->count[i] > 0) return 0;
            free(ps->v[i]);
            ps->v[i] = ps->v[--ps->n];
            ps->len[i] = ps->len[ps->n];
            ps->count[i] = ps->count[ps->n];
            ps->sent[i] = ps->sent[ps->n];
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
        uint32_t *c = realloc(ps->count, cap * sizeof(*c));
        if (!c) return -1;
        ps->count = c;
        uint64_t *sent = realloc(ps->sent, cap * sizeof(*sent));
        if (!sent) return -1;
        ps->sent = sent;
        ps->cap = cap;
    }
    uint8_t *c = malloc(len ? len : 1);
    if (!c) return -1;
    memcpy(c, p, len);
    ps->v[ps->n] = c;
    ps->count[ps->n] = 1;
    ps->sent[ps->n] = 0;
    ps->len[ps->n++] = len;
    return 0;
}

static void s_prefixes_free(s_prefixes_t *ps)
{
    for (size_t i = 0; i < ps->n; i++) free(ps->v[i]);
    free(ps->v);
    free(ps->len);
    free(ps->count);
    free(ps->sent);
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

fb_feed_t *fb_feed_new(const fb_zmq_opts_t *o, fb_broker_stats_t *stats, fb_identity_t *identity)
{
    fb_feed_t *self = calloc(1, sizeof(*self));
    int failed = !self;
    if (failed) goto error;
    self->stats = stats;
    self->opts = *o;
    if ((self->identity = identity)) {
        self->opts.xpub_manual = 1;
        self->subs = fb_feedsub_new();
        self->pace = fb_pace_new(20, 5);
        failed = !self->subs || !self->pace;
    }
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
    fb_feedsub_destroy(&self->subs);
    fb_pace_destroy(&self->pace);
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
        if (self->subs) fb_feedsub_clear(self->subs);
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

/* Counts one (un)subscription of a client (sub, len bytes) into the prefix
 * sets of its kind of frame. */
static void s_count(fb_feed_t *self, int add, const uint8_t *sub, size_t len)
{
    int batched = len >= 1 && sub[0] == FB_FEED_MARK;
    s_prefixes_t *ps = batched ? &self->batched : &self->plain;
    if (len - (size_t)batched > FB_FEED_PREFIX_MAX) {
        /* Past the socket's ZMQ_MAXMSGSIZE only if that was not set. */
        self->ignored++;
        return;
    }
    if (s_prefixes_set(ps, sub + batched, len - (size_t)batched, add) != 0) {
        /* Not kept: from now on every frame of that kind is built. */
        if (self->ignored++ == 0) fb_warn("feed: a subscription not kept (out of memory or prefixes)");
        s_prefixes_set(ps, (const uint8_t *)"", 0, 1);
    }
    self->gen++;
    fb_debug("feed %s%s '%.*s'", add ? "subscribe" : "unsubscribe", batched ? " (batched)" : "",
             (int)(len - (size_t)batched), (const char *)sub + batched);
}

/* fb_feedsub_fn: (un)subscribes the connection of the message last read. */
static void s_apply(void *arg, int add, const uint8_t *prefix, size_t len)
{
    fb_feed_t *self = arg;
    if (zmq_setsockopt(self->xpub, add ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, prefix, len) != 0)
        fb_warn("feed: cannot %s a subscriber: %s", add ? "subscribe" : "unsubscribe", zmq_strerror(errno));
}

/* A subscription (add) or unsubscription of sub by the connection msg came
 * on, in manual mode: the broker subscribes the connection to what its
 * member may read of sub (fb_readperm_narrow()), and withdraws that again.
 * Returns 1 when it counts (a new subscription, or the withdrawal of one
 * made), else 0 (one asked again, or the withdrawal of one never made). */
static int s_manual(fb_feed_t *self, zmq_msg_t *msg, int add, const uint8_t *sub, size_t len, const char *conn)
{
    if (!add) return fb_feedsub_remove(self->subs, conn, sub, len, s_apply, self);
    fb_peer_id_t peer;
    fb_identity_of(self->identity, msg, &peer);
    int n = 0, all = 0;
    if (peer.admit == FB_ADMIT_OK && peer.member) {
        const char *const *read = (const char *const *)peer.member->read;
        all = fb_readperm_all(read, peer.member->nread);
        n = fb_readperm_narrow(sub, len, read, peer.member->nread, self->narrowed, S_NARROW_MAX);
        if (n < 0) n = 0;
    }
    int rc = fb_feedsub_add(self->subs, conn, sub, len, self->narrowed, n, s_apply, self);
    if (rc == 0) return 0; /* asked again: XPUB holds it once */
    if (rc < 0) {
        /* Nothing subscribed; counted all the same, since XPUB withdraws
         * it when the connection ends. */
        self->ignored++;
        return 1;
    }
    int narrowed = !all && !(n == 1 && self->narrowed[0].len == len && memcmp(self->narrowed[0].b, sub, len) == 0);
    if (!narrowed) return 1;
    if (n) self->stats->feed_narrowed++;
    else self->stats->feed_denied++;
    if (FB_LOG_INFO <= fb_log_level_current &&
        fb_pace_may(self->pace, peer.id, strlen(peer.id), n ? 1 : 0, n ? "feed narrowed" : "feed denied", 1, 1.0 / 60))
        fb_info("feed: %s's subscription to '%.*s' %s (its read permission; logged once a minute per member)",
                peer.id, (int)len, (const char *)sub,
                n ? "narrowed to what it may read" : "subscribes nothing: it may read none of it");
    return 1;
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
        if (self->identity) {
            /* A client's own message names its connection; one without is
             * XPUB's, withdrawing what a connection that ended had asked. */
            const char *conn = zmq_msg_gets(&m, FB_ZAP_CONN_PROPERTY);
            if (conn && !s_manual(self, &m, d[0], d + 1, n - 1, conn)) continue;
        }
        s_count(self, d[0], d + 1, n - 1);
    }
    zmq_msg_close(&m);
    if (self->pace) fb_pace_tick(self->pace);
}

/* Whether entry i of ps is a count-frame prefix: the mark, then topic
 * bytes. One with a NUL in it is not: no topic holds one, and in a count
 * frame the prefix ends at the first NUL, so a subscriber could make the
 * broker send under another's prefix a frame whose FeedCount it wrote. */
static int s_count_prefix(const s_prefixes_t *ps, size_t i)
{
    size_t l = ps->len[i];
    return l >= 1 && ps->v[i][0] == FB_WIRE_FEED_COUNT_MARK && !memchr(ps->v[i] + 1, 0, l - 1);
}

/* Whether entry i of ps is a count-frame prefix that topic (tlen bytes) starts with. */
static int s_counts(const s_prefixes_t *ps, size_t i, const char *topic, size_t tlen)
{
    size_t l = ps->len[i];
    return s_count_prefix(ps, i) && l - 1 <= tlen && memcmp(ps->v[i] + 1, topic, l - 1) == 0;
}

/* Counts a message of topic against every count-frame prefix it starts
 * with (kept for the last topic: a batch is mostly runs of one). */
static void s_count_sent(fb_feed_t *self, const char *topic, size_t tlen, int fresh)
{
    s_prefixes_t *ps = &self->plain;
    if (fresh) {
        self->ncounted = 0;
        for (size_t i = 0; i < ps->n && self->ncounted >= 0; i++)
            if (s_counts(ps, i, topic, tlen))
                self->ncounted < S_COUNTED_MAX ? (void)(self->counted[self->ncounted++] = (uint32_t)i)
                                               : (void)(self->ncounted = -1);
    }
    if (self->ncounted >= 0) {
        for (int k = 0; k < self->ncounted; k++) ps->sent[self->counted[k]]++;
        return;
    }
    for (size_t i = 0; i < ps->n; i++)
        if (s_counts(ps, i, topic, tlen)) ps->sent[i]++;
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
    int fresh = self->want_gen != self->gen || strcmp(self->want_topic, it->topic) != 0;
    if (fresh) {
        memcpy(self->want_topic, it->topic, tlen + 1);
        self->want_gen = self->gen;
        self->want_plain = s_prefixes_select(&self->plain, it->topic, tlen);
        self->want_batched = s_prefixes_select(&self->batched, it->topic, tlen);
    }
    s_count_sent(self, it->topic, tlen, fresh);
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

/* ---------------------------------------------------------- seal frames --- */

/* Whether a subscription that starts with the seal mark is held: the
 * empty prefix alone does not ask for seal frames (a client subscribed to
 * everything skips them; building them for it would cost for nothing). */
static int s_want_seals(fb_feed_t *self)
{
    if (self->seals_gen != self->gen) {
        self->seals_gen = self->gen;
        self->want_seals = 0;
        for (size_t i = 0; i < self->plain.n && !self->want_seals; i++)
            self->want_seals = self->plain.len[i] >= 1 && self->plain.v[i][0] == FB_WIRE_FEED_SEAL_MARK;
    }
    return self->want_seals;
}

void fb_feed_seals(fb_feed_t *self, const struct fb_verify_proof *const *proofs, size_t n)
{
    if (!self->xpub || !n || !s_want_seals(self)) return;
    for (size_t i = 0; i < n; i++) {
        const fb_verify_proof_t *p = proofs[i];
        if (!p->n || p->n > FB_WIRE_FEED_SEAL_ENTRIES_MAX) continue;
        const uint8_t(*entries)[FB_SHA256_LEN] = (const uint8_t(*)[FB_SHA256_LEN])p->entries;
        zmq_msg_t msg;
        if (zmq_msg_init_size(&msg, fb_wire_feed_seal_size(&p->seal, p->n)) != 0) return;
        fb_wire_put_feed_seal(&p->seal, entries, p->n, zmq_msg_data(&msg));
        /* Dropped for a subscriber whose queue is full, like any frame:
         * its client then fetches the seal from replay. */
        if (zmq_msg_send(&msg, self->xpub, 0) < 0) zmq_msg_close(&msg);
        else self->stats->feed_seals++;
    }
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
    /* Then each count prefix's frame: a subscriber that counted as many
     * under it knows the feed lost none of them (docs/protocol.md). */
    for (size_t i = 0; i < self->plain.n; i++) {
        const uint8_t *p = self->plain.v[i];
        size_t l = self->plain.len[i];
        if (!s_count_prefix(&self->plain, i)) continue;
        uint8_t count[FB_WIRE_FEED_COUNT_MAX(FB_FEED_PREFIX_MAX)];
        size_t n = fb_wire_put_feed_count(p + 1, l - 1, head, self->plain.sent[i], count);
        zmq_send(self->xpub, count, n, ZMQ_DONTWAIT);
    }
    self->next_head_us = fb_time_mono_us() + FB_FEED_HEAD_US;
}

void fb_feed_head_tick(fb_feed_t *self, uint64_t head)
{
    if (fb_time_mono_us() >= self->next_head_us) fb_feed_head(self, head);
}
