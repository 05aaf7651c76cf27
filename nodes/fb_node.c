/* fb_node.c — the node loop: submit -> stamp -> outbox -> broker, acks back, resends, heartbeats.
 *
 * The outbox is a ring ordered by origin_seq: entries leave it only when the
 * broker confirmed them. The broker refuses an origin_seq at or below one it
 * stored (unless it is a resend of that very message), so the node never lets
 * a publish overtake an earlier one: it sends strictly in ring order (a send
 * cursor that stops at a full queue), the broker socket queues nothing while
 * disconnected (ZMQ_IMMEDIATE), and after any reconnection nothing is sent
 * before the broker's Welcome, which restarts the cursor at the ring's head.
 * (The ring lives in memory for now; the crash-safe on-disk outbox replaces it
 * behind the same calls.) */
#include "fb_node.h"

#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_json.h"
#include "fb_log.h"
#include "fb_map.h"
#include "fb_time.h"
#include "fb_zmq.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FRAMES_MAX 64
#define S_FIELD(f) offsetof(fb_node_config_t, f), sizeof(((fb_node_config_t *)0)->f)
#define S_INT(f) offsetof(fb_node_config_t, f), 0

const fb_cfg_key_t fb_node_keys[] = {
    {"member", FB_CFG_STR, S_FIELD(member), "", 0, 0, "this hub's member id, e.g. kr-incheon (required)"},
    {"broker", FB_CFG_STR, S_FIELD(broker), FB_DEFAULT_INGEST, 0, 0, "broker ingest endpoint"},
    {"feed", FB_CFG_STR, S_FIELD(feed), FB_DEFAULT_FEED, 0, 0, "broker feed endpoint"},
    {"replay", FB_CFG_STR, S_FIELD(replay), FB_DEFAULT_REPLAY, 0, 0, "broker replay endpoint"},
    {"submit", FB_CFG_STR, S_FIELD(submit), "tcp://127.0.0.1:7711", 0, 0,
     "local endpoint where `fedbus publish` submits"},
    {"http-bind", FB_CFG_STR, S_FIELD(http_bind), "127.0.0.1", 0, 0, "address of the HTTP endpoint"},
    {"http-port", FB_CFG_INT, S_INT(http_port), "0", 0, 65535, "HTTP port for POST /v1/publish (0 = off)"},
    {"subscribe", FB_CFG_STR, S_FIELD(subscribe), "", 0, 0,
     "comma-separated patterns to deliver, e.g. \"cfp,*.kr-busan\""},
    {"output", FB_CFG_STR, S_FIELD(output), "-", 0, 0, "file that receives delivered JSON lines (- = stdout)"},
    {"from-seq", FB_CFG_INT, S_INT(from_seq), "0", 0, INT64_MAX,
     "deliver stored history from this global_seq first (0 = live only)"},
    {"resend-ms", FB_CFG_INT, S_INT(resend_ms), "3000", 50, 3600000, "resend unconfirmed publishes after"},
    {"heartbeat-ms", FB_CFG_INT, S_INT(heartbeat_ms), "5000", 100, 3600000, "heartbeat period"},
    {"outbox-max", FB_CFG_INT, S_INT(outbox_max), "100000", 16, 10000000, "most unconfirmed publishes held"},
    {"inflight-frames", FB_CFG_INT, S_INT(inflight_frames), "2", 1, S_FRAMES_MAX,
     "publish frames sent and not yet answered (up to twice as many while they hold fewer publishes than this many full frames of 1024); what comes meanwhile waits to go as one batch"},
    {"max-frame", FB_CFG_INT, S_INT(max_frame), "1048576", 1024, 64LL << 20, "largest publish, bytes"},
    {"log-level", FB_CFG_STR, S_FIELD(log_level), "info", 0, 0, "err, warn, info or debug"},
    FB_CFG_END,
};

typedef struct {
    uint8_t id[FB_UUID_LEN];
    uint64_t origin_seq;
    int64_t created_at_us;
    int64_t sent_at_us; /* monotonic; 0 = never sent */
    int64_t wait_us;    /* before the next resend: doubles each time, up to 60 s */
    uint8_t *frame;     /* the NodeMessage sent to the broker */
    size_t frame_len;
    zmq_msg_t client;   /* who submitted it, to forward the ack */
    int has_client;
    int batch_client;   /* submitted in a PublishBatch: its ack goes back in an AckBatch */
    int done;
} s_entry_t;

