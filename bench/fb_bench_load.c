/* fb_bench_load.c — fedbus-bench-load: the load driver: publishers, subscribers, latencies.
 *
 * Each publishing connection (a node's submit socket, or the broker's ingest
 * directly) sends NodeMessage{publish} frames on a DEALER and reads the acks;
 * `threads` threads (default one) serve the connections, each its share from
 * one loop, so that the driver wakes once per tick, not once per connection.
 * Closed loop (rate 0): as fast as acks allow, with at most `window`
 * publishes in flight per connection. Open loop (rate > 0): each
 * publish has a send time in a fixed schedule of `rate` messages per second
 * in total, and its latency counts from that time, so queueing in the
 * driver counts too. With `settle-ms`, the publishes due in the first
 * milliseconds of an open loop are its settling phase: sent, acked and
 * checked like the rest, their latencies reported apart, so that the
 * percentiles describe the steady offered rate and not the step from idle
 * to it. One or more subscriber threads receive the broker's feed through
 * the client library and count every message.
 *
 * Message ids are UUIDv7-shaped: 10 bytes of run prefix (time, version,
 * random), then the connection (2 bytes) and the message's counter (4
 * bytes), so acks and deliveries find their message without a lookup. */
#define _GNU_SOURCE /* ppoll: waits with microsecond timeouts */
#include "fb_bench.h"

#include "fb_client_int.h"
#include "fb_config.h"
#include "fb_crypto.h"
#include "fb_curve.h"
#include "fb_envelope.h"
#include "fb_time.h"
#include "fb_zmq.h"
#include "fedbus.pb-c.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MAX_CONNS 1024
#define S_MAX_SUBS 64
#define S_NREASONS 32
#define S_WARM_BIT 0x80000000u     /* counter bit of warm-up messages */
#define S_WARMUP_US (30 * 1000000) /* a connection not acked by then fails the run */
#define S_TICK_US 1000              /* open loop: shortest sleep between sends */
#define S_GRACE_US (3 * 1000000)   /* a subscriber idle this long after the last ack is done */

typedef struct {
    char nodes[4096];
    char broker[256];
    long long connections;
    char member_prefix[32];
    long long messages;
    long long payload;
    long long window;
    long long rate;
    char feed[256];
    char keys[512], broker_key[512]; /* the subscribers' CURVE keys (fb_curve) */
    char replay[256];                /* ... and what they verify through */
    int verify;
    long long subscribers;
    long long duration;
    long long idle;
    long long submit_batch;
    long long threads;
    long long settle_ms;
    char latency_log[512];
    char json[512];
} s_config_t;

#define S_FIELD(f) offsetof(s_config_t, f), sizeof(((s_config_t *)0)->f)
#define S_INT(f) offsetof(s_config_t, f), 0

static const fb_cfg_key_t s_keys[] = {
    {"nodes", FB_CFG_STR, S_FIELD(nodes), "", 0, 0,
     "comma-separated node submit endpoints, one publishing connection each"},
    {"broker", FB_CFG_STR, S_FIELD(broker), "", 0, 0,
     "or: the broker's ingest endpoint, published to directly (see --connections)"},
    {"connections", FB_CFG_INT, S_INT(connections), "4", 1, S_MAX_CONNS,
     "with --broker: publishing connections, one origin each"},
    {"member-prefix", FB_CFG_STR, S_FIELD(member_prefix), "bench-", 0, 0,
     "connection i publishes as PREFIX<i> (01, 02, ...): the node's member id"},
    {"messages", FB_CFG_INT, S_INT(messages), "10000", 1, 100000000, "messages per connection"},
    {"payload", FB_CFG_INT, S_INT(payload), "256", 64, 1 << 20,
     "envelope size in bytes, as the broker stores it"},
    {"window", FB_CFG_INT, S_INT(window), "1000", 1, 1000000,
     "most publishes in flight per connection"},
    {"rate", FB_CFG_INT, S_INT(rate), "0", 0, 10000000,
     "0 = closed loop, as fast as acks allow; N = open loop, N messages/s in total"},
    {"feed", FB_CFG_STR, S_FIELD(feed), "", 0, 0,
     "broker feed endpoint for the subscribers (empty = no subscriber)"},
    {"replay", FB_CFG_STR, S_FIELD(replay), "", 0, 0,
     "broker replay endpoint the subscribers verify through, with keys (empty: the feed's host, its port + 1,"
     " as bench/run and bench/ab lay them out)"},
    {"verify", FB_CFG_BOOL, S_INT(verify), "true", 0, 0,
     "with keys: the subscribers verify every message (the library's default; signed by the nodes); without"
     " keys nothing is signed and they do not"},
    {"keys", FB_CFG_STR, S_FIELD(keys), "", 0, 0,
     "a member's secret key file: the subscribers reach a broker run with keys (with broker-key; not --broker)"},
    {"broker-key", FB_CFG_STR, S_FIELD(broker_key), "", 0, 0, "the broker's public key file, or its Z85"},
    {"subscribers", FB_CFG_INT, S_INT(subscribers), "1", 0, S_MAX_SUBS,
     "subscriber threads, each receiving everything"},
    {"duration", FB_CFG_INT, S_INT(duration), "300", 1, 86400,
     "seconds after which the run stops and counts what is missing"},
    {"idle", FB_CFG_INT, S_INT(idle), "15", 1, 86400,
     "seconds without an ack after which a connection stops waiting (a lost ack never comes)"},
    {"submit-batch", FB_CFG_INT, S_INT(submit_batch), "1", 1, FB_BATCH_MAX,
     "through nodes: most publishes per submitted frame (1 = one Publish each; more = PublishBatch "
     "frames of what is due, answered in AckBatch frames)"},
    {"threads", FB_CFG_INT, S_INT(threads), "1", 1, S_MAX_CONNS,
     "publishing threads; the connections are dealt out among them, each thread serving its share "
     "from one loop"},
    {"settle-ms", FB_CFG_INT, S_INT(settle_ms), "0", 0, 600000,
     "open loop: publishes due in the first N ms are the settling phase; their latencies are "
     "reported apart (settle_*), not in the percentiles; they count as messages"},
    {"latency-log", FB_CFG_STR, S_FIELD(latency_log), "", 0, 0,
     "file that receives one line per message after the run: connection, number, when it was due "
     "(ms from the start), its publish->ack, publish->delivery and publish->stored_at ms (empty = none)"},
    {"json", FB_CFG_STR, S_FIELD(json), "-", 0, 0, "file that receives the JSON result (- = stdout)"},
    FB_CFG_END,
};

