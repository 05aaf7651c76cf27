/* fb_ingest.c — ingest: frames read in place into batches, envelopes checked, acks and rejects sent. */
#include "fb_ingest.h"

#include "fb_envelope.h"
#include "fb_health.h"
#include "fb_verify.h"
#include "fb_log.h"
#include "fb_peers.h"
#include "fb_reply.h"
#include "fb_time.h"
#include "fb_zmq.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fb_ingest {
    void *router;
    const fb_broker_config_t *cfg;
    const fb_map_t *heads;
    fb_broker_stats_t *stats;
    fb_peers_t *peers;    /* Hellos, heartbeats, the pace of reject lines */
    fb_verify_t *verify;  /* borrowed: seals and links */
    fb_health_t *health;  /* borrowed: who was heard from, their heartbeats */
    fb_identity_t *identity;
    fb_peer_id_t peer;    /* who sent the frame being read */
    fb_arena_t *scratch;  /* one envelope's decoding, reset after its checks */
    const fb_retention_t *retention; /* the date rules of ids; NULL: none */
    fb_ack_view_t acks[FB_BATCH_MAX]; /* one AckBatch being written */
    size_t ack_sizes[FB_BATCH_MAX];
};

fb_ingest_t *fb_ingest_new(void *router, const fb_broker_config_t *cfg, const fb_map_t *heads,
                           fb_broker_stats_t *stats, fb_writer_t *writer, fb_identity_t *identity)
{
    fb_ingest_t *self = calloc(1, sizeof(*self));
    if (!self) {
        zmq_close(router);
        return NULL;
    }
    self->router = router;
    self->cfg = cfg;
    self->heads = heads;
    self->stats = stats;
    self->identity = identity;
    self->peers = fb_peers_new(router, cfg, heads, stats, writer);
    /* One envelope's decoding at a time: a chunk holds a few KiB of
     * envelope; a large one gets a chunk of its own, given back at reset. */
    self->scratch = fb_arena_new(64 << 10, 64 << 10);
    if (!self->peers || !self->scratch) fb_ingest_destroy(&self);
    return self;
}

void fb_ingest_destroy(fb_ingest_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_ingest_t *self = *self_p;
    zmq_close(self->router);
    fb_peers_destroy(&self->peers);
    fb_arena_destroy(&self->scratch);
    free(self);
    *self_p = NULL;
}

void fb_ingest_set_retention(fb_ingest_t *self, const fb_retention_t *retention)
{
    self->retention = retention;
}

void *fb_ingest_socket(fb_ingest_t *self)
{
    return self->router;
}

/* ------------------------------------------------------------- answers -- */

/* Sends Ack *a alone, as BrokerMessage{ack}, to ident; a reply that cannot
 * go is counted and dropped (publishers resend). */
static void s_send_ack(fb_ingest_t *self, const zmq_msg_t *ident, const fb_ack_view_t *a)
{
    size_t ack_len = fb_wire_ack_size(a);
    zmq_msg_t body;
    if (zmq_msg_init_size(&body, fb_wire_ack_frame_size(ack_len)) != 0) {
        self->stats->replies_dropped++;
        return;
    }
    uint8_t *p = zmq_msg_data(&body);
    fb_wire_put_ack(a, p + fb_wire_put_ack_frame_header(ack_len, p));
    if (fb_reply_send(self->router, ident, &body) != 0) {
        fb_debug("reply dropped: %s", zmq_strerror(errno));
        self->stats->replies_dropped++;
    }
}

/* Counts a reject sent to ident (member: the connection's, NULL when not
 * known here; id: the message's, or NULL), and logs it at the pace
 * fb_peers allows. */
static void s_count_reject(fb_ingest_t *self, const zmq_msg_t *ident, const char *member, const uint8_t *id,
                           int reason, const char *detail)
{
    self->stats->rejected++;
    if (reason >= 0 && reason < FB_BROKER_NREASONS) self->stats->by_reason[reason]++;
    fb_peers_log_reject_of(self->peers, ident, member, id, reason, detail);
}

