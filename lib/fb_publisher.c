/* fb_publisher.c — publishing JSON messages to a node or broker and waiting for their acks.
 *
 * One DEALER per publisher. A message goes as NodeMessage{publish}, many go
 * as NodeMessage{publish_batch} frames; answers come as BrokerMessage{ack}
 * and BrokerMessage{ack_batch}, whose acks are read in place (fb_wire). */
#include "fb_client_int.h"
#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_json.h"
#include "fb_map.h"
#include "fb_time.h"
#include "fb_zmq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct fb_publisher {
    void *sock;
};

fb_publisher_t *fb_publisher_open(const fb_endpoint_opts_t *opts)
{
    fb_publisher_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->sock = fb_endpoint_open(opts, ZMQ_DEALER, 0, 1000);
    if (!self->sock) {
        int e = errno;
        free(self);
        errno = e;
        return NULL;
    }
    return self;
}

fb_publisher_t *fb_publisher_new(const char *endpoint)
{
    fb_endpoint_opts_t o = {.endpoint = endpoint};
    return fb_publisher_open(&o);
}

void fb_publisher_destroy(fb_publisher_t **self_p)
{
    if (!self_p || !*self_p) return;
    zmq_close((*self_p)->sock);
    free(*self_p);
    *self_p = NULL;
}

/* ------------------------------------------------------------- acks ------ */

static void s_ack_fill(fb_ack_t *ack, const fb_ack_view_t *a)
{
    /* detail up to its first NUL, as the text of a decoded string. */
    int detail_len = (int)(a->detail_len < sizeof(ack->detail) ? a->detail_len : sizeof(ack->detail));
    memset(ack, 0, sizeof(*ack));
    ack->status = (fb_ack_status_t)a->status;
    ack->global_seq = a->global_seq;
    ack->origin_seq = a->origin_seq;
    ack->reason = a->reason;
    snprintf(ack->reason_name, sizeof(ack->reason_name), "%s", a->reason ? fb_reject_name(a->reason) : "");
    snprintf(ack->detail, sizeof(ack->detail), "%.*s", detail_len, a->detail ? a->detail : "");
    if (a->message_id_len == FB_UUID_LEN) fb_uuid_format(a->message_id, ack->message_id);
}

/* What an ack means for its message: FB_OK (accepted or duplicate) or FB_EREJECTED. */
static int s_ack_rc(const fb_ack_t *ack)
{
    return ack->status == FB_ACK_ACCEPTED || ack->status == FB_ACK_DUPLICATE ? FB_OK : FB_EREJECTED;
}

/* Reads frame as BrokerMessage{ack} into *a. Returns 1 when it is one, 0
 * when it is a BrokerMessage of another kind, -1 when it is not protobuf.
 * Brokers and nodes write an ack frame as its ack field alone, which is
 * read in place (*a points into frame); a frame spelled any other way is
 * decoded whole, as before, into *hold (*a points into it; the caller frees
 * it with fedbus__broker_message__free_unpacked(); NULL when not used). */
static int s_ack_read(const uint8_t *frame, size_t len, fb_ack_view_t *a, Fedbus__BrokerMessage **hold)
{
    const uint8_t *ack;
    size_t ack_len;
    *hold = NULL;
    if (fb_wire_ack_frame_view(frame, len, &ack, &ack_len) == 0)
        return fb_wire_ack_scan(ack, ack_len, a) == 0 ? 1 : -1;
    Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(NULL, len, frame);
    if (!bm) return -1;
    *hold = bm;
    if (bm->body_case != FEDBUS__BROKER_MESSAGE__BODY_ACK) return 0;
    const Fedbus__Ack *x = bm->ack;
    *a = (fb_ack_view_t){.message_id = x->message_id.data,
                         .message_id_len = x->message_id.len,
                         .status = (int)x->status,
                         .global_seq = x->global_seq,
                         .origin_seq = x->origin_seq,
                         .reason = (int)x->reason,
                         .detail = x->detail,
                         .detail_len = x->detail ? strlen(x->detail) : 0};
    return 1;
}

/* Waits up to timeout_ms (-1: forever) for a frame on sock and receives it
 * into *m (initialised here; the caller closes it), dropping any further
 * parts. Returns FB_OK, FB_ETIMEOUT, FB_EINTR or FB_EIO. */
