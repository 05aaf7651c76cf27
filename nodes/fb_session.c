/* fb_session.c — the node's broker session: Hello/Welcome, sends and resends in order, acks back, heartbeats.
 *
 * The broker refuses an origin_seq at or below one it stored (unless it is a
 * resend of that very message), so the session never lets a publish overtake
 * an earlier one: it sends strictly in outbox order (a send cursor that stops
 * at a full queue), the broker socket queues nothing while disconnected
 * (ZMQ_IMMEDIATE), and after any reconnection nothing is sent before the
 * broker's Welcome, which rewinds the cursor to the outbox's oldest entry. */
#include "fb_session.h"

#include "fb_chain.h"
#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_log.h"
#include "fb_time.h"
#include "fb_wire.h"
#include "fb_zmq.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room kept before the gathered acks for the AckBatch frame's header. */
#define S_ACK_BATCH_HEAD 11
/* The most a PublishBatch's seal field takes (fb_wire_seal_field_size()). */
#define S_SEAL_ROOM 192

#define S_RECONNECT_MIN_US 1000000LL  /* after a refused handshake, the first new try... */
#define S_RECONNECT_MAX_US 16000000LL /* ... and the longest wait between two */

struct fb_session {
    fb_node_config_t cfg;
    void *broker, *monitor;
    fb_outbox_t *outbox;       /* borrowed */
    fb_submit_t *submit;       /* borrowed: replies to submitters go through it */
    const fb_nodefeed_t *feed; /* borrowed; NULL: no feed */
    fb_chain_t *chain;         /* borrowed; NULL: the node does not sign */
    fb_node_stats_t *stats;    /* borrowed */
    long long max_frame;       /* the smaller of ours and the broker's */
    int welcomed;
    int journaled;         /* outbox = disk: publishes are taken before the Welcome */
    int waiting_logged;
    int hello_due;         /* a Hello could not be queued yet */
    int64_t unwelcomed_at; /* since when there is no Welcome */
    int64_t hello_at, heartbeat_at;
    int64_t started_us; /* monotonic: when the session was made (the uptime heartbeats report) */
    int64_t scan_at;    /* next resend scan, monotonic */
    /* A handshake the broker refused (its key unknown, suspended, revoked;
     * CURVE on one side only) ends that connection for good in ZeroMQ:
     * the node connects again itself, backing off. */
    int64_t reconnect_at;  /* 0: none due */
    int64_t reconnect_us;  /* the next backoff */
    int refused_logged;
    uint8_t *batch_buf; /* the PublishBatch frame being built */
    size_t batch_cap;
    /* In flight: each frame's last origin_seq, oldest first. */
    uint64_t frame_last[2 * FB_NODE_FRAMES_MAX];
    int nframes;
    /* Acks on their way back to a batch submitter, gathered into one
     * AckBatch: its identity, and the AckBatch's items so far (after
     * S_ACK_BATCH_HEAD bytes of room). */
    uint8_t fwd_who[255];
    size_t fwd_who_len;
    int fwd_has;
    uint8_t *fwd;
    size_t fwd_len, fwd_cap;
};

/* ---------------------------------------------------------------- send -- */

/* Sends e's own frame; returns 0, or -1 when the queue to the broker is full. */
static int s_send_entry(fb_session_t *self, fb_outbox_entry_t *e)
{
    if (zmq_send(self->broker, e->frame, e->frame_len, ZMQ_DONTWAIT) < 0) return -1;
    e->sent_at_us = fb_time_mono_us();
    return 0;
}

/* Sends the n entries of batch as one PublishBatch frame whose items take
 * items_len bytes; returns 0, or -1 when it could not go (no memory, the
 * queue to the broker full). */
