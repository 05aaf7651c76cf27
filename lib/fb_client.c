/* fb_client.c — publisher, subscriber (with catch-up from history) and replay. */
#include "fedbus/fedbus.h"

#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_map.h"
#include "fb_json.h"
#include "fb_time.h"
#include "fb_zmq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- acks ------ */

static void s_ack_fill(fb_ack_t *ack, const Fedbus__Ack *a)
{
    memset(ack, 0, sizeof(*ack));
    ack->status = (fb_ack_status_t)a->status;
    ack->global_seq = a->global_seq;
    ack->origin_seq = a->origin_seq;
    ack->reason = a->reason;
    snprintf(ack->reason_name, sizeof(ack->reason_name), "%s",
             a->reason ? fb_reject_name(a->reason) : "");
    snprintf(ack->detail, sizeof(ack->detail), "%s", a->detail ? a->detail : "");
    if (a->message_id.len == FB_UUID_LEN) fb_uuid_format(a->message_id.data, ack->message_id);
}

/* ------------------------------------------------------------ publisher -- */

struct fb_publisher {
    void *sock;
};

fb_publisher_t *fb_publisher_new(const char *endpoint)
{
    fb_publisher_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->sock = fb_zmq_socket(ZMQ_DEALER, endpoint, 0, 1000, 0, 0);
    if (!self->sock) {
        free(self);
        return NULL;
    }
    return self;
}

void fb_publisher_destroy(fb_publisher_t **self_p)
{
    if (!self_p || !*self_p) return;
    zmq_close((*self_p)->sock);
    free(*self_p);
    *self_p = NULL;
}

/* Waits for the ack of message id (NULL: the first ack that comes). */
static int s_wait_ack(fb_publisher_t *self, const uint8_t *id, fb_ack_t *ack, int timeout_ms)
{
    int64_t deadline = fb_time_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        int64_t left = (deadline - fb_time_mono_us()) / 1000;
        if (left < 0) left = 0;
        zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, timeout_ms < 0 ? -1 : (long)left);
        if (rc < 0) return errno == EINTR ? FB_EINTR : FB_EIO;
        if (rc == 0) return FB_ETIMEOUT;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, self->sock, 0) < 0) {
            zmq_msg_close(&m);
            return FB_EIO;
        }
        fb_zmq_drain(self->sock);
        Fedbus__BrokerMessage *bm =
            fedbus__broker_message__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (!bm) return FB_EPROTO;
        if (bm->body_case != FEDBUS__BROKER_MESSAGE__BODY_ACK) {
            fedbus__broker_message__free_unpacked(bm, NULL);
            continue;
        }
        const Fedbus__Ack *a = bm->ack;
        int mine = !id || a->message_id.len == 0 ||
                   (a->message_id.len == FB_UUID_LEN && memcmp(a->message_id.data, id, FB_UUID_LEN) == 0);
        if (mine) s_ack_fill(ack, a);
        fedbus__broker_message__free_unpacked(bm, NULL);
        if (!mine) continue; /* a late ack of an earlier, timed-out publish */
        return ack->status == FB_ACK_ACCEPTED || ack->status == FB_ACK_DUPLICATE ? FB_OK
                                                                                 : FB_EREJECTED;
    }
}

int fb_publisher_send_raw(fb_publisher_t *self, const void *frame, size_t len, fb_ack_t *ack,
                          int timeout_ms)
{
    memset(ack, 0, sizeof(*ack));
    if (zmq_send(self->sock, frame, len, 0) < 0) return FB_EIO;
    return s_wait_ack(self, NULL, ack, timeout_ms);
}

/* Parses json into a packed envelope (caller frees *out), giving it a
 * UUIDv7 message_id (the publisher picks the id, so that a resend after a
 * timeout is the same message), the schema version and the time when it
 * has none; the
 * id goes to id and ack->message_id when it is 16 bytes (*id_ok). On
 * failure fills ack->detail and returns FB_EINVAL or FB_ENOMEM. */