static int s_recv(void *sock, zmq_msg_t *m, int64_t deadline, int timeout_ms)
{
    int64_t left = (deadline - fb_time_mono_us()) / 1000;
    if (left < 0) left = 0;
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&item, 1, timeout_ms < 0 ? -1 : (long)left);
    zmq_msg_init(m);
    if (rc < 0) return errno == EINTR ? FB_EINTR : FB_EIO;
    if (rc == 0) return FB_ETIMEOUT;
    if (zmq_msg_recv(m, sock, 0) < 0) return FB_EIO;
    fb_zmq_drain(sock);
    return FB_OK;
}

/* Waits for the ack of message id (NULL: the first ack that comes). */
static int s_wait_ack(fb_publisher_t *self, const uint8_t *id, fb_ack_t *ack, int timeout_ms)
{
    int64_t deadline = fb_time_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        zmq_msg_t m;
        int rc = s_recv(self->sock, &m, deadline, timeout_ms);
        if (rc != FB_OK) {
            zmq_msg_close(&m);
            return rc;
        }
        fb_ack_view_t a;
        Fedbus__BrokerMessage *hold;
        int got = s_ack_read(zmq_msg_data(&m), zmq_msg_size(&m), &a, &hold);
        int mine = got == 1 && (!id || a.message_id_len == 0 ||
                                (a.message_id_len == FB_UUID_LEN && memcmp(a.message_id, id, FB_UUID_LEN) == 0));
        if (mine) s_ack_fill(ack, &a);
        if (hold) fedbus__broker_message__free_unpacked(hold, NULL);
        zmq_msg_close(&m);
        if (got < 0) return FB_EPROTO;
        if (!mine) continue; /* another kind of frame, or a late ack of an earlier, timed-out publish */
        return s_ack_rc(ack);
    }
}

int fb_publisher_send_raw(fb_publisher_t *self, const void *frame, size_t len, fb_ack_t *ack,
                          int timeout_ms)
{
    memset(ack, 0, sizeof(*ack));
    if (zmq_send(self->sock, frame, len, 0) < 0) return FB_EIO;
    return s_wait_ack(self, NULL, ack, timeout_ms);
}

/* ------------------------------------------------------------ one by one -- */

/* Parses json into a packed envelope (caller frees *out), giving it a
 * UUIDv7 message_id (the publisher picks the id, so that a resend after a
 * timeout is the same message), the schema version and the time when it
 * has none; the id goes to id and ack->message_id when it is 16 bytes
 * (*id_ok). On failure fills ack->detail and returns FB_EINVAL or
 * FB_ENOMEM. */
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

/* --------------------------------------------------------------- batches -- */

/* Frames sent by fb_publisher_send_json_many stay below the default
 * max-frame of nodes and brokers (1 MiB). */
#define S_MANY_FRAME_MAX (1024 * 1024 - 1024)

/* One send_json_many call: its messages packed, and what became of each.
 * rcs[i] is FB_ETIMEOUT while message i waits for its ack. */
typedef struct {
    size_t n;
    uint8_t **envs;
    size_t *env_lens;
    fb_map_t *by_id; /* message_id -> i */
    fb_ack_t *acks;
    int *rcs;
    size_t left;     /* how many still wait for their ack */
} s_many_t;

/* Packs every message; those that pack wait for their ack from now on. */
static void s_many_pack(s_many_t *b, const char *const *jsons, const size_t *lens)
{
    for (size_t i = 0; i < b->n; i++) {
        uint8_t id[FB_UUID_LEN];
        int id_ok = 0;
        int *rc = &b->rcs[i];
        *rc = s_pack_json(jsons[i], lens[i], &b->acks[i], id, &id_ok, &b->envs[i], &b->env_lens[i]);
        if (*rc == FB_OK && !id_ok) {
            /* Its answer could not be told from the others'. */
            snprintf(b->acks[i].detail, sizeof(b->acks[i].detail), "message_id must be 16 bytes");
            *rc = FB_EINVAL;
        }
        if (*rc == FB_OK && fb_map_put(b->by_id, id, FB_UUID_LEN, i) != 0) *rc = FB_ENOMEM;
        if (*rc == FB_OK) *rc = FB_ETIMEOUT, b->left++; /* until its ack comes */
    }
}

/* Sends the waiting messages, in order, as PublishBatch frames of up to
 * FB_BATCH_MAX. Returns FB_OK, FB_ENOMEM or FB_EIO. */