/* Rejects a frame right away (id: its message_id, or NULL); counts it and
 * logs it (paced). */
static void s_reject(fb_ingest_t *self, const zmq_msg_t *ident, const uint8_t *id, int reason,
                     const char *detail)
{
    s_count_reject(self, ident, self->peer.id, id, reason, detail); /* self->peer: the frame being read */
    fb_ack_view_t a = {.message_id = id, .message_id_len = id ? FB_UUID_LEN : 0,
                       .status = FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED, .reason = reason,
                       .detail = detail, .detail_len = strlen(detail)};
    s_send_ack(self, ident, &a);
}

/* Settles what item it gets, counts it, sends it out on the feed when it
 * was stored, and fills its ack (pointing into it) for ident. */
static void s_outcome(fb_ingest_t *self, const fb_batch_t *b, fb_batch_item_t *it, fb_ack_view_t *ack,
                      fb_feed_t *feed, const zmq_msg_t *ident)
{
    fb_batch_settle(b, it);
    memset(ack, 0, sizeof(*ack));
    if (it->has_id) ack->message_id = it->id, ack->message_id_len = FB_UUID_LEN;
    ack->origin_seq = it->origin_seq;
    switch (it->state) {
    case FB_BATCH_NEW:
    case FB_BATCH_COMMITTED:
        self->stats->accepted++;
        fb_feed_send(feed, it);
        ack->status = FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED;
        ack->global_seq = it->global_seq;
        break;
    case FB_BATCH_DUPLICATE:
        self->stats->duplicates++;
        if (it->resent) self->stats->resends++;
        ack->status = FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE;
        ack->global_seq = it->global_seq;
        ack->detail = "stored before";
        ack->detail_len = strlen(ack->detail);
        break;
    default:
        /* The sender: the item's origin, which under keys is its connection's member (checked at Hello). */
        s_count_reject(self, ident, it->origin, it->has_id ? it->id : NULL, it->reason, it->detail);
        ack->status = FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED;
        ack->origin_seq = 0;
        ack->reason = it->reason;
        ack->detail = it->detail;
        ack->detail_len = strlen(it->detail);
        break;
    }
}

/* Sends the AckBatch of the n items from first: one frame to the frame's
 * sender, one Ack per envelope in the order they came. */
static void s_answer_group(fb_ingest_t *self, fb_batch_t *b, size_t first, size_t n, fb_feed_t *feed)
{
    size_t total = 0;
    for (size_t k = 0; k < n; k++) {
        s_outcome(self, b, &b->items[first + k], &self->acks[k], feed, &b->frames[first].ident);
        self->ack_sizes[k] = fb_wire_ack_size(&self->acks[k]);
        total += fb_wire_item_size(self->ack_sizes[k]);
    }
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, fb_wire_ack_batch_size(total)) != 0) {
        self->stats->replies_dropped++;
        return;
    }
    uint8_t *p = zmq_msg_data(&msg);
    p += fb_wire_put_ack_batch_header(total, p);
    for (size_t k = 0; k < n; k++) {
        p += fb_wire_put_item_header(self->ack_sizes[k], p); /* AckBatch.acks */
        p += fb_wire_put_ack(&self->acks[k], p);
    }
    if (fb_reply_send(self->router, &b->frames[first].ident, &msg) != 0) self->stats->replies_dropped++;
}

void fb_ingest_answer(fb_ingest_t *self, fb_batch_t *b, fb_feed_t *feed)
{
    for (size_t i = 0; i < b->nitems;) {
        fb_batch_item_t *it = &b->items[i];
        if (it->in_group) {
            s_answer_group(self, b, i, it->group_n, feed);
            i += it->group_n;
            continue;
        }
        fb_ack_view_t ack;
        s_outcome(self, b, it, &ack, feed, &b->frames[i].ident);
        /* The broker's own messages (fb_health) have no sender to answer. */
        if (zmq_msg_size(&b->frames[i].ident)) s_send_ack(self, &b->frames[i].ident, &ack);
        i++;
    }
}

/* ----------------------------------------------------------- publishes -- */

