/* test_wire.c — the wire format byte for byte, with protobuf-c as the reference.
 *
 * It tests the format itself, so it spells field numbers and writes bytes
 * by hand. Wherever fb_wire writes a message, protobuf-c packing the same
 * message is the reference; wherever it reads one in place, protobuf-c
 * unpacking it is. */
#include "fb_wire.h"

#include "fb_envelope.h"
#include "fedbus/fedbus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define S_R(x) FEDBUS__REJECT_REASON__REJECT_##x
#define S_CREATED_US 1773291600000000LL /* 2026-03-12T14:00:00+09:00 */

/* A complete event from Incheon, with the parts a test changes at hand. */
typedef struct {
    Fedbus__Envelope env;
    Fedbus__Event event;
    Fedbus__Text title;
    Fedbus__Timestamp starts;
    uint8_t id[16];
} s_fix_t;

static Fedbus__Envelope *s_event(s_fix_t *f)
{
    static const uint8_t id[16] = {0x01, 0x9c, 0xe0, 0x6a, 0x78, 0xfb, 0x7a, 0x2b,
                                   0x8c, 0x4d, 0x12, 0x34, 0x56, 0x78, 0x90, 0xab};
    *f = (s_fix_t){.env = FEDBUS__ENVELOPE__INIT, .event = FEDBUS__EVENT__INIT,
                   .title = FEDBUS__TEXT__INIT, .starts = FEDBUS__TIMESTAMP__INIT};
    memcpy(f->id, id, sizeof(id));
    f->title.ko = "인천 과학기술 포럼";
    f->title.en = "Incheon S&T Forum";
    f->starts.unix_us = S_CREATED_US + 86400LL * 1000000;
    f->starts.utc_offset_min = 540;
    f->event.kind = FEDBUS__EVENT_KIND__EVENT_KIND_FORUM;
    f->event.title = &f->title;
    f->event.starts_at = &f->starts;
    f->env.message_id = (ProtobufCBinaryData){sizeof(f->id), f->id};
    f->env.origin = "kr-incheon";
    f->env.topic = "event.kr-incheon.forum";
    f->env.created_at_us = S_CREATED_US;
    f->env.schema_version = FEDBUS_SCHEMA_VERSION;
    f->env.origin_seq = 7;
    f->env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_EVENT;
    f->env.event = &f->event;
    return &f->env;
}

/* Packs msg with protobuf-c into a new buffer with room for appended
 * fields (caller frees); *len receives its size. */
static uint8_t *s_pb_pack(const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(*len + 128);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(msg, buf), *len);
    return buf;
}

static uint8_t *s_pack(const Fedbus__Envelope *env, size_t *len)
{
    return s_pb_pack(&env->base, len);
}

/* ----------------------------------------------------------- stored stamp --- */

