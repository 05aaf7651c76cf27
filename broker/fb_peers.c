/* fb_peers.c — Welcomes held until an origin's publishes in flight are settled, heartbeats, paced and escaped log lines. */
#include "fb_peers.h"

#include "fb_verify.h"

#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_log.h"
#include "fb_pace.h"
#include "fb_reply.h"
#include "fb_time.h"
#include "fb_utf8.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_KIND_HELLO FB_BROKER_NREASONS /* the kind of a Hello line; below it, reject reasons */

/* A Hello held back: who asked, for which origin, and the filling batch
 * when it came (answered once that one is). */
typedef struct {
    zmq_msg_t ident;
    char origin[FB_MAP_KEY_MAX + 1];
    char version[32];
    uint64_t wait_serial;
} s_held_t;

struct fb_peers {
    void *router;
    const fb_broker_config_t *cfg;
    const fb_map_t *heads;
    fb_broker_stats_t *stats;
    fb_writer_t *writer;
    const fb_verify_t *verify; /* borrowed; NULL: no chain heads to tell */
    fb_map_t *last_seen; /* origin -> when its last heartbeat came (wall clock, us) */
    s_held_t held[FB_PEERS_HELD_MAX];
    size_t nheld;
    fb_pace_t *pace;      /* the pace of the lines peers cause */
    /* Forgetting heartbeats: the times of the entries, and the keys to drop. */
    uint64_t *times;
    char (*drop)[FB_MAP_KEY_MAX + 1];
    size_t ntimes, ndrop;
    uint64_t cutoff;
};

fb_peers_t *fb_peers_new(void *router, const fb_broker_config_t *cfg, const fb_map_t *heads,
                         fb_broker_stats_t *stats, fb_writer_t *writer)
{
    fb_peers_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->router = router;
    self->cfg = cfg;
    self->heads = heads;
    self->stats = stats;
    self->writer = writer;
    self->pace = fb_pace_new(FB_PEERS_LOG_ALL_BURST, FB_PEERS_LOG_ALL_RATE);
    self->last_seen = fb_map_new(64);
    self->times = calloc(2 * FB_PEERS_SEEN_MAX, sizeof(*self->times));
    self->drop = calloc(2 * FB_PEERS_SEEN_MAX, sizeof(*self->drop));
    if (!self->pace || !self->last_seen || !self->times || !self->drop) fb_peers_destroy(&self);
    return self;
}

void fb_peers_destroy(fb_peers_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_peers_t *self = *self_p;
    for (size_t i = 0; i < self->nheld; i++) zmq_msg_close(&self->held[i].ident);
    fb_pace_destroy(&self->pace);
    fb_map_destroy(&self->last_seen);
    free(self->times);
    free(self->drop);
    free(self);
    *self_p = NULL;
}

size_t fb_peers_held(const fb_peers_t *self)
{
    return self->nheld;
}

/* -------------------------------------------------------------- escape -- */

/* The length of the well-formed UTF-8 sequence at s (at most left bytes),
 * or 0 when none starts there. */
static size_t s_utf8_len(const unsigned char *s, size_t left)
{
    size_t n = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
             : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    return n && n <= left && fb_utf8_valid((const char *)s, n) ? n : 0;
}

