/* fb_wire.c — the wire format: frames read and written in place (field numbers: fb_wire_fields.h). */
#include "fb_wire.h"

#include "fb_crypto.h"
#include "fb_wire_fields.h"

#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------- primitives -- */

size_t fb_wire_put_varint(uint64_t x, uint8_t *out)
{
    size_t n = 0;
    while (x >= 0x80) {
        out[n++] = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    out[n++] = (uint8_t)x;
    return n;
}

size_t fb_wire_varint_size(uint64_t x)
{
    size_t n = 1;
    while (x >= 0x80) x >>= 7, n++;
    return n;
}

int fb_wire_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

int fb_wire_next_field(const uint8_t **p, const uint8_t *end, uint64_t *key, uint64_t *v,
                       const uint8_t **data)
{
    if (*p >= end) return 0;
    /* Field numbers run from 1 to 2^29-1: anything else is not protobuf. */
    if (fb_wire_read_varint(p, end, key) || *key >> 3 == 0 || *key >> 3 > S_FIELD_MAX) return -1;
    *v = 0;
    *data = NULL;
    switch (*key & 7) {
    case S_VARINT:
        return fb_wire_read_varint(p, end, v) ? -1 : 1;
    case S_FIXED64:
        if (end - *p < 8) return -1;
        *data = *p;
        *p += 8;
        return 1;
    case S_BYTES:
        if (fb_wire_read_varint(p, end, v) || *v > (uint64_t)(end - *p)) return -1;
        *data = *p;
        *p += *v;
        return 1;
    case S_FIXED32:
        if (end - *p < 4) return -1;
        *data = *p;
        *p += 4;
        return 1;
    default:
        return -1;
    }
}

size_t fb_wire_put_uint(uint32_t tag, uint64_t value, uint8_t *out)
{
    size_t n = fb_wire_put_varint(S_KEY(tag, S_VARINT), out);
    return n + fb_wire_put_varint(value, out + n);
}

size_t fb_wire_put_header(uint32_t tag, size_t len, uint8_t *out)
{
    size_t n = fb_wire_put_varint(S_KEY(tag, S_BYTES), out);
    return n + fb_wire_put_varint(len, out + n);
}

size_t fb_wire_put_bytes(uint32_t tag, const void *data, size_t len, uint8_t *out)
{
    size_t n = fb_wire_put_header(tag, len, out);
    if (len) memcpy(out + n, data, len);
    return n + len;
}

size_t fb_wire_field_size(uint32_t tag, size_t len)
{
    return fb_wire_varint_size(S_KEY(tag, S_BYTES)) + fb_wire_varint_size(len) + len;
}

int fb_wire_sole_field(const uint8_t *frame, size_t len, uint32_t tag, const uint8_t **body,
                       size_t *body_len)
{
    const uint8_t *p = frame, *end = fb_wire_end(frame, len);
    uint64_t key, n;
    if (fb_wire_read_varint(&p, end, &key) || key != S_KEY(tag, S_BYTES) ||
        fb_wire_read_varint(&p, end, &n) || n != (uint64_t)(end - p))
        return -1;
    *body = p;
    *body_len = (size_t)n;
    return 0;
}

int fb_wire_next_bytes(const uint8_t **p, const uint8_t *end, uint32_t tag, const uint8_t **data,
                       size_t *len)
{
    uint64_t key, v;
    const uint8_t *d;
    int rc;
    while ((rc = fb_wire_next_field(p, end, &key, &v, &d)) == 1)
        if (key == S_KEY(tag, S_BYTES)) {
            *data = d;
            *len = (size_t)v;
            return 1;
        }
    return rc;
}

/* ---------------------------------------------------------------- seal -- */

static size_t s_seal_size(const fb_seal_t *s)
{
    size_t olen = strnlen(s->origin, sizeof(s->origin));
    return fb_wire_field_size(S_SEAL_ORIGIN, olen) + 1 + fb_wire_varint_size(s->first_seq) + 1 +
           fb_wire_varint_size(s->last_seq) + fb_wire_field_size(S_SEAL_ROOT, FB_SHA256_LEN) +
           fb_wire_field_size(S_SEAL_KEY_ID, FB_SEAL_KEY_ID_LEN) + 1 +
           fb_wire_varint_size((uint64_t)s->signed_at_us) +
           fb_wire_field_size(S_SEAL_SIGNATURE, FB_ED25519_SIG_LEN);
}

/* Every field is written, zeros included: a seal has no optional part. */
static size_t s_put_seal(const fb_seal_t *s, uint8_t *out)
{
    size_t n = fb_wire_put_bytes(S_SEAL_ORIGIN, s->origin, strnlen(s->origin, sizeof(s->origin)), out);
    n += fb_wire_put_varint(S_KEY(S_SEAL_FIRST_SEQ, S_VARINT), out + n);
    n += fb_wire_put_varint(s->first_seq, out + n);
    n += fb_wire_put_varint(S_KEY(S_SEAL_LAST_SEQ, S_VARINT), out + n);
    n += fb_wire_put_varint(s->last_seq, out + n);
    n += fb_wire_put_bytes(S_SEAL_ROOT, s->root, FB_SHA256_LEN, out + n);
    n += fb_wire_put_bytes(S_SEAL_KEY_ID, s->key_id, FB_SEAL_KEY_ID_LEN, out + n);
    n += fb_wire_put_varint(S_KEY(S_SEAL_SIGNED_AT_US, S_VARINT), out + n);
    n += fb_wire_put_varint((uint64_t)s->signed_at_us, out + n);
    return n + fb_wire_put_bytes(S_SEAL_SIGNATURE, s->signature, FB_ED25519_SIG_LEN, out + n);
}

/* Reads a Seal message; every field of fixed size must have its size, and
 * the origin 1-32 bytes. Returns 0, or -1. */
static int s_read_seal(const uint8_t *buf, size_t len, fb_seal_t *out)
{
    const uint8_t *p = buf, *end = buf + len, *d;
    uint64_t key, v;
    unsigned seen = 0;
    int rc;
    memset(out, 0, sizeof(*out));
    while ((rc = fb_wire_next_field(&p, end, &key, &v, &d)) == 1) {
        uint64_t tag = key >> 3;
        unsigned wire = (unsigned)(key & 7);
        if (tag < S_SEAL_ORIGIN || tag > S_SEAL_SIGNATURE) continue; /* a later field */
        int is_bytes = tag == S_SEAL_ORIGIN || tag == S_SEAL_ROOT || tag == S_SEAL_KEY_ID || tag == S_SEAL_SIGNATURE;
        if (wire != (is_bytes ? S_BYTES : S_VARINT)) return -1;
        if (tag == S_SEAL_ORIGIN) {
            if (v == 0 || v > FB_SEAL_ORIGIN_MAX) return -1;
            memcpy(out->origin, d, (size_t)v);
            out->origin[v] = '\0';
        } else if (tag == S_SEAL_FIRST_SEQ) out->first_seq = v;
        else if (tag == S_SEAL_LAST_SEQ) out->last_seq = v;
        else if (tag == S_SEAL_SIGNED_AT_US) out->signed_at_us = (int64_t)v;
        else {
            uint8_t *dst = tag == S_SEAL_ROOT ? out->root : tag == S_SEAL_KEY_ID ? out->key_id : out->signature;
            size_t want = tag == S_SEAL_ROOT ? FB_SHA256_LEN : tag == S_SEAL_KEY_ID ? FB_SEAL_KEY_ID_LEN : FB_ED25519_SIG_LEN;
            if (v != want) return -1;
            memcpy(dst, d, want);
        }
        seen |= 1u << tag;
    }
    unsigned need = 1u << S_SEAL_ORIGIN | 1u << S_SEAL_ROOT | 1u << S_SEAL_KEY_ID | 1u << S_SEAL_SIGNATURE;
    return rc == 0 && (seen & need) == need ? 0 : -1;
}

/* ------------------------------------------------------------ envelope -- */

int fb_wire_envelope_scan(const uint8_t *buf, size_t len, fb_envelope_head_t *h)
{
    const uint8_t *p = buf, *end = fb_wire_end(buf, len), *d;
    uint64_t key, v;
    int rc;
    memset(h, 0, sizeof(*h));
    while ((rc = fb_wire_next_field(&p, end, &key, &v, &d)) == 1) {
        uint64_t tag = key >> 3;
        if ((key & 7) == S_VARINT) {
            if (tag == S_ENV_CREATED_AT_US) h->created_at_us = (int64_t)v;
            else if (tag == S_ENV_SCHEMA_VERSION) h->schema_version = v;
            else if (tag == S_ENV_ORIGIN_SEQ) h->origin_seq = v;
            else if (tag == S_ENV_GLOBAL_SEQ) h->global_seq = v;
            else if (tag == S_ENV_STORED_AT_US) h->stored_at_us = (int64_t)v;
        } else if ((key & 7) == S_BYTES) {
            if (tag == S_ENV_MESSAGE_ID) h->message_id = d, h->message_id_len = (size_t)v;
            else if (tag == S_ENV_ORIGIN) h->origin = d, h->origin_len = (size_t)v;
            else if (tag == S_ENV_TOPIC) h->topic = d, h->topic_len = (size_t)v;
            else if (tag == S_ENV_PREV_HASH) h->prev_hash = d, h->prev_hash_len = (size_t)v, h->prev_hash_count++;
        }
    }
    return rc;
}

size_t fb_wire_stamp_stored(uint64_t global_seq, int64_t stored_at_us, uint8_t *out)
{
    size_t n = fb_wire_put_uint(S_ENV_GLOBAL_SEQ, global_seq, out);
    return n + fb_wire_put_uint(S_ENV_STORED_AT_US, (uint64_t)stored_at_us, out + n);
}

size_t fb_wire_stamp_origin(const fb_wire_origin_stamp_t *s, uint8_t *out)
{
    size_t n = 0;
    if (s->origin) n += fb_wire_put_bytes(S_ENV_ORIGIN, s->origin, s->origin_len, out + n);
    if (s->message_id) n += fb_wire_put_bytes(S_ENV_MESSAGE_ID, s->message_id, 16, out + n);
    if (s->created_at_us) n += fb_wire_put_uint(S_ENV_CREATED_AT_US, (uint64_t)s->created_at_us, out + n);
    if (s->schema_version) n += fb_wire_put_uint(S_ENV_SCHEMA_VERSION, s->schema_version, out + n);
    if (s->prev_hash) n += fb_wire_put_bytes(S_ENV_PREV_HASH, s->prev_hash, FB_SHA256_LEN, out + n);
    if (s->origin_seq) n += fb_wire_put_uint(S_ENV_ORIGIN_SEQ, s->origin_seq, out + n);
    return n;
}

size_t fb_wire_sequencing_tail(const uint8_t *env, size_t len, uint64_t origin_seq, const uint8_t **prev_hash)
{
    uint8_t seq[FB_ORIGIN_STAMP_MAX];
    size_t n = fb_wire_stamp_origin(&(fb_wire_origin_stamp_t){.origin_seq = origin_seq}, seq);
    *prev_hash = NULL;
    if (n == 0 || len < n || memcmp(env + len - n, seq, n) != 0) return 0;
    size_t ph = fb_wire_field_size(S_ENV_PREV_HASH, FB_SHA256_LEN);
    if (len - n >= ph) {
        const uint8_t *at = env + len - n - ph;
        uint8_t head[2];
        if (fb_wire_put_header(S_ENV_PREV_HASH, FB_SHA256_LEN, head) == 2 && memcmp(at, head, 2) == 0) {
            *prev_hash = at + 2;
            return n + ph;
        }
    }
    return n;
}

int fb_wire_is_payload_tag(uint32_t tag)
{
    return tag >= S_ENV_PAYLOAD_FIRST;
}

#define S_HASH_PARTS 16

int fb_wire_content_hash(const uint8_t *buf, size_t len, uint8_t out[32])
{
    const void *parts[S_HASH_PARTS];
    size_t lens[S_HASH_PARTS], n = 0;
    const uint8_t *p = buf, *end = fb_wire_end(buf, len), *data;
    while (p < end) {
        const uint8_t *start = p;
        uint64_t key, v;
        if (fb_wire_next_field(&p, end, &key, &v, &data) != 1) return -1;
        uint64_t tag = key >> 3;
        if (tag == S_ENV_TOPIC || tag >= S_ENV_PAYLOAD_FIRST) {
            /* Adjacent kept fields are hashed as one range. */
            if (n && (const uint8_t *)parts[n - 1] + lens[n - 1] == start) {
                lens[n - 1] += (size_t)(p - start);
            } else {
                if (n == S_HASH_PARTS) return -1;
                parts[n] = start;
                lens[n++] = (size_t)(p - start);
            }
        }
    }
    return fb_sha256_parts(parts, lens, n, out);
}

/* ------------------------------------------------------------- publish -- */

uint8_t *fb_wire_publish_alloc(size_t env_len, size_t *len, uint8_t **body)
{
    size_t pub_len = fb_wire_field_size(S_PUBLISH_ENVELOPE, env_len);
    *len = fb_wire_field_size(S_NODE_PUBLISH, pub_len);
    uint8_t *f = malloc(*len), *p = f;
    if (!f) return NULL;
    p += fb_wire_put_header(S_NODE_PUBLISH, pub_len, p);
    p += fb_wire_put_header(S_PUBLISH_ENVELOPE, env_len, p);
    *body = p;
    return f;
}

uint8_t *fb_wire_publish_wrap(const uint8_t *env, size_t env_len, const uint8_t *tail,
                              size_t tail_len, size_t *len)
{
    uint8_t *body, *f = fb_wire_publish_alloc(env_len + tail_len, len, &body);
    if (!f) return NULL;
    if (env_len) memcpy(body, env, env_len); /* env may be NULL then */
    if (tail_len) memcpy(body + env_len, tail, tail_len);
    return f;
}

int fb_wire_publish_view(const uint8_t *frame, size_t len, const uint8_t **env, size_t *env_len)
{
    const uint8_t *pub;
    size_t pub_len;
    if (fb_wire_sole_field(frame, len, S_NODE_PUBLISH, &pub, &pub_len) != 0) return -1;
    return fb_wire_sole_field(pub, pub_len, S_PUBLISH_ENVELOPE, env, env_len);
}

/* ------------------------------------------------- frames of many items -- */

size_t fb_wire_item_size(size_t len)
{
    return fb_wire_field_size(S_BATCH_ITEM, len);
}

size_t fb_wire_put_item_header(size_t len, uint8_t *out)
{
    return fb_wire_put_header(S_BATCH_ITEM, len, out);
}

size_t fb_wire_put_item(const void *data, size_t len, uint8_t *out)
{
    return fb_wire_put_bytes(S_BATCH_ITEM, data, len, out);
}

int fb_wire_next_item(const uint8_t **p, const uint8_t *end, const uint8_t **data, size_t *len)
{
    return fb_wire_next_bytes(p, end, S_BATCH_ITEM, data, len);
}

size_t fb_wire_put_feed_head(uint64_t head_seq, uint8_t *out)
{
    out[0] = FB_WIRE_FEED_HEAD_MARK;
    out[1] = 0;
    return 2 + fb_wire_put_uint(1, head_seq, out + 2); /* FeedHead.head_seq */
}

int fb_wire_feed_head_view(const uint8_t *frame, size_t len, uint64_t *head_seq)
{
    if (len < 2 || frame[0] != FB_WIRE_FEED_HEAD_MARK || frame[1] != 0) return 0;
    const uint8_t *p = frame + 2, *end = frame + len, *d;
    uint64_t key, v;
    int rc;
    *head_seq = 0;
    while ((rc = fb_wire_next_field(&p, end, &key, &v, &d)) == 1)
        if (key == S_KEY(1, S_VARINT)) *head_seq = v; /* FeedHead.head_seq */
    return rc < 0 ? -1 : 1;
}

size_t fb_wire_put_feed_count(const uint8_t *prefix, size_t len, uint64_t head_seq, uint64_t count, uint8_t *out)
{
    out[0] = FB_WIRE_FEED_COUNT_MARK;
    if (len) memcpy(out + 1, prefix, len);
    out[1 + len] = 0;
    size_t n = 2 + len;
    n += fb_wire_put_uint(1, head_seq, out + n); /* FeedCount.head_seq */
    return n + fb_wire_put_uint(2, count, out + n); /* FeedCount.count */
}

int fb_wire_feed_count_view(const uint8_t *frame, size_t len, const uint8_t **prefix, size_t *prefix_len,
                            uint64_t *head_seq, uint64_t *count)
{
    if (len < 2 || frame[0] != FB_WIRE_FEED_COUNT_MARK) return 0;
    const uint8_t *nul = memchr(frame + 1, 0, len - 1);
    if (!nul) return 0;
    *prefix = frame + 1;
    *prefix_len = (size_t)(nul - frame - 1);
    const uint8_t *p = nul + 1, *end = frame + len, *d;
    uint64_t key, v;
    int rc;
    *head_seq = *count = 0;
    while ((rc = fb_wire_next_field(&p, end, &key, &v, &d)) == 1) {
        if (key == S_KEY(1, S_VARINT)) *head_seq = v; /* FeedCount.head_seq */
        else if (key == S_KEY(2, S_VARINT)) *count = v; /* FeedCount.count */
    }
    return rc < 0 ? -1 : 1;
}

/* The SealProof of a seal frame: its seal as a field, then one entries field per hash. */
static size_t s_feed_seal_body(const fb_seal_t *seal, size_t n)
{
    return fb_wire_field_size(S_PROOF_SEAL, s_seal_size(seal)) + n * fb_wire_field_size(S_PROOF_ENTRIES, FB_SHA256_LEN);
}

size_t fb_wire_feed_seal_size(const fb_seal_t *seal, size_t n)
{
    return 2 + s_feed_seal_body(seal, n);
}

size_t fb_wire_put_feed_seal(const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN], size_t n, uint8_t *out)
{
    size_t k = 0;
    out[k++] = FB_WIRE_FEED_SEAL_MARK;
    out[k++] = 0;
    k += fb_wire_put_header(S_PROOF_SEAL, s_seal_size(seal), out + k);
    k += s_put_seal(seal, out + k);
    for (size_t i = 0; i < n; i++) k += fb_wire_put_bytes(S_PROOF_ENTRIES, entries[i], FB_SHA256_LEN, out + k);
    return k;
}