/* Stamps the packed good event with (seq, at) and checks the result. */
static void s_assert_stamp_round_trips(uint64_t seq, int64_t at)
{
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    uint8_t *orig = malloc(len);
    assert_non_null(orig);
    memcpy(orig, buf, len);
    size_t n = fb_wire_stamp_stored(seq, at, buf + len);
    assert_true(n > 0);
    assert_true(n <= FB_STAMP_MAX);
    Fedbus__Envelope *got = fedbus__envelope__unpack(NULL, len + n, buf);
    assert_non_null(got);
    assert_int_equal(got->global_seq, seq);
    assert_int_equal(got->stored_at_us, at);
    /* Everything else is the publisher's envelope, byte for byte. */
    got->global_seq = 0;
    got->stored_at_us = 0;
    size_t len2;
    uint8_t *again = s_pack(got, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(again, orig, len);
    free(again);
    fedbus__envelope__free_unpacked(got, NULL);
    free(orig);
    free(buf);
}

static void test_stamp_appended_to_the_bytes_sets_only_the_broker_fields(void **state)
{
    (void)state;
    s_assert_stamp_round_trips((1ULL << 40) + 5, 1773291600123456LL);
    s_assert_stamp_round_trips(1, 1773291600000001LL);
    s_assert_stamp_round_trips(UINT64_MAX, INT64_MAX);
    s_assert_stamp_round_trips(127, -1); /* negative: the longest varint */
}

static void test_stamp_writes_two_varint_fields(void **state)
{
    (void)state;
    uint8_t out[FB_STAMP_MAX];
    size_t n = fb_wire_stamp_stored(300, 1, out);
    const uint8_t want[] = {0x38, 0xAC, 0x02, 0x48, 0x01}; /* 7:300, 9:1 */
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(fb_wire_stamp_stored(UINT64_MAX, -1, out), 22);
}

/* ---------------------------------------------------------- content hash --- */

static void s_hash_of(const Fedbus__Envelope *env, uint8_t out[32])
{
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    assert_int_equal(fb_wire_content_hash(buf, len, out), 0);
    free(buf);
}

static void test_content_hash_ignores_ids_sequences_times_and_stamp(void **state)
{
    (void)state;
    s_fix_t f;
    uint8_t a[32], b[32];
    Fedbus__Envelope *env = s_event(&f);
    s_hash_of(env, a);
    env->origin_seq = 99;
    env->created_at_us += 1000;
    f.id[0] ^= 0xFF;
    s_hash_of(env, b);
    assert_memory_equal(a, b, 32);
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    size_t n = fb_wire_stamp_stored(12345, S_CREATED_US, buf + len);
    assert_int_equal(fb_wire_content_hash(buf, len + n, b), 0);
    assert_memory_equal(a, b, 32);
    free(buf);
}

static void test_content_hash_changes_with_topic_or_payload(void **state)
{
    (void)state;
    s_fix_t f;
    uint8_t a[32], b[32];
    Fedbus__Envelope *env = s_event(&f);
    s_hash_of(env, a);
    env->topic = "event.kr-incheon.seminar";
    s_hash_of(env, b);
    assert_memory_not_equal(a, b, 32);
    env = s_event(&f);
    f.title.en = "Incheon S&T Forum 2026";
    s_hash_of(env, b);
    assert_memory_not_equal(a, b, 32);
    env = s_event(&f);
    s_hash_of(env, b);
    assert_memory_equal(a, b, 32); /* and back to the original: deterministic */
}

static void test_content_hash_of_broken_bytes_fails(void **state)
{
    (void)state;
    uint8_t h[32];
    const uint8_t unterminated[] = {0x80};
    const uint8_t short_string[] = {0x1A, 0x05, 'a'};
    const uint8_t bad_wire_type[] = {0x1F};
    const uint8_t short_fixed64[] = {0x09, 1, 2, 3};
    assert_int_equal(fb_wire_content_hash(unterminated, sizeof(unterminated), h), -1);
    assert_int_equal(fb_wire_content_hash(short_string, sizeof(short_string), h), -1);
    assert_int_equal(fb_wire_content_hash(bad_wire_type, sizeof(bad_wire_type), h), -1);
    assert_int_equal(fb_wire_content_hash(short_fixed64, sizeof(short_fixed64), h), -1);
}

/* ----------------------------------------------------------- origin stamp --- */

/* Appends the stamp *s to the packed good event and returns what protobuf-c
 * decodes from the result (caller frees); asserts the stamp's size bound
 * and that nothing was written past the bytes it counts. */
static Fedbus__Envelope *s_stamped(const fb_wire_origin_stamp_t *s)
{
    s_fix_t f;
    size_t len;
    uint8_t *buf = s_pack(s_event(&f), &len);
    memset(buf + len, 0xEE, 128);
    size_t n = fb_wire_stamp_origin(s, buf + len);
    assert_true(n <= FB_ORIGIN_STAMP_MAX + s->origin_len);
    assert_int_equal(buf[len + n], 0xEE);
    Fedbus__Envelope *got = fedbus__envelope__unpack(NULL, len + n, buf);
    assert_non_null(got);
    free(buf);
    return got;
}

static void test_stamp_origin_appended_to_an_envelope_overrides_the_publishers_fields(void **state)
{
    (void)state;
    static const uint8_t id[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    fb_wire_origin_stamp_t s = {.origin = "kr-busan", .origin_len = 8, .message_id = id,
                                .created_at_us = S_CREATED_US + 5, .schema_version = 3,
                                .origin_seq = 1ULL << 40};
    Fedbus__Envelope *got = s_stamped(&s);
    assert_string_equal(got->origin, "kr-busan");
    assert_int_equal(got->message_id.len, 16);
    assert_memory_equal(got->message_id.data, id, 16);
    assert_int_equal(got->created_at_us, S_CREATED_US + 5);
    assert_int_equal(got->schema_version, 3);
    assert_int_equal(got->origin_seq, 1ULL << 40);
    /* The rest is the publisher's. */
    assert_string_equal(got->topic, "event.kr-incheon.forum");
    assert_string_equal(got->event->title->en, "Incheon S&T Forum");
    fedbus__envelope__free_unpacked(got, NULL);
}

static void test_stamp_origin_of_the_largest_values_stays_within_its_bound(void **state)
{
    (void)state;
    static const uint8_t id[16] = {0xff};
    const char *origin = "kr-a-member-id-of-32-characters-"; /* FB_SEGMENT_MAX */
    fb_wire_origin_stamp_t s = {.origin = origin, .origin_len = strlen(origin), .message_id = id,
                                .created_at_us = INT64_MIN, .schema_version = UINT32_MAX,
                                .origin_seq = UINT64_MAX};
    assert_int_equal(s.origin_len, 32);
    Fedbus__Envelope *got = s_stamped(&s);
    assert_string_equal(got->origin, origin);
    assert_int_equal(got->created_at_us, INT64_MIN); /* negative: the longest varint */
    assert_int_equal(got->schema_version, UINT32_MAX);
    assert_int_equal(got->origin_seq, UINT64_MAX);
    fedbus__envelope__free_unpacked(got, NULL);
}

static void test_stamp_origin_writes_only_the_fields_that_are_set(void **state)
{
    (void)state;
    static const uint8_t id[16] = {0xaa, 0xbb};
    uint8_t out[FB_ORIGIN_STAMP_MAX];
    fb_wire_origin_stamp_t none = {0};
    assert_int_equal(fb_wire_stamp_origin(&none, out), 0);
    /* Each field alone: it is stamped, every other one stays the
     * publisher's (a zero written for it would replace the publisher's). */
    const fb_wire_origin_stamp_t alone[] = {
        {.origin = "kr-busan", .origin_len = 8},
        {.message_id = id},
        {.created_at_us = -1},
        {.schema_version = 2},
        {.origin_seq = 300},
    };
    s_fix_t f;
    const Fedbus__Envelope *pub = s_event(&f);
    for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++) {
        const fb_wire_origin_stamp_t *s = &alone[i];
        Fedbus__Envelope *got = s_stamped(s);
        assert_string_equal(got->origin, s->origin ? s->origin : pub->origin);
        assert_memory_equal(got->message_id.data, s->message_id ? s->message_id : pub->message_id.data, 16);
        assert_int_equal(got->created_at_us, s->created_at_us ? s->created_at_us : pub->created_at_us);
        assert_int_equal(got->schema_version, s->schema_version ? s->schema_version : pub->schema_version);
        assert_int_equal(got->origin_seq, s->origin_seq ? s->origin_seq : pub->origin_seq);
        fedbus__envelope__free_unpacked(got, NULL);
    }
    /* An origin that is set but empty is written: it empties the publisher's. */
    fb_wire_origin_stamp_t empty = {.origin = ""};
    assert_int_equal(fb_wire_stamp_origin(&empty, out), 2);
    Fedbus__Envelope *got = s_stamped(&empty);
    assert_string_equal(got->origin, "");
    fedbus__envelope__free_unpacked(got, NULL);
}

/* ------------------------------------------------------ payload and future --- */

static void test_is_payload_tag_holds_exactly_for_the_payload_oneof_and_the_tags_after_it(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &fedbus__envelope__descriptor;
    uint32_t first = UINT32_MAX;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        int in_payload = (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
        if (fb_wire_is_payload_tag(fd->id) != in_payload)
            fail_msg("envelope field %s (%u): is_payload_tag says %d", fd->name, fd->id, !in_payload);
        if (in_payload && fd->id < first) first = fd->id;
    }
    assert_true(first < UINT32_MAX);
    /* Every tag before the first kind, used or reserved, is no payload... */
    for (uint32_t tag = 0; tag < first; tag++) assert_false(fb_wire_is_payload_tag(tag));
    /* ...and every tag from it up is one, known or not. */
    assert_true(fb_wire_is_payload_tag(first + 100));
    assert_true(fb_wire_is_payload_tag(536870911)); /* the largest tag protobuf allows */
}

/* One field as read from the wire. */
typedef struct {
    uint32_t tag;
    int type;
    uint64_t v;          /* a varint's value, or the length of bytes */
    const uint8_t *data; /* the bytes */
} s_field_t;

/* Reads the one field that fills buf[0..len). */
static s_field_t s_sole(const uint8_t *buf, size_t len)
{
    s_field_t f;
    const uint8_t *p = buf;
    uint64_t key;
    assert_int_equal(fb_wire_next_field(&p, buf + len, &key, &f.v, &f.data), 1);
    assert_ptr_equal(p, buf + len);
    f.tag = (uint32_t)(key >> 3);
    f.type = (int)(key & 7);
    return f;
}

static void test_unknown_payload_is_a_payload_kind_this_build_does_not_know(void **state)
{
    (void)state;
    uint8_t buf[32];
    s_field_t f = s_sole(buf, fb_wire_put_unknown_payload("abc", 3, buf));
    assert_int_equal(f.type, 2);
    assert_int_equal(f.v, 3);
    assert_memory_equal(f.data, "abc", 3);
    assert_true(fb_wire_is_payload_tag(f.tag));
    assert_null(protobuf_c_message_descriptor_get_field(&fedbus__envelope__descriptor, f.tag));
    assert_int_equal(fb_wire_put_unknown_payload(NULL, 0, buf), 3); /* key (2 bytes), length */
}

static void test_unknown_field_has_a_number_no_message_read_from_the_wire_uses(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *read[] = {
        &fedbus__envelope__descriptor,      &fedbus__node_message__descriptor,
        &fedbus__broker_message__descriptor, &fedbus__publish__descriptor,
        &fedbus__publish_batch__descriptor, &fedbus__feed_batch__descriptor,
        &fedbus__ack__descriptor,           &fedbus__ack_batch__descriptor,
        &fedbus__hello__descriptor,         &fedbus__heartbeat__descriptor,
        &fedbus__welcome__descriptor,
    };
    uint8_t buf[16];
    s_field_t f = s_sole(buf, fb_wire_put_unknown_field(300, buf));
    assert_int_equal(f.type, 0);
    assert_int_equal(f.v, 300);
    assert_false(fb_wire_is_payload_tag(f.tag));
    for (size_t i = 0; i < sizeof(read) / sizeof(read[0]); i++)
        if (protobuf_c_message_descriptor_get_field(read[i], f.tag))
            fail_msg("%s has a field %u", read[i]->name, f.tag);
    assert_int_equal(fb_wire_put_unknown_field(UINT64_MAX, buf), 11);
}

/* ------------------------------------------------------- publish view --- */

/* Packs NodeMessage{publish{envelope = env bytes}}; caller frees. */
static uint8_t *s_publish_frame(const uint8_t *env, size_t env_len, size_t *len)
{
    Fedbus__Publish pub = FEDBUS__PUBLISH__INIT;
    pub.envelope.data = (uint8_t *)env;
    pub.envelope.len = env_len;
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_PUBLISH;
    nm.publish = &pub;
    return s_pb_pack(&nm.base, len);
}

static void test_publish_frame_is_what_protobuf_c_packs(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    size_t elen = fedbus__envelope__get_packed_size(env), want_len, got_len, wrap_len;
    uint8_t *e = malloc(elen);
    fedbus__envelope__pack(env, e);
    uint8_t *want = s_publish_frame(e, elen, &want_len);
    uint8_t *got = fb_envelope_publish_frame(env, &got_len);
    uint8_t *wrap = fb_wire_publish_wrap(e, elen, NULL, 0, &wrap_len);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    assert_int_equal(wrap_len, want_len);
    assert_memory_equal(wrap, want, want_len);
    free(wrap);
    free(got);
    free(want);
    free(e);
}

static void test_publish_view_points_at_the_envelope_bytes(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    size_t elen = fedbus__envelope__get_packed_size(env), flen;
    uint8_t *e = malloc(elen);
    fedbus__envelope__pack(env, e);
    uint8_t *frame = s_publish_frame(e, elen, &flen);
    const uint8_t *view = NULL;
    size_t vlen = 0;
    assert_int_equal(fb_wire_publish_view(frame, flen, &view, &vlen), 0);
    assert_int_equal(vlen, elen);
    assert_memory_equal(view, e, elen);
    assert_true(view > frame && view + vlen == frame + flen); /* in place, no copy */
    free(frame);
    free(e);
}

static void test_publish_view_declines_every_other_frame(void **state)
{
    (void)state;
    const uint8_t env[] = {0x1a, 0x01, 'x'};
    size_t flen;
    uint8_t *frame = s_publish_frame(env, sizeof(env), &flen);
    const uint8_t *view;
    size_t vlen;
    /* trailing bytes after the publish, a cut frame, an empty frame */
    frame[flen] = 0x10, frame[flen + 1] = 0x01;
    assert_int_equal(fb_wire_publish_view(frame, flen + 2, &view, &vlen), -1);
    assert_int_equal(fb_wire_publish_view(frame, flen - 1, &view, &vlen), -1);
    assert_int_equal(fb_wire_publish_view(frame, 0, &view, &vlen), -1);
    free(frame);
    /* a Hello */
    Fedbus__Hello h = FEDBUS__HELLO__INIT;
    h.origin = "kr-busan";
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HELLO;
    nm.hello = &h;
    uint8_t buf[64];
    size_t hlen = fedbus__node_message__pack(&nm, buf);
    assert_int_equal(fb_wire_publish_view(buf, hlen, &view, &vlen), -1);
    /* a length that runs past the frame */
    const uint8_t bad[] = {0x0a, 0x05, 0x0a, 0x09, 0x00};
    assert_int_equal(fb_wire_publish_view(bad, sizeof(bad), &view, &vlen), -1);
}

static void test_scan_reads_the_top_level_fields_and_appended_ones_win(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->origin = "";     /* left for the node */
    env->origin_seq = 0;
    size_t elen = fedbus__envelope__get_packed_size(env);
    uint8_t *e = malloc(elen + 64);
    fedbus__envelope__pack(env, e);
    fb_envelope_head_t h;
    assert_int_equal(fb_wire_envelope_scan(e, elen, &h), 0);
    assert_int_equal(h.message_id_len, 16);
    assert_memory_equal(h.message_id, f.id, 16);
    assert_int_equal(h.origin_len, 0);
    assert_int_equal(h.topic_len, strlen(env->topic));
    assert_memory_equal(h.topic, env->topic, h.topic_len);
    assert_int_equal(h.created_at_us, S_CREATED_US);
    assert_int_equal(h.schema_version, FEDBUS_SCHEMA_VERSION);
    assert_int_equal(h.origin_seq, 0);
    /* What a node appends is what a reader decodes. */
    size_t n = elen;
    n += fb_wire_put_bytes(2, "kr-incheon", 10, e + n);
    n += fb_wire_put_uint(6, 300, e + n);
    assert_int_equal(fb_wire_envelope_scan(e, n, &h), 0);
    assert_int_equal(h.origin_len, 10);
    assert_int_equal(h.origin_seq, 300);
    Fedbus__Envelope *got = fedbus__envelope__unpack(NULL, n, e);
    assert_non_null(got);
    assert_string_equal(got->origin, "kr-incheon");
    assert_int_equal(got->origin_seq, 300);
    assert_string_equal(got->event->title->ko, "인천 과학기술 포럼");
    fedbus__envelope__free_unpacked(got, NULL);
    /* Not protobuf: a length past the end, a group wire type. */
    const uint8_t bad1[] = {0x1a, 0x09, 'x'}, bad2[] = {0x0b};
    assert_int_equal(fb_wire_envelope_scan(bad1, sizeof(bad1), &h), -1);
    assert_int_equal(fb_wire_envelope_scan(bad2, sizeof(bad2), &h), -1);
    free(e);
}

/* ------------------------------------------------- batch frames in place --- */

/* Packs NodeMessage{publish_batch{envelopes}} with protobuf-c; caller frees. */
static uint8_t *s_batch_frame(ProtobufCBinaryData *envs, size_t n, size_t *len)
{
    Fedbus__PublishBatch pb = FEDBUS__PUBLISH_BATCH__INIT;
    pb.envelopes = envs;
    pb.n_envelopes = n;
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_PUBLISH_BATCH;
    nm.publish_batch = &pb;
    return s_pb_pack(&nm.base, len);
}

/* Three envelopes whose sizes need length varints of one, two and three
 * bytes, so that every header width is exercised. */
typedef struct {
    ProtobufCBinaryData envs[3];
    uint8_t *bufs[3];
} s_three_t;

static void s_three(s_three_t *t)
{
    static const size_t sizes[3] = {5, 300, 20000};
    for (int i = 0; i < 3; i++) {
        t->bufs[i] = malloc(sizes[i]);
        assert_non_null(t->bufs[i]);
        memset(t->bufs[i], 'a' + i, sizes[i]);
        t->envs[i].data = t->bufs[i];
        t->envs[i].len = sizes[i];
    }
}

static void s_three_free(s_three_t *t)
{
    for (int i = 0; i < 3; i++) free(t->bufs[i]);
}

static void test_sole_field_gives_the_contents_of_a_frame_that_is_that_field(void **state)
{
    (void)state;
    s_three_t t;
    s_three(&t);
    size_t flen;
    uint8_t *frame = s_batch_frame(t.envs, 3, &flen);
    Fedbus__PublishBatch pb = FEDBUS__PUBLISH_BATCH__INIT;
    pb.envelopes = t.envs;
    pb.n_envelopes = 3;
    size_t blen = fedbus__publish_batch__get_packed_size(&pb);
    uint8_t *want = malloc(blen);
    fedbus__publish_batch__pack(&pb, want);
    const uint8_t *body = NULL;
    size_t body_len = 0;
    assert_int_equal(fb_wire_sole_field(frame, flen, 4, &body, &body_len), 0);
    assert_int_equal(body_len, blen);
    assert_memory_equal(body, want, blen);
    assert_true(body > frame && body + body_len == frame + flen); /* in place, no copy */
    free(want);
    free(frame);
    s_three_free(&t);
}

static void test_sole_field_accepts_a_field_of_no_bytes(void **state)
{
    (void)state;
    /* NodeMessage{publish_batch{}}: the field is there, the batch is empty
     * (the broker then refuses it for holding no envelope). */
    const uint8_t frame[] = {0x22, 0x00};
    const uint8_t *body = NULL;
    size_t body_len = 99;
    assert_int_equal(fb_wire_sole_field(frame, sizeof(frame), 4, &body, &body_len), 0);
    assert_int_equal(body_len, 0);
    assert_ptr_equal(body, frame + 2);
}

static void test_sole_field_declines_another_tag_or_wire_type(void **state)
{
    (void)state;
    s_three_t t;
    s_three(&t);
    size_t flen;
    uint8_t *frame = s_batch_frame(t.envs, 3, &flen);
    const uint8_t *body;
    size_t body_len;
    assert_int_equal(fb_wire_sole_field(frame, flen, 1, &body, &body_len), -1);
    assert_int_equal(fb_wire_sole_field(frame, flen, 3, &body, &body_len), -1);
    /* tag 4 as a varint, then as a fixed32: not length-delimited */
    const uint8_t varint[] = {0x20, 0x05}, fixed32[] = {0x25, 1, 2, 3, 4};
    assert_int_equal(fb_wire_sole_field(varint, sizeof(varint), 4, &body, &body_len), -1);
    assert_int_equal(fb_wire_sole_field(fixed32, sizeof(fixed32), 4, &body, &body_len), -1);
    free(frame);
    s_three_free(&t);
}

static void test_sole_field_declines_trailing_bytes(void **state)
{
    (void)state;
    s_three_t t;
    s_three(&t);
    size_t flen;
    uint8_t *frame = s_batch_frame(t.envs, 3, &flen);
    const uint8_t *body;
    size_t body_len;
    /* NodeMessage{publish_batch, hello{}}: more than the batch alone */
    frame[flen] = 0x12, frame[flen + 1] = 0x00;
    assert_int_equal(fb_wire_sole_field(frame, flen + 2, 4, &body, &body_len), -1);
    /* a single stray byte */
    assert_int_equal(fb_wire_sole_field(frame, flen + 1, 4, &body, &body_len), -1);
    free(frame);
    s_three_free(&t);
}

static void test_sole_field_declines_a_truncated_length(void **state)
{
    (void)state;
    s_three_t t;
    s_three(&t);
    size_t flen;
    uint8_t *frame = s_batch_frame(t.envs, 3, &flen);
    const uint8_t *body;
    size_t body_len;
    /* the length says more than the frame holds */
    assert_int_equal(fb_wire_sole_field(frame, flen - 1, 4, &body, &body_len), -1);
    /* the length varint itself is cut, or missing */
    const uint8_t cut[] = {0x22, 0x80}, bare[] = {0x22};
    assert_int_equal(fb_wire_sole_field(cut, sizeof(cut), 4, &body, &body_len), -1);
    assert_int_equal(fb_wire_sole_field(bare, sizeof(bare), 4, &body, &body_len), -1);
    free(frame);
    s_three_free(&t);
}

static void test_sole_field_declines_an_empty_frame(void **state)
{
    (void)state;
    const uint8_t none[1] = {0};
    const uint8_t *body;
    size_t body_len;
    assert_int_equal(fb_wire_sole_field(none, 0, 4, &body, &body_len), -1);
}

static void test_next_bytes_yields_each_wanted_field_in_place_and_in_order(void **state)
{
    (void)state;
    s_three_t t;
    s_three(&t);
    size_t flen;
    uint8_t *frame = s_batch_frame(t.envs, 3, &flen);
    const uint8_t *list, *data;
    size_t list_len, len;
    assert_int_equal(fb_wire_sole_field(frame, flen, 4, &list, &list_len), 0);
    const uint8_t *p = list, *end = list + list_len;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fb_wire_next_bytes(&p, end, 1, &data, &len), 1);
        assert_int_equal(len, t.envs[i].len);
        assert_memory_equal(data, t.envs[i].data, len);
        assert_true(data > list && data + len <= end);
    }
    assert_int_equal(fb_wire_next_bytes(&p, end, 1, &data, &len), 0);
    assert_ptr_equal(p, end);
    free(frame);
    s_three_free(&t);
}