/* Copies the NUL-terminated s into arena; NULL when out of memory. */
static const char *s_keep(fb_arena_t *arena, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = fb_arena_alloc(arena, n);
    if (p) memcpy(p, s, n);
    return p;
}

/* The envelope against the connection's member: its origin must be the
 * member (the topic's origin segment is the origin: fb_envelope), and its
 * topic within the member's publish patterns. Returns 0 or the reason. */
static int s_check_member(const fb_peer_id_t *peer, const char *origin, const char *topic, char *detail, size_t size)
{
    if (!peer->checked) return 0;
    if (strcmp(origin, peer->id) != 0) {
        snprintf(detail, size, "origin %s is not this connection's member %s", origin, peer->id);
        return FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED;
    }
    if (!fb_member_may_publish(peer->member, topic, strlen(topic))) {
        if (!peer->member->npublish) snprintf(detail, size, "member %s may publish nothing (no publish patterns)", peer->id);
        else snprintf(detail, size, "topic %s is outside %s's publish patterns", topic, peer->id);
        return FEDBUS__REJECT_REASON__REJECT_NAMESPACE;
    }
    return 0;
}

/* The few fields a batch keeps of an envelope that passed fb_envelope's
 * checks (so origin and topic fit: a segment, a topic). */
typedef struct {
    char origin[FB_SEGMENT_MAX + 1];
    char topic[FB_TOPIC_MAX + 1];
    uint64_t origin_seq;
    int64_t created_at_us;
    int hashed;  /* it->hash set, as fb_wire_content_hash() does, when hash_rc is 0 */
    int hash_rc;
} s_fields_t;

