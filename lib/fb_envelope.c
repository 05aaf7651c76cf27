/* fb_envelope.c — envelope decoding, validation and stamping. */
#include "fb_envelope.h"

#include "fb_crypto.h"
#include "fb_utf8.h"
#include "fedbus/fedbus.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PAYLOAD_FIRST 16 /* first oneof tag; tags from here up are payload kinds */
#define S_OFFSET_MAX (24 * 60)

static int s_verdict(fb_verdict_t *v, int reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_verdict(fb_verdict_t *v, int reason, const char *fmt, ...)
{
    va_list ap;
    v->reason = reason;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
    va_end(ap);
    return -1;
}

const char *fb_reject_name(int reason)
{
    const ProtobufCEnumValue *ev =
        protobuf_c_enum_descriptor_get_value(&fedbus__reject_reason__descriptor, reason);
    return ev ? ev->name + strlen("REJECT_") : "UNKNOWN";
}

/* Walks every string of m, recursively; returns 0, or -1 naming the field. */
static int s_strings_utf8(const ProtobufCMessage *m, fb_verdict_t *v)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        size_t n = 1;
        void *const *items = (void *const *)(base + f->offset);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)(base + f->quantifier_offset);
            items = *(void *const *const *)(base + f->offset);
        }
        for (size_t k = 0; k < n; k++) {
            if (!items[k]) continue;
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                const char *s = items[k];
                /* In memory, a string ends at its NUL; decoding checks the
                 * whole wire length first (s_wire_strings). */
                if (!fb_utf8_valid(s, strlen(s)))
                    return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_UTF8,
                                     "field %s.%s is not valid UTF-8", d->short_name, f->name);
            } else if (s_strings_utf8(items[k], v)) {
                return -1;
            }
        }
    }
    return 0;
}

static int s_text_set(const Fedbus__Text *t)
{
    return t && ((t->ko && *t->ko) || (t->en && *t->en));
}

static int s_time_ok(const Fedbus__Timestamp *t)
{
    return t->utc_offset_min >= -S_OFFSET_MAX && t->utc_offset_min <= S_OFFSET_MAX;
}

static int s_tags_ok(char **tags, size_t n, const char *what, fb_verdict_t *v)
{
    for (size_t i = 0; i < n; i++)
        if (!fb_segment_valid(tags[i], strlen(tags[i])))
            return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                             "%s.fields[%zu] is not 1-32 of [a-z0-9-]", what, i);
    return 0;
}

static int s_check_event(const Fedbus__Event *e, fb_verdict_t *v)
{
    if (e->kind == FEDBUS__EVENT_KIND__EVENT_KIND_UNSPECIFIED)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "event.kind is required");
    if (!protobuf_c_enum_descriptor_get_value(&fedbus__event_kind__descriptor, e->kind))
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD, "event.kind %d is unknown",
                         (int)e->kind);
    if (!s_text_set(e->title))
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "event.title is required");
    if (!e->starts_at)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "event.starts_at is required");
    if (!s_time_ok(e->starts_at) || (e->ends_at && !s_time_ok(e->ends_at)))
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD, "event time offset out of range");
    if (e->ends_at && e->ends_at->unix_us < e->starts_at->unix_us)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                         "event.ends_at is before event.starts_at");
    return s_tags_ok(e->fields, e->n_fields, "event", v);
}

static int s_check_cfp(const Fedbus__CallForProposals *c, fb_verdict_t *v)
{
    if (!s_text_set(c->title))
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "cfp.title is required");
    if (!c->closes_at)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "cfp.closes_at is required");
    if (!s_time_ok(c->closes_at) || (c->opens_at && !s_time_ok(c->opens_at)))
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD, "cfp time offset out of range");
    if (c->opens_at && c->closes_at->unix_us < c->opens_at->unix_us)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                         "cfp.closes_at is before cfp.opens_at");
    if (c->budget) {
        const char *cur = c->budget->currency;
        if (c->budget->amount < 0)
            return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD, "cfp.budget.amount is negative");
        if (strlen(cur) != 3 || cur[0] < 'A' || cur[0] > 'Z' || cur[1] < 'A' || cur[1] > 'Z' ||
            cur[2] < 'A' || cur[2] > 'Z')
            return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                             "cfp.budget.currency must be an ISO 4217 code such as KRW");
    }
    return s_tags_ok(c->fields, c->n_fields, "cfp", v);
}

