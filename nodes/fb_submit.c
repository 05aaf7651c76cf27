/* fb_submit.c — the node's submit ROUTER: takes publishes and PublishBatch frames, stamps them, queues them.
 *
 * The envelope is not decoded here: its top-level fields are scanned, and
 * what only the node may set (origin, origin_seq) and what the submitter
 * left out (message_id, created_at_us, schema_version) are appended as
 * fields (protobuf merges them: the last occurrence wins). The broker checks
 * every publish, and its reject, which names the message, comes back to the
 * submitter. */
#include "fb_submit.h"

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

/* A PublishBatch frame may be this large whatever the node's max-frame
 * (each of its envelopes is still held to max-frame): clients batch up to
 * 1 MiB (lib/fb_publisher.c) and cannot know a smaller max-frame. */
#define S_BATCH_FRAME_MAX (1024 * 1024 + 4096)

struct fb_submit {
    void *sock;
    fb_outbox_t *outbox;    /* borrowed */
    fb_chain_t *chain;      /* borrowed; NULL: the node does not sign */
    fb_node_stats_t *stats; /* borrowed */
    char member[sizeof(((fb_node_config_t *)0)->member)];
    size_t member_len;
    long long cfg_max_frame; /* ours: the largest frame a submitter may send */
    /* While a frame is taken: its submitter, and the broker's max-frame. */
    const uint8_t *who;
    size_t who_len;
    long long max_frame;
};

void fb_submit_set_chain(fb_submit_t *self, fb_chain_t *chain)
{
    self->chain = chain;
}