static void test_next_bytes_skips_other_fields_of_every_wire_type(void **state)
{
    (void)state;
    const uint8_t buf[] = {
        0x10, 0xAC, 0x02,                               /* 2: varint 300 */
        0x19, 1, 2, 3, 4, 5, 6, 7, 8,                   /* 3: fixed64 */
        0x0a, 0x01, 'x',                                /* 1: "x" (wanted) */
        0x25, 1, 2, 3, 4,                               /* 4: fixed32 */
        0x2a, 0x02, 'y', 'y',                           /* 5: bytes, another tag */
        0x9a, 0x01, 0x01, 'z',                          /* 19: bytes, a two-byte key */
        0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, /* 6: longest varint */
        0x08, 0x07,                                     /* 1 as a varint: not a bytes field */
        0x0a, 0x00,                                     /* 1: "" (wanted, empty) */
        0x0d, 9, 9, 9, 9,                               /* 1 as a fixed32 */
    };
    const uint8_t *p = buf, *end = buf + sizeof(buf), *data;
    size_t len;
    assert_int_equal(fb_wire_next_bytes(&p, end, 1, &data, &len), 1);
    assert_int_equal(len, 1);
    assert_int_equal(data[0], 'x');
    assert_int_equal(fb_wire_next_bytes(&p, end, 1, &data, &len), 1);
    assert_int_equal(len, 0);
    assert_int_equal(fb_wire_next_bytes(&p, end, 1, &data, &len), 0);
    assert_ptr_equal(p, end);
    /* The same bytes, asking for the two-byte tag. */
    p = buf;
    assert_int_equal(fb_wire_next_bytes(&p, end, 19, &data, &len), 1);
    assert_int_equal(len, 1);
    assert_int_equal(data[0], 'z');
    assert_int_equal(fb_wire_next_bytes(&p, end, 19, &data, &len), 0);
}