static int s_pack_json(const char *json, size_t len, fb_ack_t *ack, uint8_t id[FB_UUID_LEN], int *id_ok,
                       uint8_t **out, size_t *out_len)
{
    json_error_t jerr;
    ProtobufCMessage *pm = NULL;
    int rc = FB_EINVAL;
    memset(ack, 0, sizeof(*ack));
    if (!json) {
        snprintf(ack->detail, sizeof(ack->detail), "no message");
        return FB_EINVAL;
    }
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(ack->detail, sizeof(ack->detail), "JSON line %d: %s", jerr.line, jerr.text);
        return FB_EINVAL;
    }
    if (fb_json_to_message(root, &fedbus__envelope__descriptor, &pm, ack->detail, sizeof(ack->detail)) != 0)
        goto done;
    Fedbus__Envelope *env = (Fedbus__Envelope *)pm;
    rc = FB_ENOMEM;
    if (env->message_id.len == 0) {
        env->message_id.data = malloc(FB_UUID_LEN);
        if (!env->message_id.data || fb_uuid_v7(fb_time_now_us(), env->message_id.data) != 0) goto done;
        env->message_id.len = FB_UUID_LEN;
    }
    if (env->schema_version == 0) env->schema_version = FEDBUS_SCHEMA_VERSION;
    if (env->created_at_us == 0) env->created_at_us = fb_time_now_us();
    *out_len = fedbus__envelope__get_packed_size(env);
    if (!(*out = malloc(*out_len ? *out_len : 1))) goto done;
    fedbus__envelope__pack(env, *out);
    /* An id of another length is the node's to refuse, which it does. */
    *id_ok = env->message_id.len == FB_UUID_LEN;
    if (*id_ok) {
        memcpy(id, env->message_id.data, FB_UUID_LEN);
        fb_uuid_format(id, ack->message_id);
    }
    rc = FB_OK;
done:
    if (pm) protobuf_c_message_free_unpacked(pm, NULL);
    json_decref(root);
    return rc;
}

int fb_publisher_send_json(fb_publisher_t *self, const char *json, size_t len, fb_ack_t *ack,
                           int timeout_ms)
{
    uint8_t id[FB_UUID_LEN], *env = NULL, *frame = NULL;
    size_t env_len, flen;
    int id_ok = 0;
    int rc = s_pack_json(json, len, ack, id, &id_ok, &env, &env_len);
    if (rc != FB_OK) return rc;
    if (!(frame = fb_wire_publish_wrap(env, env_len, NULL, 0, &flen))) rc = FB_ENOMEM;
    else if (zmq_send(self->sock, frame, flen, 0) < 0) rc = FB_EIO;
    else rc = s_wait_ack(self, id_ok ? id : NULL, ack, timeout_ms);
    free(frame);
    free(env);
    return rc;
}

/* Frames sent by fb_publisher_send_json_many stay below the default
 * max-frame of nodes and brokers (1 MiB). */
#define S_MANY_FRAME_MAX (1024 * 1024 - 1024)

/* Settles message i of a send_json_many call with ack a. */
static void s_many_settle(const Fedbus__Ack *a, fb_map_t *by_id, fb_ack_t *acks, int *rcs, size_t *left)
{
    uint64_t i;
    if (a->message_id.len != FB_UUID_LEN || !fb_map_get(by_id, a->message_id.data, FB_UUID_LEN, &i) ||
        rcs[i] != FB_ETIMEOUT)
        return; /* not one of ours, or answered already */
    s_ack_fill(&acks[i], a);
    rcs[i] = acks[i].status == FB_ACK_ACCEPTED || acks[i].status == FB_ACK_DUPLICATE ? FB_OK : FB_EREJECTED;
    (*left)--;
}

