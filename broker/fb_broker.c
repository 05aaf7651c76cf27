/* fb_broker.c — the broker loop: drain ingest, classify, group-commit, ack, fan out, replay.
 *
 * Two threads, two batches. The main thread owns every socket and the replay
 * connection: it reads and decodes publishes into the filling batch, and
 * answers (acks, fanout) each batch the writer hands back. The writer thread
 * owns the writing PostgreSQL connection: it classifies a batch against the
 * stored heads, COPYs it and COMMITs. While one batch commits, the next one
 * is read and decoded, so neither PostgreSQL nor the decoding waits for the
 * other. Batches form by themselves: whatever arrived while the previous
 * COMMIT ran is the next batch (up to batch-max), so batches are small when
 * the load is light (low latency) and large under load (high throughput).
 * The two threads meet only at the hand-off, over an inproc PAIR socket that
 * carries a batch pointer each way; a batch belongs to one thread at a time. */
#include "fb_broker.h"

#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_log.h"
#include "fb_map.h"
#include "fb_store.h"
#include "fb_time.h"
#include "fb_zmq.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define S_REPLAY_PAGE 256
#define S_REPLAY_MAX_ACTIVE 64
#define S_REPLAY_MAX_PREFIXES 256
#define S_NREASONS 16
#define S_HWM 100000 /* frames queued per peer on ingest */
#define S_AHEAD_IDLE_MS 20 /* a COPY sent ahead is closed when no batch came in this time */
#define S_TRIM_US (10 * 1000000) /* how often freed memory goes back to the system */

const fb_cfg_key_t fb_broker_keys[] = {
    {"pg", FB_CFG_STR, offsetof(fb_broker_config_t, pg), sizeof(((fb_broker_config_t *)0)->pg), "",
     0, 0, "PostgreSQL connection string (libpq conninfo or URI)"},
    {"ingest", FB_CFG_STR, offsetof(fb_broker_config_t, ingest),
     sizeof(((fb_broker_config_t *)0)->ingest), FB_DEFAULT_INGEST, 0, 0,
     "ROUTER endpoint nodes publish to"},
    {"feed", FB_CFG_STR, offsetof(fb_broker_config_t, feed), sizeof(((fb_broker_config_t *)0)->feed),
     FB_DEFAULT_FEED, 0, 0, "XPUB endpoint subscribers read from"},
    {"replay", FB_CFG_STR, offsetof(fb_broker_config_t, replay),
     sizeof(((fb_broker_config_t *)0)->replay), FB_DEFAULT_REPLAY, 0, 0,
     "ROUTER endpoint serving history"},
    {"max-frame", FB_CFG_INT, offsetof(fb_broker_config_t, max_frame), 0, "1048576", 1024,
     64LL << 20, "largest publish frame accepted, bytes"},
    {"batch-max", FB_CFG_INT, offsetof(fb_broker_config_t, batch_max), 0, "4096", 1, 65536,
     "most publishes committed in one transaction"},
    {"batch-bytes", FB_CFG_INT, offsetof(fb_broker_config_t, batch_bytes), 0, "16777216", 65536,
     1LL << 31, "most publish bytes committed in one transaction"},
    {"heads-interval", FB_CFG_INT, offsetof(fb_broker_config_t, heads_interval), 0, "1000", 0, 3600000,
     "milliseconds between writes of the origin heads table (0 = with every batch); at start the broker reads what came after from the messages"},
    {"commit-linger", FB_CFG_INT, offsetof(fb_broker_config_t, commit_linger), 0, "0", 0, 10000,
     "milliseconds a small batch (below commit-min publishes and a quarter of batch-bytes) may wait for more before it is committed (0 = never waits)"},
    {"commit-interval", FB_CFG_INT, offsetof(fb_broker_config_t, commit_interval), 0, "0", 0, 1000000,
     "microseconds from one batch's hand-off to the writer before the next may follow, while it holds fewer than commit-min publishes and a quarter of batch-bytes (0 = at once)"},
    {"commit-min", FB_CFG_INT, offsetof(fb_broker_config_t, commit_min), 0, "256", 1, 65536,
     "publishes that make a batch worth committing at once, without commit-linger"},
    {"feed-queue", FB_CFG_INT, offsetof(fb_broker_config_t, feed_queue), 0, "10000", 100, 10000000,
     "feed frames queued for a subscriber before the feed drops frames for it (a batched frame holds up to 32 messages and 8 KiB)"},
    {"stats-interval", FB_CFG_INT, offsetof(fb_broker_config_t, stats_interval), 0, "30", 0, 86400,
     "seconds between statistics log lines (0 = never)"},
    {"log-level", FB_CFG_STR, offsetof(fb_broker_config_t, log_level),
     sizeof(((fb_broker_config_t *)0)->log_level), "info", 0, 0, "err, warn, info or debug"},
    FB_CFG_END,
};

typedef enum {
    S_PENDING,   /* decoded, not yet classified */
    S_NEW,       /* to be stored with global_seq */
    S_CHECK,     /* origin_seq not above the head: look it up */
    S_DUP_REF,   /* same message earlier in this batch (ref) */
    S_DUPLICATE, /* stored before: ack with its global_seq */
    S_COMMITTED, /* stored by an earlier attempt of this batch whose COMMIT reply was lost */
    S_REJECTED,
} s_state_t;

typedef struct {
    zmq_msg_t ident;
    zmq_msg_t body;            /* the received frame; env_data may point into it */
    const uint8_t *env_data;   /* the publisher's envelope bytes */
    size_t env_len;
    Fedbus__NodeMessage *nm;   /* decoded only for frames other than a plain publish */
    /* What the batch needs of an envelope that passed its checks; the
     * decoded envelope itself is dropped at once (s_check_publish). */
    const char *origin, *topic; /* NUL-terminated, in the batch's arena */
    uint64_t origin_seq;
    int64_t created_at_us;
    uint8_t hash[FB_SHA256_LEN];
    s_state_t state;
    uint64_t global_seq;
    size_t ref;
    int reason;
    const char *detail; /* static text for store-level rejects */
    uint8_t stamp[FB_STAMP_MAX];
    size_t stamp_len;
    size_t group_n;      /* first item of a PublishBatch frame: how many items it holds */
    int in_group;        /* answered in its frame's AckBatch, not alone */
    char *reject_detail; /* owned copy of a decoder's reject text */
    uint8_t id[FB_UUID_LEN]; /* message_id of an envelope refused before the batch */
    int has_id;
} s_item_t;

typedef struct {
    zmq_msg_t ident;
    uint64_t request_id;
    uint64_t next_seq;
    int64_t since_us;
    char **prefixes;
    size_t nprefixes;
    uint64_t remaining; /* 0 = to the head */
} s_replay_t;

typedef struct {
    uint64_t frames, accepted, duplicates, rejected, batches, store_errors, replays, replies_dropped;
    uint64_t hellos, heartbeats, batch_frames;
    uint64_t feed_frames, feed_batches; /* sent on the feed: one message each, several each */
    uint64_t handed_ahead; /* batches handed to the writer while it committed the one before */
    uint64_t by_reason[S_NREASONS];
} s_stats_t;

/* A set of feed subscription prefixes (bytes, not strings). */
typedef struct {
    uint8_t **v;
    size_t *len;
    size_t n, cap;
} s_prefixes_t;

/* A batch of publishes. Filled and answered by the main thread, classified
 * and stored by the writer; it belongs to one of them at a time. */
typedef struct {
    s_item_t *items;
    size_t nitems;
    long long bytes;     /* envelope bytes */
    fb_store_row_t *rows;
    fb_store_key_t *keys;
    fb_store_found_t *found;
    size_t *key_items;
    fb_map_t *heads;     /* origin -> highest origin_seq of this batch's new rows */
    fb_map_t *ids;       /* (message_id, origin) -> first item, for in-batch duplicates */
    fb_arena_t *arena;   /* the decoded envelopes, released with the batch */
    uint64_t base;       /* the store's head when the writer took the batch */
    uint64_t head;       /* ... and after it stored the batch */
    uint64_t store_errors;
    int64_t first_us;    /* monotonic: when its first publish was read */
    int64_t store_us;    /* how long the writer took to store it, retries included */
    int dropped;         /* stop requested while the store was away: nothing stored */
} s_batch_t;