typedef struct {
    int index;
    char endpoint[256];
    int direct; /* publishing to the broker's ingest: this thread sequences the origin */
    fb_bench_msg_t msg;
    void *sock;
    int fd;
    uint8_t *env, *frame;
    size_t env_cap, frame_cap, frame_len;
    fb_arena_t *arena;  /* acks are decoded into it and released at once */
    ProtobufCAllocator alloc;
    uint8_t *bframe;    /* a PublishBatch frame being built */
    size_t bframe_cap;
    int64_t *bdue;      /* the send times of its publishes */
    size_t id_off, created_off;
    int patch;          /* the frame is a template: only id and created_at change */
    uint64_t next_seq;  /* direct: next origin_seq */
    int64_t *sent;      /* per message: monotonic µs its latency counts from */
    uint8_t *acked;
    int64_t *lat;       /* publish -> ack, µs; the settling phase's from the end */
    size_t nlat, nslat;
    int64_t *ack_us;    /* with --latency-log: per message, publish -> ack, µs (-1 = none) */
    uint64_t nsent, nacked, accepted, duplicates, rejected, stray, warm_sent, warm_acked;
    uint64_t by_reason[S_NREASONS];
    uint64_t late;      /* open loop: publishes sent more than two ticks behind schedule */
    int64_t last_ack;
    int64_t progress;   /* when the last new ack came (the idle limit counts from it) */
    uint64_t seen;      /* nacked then */
    int finished;
    int failed;
    char error[256];
} s_conn_t;

/* The connections one publishing thread serves. */
typedef struct {
    s_conn_t **conns;
    int n;
    struct pollfd *fds;
} s_group_t;

typedef struct {
    int index;
    uint8_t *seen;      /* per (connection, counter) */
    int64_t *lat;       /* created_at -> delivery, µs; the settling phase's from the end */
    size_t nlat, nslat;
    int64_t *deliv_us;  /* with --latency-log (first subscriber): per (connection, counter) */
    int64_t *stored_us; /* ... and created_at -> the broker's stored_at_us */
    uint64_t received, duplicates, foreign, warm, errors;
    uint64_t verified, unverified, verify_failed; /* how messages fared in verification */
    int64_t last_at;
    int failed;
    char error[320];
} s_sub_t;

static s_config_t s_cfg;
static fb_curve_t s_curve; /* the subscribers' keys, read once at start */
static volatile sig_atomic_t s_stop;
static uint8_t s_prefix[10];
static int s_nconns, s_nsubs;
static uint64_t s_messages;
static int64_t s_start_mono, s_start_wall, s_deadline; /* written before the start barrier */
static int s_subs_ready;                              /* atomic */
static uint64_t s_expected;                           /* atomic: deliveries each subscriber awaits */
static int64_t s_conns_done_at;                       /* atomic: 0 while publishing */
static pthread_barrier_t s_barrier;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* ------------------------------------------------------------------ ids -- */

static void s_id(uint8_t id[16], int conn, uint32_t counter)
{
    memcpy(id, s_prefix, 10);
    id[10] = (uint8_t)(conn >> 8);
    id[11] = (uint8_t)conn;
    for (int i = 0; i < 4; i++) id[12 + i] = (uint8_t)(counter >> (24 - 8 * i));
}

/* Returns 0 and the parts when id is one of this run's, else -1. */
static int s_id_parse(const uint8_t *id, int *conn, uint32_t *counter)
{
    if (memcmp(id, s_prefix, 10) != 0) return -1;
    *conn = id[10] << 8 | id[11];
    *counter = (uint32_t)id[12] << 24 | (uint32_t)id[13] << 16 | (uint32_t)id[14] << 8 | id[15];
    return 0;
}

/* Wall-clock created_at_us of a monotonic instant of this run. */
static int64_t s_wall_of(int64_t mono)
{
    return __atomic_load_n(&s_start_wall, __ATOMIC_ACQUIRE) + (mono - s_start_mono);
}

/* ---------------------------------------------------------- connection -- */

static int s_fail(s_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first failure of c; returns -1. */
static int s_fail(s_conn_t *c, const char *fmt, ...)
{
    if (!c->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->error, sizeof(c->error), fmt, ap);
        va_end(ap);
    }
    c->failed = 1;
    return -1;
}

/* Writes the frame of message `counter` into c->frame. */
static void s_build(s_conn_t *c, uint32_t counter, int64_t created)
{
    uint8_t id[16], v[10];
    s_id(id, c->index, counter);
    if (c->patch && fb_wire_put_varint((uint64_t)created, v) == 8) {
        memcpy(c->frame + c->id_off, id, 16);
        memcpy(c->frame + c->created_off, v, 8);
        return;
    }
    size_t el = fb_bench_msg_pack(&c->msg, id, created, c->direct ? c->next_seq : 0, c->env);
    c->frame_len = fb_bench_frame(c->env, el, c->frame);
}

/* Packs a template frame and finds where the id and created_at_us sit, so
 * that each publish costs two memcpy instead of a protobuf pack. Only for
 * nodes: publishing directly, origin_seq changes size as it grows. */
static void s_template(s_conn_t *c)
{
    uint8_t id[16], v[FB_ORIGIN_STAMP_MAX];
    memset(id, 0xEE, sizeof(id));
    int64_t created = fb_time_now_us();
    /* The created_at_us field as the envelope holds it: its key, then the
     * varint that s_build() patches. */
    size_t fl = fb_wire_stamp_origin(&(fb_wire_origin_stamp_t){.created_at_us = created}, v);
    size_t vl = fb_wire_varint_size((uint64_t)created);
    size_t el = fb_bench_msg_pack(&c->msg, id, created, 0, c->env);
    c->frame_len = fb_bench_frame(c->env, el, c->frame);
    uint8_t *f = c->frame, *end = c->frame + c->frame_len;
    uint8_t *pi = memmem(f, c->frame_len, id, 16);
    uint8_t *pc = memmem(f, c->frame_len, v, fl);
    c->patch = !c->direct && vl == 8 && pi && pc && !memmem(pi + 1, (size_t)(end - pi - 1), id, 16) &&
               !memmem(pc + 1, (size_t)(end - pc - 1), v, fl);
    if (c->patch) {
        c->id_off = (size_t)(pi - f);
        c->created_off = (size_t)(pc - f) + (fl - vl);
    }
}

/* Counts one ack, read in place (fb_wire_ack_scan). */
static void s_on_ack(s_conn_t *c, const fb_ack_view_t *a, int64_t now)
{
    int conn;
    uint32_t counter;
    int rejected = a->status == FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED;
    int dl = (int)a->detail_len;
    const char *detail = a->detail ? a->detail : "";
    if (a->message_id_len != 16 || s_id_parse(a->message_id, &conn, &counter) ||
        conn != c->index) {
        /* An ack that names no message of ours: a frame-level reject. */
        c->stray++;
        if (rejected) {
            c->rejected++;
            c->by_reason[(unsigned)a->reason < S_NREASONS ? a->reason : 0]++;
            s_fail(c, "frame rejected: %.*s", dl, detail);
        }
    } else if (counter & S_WARM_BIT) {
        if (rejected) {
            char why[200];
            snprintf(why, sizeof(why), "%s: %.*s", fb_reject_name(a->reason), dl, detail);
            s_fail(c, "warm-up publish rejected: %s", why);
        } else {
            c->warm_acked++;
        }
    } else if (counter >= s_messages || c->acked[counter]) {
        c->stray++;
    } else {
        c->acked[counter] = 1;
        c->nacked++;
        c->last_ack = now;
        if (rejected) {
            c->rejected++;
            c->by_reason[(unsigned)a->reason < S_NREASONS ? a->reason : 0]++;
            if (!c->error[0])
                snprintf(c->error, sizeof(c->error), "rejected: %s: %.*s", fb_reject_name(a->reason), dl,
                         detail);
        } else {
            if (a->status == FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE) c->duplicates++;
            else c->accepted++;
            if (c->sent[counter] < s_start_mono + s_cfg.settle_ms * 1000)
                c->lat[s_messages - 1 - c->nslat++] = now - c->sent[counter];
            else
                c->lat[c->nlat++] = now - c->sent[counter];
            if (c->ack_us) c->ack_us[counter] = now - c->sent[counter];
        }
    }
}