int fb_publisher_send_json_many(fb_publisher_t *self, const char *const *jsons, const size_t *lens, size_t n,
                                fb_ack_t *acks, int *rcs, int timeout_ms)
{
    uint8_t **envs = calloc(n ? n : 1, sizeof(*envs));
    size_t *env_lens = calloc(n ? n : 1, sizeof(*env_lens));
    uint8_t *frame = NULL;
    fb_map_t *by_id = fb_map_new(n);
    size_t left = 0;
    int rc = FB_OK;
    if (!envs || !env_lens || !by_id) {
        rc = FB_ENOMEM;
        for (size_t i = 0; i < n; i++) rcs[i] = FB_ENOMEM, memset(&acks[i], 0, sizeof(acks[i]));
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t id[FB_UUID_LEN];
        int id_ok = 0;
        rcs[i] = s_pack_json(jsons[i], lens[i], &acks[i], id, &id_ok, &envs[i], &env_lens[i]);
        if (rcs[i] == FB_OK && !id_ok) {
            /* Its answer could not be told from the others'. */
            snprintf(acks[i].detail, sizeof(acks[i].detail), "message_id must be 16 bytes");
            rcs[i] = FB_EINVAL;
        }
        if (rcs[i] == FB_OK && fb_map_put(by_id, id, FB_UUID_LEN, i) != 0) rcs[i] = FB_ENOMEM;
        if (rcs[i] == FB_OK) rcs[i] = FB_ETIMEOUT, left++; /* until its ack comes */
    }
    /* Send, in order, as PublishBatch frames of up to FB_BATCH_MAX. */
    for (size_t i = 0; i < n;) {
        size_t inner = 0, k = 0, j = i;
        for (; j < n && k < FB_BATCH_MAX; j++) {
            if (rcs[j] != FB_ETIMEOUT) continue;
            size_t item = fb_wire_field_size(1, env_lens[j]);
            if (k > 0 && fb_wire_field_size(4, inner + item) > S_MANY_FRAME_MAX) break;
            inner += item;
            k++;
        }
        if (k > 0) {
            size_t flen = fb_wire_field_size(4, inner);
            uint8_t *f = realloc(frame, flen);
            if (!f) {
                rc = FB_ENOMEM;
                break;
            }
            frame = f;
            uint8_t *p = frame + fb_wire_put_header(4, inner, frame); /* NodeMessage.publish_batch */
            for (size_t x = i; x < j; x++)
                if (rcs[x] == FB_ETIMEOUT) p += fb_wire_put_bytes(1, envs[x], env_lens[x], p);
            if (zmq_send(self->sock, frame, flen, 0) < 0) {
                rc = FB_EIO;
                break;
            }
        }
        i = j;
    }
    if (rc != FB_OK) {
        /* What was not sent cannot be answered: say so for every one. */
        for (size_t i = 0; i < n; i++)
            if (rcs[i] == FB_ETIMEOUT) rcs[i] = rc;
        left = 0;
    }
    /* Acks come in AckBatch frames, and as plain acks for what the node
     * refused itself or a resend the broker answered alone. */
    int64_t deadline = fb_time_mono_us() + (int64_t)timeout_ms * 1000;
    while (left > 0) {
        int64_t wait = (deadline - fb_time_mono_us()) / 1000;
        if (timeout_ms >= 0 && wait <= 0) break;
        zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
        int prc = zmq_poll(&item, 1, timeout_ms < 0 ? -1 : (long)wait);
        if (prc < 0 && errno == EINTR) continue;
        if (prc <= 0) break;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, self->sock, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        fb_zmq_drain(self->sock);
        const uint8_t *list, *ack;
        size_t list_len, ack_len;
        if (fb_wire_sole_field(zmq_msg_data(&m), zmq_msg_size(&m), 3, &list, &list_len) == 0) {
            const uint8_t *q = list, *end = list + list_len;
            while (fb_wire_next_bytes(&q, end, 1, &ack, &ack_len) == 1) {
                Fedbus__Ack *a = fedbus__ack__unpack(NULL, ack_len, ack);
                if (!a) break;
                s_many_settle(a, by_id, acks, rcs, &left);
                fedbus__ack__free_unpacked(a, NULL);
            }
        } else {
            Fedbus__BrokerMessage *bm =
                fedbus__broker_message__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
            if (bm && bm->body_case == FEDBUS__BROKER_MESSAGE__BODY_ACK)
                s_many_settle(bm->ack, by_id, acks, rcs, &left);
            if (bm) fedbus__broker_message__free_unpacked(bm, NULL);
        }
        zmq_msg_close(&m);
    }
    for (size_t i = 0; i < n && rc == FB_OK; i++)
        if (rcs[i] != FB_OK) rc = rcs[i];
done:
    if (envs)
        for (size_t i = 0; i < n; i++) free(envs[i]);
    free(envs);
    free(env_lens);
    free(frame);
    fb_map_destroy(&by_id);
    return rc;
}

