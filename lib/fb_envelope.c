/* fb_envelope.c — envelope decoding, validation and stamping. */
#include "fb_envelope.h"

#include "fb_crypto.h"
#include "fb_utf8.h"
#include "fedbus/fedbus.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_OFFSET_MAX (24 * 60)
#define S_TIME_MAX_US 253402300799999999LL /* 9999-12-31T23:59:59.999999Z */

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
    case FEDBUS__ENVELOPE__PAYLOAD_MEMBER_STATE:
        return FB_KIND_MEMBER_STATE;
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
    /* The store is partitioned by the time in the id, and retention drops
     * history by it: an id must say when it was made. */
    if (!fb_uuid_is_v7(env->message_id.data))
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                         "message_id must be a UUIDv7 (version 7, RFC 9562 variant: xxxxxxxx-xxxx-7xxx-[89ab]xxx-...)");
    if (!env->origin || !*env->origin)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "origin is required");
    if (!fb_segment_valid(env->origin, strlen(env->origin)))
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                         "origin is not 1-32 of [a-z0-9-]");
    if (env->created_at_us <= 0)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD, "created_at_us is required");
    /* Both reach PostgreSQL (timestamptz, bigint) and the broker's heads:
     * a value past these would fail every COPY of the batch that holds it. */
    if (env->created_at_us > S_TIME_MAX_US)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                         "created_at_us is after 9999-12-31T23:59:59.999999Z");
    if (env->origin_seq > (uint64_t)INT64_MAX)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                         "origin_seq is above 9223372036854775807 (2^63-1)");
    if (env->global_seq != 0 || env->stored_at_us != 0)
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                         "global_seq and stored_at_us are assigned by the broker");
    if (env->payload_case == FEDBUS__ENVELOPE__PAYLOAD__NOT_SET) {
        for (size_t i = 0; i < env->base.n_unknown_fields; i++)
            if (fb_wire_is_payload_tag(env->base.unknown_fields[i].tag))
                return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_UNKNOWN_KIND,
                                 "payload kind with tag %u is unknown to this broker",
                                 env->base.unknown_fields[i].tag);
        return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD,
                         "payload (event, cfp or researcher) is required");
    }
    /* A payload kind this build does not know beside one it does: a newer
     * reader would see two payloads, an older one only one of them, so the
     * envelope would mean different things to different readers. */
    for (size_t i = 0; i < env->base.n_unknown_fields; i++)
        if (fb_wire_is_payload_tag(env->base.unknown_fields[i].tag))
            return s_verdict(v, FEDBUS__REJECT_REASON__REJECT_UNKNOWN_KIND,
                             "payload kind with tag %u beside %s: an envelope carries one payload",
                             env->base.unknown_fields[i].tag, fb_envelope_kind(env));
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

/* The checks of s_check and s_check_event on what the one-pass reader
 * took (strings already UTF-8 without NUL, the payload an Event and no
 * unknown field); any that fails leaves the verdict to the decoder. */
int fb_envelope_view_ok(const fb_envelope_event_view_t *w)
{
    const fb_envelope_head_t *h = &w->head;
    const char *origin = (const char *)h->origin, *topic = (const char *)h->topic;
    const char *why;
    char seg[FB_SEGMENT_MAX + 1];
    if (h->schema_version == 0 || h->schema_version > FEDBUS_SCHEMA_VERSION) return 0;
    if (h->message_id_len != 16 || !fb_uuid_is_v7(h->message_id)) return 0;
    if (h->origin_len == 0 || !fb_segment_valid(origin, h->origin_len)) return 0;
    if (h->created_at_us <= 0 || h->created_at_us > S_TIME_MAX_US) return 0;
    if (h->origin_seq > (uint64_t)INT64_MAX || h->global_seq != 0 || h->stored_at_us != 0) return 0;
    if (!topic || !fb_topic_valid(topic, h->topic_len, &why)) return 0;
    if (fb_topic_segment(topic, h->topic_len, 0, seg, sizeof(seg)) < 0 || strcmp(seg, FB_KIND_EVENT) != 0) return 0;
    if (fb_topic_segment(topic, h->topic_len, 1, seg, sizeof(seg)) != (int)h->origin_len ||
        memcmp(seg, origin, h->origin_len) != 0)
        return 0;
    if (w->kind == FEDBUS__EVENT_KIND__EVENT_KIND_UNSPECIFIED ||
        !protobuf_c_enum_descriptor_get_value(&fedbus__event_kind__descriptor, (int)w->kind))
        return 0;
    if (!w->title_set || !w->has_starts) return 0;
    if (w->starts_off < -S_OFFSET_MAX || w->starts_off > S_OFFSET_MAX) return 0;
    if (w->has_ends && (w->ends_off < -S_OFFSET_MAX || w->ends_off > S_OFFSET_MAX || w->ends_us < w->starts_us))
        return 0;
    return 1; /* Event.fields: segments, checked by the reader */
}

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
        /* Field numbers run from 1 to 2^29-1 (protobuf-c takes 0 and more
         * when the key is written long); fb_wire refuses the rest too. */
        if (fb_wire_read_varint(&p, end, &key) || key >> 3 == 0 || key >> 3 > 536870911u) goto malformed;
        switch (key & 7) {
        case 0:
            if (fb_wire_read_varint(&p, end, &n)) goto malformed;
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
        if (fb_wire_read_varint(&p, end, &n) || n > (uint64_t)(end - p)) goto malformed;
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
    /* No bytes may come as NULL (an empty Publish): NULL + 0 is undefined. */
    if (s_wire_strings(buf, len ? buf + len : buf, &fedbus__envelope__descriptor, 0, v) != 0 || s_check(env, v, 1) != 0) {
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

uint8_t *fb_envelope_publish_frame(const Fedbus__Envelope *env, size_t *len)
{
    uint8_t *body, *f = fb_wire_publish_alloc(fedbus__envelope__get_packed_size(env), len, &body);
    if (f) fedbus__envelope__pack(env, body);
    return f;
}