struct fb_broker {
    fb_broker_config_t cfg;
    fb_store_t *reader; /* replay (main thread) */
    void *ingest, *feed, *replay;
    void *pipe;         /* main's end of the hand-off to the writer */
    uint64_t head;      /* highest global_seq committed and answered */
    fb_map_t *heads;    /* origin -> highest origin_seq committed, as main knows it */
    fb_map_t *last_seen;
    s_batch_t batches[3];
    s_batch_t *fill;    /* being read into (main) */
    s_batch_t *busy;    /* with the writer, or NULL */
    s_batch_t *next;    /* handed to the writer behind busy, or NULL */
    int64_t handed_us;  /* monotonic: when the last batch went to the writer (commit-interval) */
    s_batch_t *spare[3]; /* empty and answered */
    int nspare;
    fb_arena_t *scratch; /* one envelope's decoding, reset after its checks (main) */
    s_replay_t replays[S_REPLAY_MAX_ACTIVE];
    int nreplays;
    s_stats_t stats, last_stats;
    int64_t store_us_max, store_us_sum; /* batches stored since the last stats line */
    uint64_t stored;
    int64_t next_stats_us;
    int64_t next_trim_us;
    volatile sig_atomic_t *stop;
    Fedbus__Ack acks[FB_BATCH_MAX]; /* one AckBatch being written */
    /* The feed's subscriptions as XPUB reports them (each distinct prefix
     * once): plain ones, and ones to batched frames (FB_FEED_MARK, kept
     * without it). A kind of frame is built for a topic only while one of
     * its prefixes may select it; the answer is kept for the last topic. */
    s_prefixes_t feed_plain, feed_batched;
    uint64_t feed_gen;      /* changes with the prefixes */
    char want_topic[FB_TOPIC_MAX + 1];
    uint64_t want_gen;      /* feed_gen when want_* were worked out */
    int want_plain, want_batched;
    const s_item_t *run[FB_FEED_BATCH_MAX]; /* the batched feed frame being gathered: one topic */
    size_t nrun, run_bytes;
    size_t ack_sizes[FB_BATCH_MAX];
    /* The writer thread's own, untouched by main while it runs. */
    fb_store_t *store;    /* writer connection */
    uint64_t store_head;  /* highest global_seq stored */
    fb_map_t *store_heads; /* origin -> highest origin_seq stored */
    pthread_t writer;
    int writer_running;
    void *wpipe;          /* the writer's end of the hand-off */
    s_batch_t *writing;   /* the batch the writer is storing */
    char pipe_endpoint[64];
};

/* ------------------------------------------------------------ replies ---- */

/* Sends [ident][bm] without blocking; returns 0, or -1 when the peer is
 * gone or its queue is full (the reply is dropped: publishers resend). */