/* Asserts that reading buf for tag 1 fails. */
static void s_assert_next_fails(const uint8_t *buf, size_t len)
{
    const uint8_t *p = buf, *data;
    size_t n;
    assert_int_equal(fb_wire_next_bytes(&p, buf + len, 1, &data, &n), -1);
}

static void test_next_bytes_fails_on_a_truncated_varint(void **state)
{
    (void)state;
    const uint8_t key[] = {0x80}, value[] = {0x10, 0xff, 0xff}, length[] = {0x0a, 0x80};
    const uint8_t after_good[] = {0x0a, 0x01, 'x', 0x10, 0x80};
    s_assert_next_fails(key, sizeof(key));
    s_assert_next_fails(value, sizeof(value));
    s_assert_next_fails(length, sizeof(length));
    /* the good field first comes out; the broken one after it is an error, not an end */
    const uint8_t *p = after_good, *end = after_good + sizeof(after_good), *data;
    size_t n;
    assert_int_equal(fb_wire_next_bytes(&p, end, 1, &data, &n), 1);
    assert_int_equal(fb_wire_next_bytes(&p, end, 1, &data, &n), -1);
}

static void test_next_bytes_fails_on_a_length_past_the_end(void **state)
{
    (void)state;
    const uint8_t wanted[] = {0x0a, 0x05, 'a', 'b'}, other[] = {0x12, 0x05, 'a'};
    const uint8_t fixed64[] = {0x19, 1, 2, 3}, fixed32[] = {0x25, 1};
    s_assert_next_fails(wanted, sizeof(wanted));
    s_assert_next_fails(other, sizeof(other));
    s_assert_next_fails(fixed64, sizeof(fixed64));
    s_assert_next_fails(fixed32, sizeof(fixed32));
}

static void test_next_bytes_fails_on_wire_types_protobuf_does_not_use(void **state)
{
    (void)state;
    const uint8_t group_start[] = {0x13}, group_end[] = {0x14}, six[] = {0x16, 0x00}, seven[] = {0x17, 0x00};
    s_assert_next_fails(group_start, sizeof(group_start));
    s_assert_next_fails(group_end, sizeof(group_end));
    s_assert_next_fails(six, sizeof(six));
    s_assert_next_fails(seven, sizeof(seven));
}