static void s_copy_str(char *dst, size_t size, const void *src, size_t len)
{
    if (len >= size) len = size - 1; /* not for checked input */
    if (len) memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Reads and checks the envelope of it as fb_envelope_decode_in() does:
 * envelopes with an Event payload that pass in one pass over the bytes;
 * the rest (other payloads, anything refused or unusual) through the
 * decoder, whose verdict stands. Returns 0 with *f filled, or -1 with *v
 * set; either way it->id is set (it->has_id) when the envelope named one. */
static int s_read_envelope(const fb_ingest_t *self, fb_batch_item_t *it, s_fields_t *f, fb_verdict_t *v)
{
    fb_envelope_event_view_t w;
    if (fb_wire_envelope_event_view(it->env_data, it->env_len, &w) && fb_envelope_view_ok(&w)) {
        memcpy(it->id, w.head.message_id, FB_UUID_LEN);
        it->has_id = 1;
        s_copy_str(f->origin, sizeof(f->origin), w.head.origin, w.head.origin_len);
        s_copy_str(f->topic, sizeof(f->topic), w.head.topic, w.head.topic_len);
        f->origin_seq = w.head.origin_seq;
        f->created_at_us = w.head.created_at_us;
        f->hashed = 1;
        f->hash_rc = fb_wire_envelope_event_view_hash(&w, it->hash);
        it->link_read = 1; /* the verifier need not scan again */
        it->prev_hash_count = w.head.prev_hash_count;
        it->prev_hash = w.head.prev_hash;
        it->prev_hash_len = w.head.prev_hash_len;
        return 0;
    }
    f->hashed = 0;
    Fedbus__Envelope *bad = NULL;
    Fedbus__Envelope *env = fb_envelope_decode_in(self->scratch, it->env_data, it->env_len, v, &bad);
    /* A refused envelope that decoded names its message_id, so that a
     * publisher with many publishes in flight knows which was refused. */
    const Fedbus__Envelope *named = env ? env : bad;
    if (named && named->message_id.len == FB_UUID_LEN) {
        memcpy(it->id, named->message_id.data, FB_UUID_LEN);
        it->has_id = 1;
    }
    if (env) {
        s_copy_str(f->origin, sizeof(f->origin), env->origin, strlen(env->origin));
        s_copy_str(f->topic, sizeof(f->topic), env->topic, strlen(env->topic));
        f->origin_seq = env->origin_seq;
        f->created_at_us = env->created_at_us;
    }
    fb_arena_reset(self->scratch);
    return env ? 0 : -1;
}

/* Checks the envelope at it->env_data. Returns 0 when it may be stored
 * (it->origin, topic, origin_seq, created_at_us, id and hash set; the
 * strings copied into arena), else the reject reason with a line of text
 * in detail and, when the envelope named one, its message_id in it->id
 * (it->has_id). A batch keeps only these few fields of each envelope, not
 * its decoded copy: under load that copy was as large as the envelope (16
 * KiB envelopes: a 16 MiB batch held 16 MiB more) and went cold before the
 * writer used what it needed of it. */
static int s_check_publish(const fb_ingest_t *self, fb_arena_t *arena, fb_batch_item_t *it, char *detail,
                           size_t size)
{
    const fb_peer_id_t *peer = &self->peer;
    fb_verdict_t v;
    s_fields_t f;
    int reason = 0;
    int decoded = s_read_envelope(self, it, &f, &v) == 0;
    /* A member that may not go on is told so before anything else. */
    if (peer->checked && peer->admit != FB_ADMIT_OK) {
        fb_identity_why(peer, detail, size);
        return FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED;
    }
    if (!decoded) {
        snprintf(detail, size, "%s", v.detail);
        return v.reason;
    }
    if ((reason = s_check_member(peer, f.origin, f.topic, detail, size))) return reason;
    if (f.origin_seq == 0) {
        snprintf(detail, size, "origin_seq is required");
        return FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD;
    }
    /* The id's date decides its partition: not before what retention
     * keeps, not far ahead of what exists. */
    if (self->retention &&
        (reason = fb_retention_check_id(self->retention, it->id, fb_time_now_us(), detail, size)) != 0)
        return reason;
    if ((f.hashed ? f.hash_rc : fb_wire_content_hash(it->env_data, it->env_len, it->hash)) != 0) {
        snprintf(detail, size, "envelope could not be hashed");
        return FEDBUS__REJECT_REASON__REJECT_MALFORMED;
    }
    if (!(it->origin = s_keep(arena, f.origin)) || !(it->topic = s_keep(arena, f.topic))) {
        snprintf(detail, size, "out of memory");
        return FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE;
    }
    it->origin_seq = f.origin_seq;
    it->created_at_us = f.created_at_us;
    return 0;
}

/* Checks the seal of a batch frame whose n items start at first (list as
 * read), keeping the proof for the writer; refusals go with the frame's
 * AckBatch like any other. */
static void s_verify_group(fb_ingest_t *self, fb_batch_t *b, fb_batch_item_t *first, size_t n, const uint8_t *list,
                           size_t list_len)
{
    if (!self->verify) return;
    fb_seal_t seal;
    int rc = fb_wire_batch_seal(list, list_len, &seal);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            if (first[i].state != FB_BATCH_REJECTED)
                fb_batch_reject(&first[i], FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                                "the frame's seal is not a well-formed Seal (or there are two)");
        return;
    }
    const fb_verify_proof_t *p = fb_verify_group(self->verify, b->arena, first, n, rc ? &seal : NULL, fb_time_now_us());
    if (p) b->proofs[b->nproofs++] = p;
}

/* Queues the envelopes of a PublishBatch frame (held by first, whose list
 * of envelopes is list) as consecutive items, answered together. An envelope
 * refused here keeps its place, already rejected; a frame that is not a
 * well-formed batch is refused whole. */