static int s_send_reply(void *sock, zmq_msg_t *ident, const Fedbus__BrokerMessage *bm)
{
    size_t len = fedbus__broker_message__get_packed_size(bm);
    zmq_msg_t body;
    if (zmq_msg_init_size(&body, len) != 0) return -1;
    fedbus__broker_message__pack(bm, zmq_msg_data(&body));
    zmq_msg_t id;
    zmq_msg_init(&id);
    zmq_msg_copy(&id, ident);
    if (zmq_msg_send(&id, sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        fb_debug("reply dropped: %s", zmq_strerror(errno));
        zmq_msg_close(&id);
        zmq_msg_close(&body);
        return -1;
    }
    if (zmq_msg_send(&body, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&body);
        return -1;
    }
    return 0;
}

static void s_send_ack(fb_broker_t *self, zmq_msg_t *ident, const ProtobufCBinaryData *id,
                       int status, uint64_t global_seq, uint64_t origin_seq, int reason,
                       const char *detail)
{
    Fedbus__Ack ack = FEDBUS__ACK__INIT;
    if (id) ack.message_id = *id;
    ack.status = status;
    ack.global_seq = global_seq;
    ack.origin_seq = origin_seq;
    ack.reason = reason;
    ack.detail = (char *)(detail ? detail : "");
    Fedbus__BrokerMessage bm = FEDBUS__BROKER_MESSAGE__INIT;
    bm.body_case = FEDBUS__BROKER_MESSAGE__BODY_ACK;
    bm.ack = &ack;
    if (s_send_reply(self->ingest, ident, &bm) != 0) self->stats.replies_dropped++;
}

/* Rejects a frame right away; logs one line and counts it. */
static void s_reject(fb_broker_t *self, zmq_msg_t *ident, const ProtobufCBinaryData *id,
                     int reason, const char *detail)
{
    self->stats.rejected++;
    if (reason >= 0 && reason < S_NREASONS) self->stats.by_reason[reason]++;
    fb_info("reject %s: %s", fb_reject_name(reason), detail);
    s_send_ack(self, ident, id, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED, 0, 0, reason, detail);
}

/* ------------------------------------------------------------- origins --- */

static void s_load_head(const char *origin, uint64_t last, void *arg)
{
    uint64_t have = 0;
    if (!fb_map_get(arg, origin, strlen(origin), &have) || last > have)
        fb_map_put(arg, origin, strlen(origin), last);
}

/* The highest origin_seq stored for origin, as the writer knows it: this
 * batch's new rows first, then the store's heads. (Writer thread.) */
static uint64_t s_stored_head(fb_broker_t *self, const s_batch_t *b, const char *origin)
{
    uint64_t v = 0;
    size_t len = strlen(origin);
    if (fb_map_get(b->heads, origin, len, &v)) return v;
    if (fb_map_get(self->store_heads, origin, len, &v)) return v;
    return 0;
}

/* Key of (origin, message_id) for in-batch duplicate detection. */
static size_t s_id_key(const s_item_t *it, uint8_t *key)
{
    size_t olen = strlen(it->origin);
    memcpy(key, it->id, FB_UUID_LEN);
    memcpy(key + FB_UUID_LEN, it->origin, olen);
    return FB_UUID_LEN + olen;
}

/* ------------------------------------------------------------ the batch -- */

static void s_item_free(s_item_t *it)
{
    if (it->nm) fedbus__node_message__free_unpacked(it->nm, NULL);
    free(it->reject_detail); /* origin and topic live in the batch's arena */
    it->nm = NULL;
    it->origin = it->topic = NULL;
    it->reject_detail = NULL;
    zmq_msg_close(&it->ident);
    zmq_msg_close(&it->body);
}

static void s_mark_rejected(s_item_t *it, int reason, const char *detail)
{
    it->state = S_REJECTED;
    it->reason = reason;
    it->detail = detail;
}

static int s_batch_init(s_batch_t *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->items = calloc(max, sizeof(*b->items));
    b->rows = calloc(max, sizeof(*b->rows));
    b->keys = calloc(max, sizeof(*b->keys));
    b->found = calloc(max, sizeof(*b->found));
    b->key_items = calloc(max, sizeof(*b->key_items));
    b->heads = fb_map_new(64);
    b->ids = fb_map_new(max);
    /* The origin and topic of each publish (a few dozen bytes each). */
    b->arena = fb_arena_new(64 << 10, 1u << 20);
    return b->items && b->rows && b->keys && b->found && b->key_items && b->heads && b->ids &&
                   b->arena
               ? 0
               : -1;
}

static void s_batch_release(s_batch_t *b)
{
    for (size_t i = 0; i < b->nitems; i++) s_item_free(&b->items[i]);
    b->nitems = 0;
    b->bytes = 0;
    fb_arena_reset(b->arena);
}

static void s_batch_fini(s_batch_t *b)
{
    if (b->items) s_batch_release(b);
    free(b->items);
    free(b->rows);
    free(b->keys);
    free(b->found);
    free(b->key_items);
    fb_map_destroy(&b->heads);
    fb_map_destroy(&b->ids);
    fb_arena_destroy(&b->arena);
}

/* Resolves items in state which (S_CHECK, or S_NEW after a conflict)
 * against the store. (Writer thread.) */
static int s_resolve_lookups(fb_broker_t *self, s_batch_t *b, s_state_t which)
{
    size_t n = 0;
    for (size_t i = 0; i < b->nitems; i++) {
        if (b->items[i].state != which) continue;
        b->keys[n].origin = b->items[i].origin;
        b->keys[n].message_id = b->items[i].id;
        b->key_items[n++] = i;
    }
    if (n == 0) return 0;
    if (fb_store_lookup(self->store, b->keys, n, b->found) != FB_OK) {
        fb_warn("store: %s", fb_store_error(self->store));
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        s_item_t *it = &b->items[b->key_items[k]];
        const fb_store_found_t *f = &b->found[k];
        if (f->found && memcmp(f->hash, it->hash, FB_SHA256_LEN) == 0 && f->global_seq > b->base) {
            /* Committed by this very batch in an attempt whose reply was
             * lost: it was never acked nor fanned out. */
            it->state = S_COMMITTED;
            it->global_seq = f->global_seq;
            it->stamp_len = fb_wire_stamp_stored(f->global_seq, f->stored_at_us, it->stamp);
        } else if (f->found && memcmp(f->hash, it->hash, FB_SHA256_LEN) == 0) {
            it->state = S_DUPLICATE;
            it->global_seq = f->global_seq;
        } else if (f->found) {
            s_mark_rejected(it, FEDBUS__REJECT_REASON__REJECT_ID_REUSED,
                            "message_id is already stored with other content");
        } else if (which == S_CHECK) {
            s_mark_rejected(it, FEDBUS__REJECT_REASON__REJECT_STALE_SEQUENCE,
                            "origin_seq is not above the last stored one for this origin");
        }
    }
    return 0;
}

/* Gives S_NEW items their global_seq and stamp, and fills rows; returns
 * their count. b->heads gets each origin's last new origin_seq (the
 * highest: classification keeps them rising), once per run of one origin.
 * (Writer thread.) */
static size_t s_assign(fb_broker_t *self, s_batch_t *b, int64_t now_us)
{
    size_t n = 0;
    const s_item_t *run = NULL; /* the last S_NEW item, while its origin's run lasts */
    fb_map_clear(b->heads);
    for (size_t i = 0; i < b->nitems; i++) {
        s_item_t *it = &b->items[i];
        if (it->state != S_NEW) continue;
        it->global_seq = self->store_head + n + 1;
        it->stamp_len = fb_wire_stamp_stored(it->global_seq, now_us, it->stamp);
        fb_store_row_t *r = &b->rows[n++];
        r->global_seq = it->global_seq;
        r->origin = it->origin;
        r->origin_seq = it->origin_seq;
        r->message_id = it->id;
        r->topic = it->topic;
        r->created_at_us = it->created_at_us;
        r->stored_at_us = now_us;
        r->hash = it->hash;
        r->body = it->env_data;
        r->body_len = it->env_len;
        r->stamp = it->stamp;
        r->stamp_len = it->stamp_len;
        if (run && strcmp(run->origin, it->origin) != 0)
            fb_map_put(b->heads, run->origin, strlen(run->origin), run->origin_seq);
        run = it;
    }
    if (run) fb_map_put(b->heads, run->origin, strlen(run->origin), run->origin_seq);
    return n;
}

static int s_merge_head(const void *key, size_t len, uint64_t value, void *arg)
{
    uint64_t have = 0;
    if (!fb_map_get(arg, key, len, &have) || value > have) fb_map_put(arg, key, len, value);
    return 0;
}

/* Classifies and stores batch b: returns once it is committed, or when a
 * stop was requested while the store was away (b->dropped: nothing stored,
 * nothing will be answered; publishers resend). (Writer thread.) */
static void s_store_batch(fb_broker_t *self, s_batch_t *b)
{
    fb_map_clear(b->heads);
    fb_map_clear(b->ids);
    b->dropped = 0;
    b->store_errors = 0;
    /* Publishes come in runs of one origin (a node's frame): its head is
     * looked up once per run, and written back when the run ends. */
    const char *run = NULL;
    uint64_t run_head = 0;
    int run_new = 0;
    for (size_t i = 0; i < b->nitems; i++) {
        s_item_t *it = &b->items[i];
        uint8_t key[FB_MAP_KEY_MAX];
        uint64_t first;
        if (it->state == S_REJECTED) continue; /* refused while reading its batch */
        size_t klen = s_id_key(it, key);
        if (fb_map_add(b->ids, key, klen, i, &first) == 1) {
            if (memcmp(b->items[first].hash, it->hash, FB_SHA256_LEN) == 0) {
                it->state = S_DUP_REF;
                it->ref = first;
            } else {
                s_mark_rejected(it, FEDBUS__REJECT_REASON__REJECT_ID_REUSED,
                                "message_id is used twice with different content");
            }
            continue;
        }
        if (!run || strcmp(run, it->origin) != 0) {
            if (run_new) fb_map_put(b->heads, run, strlen(run), run_head);
            run = it->origin;
            run_head = s_stored_head(self, b, run);
            run_new = 0;
        }
        if (it->origin_seq > run_head) {
            it->state = S_NEW;
            run_head = it->origin_seq;
            run_new = 1;
        } else {
            it->state = S_CHECK;
        }
    }
    if (run_new) fb_map_put(b->heads, run, strlen(run), run_head);

    /* Nothing is acked before COMMIT, and nothing is rejected because
     * PostgreSQL is away: the batch is retried until it is stored, while the
     * publishers' frames wait in ZeroMQ's queues (backpressure). A stop
     * request drops the batch unanswered; publishers resend it. */
    int64_t backoff_ms = 100;
    int rc = FB_ESTORE, retry = 0;
    size_t n = 0;
    b->base = self->store_head;
    for (;;) {
        int64_t now = fb_time_now_us();
        int ok = fb_store_check(self->store) == 0;
        if (ok && retry) {
            /* After a failure, what the store holds is the truth: a COMMIT
             * may have succeeded without its reply reaching us. */
            fb_map_clear(self->store_heads);
            ok = fb_store_head(self->store, &self->store_head) == FB_OK &&
                 fb_store_origin_heads(self->store, s_load_head, self->store_heads) == FB_OK;
        }
        if (ok && s_resolve_lookups(self, b, S_CHECK) == 0) {
            n = s_assign(self, b, now);
            rc = fb_store_append(self->store, b->rows, n);
            if (rc == FB_ECONFLICT) {
                /* A new origin_seq carries a message_id stored before (a
                 * resend after the publisher lost its place): find which. */
                fb_debug("batch conflict, resolving: %s", fb_store_error(self->store));
                if (s_resolve_lookups(self, b, S_NEW) == 0) {
                    n = s_assign(self, b, now);
                    rc = fb_store_append(self->store, b->rows, n);
                }
            }
            if (rc == FB_OK) break;
        }
        b->store_errors++;
        retry = 1;
        fb_warn("store: batch of %zu waits: %s; retrying in %lld ms", b->nitems,
                fb_store_error(self->store), (long long)backoff_ms);
        if (*self->stop) {
            b->dropped = 1;
            return;
        }
        zmq_poll(NULL, 0, (long)backoff_ms);
        backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
    }
    self->store_head += n;
    fb_map_each(b->heads, s_merge_head, self->store_heads);
    b->head = self->store_head;
}

/* Adds (add) or removes a prefix of len bytes; returns 0, or -1 when out of
 * memory (the prefix is then not kept: frames are built as if it were). */
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

/* Sends the gathered run of stored messages as one batched feed frame:
 * FB_FEED_MARK, their topic, a NUL, then FeedBatch.envelopes, each a stored
 * envelope (docs/protocol.md, "Feed"). (Main.) */
static void s_feed_flush(fb_broker_t *self)
{
    if (!self->nrun) return;
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
            const s_item_t *it = self->run[i];
            p += fb_wire_put_header(1, it->env_len + it->stamp_len, p); /* FeedBatch.envelopes */
            memcpy(p, it->env_data, it->env_len);
            memcpy(p + it->env_len, it->stamp, it->stamp_len);
            p += it->env_len + it->stamp_len;
        }
        if (zmq_msg_send(&msg, self->feed, 0) < 0) zmq_msg_close(&msg);
        else self->stats.feed_batches++;
    }
    self->nrun = 0;
    self->run_bytes = 0;
}

/* Sends a stored message on the feed (docs/protocol.md, "Feed"): to plain
 * subscribers as one frame, the topic, a NUL, then the stored envelope; to
 * batch subscribers in the run being gathered, sent when the topic changes,
 * the run is full, or the batch is answered. The item must live until
 * s_feed_flush(). (Main.) */