char *fb_peers_escape(char *dst, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    if (cap < 8) {
        if (cap) dst[0] = '\0';
        return dst;
    }
    for (size_t i = 0; i < len;) {
        /* n: bytes copied as they are; 0: one byte written escaped. */
        size_t n = u[i] >= 0x80 ? s_utf8_len(u + i, len - i)
                 : (u[i] >= 0x20 && u[i] < 0x7F && u[i] != '\\') ? 1 : 0;
        size_t need = n ? n : u[i] == '\\' ? 2 : 4;
        if (o + need + 4 > cap) { /* room for "..." and the NUL */
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (n) {
            memcpy(dst + o, u + i, n);
            o += n;
            i += n;
            continue;
        }
        dst[o++] = '\\';
        if (u[i] == '\\') {
            dst[o++] = '\\';
        } else {
            dst[o++] = 'x';
            dst[o++] = hex[u[i] >> 4];
            dst[o++] = hex[u[i] & 15];
        }
        i++;
    }
    dst[o] = '\0';
    return dst;
}

/* --------------------------------------------------------------- pace -- */

/* The label of a kind of line in fb_pace's summaries: "reject NAME" for a
 * reject reason, "hello" for Hellos. */
static const char *s_label(int kind)
{
    static char labels[FB_BROKER_NREASONS][40];
    if (kind < 0 || kind >= FB_BROKER_NREASONS) return "hello";
    if (!labels[kind][0]) snprintf(labels[kind], sizeof(labels[kind]), "reject %s", fb_reject_name(kind));
    return labels[kind];
}

/* Returns 1 when a line of kind from ident may be logged now; else it is
 * counted as left out. Refusals of a peer's identity (NOT_AUTHORIZED) are
 * logged at most once a minute per peer: one line says who tried; a peer
 * that keeps trying must not fill the log. */
static int s_may_log(fb_peers_t *self, const zmq_msg_t *ident, int kind)
{
    int once = kind == FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED;
    return fb_pace_may(self->pace, zmq_msg_data((zmq_msg_t *)ident), zmq_msg_size((zmq_msg_t *)ident), kind,
                       s_label(kind), once ? 1 : FB_PEERS_LOG_BURST, once ? 1.0 / 60 : FB_PEERS_LOG_RATE);
}

void fb_peers_log_reject(fb_peers_t *self, const zmq_msg_t *ident, int reason, const char *detail)
{
    fb_peers_log_reject_of(self, ident, NULL, NULL, reason, detail);
}

void fb_peers_log_reject_of(fb_peers_t *self, const zmq_msg_t *ident, const char *member, const uint8_t *id,
                            int reason, const char *detail)
{
    if (FB_LOG_INFO > fb_log_level_current || !s_may_log(self, ident, reason)) return;
    char safe[512], uuid[37] = "";
    if (id) fb_uuid_format(id, uuid);
    fb_info("reject %s: %s (%s%s%speer %s%s%s)", fb_reject_name(reason),
            fb_peers_escape(safe, sizeof(safe), detail, strlen(detail)), member && *member ? "member " : "",
            member && *member ? member : "", member && *member ? ", " : "", fb_pace_peer(self->pace),
            id ? ", message_id " : "", uuid);
}

/* ------------------------------------------------------------ welcomes -- */

/* Sends the Welcome for origin to ident: last_origin_seq is the committed
 * head of origin, or the highest origin_seq of it still in a batch when that
 * is higher. */
static void s_welcome(fb_peers_t *self, const zmq_msg_t *ident, const char *origin, const char *version)
{
    uint64_t last = 0, held = 0;
    fb_map_get(self->heads, origin, strlen(origin), &last);
    if (fb_writer_held(self->writer, origin, &held) && held > last) last = held;
    Fedbus__Welcome w = FEDBUS__WELCOME__INIT;
    w.origin = (char *)origin;
    w.last_origin_seq = last;
    w.head_global_seq = self->stats->head;
    w.max_frame = (uint32_t)self->cfg->max_frame;
    uint8_t chain_hash[FB_SHA256_LEN];
    if (self->verify && fb_verify_head(self->verify, origin, &w.chain_seq, chain_hash)) {
        w.chain_hash.data = chain_hash;
        w.chain_hash.len = FB_SHA256_LEN;
    }
    Fedbus__BrokerMessage bm = FEDBUS__BROKER_MESSAGE__INIT;
    bm.body_case = FEDBUS__BROKER_MESSAGE__BODY_WELCOME;
    bm.welcome = &w;
    if (FB_LOG_INFO <= fb_log_level_current && s_may_log(self, ident, S_KIND_HELLO)) {
        char o[160], v[96];
        fb_info("hello from %s (version %s), last origin_seq %llu", fb_peers_escape(o, sizeof(o), origin, strlen(origin)),
                fb_peers_escape(v, sizeof(v), version, strlen(version)), (unsigned long long)last);
    }
    /* Every later publish of this origin is refused INVALID_FIELD: it must
     * move to a new member id (docs/protocol.md). */
    if (last == (uint64_t)INT64_MAX && fb_segment_valid(origin, strlen(origin)))
        fb_warn("origin %s is at origin_seq 2^63-1: nothing more can be stored under it; give that node a new member id",
                origin);
    zmq_msg_t body;
    if (zmq_msg_init_size(&body, fedbus__broker_message__get_packed_size(&bm)) != 0) return;
    fedbus__broker_message__pack(&bm, zmq_msg_data(&body));
    if (fb_reply_send(self->router, ident, &body) != 0) fb_debug("reply dropped: %s", zmq_strerror(errno));
}

/* Whether held Hello h may be answered: the batches that were filling or
 * with the writer when it came are answered, or none holds its origin. */
static int s_due(fb_peers_t *self, const s_held_t *h)
{
    uint64_t max = 0;
    return fb_writer_answered(self->writer) >= h->wait_serial || fb_writer_held(self->writer, h->origin, &max) == 0;
}

void fb_peers_set_verify(fb_peers_t *self, const fb_verify_t *verify)
{
    self->verify = verify;
}

void fb_peers_hello(fb_peers_t *self, const zmq_msg_t *ident, const Fedbus__Hello *hello)
{
    const char *origin = hello->origin ? hello->origin : "";
    const char *version = hello->version ? hello->version : "?";
    size_t olen = strlen(origin);
    uint64_t max = 0;
    self->stats->hellos++;
    /* Only a valid member id can have publishes in a batch. */
    if (!fb_segment_valid(origin, olen) || olen > FB_MAP_KEY_MAX || fb_writer_held(self->writer, origin, &max) == 0) {
        s_welcome(self, ident, origin, version);
        return;
    }
    /* Held: one per peer and origin (a node says Hello again on a timer). */
    size_t i = 0;
    while (i < self->nheld && !(strcmp(self->held[i].origin, origin) == 0 &&
                                zmq_msg_size(&self->held[i].ident) == zmq_msg_size((zmq_msg_t *)ident) &&
                                memcmp(zmq_msg_data(&self->held[i].ident), zmq_msg_data((zmq_msg_t *)ident),
                                       zmq_msg_size((zmq_msg_t *)ident)) == 0))
        i++;
    if (i == self->nheld) {
        if (self->nheld == FB_PEERS_HELD_MAX) {
            fb_debug("hello not answered: %d held already", FB_PEERS_HELD_MAX);
            return;
        }
        s_held_t *h = &self->held[self->nheld];
        zmq_msg_init(&h->ident);
        if (zmq_msg_copy(&h->ident, (zmq_msg_t *)ident) != 0) {
            zmq_msg_close(&h->ident);
            return;
        }
        memcpy(h->origin, origin, olen + 1);
        snprintf(h->version, sizeof(h->version), "%s", version);
        self->nheld++;
        /* The one filling now holds the last publishes read before this Hello. */
        h->wait_serial = fb_writer_fill_serial(self->writer);
        fb_debug("hello from %s held: publishes of it up to origin_seq %llu in flight", origin,
                 (unsigned long long)max);
    }
}

/* Answers the held Hellos that are due, in the order they came. */
static void s_answer_held(fb_peers_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->nheld; i++) {
        s_held_t *h = &self->held[i];
        if (!s_due(self, h)) {
            if (kept != i) self->held[kept] = *h;
            kept++;
            continue;
        }
        s_welcome(self, &h->ident, h->origin, h->version);
        zmq_msg_close(&h->ident);
    }
    self->nheld = kept;
}

