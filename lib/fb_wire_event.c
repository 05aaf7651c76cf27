/* fb_wire_event.c — the one-pass reader of envelopes that carry an Event: the broker's fast path on ingest. */
#include "fb_wire.h"

#include "fb_crypto.h"
#include "fb_utf8.h"
#include "fb_wire_fields.h"
#include "fedbus/fb_topic.h"

#include <string.h>

/* The one-pass reader of envelopes with an Event payload. Its tables
 * follow proto/fedbus.proto (a unit test holds them against protobuf-c's
 * descriptors); anything they do not describe sends the envelope to the
 * full decoder. */
enum {
    S_T_INT64 = 1, /* int64, uint64 */
    S_T_UINT32,
    S_T_ENUM,      /* int32 on the wire: taken only when 0 to 2^31-1 */
    S_T_SINT32,
    S_T_STRING,
    S_T_BYTES,
    S_T_MESSAGE,
    S_T_TAGS,      /* repeated string of topic segments (Event.fields) */
};

#define S_SLOTS 17 /* field numbers 1 to 16 */

typedef struct {
    uint8_t type[S_SLOTS]; /* by field number; 0: unknown to the table */
} s_table_t;

static const s_table_t s_envelope_table = {.type = {
    [S_ENV_MESSAGE_ID] = S_T_BYTES, [S_ENV_ORIGIN] = S_T_STRING, [S_ENV_TOPIC] = S_T_STRING,
    [S_ENV_CREATED_AT_US] = S_T_INT64, [S_ENV_SCHEMA_VERSION] = S_T_UINT32, [S_ENV_ORIGIN_SEQ] = S_T_INT64,
    [S_ENV_GLOBAL_SEQ] = S_T_INT64, [S_ENV_STORED_AT_US] = S_T_INT64, [S_ENV_PREV_HASH] = S_T_BYTES,
    [S_ENV_PAYLOAD_FIRST] = S_T_MESSAGE, /* event */
}};

/* Event */
enum {
    S_EV_KIND = 1, S_EV_TITLE = 2, S_EV_SUMMARY = 3, S_EV_STARTS_AT = 4, S_EV_ENDS_AT = 5, S_EV_TIMEZONE = 6,
    S_EV_VENUE = 7, S_EV_HOST = 8, S_EV_URL = 9, S_EV_FIELDS = 10, S_EV_SERIES = 11, S_EV_CAPACITY = 12,
    S_EV_REGISTRATION_URL = 13,
};
static const s_table_t s_event_table = {.type = {
    [S_EV_KIND] = S_T_ENUM, [S_EV_TITLE] = S_T_MESSAGE, [S_EV_SUMMARY] = S_T_MESSAGE,
    [S_EV_STARTS_AT] = S_T_MESSAGE, [S_EV_ENDS_AT] = S_T_MESSAGE, [S_EV_TIMEZONE] = S_T_STRING,
    [S_EV_VENUE] = S_T_MESSAGE, [S_EV_HOST] = S_T_STRING, [S_EV_URL] = S_T_STRING, [S_EV_FIELDS] = S_T_TAGS,
    [S_EV_SERIES] = S_T_STRING, [S_EV_CAPACITY] = S_T_UINT32, [S_EV_REGISTRATION_URL] = S_T_STRING,
}};

/* Text {ko = 1, en = 2}, Timestamp {unix_us = 1, utc_offset_min = 2},
 * Venue {name = 1 (Text), address, city, country, online_url = 2 to 5} */
static const s_table_t s_text_table = {.type = {[1] = S_T_STRING, [2] = S_T_STRING}};
static const s_table_t s_timestamp_table = {.type = {[1] = S_T_INT64, [2] = S_T_SINT32}};
static const s_table_t s_venue_table = {.type = {
    [1] = S_T_MESSAGE, [2] = S_T_STRING, [3] = S_T_STRING, [4] = S_T_STRING, [5] = S_T_STRING,
}};

/* One message's fields by number: the value of a number, the bytes of the
 * rest (v: their length). */
typedef struct {
    uint32_t seen;
    uint64_t v[S_SLOTS];
    const uint8_t *d[S_SLOTS];
    const uint8_t *key[S_SLOTS]; /* where the field starts */
} s_slots_t;

/* Reads a varint written in its shortest form; 0, or -1. */
static int s_read_short_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    const uint8_t *start = *p;
    if (fb_wire_read_varint(p, end, v) != 0) return -1;
    return (size_t)(*p - start) == fb_wire_varint_size(*v) ? 0 : -1;
}

/* Reads one message's fields [p, end) as table t says into *s. Returns 1,
 * or 0 for anything the table does not take. */
static int s_read_table(const uint8_t *p, const uint8_t *end, const s_table_t *t, s_slots_t *s)
{
    s->seen = 0;
    while (p < end) {
        const uint8_t *start = p;
        uint64_t key, v;
        if (s_read_short_varint(&p, end, &key) != 0) return 0;
        uint64_t tag = key >> 3;
        if (tag == 0 || tag >= S_SLOTS || t->type[tag] == 0) return 0;
        int type = t->type[tag];
        int wire = type == S_T_STRING || type == S_T_BYTES || type == S_T_MESSAGE || type == S_T_TAGS ? S_BYTES
                                                                                                    : S_VARINT;
        if ((key & 7) != (uint64_t)wire || s_read_short_varint(&p, end, &v) != 0) return 0;
        if (type != S_T_TAGS && (s->seen & 1u << tag)) return 0; /* merged or replaced by the decoder */
        s->seen |= 1u << tag;
        s->key[tag] = start;
        if (wire == S_VARINT) {
            if ((type == S_T_UINT32 || type == S_T_SINT32) && v > UINT32_MAX) return 0;
            if (type == S_T_ENUM && v > INT32_MAX) return 0;
            s->v[tag] = v;
            continue;
        }
        if (v > (uint64_t)(end - p)) return 0;
        if ((type == S_T_STRING || type == S_T_TAGS) && !fb_utf8_valid((const char *)p, (size_t)v)) return 0;
        if (type == S_T_TAGS && !fb_segment_valid((const char *)p, (size_t)v)) return 0;
        s->v[tag] = v;
        s->d[tag] = p;
        p += v;
    }
    return 1;
}