static void s_fanout(fb_broker_t *self, const s_item_t *it)
{
    size_t tlen = strlen(it->topic);
    if (self->want_gen != self->feed_gen || strcmp(self->want_topic, it->topic) != 0) {
        memcpy(self->want_topic, it->topic, tlen + 1);
        self->want_gen = self->feed_gen;
        self->want_plain = s_prefixes_select(&self->feed_plain, it->topic, tlen);
        self->want_batched = s_prefixes_select(&self->feed_batched, it->topic, tlen);
    }
    if (self->want_batched) {
        size_t entry = fb_wire_field_size(1, it->env_len + it->stamp_len);
        if (self->nrun && (self->nrun == FB_FEED_BATCH_MAX || self->run_bytes + entry > FB_FEED_BATCH_BYTES ||
                           strcmp(self->run[0]->topic, it->topic) != 0))
            s_feed_flush(self);
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
    if (zmq_msg_send(&msg, self->feed, 0) < 0) zmq_msg_close(&msg);
    else self->stats.feed_frames++;
}

/* Settles what item it gets: resolves a reference to an earlier copy in
 * the batch, counts it, sends it out on the feed when it was stored, and
 * fills its ack. (Main.) */
static void s_outcome(fb_broker_t *self, s_batch_t *b, s_item_t *it, Fedbus__Ack *ack)
{
    if (it->state == S_DUP_REF) {
        const s_item_t *ref = &b->items[it->ref];
        if (ref->state == S_REJECTED) s_mark_rejected(it, ref->reason, ref->detail);
        else {
            it->state = S_DUPLICATE;
            it->global_seq = ref->global_seq;
        }
    }
    fedbus__ack__init(ack);
    if (it->has_id) ack->message_id = (ProtobufCBinaryData){FB_UUID_LEN, it->id};
    ack->origin_seq = it->origin_seq;
    switch (it->state) {
    case S_NEW:
    case S_COMMITTED:
        self->stats.accepted++;
        s_fanout(self, it);
        ack->status = FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED;
        ack->global_seq = it->global_seq;
        break;
    case S_DUPLICATE:
        self->stats.duplicates++;
        ack->status = FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE;
        ack->global_seq = it->global_seq;
        ack->detail = (char *)"stored before";
        break;
    default:
        self->stats.rejected++;
        if (it->reason >= 0 && it->reason < S_NREASONS) self->stats.by_reason[it->reason]++;
        fb_info("reject %s: %s", fb_reject_name(it->reason), it->detail);
        ack->status = FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED;
        ack->origin_seq = 0;
        ack->reason = it->reason;
        ack->detail = (char *)it->detail;
        break;
    }
}

/* Sends the AckBatch of the n items from first: one frame to the frame's
 * sender, one Ack per envelope in the order they came. (Main.) */
static void s_answer_group(fb_broker_t *self, s_batch_t *b, s_item_t *first, size_t n)
{
    size_t total = 0;
    for (size_t k = 0; k < n; k++) {
        s_outcome(self, b, first + k, &self->acks[k]);
        self->ack_sizes[k] = fedbus__ack__get_packed_size(&self->acks[k]);
        total += fb_wire_field_size(1, self->ack_sizes[k]);
    }
    zmq_msg_t msg, id;
    if (zmq_msg_init_size(&msg, fb_wire_field_size(3, total)) != 0) {
        self->stats.replies_dropped++;
        return;
    }
    uint8_t *p = zmq_msg_data(&msg);
    p += fb_wire_put_header(3, total, p); /* BrokerMessage.ack_batch */
    for (size_t k = 0; k < n; k++) {
        p += fb_wire_put_header(1, self->ack_sizes[k], p); /* AckBatch.acks */
        p += fedbus__ack__pack(&self->acks[k], p);
    }
    zmq_msg_init(&id);
    zmq_msg_copy(&id, &first->ident);
    if (zmq_msg_send(&id, self->ingest, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        zmq_msg_close(&msg);
        self->stats.replies_dropped++;
        return;
    }
    if (zmq_msg_send(&msg, self->ingest, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        self->stats.replies_dropped++;
    }
}

/* Answers a batch the writer has stored: every publish gets its ack or
 * reject (alone, or in its frame's AckBatch), every new one goes out on the
 * feed, in global_seq order. (Main.) */
static void s_answer(fb_broker_t *self, s_batch_t *b)
{
    self->stats.store_errors += b->store_errors;
    if (b->dropped) {
        fb_warn("stopping with %zu publishes unacknowledged; publishers will resend", b->nitems);
        s_batch_release(b);
        return;
    }
    self->head = b->head;
    fb_map_each(b->heads, s_merge_head, self->heads);
    self->stats.batches++;
    self->stored++;
    self->store_us_sum += b->store_us;
    if (b->store_us > self->store_us_max) self->store_us_max = b->store_us;
    for (size_t i = 0; i < b->nitems;) {
        s_item_t *it = &b->items[i];
        if (it->in_group) {
            s_answer_group(self, b, it, it->group_n);
            i += it->group_n;
            continue;
        }
        Fedbus__Ack ack;
        s_outcome(self, b, it, &ack);
        Fedbus__BrokerMessage bm = FEDBUS__BROKER_MESSAGE__INIT;
        bm.body_case = FEDBUS__BROKER_MESSAGE__BODY_ACK;
        bm.ack = &ack;
        if (s_send_reply(self->ingest, &it->ident, &bm) != 0) self->stats.replies_dropped++;
        i++;
    }
    s_feed_flush(self);
    s_batch_release(b);
}

/* ------------------------------------------------------------- writer --- */

/* What the writer tells the main thread about a batch: its rows are all
 * sent and it waits for the COMMIT (sent), or it is stored (done). */
typedef struct {
    int sent;
    s_batch_t *b;
} s_wmsg_t;

static void s_writer_tell(fb_broker_t *self, int sent, s_batch_t *b)
{
    s_wmsg_t m = {sent, b};
    while (zmq_send(self->wpipe, &m, sizeof(m), 0) < 0 && errno == EINTR)
        ;
}

/* fb_store_append()'s rows are on their way: the main thread may hand
 * over the next batch now, so that it is there when the COMMIT returns.
 * (Writer.) */
static void s_on_sent(void *arg)
{
    fb_broker_t *self = arg;
    s_writer_tell(self, 1, self->writing);
}

static void *s_writer_main(void *arg)
{
    fb_broker_t *self = arg;
    /* Signals are the main thread's: it owns the stop flag's loop. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    void *pipe = zmq_socket(fb_zmq_context(), ZMQ_PAIR);
    if (!pipe || zmq_connect(pipe, self->pipe_endpoint) != 0) {
        fb_err("writer: cannot connect %s: %s", self->pipe_endpoint, zmq_strerror(errno));
        if (pipe) zmq_close(pipe);
        return NULL;
    }
    self->wpipe = pipe;
    fb_store_set_on_sent(self->store, s_on_sent, self);
    for (;;) {
        s_batch_t *b = NULL;
        if (fb_store_ahead(self->store)) {
            /* The next batch's COPY is open: close it when none comes. */
            zmq_pollitem_t item = {pipe, 0, ZMQ_POLLIN, 0};
            int n = zmq_poll(&item, 1, S_AHEAD_IDLE_MS);
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) {
                fb_store_idle(self->store);
                continue;
            }
        }
        int rc = zmq_recv(pipe, &b, sizeof(b), 0);
        if (rc < 0 && errno == EINTR) continue;
        if (rc != (int)sizeof(b) || !b) break; /* NULL: stop */
        int64_t t0 = fb_time_mono_us();
        self->writing = b;
        s_store_batch(self, b);
        b->store_us = fb_time_mono_us() - t0;
        s_writer_tell(self, 0, b);
    }
    fb_store_set_on_sent(self->store, NULL, NULL);
    /* Leave fedbus_origins current; if this fails, the next start reads
     * the heads from the messages themselves. */
    if (fb_store_check(self->store) != 0 || fb_store_write_heads(self->store) != FB_OK)
        fb_warn("store: origin heads not written at stop: %s", fb_store_error(self->store));
    zmq_close(pipe);
    return NULL;
}

/* Whether commit-interval holds batch b back: a small batch, no stop. */
static int s_pacing(const fb_broker_t *self, const s_batch_t *b)
{
    return self->cfg.commit_interval > 0 && !*self->stop && (long long)b->nitems < self->cfg.commit_min &&
           b->bytes < self->cfg.batch_bytes / 4;
}

/* Hands the filling batch to the idle writer and fills then (whichever
 * is given, or a spare one); returns 1 when it did. */