static void s_on_frame(s_conn_t *c, const void *data, size_t len, int64_t now)
{
    const uint8_t *list, *ack;
    size_t list_len, ack_len;
    if (fb_wire_ack_batch_view(data, len, &list, &list_len) == 0) {
        /* An AckBatch: the answers to a PublishBatch submitted earlier. */
        const uint8_t *p = list, *end = list + list_len;
        int rc;
        while ((rc = fb_wire_next_item(&p, end, &ack, &ack_len)) == 1) {
            fb_ack_view_t a;
            if (fb_wire_ack_scan(ack, ack_len, &a) != 0) {
                rc = -1;
                break;
            }
            s_on_ack(c, &a, now);
        }
        if (rc < 0) c->stray++;
        return;
    }
    if (fb_wire_ack_frame_view(data, len, &ack, &ack_len) == 0) {
        /* One Ack (BrokerMessage.ack), the answer to a single Publish. */
        fb_ack_view_t a;
        if (fb_wire_ack_scan(ack, ack_len, &a) != 0) c->stray++;
        else s_on_ack(c, &a, now);
        return;
    }
    Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(&c->alloc, len, data);
    if (!bm) {
        fb_arena_reset(c->arena);
        c->stray++;
        return;
    }
    if (bm->body_case == FEDBUS__BROKER_MESSAGE__BODY_WELCOME) {
        if (c->direct && bm->welcome->last_origin_seq >= c->next_seq)
            c->next_seq = bm->welcome->last_origin_seq + 1;
        if (!c->next_seq) c->next_seq = 1;
        fb_arena_reset(c->arena);
        return;
    }
    c->stray++; /* neither an ack nor a Welcome */
    fb_arena_reset(c->arena);
}

/* Handles every frame already there; when there is none, waits up to
 * timeout_us for one first. Returns how many frames were handled. */
static int s_pump(s_conn_t *c, int64_t timeout_us)
{
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            if (zmq_msg_more(&m)) fb_zmq_drain(c->sock);
            s_on_frame(c, zmq_msg_data(&m), zmq_msg_size(&m), fb_time_mono_us());
            zmq_msg_close(&m);
            n++;
        }
        if (n > 0 || timeout_us <= 0 || pass == 1) break;
        /* ZMQ_FD is edge-triggered: wait only once ZMQ_EVENTS says nothing is queued. */
        uint32_t ev = 0;
        size_t sz = sizeof(ev);
        zmq_getsockopt(c->sock, ZMQ_EVENTS, &ev, &sz);
        if (ev & ZMQ_POLLIN) continue;
        struct pollfd p = {c->fd, POLLIN, 0};
        struct timespec ts = {(time_t)(timeout_us / 1000000), (long)(timeout_us % 1000000) * 1000};
        ppoll(&p, 1, &ts, NULL);
    }
    return n;
}

/* Sends message nsent, counting its latency from `from`; returns 0, or -1
 * when the socket cannot take it now. */
/* Sends messages nsent .. nsent+k-1, due at due[0..k-1], as one
 * PublishBatch frame; returns 0, or -1 when the socket cannot take it now. */
static int s_send_batch(s_conn_t *c, const int64_t *due, int k)
{
    const uint8_t *env = NULL;
    size_t env_len = 0, inner = 0, len = 0;
    for (int i = 0; i < k; i++) {
        s_build(c, (uint32_t)(c->nsent + (uint64_t)i), s_wall_of(due[i]));
        /* Batches are of patched templates only: the envelope keeps its
         * place and length in c->frame from one message to the next. */
        if (i == 0 && fb_wire_publish_view(c->frame, c->frame_len, &env, &env_len) != 0) return -1;
        size_t item = fb_wire_item_size(env_len);
        if (16 + inner + item > c->bframe_cap) return -1; /* sized at start for FB_BATCH_MAX */
        /* Items first, after room for the frame's header; moved down below. */
        len = 16 + inner;
        len += fb_wire_put_item_header(env_len, c->bframe + len);
        memcpy(c->bframe + len, env, env_len);
        inner += item;
    }
    uint8_t head[16];
    size_t h = fb_wire_put_publish_batch_header(inner, head);
    memcpy(c->bframe + 16 - h, head, h);
    if (zmq_send(c->sock, c->bframe + 16 - h, h + inner, ZMQ_DONTWAIT) < 0) return -1;
    for (int i = 0; i < k; i++) c->sent[c->nsent + (uint64_t)i] = due[i];
    c->nsent += (uint64_t)k;
    return 0;
}

static int s_send(s_conn_t *c, int64_t from)
{
    uint32_t k = (uint32_t)c->nsent;
    s_build(c, k, s_wall_of(from));
    if (zmq_send(c->sock, c->frame, c->frame_len, ZMQ_DONTWAIT) < 0) return -1;
    c->sent[k] = from;
    c->nsent++;
    if (c->direct) c->next_seq++;
    return 0;
}

static int s_connect(s_conn_t *c)
{
    int hwm = (int)(s_cfg.window * 2 + 1000);
    c->sock = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = c->endpoint, .sndhwm = hwm,
                                           .rcvhwm = hwm});
    if (!c->sock) return s_fail(c, "cannot connect to %s: %s", c->endpoint, zmq_strerror(errno));
    size_t sz = sizeof(c->fd);
    zmq_getsockopt(c->sock, ZMQ_FD, &c->fd, &sz);
    if (!c->direct) return 0;
    /* Publishing directly: ask where this origin's sequence stands. */
    Fedbus__Hello h = FEDBUS__HELLO__INIT;
    h.origin = c->msg.origin;
    h.version = (char *)"fedbus-bench-load";
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HELLO;
    nm.hello = &h;
    uint8_t buf[256];
    size_t len = fedbus__node_message__pack(&nm, buf);
    zmq_send(c->sock, buf, len, 0);
    int64_t until = fb_time_mono_us() + 10 * 1000000;
    while (!c->next_seq && !s_stop && fb_time_mono_us() < until) s_pump(c, 100000);
    if (!c->next_seq) return s_fail(c, "no welcome from broker %s", c->endpoint);
    return 0;
}