int fb_wire_feed_seal_view(const uint8_t *frame, size_t len, fb_seal_t *seal, uint8_t (*entries)[FB_SHA256_LEN],
                           size_t max, size_t *n)
{
    *n = 0;
    if (len < 2 || frame[0] != FB_WIRE_FEED_SEAL_MARK || frame[1] != 0) return 0;
    const uint8_t *p = frame + 2, *end = frame + len, *d;
    uint64_t key, v;
    int rc, have_seal = 0;
    while ((rc = fb_wire_next_field(&p, end, &key, &v, &d)) == 1) {
        if (key == S_KEY(S_PROOF_SEAL, S_BYTES)) {
            if (s_read_seal(d, (size_t)v, seal) != 0) return -1;
            have_seal = 1;
        } else if (key == S_KEY(S_PROOF_ENTRIES, S_BYTES)) {
            if (v != FB_SHA256_LEN || *n >= max) return -1;
            memcpy(entries[(*n)++], d, FB_SHA256_LEN);
        } else if ((key >> 3) == S_PROOF_SEAL || (key >> 3) == S_PROOF_ENTRIES) {
            return -1; /* a known field of the wrong type */
        }
    }
    return rc == 0 && have_seal && *n > 0 ? 1 : -1;
}

size_t fb_wire_publish_batch_size(size_t items_len)
{
    return fb_wire_field_size(S_NODE_PUBLISH_BATCH, items_len);
}