static int s_hand_off(fb_broker_t *self, s_batch_t *then)
{
    s_batch_t *b = self->fill;
    if (self->busy || b->nitems == 0 || (!then && self->nspare == 0)) return 0;
    if (self->cfg.commit_linger > 0 && !*self->stop && (long long)b->nitems < self->cfg.commit_min &&
        b->bytes < self->cfg.batch_bytes / 4 &&
        fb_time_mono_us() - b->first_us < self->cfg.commit_linger * 1000)
        return 0;
    int64_t now = fb_time_mono_us();
    if (s_pacing(self, b) && now - self->handed_us < self->cfg.commit_interval) return 0;
    if (zmq_send(self->pipe, &b, sizeof(b), 0) != (int)sizeof(b)) {
        fb_err("writer hand-off: %s", zmq_strerror(errno));
        return 0;
    }
    self->handed_us = now;
    self->busy = b;
    self->fill = then ? then : self->spare[--self->nspare];
    return 1;
}

/* The writer has sent batch b's rows and waits for its COMMIT: a filling
 * batch of commit-min publishes or more goes to it now, queued behind b,
 * so that its COPY starts as soon as b is stored instead of after a round
 * trip through this thread. (Smaller ones, and every one with
 * commit-linger, keep filling until b is answered, as before.) */
static void s_hand_ahead(fb_broker_t *self, const s_batch_t *b)
{
    s_batch_t *f = self->fill;
    if (b != self->busy || self->next || self->nspare == 0 || self->cfg.commit_linger > 0 ||
        (long long)f->nitems < self->cfg.commit_min)
        return;
    if (zmq_send(self->pipe, &f, sizeof(f), 0) != (int)sizeof(f)) {
        fb_err("writer hand-off: %s", zmq_strerror(errno));
        return;
    }
    self->next = f;
    self->handed_us = fb_time_mono_us();
    self->fill = self->spare[--self->nspare];
    self->stats.handed_ahead++;
}

/* Whether the writer has said something (without waiting). */
static int s_writer_back(fb_broker_t *self)
{
    uint32_t ev = 0;
    size_t sz = sizeof(ev);
    return zmq_getsockopt(self->pipe, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN);
}

/* Takes one message of the writer, waiting for it when wait_ms allows (-1:
 * as long as it takes), and answers the batch it stored; returns 1 when
 * one was answered, 0 when none, -1 when the wait failed. */
static int s_collect(fb_broker_t *self, long wait_ms)
{
    if (!self->busy) return 0;
    zmq_pollitem_t item = {self->pipe, 0, ZMQ_POLLIN, 0};
    if (wait_ms != 0) {
        int rc = zmq_poll(&item, 1, wait_ms);
        if (rc < 0 && errno != EINTR) return -1;
        if (rc <= 0) return 0;
    }
    s_wmsg_t m;
    if (zmq_recv(self->pipe, &m, sizeof(m), ZMQ_DONTWAIT) != (int)sizeof(m)) return 0;
    if (m.sent) {
        s_hand_ahead(self, m.b);
        return 0;
    }
    s_batch_t *b = m.b;
    self->busy = self->next;
    self->next = NULL;
    /* With nothing queued, the next batch goes to the writer first, so that
     * its COPY runs while this one is answered; the hand-off makes b the
     * filling batch, and nothing is read into it before it is answered and
     * emptied. */
    int refill = !self->busy && s_hand_off(self, b);
    s_answer(self, b);
    if (!refill) self->spare[self->nspare++] = b;
    return 1;
}

/* Stores and answers every batch held: with the writer, queued, filling. */
static void s_drain_batches(fb_broker_t *self)
{
    for (;;) {
        if (!self->busy) s_hand_off(self, NULL);
        if (!self->busy || s_collect(self, -1) < 0) return;
    }
}

/* -------------------------------------------------------------- ingest --- */

static void s_hello(fb_broker_t *self, zmq_msg_t *ident, const Fedbus__Hello *h)
{
    Fedbus__Welcome w = FEDBUS__WELCOME__INIT;
    const char *origin = h->origin ? h->origin : "";
    w.origin = (char *)origin;
    uint64_t last = 0;
    fb_map_get(self->heads, origin, strlen(origin), &last);
    w.last_origin_seq = last;
    w.head_global_seq = self->head;
    w.max_frame = (uint32_t)self->cfg.max_frame;
    Fedbus__BrokerMessage bm = FEDBUS__BROKER_MESSAGE__INIT;
    bm.body_case = FEDBUS__BROKER_MESSAGE__BODY_WELCOME;
    bm.welcome = &w;
    self->stats.hellos++;
    fb_info("hello from %s (version %s), last origin_seq %llu", origin,
            h->version ? h->version : "?", (unsigned long long)w.last_origin_seq);
    s_send_reply(self->ingest, ident, &bm);
}

static void s_heartbeat(fb_broker_t *self, const Fedbus__Heartbeat *hb)
{
    const char *origin = hb->origin ? hb->origin : "";
    if (!fb_segment_valid(origin, strlen(origin))) return;
    fb_map_put(self->last_seen, origin, strlen(origin), (uint64_t)fb_time_now_us());
    self->stats.heartbeats++;
    fb_debug("heartbeat %s outbox=%llu last_origin_seq=%llu", origin,
             (unsigned long long)hb->outbox_depth, (unsigned long long)hb->last_origin_seq);
}

/* Copies the NUL-terminated s into arena; NULL when out of memory. */
static const char *s_keep(fb_arena_t *arena, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = fb_arena_alloc(arena, n);
    if (p) memcpy(p, s, n);
    return p;
}

/* Decodes and checks the envelope at it->env_data in scratch, which is
 * reset before returning. Returns 0 when it may be stored (it->origin,
 * topic, origin_seq, created_at_us, id and hash set; the strings copied
 * into arena), else the reject reason with a line of text in detail and,
 * when the envelope named one, its message_id in it->id (it->has_id). A
 * batch keeps only these few fields of each envelope, not its decoded
 * copy: under load that copy was as large as the envelope (16 KiB
 * envelopes: a 16 MiB batch held 16 MiB more) and went cold before the
 * writer used what it needed of it. */
static int s_check_publish(fb_arena_t *scratch, fb_arena_t *arena, s_item_t *it, char *detail,
                           size_t size)
{
    fb_verdict_t v;
    Fedbus__Envelope *bad = NULL;
    int reason = 0;
    Fedbus__Envelope *env = fb_envelope_decode_in(scratch, it->env_data, it->env_len, &v, &bad);
    if (!env) {
        /* A refused envelope that decoded names its message_id, so that a
         * publisher with many publishes in flight knows which was refused. */
        if (bad && bad->message_id.len == FB_UUID_LEN) {
            memcpy(it->id, bad->message_id.data, FB_UUID_LEN);
            it->has_id = 1;
        }
        snprintf(detail, size, "%s", v.detail);
        reason = v.reason;
        goto done;
    }
    memcpy(it->id, env->message_id.data, FB_UUID_LEN);
    it->has_id = 1;
    if (env->origin_seq == 0) {
        snprintf(detail, size, "origin_seq is required");
        reason = FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD;
        goto done;
    }
    if (fb_wire_content_hash(it->env_data, it->env_len, it->hash) != 0) {
        snprintf(detail, size, "envelope could not be hashed");
        reason = FEDBUS__REJECT_REASON__REJECT_MALFORMED;
        goto done;
    }
    if (!(it->origin = s_keep(arena, env->origin)) || !(it->topic = s_keep(arena, env->topic))) {
        snprintf(detail, size, "out of memory");
        reason = FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE;
        goto done;
    }
    it->origin_seq = env->origin_seq;
    it->created_at_us = env->created_at_us;
done:
    fb_arena_reset(scratch);
    return reason;
}

static void s_item_reset(s_item_t *it)
{
    it->nm = NULL;
    it->origin = it->topic = NULL;
    it->origin_seq = 0;
    it->created_at_us = 0;
    it->reject_detail = NULL;
    it->has_id = 0;
    it->in_group = 0;
    it->group_n = 0;
}

/* Queues the envelopes of a PublishBatch frame (held by first, whose list
 * of envelopes is list) as consecutive items, answered together. An envelope
 * refused here keeps its place, already rejected; a frame that is not a
 * well-formed batch is refused whole. */