struct fb_node {
    fb_node_config_t cfg;
    void *submit, *broker;
    void *monitor; /* connection events of the broker socket */
    s_entry_t *ring;
    size_t cap;
    uint64_t head, tail; /* absolute indexes: [head, tail) is the outbox */
    uint64_t cursor;     /* [head, cursor) sent since the last Welcome */
    int64_t scan_at;     /* next resend scan, monotonic */
    long long max_frame; /* the smaller of ours and the broker's */
    fb_map_t *by_id;     /* message_id -> absolute index */
    uint64_t next_seq;
    volatile int welcomed;
    int waiting_logged;
    int hello_due;      /* a Hello could not be queued yet */
    int64_t unwelcomed_at; /* since when there is no Welcome */
    volatile long long depth;
    int64_t hello_at, heartbeat_at;
    uint64_t last_global_seen;
    pthread_t feed_thread;
    int feed_running;
    volatile sig_atomic_t *stop;
    fb_http_t *http;
    uint64_t submitted, confirmed, rejected, client_acks_dropped;
    uint8_t *batch_buf; /* the PublishBatch frame being built */
    size_t batch_cap;
    uint64_t frame_end[2 * S_FRAMES_MAX]; /* in flight: each frame's end (absolute index), oldest first */
    int nframes;
    /* Acks on their way back to a batch submitter, gathered into one
     * AckBatch: its identity and the AckBatch.acks fields so far. */
    zmq_msg_t fwd_client;
    int fwd_has;
    uint8_t *fwd;
    size_t fwd_len, fwd_cap;
};

/* ------------------------------------------------------------- replies --- */

/* Sends [ident][data] without blocking; returns 0, or -1 when the client is
 * gone or not reading (the ack is dropped; the client asks again). */
