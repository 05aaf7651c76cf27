/* test_envelope.c — every reject reason of the envelope codec, in memory and on the wire; stamping; content
 * hash; batch frames read and written in place; decoding into an arena. */
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

/* One envelope with every part it points to, so a test can change any of them. */
typedef struct {
    Fedbus__Envelope env;
    uint8_t id[17];
    Fedbus__Event event;
    Fedbus__CallForProposals cfp;
    Fedbus__ResearcherUpdate researcher;
    Fedbus__Text title, venue_name, name;
    Fedbus__Timestamp starts, ends, opens, closes, occurred;
    Fedbus__Venue venue;
    Fedbus__Money budget;
    Fedbus__Contact contact;
    char *fields[2];
} s_fix_t;

static void s_fix_base(s_fix_t *f, const char *origin, const char *topic)
{
    static const uint8_t id[17] = {0x01, 0x9c, 0xe0, 0x6a, 0x78, 0xfb, 0x7a, 0x2b, 0x8c,
                                   0x4d, 0x12, 0x34, 0x56, 0x78, 0x90, 0xab, 0xcd};
    memset(f, 0, sizeof(*f));
    Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
    f->env = env;
    memcpy(f->id, id, sizeof(id));
    f->env.message_id.data = f->id;
    f->env.message_id.len = 16;
    f->env.origin = (char *)origin;
    f->env.topic = (char *)topic;
    f->env.created_at_us = S_CREATED_US;
    f->env.schema_version = FEDBUS_SCHEMA_VERSION;
    f->env.origin_seq = 7;
    Fedbus__Timestamp ts = FEDBUS__TIMESTAMP__INIT;
    f->starts = f->ends = f->opens = f->closes = f->occurred = ts;
    Fedbus__Text text = FEDBUS__TEXT__INIT;
    f->title = f->venue_name = f->name = text;
}

/* A complete event from Incheon. */
static Fedbus__Envelope *s_event(s_fix_t *f)
{
    s_fix_base(f, "kr-incheon", "event.kr-incheon.forum");
    Fedbus__Event e = FEDBUS__EVENT__INIT;
    f->event = e;
    f->event.kind = FEDBUS__EVENT_KIND__EVENT_KIND_FORUM;
    f->title.ko = "인천 과학기술 포럼";
    f->title.en = "Incheon S&T Forum";
    f->event.title = &f->title;
    f->starts.unix_us = S_CREATED_US + 86400LL * 1000000;
    f->starts.utc_offset_min = 540;
    f->ends.unix_us = f->starts.unix_us + 3LL * 3600 * 1000000;
    f->ends.utc_offset_min = 540;
    f->event.starts_at = &f->starts;
    f->event.ends_at = &f->ends;
    Fedbus__Venue v = FEDBUS__VENUE__INIT;
    f->venue = v;
    f->venue_name.ko = "송도 컨벤시아";
    f->venue.name = &f->venue_name;
    f->venue.city = "Incheon";
    f->event.venue = &f->venue;
    f->fields[0] = "bio";
    f->fields[1] = "ai";
    f->event.fields = f->fields;
    f->event.n_fields = 2;
    f->env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_EVENT;
    f->env.event = &f->event;
    return &f->env;
}

/* A complete call for proposals from Daejeon. */
static Fedbus__Envelope *s_cfp(s_fix_t *f)
{
    s_fix_base(f, "kr-daejeon", "cfp.kr-daejeon.bio");
    Fedbus__CallForProposals c = FEDBUS__CALL_FOR_PROPOSALS__INIT;
    f->cfp = c;
    f->title.ko = "바이오 연구개발 과제 공모";
    f->cfp.title = &f->title;
    f->opens.unix_us = S_CREATED_US;
    f->opens.utc_offset_min = 540;
    f->closes.unix_us = S_CREATED_US + 30LL * 86400 * 1000000;
    f->closes.utc_offset_min = 540;
    f->cfp.opens_at = &f->opens;
    f->cfp.closes_at = &f->closes;
    Fedbus__Money m = FEDBUS__MONEY__INIT;
    f->budget = m;
    f->budget.amount = 500000000;
    f->budget.currency = "KRW";
    f->cfp.budget = &f->budget;
    Fedbus__Contact k = FEDBUS__CONTACT__INIT;
    f->contact = k;
    f->contact.name = "김담당";
    f->contact.email = "cfp@kr-daejeon.example";
    f->cfp.contact = &f->contact;
    f->fields[0] = "bio";
    f->cfp.fields = f->fields;
    f->cfp.n_fields = 1;
    f->env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_CFP;
    f->env.cfp = &f->cfp;
    return &f->env;
}