static void s_read_batch(fb_broker_t *self, s_item_t *first, const uint8_t *list, size_t list_len)
{
    s_batch_t *b = self->fill;
    const uint8_t *p = list, *end = list + list_len, *env;
    size_t env_len, n = 0;
    int rc;
    while ((rc = fb_wire_next_bytes(&p, end, 1, &env, &env_len)) == 1) n++;
    if (rc < 0 || n == 0 || n > FB_BATCH_MAX) {
        char detail[96];
        if (rc < 0) snprintf(detail, sizeof(detail), "PublishBatch is not well-formed protobuf");
        else snprintf(detail, sizeof(detail), "a PublishBatch holds 1 to %d envelopes; got %zu", FB_BATCH_MAX, n);
        s_reject(self, &first->ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED, detail);
        s_item_free(first);
        if (b->nitems == 0) fb_arena_reset(b->arena);
        return;
    }
    p = list;
    for (size_t k = 0; k < n; k++) {
        s_item_t *it = first + k;
        if (k > 0) {
            zmq_msg_init(&it->ident);
            zmq_msg_init(&it->body);
            s_item_reset(it);
        }
        fb_wire_next_bytes(&p, end, 1, &it->env_data, &it->env_len);
        it->in_group = 1;
        char detail[192];
        int reason = s_check_publish(self->scratch, b->arena, it, detail, sizeof(detail));
        if (reason) {
            it->reject_detail = strdup(detail);
            s_mark_rejected(it, reason, it->reject_detail ? it->reject_detail : "refused");
        } else {
            it->state = S_PENDING;
            b->bytes += (long long)it->env_len;
        }
    }
    first->group_n = n;
    b->nitems += n;
}

/* Reads one frame from ingest; queues its publishes into the batch or
 * answers at once. Returns 0, or -1 when nothing was there. */
static int s_read_ingest(fb_broker_t *self)
{
    s_batch_t *b = self->fill;
    s_item_t *it = &b->items[b->nitems];
    zmq_msg_init(&it->ident);
    if (zmq_msg_recv(&it->ident, self->ingest, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&it->ident);
        return -1;
    }
    zmq_msg_init(&it->body);
    s_item_reset(it);
    if (!zmq_msg_more(&it->ident) || zmq_msg_recv(&it->body, self->ingest, 0) < 0) {
        s_item_free(it);
        return 0;
    }
    self->stats.frames++;
    int more = zmq_msg_more(&it->body);
    if (more) fb_zmq_drain(self->ingest);
    size_t len = zmq_msg_size(&it->body);
    const uint8_t *data = zmq_msg_data(&it->body), *list;
    size_t list_len;
    if (more) {
        s_reject(self, &it->ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                 "a publish is one frame; got several");
        goto done;
    }
    if ((long long)len > self->cfg.max_frame) {
        char detail[96];
        snprintf(detail, sizeof(detail), "frame of %zu bytes exceeds max-frame %lld", len,
                 self->cfg.max_frame);
        s_reject(self, &it->ident, NULL, FEDBUS__REJECT_REASON__REJECT_FRAME_TOO_LARGE, detail);
        goto done;
    }
    /* Publishes, alone or in a batch, are read in place; anything else is
     * decoded. */
    if (fb_wire_publish_view(data, len, &it->env_data, &it->env_len) == 0) goto publish;
    if (fb_wire_sole_field(data, len, 4, &list, &list_len) == 0) {
        self->stats.batch_frames++;
        s_read_batch(self, it, list, list_len);
        return 0;
    }
    /* A batch with anything beside it is refused, not decoded: protobuf
     * would keep the oneof member that comes last and drop the batch
     * unanswered. */
    const uint8_t *scan = data;
    if (fb_wire_next_bytes(&scan, data + len, 4, &list, &list_len) == 1) {
        s_reject(self, &it->ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                 "a PublishBatch frame holds the batch and nothing else");
        goto done;
    }
    it->nm = fedbus__node_message__unpack(NULL, len, data);
    if (!it->nm) {
        s_reject(self, &it->ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                 "frame is not a decodable NodeMessage");
        goto done;
    }
    switch (it->nm->body_case) {
    case FEDBUS__NODE_MESSAGE__BODY_HELLO:
        s_hello(self, &it->ident, it->nm->hello);
        goto done;
    case FEDBUS__NODE_MESSAGE__BODY_HEARTBEAT:
        s_heartbeat(self, it->nm->heartbeat);
        goto done;
    case FEDBUS__NODE_MESSAGE__BODY_PUBLISH:
        it->env_data = it->nm->publish->envelope.data;
        it->env_len = it->nm->publish->envelope.len;
        break;
    case FEDBUS__NODE_MESSAGE__BODY_PUBLISH_BATCH:
        /* The in-place reader takes a batch frame that holds the batch
         * alone; one with more around it is refused, not guessed at. */
        s_reject(self, &it->ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                 "a PublishBatch frame holds the batch and nothing else");
        goto done;
    default:
        s_reject(self, &it->ident, NULL, FEDBUS__REJECT_REASON__REJECT_UNKNOWN_REQUEST,
                 "unknown NodeMessage body");
        goto done;
    }
publish:;
    char detail[192];
    int reason = s_check_publish(self->scratch, b->arena, it, detail, sizeof(detail));
    if (reason) {
        ProtobufCBinaryData idb = {FB_UUID_LEN, it->id};
        s_reject(self, &it->ident, it->has_id ? &idb : NULL, reason, detail);
        goto done;
    }
    it->state = S_PENDING;
    b->bytes += (long long)it->env_len;
    b->nitems++;
    return 0;
done:
    s_item_free(it);
    if (b->nitems == 0) fb_arena_reset(b->arena);
    return 0;
}

/* -------------------------------------------------------------- replay --- */

static void s_replay_free(s_replay_t *r)
{
    for (size_t i = 0; i < r->nprefixes; i++) free(r->prefixes[i]);
    free(r->prefixes);
    zmq_msg_close(&r->ident);
}

static void s_replay_error(fb_broker_t *self, zmq_msg_t *ident, uint64_t request_id, int reason,
                           const char *detail)
{
    Fedbus__ReplayChunk ch = FEDBUS__REPLAY_CHUNK__INIT;
    ch.request_id = request_id;
    ch.done = 1;
    ch.error = reason;
    ch.detail = (char *)detail;
    ch.head_seq = self->head;
    size_t len = fedbus__replay_chunk__get_packed_size(&ch);
    zmq_msg_t id, body;
    if (zmq_msg_init_size(&body, len) != 0) return;
    fedbus__replay_chunk__pack(&ch, zmq_msg_data(&body));
    zmq_msg_init(&id);
    zmq_msg_copy(&id, ident);
    if (zmq_msg_send(&id, self->replay, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        zmq_msg_close(&body);
        return;
    }
    if (zmq_msg_send(&body, self->replay, ZMQ_DONTWAIT) < 0) zmq_msg_close(&body);
}

static int s_prefix_ok(const char *p)
{
    size_t len = strlen(p);
    if (len == 0 || len > FB_TOPIC_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' ||
              p[i] == '.'))
            return 0;
    return 1;
}

static void s_read_replay(fb_broker_t *self)
{
    zmq_msg_t ident, body;
    zmq_msg_init(&ident);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&ident, self->replay, ZMQ_DONTWAIT) < 0) goto out;
    if (!zmq_msg_more(&ident) || zmq_msg_recv(&body, self->replay, 0) < 0) goto out;
    if (zmq_msg_more(&body)) {
        fb_zmq_drain(self->replay);
        s_replay_error(self, &ident, 0, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                       "a replay request is one frame; got several");
        goto out;
    }
    Fedbus__ReplayRequest *req =
        fedbus__replay_request__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
    if (!req) {
        fb_info("replay: undecodable request");
        s_replay_error(self, &ident, 0, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                       "not a decodable ReplayRequest");
        goto out;
    }
    int ok = req->n_prefixes <= S_REPLAY_MAX_PREFIXES;
    for (size_t i = 0; ok && i < req->n_prefixes; i++) ok = s_prefix_ok(req->prefixes[i]);
    if (!ok) {
        s_replay_error(self, &ident, req->request_id, FEDBUS__REJECT_REASON__REJECT_BAD_TOPIC,
                       "prefixes: at most 256, each 1-255 of [a-z0-9.-]");
    } else if (self->nreplays == S_REPLAY_MAX_ACTIVE) {
        s_replay_error(self, &ident, req->request_id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                       "too many replays in progress: retry");
    } else {
        s_replay_t *r = &self->replays[self->nreplays];
        memset(r, 0, sizeof(*r));
        r->request_id = req->request_id;
        r->next_seq = req->from_seq ? req->from_seq : 1;
        r->since_us = req->since_us;
        r->remaining = req->limit;
        r->prefixes = calloc(req->n_prefixes ? req->n_prefixes : 1, sizeof(char *));
        for (size_t i = 0; r->prefixes && i < req->n_prefixes; i++) {
            if (!(r->prefixes[r->nprefixes] = strdup(req->prefixes[i]))) break;
            r->nprefixes++;
        }
        if (!r->prefixes || r->nprefixes != req->n_prefixes) {
            zmq_msg_init(&r->ident);
            s_replay_free(r);
            s_replay_error(self, &ident, req->request_id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                           "out of memory");
        } else {
            zmq_msg_init(&r->ident);
            zmq_msg_copy(&r->ident, &ident);
            self->nreplays++;
            self->stats.replays++;
        }
    }
    fedbus__replay_request__free_unpacked(req, NULL);