static void s_read_batch(fb_ingest_t *self, fb_batch_t *b, fb_batch_item_t *first, const uint8_t *list,
                         size_t list_len)
{
    const uint8_t *p = list, *end = list + list_len, *env;
    size_t env_len, n = 0;
    int rc;
    while ((rc = fb_wire_next_item(&p, end, &env, &env_len)) == 1) n++;
    if (rc < 0 || n == 0 || n > FB_BATCH_MAX) {
        char detail[96];
        if (rc < 0) snprintf(detail, sizeof(detail), "PublishBatch is not well-formed protobuf");
        else snprintf(detail, sizeof(detail), "a PublishBatch holds 1 to %d envelopes; got %zu", FB_BATCH_MAX, n);
        s_reject(self, &b->frames[b->nitems].ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED, detail);
        fb_batch_drop(b, first);
        if (b->nitems == 0) fb_arena_reset(b->arena);
        return;
    }
    p = list;
    first->group_n = n;
    for (size_t k = 0; k < n; k++) {
        fb_batch_item_t *it = k ? fb_batch_open(b) : first;
        fb_wire_next_item(&p, end, &it->env_data, &it->env_len);
        it->in_group = 1;
        char detail[192];
        int reason = s_check_publish(self, b->arena, it, detail, sizeof(detail));
        if (reason) {
            const char *kept = s_keep(b->arena, detail);
            fb_batch_reject(it, reason, kept ? kept : "refused");
        } else {
            it->state = FB_BATCH_PENDING;
            b->bytes += (long long)it->env_len;
        }
        b->nitems++;
    }
    s_verify_group(self, b, first, n, list, list_len);
}

/* Whether the connection's member may speak for origin (a Hello's, or a
 * heartbeat's when what is NULL). A Hello that may not is answered
 * NOT_AUTHORIZED; a heartbeat is ignored and counted, and logged as paced. */
static int s_claim_ok(fb_ingest_t *self, const zmq_msg_t *ident, const char *what, const char *origin)
{
    const fb_peer_id_t *p = &self->peer;
    char detail[192];
    if (!p->checked) return 1;
    if (p->admit != FB_ADMIT_OK) fb_identity_why(p, detail, sizeof(detail));
    else if (strcmp(origin ? origin : "", p->id) != 0)
        snprintf(detail, sizeof(detail), "%s for %.64s from member %s", what ? what : "heartbeat", origin ? origin : "",
                 p->id);
    else return 1;
    if (what) {
        s_reject(self, ident, NULL, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED, detail);
    } else {
        self->stats->heartbeats_refused++;
        fb_peers_log_reject(self->peers, ident, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED, detail);
    }
    return 0;
}

/* Reads a frame that is not a publish read in place: decodes it, and
 * answers it, or points it at its envelope (copied into the batch's arena)
 * and returns 1 when it is a publish to check. */
static int s_read_other(fb_ingest_t *self, fb_batch_t *b, fb_batch_item_t *it, const zmq_msg_t *ident,
                        const uint8_t *data, size_t len)
{
    Fedbus__NodeMessage *nm = fedbus__node_message__unpack(NULL, len, data);
    int publish = 0;
    if (!nm) {
        s_reject(self, ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED, "frame is not a decodable NodeMessage");
        return 0;
    }
    switch (nm->body_case) {
    case FEDBUS__NODE_MESSAGE__BODY_HELLO:
        if (s_claim_ok(self, ident, "Hello", nm->hello->origin)) {
            fb_peers_hello(self->peers, ident, nm->hello);
            if (self->health) fb_health_seen(self->health, nm->hello->origin);
        }
        break;
    case FEDBUS__NODE_MESSAGE__BODY_HEARTBEAT:
        if (s_claim_ok(self, ident, NULL, nm->heartbeat->origin)) {
            fb_peers_heartbeat(self->peers, nm->heartbeat);
            if (self->health) fb_health_heartbeat(self->health, nm->heartbeat);
        }
        break;
    case FEDBUS__NODE_MESSAGE__BODY_PUBLISH:
        /* A publish with more around it than the in-place reader takes
         * (unknown fields, say): its envelope is kept in the batch. */
        it->env_len = nm->publish->envelope.len;
        it->env_data = it->env_len ? fb_arena_alloc(b->arena, it->env_len) : NULL;
        if (it->env_len && !it->env_data) {
            s_reject(self, ident, NULL, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE, "out of memory");
            break;
        }
        if (it->env_len) memcpy((uint8_t *)it->env_data, nm->publish->envelope.data, it->env_len);
        publish = 1;
        break;
    case FEDBUS__NODE_MESSAGE__BODY_PUBLISH_BATCH:
        /* The in-place reader takes a batch frame that holds the batch
         * alone; one with more around it is refused, not guessed at. */
        s_reject(self, ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                 "a PublishBatch frame holds the batch and nothing else");
        break;
    default:
        s_reject(self, ident, NULL, FEDBUS__REJECT_REASON__REJECT_UNKNOWN_REQUEST, "unknown NodeMessage body");
        break;
    }
    fedbus__node_message__free_unpacked(nm, NULL);
    return publish;
}