static void test_next_bytes_returns_0_at_the_end(void **state)
{
    (void)state;
    const uint8_t none[1] = {0}, other[] = {0x10, 0x01};
    const uint8_t *p = none, *data = NULL;
    size_t len = 0;
    assert_int_equal(fb_wire_next_bytes(&p, none, 1, &data, &len), 0);
    assert_ptr_equal(p, none);
    /* only fields of other tags: nothing, and the cursor reached the end */
    p = other;
    assert_int_equal(fb_wire_next_bytes(&p, other + sizeof(other), 1, &data, &len), 0);
    assert_ptr_equal(p, other + sizeof(other));
}

static void test_put_header_and_field_size_agree(void **state)
{
    (void)state;
    const uint32_t tags[] = {1, 3, 4, 15, 16, 2047, 2048, 536870911};
    const size_t lens[] = {0, 1, 127, 128, 16383, 16384, 2097151, 2097152, (size_t)1 << 31};
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
        for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
            uint8_t out[16];
            memset(out, 0xEE, sizeof(out));
            size_t n = fb_wire_put_header(tags[i], lens[k], out);
            assert_in_range(n, 2, 15);
            assert_int_equal(out[n], 0xEE); /* nothing written beyond what it says */
            assert_int_equal(fb_wire_field_size(tags[i], lens[k]), n + lens[k]);
            /* and the header reads back as that tag and length */
            uint8_t buf[16];
            memcpy(buf, out, n);
            const uint8_t *p = buf, *data;
            size_t len;
            if (lens[k] == 0) {
                assert_int_equal(fb_wire_next_bytes(&p, buf + n, tags[i], &data, &len), 1);
                assert_int_equal(len, 0);
            } else {
                /* the contents are not there: a well-formed header, a length past the end */
                assert_int_equal(fb_wire_next_bytes(&p, buf + n, tags[i], &data, &len), -1);
            }
        }
}

/* A protobuf-c Ack holding what *v holds (detail NUL-terminated there). */
static Fedbus__Ack s_pb_ack(const fb_ack_view_t *v)
{
    Fedbus__Ack a = FEDBUS__ACK__INIT;
    a.message_id = (ProtobufCBinaryData){v->message_id_len, (uint8_t *)v->message_id};
    a.status = (Fedbus__AckStatus)v->status;
    a.global_seq = v->global_seq;
    a.origin_seq = v->origin_seq;
    a.reason = (Fedbus__RejectReason)v->reason;
    a.detail = v->detail_len ? (char *)v->detail : "";
    return a;
}

/* Three acks as the broker answers a batch: accepted, duplicate, refused. */
static void s_three_acks(fb_ack_view_t v[3])
{
    static const uint8_t id[3][16] = {{1}, {2}, {3}};
    static const char dup[] = "stored before", bad[] = "topic 'event..x' is outside the grammar";
    v[0] = (fb_ack_view_t){.status = FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED, .global_seq = 1ULL << 40,
                           .origin_seq = 7};
    v[1] = (fb_ack_view_t){.status = FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE, .global_seq = 3,
                           .origin_seq = 8, .detail = dup, .detail_len = strlen(dup)};
    v[2] = (fb_ack_view_t){.status = FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED, .reason = S_R(BAD_TOPIC),
                           .detail = bad, .detail_len = strlen(bad)};
    for (int i = 0; i < 3; i++) v[i].message_id = id[i], v[i].message_id_len = 16;
}

/* Packs BrokerMessage{ack_batch{acks v[0..n)}} with protobuf-c; caller frees. */
static uint8_t *s_ack_batch_frame(const fb_ack_view_t *v, size_t n, size_t *len)
{
    Fedbus__Ack acks[3], *ptrs[3];
    assert_true(n <= 3);
    for (size_t i = 0; i < n; i++) acks[i] = s_pb_ack(&v[i]), ptrs[i] = &acks[i];
    Fedbus__AckBatch ab = FEDBUS__ACK_BATCH__INIT;
    ab.acks = ptrs;
    ab.n_acks = n;
    Fedbus__BrokerMessage bm = FEDBUS__BROKER_MESSAGE__INIT;
    bm.body_case = FEDBUS__BROKER_MESSAGE__BODY_ACK_BATCH;
    bm.ack_batch = &ab;
    return s_pb_pack(&bm.base, len);
}

/* Packs BrokerMessage{ack{*v}} with protobuf-c; caller frees. */
static uint8_t *s_ack_frame(const fb_ack_view_t *v, size_t *len)
{
    Fedbus__Ack a = s_pb_ack(v);
    Fedbus__BrokerMessage bm = FEDBUS__BROKER_MESSAGE__INIT;
    bm.body_case = FEDBUS__BROKER_MESSAGE__BODY_ACK;
    bm.ack = &a;
    return s_pb_pack(&bm.base, len);
}

static void test_publish_batch_written_with_the_item_writers_is_what_protobuf_c_packs(void **state)
{
    (void)state;
    s_three_t t;
    s_three(&t);
    size_t want_len;
    uint8_t *want = s_batch_frame(t.envs, 3, &want_len);
    /* As a node writes one: the frame's header, then each envelope's, the
     * last two as a writer that copies the envelope itself. */
    size_t inner = 0;
    for (int i = 0; i < 3; i++) inner += fb_wire_item_size(t.envs[i].len);
    assert_int_equal(fb_wire_publish_batch_size(inner), want_len);
    uint8_t *got = malloc(want_len), *p = got;
    p += fb_wire_put_publish_batch_header(inner, p);
    p += fb_wire_put_item(t.envs[0].data, t.envs[0].len, p);
    for (int i = 1; i < 3; i++) {
        p += fb_wire_put_item_header(t.envs[i].len, p);
        memcpy(p, t.envs[i].data, t.envs[i].len);
        p += t.envs[i].len;
    }
    assert_int_equal((size_t)(p - got), want_len);
    assert_memory_equal(got, want, want_len);
    free(got);
    free(want);
    s_three_free(&t);
}

static void test_ack_batch_written_with_put_ack_is_what_protobuf_c_packs(void **state)
{
    (void)state;
    fb_ack_view_t v[3];
    s_three_acks(v);
    size_t want_len;
    uint8_t *want = s_ack_batch_frame(v, 3, &want_len);
    /* As the broker writes an AckBatch. */
    size_t inner = 0;
    for (int i = 0; i < 3; i++) inner += fb_wire_item_size(fb_wire_ack_size(&v[i]));
    assert_int_equal(fb_wire_ack_batch_size(inner), want_len);
    uint8_t *got = malloc(want_len), *p = got;
    p += fb_wire_put_ack_batch_header(inner, p);
    for (int i = 0; i < 3; i++) {
        p += fb_wire_put_item_header(fb_wire_ack_size(&v[i]), p);
        p += fb_wire_put_ack(&v[i], p);
    }
    assert_int_equal((size_t)(p - got), want_len);
    assert_memory_equal(got, want, want_len);
    /* And read back in place, as a node reads the broker's answer. */
    const uint8_t *items, *item;
    size_t items_len, item_len;
    assert_int_equal(fb_wire_ack_batch_view(got, want_len, &items, &items_len), 0);
    const uint8_t *q = items;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fb_wire_next_item(&q, items + items_len, &item, &item_len), 1);
        fb_ack_view_t a;
        assert_int_equal(fb_wire_ack_scan(item, item_len, &a), 0);
        assert_memory_equal(a.message_id, v[i].message_id, 16);
        assert_int_equal(a.status, v[i].status);
        assert_int_equal(a.global_seq, v[i].global_seq);
        assert_int_equal(a.reason, v[i].reason);
        assert_int_equal(a.detail_len, v[i].detail_len);
    }
    assert_int_equal(fb_wire_next_item(&q, items + items_len, &item, &item_len), 0);
    free(got);
    free(want);
}