static int s_send_batch(fb_session_t *self, fb_outbox_entry_t **batch, size_t n, size_t items_len)
{
    fb_seal_t seal;
    size_t seal_len = 0;
    if (self->chain) {
        int rc = fb_chain_seal(self->chain, batch, n, &seal);
        if (rc == 0) seal_len = fb_wire_seal_field_size(&seal);
        else if (rc != FB_CHAIN_UNSEALABLE) return -1; /* the timer tries again */
    }
    size_t flen = fb_wire_publish_batch_size(items_len + seal_len);
    if (flen > self->batch_cap) {
        uint8_t *nb = realloc(self->batch_buf, flen);
        if (!nb) return -1; /* the timer tries again */
        self->batch_buf = nb;
        self->batch_cap = flen;
    }
    uint8_t *p = self->batch_buf;
    p += fb_wire_put_publish_batch_header(items_len + seal_len, p);
    for (size_t i = 0; i < n; i++) {
        size_t env_len;
        const uint8_t *env = fb_outbox_envelope(batch[i], &env_len);
        p += fb_wire_put_item(env, env_len, p);
    }
    if (seal_len) p += fb_wire_put_seal_field(&seal, p);
    if (zmq_send(self->broker, self->batch_buf, flen, ZMQ_DONTWAIT) < 0) return -1;
    int64_t now = fb_time_mono_us();
    for (size_t i = 0; i < n; i++) batch[i]->sent_at_us = now;
    return 0;
}

/* Forgets the frames the broker has answered (every publish they held is
 * answered, durable or not: a slot does not wait for the journal, whose
 * sync runs beside the round trip); returns 1 when another frame may be
 * sent: while fewer than inflight-frames are unanswered, or fewer than
 * twice that holding together fewer publishes than inflight-frames full
 * frames (FB_BATCH_MAX each). Under load, frames of small envelopes are
 * full and two keep the broker busy. At moderate load frames are small,
 * and a publish that had to wait for a slot would wait a whole broker round
 * trip. Frames of large envelopes fill up by max-frame long before
 * FB_BATCH_MAX publishes (64 at 16 KiB), and two of them held a broker
 * batch to a few hundred publishes. */
static int s_frame_free(fb_session_t *self)
{
    uint64_t first = fb_outbox_first_unanswered_seq(self->outbox);
    int done = 0;
    while (done < self->nframes && self->frame_last[done] < first) done++;
    if (done) {
        size_t left = (size_t)(self->nframes - done);
        memmove(self->frame_last, self->frame_last + done, left * sizeof(self->frame_last[0]));
        self->nframes -= done;
    }
    if (self->nframes < self->cfg.inflight_frames) return 1;
    return self->nframes < 2 * self->cfg.inflight_frames &&
           self->frame_last[self->nframes - 1] + 1 - first < (uint64_t)self->cfg.inflight_frames * FB_BATCH_MAX;
}

/* Sends, in order, every entry not yet sent since the last Welcome: what
 * queued up since the last turn goes as PublishBatch frames (up to
 * FB_BATCH_MAX envelopes, within the broker's max-frame), so that under load
 * one frame and one AckBatch carry many publishes; a lone entry goes alone. */
static void s_send_pending(fb_session_t *self)
{
    if (!self->welcomed) return;
    fb_outbox_entry_t *batch[FB_BATCH_MAX];
    for (;;) {
        fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
        fb_outbox_entry_t *e = fb_outbox_next(self->outbox, FB_OUTBOX_UNSENT, &it);
        /* A frame is answered once the broker answered its last publish.
         * While inflight-frames are unanswered, what comes waits and then
         * goes in one frame: the batch grows to what arrives during one
         * round trip to the broker, which keeps frames (and wake-ups) few
         * under load and costs nothing when the link is idle. */
        if (!e || !s_frame_free(self)) return;
        /* How far a batch from the cursor reaches. */
        size_t items_len = 0, n = 0;
        while (e) {
            size_t env_len;
            fb_outbox_envelope(e, &env_len);
            size_t more = fb_wire_item_size(env_len);
            if (n > 0 && (long long)fb_wire_publish_batch_size(items_len + more + (self->chain ? S_SEAL_ROOM : 0)) > self->max_frame)
                break;
            items_len += more;
            batch[n++] = e;
            e = n < FB_BATCH_MAX ? fb_outbox_next(self->outbox, FB_OUTBOX_UNSENT, &it) : NULL;
        }
        /* A signing node sends every publish under a seal, a lone one too. */
        int alone = n == 1 && !self->chain;
        if ((alone ? s_send_entry(self, batch[0]) : s_send_batch(self, batch, n, items_len)) != 0) return;
        fb_outbox_mark_sent(self->outbox, batch[n - 1]);
        self->frame_last[self->nframes++] = batch[n - 1]->origin_seq;
    }
}