size_t fb_wire_put_publish_batch_header(size_t items_len, uint8_t *out)
{
    return fb_wire_put_header(S_NODE_PUBLISH_BATCH, items_len, out);
}

int fb_wire_publish_batch_view(const uint8_t *frame, size_t len, const uint8_t **items,
                               size_t *items_len)
{
    return fb_wire_sole_field(frame, len, S_NODE_PUBLISH_BATCH, items, items_len);
}

size_t fb_wire_seal_field_size(const fb_seal_t *s)
{
    return fb_wire_field_size(S_BATCH_SEAL, s_seal_size(s));
}

size_t fb_wire_put_seal_field(const fb_seal_t *s, uint8_t *out)
{
    size_t n = fb_wire_put_header(S_BATCH_SEAL, s_seal_size(s), out);
    return n + s_put_seal(s, out + n);
}

int fb_wire_batch_seal(const uint8_t *items, size_t len, fb_seal_t *out)
{
    const uint8_t *p = items, *end = items + len, *d, *found = NULL;
    uint64_t key, v;
    size_t found_len = 0;
    int rc;
    while ((rc = fb_wire_next_field(&p, end, &key, &v, &d)) == 1)
        if (key >> 3 == S_BATCH_SEAL) {
            if (found || (key & 7) != S_BYTES) return -1; /* one seal, a message */
            found = d, found_len = (size_t)v;
        }
    if (rc != 0) return -1;
    if (!found) return 0;
    return s_read_seal(found, found_len, out) == 0 ? 1 : -1;
}