/* Publishes warm-up messages until this connection is acked and every
 * subscriber saw one (the feed subscription has reached the broker). */
static void s_warmup(s_conn_t *c)
{
    int64_t until = fb_time_mono_us() + S_WARMUP_US;
    while (!s_stop && !c->failed) {
        if (c->warm_acked && __atomic_load_n(&s_subs_ready, __ATOMIC_ACQUIRE) >= s_nsubs) return;
        if (fb_time_mono_us() > until) {
            s_fail(c, "no ack from %s during warm-up", c->endpoint);
            return;
        }
        uint64_t before = c->warm_acked;
        s_build(c, S_WARM_BIT | (uint32_t)c->warm_sent, fb_time_now_us());
        if (zmq_send(c->sock, c->frame, c->frame_len, ZMQ_DONTWAIT) >= 0) {
            c->warm_sent++;
            if (c->direct) c->next_seq++;
        }
        int64_t wait_until = fb_time_mono_us() + 1000000;
        while (c->warm_acked == before && !c->failed && fb_time_mono_us() < wait_until)
            s_pump(c, 100000);
        if (c->warm_acked != before) s_pump(c, 50000); /* pace, and let the feed catch up */
    }
}

/* One turn of connection c: sends what is due and its window allows.
 * Returns how long c can wait (µs) before its next turn, or -1 once it is
 * finished (all acked, failed, stopped, past the deadline, or idle). */
static int64_t s_turn(s_conn_t *c)
{
    const int64_t start = s_start_mono, window = s_cfg.window;
    /* Batches only through a node whose frames are patched templates. */
    const int batch = c->direct || !c->patch ? 1 : (int)s_cfg.submit_batch;
    const double iv = s_cfg.rate > 0 ? 1e6 * s_nconns / (double)s_cfg.rate : 0;
    const double phase = iv * c->index / s_nconns;
    int64_t now = fb_time_mono_us();
    if (c->failed || s_stop || c->nacked >= s_messages || now > s_deadline) return -1;
    if (c->nacked != c->seen) {
        c->seen = c->nacked;
        c->progress = now;
    } else if (now - c->progress > s_cfg.idle * 1000000 && now > start) {
        return -1;
    }
    int blocked = 0;
    while (c->nsent < s_messages && (int64_t)(c->nsent - c->nacked) < window) {
        /* What is due and the window allows: one frame, or one each. */
        int k = 0;
        while (k < batch && c->nsent + (uint64_t)k < s_messages &&
               (int64_t)(c->nsent + (uint64_t)k - c->nacked) < window) {
            int64_t due = iv > 0 ? start + (int64_t)(phase + iv * (double)(c->nsent + (uint64_t)k)) : now;
            if (due > now) break;
            c->bdue[k++] = due;
        }
        if (k == 0) break;
        if (k > 1 ? s_send_batch(c, c->bdue, k) != 0 : s_send(c, c->bdue[0]) != 0) {
            blocked = 1;
            break;
        }
        for (int i = 0; i < k; i++)
            if (iv > 0 && now - c->bdue[i] > 2 * S_TICK_US) c->late++;
    }
    int64_t wait = 50000;
    if (blocked) wait = 1000;
    else if (iv > 0 && c->nsent < s_messages && (int64_t)(c->nsent - c->nacked) < window) {
        /* Sleep at least S_TICK_US: at high rates a wake-up per message
         * would cost the machine more than the publishes. Sends go out
         * late by up to a tick, never early, and that lateness counts. */
        int64_t due = start + (int64_t)(phase + iv * (double)c->nsent);
        wait = due - fb_time_mono_us();
        if (wait < S_TICK_US) wait = S_TICK_US;
        if (wait > 50000) wait = 50000;
    }
    return wait;
}

/* Reads what every live connection of g has queued; returns how many
 * frames. */
static int s_drain_group(s_group_t *g)
{
    int n = 0;
    for (int i = 0; i < g->n; i++)
        if (!g->conns[i]->finished) n += s_pump(g->conns[i], 0);
    return n;
}

/* Waits up to timeout_us for a frame on any live connection of g, and reads
 * what came. */
static void s_pump_group(s_group_t *g, int64_t timeout_us)
{
    if (s_drain_group(g) > 0 || timeout_us <= 0) return;
    /* ZMQ_FD is edge-triggered: wait only once ZMQ_EVENTS says nothing is queued. */
    int nfds = 0;
    for (int i = 0; i < g->n; i++) {
        s_conn_t *c = g->conns[i];
        if (c->finished) continue;
        uint32_t ev = 0;
        size_t sz = sizeof(ev);
        zmq_getsockopt(c->sock, ZMQ_EVENTS, &ev, &sz);
        if (ev & ZMQ_POLLIN) {
            s_drain_group(g);
            return;
        }
        g->fds[nfds++] = (struct pollfd){c->fd, POLLIN, 0};
    }
    struct timespec ts = {(time_t)(timeout_us / 1000000), (long)(timeout_us % 1000000) * 1000};
    ppoll(g->fds, (nfds_t)nfds, &ts, NULL);
    s_drain_group(g);
}

/* A publishing thread: connects and warms up each of its connections, then
 * serves them all from one loop (one wake-up per tick for all of them, not
 * one per connection). */
static void *s_group_main(void *arg)
{
    s_group_t *g = arg;
    for (int i = 0; i < g->n; i++) {
        s_conn_t *c = g->conns[i];
        if (s_connect(c) == 0) {
            s_template(c);
            s_warmup(c);
        }
    }
    pthread_barrier_wait(&s_barrier); /* warmed up */
    pthread_barrier_wait(&s_barrier); /* start time set */
    for (int i = 0; i < g->n; i++) {
        g->conns[i]->progress = s_start_mono;
        g->conns[i]->finished = g->conns[i]->failed || !g->conns[i]->sock;
    }
    for (;;) {
        int64_t wait = INT64_MAX;
        int live = 0;
        for (int i = 0; i < g->n; i++) {
            s_conn_t *c = g->conns[i];
            if (c->finished) continue;
            int64_t w = s_turn(c);
            if (w < 0) {
                c->finished = 1;
                continue;
            }
            live++;
            if (w < wait) wait = w;
        }
        if (!live) break;
        s_pump_group(g, wait);
    }
    for (int i = 0; i < g->n; i++) {
        s_conn_t *c = g->conns[i];
        if (c->sock) zmq_close(c->sock);
        c->sock = NULL;
    }
    return NULL;
}

/* ---------------------------------------------------------- subscriber -- */

/* Sets how sub verifies: through replay with keys (--verify), else not at
 * all (trust off: nothing is signed). Returns FB_OK or an error. */