/* ----------------------------------------------------------- messages ---- */

/* What a delivered message's priv_ points to: its bytes, and their full
 * decode once something asked for the payload. Lives in the arena. */
typedef struct {
    const uint8_t *raw;
    size_t len;
    fb_arena_t *arena;
    Fedbus__Envelope *env;
    int tried;
} s_lazy_t;

static char *s_arena_str(fb_arena_t *arena, const uint8_t *p, size_t n)
{
    char *s = fb_arena_alloc(arena, n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Fills msg from the envelope's top-level fields, read in place; the
 * payload is decoded (into arena) only when fb_message_json(), _title() or
 * _kind() asks for it: a subscriber that routes by topic or counts messages
 * never pays for it. Returns 0, or -1 when raw is not protobuf. raw and
 * arena back msg until the arena is reset. */
static int s_message_fill(fb_arena_t *arena, fb_message_t *msg, const void *raw, size_t len)
{
    fb_envelope_head_t h;
    if (fb_wire_envelope_scan(raw, len, &h) != 0) return -1;
    s_lazy_t *lz = fb_arena_alloc(arena, sizeof(*lz));
    char *topic = s_arena_str(arena, h.topic, h.topic_len);
    char *origin = s_arena_str(arena, h.origin, h.origin_len);
    if (!lz || !topic || !origin) return -1;
    *lz = (s_lazy_t){raw, len, arena, NULL, 0};
    memset(msg, 0, sizeof(*msg));
    msg->topic = topic;
    msg->origin = origin;
    if (h.message_id_len == FB_UUID_LEN) fb_uuid_format(h.message_id, msg->message_id);
    msg->global_seq = h.global_seq;
    msg->origin_seq = h.origin_seq;
    msg->created_at_us = h.created_at_us;
    msg->stored_at_us = h.stored_at_us;
    msg->raw = raw;
    msg->raw_len = len;
    msg->priv_ = lz;
    return 0;
}

/* The message's full decode, made on first use; NULL when it does not decode. */
static const Fedbus__Envelope *s_message_env(const fb_message_t *msg)
{
    s_lazy_t *lz = msg ? msg->priv_ : NULL;
    if (!lz) return NULL;
    if (!lz->tried) {
        lz->tried = 1;
        lz->env = fb_envelope_unpack_in(lz->arena, lz->raw, lz->len);
    }
    return lz->env;
}

char *fb_message_json(const fb_message_t *msg)
{
    const Fedbus__Envelope *env = s_message_env(msg);
    if (!env) return NULL;
    json_t *j = fb_json_from_message(&env->base);
    if (!j) return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

static const char *s_text(const Fedbus__Text *t, const char *lang)
{
    if (!t) return "";
    const char *ko = t->ko ? t->ko : "", *en = t->en ? t->en : "";
    if (lang && strcmp(lang, "en") == 0) return *en ? en : ko;
    return *ko ? ko : en;
}

const char *fb_message_title(const fb_message_t *msg, const char *lang)
{
    const Fedbus__Envelope *env = s_message_env(msg);
    if (!env) return "";
    switch (env->payload_case) {
    case FEDBUS__ENVELOPE__PAYLOAD_EVENT:
        return s_text(env->event->title, lang);
    case FEDBUS__ENVELOPE__PAYLOAD_CFP:
        return s_text(env->cfp->title, lang);
    case FEDBUS__ENVELOPE__PAYLOAD_RESEARCHER:
        return s_text(env->researcher->name, lang);
    default:
        return "";
    }
}

const char *fb_message_kind(const fb_message_t *msg)
{
    const Fedbus__Envelope *env = s_message_env(msg);
    const char *k = env ? fb_envelope_kind(env) : NULL;
    return k ? k : "";
}

/* -------------------------------------------------------------- replay --- */

typedef struct {
    const char *const *patterns;
    int npatterns;
} s_filter_t;

static int s_filter_match(const s_filter_t *f, const char *topic)
{
    if (f->npatterns == 0) return 1;
    size_t len = strlen(topic);
    for (int i = 0; i < f->npatterns; i++)
        if (fb_pattern_match(f->patterns[i], topic, len)) return 1;
    return 0;
}

/* fb_replay, also telling how many stored messages the broker sent (before
 * the patterns' exact check) and the last one's global_seq. */
static int s_replay(const char *replay_endpoint, const char *const *patterns, int npatterns,
                    uint64_t from_seq, int64_t since_us, uint32_t limit, fb_replay_fn fn, void *arg,
                    int timeout_ms, uint32_t *scanned, uint64_t *scanned_last)
{
    char (*prefixes)[FB_TOPIC_MAX + 1] = NULL;
    char **prefix_ptrs = NULL;
    int nprefix = 0, rc = FB_OK;
    void *sock = NULL;
    uint8_t *buf = NULL;
    fb_arena_t *arena = NULL; /* the message being handed to fn */
    s_filter_t filter = {patterns, npatterns};

    if (npatterns < 0 || npatterns > 64) return FB_EINVAL;
    if (!(arena = fb_arena_new(16 << 10, 16 << 10))) return FB_ENOMEM;
    prefixes = calloc((size_t)(npatterns ? npatterns : 1) * FB_PATTERN_MAX_PREFIXES, sizeof(*prefixes));
    prefix_ptrs = calloc((size_t)(npatterns ? npatterns : 1) * FB_PATTERN_MAX_PREFIXES, sizeof(char *));
    if (!prefixes || !prefix_ptrs) {
        rc = FB_ENOMEM;
        goto done;
    }
    for (int i = 0; i < npatterns; i++) {
        int n = fb_pattern_prefixes(patterns[i], prefixes + nprefix, FB_PATTERN_MAX_PREFIXES);
        if (n < 0) {
            rc = FB_EINVAL;
            goto done;
        }
        nprefix += n;
    }
    for (int i = 0; i < nprefix; i++) prefix_ptrs[i] = prefixes[i];

    uint64_t request_id;
    fb_random(&request_id, sizeof(request_id));
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    req.request_id = request_id;
    req.from_seq = from_seq;
    req.since_us = since_us;
    req.limit = limit;
    req.n_prefixes = (size_t)nprefix;
    req.prefixes = prefix_ptrs;
    size_t len = fedbus__replay_request__get_packed_size(&req);
    buf = malloc(len ? len : 1);
    if (!buf) {
        rc = FB_ENOMEM;
        goto done;
    }
    fedbus__replay_request__pack(&req, buf);
    sock = fb_zmq_socket(ZMQ_DEALER, replay_endpoint, 0, 0, 0, 0);
    if (!sock || zmq_send(sock, buf, len, 0) < 0) {
        rc = FB_EIO;
        goto done;
    }
    for (int finished = 0; !finished;) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, timeout_ms);
        if (n < 0) {
            rc = errno == EINTR ? FB_EINTR : FB_EIO;
            goto done;
        }
        if (n == 0) {
            rc = FB_ETIMEOUT;
            goto done;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            rc = FB_EIO;
            goto done;
        }
        Fedbus__ReplayChunk *ch = fedbus__replay_chunk__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (!ch) {
            rc = FB_EPROTO;
            goto done;
        }
        if (ch->request_id != request_id) {
            fedbus__replay_chunk__free_unpacked(ch, NULL);
            continue;
        }
        if (ch->error) {
            rc = ch->error == FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE ? FB_ESTORE : FB_EINVAL;
            fedbus__replay_chunk__free_unpacked(ch, NULL);
            goto done;
        }
        for (size_t i = 0; i < ch->n_envelopes && !finished; i++) {
            fb_message_t msg;
            fb_arena_reset(arena);
            if (s_message_fill(arena, &msg, ch->envelopes[i].data, ch->envelopes[i].len) != 0) {
                rc = FB_EPROTO;
                finished = 1;
                break;
            }
            (*scanned)++;
            *scanned_last = msg.global_seq;
            if (s_filter_match(&filter, msg.topic) && fn(&msg, arg) != 0) finished = 1;
        }
        if (ch->done) finished = 1;
        fedbus__replay_chunk__free_unpacked(ch, NULL);
    }
done:
    if (sock) zmq_close(sock);
    free(buf);
    free(prefix_ptrs);
    free(prefixes);
    fb_arena_destroy(&arena);
    return rc;
}

int fb_replay(const char *replay_endpoint, const char *const *patterns, int npatterns,
              uint64_t from_seq, int64_t since_us, uint32_t limit, fb_replay_fn fn, void *arg,
              int timeout_ms)
{
    uint32_t scanned = 0;
    uint64_t last = 0;
    return s_replay(replay_endpoint, patterns, npatterns, from_seq, since_us, limit, fn, arg,
                    timeout_ms, &scanned, &last);
}

/* ---------------------------------------------------------- subscriber --- */

#define S_CATCHUP_PAGE 4096 /* stored messages fetched per catch-up step */

typedef struct {
    uint8_t *data;
    size_t len;
} s_blob_t;

struct fb_subscriber {
    void *sock;
    char *replay_endpoint;
    char **patterns;
    int npatterns;
    int catchup;          /* history still to be fetched */
    uint64_t from_seq;
    uint64_t last_seq;    /* highest global_seq delivered */
    s_blob_t *queue;      /* replayed history waiting for delivery */
    size_t qlen, qcap, qhead;
    uint8_t *held;        /* replayed blob behind the last delivered message */
    fb_arena_t *arena;    /* the last delivered message's fields and decode; reset for each */
    zmq_msg_t frame;
    int frame_live;
    /* Batched feed frames (docs/protocol.md, "Feed"): until the first one
     * comes, the plain prefixes are subscribed too, for a broker that
     * sends no batches; after it, they are unsubscribed (the SUB socket
     * then drops the plain frames still queued, as matching nothing). While
     * bp < bend, frame is a batch not yet delivered whole. */
    int batched;
    char **plain;
    int nplain;
    const uint8_t *bp, *bend;
};

fb_subscriber_t *fb_subscriber_new(const char *feed_endpoint, const char *replay_endpoint)
{
    fb_subscriber_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->sock = fb_zmq_socket(ZMQ_SUB, feed_endpoint, 0, 0, 0, 100000);
    if (!self->sock || !(self->arena = fb_arena_new(64 << 10, 64 << 10))) goto error;
    if (replay_endpoint && !(self->replay_endpoint = strdup(replay_endpoint))) goto error;
    return self;
error:
    fb_subscriber_destroy(&self);
    return NULL;
}

static void s_queue_clear(fb_subscriber_t *self)
{
    for (size_t i = self->qhead; i < self->qlen; i++) free(self->queue[i].data);
    self->qhead = self->qlen = 0;
    free(self->held);
    self->held = NULL;
}

void fb_subscriber_destroy(fb_subscriber_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_subscriber_t *self = *self_p;
    if (self->sock) zmq_close(self->sock);
    for (int i = 0; i < self->npatterns; i++) free(self->patterns[i]);
    free(self->patterns);
    s_queue_clear(self);
    free(self->queue);
    fb_arena_destroy(&self->arena);
    if (self->frame_live) zmq_msg_close(&self->frame);
    for (int i = 0; i < self->nplain; i++) free(self->plain[i]);
    free(self->plain);
    free(self->replay_endpoint);
    free(self);
    *self_p = NULL;
}

int fb_subscriber_add(fb_subscriber_t *self, const char *pattern)
{
    char prefixes[FB_PATTERN_MAX_PREFIXES][FB_TOPIC_MAX + 1];
    int n = fb_pattern_prefixes(pattern, prefixes, FB_PATTERN_MAX_PREFIXES);
    if (n < 0) return FB_EINVAL;
    char **p = realloc(self->patterns, sizeof(char *) * (size_t)(self->npatterns + 1));
    if (!p) return FB_ENOMEM;
    self->patterns = p;
    if (!(p[self->npatterns] = strdup(pattern))) return FB_ENOMEM;
    self->npatterns++;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(prefixes[i]);
        char marked[FB_TOPIC_MAX + 2];
        marked[0] = FB_FEED_MARK;
        memcpy(marked + 1, prefixes[i], len);
        if (zmq_setsockopt(self->sock, ZMQ_SUBSCRIBE, marked, len + 1) != 0) return FB_EIO;
        if (self->batched) continue;
        char **pl = realloc(self->plain, sizeof(char *) * (size_t)(self->nplain + 1));
        if (!pl) return FB_ENOMEM;
        self->plain = pl;
        if (!(pl[self->nplain] = strdup(prefixes[i]))) return FB_ENOMEM;
        self->nplain++;
        if (zmq_setsockopt(self->sock, ZMQ_SUBSCRIBE, prefixes[i], len) != 0) return FB_EIO;
    }
    return FB_OK;
}