/* A complete researcher update from Busan. */
static Fedbus__Envelope *s_researcher(s_fix_t *f)
{
    s_fix_base(f, "kr-busan", "researcher.kr-busan.award");
    Fedbus__ResearcherUpdate r = FEDBUS__RESEARCHER_UPDATE__INIT;
    f->researcher = r;
    f->researcher.researcher_id = "0000-0002-1825-0097";
    f->name.ko = "김연구";
    f->researcher.name = &f->name;
    f->researcher.kind = FEDBUS__RESEARCHER_UPDATE_KIND__RESEARCHER_UPDATE_KIND_AWARD;
    f->occurred.unix_us = S_CREATED_US;
    f->occurred.utc_offset_min = 540;
    f->researcher.occurred_at = &f->occurred;
    f->fields[0] = "marine";
    f->researcher.fields = f->fields;
    f->researcher.n_fields = 1;
    f->env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_RESEARCHER;
    f->env.researcher = &f->researcher;
    return &f->env;
}

/* Serialises env into a new buffer (caller frees); *len receives its size. */
static uint8_t *s_pack(const Fedbus__Envelope *env, size_t *len)
{
    *len = fedbus__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len + 64); /* room for appended fields */
    assert_non_null(buf);
    assert_int_equal(fedbus__envelope__pack(env, buf), *len);
    return buf;
}

/* Asserts that len bytes decode to a rejection with the given reason. */
static void s_assert_decode_rejects(const uint8_t *buf, size_t len, int reason)
{
    fb_verdict_t v;
    memset(&v, 0, sizeof(v));
    v.reason = -1;
    Fedbus__Envelope *got = fb_envelope_decode(buf, len, &v, NULL);
    if (got) {
        fedbus__envelope__free_unpacked(got, NULL);
        fail_msg("decode accepted bytes that should be %s", fb_reject_name(reason));
    }
    if (v.reason != reason)
        fail_msg("decode gave %s (%s), want %s", fb_reject_name(v.reason), v.detail, fb_reject_name(reason));
    assert_true(strlen(v.detail) > 0);
}

/* Asserts that env is rejected with reason both by fb_envelope_check and,
 * once serialised, by fb_envelope_decode; word must appear in the detail. */
static void s_assert_rejected(const Fedbus__Envelope *env, int reason, const char *word)
{
    fb_verdict_t v;
    memset(&v, 0, sizeof(v));
    v.reason = -1;
    if (fb_envelope_check(env, &v) != -1)
        fail_msg("check accepted topic '%s', want %s", env->topic, fb_reject_name(reason));
    if (v.reason != reason)
        fail_msg("check gave %s (%s), want %s", fb_reject_name(v.reason), v.detail, fb_reject_name(reason));
    if (word && !strstr(v.detail, word)) fail_msg("detail '%s' does not mention '%s'", v.detail, word);
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    s_assert_decode_rejects(buf, len, reason);
    free(buf);
}