/* Resends back off, so that a slow broker is not buried under copies of
 * what it already queued: resend-ms, then twice that, up to 60 s. */
static void s_resend_entry(fb_session_t *self, fb_outbox_entry_t *e)
{
    if (self->chain) {
        size_t env_len;
        fb_outbox_envelope(e, &env_len);
        s_send_batch(self, &e, 1, fb_wire_item_size(env_len));
    } else {
        s_send_entry(self, e);
    }
    int64_t cap = 60 * 1000000LL;
    e->wait_us = e->wait_us ? (e->wait_us * 2 > cap ? cap : e->wait_us * 2) : self->cfg.resend_ms * 1000;
}

/* Sends a small control message (Hello, Heartbeat) without blocking;
 * returns 0, or -1 when it could not be queued. */
static int s_send_control(fb_session_t *self, const Fedbus__NodeMessage *nm)
{
    uint8_t buf[256];
    size_t len = fedbus__node_message__get_packed_size(nm);
    if (len > sizeof(buf)) return -1;
    fedbus__node_message__pack(nm, buf);
    return zmq_send(self->broker, buf, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

static void s_send_hello(fb_session_t *self)
{
    Fedbus__Hello h = FEDBUS__HELLO__INIT;
    h.origin = self->cfg.member;
    h.version = (char *)fb_version();
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HELLO;
    nm.hello = &h;
    /* With ZMQ_IMMEDIATE the send fails until the connection's handshake is
     * done (after ZeroMQ reports it connected): try again on the next tick. */
    self->hello_due = s_send_control(self, &nm) != 0;
    self->hello_at = fb_time_mono_us();
}

static void s_send_heartbeat(fb_session_t *self)
{
    Fedbus__Heartbeat hb = FEDBUS__HEARTBEAT__INIT;
    hb.origin = self->cfg.member;
    hb.sent_at_us = fb_time_now_us();
    hb.outbox_depth = fb_outbox_depth(self->outbox);
    hb.oldest_unconfirmed_us = fb_outbox_oldest_created_us(self->outbox);
    hb.last_origin_seq = fb_outbox_next_seq(self->outbox) - 1;
    hb.last_global_seq_seen = fb_nodefeed_last_seen(self->feed);
    hb.version = (char *)fb_version();
    hb.uptime_us = fb_time_mono_us() - self->started_us;
    hb.publishes_submitted = self->stats->submitted;
    hb.publishes_confirmed = self->stats->confirmed;
    hb.publishes_rejected = self->stats->rejected;
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HEARTBEAT;
    nm.heartbeat = &hb;
    s_send_control(self, &nm);
    self->heartbeat_at = fb_time_mono_us();
}

/* ---------------------------------------------------------------- acks -- */

/* Sends the gathered AckBatch, if any, to its submitter. */
static void s_fwd_flush(fb_session_t *self)
{
    if (!self->fwd_has) return;
    size_t head = fb_wire_ack_batch_size(self->fwd_len) - self->fwd_len;
    uint8_t *frame = self->fwd + S_ACK_BATCH_HEAD - head;
    fb_wire_put_ack_batch_header(self->fwd_len, frame);
    if (fb_submit_reply(self->submit, self->fwd_who, self->fwd_who_len, frame, head + self->fwd_len) != 0)
        self->stats->client_acks_dropped++;
    self->fwd_has = 0;
    self->fwd_len = 0;
}

/* Adds ack (ack_len bytes of an Ack) to the AckBatch gathered for who;
 * returns 0, or -1 when out of memory. */
static int s_fwd_add(fb_session_t *self, const uint8_t *who, size_t who_len, const uint8_t *ack, size_t ack_len)
{
    size_t need = S_ACK_BATCH_HEAD + self->fwd_len + fb_wire_item_size(ack_len);
    if (need > self->fwd_cap) {
        size_t cap = self->fwd_cap ? self->fwd_cap : 64 << 10;
        while (cap < need) cap *= 2;
        uint8_t *b = realloc(self->fwd, cap);
        if (!b) return -1;
        self->fwd = b;
        self->fwd_cap = cap;
    }
    if (!self->fwd_has) {
        memcpy(self->fwd_who, who, who_len);
        self->fwd_who_len = who_len;
        self->fwd_has = 1;
    }
    self->fwd_len += fb_wire_put_item(ack, ack_len, self->fwd + S_ACK_BATCH_HEAD + self->fwd_len);
    return 0;
}

/* Hands ack (ack_len bytes of an Ack) to e's submitter: gathered into an
 * AckBatch when e came in a batch, as its own BrokerMessage{ack} otherwise
 * (or when there is no memory to gather it: alone rather than not at all). */
static void s_forward_ack(fb_session_t *self, const fb_outbox_entry_t *e, const uint8_t *ack, size_t ack_len)
{
    size_t who_len;
    const uint8_t *who = fb_outbox_submitter(e, &who_len);
    if (!who) return;
    if (self->fwd_has && (!e->batched || who_len != self->fwd_who_len ||
                          memcmp(who, self->fwd_who, who_len) != 0))
        s_fwd_flush(self);
    if (e->batched && s_fwd_add(self, who, who_len, ack, ack_len) == 0) return;
    uint8_t reply[1024];
    size_t len = fb_wire_ack_frame_size(ack_len);
    uint8_t *r = len <= sizeof(reply) ? reply : malloc(len);
    if (!r) return;
    size_t head = fb_wire_put_ack_frame_header(ack_len, r);
    memcpy(r + head, ack, ack_len);
    if (fb_submit_reply(self->submit, who, who_len, r, len) != 0 && self->stats->client_acks_dropped++ % 1000 == 0)
        fb_warn("ack to a submitter dropped (gone or not reading): %llu in all",
                (unsigned long long)self->stats->client_acks_dropped);
    if (r != reply) free(r);
}

/* Says Hello again, once, keeping everything held. */
static void s_resync(fb_session_t *self, const fb_ack_view_t *a)
{
    if (!self->welcomed) return;
    fb_warn("broker: %s: %.*s; asking it where this origin's chain stands", fb_reject_name(a->reason),
            (int)a->detail_len, a->detail ? a->detail : "");
    self->welcomed = 0;
    self->unwelcomed_at = fb_time_mono_us();
    s_send_hello(self);
}

/* Settles the outbox entry that ack a (whose bytes are ack, ack_len)
 * answers and hands the ack on to its submitter. */
static void s_on_ack(fb_session_t *self, const fb_ack_view_t *a, const uint8_t *ack, size_t ack_len)
{
    int rejected = a->status == FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED;
    if (a->message_id_len != FB_UUID_LEN) {
        if (rejected && a->message_id_len == 0)
            fb_warn("broker rejected a frame: %s: %.*s", fb_reject_name(a->reason), (int)a->detail_len,
                    a->detail ? a->detail : "");
        return;
    }
    if (rejected && a->reason == FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE)
        return; /* transient: the resend timer tries again */
    if (rejected && a->reason == FEDBUS__REJECT_REASON__REJECT_BROKEN_CHAIN && self->chain) {
        /* The broker follows another head of this origin's chain than the
         * node linked to (its state was lost, or ours): ask where it stands;
         * the Welcome re-links and resends everything held. */
        s_resync(self, a);
        return;
    }
    fb_outbox_entry_t *e = fb_outbox_answer_id(self->outbox, a->message_id);
    if (!e) return; /* a second ack of something already confirmed */
    if (rejected) {
        self->stats->rejected++;
        char uuid[37] = "-";
        if (a->message_id && a->message_id_len == 16) fb_uuid_format(a->message_id, uuid);
        fb_info("broker rejected origin_seq %llu: %s: %.*s (message_id %s)", (unsigned long long)e->origin_seq,
                fb_reject_name(a->reason), (int)a->detail_len, a->detail ? a->detail : "", uuid);
    } else {
        self->stats->confirmed++;
    }
    if (fb_outbox_durable(self->outbox, e)) {
        s_forward_ack(self, e, ack, ack_len);
        return;
    }
    /* The broker was faster than the journal: the submitter hears of it
     * once the publish is on the node's disk (fb_session_release()). */
    size_t who_len;
    if (fb_outbox_submitter(e, &who_len) && fb_outbox_hold_answer(self->outbox, e, ack, ack_len) != 0 &&
        self->stats->client_acks_dropped++ % 1000 == 0)
        fb_warn("out of memory holding an ack for its sync: dropped (%llu in all); its submitter asks again",
                (unsigned long long)self->stats->client_acks_dropped);
}

/* Reads the next ack of an AckBatch into *a (its bytes: *ack, *ack_len)
 * and asks for its index slot ahead of s_on_ack(). Returns 1, 0 at the
 * end, -1 when it is not well-formed. */
static int s_next_ack(fb_session_t *self, const uint8_t **p, const uint8_t *end, fb_ack_view_t *a,
                      const uint8_t **ack, size_t *ack_len)
{
    int rc = fb_wire_next_item(p, end, ack, ack_len);
    if (rc != 1) return rc;
    if (fb_wire_ack_scan(*ack, *ack_len, a) != 0) return -1;
    if (a->message_id_len == FB_UUID_LEN) fb_outbox_prefetch_id(self->outbox, a->message_id);
    return 1;
}

/* Takes an AckBatch (its acks, read in place, none decoded): each ack
 * settles its entry and goes on to its submitter. Each ack is read one
 * ahead, so that the look-up of its entry (a cache miss, per ack) is under
 * way while the one before is settled. Returns 0, or -1 when the batch is
 * not well-formed (the acks before the fault are taken). */
static int s_on_ack_batch(fb_session_t *self, const uint8_t *items, size_t items_len)
{
    const uint8_t *p = items, *end = items + items_len, *ack, *next_ack = NULL;
    size_t ack_len, next_len = 0;
    fb_ack_view_t a, next;
    int rc = s_next_ack(self, &p, end, &a, &ack, &ack_len);
    while (rc == 1) {
        int next_rc = s_next_ack(self, &p, end, &next, &next_ack, &next_len);
        s_on_ack(self, &a, ack, ack_len);
        a = next;
        ack = next_ack;
        ack_len = next_len;
        rc = next_rc;
    }
    s_fwd_flush(self);
    return rc;
}

/* Takes a single Ack: read in place when the frame is exactly
 * BrokerMessage{ack}, else re-packed from what protobuf-c decoded. */
static void s_on_single_ack(fb_session_t *self, const uint8_t *frame, size_t len, const Fedbus__Ack *decoded)
{
    const uint8_t *ack;
    size_t ack_len;
    fb_ack_view_t a;
    if (fb_wire_ack_frame_view(frame, len, &ack, &ack_len) == 0 && fb_wire_ack_scan(ack, ack_len, &a) == 0) {
        s_on_ack(self, &a, ack, ack_len);
        s_fwd_flush(self);
        return;
    }
    size_t n = fedbus__ack__get_packed_size(decoded);
    uint8_t *b = malloc(n ? n : 1);
    if (b && fb_wire_ack_scan(b, fedbus__ack__pack(decoded, b), &a) == 0) {
        s_on_ack(self, &a, b, n);
        s_fwd_flush(self);
    }
    free(b);
}

void fb_session_release(fb_session_t *self)
{
    fb_outbox_entry_t *e;
    int any = 0;
    while ((e = fb_outbox_next_released(self->outbox))) {
        s_forward_ack(self, e, e->held, e->held_len);
        fb_outbox_drop_answer(e);
        any = 1;
    }
    if (any) s_fwd_flush(self);
    fb_outbox_trim(self->outbox);
}

/* ------------------------------------------------------------- welcome -- */

static void s_on_welcome(fb_session_t *self, const Fedbus__Welcome *w)
{
    uint64_t next = fb_outbox_next_seq(self->outbox), first = fb_outbox_first_seq(self->outbox);
    if (!self->welcomed || w->last_origin_seq >= next) {
        fb_outbox_raise_seq(self->outbox, w->last_origin_seq + 1);
        fb_info("welcomed by broker: next origin_seq %llu, broker head %llu",
                (unsigned long long)fb_outbox_next_seq(self->outbox), (unsigned long long)w->head_global_seq);
        if (fb_outbox_depth(self->outbox) && fb_outbox_first_seq(self->outbox) != first)
            fb_info("the %zu publishes taken before this origin's first Welcome now have origin_seq %llu on, "
                    "not %llu on: the broker had stored up to %llu", fb_outbox_depth(self->outbox),
                    (unsigned long long)fb_outbox_first_seq(self->outbox), (unsigned long long)first,
                    (unsigned long long)w->last_origin_seq);
    }
    if (self->chain) {
        const uint8_t *head = w->chain_hash.len == FB_SHA256_LEN ? w->chain_hash.data : NULL;
        int n = fb_chain_relink(self->chain, head ? w->chain_seq : 0, head);
        if (n > 0) fb_info("re-linked %d publishes to the chain head the broker holds (origin_seq %llu)", n,
                           (unsigned long long)w->chain_seq);
    }
    self->welcomed = 1;
    if (w->max_frame && (long long)w->max_frame < self->max_frame) {
        fb_info("broker accepts frames up to %u bytes", w->max_frame);
        self->max_frame = w->max_frame;
    }
    /* Everything unconfirmed goes again, in order, before anything new
     * (after a renumbering, once the node loop's next sync made it durable). */
    fb_outbox_rewind(self->outbox);
    self->nframes = 0;
    s_send_pending(self);
}

int fb_session_on_broker(fb_session_t *self)
{
    zmq_msg_t body;
    zmq_msg_init(&body);
    if (zmq_msg_recv(&body, self->broker, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&body);
        return -1;
    }
    fb_zmq_drain(self->broker);
    const uint8_t *frame = zmq_msg_data(&body), *items;
    size_t len = zmq_msg_size(&body), items_len;
    if (fb_wire_ack_batch_view(frame, len, &items, &items_len) == 0) {
        if (s_on_ack_batch(self, items, items_len) != 0)
            fb_warn("broker sent an undecodable AckBatch of %zu bytes", len);
        fb_outbox_trim(self->outbox);
        zmq_msg_close(&body);
        return 0;
    }
    Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(NULL, len, frame);
    if (!bm) {
        fb_warn("broker sent an undecodable frame of %zu bytes", len);
    } else if (bm->body_case == FEDBUS__BROKER_MESSAGE__BODY_WELCOME) {
        s_on_welcome(self, bm->welcome);
    } else if (bm->body_case == FEDBUS__BROKER_MESSAGE__BODY_ACK) {
        s_on_single_ack(self, frame, len, bm->ack);
        fb_outbox_trim(self->outbox);
    }
    if (bm) fedbus__broker_message__free_unpacked(bm, NULL);
    zmq_msg_close(&body);
    return 0;
}

/* The broker refused the handshake (auth: ZAP's answer, value its status
 * code; else the mechanisms differ): said once an episode, and the node
 * connects again after a backoff, so that a member registered or
 * reactivated later gets in without a restart. */
static void s_refused(fb_session_t *self, int auth, uint32_t value)
{
    if (!self->refused_logged++) {
        if (auth)
            fb_warn("the broker refused this node's key (%u): is %s registered and active with the key in %s? "
                    "trying again, every %lld s at most", value, self->cfg.member, self->cfg.keys,
                    (long long)(S_RECONNECT_MAX_US / 1000000));
        else
            fb_warn("the handshake with the broker failed (%s): %s", self->cfg.curve.on ? "CURVE" : "plaintext",
                    self->cfg.curve.on ? "is broker-key the broker's public key?"
                                       : "a broker that runs with keys takes only nodes given keys and broker-key");
    }
    if (self->reconnect_at) return;
    if (!self->reconnect_us) self->reconnect_us = S_RECONNECT_MIN_US;
    self->reconnect_at = fb_time_mono_us() + self->reconnect_us;
    self->reconnect_us = self->reconnect_us * 2 < S_RECONNECT_MAX_US ? self->reconnect_us * 2 : S_RECONNECT_MAX_US;
}

/* Connects to the broker again once a refused handshake's backoff is over. */
static void s_reconnect(fb_session_t *self, int64_t now)
{
    if (!self->reconnect_at || now < self->reconnect_at) return;
    self->reconnect_at = 0;
    zmq_disconnect(self->broker, self->cfg.broker);
    if (fb_zmq_attach(self->broker, self->cfg.broker, 0) != 0)
        fb_warn("cannot connect to broker %s again: %s", self->cfg.broker, zmq_strerror(errno));
}

/* A (re)connection to the broker: say hello again; its Welcome resends
 * everything unconfirmed, in order, whatever its backoff. */
void fb_session_on_monitor(fb_session_t *self)
{
    zmq_msg_t ev, addr;
    zmq_msg_init(&ev);
    zmq_msg_init(&addr);
    if (zmq_msg_recv(&ev, self->monitor, ZMQ_DONTWAIT) < 0 || zmq_msg_size(&ev) < 6 ||
        zmq_msg_recv(&addr, self->monitor, 0) < 0)
        goto out;
    uint16_t event;
    uint32_t value;
    memcpy(&event, zmq_msg_data(&ev), sizeof(event));
    memcpy(&value, (const uint8_t *)zmq_msg_data(&ev) + 2, sizeof(value));
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH || event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        s_refused(self, event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, value);
    } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        self->reconnect_us = S_RECONNECT_MIN_US;
        if (self->refused_logged) fb_info("the broker takes this node's key again");
        self->refused_logged = 0;
    } else if (event == ZMQ_EVENT_CONNECTED) {
        fb_info("connected to broker %s", self->cfg.broker);
        fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
        for (fb_outbox_entry_t *e; (e = fb_outbox_next(self->outbox, FB_OUTBOX_ALL, &it));) e->wait_us = 0;
        s_send_hello(self);
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
        /* What was in flight may be lost: hold everything until the next
         * Welcome, which resends it in order. */
        self->welcomed = 0;
        self->waiting_logged = 0;
        self->unwelcomed_at = fb_time_mono_us();
        fb_warn("disconnected from broker %s; %llu publishes unconfirmed", self->cfg.broker,
                (unsigned long long)fb_outbox_depth(self->outbox));
    }
out:
    zmq_msg_close(&ev);
    zmq_msg_close(&addr);
}