/* The broker sends batched frames: from now on only they are read, and the
 * plain subscriptions go (the broker then stops building plain frames for
 * this subscriber). */
static void s_go_batched(fb_subscriber_t *self)
{
    self->batched = 1;
    for (int i = 0; i < self->nplain; i++) {
        zmq_setsockopt(self->sock, ZMQ_UNSUBSCRIBE, self->plain[i], strlen(self->plain[i]));
        free(self->plain[i]);
    }
    free(self->plain);
    self->plain = NULL;
    self->nplain = 0;
}

int fb_subscriber_from(fb_subscriber_t *self, uint64_t from_seq)
{
    if (!self->replay_endpoint) return FB_EINVAL;
    self->catchup = 1;
    self->from_seq = from_seq;
    return FB_OK;
}

static int s_enqueue(const fb_message_t *msg, void *arg)
{
    fb_subscriber_t *self = arg;
    if (self->qlen == self->qcap) {
        size_t cap = self->qcap ? self->qcap * 2 : 256;
        s_blob_t *q = realloc(self->queue, cap * sizeof(*q));
        if (!q) return -1;
        self->queue = q;
        self->qcap = cap;
    }
    s_blob_t *b = &self->queue[self->qlen];
    if (!(b->data = malloc(msg->raw_len))) return -1;
    memcpy(b->data, msg->raw, msg->raw_len);
    b->len = msg->raw_len;
    self->qlen++;
    return 0;
}