out:
    zmq_msg_close(&body);
    zmq_msg_close(&ident);
}

typedef struct {
    fb_broker_t *broker;
    s_replay_t *r;
    int done;
    int sent;  /* the chunk left */
    int gone;  /* the client is gone */
} s_page_ctx_t;

/* Sends one page as one ReplayChunk, while the rows are still alive. A full
 * client queue leaves the page to be read again on a later turn. */
static void s_send_page(const fb_store_page_t *page, void *arg)
{
    s_page_ctx_t *c = arg;
    fb_broker_t *self = c->broker;
    s_replay_t *r = c->r;
    ProtobufCBinaryData envs[FB_STORE_PAGE_MAX];
    for (size_t i = 0; i < page->n; i++) {
        envs[i].data = (uint8_t *)page->envs[i];
        envs[i].len = page->lens[i];
    }
    Fedbus__ReplayChunk ch = FEDBUS__REPLAY_CHUNK__INIT;
    ch.request_id = r->request_id;
    ch.n_envelopes = page->n;
    ch.envelopes = envs;
    ch.head_seq = self->head;
    ch.done = c->done;
    size_t len = fedbus__replay_chunk__get_packed_size(&ch);
    zmq_msg_t id, body;
    if (zmq_msg_init_size(&body, len) != 0) return;
    fedbus__replay_chunk__pack(&ch, zmq_msg_data(&body));
    zmq_msg_init(&id);
    zmq_msg_copy(&id, &r->ident);
    if (zmq_msg_send(&id, self->replay, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        c->gone = errno == EHOSTUNREACH;
        zmq_msg_close(&id);
        zmq_msg_close(&body);
        return;
    }
    if (zmq_msg_send(&body, self->replay, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&body);
        return;
    }
    c->sent = 1;
    if (page->n) r->next_seq = page->last_seq + 1;
    if (r->remaining) r->remaining -= page->n;
}

/* Serves one page of replay r; returns 1 when r is finished. */
static int s_replay_step(fb_broker_t *self, s_replay_t *r)
{
    unsigned want = S_REPLAY_PAGE;
    if (r->remaining && r->remaining < want) want = (unsigned)r->remaining;
    if (fb_store_check(self->reader) != 0) {
        s_replay_error(self, &r->ident, r->request_id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                       "store unavailable: retry");
        return 1;
    }
    /* A page that exhausts the limit, or starts past the head, is the last;
     * a page shorter than asked is followed by an empty done chunk. */
    s_page_ctx_t ctx = {self, r, 0, 0, 0};
    if (r->next_seq > self->head) ctx.done = 1;
    else if (r->remaining && r->remaining <= want) ctx.done = 1;
    int n = fb_store_page(self->reader, r->next_seq, r->since_us, (const char *const *)r->prefixes,
                          r->nprefixes, want, s_send_page, &ctx);
    if (n < 0) {
        fb_warn("replay: %s", fb_store_error(self->reader));
        s_replay_error(self, &r->ident, r->request_id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                       "store error: retry");
        return 1;
    }
    if (ctx.gone) return 1;
    if (!ctx.sent) return 0; /* the client's queue is full: same page next turn */
    if (ctx.done) return 1;
    if ((unsigned)n < want) {
        fb_store_page_t empty = {NULL, NULL, 0, 0};
        ctx.done = 1;
        ctx.sent = 0;
        s_send_page(&empty, &ctx);
        return ctx.sent || ctx.gone;
    }
    return 0;
}

static void s_serve_replays(fb_broker_t *self)
{
    for (int i = 0; i < self->nreplays;) {
        if (s_replay_step(self, &self->replays[i])) {
            s_replay_free(&self->replays[i]);
            self->replays[i] = self->replays[--self->nreplays];
        } else {
            i++;
        }
    }
}

/* ---------------------------------------------------------------- loop --- */

static void s_log_stats(fb_broker_t *self)
{
    s_stats_t *s = &self->stats, *l = &self->last_stats;
    if (memcmp(s, l, sizeof(*s)) == 0) return;
    char reasons[512] = "";
    size_t o = 0;
    for (int r = 1; r < S_NREASONS; r++)
        if (s->by_reason[r] && o < sizeof(reasons))
            o += (size_t)snprintf(reasons + o, sizeof(reasons) - o, " %s=%llu", fb_reject_name(r),
                                  (unsigned long long)s->by_reason[r]);
    /* store_ms_*: the batches stored since the last line (a PostgreSQL
     * stall shows here before anywhere else). */
    fb_info("stats frames=%llu batch_frames=%llu hellos=%llu heartbeats=%llu accepted=%llu "
            "duplicates=%llu rejected=%llu batches=%llu store_errors=%llu replays=%llu "
            "feed_frames=%llu feed_batches=%llu handed_ahead=%llu head=%llu "
            "origins=%zu store_ms_max=%.1f store_ms_avg=%.1f%s%s",
            (unsigned long long)s->frames, (unsigned long long)s->batch_frames,
            (unsigned long long)s->hellos, (unsigned long long)s->heartbeats, (unsigned long long)s->accepted,
            (unsigned long long)s->duplicates, (unsigned long long)s->rejected,
            (unsigned long long)s->batches, (unsigned long long)s->store_errors,
            (unsigned long long)s->replays, (unsigned long long)s->feed_frames,
            (unsigned long long)s->feed_batches, (unsigned long long)s->handed_ahead,
            (unsigned long long)self->head,
            fb_map_size(self->heads), (double)self->store_us_max / 1000.0,
            self->stored ? (double)self->store_us_sum / 1000.0 / (double)self->stored : 0.0,
            o ? " rejects:" : "", reasons);
    self->store_us_max = self->store_us_sum = 0;
    self->stored = 0;
    if (s->replies_dropped != l->replies_dropped)
        fb_warn("acks dropped (peer queue full or peer gone): %llu in all",
                (unsigned long long)s->replies_dropped);
    *l = *s;
}

static void s_drain_xpub(fb_broker_t *self)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, self->feed, ZMQ_DONTWAIT) >= 0) {
        const uint8_t *d = zmq_msg_data(&m);
        size_t n = zmq_msg_size(&m);
        if (n < 1 || d[0] > 1) continue; /* not a (un)subscription */
        int batched = n >= 2 && d[1] == FB_FEED_MARK;
        if (s_prefixes_set(batched ? &self->feed_batched : &self->feed_plain, d + 1 + batched,
                           n - 1 - (size_t)batched, d[0]) != 0) {
            /* Not kept: from now on every frame of that kind is built. */
            fb_warn("feed: out of memory keeping a subscription");
            s_prefixes_set(batched ? &self->feed_batched : &self->feed_plain, (const uint8_t *)"", 0, 1);
        }
        self->feed_gen++;
        fb_debug("feed %s%s '%.*s'", d[0] ? "subscribe" : "unsubscribe", batched ? " (batched)" : "",
                 (int)(n - 1 - (size_t)batched), (const char *)d + 1 + batched);
    }
    zmq_msg_close(&m);
}