void fb_session_on_timer(fb_session_t *self)
{
    int64_t now = fb_time_mono_us(), resend = self->cfg.resend_ms * 1000;
    s_reconnect(self, now);
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
    fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
    fb_outbox_entry_t *e;
    while (budget > 0 && (e = fb_outbox_next(self->outbox, FB_OUTBOX_SENT, &it))) {
        if (now - e->sent_at_us < (e->wait_us ? e->wait_us : resend)) continue;
        if (e->sent_at_us) fb_debug("resend origin_seq %llu", (unsigned long long)e->origin_seq);
        s_resend_entry(self, e);
        budget--;
    }
    if (now - self->heartbeat_at >= self->cfg.heartbeat_ms * 1000) s_send_heartbeat(self);
}

/* ------------------------------------------------------------ lifetime -- */

void fb_session_set_chain(fb_session_t *self, fb_chain_t *chain)
{
    self->chain = chain;
}

void fb_session_start(fb_session_t *self)
{
    self->unwelcomed_at = fb_time_mono_us();
    s_send_hello(self);
}

int fb_session_welcomed(const fb_session_t *self)
{
    return self->welcomed;
}

int fb_session_can_take(fb_session_t *self)
{
    return self->welcomed ? s_frame_free(self) : self->journaled;
}