int fb_submit_reply(fb_submit_t *self, const uint8_t *who, size_t who_len, const void *data, size_t len)
{
    if (zmq_send(self->sock, who, who_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) return -1;
    return zmq_send(self->sock, data, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/* Answers the submitter of the frame being taken with a reject naming id
 * (FB_UUID_LEN bytes; NULL: no message). */
static void s_reject(fb_submit_t *self, const uint8_t *id, int reason, const char *detail)
{
    fb_ack_view_t a = {.message_id = id, .message_id_len = id ? FB_UUID_LEN : 0,
                       .status = FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED, .reason = reason,
                       .detail = detail, .detail_len = strlen(detail)};
    size_t len;
    uint8_t *frame = fb_wire_ack_frame(&a, &len);
    if (!frame) return;
    self->stats->rejected++;
    /* Who sent it: the client's connection (its ZeroMQ routing id) and the message. */
    char conn[2 * 8 + 1] = "", uuid[37] = "";
    for (size_t i = 0; i < self->who_len && i < 8; i++) snprintf(conn + 2 * i, 3, "%02x", self->who[i]);
    if (id) fb_uuid_format(id, uuid);
    fb_info("reject %s: %s (client %s%s%s)", fb_reject_name(reason), detail, conn, id ? ", message_id " : "", uuid);
    if (fb_submit_reply(self, self->who, self->who_len, frame, len) != 0) self->stats->client_acks_dropped++;
    free(frame);
}

/* The checks a node makes of a submitted envelope before it stamps it:
 * returns 0, or -1 after answering with a reject. */
static int s_check(fb_submit_t *self, const fb_envelope_head_t *h, const uint8_t *named)
{
    if (h->message_id_len && !named) {
        s_reject(self, NULL, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD, "message_id must be 16 bytes");
        return -1;
    }
    if (named && !fb_uuid_is_v7(named)) {
        s_reject(self, named, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                 "message_id must be a UUIDv7 (version 7, RFC 9562 variant: xxxxxxxx-xxxx-7xxx-[89ab]xxx-...)");
        return -1;
    }
    if (h->origin_len &&
        (h->origin_len != self->member_len || memcmp(h->origin, self->member, self->member_len) != 0)) {
        s_reject(self, named, FEDBUS__REJECT_REASON__REJECT_NAMESPACE,
                 "origin differs from this node's member id");
        return -1;
    }
    if (h->prev_hash_count) {
        s_reject(self, named, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD, "prev_hash is set by the node");
        return -1;
    }
    if (h->global_seq || h->stored_at_us) {
        s_reject(self, named, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                 "global_seq and stored_at_us are assigned by the broker");
        return -1;
    }
    return 0;
}

/* Answers the submitter of the frame being taken that the outbox is full
 * (REJECT_OUTBOX_FULL, transient), naming id (NULL: none) and the bound
 * reached: outbox-max or outbox-max-bytes. */
static void s_reject_full(fb_submit_t *self, const uint8_t *id)
{
    char detail[200];
    int full = fb_outbox_full(self->outbox);
    snprintf(detail, sizeof(detail),
             FB_NODE_FULL_DETAIL "%s reached (%zu publishes, %zu bytes held; the broker has not confirmed them "
             "yet); retry later",
             full == FB_OUTBOX_FULL_BYTES ? "outbox-max-bytes" : "outbox-max", fb_outbox_depth(self->outbox),
             fb_outbox_bytes(self->outbox));
    s_reject(self, id, FEDBUS__REJECT_REASON__REJECT_OUTBOX_FULL, detail);
}

/* Takes the submitter's envelope bytes (scanned into *hp by
 * fb_wire_envelope_scan(), which returned scan_rc) as this node's next
 * publish, and queues the frame; it is sent at the end of the loop's turn, with whatever
 * else came. A message_id already in the outbox is a client's retry: the
 * newest asker gets the answer. */
static void s_accept_scanned(fb_submit_t *self, const uint8_t *env, size_t env_len, int batched,
                             const fb_envelope_head_t *hp, int scan_rc)
{
    if (scan_rc != 0) {
        s_reject(self, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                 "envelope is not a decodable protobuf message");
        return;
    }
    const fb_envelope_head_t h = *hp;
    const uint8_t *named = h.message_id_len == FB_UUID_LEN ? h.message_id : NULL;
    if (s_check(self, &h, named) != 0) return;
    fb_outbox_entry_t *e = named ? fb_outbox_find(self->outbox, named) : NULL;
    if (e) {
        fb_outbox_set_submitter(e, self->who, self->who_len, batched);
        return;
    }
    if (fb_outbox_full(self->outbox)) {
        s_reject_full(self, named);
        return;
    }
    uint8_t id[FB_UUID_LEN];
    /* The id is dated now, whatever created_at_us says: the broker files a
     * message under its id's time and refuses ids dated before its
     * retention horizon, and an agency may well publish old news. */
    int64_t now = named && h.created_at_us ? 0 : fb_time_now_us(); /* the clock only when it is used */
    int64_t created = h.created_at_us ? h.created_at_us : now;
    if (named) memcpy(id, named, FB_UUID_LEN);
    else if (fb_uuid_v7(now, id) != 0) {
        s_reject(self, NULL, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE, "no randomness for a message_id");
        return;
    }
    uint64_t seq = fb_outbox_next_seq(self->outbox);
    fb_wire_origin_stamp_t stamp = {
        .origin = h.origin_len ? NULL : self->member,
        .origin_len = self->member_len,
        .message_id = named ? NULL : id,
        .created_at_us = h.created_at_us ? 0 : created,
        .schema_version = h.schema_version ? 0 : FEDBUS_SCHEMA_VERSION,
        .origin_seq = seq,
    };
    if (self->chain) fb_chain_stamp(self->chain, &stamp);
    uint8_t tail[FB_ORIGIN_STAMP_MAX + sizeof(self->member)];
    size_t tail_len = fb_wire_stamp_origin(&stamp, tail), flen;
    uint8_t *frame = fb_wire_publish_wrap(env, env_len, tail, tail_len, &flen);
    if (!frame) {
        s_reject(self, id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE, "out of memory");
        return;
    }
    if ((long long)flen > self->max_frame) {
        free(frame);
        char detail[96];
        snprintf(detail, sizeof(detail), "message of %zu bytes exceeds max-frame %lld", flen, self->max_frame);
        s_reject(self, id, FEDBUS__REJECT_REASON__REJECT_FRAME_TOO_LARGE, detail);
        return;
    }
    fb_outbox_add_t add = {.id = id, .origin_seq = seq, .created_at_us = created, .frame = frame,
                           .frame_len = flen, .who = self->who, .who_len = self->who_len,
                           .batched = batched};
    int rc = fb_outbox_append(self->outbox, &add);
    if (rc != FB_OK) {
        free(frame);
        if (rc == FB_EFULL) s_reject_full(self, id);
        else
            s_reject(self, id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                     rc == FB_EIO ? "node journal cannot be written: retry later" : "out of memory");
        return;
    }
    /* The head moves to what was just appended; should hashing fail, the
     * next Welcome's re-link mends the link. */
    if (self->chain) fb_chain_appended(self->chain, fb_outbox_newest(self->outbox));
    self->stats->submitted++;
}

static void s_accept(fb_submit_t *self, const uint8_t *env, size_t env_len, int batched)
{
    fb_envelope_head_t h;
    int rc = fb_wire_envelope_scan(env, env_len, &h);
    s_accept_scanned(self, env, env_len, batched, &h, rc);
}

/* Scans the envelope of a batch (its head: *h; returns what
 * fb_wire_envelope_scan() does) and asks for its message_id's index slot
 * ahead of s_accept_scanned(). */
static int s_scan_ahead(fb_submit_t *self, const uint8_t *env, size_t env_len, fb_envelope_head_t *h)
{
    int rc = fb_wire_envelope_scan(env, env_len, h);
    if (rc == 0 && h->message_id_len == FB_UUID_LEN) fb_outbox_prefetch_id(self->outbox, h->message_id);
    return rc;
}

/* Takes the envelopes of a submitted PublishBatch, in order, each as
 * s_accept() takes one; their acks go back in AckBatch frames. A frame that
 * is not a well-formed batch of 1 to FB_BATCH_MAX is refused whole, with one
 * ack naming no message. */
static void s_accept_batch(fb_submit_t *self, const uint8_t *items, size_t items_len)
{
    const uint8_t *p = items, *end = items + items_len, *env;
    size_t env_len, n = 0;
    int rc;
    while ((rc = fb_wire_next_item(&p, end, &env, &env_len)) == 1) n++;
    if (rc < 0 || n == 0 || n > FB_BATCH_MAX) {
        s_reject(self, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                 rc < 0 ? "PublishBatch is not well-formed protobuf" : "a PublishBatch holds 1 to 1024 envelopes");
        return;
    }
    /* Each envelope is scanned one ahead, so that the look-up of its
     * message_id (a cache miss, per publish) is under way while the one
     * before is taken. */
    p = items;
    fb_wire_next_item(&p, end, &env, &env_len); /* n >= 1 */
    fb_envelope_head_t h, next_h = {0};
    int scan = s_scan_ahead(self, env, env_len, &h);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *next = NULL;
        size_t next_len = 0;
        int next_scan = 0;
        if (i + 1 < n) {
            fb_wire_next_item(&p, end, &next, &next_len);
            next_scan = s_scan_ahead(self, next, next_len, &next_h);
        }
        s_accept_scanned(self, env, env_len, 1, &h, scan);
        env = next;
        env_len = next_len;
        h = next_h;
        scan = next_scan;
    }
}

/* Takes a frame that is neither a plain publish nor a plain batch: decodes
 * it to say what it is. */
static void s_accept_other(fb_submit_t *self, const uint8_t *frame, size_t len)
{
    Fedbus__NodeMessage *nm = fedbus__node_message__unpack(NULL, len, frame);
    if (nm && nm->body_case == FEDBUS__NODE_MESSAGE__BODY_PUBLISH)
        s_accept(self, nm->publish->envelope.data, nm->publish->envelope.len, 0);
    else
        s_reject(self, NULL,
                 nm ? FEDBUS__REJECT_REASON__REJECT_UNKNOWN_REQUEST : FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                 nm ? "the submit socket takes publishes only" : "frame is not a decodable NodeMessage");
    if (nm) fedbus__node_message__free_unpacked(nm, NULL);
}

/* One message from a submitter: its routing id and its body. */
typedef struct {
    zmq_msg_t ident, body;
    int whole;      /* both parts came (else nothing to answer) */
    int scanned;    /* a plain publish whose envelope was scanned ahead: h, scan */
    fb_envelope_head_t h;
    int scan;
} s_rx_t;

/* Receives the next message, without waiting: 0, or -1 when none was
 * waiting (rx then holds nothing to close). A body of several frames is
 * drained at once, so that the next receive starts at the next message. */
static int s_recv(fb_submit_t *self, s_rx_t *rx)
{
    zmq_msg_init(&rx->ident);
    zmq_msg_init(&rx->body);
    rx->whole = rx->scanned = 0;
    if (zmq_msg_recv(&rx->ident, self->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&rx->body);
        zmq_msg_close(&rx->ident);
        return -1;
    }
    if (!zmq_msg_more(&rx->ident) || zmq_msg_recv(&rx->body, self->sock, 0) < 0) return 0;
    rx->whole = 1;
    if (zmq_msg_more(&rx->body)) fb_zmq_drain(self->sock);
    return 0;
}

static void s_rx_close(s_rx_t *rx)
{
    zmq_msg_close(&rx->body);
    zmq_msg_close(&rx->ident);
}

/* Scans rx's envelope ahead when rx is a plain publish s_take() will
 * accept, and asks for its message_id's index slot meanwhile. */
static void s_scan_rx(fb_submit_t *self, s_rx_t *rx)
{
    const uint8_t *env;
    size_t len = zmq_msg_size(&rx->body), env_len;
    if (!rx->whole || zmq_msg_more(&rx->body) || (long long)len > self->cfg_max_frame ||
        fb_wire_publish_view(zmq_msg_data(&rx->body), len, &env, &env_len) != 0)
        return;
    rx->scan = s_scan_ahead(self, env, env_len, &rx->h);
    rx->scanned = 1;
}

/* Takes the message rx: accepts its publishes, or answers with a reject. */
static void s_take(fb_submit_t *self, s_rx_t *rx, long long max_frame)
{
    if (!rx->whole) return;
    self->who = zmq_msg_data(&rx->ident);
    self->who_len = zmq_msg_size(&rx->ident);
    self->max_frame = max_frame;
    const uint8_t *frame = zmq_msg_data(&rx->body), *env, *items;
    size_t len = zmq_msg_size(&rx->body), env_len, items_len;
    if (zmq_msg_more(&rx->body)) { /* the rest was drained by s_recv() */
        s_reject(self, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED, "a publish is one frame; got several");
    } else if ((long long)len > self->cfg_max_frame &&
               ((long long)len > S_BATCH_FRAME_MAX ||
                fb_wire_publish_batch_view(frame, len, &items, &items_len) != 0)) {
        /* a batch frame (whose envelopes s_accept() holds to max-frame) may be larger */
        s_reject(self, NULL, FEDBUS__REJECT_REASON__REJECT_FRAME_TOO_LARGE, "frame exceeds max-frame");
    } else if (fb_wire_publish_view(frame, len, &env, &env_len) == 0) {
        if (rx->scanned) s_accept_scanned(self, env, env_len, 0, &rx->h, rx->scan);
        else s_accept(self, env, env_len, 0);
    } else if (fb_wire_publish_batch_view(frame, len, &items, &items_len) == 0) {
        s_accept_batch(self, items, items_len);
    } else {
        s_accept_other(self, frame, len);
    }
    self->who = NULL;
    self->who_len = 0;
}

int fb_submit_take_many(fb_submit_t *self, long long max_frame, int max)
{
    s_rx_t rx[2];
    int cur = 0, n = 0;
    if (max <= 0 || s_recv(self, &rx[0]) != 0) return 0;
    for (;;) {
        /* The next message is received, and its envelope scanned, before
         * this one is taken: the look-up of its message_id (a cache miss,
         * per publish) is under way meanwhile. Nothing received is left
         * over when this returns. */
        int more = ++n < max && s_recv(self, &rx[!cur]) == 0;
        if (more) s_scan_rx(self, &rx[!cur]);
        s_take(self, &rx[cur], max_frame);
        s_rx_close(&rx[cur]);
        if (!more) return n;
        cur = !cur;
    }
}

int fb_submit_take(fb_submit_t *self, long long max_frame)
{
    return fb_submit_take_many(self, max_frame, 1) == 1 ? 0 : -1;
}

void *fb_submit_socket(const fb_submit_t *self)
{
    return self->sock;
}

fb_submit_t *fb_submit_new(const fb_node_config_t *cfg, fb_outbox_t *outbox, fb_node_stats_t *stats)
{
    fb_submit_t *self = calloc(1, sizeof(*self));
    if (!self) {
        fb_err("out of memory");
        return NULL;
    }
    self->outbox = outbox;
    self->stats = stats;
    snprintf(self->member, sizeof(self->member), "%s", cfg->member);
    self->member_len = strlen(self->member);
    self->cfg_max_frame = cfg->max_frame;
    self->max_frame = cfg->max_frame;
    self->sock = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_ROUTER, .endpoint = cfg->submit, .bind = 1,
                                              .max_msg = cfg->max_frame * 2 + 4096 > S_BATCH_FRAME_MAX
                                                             ? cfg->max_frame * 2 + 4096
                                                             : S_BATCH_FRAME_MAX,
                                              .sndhwm = 100000, .rcvhwm = 100000});
    if (!self->sock) {
        fb_err("cannot bind submit %s: %s", cfg->submit, zmq_strerror(errno));
        goto error;
    }
    if (fb_zmq_attach(self->sock, FB_NODE_INPROC, 1) != 0) {
        fb_err("cannot bind %s: %s", FB_NODE_INPROC, zmq_strerror(errno));
        goto error;
    }
    return self;
error:
    fb_submit_destroy(&self);
    return NULL;
}

void fb_submit_destroy(fb_submit_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_submit_t *self = *self_p;
    if (self->sock) zmq_close(self->sock);
    free(self);
    *self_p = NULL;
}