/* Closes the frame last received, batch or not. */
static void s_frame_done(fb_subscriber_t *self)
{
    if (self->frame_live) zmq_msg_close(&self->frame);
    self->frame_live = 0;
    self->bp = self->bend = NULL;
}

int fb_subscriber_recv(fb_subscriber_t *self, fb_message_t *msg, int timeout_ms)
{
    fb_arena_reset(self->arena);
    if (!self->bp) s_frame_done(self);
    free(self->held);
    self->held = NULL;
    /* Catch-up goes page by page, so history of any length takes bounded
     * memory; live messages wait in the SUB queue meanwhile. */
    while (self->catchup && self->qhead == self->qlen) {
        uint32_t scanned = 0;
        uint64_t last = 0;
        int rc = s_replay(self->replay_endpoint, (const char *const *)self->patterns, self->npatterns,
                          self->from_seq, 0, S_CATCHUP_PAGE, s_enqueue, self, 10000, &scanned, &last);
        if (rc != FB_OK) return rc;
        if (scanned < S_CATCHUP_PAGE) self->catchup = 0;
        else self->from_seq = last + 1;
    }
    if (self->qhead < self->qlen) {
        s_blob_t *b = &self->queue[self->qhead++];
        /* The blob backs msg->raw until the next call frees it. */
        self->held = b->data;
        if (self->qhead == self->qlen) self->qhead = self->qlen = 0;
        if (s_message_fill(self->arena, msg, b->data, b->len) != 0) return FB_EPROTO;
        if (msg->global_seq > self->last_seq) self->last_seq = msg->global_seq;
        return FB_OK;
    }
    int64_t deadline = fb_time_mono_us() + (int64_t)timeout_ms * 1000;
    s_filter_t f = {(const char *const *)self->patterns, self->npatterns};
    for (;;) {
        if (self->bp) {
            /* The next envelope of a batched frame. */
            const uint8_t *env;
            size_t env_len;
            int rc = fb_wire_next_bytes(&self->bp, self->bend, 1, &env, &env_len);
            if (rc != 1) {
                s_frame_done(self);
                if (rc < 0) return FB_EPROTO; /* the rest of the frame is not readable */
                continue;
            }
            if (s_message_fill(self->arena, msg, env, env_len) != 0) return FB_EPROTO;
            if (msg->global_seq <= self->last_seq || !s_filter_match(&f, msg->topic)) {
                fb_arena_reset(self->arena);
                continue;
            }
            self->last_seq = msg->global_seq;
            return FB_OK;
        }
        s_frame_done(self);
        /* What is queued already is taken without a poll; only an empty
         * queue waits. */
        zmq_msg_init(&self->frame);
        self->frame_live = 1;
        if (zmq_msg_recv(&self->frame, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&self->frame);
            self->frame_live = 0;
            if (errno != EAGAIN) return errno == EINTR ? FB_EINTR : FB_EIO;
            long wait = timeout_ms < 0 ? -1 : (long)((deadline - fb_time_mono_us()) / 1000);
            if (timeout_ms >= 0 && wait < 0) wait = 0;
            zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
            int n = zmq_poll(&item, 1, wait);
            if (n < 0) return errno == EINTR ? FB_EINTR : FB_EIO;
            if (n == 0) return FB_ETIMEOUT;
            continue;
        }
        /* One frame: the topic, a NUL, the stored envelope. Anything else
         * is not a fedbus feed message. */
        const uint8_t *data = zmq_msg_data(&self->frame);
        size_t size = zmq_msg_size(&self->frame);
        const uint8_t *nul = zmq_msg_more(&self->frame)
                                 ? NULL
                                 : memchr(data, 0, size < FB_TOPIC_MAX + 2 ? size : FB_TOPIC_MAX + 2);
        if (!nul) {
            if (zmq_msg_more(&self->frame)) fb_zmq_drain(self->sock);
            zmq_msg_close(&self->frame);
            self->frame_live = 0;
            continue;
        }
        if (data[0] == FB_FEED_MARK) {
            /* A batched frame: its envelopes come one per call. What plain
             * frames delivered before it comes again in it, and is skipped
             * by global_seq. */
            if (!self->batched) s_go_batched(self);
            self->bp = nul + 1;
            self->bend = data + size;
            if (self->bp == self->bend) s_frame_done(self);
            continue;
        }
        if (s_message_fill(self->arena, msg, nul + 1, size - (size_t)(nul + 1 - data)) != 0) return FB_EPROTO;
        /* Skip what catch-up already delivered, and what the patterns'
         * prefixes let through but the patterns do not match. */
        if (msg->global_seq <= self->last_seq || !s_filter_match(&f, msg->topic)) {
            fb_arena_reset(self->arena);
            zmq_msg_close(&self->frame);
            self->frame_live = 0;
            continue;
        }
        self->last_seq = msg->global_seq;
        return FB_OK;
    }
}