int fb_session_hello_due(const fb_session_t *self)
{
    return self->hello_due;
}

long long fb_session_max_frame(const fb_session_t *self)
{
    return self->max_frame;
}

void *fb_session_broker_socket(const fb_session_t *self)
{
    return self->broker;
}

void *fb_session_monitor_socket(const fb_session_t *self)
{
    return self->monitor;
}

fb_session_t *fb_session_new(const fb_node_config_t *cfg, fb_outbox_t *outbox, fb_submit_t *submit,
                             const fb_nodefeed_t *feed, fb_node_stats_t *stats)
{
    fb_session_t *self = calloc(1, sizeof(*self));
    if (!self) {
        fb_err("out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->outbox = outbox;
    self->submit = submit;
    self->feed = feed;
    self->stats = stats;
    self->started_us = fb_time_mono_us();
    self->max_frame = cfg->max_frame;
    self->journaled = strcmp(cfg->outbox, "memory") != 0;
    /* ZMQ_IMMEDIATE: nothing is queued for a connection that is not up, so
     * nothing sent before a disconnection is delivered after later sends.
     * Not connected by fb_zmq_open(): only once the monitor's own socket
     * is, so that the monitor sees the first connection too. */
    char mon[96];
    snprintf(mon, sizeof(mon), "inproc://fedbus-node-monitor-%p", (void *)self);
    const fb_curve_t *c = &cfg->curve;
    self->broker = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .immediate = 1, .sndhwm = 100000,
                                                .rcvhwm = 100000, .monitor = mon,
                                                .monitor_events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                                                                  ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                                                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                                                  ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
                                                .curve_serverkey = c->on ? c->server_key : NULL,
                                                .curve_publickey = c->on ? c->public_key : NULL,
                                                .curve_secretkey = c->on ? c->secret_key : NULL});
    if (!self->broker) {
        fb_err("cannot create the broker socket: %s", zmq_strerror(errno));
        goto error;
    }
    if (!(self->monitor = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_PAIR, .endpoint = mon}))) {
        fb_err("cannot monitor the broker socket: %s", zmq_strerror(errno));
        goto error;
    }
    if (fb_zmq_attach(self->broker, cfg->broker, 0) != 0) {
        fb_err("cannot connect to broker %s: %s", cfg->broker, zmq_strerror(errno));
        goto error;
    }
    return self;
error:
    fb_session_destroy(&self);
    return NULL;
}

void fb_session_destroy(fb_session_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_session_t *self = *self_p;
    if (self->broker) {
        zmq_socket_monitor(self->broker, NULL, 0);
        zmq_close(self->broker);
    }
    if (self->monitor) zmq_close(self->monitor);
    free(self->batch_buf);
    free(self->fwd);
    free(self);
    *self_p = NULL;
}