static int s_sub_verify(fb_subscriber_t *sub)
{
    if (!s_curve.on || !s_cfg.verify) return fb_subscriber_set_verify(sub, FB_VERIFY_OFF);
    char ep[300];
    const char *colon = strrchr(s_cfg.feed, ':');
    if (s_cfg.replay[0]) snprintf(ep, sizeof(ep), "%s", s_cfg.replay);
    else if (colon) snprintf(ep, sizeof(ep), "%.*s:%d", (int)(colon - s_cfg.feed), s_cfg.feed, atoi(colon + 1) + 1);
    else return FB_EINVAL;
    fb_endpoint_opts_t replay = {.endpoint = ep,
                                 .curve_serverkey = s_curve.server_key,
                                 .curve_publickey = s_curve.public_key,
                                 .curve_secretkey = s_curve.secret_key};
    return fb_subscriber_verify_via(sub, &replay);
}

static void *s_sub_main(void *arg)
{
    s_sub_t *s = arg;
    int marked = 0;
    fb_endpoint_opts_t feed = {.endpoint = s_cfg.feed};
    if (s_curve.on) {
        feed.curve_serverkey = s_curve.server_key;
        feed.curve_publickey = s_curve.public_key;
        feed.curve_secretkey = s_curve.secret_key;
    }
    fb_subscriber_t *sub = fb_subscriber_open(&feed, NULL);
    if (!sub || fb_subscriber_add(sub, "event") != FB_OK || s_sub_verify(sub) != FB_OK) {
        snprintf(s->error, sizeof(s->error), "cannot subscribe to %s", s_cfg.feed);
        s->failed = 1;
        __atomic_add_fetch(&s_subs_ready, 1, __ATOMIC_RELEASE);
        fb_subscriber_destroy(&sub);
        return NULL;
    }
    while (!s_stop) {
        fb_message_t msg;
        int rc = fb_subscriber_recv(sub, &msg, 100);
        int64_t now = fb_time_mono_us();
        int conn;
        uint32_t counter;
        if (rc == FB_EVERIFY) s->verify_failed++; /* delivered flagged: counted, and the run fails */
        if (rc == FB_OK || rc == FB_EVERIFY) {
            int v = fb_message_verified(&msg);
            if (v == FB_MSG_VERIFIED) s->verified++;
            else if (v != FB_MSG_NOT_CHECKED && v != FB_MSG_FAILED) s->unverified++;
            /* The id as the envelope holds it (the library scanned it
             * already), not its text form parsed back. */
            const fb_envelope_head_t *h = fb_message_head(&msg);
            if (!h || h->message_id_len != 16 || s_id_parse(h->message_id, &conn, &counter) != 0 ||
                conn >= s_nconns) {
                s->foreign++;
            } else if (counter & S_WARM_BIT) {
                s->warm++;
                if (!marked) {
                    marked = 1;
                    __atomic_add_fetch(&s_subs_ready, 1, __ATOMIC_RELEASE);
                }
            } else if (counter < s_messages) {
                uint8_t *seen = &s->seen[(size_t)conn * s_messages + counter];
                if (*seen) {
                    s->duplicates++;
                } else {
                    *seen = 1;
                    s->received++;
                    s->last_at = now;
                    /* created_at_us was written from this run's monotonic clock. */
                    int64_t sm = __atomic_load_n(&s_start_mono, __ATOMIC_ACQUIRE);
                    int64_t sw = __atomic_load_n(&s_start_wall, __ATOMIC_ACQUIRE);
                    int64_t due = msg.created_at_us - sw + sm;
                    if (due < sm + s_cfg.settle_ms * 1000)
                        s->lat[(size_t)s_nconns * s_messages - 1 - s->nslat++] = now - due;
                    else
                        s->lat[s->nlat++] = now - due;
                    if (s->deliv_us) {
                        /* stored_at_us is the broker's wall clock, created_at_us
                         * this run's: both the same machine's clock here. */
                        size_t k = (size_t)conn * s_messages + counter;
                        s->deliv_us[k] = now - due;
                        s->stored_us[k] = msg.stored_at_us - msg.created_at_us;
                    }
                }
            } else {
                s->foreign++;
            }
        } else if (rc != FB_ETIMEOUT && rc != FB_EINTR) {
            s->errors++;
        }
        if (s->received >= __atomic_load_n(&s_expected, __ATOMIC_ACQUIRE)) break;
        int64_t done = __atomic_load_n(&s_conns_done_at, __ATOMIC_ACQUIRE);
        if (done && now > (s->last_at > done ? s->last_at : done) + S_GRACE_US) break;
    }
    if (!marked) __atomic_add_fetch(&s_subs_ready, 1, __ATOMIC_RELEASE);
    fb_subscriber_destroy(&sub);
    return NULL;
}

/* ---------------------------------------------------------------- main --- */

static double s_ms(int64_t us)
{
    return (double)us / 1000.0;
}