/* Reads the message in field tag of s (when there) with table t into *sub;
 * returns 1, or 0. */
static int s_read_sub(const s_slots_t *s, unsigned tag, const s_table_t *t, s_slots_t *sub)
{
    if (!(s->seen & 1u << tag)) {
        sub->seen = 0;
        return 1;
    }
    return s_read_table(s->d[tag], s->d[tag] + s->v[tag], t, sub);
}

/* A Timestamp's values: sint32 as the decoder takes it, from 32 bits. */
static void s_timestamp(const s_slots_t *ts, int64_t *us, int32_t *off)
{
    uint32_t z = ts->seen & 1u << 2 ? (uint32_t)ts->v[2] : 0;
    *us = ts->seen & 1u << 1 ? (int64_t)ts->v[1] : 0;
    *off = (int32_t)((z >> 1) ^ (0u - (z & 1)));
}

int fb_wire_envelope_event_view(const uint8_t *buf, size_t len, fb_envelope_event_view_t *v)
{
    s_slots_t env, ev, sub, name;
    memset(v, 0, sizeof(*v));
    if (!s_read_table(buf, fb_wire_end(buf, len), &s_envelope_table, &env)) return 0;
    if (!(env.seen & 1u << S_ENV_PAYLOAD_FIRST) || !s_read_sub(&env, S_ENV_PAYLOAD_FIRST, &s_event_table, &ev))
        return 0;
    fb_envelope_head_t *h = &v->head;
#define S_HAS(s, tag) ((s).seen & 1u << (tag))
#define S_V(s, tag) (S_HAS(s, tag) ? (s).v[tag] : 0)
    if (S_HAS(env, S_ENV_MESSAGE_ID))
        h->message_id = env.d[S_ENV_MESSAGE_ID], h->message_id_len = env.v[S_ENV_MESSAGE_ID];
    if (S_HAS(env, S_ENV_ORIGIN)) h->origin = env.d[S_ENV_ORIGIN], h->origin_len = env.v[S_ENV_ORIGIN];
    if (S_HAS(env, S_ENV_TOPIC)) h->topic = env.d[S_ENV_TOPIC], h->topic_len = env.v[S_ENV_TOPIC];
    if (S_HAS(env, S_ENV_PREV_HASH))
        h->prev_hash = env.d[S_ENV_PREV_HASH], h->prev_hash_len = env.v[S_ENV_PREV_HASH], h->prev_hash_count = 1;
    h->created_at_us = (int64_t)S_V(env, S_ENV_CREATED_AT_US);
    h->schema_version = S_V(env, S_ENV_SCHEMA_VERSION);
    h->origin_seq = S_V(env, S_ENV_ORIGIN_SEQ);
    h->global_seq = S_V(env, S_ENV_GLOBAL_SEQ);
    h->stored_at_us = (int64_t)S_V(env, S_ENV_STORED_AT_US);
    /* What fb_wire_content_hash() takes: the topic and the payload, the
     * only fields here numbered 3 or from 16, in their order. */
    const uint8_t *topic = h->topic ? env.key[S_ENV_TOPIC] : NULL, *event = env.key[S_ENV_PAYLOAD_FIRST];
    size_t topic_len = h->topic ? (size_t)(h->topic + h->topic_len - topic) : 0;
    size_t event_len = (size_t)(env.d[S_ENV_PAYLOAD_FIRST] + env.v[S_ENV_PAYLOAD_FIRST] - event);
    if (h->topic && topic < event) v->hashed[v->nhashed] = topic, v->hashed_len[v->nhashed++] = topic_len;
    v->hashed[v->nhashed] = event, v->hashed_len[v->nhashed++] = event_len;
    if (h->topic && topic > event) v->hashed[v->nhashed] = topic, v->hashed_len[v->nhashed++] = topic_len;
    v->kind = S_V(ev, S_EV_KIND);
    /* Text title and summary; starts_at and ends_at; the venue and its name. */
    if (!s_read_sub(&ev, S_EV_TITLE, &s_text_table, &sub)) return 0;
    v->title_set = S_V(sub, 1) > 0 || S_V(sub, 2) > 0;
    if (!s_read_sub(&ev, S_EV_SUMMARY, &s_text_table, &sub)) return 0;
    if (!s_read_sub(&ev, S_EV_STARTS_AT, &s_timestamp_table, &sub)) return 0;
    v->has_starts = S_HAS(ev, S_EV_STARTS_AT) != 0;
    s_timestamp(&sub, &v->starts_us, &v->starts_off);
    if (!s_read_sub(&ev, S_EV_ENDS_AT, &s_timestamp_table, &sub)) return 0;
    v->has_ends = S_HAS(ev, S_EV_ENDS_AT) != 0;
    s_timestamp(&sub, &v->ends_us, &v->ends_off);
    if (!s_read_sub(&ev, S_EV_VENUE, &s_venue_table, &sub) || !s_read_sub(&sub, 1, &s_text_table, &name)) return 0;
#undef S_HAS
#undef S_V
    return 1;
}

int fb_wire_envelope_event_view_hash(const fb_envelope_event_view_t *v, uint8_t out[32])
{
    return fb_sha256_parts((const void *const *)v->hashed, v->hashed_len, v->nhashed, out);
}