static int s_send_to(void *sock, const zmq_msg_t *ident, const void *data, size_t len)
{
    zmq_msg_t id;
    zmq_msg_init(&id);
    zmq_msg_copy(&id, (zmq_msg_t *)ident);
    if (zmq_msg_send(&id, sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        return -1;
    }
    return zmq_send(sock, data, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

static void s_reply_reject(fb_node_t *self, const zmq_msg_t *ident, const ProtobufCBinaryData *id,
                           int reason, const char *detail)
{
    Fedbus__Ack ack = FEDBUS__ACK__INIT;
    if (id) ack.message_id = *id;
    ack.status = FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED;
    ack.reason = reason;
    ack.detail = (char *)detail;
    Fedbus__BrokerMessage bm = FEDBUS__BROKER_MESSAGE__INIT;
    bm.body_case = FEDBUS__BROKER_MESSAGE__BODY_ACK;
    bm.ack = &ack;
    uint8_t buf[512];
    size_t len = fedbus__broker_message__get_packed_size(&bm);
    if (len > sizeof(buf)) return;
    fedbus__broker_message__pack(&bm, buf);
    self->rejected++;
    fb_info("reject %s: %s", fb_reject_name(reason), detail);
    if (s_send_to(self->submit, ident, buf, len) != 0) self->client_acks_dropped++;
}

/* ------------------------------------------------------------- outbox ---- */

static s_entry_t *s_at(fb_node_t *self, uint64_t abs)
{
    return &self->ring[abs % self->cap];
}

static void s_entry_clear(s_entry_t *e)
{
    free(e->frame);
    e->frame = NULL;
    if (e->has_client) zmq_msg_close(&e->client);
    e->has_client = 0;
}

/* Sends e; returns 0, or -1 when the queue to the broker is full. */
static int s_send_entry(fb_node_t *self, s_entry_t *e)
{
    if (zmq_send(self->broker, e->frame, e->frame_len, ZMQ_DONTWAIT) < 0) return -1;
    e->sent_at_us = fb_time_mono_us();
    return 0;
}

/* Forgets the frames the broker has answered (the outbox's head passed
 * their end); returns 1 when another frame may be sent: while fewer than
 * inflight-frames are unanswered, or fewer than twice that holding together
 * fewer publishes than inflight-frames full frames (FB_BATCH_MAX each).
 * Under load, frames of small envelopes are full and two keep the broker
 * busy. At moderate load frames are small, and a publish that had to wait
 * for a slot would wait a whole broker round trip. Frames of large
 * envelopes fill up by max-frame long before FB_BATCH_MAX publishes (64 at
 * 16 KiB), and two of them held a broker batch to a few hundred publishes. */
static int s_frame_free(fb_node_t *self)
{
    int done = 0;
    while (done < self->nframes && self->frame_end[done] <= self->head) done++;
    if (done) {
        size_t left = (size_t)(self->nframes - done);
        memmove(self->frame_end, self->frame_end + done, left * sizeof(self->frame_end[0]));
        self->nframes -= done;
    }
    if (self->nframes < self->cfg.inflight_frames) return 1;
    return self->nframes < 2 * self->cfg.inflight_frames &&
           self->frame_end[self->nframes - 1] - self->head <
               (uint64_t)self->cfg.inflight_frames * FB_BATCH_MAX;
}

/* Sends, in order, every entry not yet sent since the last Welcome: what
 * queued up since the last turn goes as PublishBatch frames (up to
 * FB_BATCH_MAX envelopes, within the broker's max-frame), so that under load
 * one frame and one AckBatch carry many publishes; a lone entry goes alone. */
static void s_send_pending(fb_node_t *self)
{
    if (!self->welcomed) return;
    if (self->cursor < self->head) self->cursor = self->head;
    while (self->cursor < self->tail) {
        s_entry_t *e = s_at(self, self->cursor);
        if (e->done) {
            self->cursor++;
            continue;
        }
        /* A frame is answered once the outbox's head passed its end. While
         * inflight-frames are unanswered, what comes waits and then goes in
         * one frame: the batch grows to what arrives during one round trip
         * to the broker, which keeps frames (and wake-ups) few under load
         * and costs nothing when the link is idle. */
        if (!s_frame_free(self)) return;
        /* How far a batch from the cursor reaches. */
        uint64_t end = self->cursor;
        size_t inner = 0, n = 0;
        while (end < self->tail && n < FB_BATCH_MAX) {
            s_entry_t *x = s_at(self, end);
            if (!x->done) {
                const uint8_t *env;
                size_t env_len;
                fb_wire_publish_view(x->frame, x->frame_len, &env, &env_len);
                size_t more = fb_wire_field_size(1, env_len);
                if (n > 0 && (long long)fb_wire_field_size(4, inner + more) > self->max_frame) break;
                inner += more;
                n++;
            }
            end++;
        }
        if (n == 1) {
            if (s_send_entry(self, e) != 0) return;
            self->cursor = end;
            self->frame_end[self->nframes++] = end;
            continue;
        }
        size_t flen = fb_wire_field_size(4, inner);
        if (flen > self->batch_cap) {
            uint8_t *nb = realloc(self->batch_buf, flen);
            if (!nb) return; /* the timer tries again */
            self->batch_buf = nb;
            self->batch_cap = flen;
        }
        uint8_t *p = self->batch_buf;
        p += fb_wire_put_header(4, inner, p); /* NodeMessage.publish_batch */
        for (uint64_t i = self->cursor; i < end; i++) {
            s_entry_t *x = s_at(self, i);
            if (x->done) continue;
            const uint8_t *env;
            size_t env_len;
            fb_wire_publish_view(x->frame, x->frame_len, &env, &env_len);
            p += fb_wire_put_bytes(1, env, env_len, p); /* PublishBatch.envelopes */
        }
        if (zmq_send(self->broker, self->batch_buf, flen, ZMQ_DONTWAIT) < 0) return;
        int64_t now = fb_time_mono_us();
        for (uint64_t i = self->cursor; i < end; i++) s_at(self, i)->sent_at_us = now;
        self->cursor = end;
        self->frame_end[self->nframes++] = end;
    }
}

/* Resends back off, so that a slow broker is not buried under copies of
 * what it already queued: resend-ms, then twice that, up to 60 s. */
static void s_resend_entry(fb_node_t *self, s_entry_t *e)
{
    s_send_entry(self, e);
    int64_t cap = 60 * 1000000LL;
    e->wait_us = e->wait_us ? (e->wait_us * 2 > cap ? cap : e->wait_us * 2) : self->cfg.resend_ms * 1000;
}

static void s_pop_done(fb_node_t *self)
{
    while (self->head < self->tail && s_at(self, self->head)->done) {
        s_entry_clear(s_at(self, self->head));
        self->head++;
    }
    self->depth = (long long)(self->tail - self->head);
}

static void s_send_hello(fb_node_t *self)
{
    Fedbus__Hello h = FEDBUS__HELLO__INIT;
    h.origin = self->cfg.member;
    h.version = (char *)fb_version();
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HELLO;
    nm.hello = &h;
    uint8_t buf[256];
    size_t len = fedbus__node_message__get_packed_size(&nm);
    fedbus__node_message__pack(&nm, buf);
    /* With ZMQ_IMMEDIATE the send fails until the connection's handshake is
     * done (after ZeroMQ reports it connected): try again on the next tick. */
    self->hello_due = zmq_send(self->broker, buf, len, ZMQ_DONTWAIT) < 0;
    self->hello_at = fb_time_mono_us();
}

static void s_send_heartbeat(fb_node_t *self)
{
    Fedbus__Heartbeat hb = FEDBUS__HEARTBEAT__INIT;
    hb.origin = self->cfg.member;
    hb.sent_at_us = fb_time_now_us();
    hb.outbox_depth = self->tail - self->head;
    for (uint64_t i = self->head; i < self->tail; i++)
        if (!s_at(self, i)->done) {
            hb.oldest_unconfirmed_us = s_at(self, i)->created_at_us;
            break;
        }
    hb.last_origin_seq = self->next_seq ? self->next_seq - 1 : 0;
    hb.last_global_seq_seen = __atomic_load_n(&self->last_global_seen, __ATOMIC_RELAXED);
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HEARTBEAT;
    nm.heartbeat = &hb;
    uint8_t buf[256];
    size_t len = fedbus__node_message__get_packed_size(&nm);
    fedbus__node_message__pack(&nm, buf);
    zmq_send(self->broker, buf, len, ZMQ_DONTWAIT);
    self->heartbeat_at = fb_time_mono_us();
}

/* --------------------------------------------------------------- submit -- */

/* Takes the submitter's envelope bytes as this node's next publish: appends
 * what only the node may set (origin, origin_seq) and what the submitter left
 * out (message_id, created_at_us, schema_version) — protobuf merges appended
 * fields — and queues the frame. The envelope is not decoded here: the broker
 * checks every publish and its reject, which names the message, comes back to
 * the submitter. */
static void s_accept_submit(fb_node_t *self, zmq_msg_t *ident, const uint8_t *env, size_t env_len,
                            int batched)
{
    fb_envelope_head_t h;
    uint64_t abs;
    const char *member = self->cfg.member;
    size_t mlen = strlen(member);
    uint8_t id[FB_UUID_LEN];
    if (fb_wire_envelope_scan(env, env_len, &h) != 0) {
        s_reply_reject(self, ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                       "envelope is not a decodable protobuf message");
        return;
    }
    ProtobufCBinaryData idb = {h.message_id_len, (uint8_t *)h.message_id};
    const ProtobufCBinaryData *named = h.message_id_len == FB_UUID_LEN ? &idb : NULL;
    if (h.message_id_len && h.message_id_len != FB_UUID_LEN) {
        s_reply_reject(self, ident, NULL, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                       "message_id must be 16 bytes");
        return;
    }
    if (h.origin_len && (h.origin_len != mlen || memcmp(h.origin, member, mlen) != 0)) {
        s_reply_reject(self, ident, named, FEDBUS__REJECT_REASON__REJECT_NAMESPACE,
                       "origin differs from this node's member id");
        return;
    }
    if (h.global_seq || h.stored_at_us) {
        s_reply_reject(self, ident, named, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                       "global_seq and stored_at_us are assigned by the broker");
        return;
    }
    if (named && fb_map_get(self->by_id, h.message_id, FB_UUID_LEN, &abs)) {
        /* Already in the outbox (a client retry): answer the newest asker. */
        s_entry_t *e = s_at(self, abs);
        if (e->has_client) zmq_msg_close(&e->client);
        zmq_msg_init(&e->client);
        zmq_msg_copy(&e->client, ident);
        e->has_client = 1;
        e->batch_client = batched;
        return;
    }
    if (self->tail - self->head >= self->cap) {
        s_reply_reject(self, ident, named, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                       "node outbox is full: retry later");
        return;
    }
    int64_t created = h.created_at_us ? h.created_at_us : fb_time_now_us();
    if (named) memcpy(id, h.message_id, FB_UUID_LEN);
    else if (fb_uuid_v7(created, id) != 0) {
        s_reply_reject(self, ident, NULL, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                       "no randomness for a message_id");
        return;
    }
    uint8_t tail[2 * 11 + FB_SEGMENT_MAX + FB_UUID_LEN + 3 * 11];
    size_t tl = 0;
    if (!h.origin_len) tl += fb_wire_put_bytes(2, member, mlen, tail + tl);
    if (!named) tl += fb_wire_put_bytes(1, id, FB_UUID_LEN, tail + tl);
    if (!h.created_at_us) tl += fb_wire_put_uint(4, (uint64_t)created, tail + tl);
    if (!h.schema_version) tl += fb_wire_put_uint(5, FEDBUS_SCHEMA_VERSION, tail + tl);
    tl += fb_wire_put_uint(6, self->next_seq, tail + tl);
    size_t flen;
    uint8_t *frame = fb_wire_publish_wrap(env, env_len, tail, tl, &flen);
    ProtobufCBinaryData idn = {FB_UUID_LEN, id};
    if (!frame) {
        s_reply_reject(self, ident, &idn, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE, "out of memory");
        return;
    }
    if ((long long)flen > self->max_frame) {
        free(frame);
        char detail[96];
        snprintf(detail, sizeof(detail), "message of %zu bytes exceeds max-frame %lld", flen,
                 self->max_frame);
        s_reply_reject(self, ident, &idn, FEDBUS__REJECT_REASON__REJECT_FRAME_TOO_LARGE, detail);
        return;
    }

    abs = self->tail++;
    s_entry_t *e = s_at(self, abs);
    memset(e, 0, sizeof(*e));
    memcpy(e->id, id, FB_UUID_LEN);
    e->origin_seq = self->next_seq++;
    e->created_at_us = created;
    e->frame = frame;
    e->frame_len = flen;
    zmq_msg_init(&e->client);
    zmq_msg_copy(&e->client, ident);
    e->has_client = 1;
    e->batch_client = batched;
    fb_map_put(self->by_id, e->id, FB_UUID_LEN, abs);
    self->depth = (long long)(self->tail - self->head);
    self->submitted++;
    /* Sent at the end of this turn of the loop, with whatever else came. */
}

/* Takes the envelopes of a submitted PublishBatch, in order, each as
 * s_accept_submit() takes one; their acks go back in AckBatch frames. A
 * frame that is not a well-formed batch of 1 to FB_BATCH_MAX is refused
 * whole, with one ack naming no message. */
static void s_accept_submit_batch(fb_node_t *self, zmq_msg_t *ident, const uint8_t *list, size_t list_len)
{
    const uint8_t *p = list, *end = list + list_len, *env;
    size_t env_len, n = 0;
    int rc;
    while ((rc = fb_wire_next_bytes(&p, end, 1, &env, &env_len)) == 1) n++;
    if (rc < 0 || n == 0 || n > FB_BATCH_MAX) {
        s_reply_reject(self, ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                       rc < 0 ? "PublishBatch is not well-formed protobuf"
                              : "a PublishBatch holds 1 to 1024 envelopes");
        return;
    }
    p = list;
    while (fb_wire_next_bytes(&p, end, 1, &env, &env_len) == 1)
        s_accept_submit(self, ident, env, env_len, 1);
}

/* Handles one submitted frame; returns 0, or -1 when none was waiting. */
static int s_on_submit(fb_node_t *self)
{
    zmq_msg_t ident, body;
    int rc = 0;
    zmq_msg_init(&ident);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&ident, self->submit, ZMQ_DONTWAIT) < 0) {
        rc = -1;
        goto out;
    }
    if (!zmq_msg_more(&ident) || zmq_msg_recv(&body, self->submit, 0) < 0) goto out;
    if (zmq_msg_more(&body)) {
        fb_zmq_drain(self->submit);
        s_reply_reject(self, &ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                       "a publish is one frame; got several");
        goto out;
    }
    if ((long long)zmq_msg_size(&body) > self->cfg.max_frame) {
        s_reply_reject(self, &ident, NULL, FEDBUS__REJECT_REASON__REJECT_FRAME_TOO_LARGE,
                       "frame exceeds max-frame");
        goto out;
    }
    const uint8_t *env, *list;
    size_t env_len, list_len;
    if (fb_wire_publish_view(zmq_msg_data(&body), zmq_msg_size(&body), &env, &env_len) == 0) {
        s_accept_submit(self, &ident, env, env_len, 0);
        goto out;
    }
    if (fb_wire_sole_field(zmq_msg_data(&body), zmq_msg_size(&body), 4, &list, &list_len) == 0) {
        s_accept_submit_batch(self, &ident, list, list_len);
        goto out;
    }
    /* Not a plain publish: decode it to say what it is. */
    Fedbus__NodeMessage *nm = fedbus__node_message__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
    if (nm && nm->body_case == FEDBUS__NODE_MESSAGE__BODY_PUBLISH)
        s_accept_submit(self, &ident, nm->publish->envelope.data, nm->publish->envelope.len, 0);
    else
        s_reply_reject(self, &ident, NULL,
                       nm ? FEDBUS__REJECT_REASON__REJECT_UNKNOWN_REQUEST : FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                       nm ? "the submit socket takes publishes only" : "frame is not a decodable NodeMessage");
    if (nm) fedbus__node_message__free_unpacked(nm, NULL);
out:
    zmq_msg_close(&body);
    zmq_msg_close(&ident);
    return rc;
}

/* --------------------------------------------------------------- broker -- */

/* Sends the gathered AckBatch, if any, to its submitter. */
static void s_fwd_flush(fb_node_t *self)
{
    if (!self->fwd_has) return;
    size_t h = fb_wire_field_size(3, self->fwd_len) - self->fwd_len;
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, h + self->fwd_len) == 0) {
        uint8_t *p = zmq_msg_data(&m);
        p += fb_wire_put_header(3, self->fwd_len, p); /* BrokerMessage.ack_batch */
        memcpy(p, self->fwd, self->fwd_len);
        zmq_msg_t id;
        zmq_msg_init(&id);
        zmq_msg_copy(&id, &self->fwd_client);
        if (zmq_msg_send(&id, self->submit, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            zmq_msg_close(&m);
            self->client_acks_dropped++;
        } else if (zmq_msg_send(&m, self->submit, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            self->client_acks_dropped++;
        }
    }
    zmq_msg_close(&self->fwd_client);
    self->fwd_has = 0;
    self->fwd_len = 0;
}

/* Hands ack (ack_len bytes of an Ack) to e's submitter: gathered into an
 * AckBatch when e came in a batch, as its own BrokerMessage{ack} otherwise. */
static void s_forward_ack(fb_node_t *self, s_entry_t *e, const uint8_t *ack, size_t ack_len)
{
    if (!e->has_client) return;
    zmq_msg_t *c = &e->client;
    if (self->fwd_has && (!e->batch_client || zmq_msg_size(c) != zmq_msg_size(&self->fwd_client) ||
                          memcmp(zmq_msg_data(c), zmq_msg_data(&self->fwd_client), zmq_msg_size(c)) != 0))
        s_fwd_flush(self);
    size_t item = fb_wire_field_size(1, ack_len);
    if (e->batch_client) {
        if (self->fwd_len + item > self->fwd_cap) {
            size_t cap = self->fwd_cap ? self->fwd_cap : 64 << 10;
            while (cap < self->fwd_len + item) cap *= 2;
            uint8_t *b = realloc(self->fwd, cap);
            if (!b) goto single; /* send it alone rather than not at all */
            self->fwd = b;
            self->fwd_cap = cap;
        }
        if (!self->fwd_has) {
            zmq_msg_init(&self->fwd_client);
            zmq_msg_copy(&self->fwd_client, c);
            self->fwd_has = 1;
        }
        self->fwd_len += fb_wire_put_header(1, ack_len, self->fwd + self->fwd_len); /* AckBatch.acks */
        memcpy(self->fwd + self->fwd_len, ack, ack_len);
        self->fwd_len += ack_len;
        return;
    }
single:;
    uint8_t reply[1024];
    uint8_t *r = item <= sizeof(reply) ? reply : malloc(item);
    if (!r) return;
    size_t h = fb_wire_put_header(1, ack_len, r); /* BrokerMessage.ack */
    memcpy(r + h, ack, ack_len);
    if (s_send_to(self->submit, c, r, item) != 0 && self->client_acks_dropped++ % 1000 == 0)
        fb_warn("ack to a submitter dropped (gone or not reading): %llu in all",
                (unsigned long long)self->client_acks_dropped);
    if (r != reply) free(r);
}

/* Settles the outbox entry that ack a (whose bytes are ack, ack_len)
 * answers and hands the ack on to its submitter. */
static void s_on_ack(fb_node_t *self, const fb_ack_view_t *a, const uint8_t *ack, size_t ack_len)
{
    uint64_t abs;
    if (a->message_id_len != FB_UUID_LEN || !fb_map_get(self->by_id, a->message_id, FB_UUID_LEN, &abs)) {
        if (a->status == FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED && a->message_id_len == 0)
            fb_warn("broker rejected a frame: %s: %.*s", fb_reject_name(a->reason), (int)a->detail_len,
                    a->detail ? a->detail : "");
        return; /* a second ack of something already confirmed */
    }
    s_entry_t *e = s_at(self, abs);
    if (a->status == FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED &&
        a->reason == FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE)
        return; /* transient: the resend timer tries again */
    if (a->status == FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED) {
        self->rejected++;
        fb_info("broker rejected origin_seq %llu: %s: %.*s", (unsigned long long)e->origin_seq,
                fb_reject_name(a->reason), (int)a->detail_len, a->detail ? a->detail : "");
    } else {
        self->confirmed++;
    }
    s_forward_ack(self, e, ack, ack_len);
    e->done = 1;
    fb_map_del(self->by_id, e->id, FB_UUID_LEN);
}

/* Takes an AckBatch (its acks, read in place, none decoded): each ack
 * settles its entry and goes on to its submitter. Returns 0, or -1 when the
 * batch is not well-formed. */
static int s_on_ack_batch(fb_node_t *self, const uint8_t *list, size_t list_len)
{
    const uint8_t *p = list, *end = list + list_len, *ack;
    size_t ack_len;
    int rc;
    while ((rc = fb_wire_next_bytes(&p, end, 1, &ack, &ack_len)) == 1) {
        fb_ack_view_t a;
        if (fb_wire_ack_scan(ack, ack_len, &a) != 0) {
            rc = -1;
            break;
        }
        s_on_ack(self, &a, ack, ack_len);
    }
    s_fwd_flush(self);
    return rc;
}

/* Handles one frame from the broker; returns 0, or -1 when none was waiting. */
static int s_on_broker(fb_node_t *self)
{
    zmq_msg_t body;
    Fedbus__BrokerMessage *bm = NULL;
    zmq_msg_init(&body);
    if (zmq_msg_recv(&body, self->broker, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&body);
        return -1;
    }
    fb_zmq_drain(self->broker);
    const uint8_t *list;
    size_t list_len;
    if (fb_wire_sole_field(zmq_msg_data(&body), zmq_msg_size(&body), 3, &list, &list_len) == 0) {
        if (s_on_ack_batch(self, list, list_len) != 0)
            fb_warn("broker sent an undecodable AckBatch of %zu bytes", zmq_msg_size(&body));
        s_pop_done(self);
        goto out;
    }
    bm = fedbus__broker_message__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
    if (!bm) {
        fb_warn("broker sent an undecodable frame of %zu bytes", zmq_msg_size(&body));
        goto out;
    }
    if (bm->body_case == FEDBUS__BROKER_MESSAGE__BODY_WELCOME) {
        const Fedbus__Welcome *w = bm->welcome;
        if (!self->welcomed || w->last_origin_seq >= self->next_seq) {
            if (w->last_origin_seq >= self->next_seq) self->next_seq = w->last_origin_seq + 1;
            fb_info("welcomed by broker: next origin_seq %llu, broker head %llu",
                    (unsigned long long)self->next_seq, (unsigned long long)w->head_global_seq);
        }
        self->welcomed = 1;
        if (w->max_frame && (long long)w->max_frame < self->max_frame) {
            fb_info("broker accepts frames up to %u bytes", w->max_frame);
            self->max_frame = w->max_frame;
        }
        /* Everything unconfirmed goes again, in order, before anything new. */
        self->cursor = self->head;
        self->nframes = 0;
        s_send_pending(self);
    } else if (bm->body_case == FEDBUS__BROKER_MESSAGE__BODY_ACK) {
        const uint8_t *ack;
        size_t ack_len;
        fb_ack_view_t a;
        if (fb_wire_sole_field(zmq_msg_data(&body), zmq_msg_size(&body), 1, &ack, &ack_len) == 0 &&
            fb_wire_ack_scan(ack, ack_len, &a) == 0) {
            s_on_ack(self, &a, ack, ack_len);
            s_fwd_flush(self);
        } else {
            /* Not in the plain shape: repack the ack it decoded to. */
            size_t n = fedbus__ack__get_packed_size(bm->ack);
            uint8_t *b = malloc(n ? n : 1);
            if (b && fb_wire_ack_scan(b, fedbus__ack__pack(bm->ack, b), &a) == 0) {
                s_on_ack(self, &a, b, n);
                s_fwd_flush(self);
            }
            free(b);
        }
        s_pop_done(self);
    }
out:
    if (bm) fedbus__broker_message__free_unpacked(bm, NULL);
    zmq_msg_close(&body);
    return 0;
}

/* A (re)connection to the broker: say hello again; its Welcome resends
 * everything unconfirmed, in order, whatever its backoff. */
static void s_on_monitor(fb_node_t *self)
{
    zmq_msg_t ev, addr;
    zmq_msg_init(&ev);
    zmq_msg_init(&addr);
    if (zmq_msg_recv(&ev, self->monitor, ZMQ_DONTWAIT) < 0 || zmq_msg_size(&ev) < 6 ||
        zmq_msg_recv(&addr, self->monitor, 0) < 0)
        goto out;
    uint16_t event;
    memcpy(&event, zmq_msg_data(&ev), sizeof(event));
    if (event == ZMQ_EVENT_CONNECTED) {
        fb_info("connected to broker %s", self->cfg.broker);
        for (uint64_t i = self->head; i < self->tail; i++) s_at(self, i)->wait_us = 0;
        s_send_hello(self);
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
        /* What was in flight may be lost: hold everything until the next
         * Welcome, which resends it in order. */
        self->welcomed = 0;
        self->waiting_logged = 0;
        self->unwelcomed_at = fb_time_mono_us();
        fb_warn("disconnected from broker %s; %llu publishes unconfirmed", self->cfg.broker,
                (unsigned long long)(self->tail - self->head));
    }
out:
    zmq_msg_close(&ev);
    zmq_msg_close(&addr);
}

static void s_on_timer(fb_node_t *self)
{
    int64_t now = fb_time_mono_us(), resend = self->cfg.resend_ms * 1000;
    if (!self->welcomed) {
        if (self->hello_due || now - self->hello_at >= resend) s_send_hello(self);
        if (now - self->unwelcomed_at > 5000000 && !self->waiting_logged++)
            fb_warn("no answer from broker %s yet; publishes wait until it answers", self->cfg.broker);
        return;
    }
    s_send_pending(self);
    if (now < self->scan_at) return;
    self->scan_at = now + 50000;
    /* Acks can be lost on a healthy link (the broker drops replies to a
     * peer whose queue is full): resend what waited too long. */
    int budget = 10000;
    for (uint64_t i = self->head; i < self->cursor && budget > 0; i++) {
        s_entry_t *e = s_at(self, i);
        if (e->done || now - e->sent_at_us < (e->wait_us ? e->wait_us : resend)) continue;
        if (e->sent_at_us) fb_debug("resend origin_seq %llu", (unsigned long long)e->origin_seq);
        s_resend_entry(self, e);
        budget--;
    }
    if (now - self->heartbeat_at >= self->cfg.heartbeat_ms * 1000) s_send_heartbeat(self);
}

/* ----------------------------------------------------------------- feed -- */

static void *s_feed_main(void *arg)
{
    fb_node_t *self = arg;
    FILE *out = stdout;
    fb_subscriber_t *sub = fb_subscriber_new(self->cfg.feed, self->cfg.replay);
    if (!sub) {
        fb_err("feed: cannot connect to %s", self->cfg.feed);
        return NULL;
    }
    if (strcmp(self->cfg.output, "-") != 0 && !(out = fopen(self->cfg.output, "a"))) {
        fb_err("feed: cannot open %s: %s", self->cfg.output, strerror(errno));
        fb_subscriber_destroy(&sub);
        return NULL;
    }
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", self->cfg.subscribe);
    char *save = NULL;
    for (char *p = strtok_r(buf, ", ", &save); p; p = strtok_r(NULL, ", ", &save))
        fb_subscriber_add(sub, p);
    if (self->cfg.from_seq > 0) fb_subscriber_from(sub, (uint64_t)self->cfg.from_seq);
    fb_info("feed: delivering '%s' to %s", self->cfg.subscribe, self->cfg.output);
    while (!*self->stop) {
        fb_message_t msg;
        int rc = fb_subscriber_recv(sub, &msg, 500);
        if (rc == FB_ETIMEOUT || rc == FB_EINTR) continue;
        if (rc != FB_OK) {
            fb_warn("feed: %s", fb_strerror(rc));
            continue;
        }
        char *line = fb_message_json(&msg);
        if (line) {
            fprintf(out, "%s\n", line);
            fflush(out);
            free(line);
        }
        __atomic_store_n(&self->last_global_seen, msg.global_seq, __ATOMIC_RELAXED);
    }
    if (out != stdout) fclose(out);
    fb_subscriber_destroy(&sub);
    return NULL;
}

/* ------------------------------------------------------------- lifetime -- */

int fb_node_run(fb_node_t *self, volatile sig_atomic_t *stop)
{
    self->stop = stop;
    if (self->cfg.subscribe[0]) {
        if (pthread_create(&self->feed_thread, NULL, s_feed_main, self) == 0) self->feed_running = 1;
        else fb_err("feed: cannot start thread");
    }
    self->unwelcomed_at = fb_time_mono_us();
    s_send_hello(self);
    fb_info("publishing as %s to %s; submit at %s", self->cfg.member, self->cfg.broker, self->cfg.submit);
    while (!*stop) {
        zmq_pollitem_t items[] = {
            {self->broker, 0, ZMQ_POLLIN, 0},
            {self->monitor, 0, ZMQ_POLLIN, 0},
            {self->submit, 0, ZMQ_POLLIN, 0},
        };
        /* Until the broker says where this origin's sequence stands, the
         * submit socket is not read: publishes wait in its queue. Nor while
         * every frame slot is taken: what is submitted meanwhile could not
         * leave before an answer anyway, and read in one go after it, it
         * costs one wake-up and leaves as one batch. */
        int take = self->welcomed && s_frame_free(self);
        int n = zmq_poll(items, take ? 3 : 2, self->hello_due ? 10 : 200);
        if (n < 0 && errno != EINTR) {
            fb_err("poll: %s", zmq_strerror(errno));
            break;
        }
        /* Drain without a poll per message: receive until none is waiting. */
        if (n > 0 && (items[0].revents & ZMQ_POLLIN))
            for (int k = 0; k < 10000 && s_on_broker(self) == 0; k++)
                ;
        if (n > 0 && (items[1].revents & ZMQ_POLLIN)) s_on_monitor(self);
        if (n > 0 && self->welcomed && (items[2].revents & ZMQ_POLLIN))
            for (int k = 0; k < FB_BATCH_MAX && self->welcomed && s_on_submit(self) == 0; k++)
                ;
        s_on_timer(self);
    }
    if (self->tail > self->head)
        fb_warn("stopping with %llu publishes unconfirmed", (unsigned long long)(self->tail - self->head));
    fb_info("stopped: submitted=%llu confirmed=%llu rejected=%llu client_acks_dropped=%llu",
            (unsigned long long)self->submitted, (unsigned long long)self->confirmed,
            (unsigned long long)self->rejected, (unsigned long long)self->client_acks_dropped);
    return 0;
}

fb_node_t *fb_node_new(const fb_node_config_t *cfg)
{
    fb_node_t *self = calloc(1, sizeof(*self));
    if (!self) {
        fb_err("out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->cap = (size_t)cfg->outbox_max;
    self->ring = calloc(self->cap, sizeof(s_entry_t));
    self->by_id = fb_map_new(1024);
    self->next_seq = 1;
    if (!self->ring || !self->by_id) {
        fb_err("out of memory");
        goto error;
    }
    self->max_frame = cfg->max_frame;
    /* ZMQ_IMMEDIATE: nothing is queued for a connection that is not up, so
     * nothing sent before a disconnection is delivered after later sends. */
    int one = 1, zero = 0;
    self->broker = zmq_socket(fb_zmq_context(), ZMQ_DEALER);
    if (!self->broker || zmq_setsockopt(self->broker, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0 ||
        zmq_setsockopt(self->broker, ZMQ_LINGER, &zero, sizeof(zero)) != 0) {
        fb_err("cannot create the broker socket: %s", zmq_strerror(errno));
        goto error;
    }
    char mon[96];
    snprintf(mon, sizeof(mon), "inproc://fedbus-node-monitor-%p", (void *)self);
    if (zmq_socket_monitor(self->broker, mon, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0 ||
        !(self->monitor = fb_zmq_socket(ZMQ_PAIR, mon, 0, 0, 0, 0))) {
        fb_err("cannot monitor the broker socket: %s", zmq_strerror(errno));
        goto error;
    }
    int hwm = 100000;
    zmq_setsockopt(self->broker, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(self->broker, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    /* Connect only now, so the monitor sees the first connection too. */
    if (zmq_connect(self->broker, cfg->broker) != 0) {
        fb_err("cannot connect to broker %s: %s", cfg->broker, zmq_strerror(errno));
        goto error;
    }
    self->submit = fb_zmq_socket(ZMQ_ROUTER, cfg->submit, 1, 0, cfg->max_frame * 2 + 4096, 100000);
    if (!self->submit) {
        fb_err("cannot bind submit %s: %s", cfg->submit, zmq_strerror(errno));
        goto error;
    }
    if (zmq_bind(self->submit, FB_NODE_INPROC) != 0) {
        fb_err("cannot bind %s: %s", FB_NODE_INPROC, zmq_strerror(errno));
        goto error;
    }
    if (cfg->http_port > 0) {
        self->http = fb_http_start(cfg->http_bind, (int)cfg->http_port, cfg->member, cfg->max_frame,
                                   &self->welcomed, &self->depth);
        if (!self->http) goto error;
    }
    return self;
error:
    fb_node_destroy(&self);
    return NULL;
}

void fb_node_destroy(fb_node_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_node_t *self = *self_p;
    fb_http_stop(&self->http);
    if (self->feed_running) pthread_join(self->feed_thread, NULL);
    for (uint64_t i = self->head; i < self->tail; i++) s_entry_clear(s_at(self, i));
    if (self->submit) zmq_close(self->submit);
    if (self->broker) {
        zmq_socket_monitor(self->broker, NULL, 0);
        zmq_close(self->broker);
    }
    if (self->monitor) zmq_close(self->monitor);
    fb_map_destroy(&self->by_id);
    free(self->ring);
    free(self->batch_buf);
    if (self->fwd_has) zmq_msg_close(&self->fwd_client);
    free(self->fwd);
    free(self);
    *self_p = NULL;
}