int fb_wire_has_publish_batch(const uint8_t *frame, size_t len)
{
    const uint8_t *p = frame, *d;
    size_t n;
    return fb_wire_next_bytes(&p, fb_wire_end(frame, len), S_NODE_PUBLISH_BATCH, &d, &n);
}

size_t fb_wire_ack_batch_size(size_t items_len)
{
    return fb_wire_field_size(S_BROKER_ACK_BATCH, items_len);
}

size_t fb_wire_put_ack_batch_header(size_t items_len, uint8_t *out)
{
    return fb_wire_put_header(S_BROKER_ACK_BATCH, items_len, out);
}

int fb_wire_ack_batch_view(const uint8_t *frame, size_t len, const uint8_t **items, size_t *items_len)
{
    return fb_wire_sole_field(frame, len, S_BROKER_ACK_BATCH, items, items_len);
}

/* ----------------------------------------------------------------- acks -- */

int fb_wire_ack_scan(const uint8_t *buf, size_t len, fb_ack_view_t *a)
{
    const uint8_t *p = buf, *end = fb_wire_end(buf, len), *d;
    uint64_t key, v;
    int rc;
    memset(a, 0, sizeof(*a));
    while ((rc = fb_wire_next_field(&p, end, &key, &v, &d)) == 1) {
        uint64_t tag = key >> 3;
        int type = (int)(key & 7);
        if (tag == 0) return -1;
        if (tag == S_ACK_MESSAGE_ID || tag == S_ACK_DETAIL) {
            if (type != S_BYTES) return -1;
            if (tag == S_ACK_MESSAGE_ID) a->message_id = d, a->message_id_len = (size_t)v;
            else a->detail = (const char *)d, a->detail_len = (size_t)v;
        } else if (tag >= S_ACK_STATUS && tag <= S_ACK_REASON) {
            if (type != S_VARINT) return -1;
            /* Enums are int32 on the wire: a negative one is ten bytes. */
            if (tag == S_ACK_STATUS) a->status = (int32_t)v;
            else if (tag == S_ACK_GLOBAL_SEQ) a->global_seq = v;
            else if (tag == S_ACK_ORIGIN_SEQ) a->origin_seq = v;
            else a->reason = (int32_t)v;
        }
    }
    return rc;
}