/* Packs NodeMessage{hello{origin}} with protobuf-c; caller frees. */
static uint8_t *s_hello_frame(size_t *len)
{
    Fedbus__Hello h = FEDBUS__HELLO__INIT;
    h.origin = "kr-busan";
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HELLO;
    nm.hello = &h;
    return s_pb_pack(&nm.base, len);
}

/* Returns a + b, their bytes one after the other (caller frees). */
static uint8_t *s_cat(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, size_t *len)
{
    uint8_t *f = malloc(alen + blen + 1);
    assert_non_null(f);
    if (alen) memcpy(f, a, alen);
    if (blen) memcpy(f + alen, b, blen);
    *len = alen + blen;
    return f;
}

typedef int (*s_view_fn)(const uint8_t *frame, size_t len, const uint8_t **body, size_t *body_len);

/* Asserts that view finds the body of frame (its last body_len bytes) in
 * place, and refuses the frame with anything beside it: `other` (a frame
 * of another field of the same message) before or after it, an unknown
 * field after it, the frame twice, a stray byte, a cut; and `other` alone. */
static void s_assert_view_takes_the_field_alone(s_view_fn view, const uint8_t *frame, size_t len,
                                                size_t body_len, const uint8_t *other, size_t olen)
{
    const uint8_t *body = NULL;
    size_t blen = 0, n;
    assert_int_equal(view(frame, len, &body, &blen), 0);
    assert_int_equal(blen, body_len);
    assert_ptr_equal(body, frame + len - body_len); /* in place, no copy */
    uint8_t unknown[16], stray[1] = {0};
    size_t ulen = fb_wire_put_unknown_field(1, unknown);
    const struct {
        const uint8_t *a, *b;
        size_t alen, blen;
    } beside[] = {
        {other, frame, olen, len},   {frame, other, len, olen}, {frame, unknown, len, ulen},
        {frame, frame, len, len},    {frame, stray, len, 1},
    };
    for (size_t i = 0; i < sizeof(beside) / sizeof(beside[0]); i++) {
        uint8_t *f = s_cat(beside[i].a, beside[i].alen, beside[i].b, beside[i].blen, &n);
        if (view(f, n, &body, &blen) != -1) fail_msg("shape %zu: taken with something beside", i);
        free(f);
    }
    assert_int_equal(view(frame, len - 1, &body, &blen), -1);
    assert_int_equal(view(frame, 0, &body, &blen), -1);
    assert_int_equal(view(other, olen, &body, &blen), -1);
}

static void test_publish_batch_view_takes_a_frame_that_is_the_batch_alone(void **state)
{
    (void)state;
    s_three_t t;
    s_three(&t);
    size_t flen, plen, inner = 0;
    uint8_t *frame = s_batch_frame(t.envs, 3, &flen);
    uint8_t *publish = fb_wire_publish_wrap(t.envs[0].data, t.envs[0].len, NULL, 0, &plen);
    for (int i = 0; i < 3; i++) inner += fb_wire_item_size(t.envs[i].len);
    s_assert_view_takes_the_field_alone(fb_wire_publish_batch_view, frame, flen, inner, publish, plen);
    free(publish);
    free(frame);
    s_three_free(&t);
}

static void test_ack_batch_view_takes_a_frame_that_is_the_ack_batch_alone(void **state)
{
    (void)state;
    fb_ack_view_t v[3];
    s_three_acks(v);
    size_t flen, alen, inner = 0;
    uint8_t *frame = s_ack_batch_frame(v, 3, &flen);
    uint8_t *ack = s_ack_frame(&v[0], &alen);
    for (int i = 0; i < 3; i++) inner += fb_wire_item_size(fb_wire_ack_size(&v[i]));
    s_assert_view_takes_the_field_alone(fb_wire_ack_batch_view, frame, flen, inner, ack, alen);
    free(ack);
    free(frame);
}

static void test_ack_frame_view_takes_a_frame_that_is_the_ack_alone(void **state)
{
    (void)state;
    fb_ack_view_t v[3];
    s_three_acks(v);
    size_t flen, blen;
    uint8_t *frame = s_ack_frame(&v[2], &flen);
    uint8_t *batch = s_ack_batch_frame(v, 1, &blen);
    s_assert_view_takes_the_field_alone(fb_wire_ack_frame_view, frame, flen, fb_wire_ack_size(&v[2]),
                                        batch, blen);
    free(batch);
    free(frame);
}

static void test_has_publish_batch_finds_a_batch_anywhere_in_the_frame(void **state)
{
    (void)state;
    s_three_t t;
    s_three(&t);
    size_t blen, hlen, plen, n;
    uint8_t *batch = s_batch_frame(t.envs, 3, &blen);
    uint8_t *hello = s_hello_frame(&hlen);
    uint8_t *publish = fb_wire_publish_wrap(t.envs[0].data, t.envs[0].len, NULL, 0, &plen);
    uint8_t empty[16], unknown[16];
    size_t elen = fb_wire_put_publish_batch_header(0, empty);
    size_t ulen = fb_wire_put_unknown_field(1, unknown);
    assert_int_equal(fb_wire_has_publish_batch(batch, blen), 1);
    assert_int_equal(fb_wire_has_publish_batch(empty, elen), 1); /* an empty batch is one */
    uint8_t *f = s_cat(hello, hlen, batch, blen, &n);
    assert_int_equal(fb_wire_has_publish_batch(f, n), 1);
    free(f);
    f = s_cat(unknown, ulen, empty, elen, &n);
    assert_int_equal(fb_wire_has_publish_batch(f, n), 1);
    free(f);
    /* none: a publish, a Hello, nothing at all */
    assert_int_equal(fb_wire_has_publish_batch(publish, plen), 0);
    assert_int_equal(fb_wire_has_publish_batch(hello, hlen), 0);
    assert_int_equal(fb_wire_has_publish_batch(hello, 0), 0);
    /* not protobuf: a cut batch, a Hello then a cut varint */
    assert_int_equal(fb_wire_has_publish_batch(batch, blen - 1), -1);
    const uint8_t cut[] = {0x80};
    f = s_cat(hello, hlen, cut, sizeof(cut), &n);
    assert_int_equal(fb_wire_has_publish_batch(f, n), -1);
    free(f);
    free(publish);
    free(hello);
    free(batch);
    s_three_free(&t);
}

/* ------------------------------------------------------------------- acks --- */

