/* fuzz_ingest.c — frames a peer sends to the broker's ingest socket, as the broker reads, stores and answers them.
 *
 * Each input is up to FZ_FRAMES_MAX frames (cut at FZ_SPLIT) from one peer:
 * publishes, PublishBatch frames, Hellos, heartbeats, anything. They are
 * read by the broker's own ingest (fb_ingest_read: the in-place readers of
 * fb_wire, each envelope decoded and checked), into batches of the
 * broker's own kind, which are classified, looked up, numbered and
 * answered as the writer thread and the main loop do (fb_batch,
 * fb_ingest_answer, the feed); only PostgreSQL is replaced, by a table of
 * the rows stored during this input. The writer module itself needs
 * PostgreSQL: the three things ingest asks it (fb_writer_held,
 * fb_writer_fill_serial, fb_writer_answered) are answered here from the
 * filling batch, so fb_writer.c is not linked.
 *
 * What must hold: every reply to the peer is a well-formed BrokerMessage or
 * AckBatch with one ack per envelope of its batch frame; every frame on the
 * feed is one a subscriber can read, and says what was stored. */
#include "fuzz.h"

#include "fb_arena.h"
#include "fb_batch.h"
#include "fb_client_int.h"
#include "fb_envelope.h"
#include "fb_feed.h"
#include "fb_identity.h"
#include "fb_ingest.h"
#include "fb_recent.h"
#include "fb_wire.h"
#include "fb_writer.h"

#define S_INGEST "inproc://fuzz-ingest"
#define S_FEED "inproc://fuzz-feed"
#define S_BATCH_MAX 4096

/* ------------------------------------------------ the writer, as ingest sees it -- */

struct fb_writer {
    fb_batch_t *fill;
    uint64_t serial, answered;
};

size_t fb_writer_held(const fb_writer_t *self, const char *origin, uint64_t *max_seq)
{
    return fb_batch_count_origin(self->fill, origin, max_seq);
}

uint64_t fb_writer_fill_serial(const fb_writer_t *self)
{
    return self->fill->serial;
}

uint64_t fb_writer_answered(const fb_writer_t *self)
{
    return self->answered;
}

/* ------------------------------------------------------------ the store -- */

/* A row stored during this input: what a look-up finds. */
typedef struct {
    char origin[FB_SEGMENT_MAX + 1];
    uint8_t id[FB_UUID_LEN];
    fb_store_found_t found;
} s_row_t;

typedef struct {
    s_row_t *rows;
    size_t n, cap;
    uint64_t head;
    fb_map_t *heads;      /* origin -> highest origin_seq stored (the writer's copy) */
    fb_recent_t *recent;  /* ids stored lately */
} s_store_t;

static const s_row_t *s_find(const s_store_t *st, const char *origin, const uint8_t *id)
{
    for (size_t i = 0; i < st->n; i++)
        if (memcmp(st->rows[i].id, id, FB_UUID_LEN) == 0 && strcmp(st->rows[i].origin, origin) == 0)
            return &st->rows[i];
    return NULL;
}

/* As fb_store_lookup() and fb_batch_resolve(): the keys of b settled. */
static void s_look_up(const s_store_t *st, fb_batch_t *b, int conflict)
{
    size_t n = fb_batch_keys(b, conflict);
    for (size_t k = 0; k < n; k++) {
        const s_row_t *r = s_find(st, b->keys[k].origin, b->keys[k].message_id);
        memset(&b->found[k], 0, sizeof(b->found[k]));
        if (r) b->found[k] = r->found;
    }
    fb_batch_resolve(b, n);
}

/* As the COPY: refused whole when a row's (origin, message_id) is stored. */
static int s_conflict(const s_store_t *st, const fb_batch_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s_find(st, b->rows[i].origin, b->rows[i].message_id)) return 1;
    return 0;
}

static void s_append(s_store_t *st, const fb_batch_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const fb_store_row_t *row = &b->rows[i];
        if (st->n == st->cap) {
            st->cap = st->cap ? st->cap * 2 : 256;
            st->rows = realloc(st->rows, st->cap * sizeof(*st->rows));
            FZ_CHECK(st->rows != NULL, "out of memory");
        }
        s_row_t *r = &st->rows[st->n++];
        FZ_CHECK(strlen(row->origin) <= FB_SEGMENT_MAX, "a stored origin is not a member id");
        snprintf(r->origin, sizeof(r->origin), "%s", row->origin);
        memcpy(r->id, row->message_id, FB_UUID_LEN);
        r->found = (fb_store_found_t){.found = 1, .global_seq = row->global_seq, .origin_seq = row->origin_seq,
                                      .stored_at_us = row->stored_at_us};
        memcpy(r->found.hash, row->hash, FB_SHA256_LEN);
        fb_recent_add(st->recent, fb_recent_key(row->origin, row->message_id));
    }
}