static int s_check_researcher(const Fedbus__ResearcherUpdate *r, fb_verdict_t *v)
{
    if (!r->researcher_id || !*r->researcher_id)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD,
                         "researcher.researcher_id is required");
    if (!s_text_set(r->name))
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "researcher.name is required");
    if (r->kind == FEDBUS__RESEARCHER_UPDATE_KIND__RESEARCHER_UPDATE_KIND_UNSPECIFIED)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "researcher.kind is required");
    if (!protobuf_c_enum_descriptor_get_value(&fedbus__researcher_update_kind__descriptor, r->kind))
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD, "researcher.kind %d is unknown",
                         (int)r->kind);
    if (r->occurred_at && !s_time_ok(r->occurred_at))
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD, "researcher time offset out of range");
    return s_tags_ok(r->fields, r->n_fields, "researcher", v);
}

const char *fb_envelope_kind(const Fedbus__Envelope *env)
{
    switch (env->payload_case) {
    case FEDBUS__ENVELOPE__PAYLOAD_EVENT:
        return FB_KIND_EVENT;
    case FEDBUS__ENVELOPE__PAYLOAD_CFP:
        return FB_KIND_CFP;
    case FEDBUS__ENVELOPE__PAYLOAD_RESEARCHER:
        return FB_KIND_RESEARCHER;
    default:
        return NULL;
    }
}

static int s_check(const Fedbus__Envelope *env, fb_verdict_t *v, int strings_checked)
{
    const char *why = NULL;
    v->reason = FEDBUS__REJECT_REASON__REJECT_NONE;
    v->detail[0] = '\0';
    if (!strings_checked && s_strings_utf8(&env->base, v)) return -1;
    if (env->schema_version == 0)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "schema_version is required");
    if (env->schema_version > FEDBUS_SCHEMA_VERSION)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_UNSUPPORTED_VERSION,
                         "schema_version %u is newer than %d", env->schema_version,
                         FEDBUS_SCHEMA_VERSION);
    if (env->message_id.len == 0)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "message_id is required");
    if (env->message_id.len != 16)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                         "message_id must be 16 bytes, not %zu", env->message_id.len);
    if (!env->origin || !*env->origin)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "origin is required");
    if (!fb_segment_valid(env->origin, strlen(env->origin)))
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                         "origin is not 1-32 of [a-z0-9-]");
    if (env->created_at_us <= 0)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "created_at_us is required");
    if (env->global_seq != 0 || env->stored_at_us != 0)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                         "global_seq and stored_at_us are assigned by the broker");
    if (env->payload_case == FEDBUS__ENVELOPE__PAYLOAD__NOT_SET) {
        for (size_t i = 0; i < env->base.n_unknown_fields; i++)
            if (env->base.unknown_fields[i].tag >= S_PAYLOAD_FIRST)
                return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_UNKNOWN_KIND,
                                 "payload kind with tag %u is unknown to this broker",
                                 env->base.unknown_fields[i].tag);
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD,
                         "payload (event, cfp or researcher) is required");
    }
    size_t tlen = env->topic ? strlen(env->topic) : 0;
    if (!fb_topic_valid(env->topic ? env->topic : "", tlen, &why))
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_BAD_TOPIC, "%s", why);
    char seg[FB_SEGMENT_MAX + 1];
    const char *kind = fb_envelope_kind(env);
    fb_topic_segment(env->topic, tlen, 0, seg, sizeof(seg));
    if (strcmp(seg, kind) != 0)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_NAMESPACE,
                         "topic kind '%s' does not match the %s payload", seg, kind);
    fb_topic_segment(env->topic, tlen, 1, seg, sizeof(seg));
    if (strcmp(seg, env->origin) != 0)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_NAMESPACE,
                         "topic is outside the namespace of origin '%s'", env->origin);
    switch (env->payload_case) {
    case FEDBUS__ENVELOPE__PAYLOAD_EVENT:
        return s_check_event(env->event, v);
    case FEDBUS__ENVELOPE__PAYLOAD_CFP:
        return s_check_cfp(env->cfp, v);
    case FEDBUS__ENVELOPE__PAYLOAD_RESEARCHER:
        return s_check_researcher(env->researcher, v);
    default:
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_UNKNOWN_KIND, "payload kind is unknown");
    }
}