static void test_ack_scan_reads_what_protobuf_c_packed(void **state)
{
    (void)state;
    uint8_t id[16] = {0x01, 0x8f, 0x01, 0x02, 0x03, 0x04, 0x70, 0x05, 0x80, 0x06, 7, 8, 9, 10, 11, 12};
    Fedbus__Ack a = FEDBUS__ACK__INIT;
    a.message_id = (ProtobufCBinaryData){sizeof(id), id};
    a.status = FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED;
    a.global_seq = 1ULL << 40;
    a.origin_seq = 300;
    a.reason = FEDBUS__REJECT_REASON__REJECT_NAMESPACE;
    a.detail = (char *)"topic is outside the namespace";
    size_t len;
    uint8_t *b = s_pb_pack(&a.base, &len);
    fb_ack_view_t v;
    assert_int_equal(fb_wire_ack_scan(b, len, &v), 0);
    assert_int_equal(v.message_id_len, sizeof(id));
    assert_memory_equal(v.message_id, id, sizeof(id));
    assert_true(v.message_id >= b && v.message_id < b + len); /* in place */
    assert_int_equal(v.status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_int_equal(v.global_seq, 1ULL << 40);
    assert_int_equal(v.origin_seq, 300);
    assert_int_equal(v.reason, FEDBUS__REJECT_REASON__REJECT_NAMESPACE);
    assert_int_equal(v.detail_len, strlen(a.detail));
    assert_memory_equal(v.detail, a.detail, v.detail_len);
    free(b);
}

static void test_ack_scan_of_nothing_is_all_zero(void **state)
{
    (void)state;
    fb_ack_view_t v;
    memset(&v, 0xab, sizeof(v));
    assert_int_equal(fb_wire_ack_scan((const uint8_t *)"", 0, &v), 0);
    assert_null(v.message_id);
    assert_int_equal(v.message_id_len, 0);
    assert_int_equal(v.status, 0);
    assert_int_equal(v.global_seq, 0);
    assert_null(v.detail);
}

/* protobuf-c gives an empty bytes field as NULL and 0 (an empty Publish,
 * an empty item of a batch or a chunk): every reader takes that as the
 * empty message it is, without arithmetic on the null pointer (undefined
 * behaviour, which the sanitizer build stops at). */
static void test_readers_take_no_bytes_given_as_a_null_pointer(void **state)
{
    (void)state;
    fb_envelope_head_t h;
    fb_ack_view_t a;
    uint8_t hash[32];
    const uint8_t *body = (const uint8_t *)"x", *p = NULL, *item;
    size_t len, item_len;
    uint64_t head;
    assert_int_equal(fb_wire_envelope_scan(NULL, 0, &h), 0);
    assert_null(h.topic);
    assert_int_equal(fb_wire_content_hash(NULL, 0, hash), 0);
    assert_int_equal(fb_wire_ack_scan(NULL, 0, &a), 0);
    assert_null(a.message_id);
    assert_int_equal(fb_wire_has_publish_batch(NULL, 0), 0);
    assert_int_equal(fb_wire_publish_view(NULL, 0, &body, &len), -1);
    assert_int_equal(fb_wire_publish_batch_view(NULL, 0, &body, &len), -1);
    assert_int_equal(fb_wire_ack_batch_view(NULL, 0, &body, &len), -1);
    assert_int_equal(fb_wire_ack_frame_view(NULL, 0, &body, &len), -1);
    assert_int_equal(fb_wire_sole_field(NULL, 0, 1, &body, &len), -1);
    assert_int_equal(fb_wire_feed_head_view(NULL, 0, &head), 0);
    assert_int_equal(fb_wire_next_item(&p, NULL, &item, &item_len), 0);
    /* A node wraps a submitter's empty envelope with its stamp. */
    uint8_t tail[2] = {0x30, 0x07}; /* origin_seq 7 */
    uint8_t *f = fb_wire_publish_wrap(NULL, 0, tail, sizeof(tail), &len);
    assert_non_null(f);
    assert_int_equal(fb_wire_publish_view(f, len, &body, &item_len), 0);
    assert_int_equal(item_len, 2);
    assert_memory_equal(body, tail, 2);
    free(f);
}

static void test_ack_scan_takes_the_last_occurrence_and_skips_unknown_fields(void **state)
{
    (void)state;
    /* global_seq 5, an unknown varint (field 15), an unknown fixed64 (field 14), global_seq 7,
     * a negative enum (status -1, ten bytes) */
    const uint8_t b[] = {0x18, 0x05, 0x78, 0x2a, 0x71, 1, 2, 3, 4, 5, 6, 7, 8, 0x18, 0x07,
                         0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    fb_ack_view_t v;
    assert_int_equal(fb_wire_ack_scan(b, sizeof(b), &v), 0);
    assert_int_equal(v.global_seq, 7);
    assert_int_equal(v.status, -1);
    Fedbus__Ack *a = fedbus__ack__unpack(NULL, sizeof(b), b); /* as protobuf-c reads it */
    assert_non_null(a);
    assert_int_equal(a->global_seq, 7);
    assert_int_equal((int)a->status, -1);
    fedbus__ack__free_unpacked(a, NULL);
}

static void test_ack_scan_refuses_what_is_not_an_ack(void **state)
{
    (void)state;
    fb_ack_view_t v;
    const uint8_t truncated_varint[] = {0x18, 0xff};
    const uint8_t length_past_end[] = {0x0a, 0x10, 1, 2, 3};
    const uint8_t group[] = {0x0b, 0x0c};
    const uint8_t tag_zero[] = {0x00, 0x01};
    const uint8_t id_as_varint[] = {0x08, 0x01};     /* message_id must be bytes */
    const uint8_t status_as_bytes[] = {0x12, 0x00};  /* status must be a varint */
    const uint8_t detail_as_fixed[] = {0x35, 1, 2, 3, 4};
    assert_int_equal(fb_wire_ack_scan(truncated_varint, sizeof(truncated_varint), &v), -1);
    assert_int_equal(fb_wire_ack_scan(length_past_end, sizeof(length_past_end), &v), -1);
    assert_int_equal(fb_wire_ack_scan(group, sizeof(group), &v), -1);
    assert_int_equal(fb_wire_ack_scan(tag_zero, sizeof(tag_zero), &v), -1);
    assert_int_equal(fb_wire_ack_scan(id_as_varint, sizeof(id_as_varint), &v), -1);
    assert_int_equal(fb_wire_ack_scan(status_as_bytes, sizeof(status_as_bytes), &v), -1);
    assert_int_equal(fb_wire_ack_scan(detail_as_fixed, sizeof(detail_as_fixed), &v), -1);
}

/* Asserts that fb_wire writes *v as the Ack protobuf-c packs, alone and
 * in BrokerMessage{ack}, and reads those bytes back into *v's values. */
static void s_assert_ack_is_what_protobuf_c_packs(const char *name, const fb_ack_view_t *v)
{
    Fedbus__Ack pa = s_pb_ack(v);
    size_t want_len;
    uint8_t *want = s_pb_pack(&pa.base, &want_len);
    size_t size = fb_wire_ack_size(v);
    if (size != want_len) fail_msg("%s: fb_wire_ack_size %zu, protobuf-c %zu", name, size, want_len);
    uint8_t *got = malloc(size + 1);
    assert_non_null(got);
    got[size] = 0xEE;
    assert_int_equal(fb_wire_put_ack(v, got), size);
    if (memcmp(got, want, size) != 0) fail_msg("%s: put_ack wrote other bytes than protobuf-c", name);
    assert_int_equal(got[size], 0xEE); /* nothing past what it counts */
    fb_ack_view_t back;
    assert_int_equal(fb_wire_ack_scan(got, size, &back), 0);
    assert_int_equal(back.message_id_len, v->message_id_len);
    if (v->message_id_len) assert_memory_equal(back.message_id, v->message_id, v->message_id_len);
    assert_int_equal(back.status, v->status);
    assert_int_equal(back.global_seq, v->global_seq);
    assert_int_equal(back.origin_seq, v->origin_seq);
    assert_int_equal(back.reason, v->reason);
    assert_int_equal(back.detail_len, v->detail_len);
    if (v->detail_len) assert_memory_equal(back.detail, v->detail, v->detail_len);
    free(got);
    free(want);
    /* The frame around it. */
    size_t frame_len, len;
    want = s_ack_frame(v, &want_len);
    got = fb_wire_ack_frame(v, &len);
    assert_non_null(got);
    if (len != want_len || memcmp(got, want, len) != 0)
        fail_msg("%s: ack frame of %zu bytes, protobuf-c packs %zu others", name, len, want_len);
    frame_len = fb_wire_ack_frame_size(size);
    assert_int_equal(frame_len, want_len);
    uint8_t head[16];
    size_t h = fb_wire_put_ack_frame_header(size, head);
    assert_int_equal(h + size, want_len);
    assert_memory_equal(head, want, h);
    free(got);
    free(want);
}

static void test_put_ack_and_ack_frame_write_what_protobuf_c_packs(void **state)
{
    (void)state;
    static const uint8_t id[16] = {0x01, 0x8f, 0x01, 0x02, 0x03, 0x04, 0x70, 0x05,
                                   0x80, 0x06, 7,    8,    9,    10,   11,   12};
    static char long_detail[20001];
    memset(long_detail, 'd', sizeof(long_detail) - 1);
    const char *mid = long_detail + sizeof(long_detail) - 301; /* 300 bytes: a two-byte length */
    const struct {
        const char *name;
        fb_ack_view_t v;
    } cases[] = {
        {"all fields empty", {0}},
        {"16-byte id alone", {.message_id = id, .message_id_len = 16}},
        {"1-byte id alone", {.message_id = id, .message_id_len = 1}},
        {"status alone", {.status = FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE}},
        {"negative status", {.status = -1}},
        {"global_seq 1 alone", {.global_seq = 1}},
        {"global_seq UINT64_MAX alone", {.global_seq = UINT64_MAX}},
        {"origin_seq 1 alone", {.origin_seq = 1}},
        {"origin_seq UINT64_MAX alone", {.origin_seq = UINT64_MAX}},
        {"reason alone", {.reason = S_R(NAMESPACE)}},
        {"negative reason", {.reason = INT32_MIN}},
        {"detail alone", {.detail = "x", .detail_len = 1}},
        {"empty detail", {.detail = "", .detail_len = 0}},
        {"300-byte detail", {.detail = mid, .detail_len = 300}},
        {"20000-byte detail", {.detail = long_detail, .detail_len = 20000}},
        {"accepted with sequences 0",
         {.message_id = id, .message_id_len = 16, .status = FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED}},
        {"accepted with the largest sequences",
         {.message_id = id, .message_id_len = 16, .status = FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED,
          .global_seq = UINT64_MAX, .origin_seq = UINT64_MAX}},
        {"refused, every field",
         {.message_id = id, .message_id_len = 16, .status = FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED,
          .global_seq = 1ULL << 40, .origin_seq = 300, .reason = S_R(BAD_TOPIC),
          .detail = "topic 'event..x' is outside the grammar", .detail_len = 39}},
        {"negative enums beside the rest",
         {.message_id = id, .message_id_len = 16, .status = INT32_MIN, .global_seq = 5,
          .origin_seq = 6, .reason = -7, .detail = mid, .detail_len = 300}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        s_assert_ack_is_what_protobuf_c_packs(cases[i].name, &cases[i].v);
}

static void test_field_numbers_outside_1_to_2_29_are_not_protobuf(void **state)
{
    (void)state;
    /* Field 0 (written short and long), field 2^29 and a key past 64 bits. */
    static const uint8_t zero[] = {0x02, 0x00}, zero_long[] = {0x82, 0x00, 0x00},
                         big[] = {0x80, 0x80, 0x80, 0x80, 0x10, 0x01}, ok[] = {0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01};
    const uint8_t *cases[] = {zero, zero_long, big};
    const size_t lens[] = {sizeof(zero), sizeof(zero_long), sizeof(big)};
    for (size_t i = 0; i < 3; i++) {
        const uint8_t *p = cases[i];
        uint64_t key, v;
        const uint8_t *d;
        assert_int_equal(fb_wire_next_field(&p, cases[i] + lens[i], &key, &v, &d), -1);
        fb_ack_view_t a;
        assert_int_equal(fb_wire_ack_scan(cases[i], lens[i], &a), -1);
    }
    /* The largest field number, 2^29-1, is a field like any other. */
    const uint8_t *p = ok;
    uint64_t key, v;
    const uint8_t *d;
    assert_int_equal(fb_wire_next_field(&p, ok + sizeof(ok), &key, &v, &d), 1);
    assert_int_equal(key >> 3, 536870911u);
    assert_int_equal(v, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamp_appended_to_the_bytes_sets_only_the_broker_fields),
        cmocka_unit_test(test_stamp_writes_two_varint_fields),
        cmocka_unit_test(test_field_numbers_outside_1_to_2_29_are_not_protobuf),
        cmocka_unit_test(test_content_hash_ignores_ids_sequences_times_and_stamp),
        cmocka_unit_test(test_content_hash_changes_with_topic_or_payload),
        cmocka_unit_test(test_content_hash_of_broken_bytes_fails),
        cmocka_unit_test(test_stamp_origin_appended_to_an_envelope_overrides_the_publishers_fields),
        cmocka_unit_test(test_stamp_origin_of_the_largest_values_stays_within_its_bound),
        cmocka_unit_test(test_stamp_origin_writes_only_the_fields_that_are_set),
        cmocka_unit_test(test_is_payload_tag_holds_exactly_for_the_payload_oneof_and_the_tags_after_it),
        cmocka_unit_test(test_unknown_payload_is_a_payload_kind_this_build_does_not_know),
        cmocka_unit_test(test_unknown_field_has_a_number_no_message_read_from_the_wire_uses),
        cmocka_unit_test(test_publish_frame_is_what_protobuf_c_packs),
        cmocka_unit_test(test_publish_view_points_at_the_envelope_bytes),
        cmocka_unit_test(test_publish_view_declines_every_other_frame),
        cmocka_unit_test(test_scan_reads_the_top_level_fields_and_appended_ones_win),
        cmocka_unit_test(test_sole_field_gives_the_contents_of_a_frame_that_is_that_field),
        cmocka_unit_test(test_sole_field_accepts_a_field_of_no_bytes),
        cmocka_unit_test(test_sole_field_declines_another_tag_or_wire_type),
        cmocka_unit_test(test_sole_field_declines_trailing_bytes),
        cmocka_unit_test(test_sole_field_declines_a_truncated_length),
        cmocka_unit_test(test_sole_field_declines_an_empty_frame),
        cmocka_unit_test(test_next_bytes_yields_each_wanted_field_in_place_and_in_order),
        cmocka_unit_test(test_next_bytes_skips_other_fields_of_every_wire_type),
        cmocka_unit_test(test_next_bytes_fails_on_a_truncated_varint),
        cmocka_unit_test(test_next_bytes_fails_on_a_length_past_the_end),
        cmocka_unit_test(test_next_bytes_fails_on_wire_types_protobuf_does_not_use),
        cmocka_unit_test(test_next_bytes_returns_0_at_the_end),
        cmocka_unit_test(test_put_header_and_field_size_agree),
        cmocka_unit_test(test_publish_batch_written_with_the_item_writers_is_what_protobuf_c_packs),
        cmocka_unit_test(test_ack_batch_written_with_put_ack_is_what_protobuf_c_packs),
        cmocka_unit_test(test_publish_batch_view_takes_a_frame_that_is_the_batch_alone),
        cmocka_unit_test(test_ack_batch_view_takes_a_frame_that_is_the_ack_batch_alone),
        cmocka_unit_test(test_ack_frame_view_takes_a_frame_that_is_the_ack_alone),
        cmocka_unit_test(test_has_publish_batch_finds_a_batch_anywhere_in_the_frame),
        cmocka_unit_test(test_ack_scan_reads_what_protobuf_c_packed),
        cmocka_unit_test(test_ack_scan_of_nothing_is_all_zero),
        cmocka_unit_test(test_readers_take_no_bytes_given_as_a_null_pointer),
        cmocka_unit_test(test_ack_scan_takes_the_last_occurrence_and_skips_unknown_fields),
        cmocka_unit_test(test_ack_scan_refuses_what_is_not_an_ack),
        cmocka_unit_test(test_put_ack_and_ack_frame_write_what_protobuf_c_packs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