int fb_broker_run(fb_broker_t *self, volatile sig_atomic_t *stop)
{
    self->stop = stop;
    if (pthread_create(&self->writer, NULL, s_writer_main, self) != 0) {
        fb_err("cannot start the writer thread");
        return -1;
    }
    self->writer_running = 1;
    fb_info("serving: ingest %s, feed %s, replay %s, head %llu", self->cfg.ingest, self->cfg.feed,
            self->cfg.replay, (unsigned long long)self->head);
    while (!*stop) {
        /* A full filling batch leaves ingest unread until the writer is
         * back: the publishers wait in ZeroMQ's queues (backpressure). */
        int room = (long long)self->fill->nitems < self->cfg.batch_max &&
                   self->fill->bytes < self->cfg.batch_bytes;
        zmq_pollitem_t items[] = {
            {self->pipe, 0, ZMQ_POLLIN, 0},
            {self->replay, 0, ZMQ_POLLIN, 0},
            {self->feed, 0, ZMQ_POLLIN, 0},
            {self->ingest, 0, room ? ZMQ_POLLIN : 0, 0},
        };
        long timeout = self->nreplays ? 0 : 500;
        if (self->cfg.commit_linger > 0 && !self->busy && self->fill->nitems > 0) {
            /* A lingering batch: wake when its time is up. */
            int64_t left = self->fill->first_us + self->cfg.commit_linger * 1000 - fb_time_mono_us();
            long ms = left <= 0 ? 0 : (long)((left + 999) / 1000);
            if (ms < timeout) timeout = ms;
        }
        if (!self->busy && self->fill->nitems > 0 && s_pacing(self, self->fill)) {
            /* A paced batch: wake when the interval is over. */
            int64_t left = self->handed_us + self->cfg.commit_interval - fb_time_mono_us();
            long ms = left <= 0 ? 0 : (long)((left + 999) / 1000);
            if (ms < timeout) timeout = ms;
        }
        int rc = zmq_poll(items, 4, timeout);
        if (rc < 0 && errno != EINTR) {
            fb_err("poll: %s", zmq_strerror(errno));
            break;
        }
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) s_collect(self, 0);
        if (rc > 0 && (items[3].revents & ZMQ_POLLIN)) {
            /* Take what is queued, up to batch-max publishes (and as many
             * frames of any kind) or batch-bytes. */
            s_batch_t *b = self->fill;
            if (b->nitems == 0) b->first_us = fb_time_mono_us();
            for (long long frames = 0; frames < self->cfg.batch_max &&
                                       (long long)b->nitems < self->cfg.batch_max &&
                                       b->bytes < self->cfg.batch_bytes && s_read_ingest(self) == 0;
                 frames++)
                /* A writer that is back gets what has been read so far at
                 * once: under load a frame holds up to 1,024 publishes, and
                 * reading the batch full would leave PostgreSQL idle. */
                if (self->busy && s_writer_back(self)) break;
            if (self->busy && s_writer_back(self)) s_collect(self, 0);
        }
        /* The writer never idles while publishes wait. */
        s_hand_off(self, NULL);
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN)) s_read_replay(self);
        if (rc > 0 && (items[2].revents & ZMQ_POLLIN)) s_drain_xpub(self);
        if (self->nreplays) s_serve_replays(self);
        if (!self->busy && self->fill->nitems == 0 && fb_time_mono_us() >= self->next_trim_us) {
            /* A burst leaves the heap large: queued frames, big batches,
             * their COPY data. Hand what is free back to the system, so that
             * the resident size follows the load down again (the allocator
             * keeps it otherwise). Between batches, every few seconds. */
            malloc_trim(0);
            self->next_trim_us = fb_time_mono_us() + S_TRIM_US;
        }
        if (self->cfg.stats_interval > 0 && fb_time_mono_us() >= self->next_stats_us) {
            s_log_stats(self);
            self->next_stats_us = fb_time_mono_us() + self->cfg.stats_interval * 1000000;
        }
    }
    /* Store and answer what is held: the batches with the writer, then the
     * one being filled. */
    s_drain_batches(self);
    s_batch_t *quit = NULL;
    zmq_send(self->pipe, &quit, sizeof(quit), 0);
    pthread_join(self->writer, NULL);
    self->writer_running = 0;
    self->cfg.stats_interval = 1;
    s_log_stats(self);
    fb_info("stopped at head %llu", (unsigned long long)self->head);
    return 0;
}

/* ------------------------------------------------------------ lifetime --- */

fb_broker_t *fb_broker_new(const fb_broker_config_t *cfg)
{
    char err[512];
    fb_broker_t *self = calloc(1, sizeof(*self));
    if (!self) {
        fb_err("out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    /* Room for one more PublishBatch beyond batch-max: a frame is never split. */
    size_t bm = (size_t)cfg->batch_max + FB_BATCH_MAX;
    self->heads = fb_map_new(64);
    self->store_heads = fb_map_new(64);
    self->last_seen = fb_map_new(64);
    /* One envelope's decoding at a time: a chunk holds a few KiB of
     * envelope; a large one gets a chunk of its own, given back at reset. */
    self->scratch = fb_arena_new(64 << 10, 64 << 10);
    if (s_batch_init(&self->batches[0], bm) != 0 || s_batch_init(&self->batches[1], bm) != 0 ||
        s_batch_init(&self->batches[2], bm) != 0 ||
        !self->heads || !self->store_heads || !self->last_seen || !self->scratch) {
        fb_err("out of memory");
        goto error;
    }
    self->fill = &self->batches[0];
    self->spare[self->nspare++] = &self->batches[1];
    self->spare[self->nspare++] = &self->batches[2];
    self->store = fb_store_open(cfg->pg, FB_STORE_WRITER, err, sizeof(err));
    if (!self->store) {
        fb_err("store: %s", err);
        goto error;
    }
    fb_store_set_heads_interval(self->store, cfg->heads_interval);
    fb_store_set_ahead(self->store, 1);
    self->reader = fb_store_open(cfg->pg, FB_STORE_READER, err, sizeof(err));
    if (!self->reader) {
        fb_err("store (reader): %s", err);
        goto error;
    }
    if (fb_store_head(self->store, &self->store_head) != FB_OK ||
        fb_store_origin_heads(self->store, s_load_head, self->store_heads) != FB_OK) {
        fb_err("store: %s", fb_store_error(self->store));
        goto error;
    }
    self->head = self->store_head;
    fb_map_each(self->store_heads, s_merge_head, self->heads);
    /* Ingest refuses frames far beyond max-frame at the transport (the
     * peer is dropped); frames just above it get a FRAME_TOO_LARGE reject. */
    long long hard = cfg->max_frame * 4 + 4096;
    self->ingest = fb_zmq_socket(ZMQ_ROUTER, cfg->ingest, 1, 0, hard, S_HWM);
    if (!self->ingest) {
        fb_err("cannot bind ingest %s: %s", cfg->ingest, zmq_strerror(errno));
        goto error;
    }
    self->feed = fb_zmq_socket(ZMQ_XPUB, cfg->feed, 1, 0, 0, (int)cfg->feed_queue);
    if (!self->feed) {
        fb_err("cannot bind feed %s: %s", cfg->feed, zmq_strerror(errno));
        goto error;
    }
    self->replay = fb_zmq_socket(ZMQ_ROUTER, cfg->replay, 1, 0, 1 << 20, 0);
    if (!self->replay) {
        fb_err("cannot bind replay %s: %s", cfg->replay, zmq_strerror(errno));
        goto error;
    }
    snprintf(self->pipe_endpoint, sizeof(self->pipe_endpoint), "inproc://fedbus-writer-%p", (void *)self);
    self->pipe = fb_zmq_socket(ZMQ_PAIR, self->pipe_endpoint, 1, 0, 0, 0);
    if (!self->pipe) {
        fb_err("cannot bind %s: %s", self->pipe_endpoint, zmq_strerror(errno));
        goto error;
    }
    self->next_stats_us = fb_time_mono_us() + cfg->stats_interval * 1000000;
    return self;
error:
    fb_broker_destroy(&self);
    return NULL;
}

void fb_broker_destroy(fb_broker_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_broker_t *self = *self_p;
    if (self->writer_running) {
        /* fb_broker_run joins its writer; this is only reached if it did not. */
        s_batch_t *quit = NULL;
        while (self->busy && s_collect(self, -1) >= 0)
            ;
        zmq_send(self->pipe, &quit, sizeof(quit), 0);
        pthread_join(self->writer, NULL);
    }
    for (int i = 0; i < self->nreplays; i++) s_replay_free(&self->replays[i]);
    for (int i = 0; i < 3; i++) s_batch_fini(&self->batches[i]);
    s_prefixes_free(&self->feed_plain);
    s_prefixes_free(&self->feed_batched);
    if (self->ingest) zmq_close(self->ingest);
    if (self->feed) zmq_close(self->feed);
    if (self->replay) zmq_close(self->replay);
    if (self->pipe) zmq_close(self->pipe);
    fb_store_destroy(&self->store);
    fb_store_destroy(&self->reader);
    fb_map_destroy(&self->heads);
    fb_map_destroy(&self->store_heads);
    fb_map_destroy(&self->last_seen);
    fb_arena_destroy(&self->scratch);
    free(self);
    *self_p = NULL;
}