static int s_many_send(fb_publisher_t *self, const s_many_t *b)
{
    uint8_t *frame = NULL;
    int rc = FB_OK;
    for (size_t i = 0; i < b->n && rc == FB_OK;) {
        size_t items = 0, k = 0, j = i;
        for (; j < b->n && k < FB_BATCH_MAX; j++) {
            if (b->rcs[j] != FB_ETIMEOUT) continue;
            size_t item = fb_wire_item_size(b->env_lens[j]);
            if (k > 0 && fb_wire_publish_batch_size(items + item) > S_MANY_FRAME_MAX) break;
            items += item;
            k++;
        }
        if (k > 0) {
            size_t flen = fb_wire_publish_batch_size(items);
            uint8_t *f = realloc(frame, flen);
            if (!f) {
                rc = FB_ENOMEM;
                break;
            }
            frame = f;
            uint8_t *p = frame + fb_wire_put_publish_batch_header(items, frame);
            for (size_t x = i; x < j; x++)
                if (b->rcs[x] == FB_ETIMEOUT) p += fb_wire_put_item(b->envs[x], b->env_lens[x], p);
            if (zmq_send(self->sock, frame, flen, 0) < 0) rc = FB_EIO;
        }
        i = j;
    }
    free(frame);
    return rc;
}

/* Settles the message that ack a answers, if it is one of ours still waiting. */
static void s_many_settle(s_many_t *b, const fb_ack_view_t *a)
{
    uint64_t i;
    if (a->message_id_len != FB_UUID_LEN || !fb_map_get(b->by_id, a->message_id, FB_UUID_LEN, &i) ||
        b->rcs[i] != FB_ETIMEOUT)
        return; /* not one of ours, or answered already */
    s_ack_fill(&b->acks[i], a);
    b->rcs[i] = s_ack_rc(&b->acks[i]);
    b->left--;
}

/* Reads acks until every message has its own or timeout_ms is over. Acks
 * come in AckBatch frames, and as plain acks for what the node refused
 * itself or a resend the broker answered alone. */
static void s_many_wait(fb_publisher_t *self, s_many_t *b, int timeout_ms)
{
    int64_t deadline = fb_time_mono_us() + (int64_t)timeout_ms * 1000;
    while (b->left > 0) {
        if (timeout_ms >= 0 && deadline - fb_time_mono_us() < 1000) break;
        zmq_msg_t m;
        int rc = s_recv(self->sock, &m, deadline, timeout_ms);
        const uint8_t *data = zmq_msg_data(&m), *list, *item;
        size_t size = zmq_msg_size(&m), list_len, item_len;
        fb_ack_view_t a;
        Fedbus__BrokerMessage *hold = NULL;
        if (rc != FB_OK) {
            /* interrupted: go on waiting; timed out or broken: stop */
        } else if (fb_wire_ack_batch_view(data, size, &list, &list_len) == 0) {
            const uint8_t *q = list, *end = list + list_len;
            while (fb_wire_next_item(&q, end, &item, &item_len) == 1 && fb_wire_ack_scan(item, item_len, &a) == 0)
                s_many_settle(b, &a);
        } else if (s_ack_read(data, size, &a, &hold) == 1) {
            s_many_settle(b, &a);
        }
        if (hold) fedbus__broker_message__free_unpacked(hold, NULL);
        zmq_msg_close(&m);
        if (rc != FB_OK && rc != FB_EINTR) break;
    }
}

int fb_publisher_send_json_many(fb_publisher_t *self, const char *const *jsons, const size_t *lens, size_t n,
                                fb_ack_t *acks, int *rcs, int timeout_ms)
{
    s_many_t b = {.n = n, .acks = acks, .rcs = rcs};
    b.envs = calloc(n ? n : 1, sizeof(*b.envs));
    b.env_lens = calloc(n ? n : 1, sizeof(*b.env_lens));
    b.by_id = fb_map_new(n);
    int rc = FB_OK;
    if (!b.envs || !b.env_lens || !b.by_id) {
        rc = FB_ENOMEM;
        for (size_t i = 0; i < n; i++) rcs[i] = FB_ENOMEM, memset(&acks[i], 0, sizeof(acks[i]));
        goto done;
    }
    s_many_pack(&b, jsons, lens);
    if ((rc = s_many_send(self, &b)) != FB_OK) {
        /* What was not sent cannot be answered: say so for every one. */
        for (size_t i = 0; i < n; i++)
            if (rcs[i] == FB_ETIMEOUT) rcs[i] = rc;
        b.left = 0;
    }
    s_many_wait(self, &b, timeout_ms);
    for (size_t i = 0; i < n && rc == FB_OK; i++)
        if (rcs[i] != FB_OK) rc = rcs[i];
done:
    if (b.envs)
        for (size_t i = 0; i < n; i++) free(b.envs[i]);
    free(b.envs);
    free(b.env_lens);
    fb_map_destroy(&b.by_id);
    return rc;
}