/* Asserts that env passes the check and survives a decode unchanged. */
static void s_assert_accepted(const Fedbus__Envelope *env)
{
    fb_verdict_t v;
    memset(&v, 0x5A, sizeof(v));
    if (fb_envelope_check(env, &v) != 0) fail_msg("check refused: %s %s", fb_reject_name(v.reason), v.detail);
    assert_int_equal(v.reason, S_R(NONE));
    assert_string_equal(v.detail, "");
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    memset(&v, 0x5A, sizeof(v));
    Fedbus__Envelope *got = fb_envelope_decode(buf, len, &v, NULL);
    if (!got) fail_msg("decode refused: %s %s", fb_reject_name(v.reason), v.detail);
    assert_int_equal(v.reason, S_R(NONE));
    size_t len2;
    uint8_t *buf2 = s_pack(got, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
    free(buf2);
    fedbus__envelope__free_unpacked(got, NULL);
    free(buf);
}

/* ------------------------------------------------------------------ good --- */

static void test_good_event_passes(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    s_assert_accepted(env);
    assert_string_equal(fb_envelope_kind(env), "event");
}

static void test_good_cfp_passes(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_cfp(&f);
    s_assert_accepted(env);
    assert_string_equal(fb_envelope_kind(env), "cfp");
}

static void test_good_researcher_update_passes(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_researcher(&f);
    s_assert_accepted(env);
    assert_string_equal(fb_envelope_kind(env), "researcher");
}

static void test_optional_parts_may_be_left_out(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    f.event.ends_at = NULL;
    f.event.venue = NULL;
    f.event.n_fields = 0;
    f.event.fields = NULL;
    f.title.ko = ""; /* one language is enough */
    s_assert_accepted(env);
    env = s_cfp(&f);
    f.cfp.opens_at = NULL;
    f.cfp.budget = NULL;
    f.cfp.contact = NULL;
    s_assert_accepted(env);
    env = s_researcher(&f);
    f.researcher.occurred_at = NULL;
    s_assert_accepted(env);
}

static void test_subtopics_and_equal_times_are_fine(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->topic = "event.kr-incheon.forum.bio.2026";
    f.ends.unix_us = f.starts.unix_us; /* ends_at may equal starts_at */
    s_assert_accepted(env);
    env = s_cfp(&f);
    f.closes.unix_us = f.opens.unix_us;
    f.budget.amount = 0;
    s_assert_accepted(env);
}

static void test_kind_is_null_without_a_payload(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->payload_case = FEDBUS__ENVELOPE__PAYLOAD__NOT_SET;
    env->event = NULL;
    assert_null(fb_envelope_kind(env));
}

/* ------------------------------------------------------------- MALFORMED --- */

static void test_garbage_bytes_are_malformed(void **state)
{
    (void)state;
    const uint8_t unterminated[] = {0xFF, 0xFF, 0xFF, 0xFF};
    const uint8_t bad_wire_type[] = {0x0F, 0x00};          /* field 1, wire type 7 */
    const uint8_t short_string[] = {0x12, 0x05, 'a', 'b'}; /* origin says 5 bytes, has 2 */
    const uint8_t varint_for_string[] = {0x10, 0x01};      /* field 2 (a string) as a varint */
    s_assert_decode_rejects(unterminated, sizeof(unterminated), S_R(MALFORMED));
    s_assert_decode_rejects(bad_wire_type, sizeof(bad_wire_type), S_R(MALFORMED));
    s_assert_decode_rejects(short_string, sizeof(short_string), S_R(MALFORMED));
    s_assert_decode_rejects(varint_for_string, sizeof(varint_for_string), S_R(MALFORMED));
    const char *text = "{\"origin\": \"kr-incheon\"}";
    s_assert_decode_rejects((const uint8_t *)text, strlen(text), S_R(MALFORMED));
}

static void test_every_cut_inside_the_payload_is_malformed(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    /* The payload (field 16) is packed last: the bytes before it are the rest. */
    env->payload_case = FEDBUS__ENVELOPE__PAYLOAD__NOT_SET;
    size_t head = fedbus__envelope__get_packed_size(env);
    assert_true(head + 20 < len);
    for (size_t cut = head + 1; cut < len; cut++) s_assert_decode_rejects(buf, cut, S_R(MALFORMED));
    /* Cut right at the payload's start: well-formed, but the payload is missing. */
    s_assert_decode_rejects(buf, head, S_R(MISSING_FIELD));
    free(buf);
}

static void test_pseudo_random_bytes_never_decode(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    uint8_t buf[96];
    for (int i = 0; i < 2000; i++) {
        size_t len = (size_t)(i % (int)sizeof(buf)) + 1;
        for (size_t k = 0; k < len; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[k] = (uint8_t)x;
        }
        fb_verdict_t v;
        v.reason = S_R(NONE);
        Fedbus__Envelope *got = fb_envelope_decode(buf, len, &v, NULL);
        if (got) {
            fedbus__envelope__free_unpacked(got, NULL);
            fail_msg("random bytes #%d decoded", i);
        }
        assert_int_not_equal(v.reason, S_R(NONE));
    }
}

static void test_empty_bytes_decode_to_an_envelope_missing_its_fields(void **state)
{
    (void)state;
    const uint8_t none[1] = {0};
    s_assert_decode_rejects(none, 0, S_R(MISSING_FIELD));
}

/* ---------------------------------------------------------- INVALID_UTF8 --- */

static void test_invalid_utf8_in_a_nested_field_is_found(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    f.venue_name.ko = "\xED\xA0\x80 송도"; /* event.venue.name.ko: a surrogate */
    s_assert_rejected(env, S_R(INVALID_UTF8), ".ko");
    env = s_cfp(&f);
    f.contact.email = "cfp\xC0\x80@example";
    s_assert_rejected(env, S_R(INVALID_UTF8), "email");
}

static void test_invalid_utf8_in_a_repeated_string_is_found(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    f.fields[1] = "a\xC3"; /* truncated sequence in event.fields[1] */
    s_assert_rejected(env, S_R(INVALID_UTF8), "fields");
}

static void test_invalid_utf8_in_envelope_strings_comes_before_other_checks(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->topic = "event.kr-incheon.\xFF";
    s_assert_rejected(env, S_R(INVALID_UTF8), "topic");
    env = s_event(&f);
    env->origin = "kr-\xF4\x90\x80\x80";
    s_assert_rejected(env, S_R(INVALID_UTF8), "origin");
}

/* ---------------------------------------------------------- UNKNOWN_KIND --- */

/* Appends field `tag`, length-delimited, holding body, to buf at len; returns the new length. */
static size_t s_append_field(uint8_t *buf, size_t len, unsigned tag, const char *body)
{
    uint32_t key = tag << 3 | 2;
    while (key >= 0x80) {
        buf[len++] = (uint8_t)(key | 0x80);
        key >>= 7;
    }
    buf[len++] = (uint8_t)key;
    size_t n = strlen(body);
    assert_true(n < 0x80);
    buf[len++] = (uint8_t)n;
    memcpy(buf + len, body, n);
    return len + n;
}

static void test_payload_of_an_unknown_kind_is_refused(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->payload_case = FEDBUS__ENVELOPE__PAYLOAD__NOT_SET;
    env->event = NULL;
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    /* Field 19, as a newer publisher would send a fourth payload kind. */
    size_t len19 = s_append_field(buf, len, 19, "\x0a\x05hello");
    fb_verdict_t v;
    v.reason = -1;
    Fedbus__Envelope *got = fb_envelope_decode(buf, len19, &v, NULL);
    assert_null(got);
    assert_int_equal(v.reason, S_R(UNKNOWN_KIND));
    assert_non_null(strstr(v.detail, "19"));
    /* Without it, the same bytes only lack a payload. */
    s_assert_decode_rejects(buf, len, S_R(MISSING_FIELD));
    free(buf);
}

static void test_unknown_envelope_field_below_the_payload_tags_is_ignored(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    /* Tag 12 is reserved for a future envelope field: readers ignore it. */
    size_t len12 = s_append_field(buf, len, 12, "future");
    fb_verdict_t v;
    Fedbus__Envelope *got = fb_envelope_decode(buf, len12, &v, NULL);
    if (!got) fail_msg("refused: %s %s", fb_reject_name(v.reason), v.detail);
    assert_int_equal(v.reason, S_R(NONE));
    /* And it is kept, so it is forwarded as published. */
    assert_int_equal(got->base.n_unknown_fields, 1);
    assert_int_equal(got->base.unknown_fields[0].tag, 12);
    fedbus__envelope__free_unpacked(got, NULL);
    /* Without a payload, a reserved tag is no payload kind either. */
    env->payload_case = FEDBUS__ENVELOPE__PAYLOAD__NOT_SET;
    env->event = NULL;
    free(buf);
    buf = s_pack(env, &len);
    len12 = s_append_field(buf, len, 12, "future");
    s_assert_decode_rejects(buf, len12, S_R(MISSING_FIELD));
    free(buf);
}

/* --------------------------------------------------------- MISSING_FIELD --- */

static void test_envelope_fields_are_required(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->schema_version = 0;
    s_assert_rejected(env, S_R(MISSING_FIELD), "schema_version");
    env = s_event(&f);
    env->message_id.len = 0;
    env->message_id.data = NULL;
    s_assert_rejected(env, S_R(MISSING_FIELD), "message_id");
    env = s_event(&f);
    env->origin = "";
    s_assert_rejected(env, S_R(MISSING_FIELD), "origin");
    env = s_event(&f);
    env->created_at_us = 0;
    s_assert_rejected(env, S_R(MISSING_FIELD), "created_at");
    env = s_event(&f);
    env->created_at_us = -1;
    s_assert_rejected(env, S_R(MISSING_FIELD), "created_at");
}

static void test_payload_is_required(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->payload_case = FEDBUS__ENVELOPE__PAYLOAD__NOT_SET;
    env->event = NULL;
    s_assert_rejected(env, S_R(MISSING_FIELD), "payload");
}

static void test_event_needs_kind_title_and_start(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    f.event.kind = FEDBUS__EVENT_KIND__EVENT_KIND_UNSPECIFIED;
    s_assert_rejected(env, S_R(MISSING_FIELD), "event.kind");
    env = s_event(&f);
    f.event.title = NULL;
    s_assert_rejected(env, S_R(MISSING_FIELD), "event.title");
    env = s_event(&f);
    f.title.ko = "";
    f.title.en = ""; /* a title in neither language is no title */
    s_assert_rejected(env, S_R(MISSING_FIELD), "event.title");
    env = s_event(&f);
    f.event.starts_at = NULL;
    f.event.ends_at = NULL;
    s_assert_rejected(env, S_R(MISSING_FIELD), "event.starts_at");
}

static void test_cfp_needs_title_and_closing_time(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_cfp(&f);
    f.cfp.title = NULL;
    s_assert_rejected(env, S_R(MISSING_FIELD), "cfp.title");
    env = s_cfp(&f);
    f.cfp.closes_at = NULL;
    s_assert_rejected(env, S_R(MISSING_FIELD), "cfp.closes_at");
}

static void test_researcher_update_needs_id_name_and_kind(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_researcher(&f);
    f.researcher.researcher_id = "";
    s_assert_rejected(env, S_R(MISSING_FIELD), "researcher_id");
    env = s_researcher(&f);
    f.researcher.name = NULL;
    s_assert_rejected(env, S_R(MISSING_FIELD), "researcher.name");
    env = s_researcher(&f);
    f.researcher.kind = FEDBUS__RESEARCHER_UPDATE_KIND__RESEARCHER_UPDATE_KIND_UNSPECIFIED;
    s_assert_rejected(env, S_R(MISSING_FIELD), "researcher.kind");
}

/* --------------------------------------------------------- INVALID_FIELD --- */

static void test_message_id_must_be_16_bytes(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->message_id.len = 15;
    s_assert_rejected(env, S_R(INVALID_FIELD), "15");
    env->message_id.len = 17;
    s_assert_rejected(env, S_R(INVALID_FIELD), "17");
}

static void test_origin_must_be_a_member_id(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->origin = "KR-Incheon";
    s_assert_rejected(env, S_R(INVALID_FIELD), "origin");
}

static void test_end_before_start_is_invalid(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    f.ends.unix_us = f.starts.unix_us - 1;
    s_assert_rejected(env, S_R(INVALID_FIELD), "ends_at");
    env = s_cfp(&f);
    f.closes.unix_us = f.opens.unix_us - 1;
    s_assert_rejected(env, S_R(INVALID_FIELD), "closes_at");
}

static void test_utc_offset_beyond_a_day_is_invalid(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    f.ends.utc_offset_min = 24 * 60 + 1;
    s_assert_rejected(env, S_R(INVALID_FIELD), "offset");
    env = s_cfp(&f);
    f.opens.utc_offset_min = -24 * 60 - 1;
    s_assert_rejected(env, S_R(INVALID_FIELD), "offset");
    env = s_researcher(&f);
    f.occurred.utc_offset_min = 10000;
    s_assert_rejected(env, S_R(INVALID_FIELD), "offset");
}

static void test_budget_needs_an_iso_currency_and_a_non_negative_amount(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env;
    const char *bad[] = {"krw", "KR", "KRWX", "", "K1W"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        env = s_cfp(&f);
        f.budget.currency = (char *)bad[i];
        s_assert_rejected(env, S_R(INVALID_FIELD), "currency");
    }
    env = s_cfp(&f);
    f.budget.amount = -1;
    s_assert_rejected(env, S_R(INVALID_FIELD), "negative");
    env = s_cfp(&f);
    f.budget.currency = "USD";
    s_assert_accepted(env);
}

static void test_field_tags_must_be_segments(void **state)
{
    (void)state;
    s_fix_t f;
    const char *bad[] = {"Bio", "bio_tech", "", "-bio", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        Fedbus__Envelope *env = s_event(&f);
        f.fields[1] = (char *)bad[i];
        s_assert_rejected(env, S_R(INVALID_FIELD), "event.fields[1]");
        env = s_cfp(&f);
        f.fields[0] = (char *)bad[i];
        s_assert_rejected(env, S_R(INVALID_FIELD), "cfp.fields[0]");
        env = s_researcher(&f);
        f.fields[0] = (char *)bad[i];
        s_assert_rejected(env, S_R(INVALID_FIELD), "researcher.fields[0]");
    }
}

static void test_broker_fields_set_by_the_publisher_are_invalid(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->global_seq = 1;
    s_assert_rejected(env, S_R(INVALID_FIELD), "global_seq");
    env = s_event(&f);
    env->stored_at_us = S_CREATED_US;
    s_assert_rejected(env, S_R(INVALID_FIELD), "stored_at_us");
}

static void test_enum_value_unknown_to_this_build_is_invalid(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    f.event.kind = (Fedbus__EventKind)99;
    s_assert_rejected(env, S_R(INVALID_FIELD), "99");
    env = s_researcher(&f);
    f.researcher.kind = (Fedbus__ResearcherUpdateKind)42;
    s_assert_rejected(env, S_R(INVALID_FIELD), "42");
}

/* --------------------------------------------------- UNSUPPORTED_VERSION --- */

static void test_newer_schema_version_is_unsupported(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->schema_version = FEDBUS_SCHEMA_VERSION + 1;
    s_assert_rejected(env, S_R(UNSUPPORTED_VERSION), "2");
    env->schema_version = 1000;
    s_assert_rejected(env, S_R(UNSUPPORTED_VERSION), "1000");
}

/* ------------------------------------------------------------- BAD_TOPIC --- */

static void test_topic_outside_the_grammar_is_a_bad_topic(void **state)
{
    (void)state;
    const char *bad[] = {"", "event.kr-incheon", "event.kr-incheon.Forum", "event.kr-incheon..forum",
                         "event.kr-incheon.a.b.c.d.e", "event.kr-incheon.forum_2026"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s_fix_t f;
        Fedbus__Envelope *env = s_event(&f);
        env->topic = (char *)bad[i];
        s_assert_rejected(env, S_R(BAD_TOPIC), NULL);
    }
}

/* ------------------------------------------------------------- NAMESPACE --- */

static void test_topic_kind_must_match_the_payload(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->topic = "cfp.kr-incheon.forum";
    s_assert_rejected(env, S_R(NAMESPACE), "cfp");
    env = s_cfp(&f);
    env->topic = "event.kr-daejeon.bio";
    s_assert_rejected(env, S_R(NAMESPACE), "event");
    env = s_researcher(&f);
    env->topic = "event.kr-busan.award";
    s_assert_rejected(env, S_R(NAMESPACE), "researcher");
}

static void test_topic_origin_must_be_the_publishers(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->topic = "event.kr-busan.forum";
    s_assert_rejected(env, S_R(NAMESPACE), "kr-incheon");
    env = s_cfp(&f);
    env->topic = "cfp.kr-daejeon-2.bio"; /* a longer name is another member */
    s_assert_rejected(env, S_R(NAMESPACE), "kr-daejeon");
    env = s_researcher(&f);
    env->topic = "researcher.kr-busa.award";
    s_assert_rejected(env, S_R(NAMESPACE), "kr-busan");
}

/* ----------------------------------------------------------------- stamp --- */

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

static void test_stamped_envelope_is_refused_as_a_publish(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    size_t n = fb_wire_stamp_stored(42, S_CREATED_US + 5, buf + len);
    s_assert_decode_rejects(buf, len + n, S_R(INVALID_FIELD));
    free(buf);
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

/* ----------------------------------------------------------- reject names --- */

static void test_reject_names_are_the_enum_names_without_prefix(void **state)
{
    (void)state;
    assert_string_equal(fb_reject_name(S_R(NONE)), "NONE");
    assert_string_equal(fb_reject_name(S_R(MALFORMED)), "MALFORMED");
    assert_string_equal(fb_reject_name(S_R(BAD_TOPIC)), "BAD_TOPIC");
    assert_string_equal(fb_reject_name(S_R(NAMESPACE)), "NAMESPACE");
    assert_string_equal(fb_reject_name(S_R(INVALID_FIELD)), "INVALID_FIELD");
    assert_string_equal(fb_reject_name(S_R(UNKNOWN_REQUEST)), "UNKNOWN_REQUEST");
    assert_string_equal(fb_reject_name(999), "UNKNOWN");
    assert_string_equal(fb_reject_name(-1), "UNKNOWN");
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
    *len = fedbus__node_message__get_packed_size(&nm);
    uint8_t *f = malloc(*len + 8);
    fedbus__node_message__pack(&nm, f);
    return f;
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
    *len = fedbus__node_message__get_packed_size(&nm);
    uint8_t *f = malloc(*len + 8); /* room for trailing bytes */
    assert_non_null(f);
    assert_int_equal(fedbus__node_message__pack(&nm, f), *len);
    return f;
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

static void test_batch_written_with_put_header_is_what_protobuf_c_packs(void **state)
{
    (void)state;
    s_three_t t;
    s_three(&t);
    size_t want_len;
    uint8_t *want = s_batch_frame(t.envs, 3, &want_len);
    /* As a node writes one: the outer header, then each envelope's. */
    size_t inner = 0;
    for (int i = 0; i < 3; i++) inner += fb_wire_field_size(1, t.envs[i].len);
    size_t got_len = fb_wire_field_size(4, inner);
    assert_int_equal(got_len, want_len);
    uint8_t *got = malloc(got_len), *p = got;
    p += fb_wire_put_header(4, inner, p);
    for (int i = 0; i < 3; i++) {
        p += fb_wire_put_header(1, t.envs[i].len, p);
        memcpy(p, t.envs[i].data, t.envs[i].len);
        p += t.envs[i].len;
    }
    assert_int_equal((size_t)(p - got), want_len);
    assert_memory_equal(got, want, want_len);
    free(got);
    free(want);
    s_three_free(&t);
}

static void test_ack_batch_written_with_put_header_is_what_protobuf_c_packs(void **state)
{
    (void)state;
    /* As the broker writes an AckBatch: one accepted, one duplicate, one reject. */
    static uint8_t id[3][16] = {{1}, {2}, {3}};
    Fedbus__Ack acks[3], *ptrs[3];
    for (int i = 0; i < 3; i++) {
        fedbus__ack__init(&acks[i]);
        acks[i].message_id.data = id[i];
        acks[i].message_id.len = 16;
        ptrs[i] = &acks[i];
    }
    acks[0].status = FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED;
    acks[0].global_seq = 1ULL << 40;
    acks[0].origin_seq = 7;
    acks[1].status = FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE;
    acks[1].global_seq = 3;
    acks[1].origin_seq = 8;
    acks[1].detail = "stored before";
    acks[2].status = FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED;
    acks[2].reason = S_R(BAD_TOPIC);
    acks[2].detail = "topic 'event..x' is outside the grammar";
    Fedbus__AckBatch ab = FEDBUS__ACK_BATCH__INIT;
    ab.acks = ptrs;
    ab.n_acks = 3;
    Fedbus__BrokerMessage bm = FEDBUS__BROKER_MESSAGE__INIT;
    bm.body_case = FEDBUS__BROKER_MESSAGE__BODY_ACK_BATCH;
    bm.ack_batch = &ab;
    size_t want_len = fedbus__broker_message__get_packed_size(&bm);
    uint8_t *want = malloc(want_len);
    fedbus__broker_message__pack(&bm, want);

    size_t sizes[3], inner = 0;
    for (int i = 0; i < 3; i++) {
        sizes[i] = fedbus__ack__get_packed_size(&acks[i]);
        inner += fb_wire_field_size(1, sizes[i]);
    }
    assert_int_equal(fb_wire_field_size(3, inner), want_len);
    uint8_t *got = malloc(want_len), *p = got;
    p += fb_wire_put_header(3, inner, p);
    for (int i = 0; i < 3; i++) {
        p += fb_wire_put_header(1, sizes[i], p);
        p += fedbus__ack__pack(&acks[i], p);
    }
    assert_int_equal((size_t)(p - got), want_len);
    assert_memory_equal(got, want, want_len);
    free(got);
    free(want);
}

/* ------------------------------------------------------ decoding in an arena --- */

/* Decodes the packed env with and without an arena; asserts both give the
 * same envelope, and that the arena's came from the arena. */
static void s_assert_arena_decode_matches(const Fedbus__Envelope *env)
{
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    fb_arena_t *arena = fb_arena_new(4096, 0);
    assert_non_null(arena);
    fb_verdict_t v1, v2;
    Fedbus__Envelope *heap = fb_envelope_decode(buf, len, &v1, NULL);
    Fedbus__Envelope *in = fb_envelope_decode_in(arena, buf, len, &v2, NULL);
    assert_non_null(heap);
    if (!in) fail_msg("arena decode refused: %s %s", fb_reject_name(v2.reason), v2.detail);
    assert_int_equal(v2.reason, S_R(NONE));
    assert_true(fb_arena_used(arena) > 0);
    size_t l1, l2;
    uint8_t *b1 = s_pack(heap, &l1), *b2 = s_pack(in, &l2);
    assert_int_equal(l2, l1);
    assert_memory_equal(b2, b1, l1);
    assert_int_equal(l1, len);
    assert_memory_equal(b1, buf, len);
    assert_string_equal(in->topic, heap->topic);
    assert_int_equal(in->origin_seq, heap->origin_seq);
    free(b1);
    free(b2);
    fedbus__envelope__free_unpacked(heap, NULL);
    fb_arena_destroy(&arena); /* `in` goes with it: nothing to free */
    free(buf);
}

static void test_decode_in_an_arena_gives_what_decode_gives(void **state)
{
    (void)state;
    s_fix_t f;
    s_assert_arena_decode_matches(s_event(&f));
    s_assert_arena_decode_matches(s_cfp(&f));
    s_assert_arena_decode_matches(s_researcher(&f));
}

static void test_decode_in_an_arena_refuses_what_decode_refuses(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->topic = "event..forum";
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    fb_arena_t *arena = fb_arena_new(4096, 0);
    fb_verdict_t v1, v2;
    Fedbus__Envelope *bad1 = NULL, *bad2 = NULL;
    assert_null(fb_envelope_decode(buf, len, &v1, &bad1));
    assert_null(fb_envelope_decode_in(arena, buf, len, &v2, &bad2));
    assert_int_equal(v2.reason, S_R(BAD_TOPIC));
    assert_int_equal(v2.reason, v1.reason);
    assert_string_equal(v2.detail, v1.detail);
    /* What it decoded to is handed out too, so that a reject can name the message. */
    assert_non_null(bad2);
    assert_int_equal(bad2->message_id.len, 16);
    assert_memory_equal(bad2->message_id.data, f.id, 16);
    fedbus__envelope__free_unpacked(bad1, NULL);
    /* Bytes that are not an envelope: nothing to hand out. */
    const uint8_t junk[] = {0x0a, 0xff, 0x01};
    bad2 = env;
    assert_null(fb_envelope_decode_in(arena, junk, sizeof(junk), &v2, &bad2));
    assert_int_equal(v2.reason, S_R(MALFORMED));
    assert_null(bad2);
    fb_arena_destroy(&arena);
    free(buf);
}

/* Unpacking (no checks) into an arena: what protobuf-c gives, even for an
 * envelope the checks would refuse; NULL for bytes that are no message. */
static void test_unpack_in_an_arena_gives_what_protobuf_c_gives(void **state)
{
    (void)state;
    s_fix_t f;
    Fedbus__Envelope *env = s_event(&f);
    env->topic = "event..forum"; /* refused by the checks, not by unpacking */
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    fb_arena_t *arena = fb_arena_new(4096, 0);
    Fedbus__Envelope *a = fb_envelope_unpack_in(arena, buf, len);
    Fedbus__Envelope *b = fedbus__envelope__unpack(NULL, len, buf);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a->topic, b->topic);
    assert_int_equal(a->origin_seq, b->origin_seq);
    assert_int_equal(a->payload_case, b->payload_case);
    assert_string_equal(a->event->title->ko, b->event->title->ko);
    assert_true(fb_arena_used(arena) > 0);
    fedbus__envelope__free_unpacked(b, NULL);
    const uint8_t junk[] = {0x0a, 0xff, 0x01};
    assert_null(fb_envelope_unpack_in(arena, junk, sizeof(junk)));
    fb_arena_destroy(&arena);
    free(buf);
}

/* Packs an Ack with protobuf-c; the caller frees the bytes. */
static uint8_t *s_pack_ack(const Fedbus__Ack *a, size_t *len)
{
    *len = fedbus__ack__get_packed_size(a);
    uint8_t *b = malloc(*len ? *len : 1);
    assert_non_null(b);
    fedbus__ack__pack(a, b);
    return b;
}

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
    uint8_t *b = s_pack_ack(&a, &len);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_event_passes),
        cmocka_unit_test(test_publish_view_points_at_the_envelope_bytes),
        cmocka_unit_test(test_publish_frame_is_what_protobuf_c_packs),
        cmocka_unit_test(test_scan_reads_the_top_level_fields_and_appended_ones_win),
        cmocka_unit_test(test_publish_view_declines_every_other_frame),
        cmocka_unit_test(test_good_cfp_passes),
        cmocka_unit_test(test_good_researcher_update_passes),
        cmocka_unit_test(test_optional_parts_may_be_left_out),
        cmocka_unit_test(test_subtopics_and_equal_times_are_fine),
        cmocka_unit_test(test_kind_is_null_without_a_payload),
        cmocka_unit_test(test_garbage_bytes_are_malformed),
        cmocka_unit_test(test_every_cut_inside_the_payload_is_malformed),
        cmocka_unit_test(test_pseudo_random_bytes_never_decode),
        cmocka_unit_test(test_empty_bytes_decode_to_an_envelope_missing_its_fields),
        cmocka_unit_test(test_invalid_utf8_in_a_nested_field_is_found),
        cmocka_unit_test(test_invalid_utf8_in_a_repeated_string_is_found),
        cmocka_unit_test(test_invalid_utf8_in_envelope_strings_comes_before_other_checks),
        cmocka_unit_test(test_payload_of_an_unknown_kind_is_refused),
        cmocka_unit_test(test_unknown_envelope_field_below_the_payload_tags_is_ignored),
        cmocka_unit_test(test_envelope_fields_are_required),
        cmocka_unit_test(test_payload_is_required),
        cmocka_unit_test(test_event_needs_kind_title_and_start),
        cmocka_unit_test(test_cfp_needs_title_and_closing_time),
        cmocka_unit_test(test_researcher_update_needs_id_name_and_kind),
        cmocka_unit_test(test_message_id_must_be_16_bytes),
        cmocka_unit_test(test_origin_must_be_a_member_id),
        cmocka_unit_test(test_end_before_start_is_invalid),
        cmocka_unit_test(test_utc_offset_beyond_a_day_is_invalid),
        cmocka_unit_test(test_budget_needs_an_iso_currency_and_a_non_negative_amount),
        cmocka_unit_test(test_field_tags_must_be_segments),
        cmocka_unit_test(test_broker_fields_set_by_the_publisher_are_invalid),
        cmocka_unit_test(test_enum_value_unknown_to_this_build_is_invalid),
        cmocka_unit_test(test_newer_schema_version_is_unsupported),
        cmocka_unit_test(test_topic_outside_the_grammar_is_a_bad_topic),
        cmocka_unit_test(test_topic_kind_must_match_the_payload),
        cmocka_unit_test(test_topic_origin_must_be_the_publishers),
        cmocka_unit_test(test_stamp_appended_to_the_bytes_sets_only_the_broker_fields),
        cmocka_unit_test(test_stamp_writes_two_varint_fields),
        cmocka_unit_test(test_stamped_envelope_is_refused_as_a_publish),
        cmocka_unit_test(test_content_hash_ignores_ids_sequences_times_and_stamp),
        cmocka_unit_test(test_content_hash_changes_with_topic_or_payload),
        cmocka_unit_test(test_content_hash_of_broken_bytes_fails),
        cmocka_unit_test(test_reject_names_are_the_enum_names_without_prefix),
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
        cmocka_unit_test(test_batch_written_with_put_header_is_what_protobuf_c_packs),
        cmocka_unit_test(test_ack_batch_written_with_put_header_is_what_protobuf_c_packs),
        cmocka_unit_test(test_decode_in_an_arena_gives_what_decode_gives),
        cmocka_unit_test(test_decode_in_an_arena_refuses_what_decode_refuses),
        cmocka_unit_test(test_unpack_in_an_arena_gives_what_protobuf_c_gives),
        cmocka_unit_test(test_ack_scan_reads_what_protobuf_c_packed),
        cmocka_unit_test(test_ack_scan_of_nothing_is_all_zero),
        cmocka_unit_test(test_ack_scan_takes_the_last_occurrence_and_skips_unknown_fields),
        cmocka_unit_test(test_ack_scan_refuses_what_is_not_an_ack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