int fb_envelope_check(const Fedbus__Envelope *env, fb_verdict_t *v)
{
    return s_check(env, v, 0);
}

static int s_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* Checks every string field of the message described by d in the wire bytes
 * [p, end), recursively: UTF-8 and no NUL over the whole length, which
 * protobuf-c's NUL-terminated copies would hide. Returns 0, or -1 with *v
 * set (MALFORMED for bytes that are not protobuf). */
static int s_wire_strings(const uint8_t *p, const uint8_t *end, const ProtobufCMessageDescriptor *d,
                          int depth, fb_verdict_t *v)
{
    if (depth > 16) return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MALFORMED, "nesting too deep");
    while (p < end) {
        uint64_t key, n;
        if (s_read_varint(&p, end, &key)) goto malformed;
        switch (key & 7) {
        case 0:
            if (s_read_varint(&p, end, &n)) goto malformed;
            continue;
        case 1:
            if (end - p < 8) goto malformed;
            p += 8;
            continue;
        case 5:
            if (end - p < 4) goto malformed;
            p += 4;
            continue;
        case 2:
            break;
        default:
            goto malformed;
        }
        if (s_read_varint(&p, end, &n) || n > (uint64_t)(end - p)) goto malformed;
        const ProtobufCFieldDescriptor *f = key >> 3 <= UINT32_MAX
                                                ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3))
                                                : NULL;
        if (f && f->type == PROTOBUF_C_TYPE_STRING && !fb_utf8_valid((const char *)p, (size_t)n))
            return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_UTF8,
                             "field %s.%s is not valid UTF-8 (or holds a NUL)", d->short_name, f->name);
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
            s_wire_strings(p, p + n, f->descriptor, depth + 1, v) != 0)
            return -1;
        p += n;
    }
    return 0;
malformed:
    return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MALFORMED, "envelope is not a decodable protobuf message");
}

static void *s_arena_alloc(void *arena, size_t size)
{
    return fb_arena_alloc(arena, size);
}

static void s_arena_free(void *arena, void *p)
{
    (void)arena;
    (void)p; /* released with the arena */
}

void fb_envelope_arena_allocator(fb_arena_t *arena, ProtobufCAllocator *a)
{
    a->alloc = s_arena_alloc;
    a->free = s_arena_free;
    a->allocator_data = arena;
}

Fedbus__Envelope *fb_envelope_unpack_in(fb_arena_t *arena, const uint8_t *buf, size_t len)
{
    ProtobufCAllocator a = {s_arena_alloc, s_arena_free, arena};
    return fedbus__envelope__unpack(arena ? &a : NULL, len, buf);
}

Fedbus__Envelope *fb_envelope_decode_in(fb_arena_t *arena, const uint8_t *buf, size_t len,
                                        fb_verdict_t *v, Fedbus__Envelope **bad)
{
    ProtobufCAllocator a = {s_arena_alloc, s_arena_free, arena};
    ProtobufCAllocator *alloc = arena ? &a : NULL;
    if (bad) *bad = NULL;
    Fedbus__Envelope *env = fedbus__envelope__unpack(alloc, len, buf);
    if (!env) {
        s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MALFORMED, "envelope is not a decodable protobuf message");
        return NULL;
    }
    if (s_wire_strings(buf, buf + len, &fedbus__envelope__descriptor, 0, v) != 0 || s_check(env, v, 1) != 0) {
        if (bad) *bad = env;
        else if (!arena) fedbus__envelope__free_unpacked(env, NULL);
        return NULL;
    }
    return env;
}

Fedbus__Envelope *fb_envelope_decode(const uint8_t *buf, size_t len, fb_verdict_t *v,
                                     Fedbus__Envelope **bad)
{
    return fb_envelope_decode_in(NULL, buf, len, v, bad);
}