/* The writer thread's s_store_batch() on the table above. */
static void s_store(s_store_t *st, fb_batch_t *b)
{
    fb_batch_classify(b, st->heads, st->recent);
    b->base = st->head;
    s_look_up(st, b, 0);
    int64_t now = 1767225600000000 + (int64_t)st->head;
    size_t n = fb_batch_assign(b, st->head, now);
    if (s_conflict(st, b, n)) {
        b->store_conflicts++;
        s_look_up(st, b, 1);
        n = fb_batch_assign(b, st->head, now);
        FZ_CHECK(!s_conflict(st, b, n), "a batch conflicts again after its look-up");
    }
    for (size_t i = 0; i < n; i++) FZ_CHECK(b->rows[i].global_seq == st->head + i + 1, "global_seq has a gap");
    s_append(st, b, n);
    st->head += n;
    fb_batch_merge_heads(b->heads, st->heads);
    b->head = st->head;
}

/* --------------------------------------------------------------- replies -- */

/* Every reply to the peer is a BrokerMessage (an AckBatch read in place
 * holds well-formed acks); returns how many acks it carried. */
static size_t s_check_replies(void *peer)
{
    size_t acks = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (fz_msg_recv(&m, peer, ZMQ_DONTWAIT) >= 0) {
        const uint8_t *d = zmq_msg_data(&m), *items, *item;
        size_t len = zmq_msg_size(&m), items_len, item_len;
        Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(NULL, len, d);
        FZ_CHECK(bm != NULL, "the broker answered with a frame that is not a BrokerMessage");
        fedbus__broker_message__free_unpacked(bm, NULL);
        fb_ack_view_t a;
        if (fb_wire_ack_batch_view(d, len, &items, &items_len) == 0) {
            const uint8_t *p = items;
            int rc;
            while ((rc = fb_wire_next_item(&p, items + items_len, &item, &item_len)) == 1) {
                FZ_CHECK(fb_wire_ack_scan(item, item_len, &a) == 0, "an AckBatch holds an ack that does not scan");
                acks++;
            }
            FZ_CHECK(rc == 0, "an AckBatch is not well-formed");
        } else if (fb_wire_ack_frame_view(d, len, &item, &item_len) == 0) {
            FZ_CHECK(fb_wire_ack_scan(item, item_len, &a) == 0, "an Ack does not scan");
            acks++;
        }
    }
    zmq_msg_close(&m);
    return acks;
}

/* Every feed frame reads as a subscriber reads it (lib/fb_subscriber.c);
 * counts the stored messages plain frames and batched frames carried. */
static void s_check_feed(void *sub, fb_arena_t *arena, size_t *plain, size_t *batched)
{
    *plain = *batched = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (fz_msg_recv(&m, sub, ZMQ_DONTWAIT) >= 0) {
        const uint8_t *d = zmq_msg_data(&m);
        size_t len = zmq_msg_size(&m);
        const uint8_t *nul = memchr(d, 0, len);
        FZ_CHECK(nul != NULL, "a feed frame without its NUL");
        uint64_t head;
        fb_message_t msg;
        if (d[0] == FB_WIRE_FEED_HEAD_MARK) {
            FZ_CHECK(fb_wire_feed_head_view(d, len, &head) == 1, "a head frame does not read");
        } else if (d[0] == FB_FEED_MARK) {
            const uint8_t *p = nul + 1, *env;
            size_t env_len;
            int rc;
            while ((rc = fb_wire_next_item(&p, d + len, &env, &env_len)) == 1) {
                FZ_CHECK(fb_message_fill(arena, &msg, env, env_len) == 0, "a batched feed frame holds an unreadable envelope");
                FZ_CHECK(msg.global_seq > 0 && strlen(msg.topic) == (size_t)(nul - d - 1) &&
                             memcmp(msg.topic, d + 1, strlen(msg.topic)) == 0,
                         "a batched feed frame holds a message of another topic, or not stored");
                fb_arena_reset(arena);
                (*batched)++;
            }
            FZ_CHECK(rc == 0, "a batched feed frame is not well-formed");
        } else {
            FZ_CHECK(fb_message_fill(arena, &msg, nul + 1, len - (size_t)(nul + 1 - d)) == 0,
                     "a feed frame holds an unreadable envelope");
            FZ_CHECK(msg.global_seq > 0 && strlen(msg.topic) == (size_t)(nul - d) && memcmp(msg.topic, d, (size_t)(nul - d)) == 0,
                     "a feed frame holds a message of another topic, or not stored");
            fb_arena_reset(arena);
            (*plain)++;
        }
    }
    zmq_msg_close(&m);
}

/* ---------------------------------------------------------------- input -- */