/* Refuses a frame the transport or its size rules out; returns 1 when it
 * did. */
static int s_refuse_frame(fb_ingest_t *self, const zmq_msg_t *ident, int more, size_t len)
{
    if (more) {
        s_reject(self, ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED, "a publish is one frame; got several");
        return 1;
    }
    if ((long long)len > self->cfg->max_frame) {
        char detail[96];
        snprintf(detail, sizeof(detail), "frame of %zu bytes exceeds max-frame %lld", len, self->cfg->max_frame);
        s_reject(self, ident, NULL, FEDBUS__REJECT_REASON__REJECT_FRAME_TOO_LARGE, detail);
        return 1;
    }
    return 0;
}

int fb_ingest_read(fb_ingest_t *self, fb_batch_t *b)
{
    fb_batch_item_t *it = fb_batch_open(b);
    fb_batch_frame_t *f = &b->frames[b->nitems];
    if (zmq_msg_recv(&f->ident, self->router, ZMQ_DONTWAIT) < 0) {
        fb_batch_drop(b, it);
        return -1;
    }
    if (!zmq_msg_more(&f->ident) || zmq_msg_recv(&f->body, self->router, 0) < 0) {
        fb_batch_drop(b, it);
        return 0;
    }
    self->stats->frames++;
    fb_identity_of(self->identity, &f->body, &self->peer);
    int more = zmq_msg_more(&f->body);
    if (more) fb_zmq_drain(self->router);
    size_t len = zmq_msg_size(&f->body);
    const uint8_t *data = zmq_msg_data(&f->body), *list;
    size_t list_len;
    if (s_refuse_frame(self, &f->ident, more, len)) goto done;
    /* Publishes, alone or in a batch, are read in place; anything else is
     * decoded. */
    if (fb_wire_publish_view(data, len, &it->env_data, &it->env_len) != 0) {
        if (fb_wire_publish_batch_view(data, len, &list, &list_len) == 0) {
            self->stats->batch_frames++;
            s_read_batch(self, b, it, list, list_len);
            return 0;
        }
        /* A batch with anything beside it is refused, not decoded: protobuf
         * would keep the oneof member that comes last and drop the batch
         * unanswered. */
        if (fb_wire_has_publish_batch(data, len) == 1) {
            s_reject(self, &f->ident, NULL, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                     "a PublishBatch frame holds the batch and nothing else");
            goto done;
        }
        if (!s_read_other(self, b, it, &f->ident, data, len)) goto done;
    }
    char detail[192];
    int reason = s_check_publish(self, b->arena, it, detail, sizeof(detail));
    if (reason) {
        s_reject(self, &f->ident, it->has_id ? it->id : NULL, reason, detail);
        goto done;
    }
    /* A lone publish has no seal: refused when seals are required. */
    it->state = FB_BATCH_PENDING;
    if (self->verify && !fb_verify_group(self->verify, b->arena, it, 1, NULL, 0) &&
        it->state == FB_BATCH_REJECTED) {
        s_reject(self, &f->ident, it->id, it->reason, it->detail);
        goto done;
    }
    it->state = FB_BATCH_PENDING;
    b->bytes += (long long)it->env_len;
    b->nitems++;
    return 0;
done:
    fb_batch_drop(b, it);
    if (b->nitems == 0) fb_arena_reset(b->arena);
    return 0;
}

void fb_ingest_set_verify(fb_ingest_t *self, fb_verify_t *verify)
{
    self->verify = verify;
    fb_peers_set_verify(self->peers, verify);
}

void fb_ingest_set_health(fb_ingest_t *self, fb_health_t *health)
{
    self->health = health;
}

void fb_ingest_tick(fb_ingest_t *self)
{
    fb_peers_tick(self->peers);
}