/* An enum (int32) as protobuf writes it: a negative value sign-extended
 * to 64 bits. */
static uint64_t s_enum(int v)
{
    return (uint64_t)(int64_t)v;
}

size_t fb_wire_ack_size(const fb_ack_view_t *a)
{
    size_t n = 0;
    if (a->message_id_len) n += fb_wire_field_size(S_ACK_MESSAGE_ID, a->message_id_len);
    if (a->status) n += 1 + fb_wire_varint_size(s_enum(a->status));
    if (a->global_seq) n += 1 + fb_wire_varint_size(a->global_seq);
    if (a->origin_seq) n += 1 + fb_wire_varint_size(a->origin_seq);
    if (a->reason) n += 1 + fb_wire_varint_size(s_enum(a->reason));
    if (a->detail_len) n += fb_wire_field_size(S_ACK_DETAIL, a->detail_len);
    return n;
}

size_t fb_wire_put_ack(const fb_ack_view_t *a, uint8_t *out)
{
    size_t n = 0;
    if (a->message_id_len) n += fb_wire_put_bytes(S_ACK_MESSAGE_ID, a->message_id, a->message_id_len, out);
    if (a->status) n += fb_wire_put_uint(S_ACK_STATUS, s_enum(a->status), out + n);
    if (a->global_seq) n += fb_wire_put_uint(S_ACK_GLOBAL_SEQ, a->global_seq, out + n);
    if (a->origin_seq) n += fb_wire_put_uint(S_ACK_ORIGIN_SEQ, a->origin_seq, out + n);
    if (a->reason) n += fb_wire_put_uint(S_ACK_REASON, s_enum(a->reason), out + n);
    if (a->detail_len) n += fb_wire_put_bytes(S_ACK_DETAIL, a->detail, a->detail_len, out + n);
    return n;
}