void fb_peers_tick(fb_peers_t *self)
{
    if (self->nheld) s_answer_held(self);
    fb_pace_tick(self->pace);
}

/* ---------------------------------------------------------- heartbeats -- */

static int s_collect_time(const void *key, size_t len, uint64_t value, void *arg)
{
    fb_peers_t *self = arg;
    uint64_t v;
    if (!fb_map_get(self->heads, key, len, &v) && self->ntimes < 2 * FB_PEERS_SEEN_MAX) self->times[self->ntimes++] = value;
    return 0;
}

static int s_collect_old(const void *key, size_t len, uint64_t value, void *arg)
{
    fb_peers_t *self = arg;
    uint64_t v;
    if (value <= self->cutoff && self->ndrop < 2 * FB_PEERS_SEEN_MAX && !fb_map_get(self->heads, key, len, &v)) {
        memcpy(self->drop[self->ndrop], key, len);
        self->drop[self->ndrop++][len] = '\0';
    }
    return 0;
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Forgets the oldest quarter of the origins that never published, so that
 * the map holds at most FB_PEERS_SEEN_MAX of them (one scan per quarter of
 * that many heartbeats from new origins). */
static void s_forget_oldest(fb_peers_t *self)
{
    self->ntimes = self->ndrop = 0;
    fb_map_each(self->last_seen, s_collect_time, self);
    if (self->ntimes < FB_PEERS_SEEN_MAX) return;
    qsort(self->times, self->ntimes, sizeof(*self->times), s_cmp_u64);
    self->cutoff = self->times[self->ntimes / 4];
    fb_map_each(self->last_seen, s_collect_old, self);
    for (size_t i = 0; i < self->ndrop; i++) fb_map_del(self->last_seen, self->drop[i], strlen(self->drop[i]));
    fb_debug("heartbeats: forgot %zu origins that never published", self->ndrop);
}

void fb_peers_heartbeat(fb_peers_t *self, const Fedbus__Heartbeat *hb)
{
    const char *origin = hb->origin ? hb->origin : "";
    size_t len = strlen(origin);
    if (!fb_segment_valid(origin, len)) return;
    self->stats->heartbeats++;
    if (fb_map_add(self->last_seen, origin, len, (uint64_t)fb_time_now_us(), NULL) == 1)
        fb_map_put(self->last_seen, origin, len, (uint64_t)fb_time_now_us());
    else if (fb_map_size(self->last_seen) >= FB_PEERS_SEEN_MAX + fb_map_size(self->heads))
        s_forget_oldest(self);
    fb_debug("heartbeat %s outbox=%llu last_origin_seq=%llu", origin, (unsigned long long)hb->outbox_depth,
             (unsigned long long)hb->last_origin_seq);
}