static size_t s_varint(uint64_t x, uint8_t *out)
{
    size_t n = 0;
    while (x >= 0x80) {
        out[n++] = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    out[n++] = (uint8_t)x;
    return n;
}

size_t fb_envelope_stamp(uint64_t global_seq, int64_t stored_at_us, uint8_t *out)
{
    size_t n = 0;
    out[n++] = (7 << 3) | 0; /* global_seq, varint */
    n += s_varint(global_seq, out + n);
    out[n++] = (9 << 3) | 0; /* stored_at_us, varint */
    n += s_varint((uint64_t)stored_at_us, out + n);
    return n;
}

/* Reads a varint at *p (< end); returns 0 and advances *p, or -1. */
static int s_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
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

/* Reads the field at *p (< end is not required): its key, and for wire
 * type 0 its value in *v, for type 2 its bytes (*data, *v long); fixed
 * fields are stepped over (*data at their bytes). Returns 1 and advances
 * *p, 0 at end, -1 when the bytes are not well-formed protobuf (truncated,
 * a length past the end, a wire type protobuf 3 does not use). */
static int s_next_field(const uint8_t **p, const uint8_t *end, uint64_t *key, uint64_t *v,
                        const uint8_t **data)
{
    if (*p >= end) return 0;
    if (s_read_varint(p, end, key)) return -1;
    *v = 0;
    *data = NULL;
    switch (*key & 7) {
    case 0:
        return s_read_varint(p, end, v) ? -1 : 1;
    case 1:
        if (end - *p < 8) return -1;
        *data = *p;
        *p += 8;
        return 1;
    case 2:
        if (s_read_varint(p, end, v) || *v > (uint64_t)(end - *p)) return -1;
        *data = *p;
        *p += *v;
        return 1;
    case 5:
        if (end - *p < 4) return -1;
        *data = *p;
        *p += 4;
        return 1;
    default:
        return -1;
    }
}

#define S_HASH_PARTS 16

int fb_envelope_content_hash(const uint8_t *buf, size_t len, uint8_t out[32])
{
    const void *parts[S_HASH_PARTS];
    size_t lens[S_HASH_PARTS], n = 0;
    const uint8_t *p = buf, *end = buf + len, *data;
    while (p < end) {
        const uint8_t *start = p;
        uint64_t key, v;
        if (s_next_field(&p, end, &key, &v, &data) != 1) return -1;
        uint64_t tag = key >> 3;
        if (tag == 3 || tag >= S_PAYLOAD_FIRST) {
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

static size_t s_varint_size(uint64_t x)
{
    size_t n = 1;
    while (x >= 0x80) x >>= 7, n++;
    return n;
}

/* Allocates a publish frame for an envelope of env_len bytes, writes the two
 * headers, and returns where the envelope goes in *body. */
static uint8_t *s_frame_alloc(size_t env_len, size_t *len, uint8_t **body)
{
    size_t pub_len = 1 + s_varint_size(env_len) + env_len;
    *len = 1 + s_varint_size(pub_len) + pub_len;
    uint8_t *f = malloc(*len), *p = f;
    if (!f) return NULL;
    *p++ = (1 << 3) | 2; /* NodeMessage.publish */
    p += s_varint(pub_len, p);
    *p++ = (1 << 3) | 2; /* Publish.envelope */
    p += s_varint(env_len, p);
    *body = p;
    return f;
}

uint8_t *fb_envelope_publish_frame(const Fedbus__Envelope *env, size_t *len)
{
    uint8_t *body, *f = s_frame_alloc(fedbus__envelope__get_packed_size(env), len, &body);
    if (f) fedbus__envelope__pack(env, body);
    return f;
}

uint8_t *fb_envelope_publish_wrap(const uint8_t *env, size_t env_len, const uint8_t *tail,
                                  size_t tail_len, size_t *len)
{
    uint8_t *body, *f = s_frame_alloc(env_len + tail_len, len, &body);
    if (!f) return NULL;
    memcpy(body, env, env_len);
    if (tail_len) memcpy(body + env_len, tail, tail_len);
    return f;
}

int fb_envelope_scan(const uint8_t *buf, size_t len, fb_envelope_head_t *h)
{
    const uint8_t *p = buf, *end = buf + len, *d;
    uint64_t key, v;
    int rc;
    memset(h, 0, sizeof(*h));
    while ((rc = s_next_field(&p, end, &key, &v, &d)) == 1) {
        uint64_t tag = key >> 3;
        if ((key & 7) == 0) {
            if (tag == 4) h->created_at_us = (int64_t)v;
            else if (tag == 5) h->schema_version = v;
            else if (tag == 6) h->origin_seq = v;
            else if (tag == 7) h->global_seq = v;
            else if (tag == 9) h->stored_at_us = (int64_t)v;
        } else if ((key & 7) == 2) {
            if (tag == 1) h->message_id = d, h->message_id_len = (size_t)v;
            else if (tag == 2) h->origin = d, h->origin_len = (size_t)v;
            else if (tag == 3) h->topic = d, h->topic_len = (size_t)v;
        }
    }
    return rc;
}

int fb_ack_scan(const uint8_t *buf, size_t len, fb_ack_view_t *a)
{
    const uint8_t *p = buf, *end = buf + len, *d;
    uint64_t key, v;
    int rc;
    memset(a, 0, sizeof(*a));
    while ((rc = s_next_field(&p, end, &key, &v, &d)) == 1) {
        uint64_t tag = key >> 3;
        int type = (int)(key & 7);
        if (tag == 0) return -1;
        if (tag == 1 || tag == 6) {
            if (type != 2) return -1;
            if (tag == 1) a->message_id = d, a->message_id_len = (size_t)v;
            else a->detail = (const char *)d, a->detail_len = (size_t)v;
        } else if (tag >= 2 && tag <= 5) {
            if (type != 0) return -1;
            /* Enums are int32 on the wire: a negative one is ten bytes. */
            if (tag == 2) a->status = (int32_t)v;
            else if (tag == 3) a->global_seq = v;
            else if (tag == 4) a->origin_seq = v;
            else a->reason = (int32_t)v;
        }
    }
    return rc;
}

size_t fb_envelope_put_varint(uint32_t tag, uint64_t value, uint8_t *out)
{
    size_t n = s_varint((uint64_t)tag << 3, out);
    return n + s_varint(value, out + n);
}

size_t fb_envelope_put_bytes(uint32_t tag, const void *data, size_t len, uint8_t *out)
{
    size_t n = s_varint((uint64_t)tag << 3 | 2, out);
    n += s_varint(len, out + n);
    memcpy(out + n, data, len);
    return n + len;
}

int fb_envelope_sole_field(const uint8_t *frame, size_t len, uint32_t tag, const uint8_t **body,
                           size_t *body_len)
{
    const uint8_t *p = frame, *end = frame + len;
    uint64_t key, n;
    if (s_read_varint(&p, end, &key) || key != ((uint64_t)tag << 3 | 2) || s_read_varint(&p, end, &n) ||
        n != (uint64_t)(end - p))
        return -1;
    *body = p;
    *body_len = (size_t)n;
    return 0;
}

int fb_envelope_next_bytes(const uint8_t **p, const uint8_t *end, uint32_t tag, const uint8_t **data,
                           size_t *len)
{
    uint64_t key, v;
    const uint8_t *d;
    int rc;
    while ((rc = s_next_field(p, end, &key, &v, &d)) == 1)
        if ((key & 7) == 2 && key >> 3 == tag) {
            *data = d;
            *len = (size_t)v;
            return 1;
        }
    return rc;
}

size_t fb_envelope_put_header(uint32_t tag, size_t len, uint8_t *out)
{
    size_t n = s_varint((uint64_t)tag << 3 | 2, out);
    return n + s_varint(len, out + n);
}

size_t fb_envelope_field_size(uint32_t tag, size_t len)
{
    return s_varint_size((uint64_t)tag << 3 | 2) + s_varint_size(len) + len;
}

int fb_envelope_publish_view(const uint8_t *frame, size_t len, const uint8_t **env, size_t *env_len)
{
    const uint8_t *p = frame, *end = frame + len;
    uint64_t n;
    /* NodeMessage.publish (field 1, length-delimited) filling the frame... */
    if (p == end || *p++ != ((1 << 3) | 2) || s_read_varint(&p, end, &n) || n != (uint64_t)(end - p))
        return -1;
    /* ...holding Publish.envelope (field 1, length-delimited) filling it. */
    if (p == end || *p++ != ((1 << 3) | 2) || s_read_varint(&p, end, &n) || n != (uint64_t)(end - p))
        return -1;
    *env = p;
    *env_len = (size_t)n;
    return 0;
}