size_t fb_wire_ack_frame_size(size_t ack_len)
{
    return fb_wire_field_size(S_BROKER_ACK, ack_len);
}

size_t fb_wire_put_ack_frame_header(size_t ack_len, uint8_t *out)
{
    return fb_wire_put_header(S_BROKER_ACK, ack_len, out);
}

int fb_wire_ack_frame_view(const uint8_t *frame, size_t len, const uint8_t **ack, size_t *ack_len)
{
    return fb_wire_sole_field(frame, len, S_BROKER_ACK, ack, ack_len);
}

uint8_t *fb_wire_ack_frame(const fb_ack_view_t *a, size_t *len)
{
    size_t ack_len = fb_wire_ack_size(a);
    *len = fb_wire_ack_frame_size(ack_len);
    uint8_t *f = malloc(*len);
    if (!f) return NULL;
    size_t h = fb_wire_put_ack_frame_header(ack_len, f);
    fb_wire_put_ack(a, f + h);
    return f;
}

/* ------------------------------------------------ fields from the future -- */

size_t fb_wire_put_unknown_payload(const void *data, size_t len, uint8_t *out)
{
    return fb_wire_put_bytes(S_ENV_PAYLOAD_UNKNOWN, data, len, out);
}

size_t fb_wire_put_unknown_field(uint64_t value, uint8_t *out)
{
    return fb_wire_put_uint(S_UNKNOWN_FIELD, value, out);
}