static int s_write_json(json_t *j)
{
    FILE *out = strcmp(s_cfg.json, "-") ? fopen(s_cfg.json, "w") : stdout;
    if (!out) {
        fprintf(stderr, "fedbus-bench-load: cannot write %s\n", s_cfg.json);
        return -1;
    }
    json_dumpf(j, out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    fputc('\n', out);
    if (out != stdout) fclose(out);
    return 0;
}

/* Prints one number of milliseconds, or "-" for none (us < 0). */
static void s_put_ms(FILE *f, int64_t us)
{
    if (us < 0) fputs(" -", f);
    else fprintf(f, " %.3f", (double)us / 1000.0);
}

/* --latency-log: one line per message, in connection and number order, so
 * that a run's latencies can be followed over time (`sort -k3 -n`, buckets
 * by due time). Returns 0, or -1 when the file could not be written. */
static int s_write_latencies(FILE *f, const s_conn_t *conns, const s_sub_t *sub)
{
    fprintf(f, "# connection number due_ms ack_ms delivery_ms stored_ms "
               "(due: from the start; ack and delivery: from due; stored: from due to the broker's "
               "stored_at_us; - = none)\n");
    for (int i = 0; i < s_nconns; i++) {
        const s_conn_t *c = &conns[i];
        for (uint64_t m = 0; m < c->nsent && m < s_messages; m++) {
            size_t k = (size_t)i * s_messages + m;
            fprintf(f, "%d %llu", i + 1, (unsigned long long)m);
            s_put_ms(f, c->sent[m] - s_start_mono);
            s_put_ms(f, c->ack_us[m]);
            s_put_ms(f, sub ? sub->deliv_us[k] : -1);
            s_put_ms(f, sub && sub->deliv_us[k] >= 0 ? sub->stored_us[k] : -1);
            fputc('\n', f);
        }
    }
    if (fflush(f) != 0 || ferror(f)) {
        fprintf(stderr, "fedbus-bench-load: cannot write --latency-log %s: %s\n", s_cfg.latency_log,
                strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 1;
    s_conn_t *conns = NULL;
    s_sub_t *subs = NULL;
    pthread_t *threads = NULL;
    FILE *latf = NULL;
    memset(&s_cfg, 0, sizeof(s_cfg));
    int arc = fb_bench_args(s_keys, &s_cfg, argc, argv, "fedbus-bench-load",
                            "(--nodes=EP[,EP...] | --broker=EP) [--key=value ...]",
                            "Publishes messages through fedbus nodes (or straight to the broker) as fast\n"
                            "as acks allow or at a fixed rate, receives them on the broker's feed, and\n"
                            "prints one JSON object: counts, messages/s, latency percentiles. Exits 1\n"
                            "when an ack or a delivery is missing or a publish was rejected.\n");
    if (arc >= 0) return arc;
    char kerr[600];
    if (fb_curve_client(&s_curve, s_cfg.keys, s_cfg.broker_key, kerr, sizeof(kerr)) != 0) {
        fprintf(stderr, "fedbus-bench-load: %s\n", kerr);
        return 2;
    }
    if (!s_cfg.nodes[0] == !s_cfg.broker[0]) {
        fprintf(stderr, "fedbus-bench-load: give either --nodes or --broker\n");
        return 2;
    }
    if (s_cfg.settle_ms > 0 && s_cfg.rate == 0) {
        fprintf(stderr, "fedbus-bench-load: --settle-ms goes with --rate (an open loop)\n");
        return 2;
    }
    s_messages = (uint64_t)s_cfg.messages;
    s_nsubs = s_cfg.feed[0] ? (int)s_cfg.subscribers : 0;
    /* Opened now, so that a path that cannot be written stops the run before it starts. */
    if (s_cfg.latency_log[0] && !(latf = fopen(s_cfg.latency_log, "w"))) {
        fprintf(stderr, "fedbus-bench-load: cannot write --latency-log %s: %s\n", s_cfg.latency_log,
                strerror(errno));
        return 2;
    }

    /* ---- connections and subscribers ---- */
    char list[sizeof(s_cfg.nodes)];
    char *eps[S_MAX_CONNS], *save = NULL;
    if (s_cfg.nodes[0]) {
        snprintf(list, sizeof(list), "%s", s_cfg.nodes);
        for (char *p = strtok_r(list, ", ", &save); p; p = strtok_r(NULL, ", ", &save)) {
            if (s_nconns == S_MAX_CONNS) {
                fprintf(stderr, "fedbus-bench-load: more than %d nodes\n", S_MAX_CONNS);
                return 2;
            }
            eps[s_nconns++] = p;
        }
    } else {
        s_nconns = (int)s_cfg.connections;
    }
    if (s_nconns == 0) {
        fprintf(stderr, "fedbus-bench-load: --nodes lists no endpoint\n");
        return 2;
    }
    conns = calloc((size_t)s_nconns, sizeof(*conns));
    subs = calloc((size_t)(s_nsubs ? s_nsubs : 1), sizeof(*subs));
    threads = calloc((size_t)(s_nconns + s_nsubs), sizeof(*threads));
    if (!conns || !subs || !threads) goto oom;
    for (int i = 0; i < s_nconns; i++) {
        s_conn_t *c = &conns[i];
        char origin[64];
        c->index = i;
        c->direct = !s_cfg.nodes[0];
        snprintf(c->endpoint, sizeof(c->endpoint), "%s", c->direct ? s_cfg.broker : eps[i]);
        snprintf(origin, sizeof(origin), "%s%02d", s_cfg.member_prefix, i + 1);
        if (fb_bench_msg_init(&c->msg, origin, (size_t)s_cfg.payload) != 0) {
            fprintf(stderr, "fedbus-bench-load: '%s' is not a member id\n", origin);
            goto done;
        }
        c->env_cap = c->msg.size + 64;
        c->frame_cap = c->env_cap + 32;
        c->env = malloc(c->env_cap);
        if (!(c->arena = fb_arena_new(16 << 10, 16 << 10))) goto oom;
        c->bframe_cap = 16 + (size_t)s_cfg.submit_batch * (c->frame_cap + 16);
        if (!(c->bframe = malloc(c->bframe_cap)) || !(c->bdue = calloc((size_t)s_cfg.submit_batch, sizeof(int64_t))))
            goto oom;
        fb_envelope_arena_allocator(c->arena, &c->alloc);
        c->frame = malloc(c->frame_cap);
        c->sent = calloc(s_messages, sizeof(*c->sent));
        c->acked = calloc(s_messages, 1);
        c->lat = calloc(s_messages, sizeof(*c->lat));
        if (!c->env || !c->frame || !c->sent || !c->acked || !c->lat) goto oom;
        if (latf) {
            if (!(c->ack_us = malloc(s_messages * sizeof(*c->ack_us)))) goto oom;
            for (uint64_t m = 0; m < s_messages; m++) c->ack_us[m] = -1;
        }
    }
    for (int i = 0; i < s_nsubs; i++) {
        subs[i].index = i;
        subs[i].seen = calloc((size_t)s_nconns * s_messages, 1);
        subs[i].lat = calloc((size_t)s_nconns * s_messages, sizeof(*subs[i].lat));
        if (!subs[i].seen || !subs[i].lat) goto oom;
        if (latf && i == 0) {
            size_t n = (size_t)s_nconns * s_messages;
            subs[i].deliv_us = malloc(n * sizeof(*subs[i].deliv_us));
            subs[i].stored_us = malloc(n * sizeof(*subs[i].stored_us));
            if (!subs[i].deliv_us || !subs[i].stored_us) goto oom;
            for (size_t k = 0; k < n; k++) subs[i].deliv_us[k] = subs[i].stored_us[k] = -1;
        }
    }
    uint8_t first[16];
    if (fb_uuid_v7(fb_time_now_us(), first) != 0) goto oom;
    memcpy(s_prefix, first, sizeof(s_prefix));
    s_expected = (uint64_t)s_nconns * s_messages;
    s_deadline = INT64_MAX;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* ---- run ---- */
    /* Connection i goes to publishing thread i mod threads. */
    int ngroups = s_cfg.threads < s_nconns ? (int)s_cfg.threads : s_nconns;
    s_group_t *groups = calloc((size_t)ngroups, sizeof(*groups));
    s_conn_t **members = calloc((size_t)s_nconns, sizeof(*members));
    struct pollfd *fds = calloc((size_t)s_nconns, sizeof(*fds));
    if (!groups || !members || !fds) {
        free(groups);
        free(members);
        free(fds);
        goto oom;
    }
    for (int gi = 0, at = 0; gi < ngroups; gi++) {
        groups[gi].conns = members + at;
        groups[gi].fds = fds + at;
        for (int i = gi; i < s_nconns; i += ngroups) members[at + groups[gi].n++] = &conns[i];
        at += groups[gi].n;
    }
    pthread_barrier_init(&s_barrier, NULL, (unsigned)ngroups + 1);
    int started = 0;
    for (int i = 0; i < s_nsubs; i++) {
        if (pthread_create(&threads[s_nconns + i], NULL, s_sub_main, &subs[i]) != 0) {
            fprintf(stderr, "fedbus-bench-load: cannot start a thread\n");
            return 1;
        }
    }
    for (int i = 0; i < ngroups; i++, started++)
        if (pthread_create(&threads[i], NULL, s_group_main, &groups[i]) != 0) {
            fprintf(stderr, "fedbus-bench-load: cannot start a thread\n");
            return 1;
        }
    pthread_barrier_wait(&s_barrier);
    for (int i = 0; i < s_nconns; i++)
        if (conns[i].failed) s_stop = 1;
    __atomic_store_n(&s_start_mono, fb_time_mono_us() + 1000, __ATOMIC_RELEASE);
    __atomic_store_n(&s_start_wall, fb_time_now_us() + 1000, __ATOMIC_RELEASE);
    s_deadline = s_start_mono + s_cfg.duration * 1000000;
    double cpu0 = fb_bench_cpu_s();
    uint64_t steal0, ticks0, steal1, ticks1;
    int host_ok = fb_bench_host_ticks(&steal0, &ticks0) == 0;
    pthread_barrier_wait(&s_barrier);
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
    int64_t conns_end = fb_time_mono_us();
    /* How much of the machine its host took back while the publishes ran:
     * on a shared virtual machine the tail of an open loop follows it. */
    host_ok = host_ok && fb_bench_host_ticks(&steal1, &ticks1) == 0 && ticks1 > ticks0;
    double steal_pct = host_ok ? 100.0 * (double)(steal1 - steal0) / (double)(ticks1 - ticks0) : -1;
    free(groups);
    free(members);
    free(fds);

    uint64_t accepted = 0, duplicates = 0, rejected = 0, nacked = 0, stray = 0, late = 0, nlat = 0;
    uint64_t by_reason[S_NREASONS] = {0};
    int64_t last_ack = s_start_mono;
    const char *error = NULL;
    for (int i = 0; i < s_nconns; i++) {
        s_conn_t *c = &conns[i];
        accepted += c->accepted;
        duplicates += c->duplicates;
        rejected += c->rejected;
        nacked += c->nacked;
        stray += c->stray;
        late += c->late;
        nlat += c->nlat;
        for (int r = 0; r < S_NREASONS; r++) by_reason[r] += c->by_reason[r];
        if (c->last_ack > last_ack) last_ack = c->last_ack;
        if (!error && c->error[0]) error = c->error;
    }
    __atomic_store_n(&s_expected, accepted + duplicates, __ATOMIC_RELEASE);
    __atomic_store_n(&s_conns_done_at, conns_end, __ATOMIC_RELEASE);
    for (int i = 0; i < s_nsubs; i++) pthread_join(threads[s_nconns + i], NULL);
    double cpu = fb_bench_cpu_s() - cpu0;

    /* ---- results ---- */
    int64_t *acks = malloc((nlat ? nlat : 1) * sizeof(*acks));
    size_t dn = 0;
    for (int i = 0; i < s_nsubs; i++) dn += subs[i].nlat;
    int64_t *dels = malloc((dn ? dn : 1) * sizeof(*dels));
    if (!acks || !dels) {
        free(acks);
        free(dels);
        goto oom;
    }
    size_t k = 0;
    for (int i = 0; i < s_nconns; i++) {
        memcpy(acks + k, conns[i].lat, conns[i].nlat * sizeof(*acks));
        k += conns[i].nlat;
    }
    fb_bench_sort(acks, k);
    uint64_t delivered_min = s_nsubs ? UINT64_MAX : 0, dup_del = 0, foreign = 0, verified = 0, unverified = 0,
             verify_failed = 0;
    int64_t last_del = s_start_mono;
    k = 0;
    for (int i = 0; i < s_nsubs; i++) {
        s_sub_t *s = &subs[i];
        memcpy(dels + k, s->lat, s->nlat * sizeof(*dels));
        k += s->nlat;
        if (s->received < delivered_min) delivered_min = s->received;
        dup_del += s->duplicates;
        foreign += s->foreign;
        verified += s->verified;
        unverified += s->unverified;
        verify_failed += s->verify_failed;
        if (s->last_at > last_del) last_del = s->last_at;
        if (!error && s->failed) error = s->error;
    }
    fb_bench_sort(dels, dn);
    /* The settling phase's latencies, kept at the end of each array. */
    size_t sna = 0, snd = 0;
    for (int i = 0; i < s_nconns; i++) sna += conns[i].nslat;
    for (int i = 0; i < s_nsubs; i++) snd += subs[i].nslat;
    int64_t *sacks = malloc((sna ? sna : 1) * sizeof(*sacks));
    int64_t *sdels = malloc((snd ? snd : 1) * sizeof(*sdels));
    if (!sacks || !sdels) {
        free(acks);
        free(dels);
        free(sacks);
        free(sdels);
        goto oom;
    }
    k = 0;
    for (int i = 0; i < s_nconns; i++) {
        memcpy(sacks + k, conns[i].lat + s_messages - conns[i].nslat, conns[i].nslat * sizeof(*sacks));
        k += conns[i].nslat;
    }
    k = 0;
    for (int i = 0; i < s_nsubs; i++) {
        size_t cap = (size_t)s_nconns * s_messages;
        memcpy(sdels + k, subs[i].lat + cap - subs[i].nslat, subs[i].nslat * sizeof(*sdels));
        k += subs[i].nslat;
    }
    fb_bench_sort(sacks, sna);
    fb_bench_sort(sdels, snd);
    uint64_t total = (uint64_t)s_nconns * s_messages;
    uint64_t missing_acks = total - nacked;
    uint64_t missing_del = s_nsubs ? (accepted + duplicates) - delivered_min : 0;
    double elapsed = (double)(last_ack - s_start_mono) / 1e6;
    int ok = missing_acks == 0 && rejected == 0 && missing_del == 0 && verify_failed == 0 && !error && !s_stop;
    char lost[160];
    if (!error && verify_failed) {
        snprintf(lost, sizeof(lost), "%llu deliveries failed verification", (unsigned long long)verify_failed);
        error = lost;
    }
    if (!error && (missing_acks || missing_del)) {
        snprintf(lost, sizeof(lost), "%llu acks missing, %llu deliveries missing",
                 (unsigned long long)missing_acks, (unsigned long long)missing_del);
        error = lost;
    }
    if (!error && s_stop) error = "interrupted";

    json_t *rej = json_object();
    for (int r = 1; r < S_NREASONS; r++)
        if (by_reason[r]) json_object_set_new(rej, fb_reject_name(r), json_integer((json_int_t)by_reason[r]));
    json_t *j = json_object();
    if (!j || !rej) goto oom;
#define S_SETI(key, v) json_object_set_new(j, key, json_integer((json_int_t)(v)))
#define S_SETF(key, v) json_object_set_new(j, key, json_real(v))
    json_object_set_new(j, "tool", json_string("fedbus-bench-load"));
    json_object_set_new(j, "mode", json_string(s_cfg.rate ? "open" : "closed"));
    json_object_set_new(j, "target", json_string(s_cfg.nodes[0] ? "nodes" : "broker"));
    S_SETI("connections", s_nconns);
    S_SETI("subscribers", s_nsubs);
    S_SETI("messages_per_connection", s_messages);
    S_SETI("messages", total);
    S_SETI("payload", s_cfg.payload);
    S_SETI("envelope_bytes", conns[0].msg.size);
    S_SETI("window", s_cfg.window);
    S_SETI("submit_batch", s_cfg.submit_batch);
    S_SETI("rate_offered", s_cfg.rate);
    S_SETF("elapsed_s", elapsed);
    S_SETI("acked", nacked);
    S_SETI("accepted", accepted);
    S_SETI("duplicates", duplicates);
    S_SETI("rejected", rejected);
    S_SETI("missing_acks", missing_acks);
    S_SETI("stray_frames", stray);
    S_SETF("msgs_per_s", elapsed > 0 ? (double)(accepted + duplicates) / elapsed : 0);
    size_t na = nlat;
    S_SETF("ack_p50_ms", s_ms(fb_bench_rank(acks, na, 0.50)));
    S_SETF("ack_p90_ms", s_ms(fb_bench_rank(acks, na, 0.90)));
    S_SETF("ack_p99_ms", s_ms(fb_bench_rank(acks, na, 0.99)));
    S_SETF("ack_p999_ms", s_ms(fb_bench_rank(acks, na, 0.999)));
    S_SETF("ack_max_ms", s_ms(fb_bench_rank(acks, na, 1.0)));
    S_SETI("delivered", delivered_min);
    S_SETI("missing_deliveries", missing_del);
    S_SETI("duplicate_deliveries", dup_del);
    S_SETI("foreign_deliveries", foreign);
    S_SETI("verified_deliveries", verified);
    S_SETI("unverified_deliveries", unverified);
    S_SETI("failed_verification", verify_failed);
    S_SETF("delivery_elapsed_s", (double)(last_del - s_start_mono) / 1e6);
    S_SETF("delivery_p50_ms", s_ms(fb_bench_rank(dels, dn, 0.50)));
    S_SETF("delivery_p99_ms", s_ms(fb_bench_rank(dels, dn, 0.99)));
    S_SETF("delivery_p999_ms", s_ms(fb_bench_rank(dels, dn, 0.999)));
    S_SETF("delivery_max_ms", s_ms(fb_bench_rank(dels, dn, 1.0)));
    S_SETI("settle_ms", s_cfg.settle_ms);
    S_SETI("settle_acks", sna);
    S_SETF("settle_ack_p50_ms", s_ms(fb_bench_rank(sacks, sna, 0.50)));
    S_SETF("settle_ack_p99_ms", s_ms(fb_bench_rank(sacks, sna, 0.99)));
    S_SETF("settle_ack_max_ms", s_ms(fb_bench_rank(sacks, sna, 1.0)));
    S_SETF("settle_delivery_p99_ms", s_ms(fb_bench_rank(sdels, snd, 0.99)));
    S_SETI("late_sends", late);
    S_SETF("driver_cpu_s", cpu);
    json_object_set_new(j, "host_steal_pct", steal_pct >= 0 ? json_real(steal_pct) : json_null());
    json_object_set_new(j, "ok", json_boolean(ok));
    json_object_set_new(j, "error", json_string(error ? error : ""));
    json_object_set_new(j, "rejects", rej);
    json_t *per = json_array();
    for (int i = 0; per && i < s_nconns; i++) {
        const s_conn_t *c = &conns[i];
        uint64_t got = 0;
        for (uint64_t m = 0; s_nsubs && m < s_messages; m++) got += subs[0].seen[(size_t)i * s_messages + m];
        json_array_append_new(per, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "endpoint", c->endpoint,
                                             "sent", (json_int_t)c->nsent, "acked", (json_int_t)c->nacked,
                                             "accepted", (json_int_t)c->accepted, "duplicates",
                                             (json_int_t)c->duplicates, "delivered", (json_int_t)got));
    }
    if (per) json_object_set_new(j, "per_connection", per);
#undef S_SETI
#undef S_SETF
    char steal_txt[32] = "unknown";
    if (steal_pct >= 0) snprintf(steal_txt, sizeof(steal_txt), "%.1f %%", steal_pct);
    fprintf(stderr,
            "fedbus-bench-load: %s loop, %d x %llu messages of %zu bytes: %llu acked in %.3f s "
            "= %.0f msgs/s; ack p50 %.2f p99 %.2f ms; delivery p50 %.2f p99 %.2f ms; host steal %s%s%s\n",
            s_cfg.rate ? "open" : "closed", s_nconns, (unsigned long long)s_messages,
            conns[0].msg.size, (unsigned long long)nacked, elapsed,
            elapsed > 0 ? (double)(accepted + duplicates) / elapsed : 0,
            s_ms(fb_bench_rank(acks, na, 0.5)), s_ms(fb_bench_rank(acks, na, 0.99)),
            s_ms(fb_bench_rank(dels, dn, 0.5)), s_ms(fb_bench_rank(dels, dn, 0.99)), steal_txt,
            error ? "; FAILED: " : "", error ? error : "");
    if (s_cfg.settle_ms > 0)
        fprintf(stderr,
                "fedbus-bench-load: the first %lld ms (%zu publishes) settled, apart: ack p50 %.2f "
                "p99 %.2f max %.2f ms; delivery p99 %.2f ms\n",
                s_cfg.settle_ms, sna, s_ms(fb_bench_rank(sacks, sna, 0.5)),
                s_ms(fb_bench_rank(sacks, sna, 0.99)), s_ms(fb_bench_rank(sacks, sna, 1.0)),
                s_ms(fb_bench_rank(sdels, snd, 0.99)));
    free(acks);
    free(dels);
    free(sacks);
    free(sdels);
    rc = s_write_json(j) == 0 && ok ? 0 : 1;
    json_decref(j);
    if (latf && s_write_latencies(latf, conns, s_nsubs ? &subs[0] : NULL) != 0) rc = 1;
    goto done;
oom:
    fprintf(stderr, "fedbus-bench-load: out of memory\n");
done:
    for (int i = 0; conns && i < s_nconns; i++) {
        fb_bench_msg_fini(&conns[i].msg);
        free(conns[i].env);
        fb_arena_destroy(&conns[i].arena);
        free(conns[i].bframe);
        free(conns[i].bdue);
        free(conns[i].frame);
        free(conns[i].sent);
        free(conns[i].acked);
        free(conns[i].lat);
        free(conns[i].ack_us);
    }
    for (int i = 0; subs && i < s_nsubs; i++) {
        free(subs[i].seen);
        free(subs[i].lat);
        free(subs[i].deliv_us);
        free(subs[i].stored_us);
    }
    if (latf) fclose(latf);
    free(conns);
    free(subs);
    free(threads);
    return rc;
}