typedef struct {
    fb_broker_config_t cfg;
    fb_broker_stats_t stats;
    fb_map_t *heads; /* committed and answered: what a Welcome says */
    struct fb_writer writer;
    fb_ingest_t *ingest;
    fb_feed_t *feed;
    void *peer, *sub;
    fb_arena_t *arena;
    fb_identity_t *identity;
} s_broker_t;

static s_broker_t *s_broker(void)
{
    static s_broker_t b;
    if (b.ingest) return &b;
    fz_quiet();
    b.cfg.max_frame = 32768; /* below the inputs' largest: FRAME_TOO_LARGE is reached too */
    b.cfg.batch_max = S_BATCH_MAX;
    b.cfg.batch_bytes = 1 << 20;
    b.heads = fb_map_new(64);
    b.writer.fill = fb_batch_new(S_BATCH_MAX + FB_BATCH_MAX);
    b.arena = fb_arena_new(16 << 10, 16 << 10);
    FZ_CHECK(b.heads && b.writer.fill && b.arena, "out of memory");
    void *router = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_ROUTER, .endpoint = S_INGEST, .bind = 1,
                                                .max_msg = b.cfg.max_frame * 4 + 4096, .sndhwm = 100000,
                                                .rcvhwm = 100000});
    FZ_CHECK(router != NULL, "cannot make the broker's ingest socket");
    /* As a plaintext broker's: no members, so every origin may publish. */
    b.identity = fb_identity_new(NULL);
    FZ_CHECK(b.identity, "out of memory");
    b.ingest = fb_ingest_new(router, &b.cfg, b.heads, &b.stats, &b.writer, b.identity);
    b.feed = fb_feed_new(&(fb_zmq_opts_t){.type = ZMQ_XPUB, .endpoint = S_FEED, .bind = 1, .sndhwm = 100000,
                                          .rcvhwm = 100000, .max_msg = FB_FEED_SUB_MAX},
                         &b.stats, NULL);
    FZ_CHECK(b.ingest && b.feed, "out of memory");
    b.peer = fz_socket(ZMQ_DEALER, S_INGEST, 0);
    /* A subscriber to everything, plain and batched. */
    b.sub = fz_socket(ZMQ_SUB, S_FEED, 0);
    const char mark = FB_FEED_MARK;
    FZ_CHECK(zmq_setsockopt(b.sub, ZMQ_SUBSCRIBE, "", 0) == 0 && zmq_setsockopt(b.sub, ZMQ_SUBSCRIBE, &mark, 1) == 0,
             "cannot subscribe");
    fb_feed_drain(b.feed);
    return &b;
}

/* One batch through the writer and back: stored, answered, fanned out. */
static void s_cycle(s_broker_t *b, s_store_t *st)
{
    fb_batch_t *fill = b->writer.fill;
    s_store(st, fill);
    b->stats.head = fill->head;
    fb_batch_merge_heads(fill->heads, b->heads);
    fb_ingest_answer(b->ingest, fill, b->feed);
    fb_feed_flush(b->feed);
    fb_feed_head(b->feed, b->stats.head);
    b->writer.answered = fill->serial;
    fb_batch_release(fill);
    fill->serial = ++b->writer.serial;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_broker_t *b = s_broker();
    s_store_t st = {.heads = fb_map_new(64), .recent = fb_recent_new(1024)};
    FZ_CHECK(st.heads && st.recent, "out of memory");
    fb_map_clear(b->heads);
    b->stats.head = 0;
    b->writer.fill->serial = ++b->writer.serial;
    const uint8_t *p = data, *f;
    size_t n;
    for (int i = 0; i < FZ_FRAMES_MAX && fz_next(&p, data + size, &f, &n); i++)
        FZ_CHECK(fz_send(b->peer, f, n, 0) == (int)n, "cannot send to ingest");
    /* The broker's loop: read while the batch has room, store, answer. */
    fb_batch_t *fill = b->writer.fill;
    size_t read = 0;
    for (;;) {
        int got = 0;
        while ((long long)fill->nitems < b->cfg.batch_max && fill->bytes < b->cfg.batch_bytes &&
               fb_ingest_read(b->ingest, fill) == 0)
            got = 1;
        read += fill->nitems;
        if (fill->nitems) s_cycle(b, &st);
        fb_ingest_tick(b->ingest);
        if (!got) break;
    }
    size_t acks = s_check_replies(b->peer);
    FZ_CHECK(acks >= read, "a publish read went unanswered");
    size_t plain, batched;
    s_check_feed(b->sub, b->arena, &plain, &batched);
    FZ_CHECK(plain == st.n && batched == st.n, "the feed did not carry every stored message once of each kind");
    free(st.rows);
    fb_map_destroy(&st.heads);
    fb_recent_destroy(&st.recent);
    return 0;
}
