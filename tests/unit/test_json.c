/* test_json.c — fedbus JSON form <-> protobuf: round trips of every payload kind, and errors that name the field. */
#include "fb_envelope.h"
#include "fb_json.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const char s_event_json[] =
    "{"
    " \"message_id\": \"019ce06a-78fb-7a2b-8c4d-1234567890ab\","
    " \"origin\": \"kr-incheon\","
    " \"topic\": \"event.kr-incheon.forum\","
    " \"created_at_us\": 1773291600123456,"
    " \"schema_version\": 1,"
    " \"origin_seq\": 9007199254740993,"
    " \"prev_hash\": \"00ff10ab\","
    " \"event\": {"
    "  \"kind\": \"forum\","
    "  \"title\": {\"ko\": \"인천 과학기술 포럼\", \"en\": \"Incheon S&T Forum\"},"
    "  \"summary\": {\"ko\": \"송도에서 열리는 월간 포럼 — 바이오와 AI\"},"
    "  \"starts_at\": \"2026-03-12T14:00:00+09:00\","
    "  \"ends_at\": \"2026-03-12T17:30:00.250000+09:00\","
    "  \"timezone\": \"Asia/Seoul\","
    "  \"venue\": {"
    "   \"name\": {\"ko\": \"송도 컨벤시아\", \"en\": \"Songdo Convensia\"},"
    "   \"address\": \"인천광역시 연수구 센트럴로 123\","
    "   \"city\": \"Incheon\","
    "   \"country\": \"KR\","
    "   \"online_url\": \"https://live.example/incheon\""
    "  },"
    "  \"host\": \"인천테크노파크\","
    "  \"url\": \"https://kr-incheon.example/forum/2026-03\","
    "  \"fields\": [\"bio\", \"ai\", \"quantum\"],"
    "  \"series\": \"Incheon monthly S&T forum\","
    "  \"capacity\": 300,"
    "  \"registration_url\": \"https://kr-incheon.example/register\""
    " }"
    "}";

static const char s_cfp_json[] =
    "{"
    " \"message_id\": \"019ce06a-78fb-7a2b-8c4d-0000000000cf\","
    " \"origin\": \"kr-daejeon\","
    " \"topic\": \"cfp.kr-daejeon.bio\","
    " \"created_at_us\": 1772355600000000,"
    " \"schema_version\": 1,"
    " \"origin_seq\": 12,"
    " \"cfp\": {"
    "  \"programme\": {\"ko\": \"대덕특구 바이오 프로그램\", \"en\": \"Daedeok bio programme\"},"
    "  \"title\": {\"ko\": \"2026 바이오 연구개발 과제 공모\"},"
    "  \"summary\": {\"en\": \"Seed grants for bio start-ups\"},"
    "  \"budget\": {\"amount\": 500000000, \"currency\": \"KRW\"},"
    "  \"opens_at\": \"2026-03-01T09:00:00Z\","
    "  \"closes_at\": \"2026-04-15T18:00:00-05:00\","
    "  \"eligibility\": {\"ko\": \"대전 소재 기업\"},"
    "  \"fields\": [\"bio\", \"health\"],"
    "  \"contact\": {\"name\": \"김담당\", \"organisation\": \"대전TP\","
    "               \"email\": \"cfp@kr-daejeon.example\", \"phone\": \"+82-42-000-0000\"},"
    "  \"url\": \"https://kr-daejeon.example/cfp/bio-2026\","
    "  \"host\": \"Daejeon Technopark\","
    "  \"awards\": 12"
    " }"
    "}";

static const char s_researcher_json[] =
    "{"
    " \"message_id\": \"019ce06a-78fb-7a2b-8c4d-00000000000e\","
    " \"origin\": \"kr-busan\","
    " \"topic\": \"researcher.kr-busan.award\","
    " \"created_at_us\": 1773291600000000,"
    " \"schema_version\": 1,"
    " \"origin_seq\": 3,"
    " \"researcher\": {"
    "  \"researcher_id\": \"0000-0002-1825-0097\","
    "  \"name\": {\"ko\": \"김연구\", \"en\": \"Yeon-gu Kim\"},"
    "  \"affiliation\": \"부산대학교\","
    "  \"fields\": [\"marine\"],"
    "  \"kind\": \"team_designated\","
    "  \"detail\": {\"ko\": \"해양바이오 연구팀 지정\"},"
    "  \"team\": \"marine-bio-lab\","
    "  \"occurred_at\": \"2026-03-10T10:15:30.000001+09:00\","
    "  \"url\": \"https://kr-busan.example/people/kim\""
    " }"
    "}";

/* Parses test JSON; "\u0000" is let through so that fb_json's own NUL check is reached. */
static json_t *s_parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &jerr);
    if (!j) fail_msg("test JSON does not parse: %s (line %d)", jerr.text, jerr.line);
    return j;
}

/* Converts text to an envelope (asserting success); caller frees. */
static Fedbus__Envelope *s_envelope(const char *text)
{
    json_t *in = s_parse(text);
    ProtobufCMessage *m = NULL;
    char err[256] = "";
    if (fb_json_to_message(in, &fedbus__envelope__descriptor, &m, err, sizeof(err)) != 0)
        fail_msg("refused: %s", err);
    json_decref(in);
    assert_non_null(m);
    return (Fedbus__Envelope *)m;
}

/* JSON -> message -> JSON must give back exactly the input. */
static void s_assert_round_trip(const char *text)
{
    json_t *in = s_parse(text);
    Fedbus__Envelope *env = s_envelope(text);
    json_t *out = fb_json_from_message(&env->base);
    assert_non_null(out);
    if (!json_equal(in, out)) {
        char *dump = json_dumps(out, JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        fail_msg("round trip changed the message:\n%s", dump);
    }
    json_decref(out);
    json_decref(in);
    fedbus__envelope__free_unpacked(env, NULL);
}

/* Asserts that text is refused with an error containing path and, if not NULL, what. */
static void s_assert_refused(const char *text, const char *path, const char *what)
{
    json_t *in = s_parse(text);
    ProtobufCMessage *m = (ProtobufCMessage *)0x1;
    char err[256] = "";
    int rc = fb_json_to_message(in, &fedbus__envelope__descriptor, &m, err, sizeof(err));
    json_decref(in);
    if (rc != -1) {
        if (rc == 0 && m) protobuf_c_message_free_unpacked(m, NULL);
        fail_msg("accepted %s", text);
    }
    assert_null(m);
    if (!strstr(err, path)) fail_msg("error '%s' does not name '%s'", err, path);
    if (what && !strstr(err, what)) fail_msg("error '%s' does not say '%s'", err, what);
}

/* ------------------------------------------------------------ round trips --- */

static void test_event_round_trips_exactly(void **state)
{
    (void)state;
    s_assert_round_trip(s_event_json);
}

static void test_cfp_round_trips_exactly(void **state)
{
    (void)state;
    s_assert_round_trip(s_cfp_json);
}

static void test_researcher_update_round_trips_exactly(void **state)
{
    (void)state;
    s_assert_round_trip(s_researcher_json);
}

static void test_event_json_fills_the_protobuf_fields(void **state)
{
    (void)state;
    Fedbus__Envelope *env = s_envelope(s_event_json);
    static const uint8_t id[16] = {0x01, 0x9c, 0xe0, 0x6a, 0x78, 0xfb, 0x7a, 0x2b,
                                   0x8c, 0x4d, 0x12, 0x34, 0x56, 0x78, 0x90, 0xab};
    assert_int_equal(env->message_id.len, 16);
    assert_memory_equal(env->message_id.data, id, 16);
    assert_string_equal(env->origin, "kr-incheon");
    assert_int_equal(env->created_at_us, 1773291600123456LL);
    assert_int_equal(env->origin_seq, 9007199254740993ULL); /* above 2^53: kept exact */
    assert_int_equal(env->prev_hash.len, 4);
    assert_memory_equal(env->prev_hash.data, "\x00\xff\x10\xab", 4);
    assert_int_equal(env->payload_case, FEDBUS__ENVELOPE__PAYLOAD_EVENT);
    const Fedbus__Event *e = env->event;
    assert_int_equal(e->kind, FEDBUS__EVENT_KIND__EVENT_KIND_FORUM);
    assert_string_equal(e->title->ko, "인천 과학기술 포럼");
    assert_int_equal(e->starts_at->unix_us, 1773291600000000LL);
    assert_int_equal(e->starts_at->utc_offset_min, 540);
    assert_int_equal(e->ends_at->unix_us, 1773291600000000LL + 12600000000LL + 250000);
    assert_string_equal(e->venue->name->en, "Songdo Convensia");
    assert_int_equal(e->n_fields, 3);
    assert_string_equal(e->fields[2], "quantum");
    assert_int_equal(e->capacity, 300);
    /* And the codec agrees it is a good envelope. */
    fb_verdict_t v;
    if (fb_envelope_check(env, &v) != 0) fail_msg("%s: %s", fb_reject_name(v.reason), v.detail);
    fedbus__envelope__free_unpacked(env, NULL);
}

static void test_cfp_json_keeps_offsets_and_money(void **state)
{
    (void)state;
    Fedbus__Envelope *env = s_envelope(s_cfp_json);
    const Fedbus__CallForProposals *c = env->cfp;
    assert_int_equal(env->payload_case, FEDBUS__ENVELOPE__PAYLOAD_CFP);
    assert_int_equal(c->opens_at->unix_us, 1772355600000000LL);
    assert_int_equal(c->opens_at->utc_offset_min, 0);
    assert_int_equal(c->closes_at->unix_us, 1776294000000000LL);
    assert_int_equal(c->closes_at->utc_offset_min, -300);
    assert_int_equal(c->budget->amount, 500000000);
    assert_string_equal(c->budget->currency, "KRW");
    assert_string_equal(c->contact->organisation, "대전TP");
    assert_int_equal(c->awards, 12);
    fb_verdict_t v;
    if (fb_envelope_check(env, &v) != 0) fail_msg("%s: %s", fb_reject_name(v.reason), v.detail);
    fedbus__envelope__free_unpacked(env, NULL);
}

static void test_enum_accepts_short_full_and_any_case_names(void **state)
{
    (void)state;
    const char *forms[] = {"\"forum\"", "\"EVENT_KIND_FORUM\"", "\"Forum\"", "\"event_kind_forum\"", "1"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "{\"event\": {\"kind\": %s}}", forms[i]);
        Fedbus__Envelope *env = s_envelope(text);
        assert_int_equal(env->event->kind, FEDBUS__EVENT_KIND__EVENT_KIND_FORUM);
        json_t *out = fb_json_from_message(&env->base);
        assert_non_null(out);
        /* Written back as the short lower-case name. */
        assert_string_equal(json_string_value(json_object_get(json_object_get(out, "event"), "kind")),
                            "forum");
        json_decref(out);
        fedbus__envelope__free_unpacked(env, NULL);
    }
    Fedbus__Envelope *env = s_envelope("{\"researcher\": {\"kind\": \"RESEARCHER_UPDATE_KIND_TEAM_DESIGNATED\"}}");
    assert_int_equal(env->researcher->kind, FEDBUS__RESEARCHER_UPDATE_KIND__RESEARCHER_UPDATE_KIND_TEAM_DESIGNATED);
    fedbus__envelope__free_unpacked(env, NULL);
}

static void test_enum_value_newer_than_this_build_is_written_as_a_number(void **state)
{
    (void)state;
    Fedbus__Event e = FEDBUS__EVENT__INIT;
    e.kind = (Fedbus__EventKind)42;
    json_t *out = fb_json_from_message(&e.base);
    assert_non_null(out);
    assert_true(json_is_integer(json_object_get(out, "kind")));
    assert_int_equal(json_integer_value(json_object_get(out, "kind")), 42);
    json_decref(out);
}

static void test_output_omits_zero_valued_fields(void **state)
{
    (void)state;
    /* Explicit zeros and empty strings come in; nothing of them comes out. */
    Fedbus__Envelope *env = s_envelope("{\"origin\": \"\", \"schema_version\": 0, \"created_at_us\": 0,"
                                       " \"origin_seq\": 0, \"global_seq\": 0, \"message_id\": null,"
                                       " \"event\": {\"capacity\": 0, \"host\": \"\", \"fields\": [],"
                                       "           \"title\": {\"ko\": \"\", \"en\": \"x\"}}}");
    json_t *out = fb_json_from_message(&env->base);
    json_t *want = s_parse("{\"event\": {\"title\": {\"en\": \"x\"}}}");
    if (!json_equal(out, want)) {
        char *dump = json_dumps(out, JSON_SORT_KEYS);
        fail_msg("got %s", dump);
    }
    json_decref(want);
    json_decref(out);
    fedbus__envelope__free_unpacked(env, NULL);
}

static void test_empty_envelope_is_an_empty_object(void **state)
{
    (void)state;
    Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
    json_t *out = fb_json_from_message(&env.base);
    assert_non_null(out);
    assert_true(json_is_object(out));
    assert_int_equal(json_object_size(out), 0);
    json_decref(out);
}

static void test_message_id_of_another_length_is_written_as_hex(void **state)
{
    (void)state;
    Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
    uint8_t id[3] = {0xde, 0xad, 0x01};
    env.message_id.data = id;
    env.message_id.len = 3;
    json_t *out = fb_json_from_message(&env.base);
    assert_string_equal(json_string_value(json_object_get(out, "message_id")), "dead01");
    json_decref(out);
}

static void test_bare_and_upper_case_uuid_are_read(void **state)
{
    (void)state;
    Fedbus__Envelope *env = s_envelope("{\"message_id\": \"019CE06A78FB7A2B8C4D1234567890AB\"}");
    json_t *out = fb_json_from_message(&env->base);
    assert_string_equal(json_string_value(json_object_get(out, "message_id")),
                        "019ce06a-78fb-7a2b-8c4d-1234567890ab");
    json_decref(out);
    fedbus__envelope__free_unpacked(env, NULL);
}

static void test_heartbeat_round_trips_with_a_large_uint64(void **state)
{
    (void)state;
    const char *text = "{\"origin\": \"kr-incheon\", \"sent_at_us\": 1773291600000000, \"outbox_depth\": 5,"
                       " \"oldest_unconfirmed_us\": 1773291500000000, \"last_origin_seq\": 41,"
                       " \"last_global_seq_seen\": 1099511627781}";
    json_t *in = s_parse(text);
    ProtobufCMessage *m = NULL;
    char err[256] = "";
    if (fb_json_to_message(in, &fedbus__heartbeat__descriptor, &m, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(((Fedbus__Heartbeat *)m)->last_global_seq_seen, 1099511627781ULL);
    json_t *out = fb_json_from_message(m);
    assert_true(json_equal(in, out));
    json_decref(out);
    json_decref(in);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* ---------------------------------------------------------------- errors --- */

static void test_unknown_key_is_named_with_its_path(void **state)
{
    (void)state;
    s_assert_refused("{\"event\": {\"titel\": {\"ko\": \"포럼\"}}}", "event.titel", "unknown field");
    s_assert_refused("{\"orgin\": \"kr-incheon\"}", "orgin", "unknown field");
    s_assert_refused("{\"event\": {\"venue\": {\"name\": {\"fr\": \"x\"}}}}", "event.venue.name.fr",
                     "unknown field");
    /* Keys are proto field names, not camelCase. */
    s_assert_refused("{\"event\": {\"startsAt\": \"2026-03-12T14:00:00+09:00\"}}", "event.startsAt", NULL);
}

static void test_wrong_type_is_named(void **state)
{
    (void)state;
    s_assert_refused("{\"event\": {\"capacity\": \"300\"}}", "event.capacity", "unsigned 32-bit");
    s_assert_refused("{\"event\": {\"capacity\": 3.5}}", "event.capacity", NULL);
    s_assert_refused("{\"origin\": 5}", "origin", "expected a string");
    s_assert_refused("{\"created_at_us\": \"now\"}", "created_at_us", "integer");
    s_assert_refused("{\"event\": {\"title\": \"forum\"}}", "event.title", "expected an object");
    s_assert_refused("{\"event\": 5}", "event", "expected an object");
    s_assert_refused("{\"event\": {\"fields\": \"bio\"}}", "event.fields", "expected an array");
    s_assert_refused("{\"event\": {\"fields\": [\"bio\", 7]}}", "event.fields[1]", "expected a string");
    s_assert_refused("{\"cfp\": {\"budget\": {\"amount\": true}}}", "cfp.budget.amount", NULL);
}

static void test_unknown_enum_name_is_refused(void **state)
{
    (void)state;
    s_assert_refused("{\"event\": {\"kind\": \"gala\"}}", "event.kind", "unknown enum value");
    s_assert_refused("{\"event\": {\"kind\": \"award\"}}", "event.kind", "unknown enum value");
    s_assert_refused("{\"event\": {\"kind\": 99}}", "event.kind", "unknown enum value");
    s_assert_refused("{\"event\": {\"kind\": true}}", "event.kind", NULL);
    /* 2^32 + 1 must not wrap around to 1 (forum). */
    s_assert_refused("{\"event\": {\"kind\": 4294967297}}", "event.kind", "unknown enum value");
    s_assert_refused("{\"event\": {\"kind\": -4294967295}}", "event.kind", "unknown enum value");
}

static void test_unspecified_enum_is_refused_by_name(void **state)
{
    (void)state;
    s_assert_refused("{\"event\": {\"kind\": \"unspecified\"}}", "event.kind", "unknown enum value");
    s_assert_refused("{\"event\": {\"kind\": \"EVENT_KIND_UNSPECIFIED\"}}", "event.kind", NULL);
    s_assert_refused("{\"researcher\": {\"kind\": \"unspecified\"}}", "researcher.kind", NULL);
}

static void test_bad_timestamp_is_named(void **state)
{
    (void)state;
    s_assert_refused("{\"event\": {\"starts_at\": \"2026-03-12T14:00:00\"}}", "event.starts_at", "RFC 3339");
    s_assert_refused("{\"event\": {\"starts_at\": \"2026-02-29\"}}", "event.starts_at", NULL);
    s_assert_refused("{\"event\": {\"starts_at\": 1773291600}}", "event.starts_at", NULL);
    s_assert_refused("{\"cfp\": {\"closes_at\": \"tomorrow\"}}", "cfp.closes_at", NULL);
}

static void test_two_payload_kinds_at_once_are_refused(void **state)
{
    (void)state;
    s_assert_refused("{\"event\": {\"kind\": \"forum\"}, \"cfp\": {\"awards\": 1}}", "cfp",
                     "only one payload kind");
    s_assert_refused("{\"researcher\": {\"team\": \"x\"}, \"event\": {}}", "event", "only one payload kind");
}

static void test_bad_uuid_is_refused(void **state)
{
    (void)state;
    s_assert_refused("{\"message_id\": \"not-a-uuid\"}", "message_id", "UUID");
    s_assert_refused("{\"message_id\": \"019ce06a-78fb-7a2b-8c4d-1234567890a\"}", "message_id", "UUID");
    s_assert_refused("{\"message_id\": 12}", "message_id", "expected a string");
}

static void test_bad_hex_bytes_are_refused(void **state)
{
    (void)state;
    s_assert_refused("{\"prev_hash\": \"abc\"}", "prev_hash", "hex");
    s_assert_refused("{\"prev_hash\": \"zz\"}", "prev_hash", "hex");
    s_assert_refused("{\"event\": {\"title\": {\"ko\": \"x\"}}, \"prev_hash\": \"0x12\"}", "prev_hash", "hex");
}

static void test_non_object_is_refused(void **state)
{
    (void)state;
    const char *texts[] = {"[]", "\"event\"", "42", "null"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        json_t *in = json_loads(texts[i], JSON_DECODE_ANY, NULL);
        assert_non_null(in);
        ProtobufCMessage *m = (ProtobufCMessage *)0x1;
        char err[256] = "";
        assert_int_equal(fb_json_to_message(in, &fedbus__envelope__descriptor, &m, err, sizeof(err)), -1);
        assert_null(m);
        assert_non_null(strstr(err, "expected an object"));
        json_decref(in);
    }
}

static void test_integer_out_of_uint32_range_is_refused(void **state)
{
    (void)state;
    s_assert_refused("{\"event\": {\"capacity\": 4294967296}}", "event.capacity", "unsigned 32-bit");
    s_assert_refused("{\"event\": {\"capacity\": -1}}", "event.capacity", "unsigned 32-bit");
    s_assert_refused("{\"schema_version\": 4294967297}", "schema_version", NULL);
    Fedbus__Envelope *env = s_envelope("{\"event\": {\"capacity\": 4294967295}}");
    assert_int_equal(env->event->capacity, UINT32_MAX);
    fedbus__envelope__free_unpacked(env, NULL);
}

static void test_negative_value_for_uint64_is_refused(void **state)
{
    (void)state;
    s_assert_refused("{\"origin_seq\": -1}", "origin_seq", "non-negative");
    s_assert_refused("{\"global_seq\": -9007199254740993}", "global_seq", NULL);
}

static void test_integer_out_of_int32_range_is_refused(void **state)
{
    (void)state;
    /* The only sint32 is Timestamp.utc_offset_min, which the envelope writes
     * as part of a string: convert a Timestamp on its own to reach it. */
    json_t *in = s_parse("{\"unix_us\": 1, \"utc_offset_min\": 2147483648}");
    ProtobufCMessage *m = NULL;
    char err[256] = "";
    assert_int_equal(fb_json_to_message(in, &fedbus__timestamp__descriptor, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "utc_offset_min"));
    json_decref(in);
}

static void test_string_with_an_embedded_nul_is_refused(void **state)
{
    (void)state;
    s_assert_refused("{\"event\": {\"host\": \"kr\\u0000incheon\"}}", "event.host", "NUL");
    s_assert_refused("{\"event\": {\"fields\": [\"bio\", \"a\\u0000\"]}}", "event.fields[1]", "NUL");
    /* Built in memory, as a caller might. */
    json_t *in = json_pack("{s:{s:s%}}", "event", "host", "kr\0incheon", (size_t)10);
    assert_non_null(in);
    ProtobufCMessage *m = NULL;
    char err[256] = "";
    assert_int_equal(fb_json_to_message(in, &fedbus__envelope__descriptor, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "event.host"));
    json_decref(in);
}

static void test_error_in_a_later_field_frees_what_was_built(void **state)
{
    (void)state;
    /* Many allocations precede the bad key; valgrind checks nothing leaks. */
    char text[4096];
    size_t n = strlen(s_event_json);
    memcpy(text, s_event_json, n - 1); /* drop the final '}' */
    snprintf(text + n - 1, sizeof(text) - (n - 1), ", \"bogus\": 1}");
    s_assert_refused(text, "bogus", "unknown field");
    memcpy(text, s_cfp_json, strlen(s_cfp_json) + 1);
    char *p = strstr(text, "\"awards\": 12");
    assert_non_null(p);
    memcpy(p, "\"awards\": -1", 12);
    s_assert_refused(text, "cfp.awards", NULL);
}

static void test_long_error_is_truncated_not_overflowed(void **state)
{
    (void)state;
    json_t *in = s_parse("{\"event\": {\"venue\": {\"name\": {\"a_rather_long_unknown_key\": 1}}}}");
    ProtobufCMessage *m = NULL;
    char err[16];
    memset(err, 'X', sizeof(err));
    assert_int_equal(fb_json_to_message(in, &fedbus__envelope__descriptor, &m, err, 12), -1);
    assert_int_equal(strlen(err), 11);
    assert_int_equal(err[12], 'X'); /* nothing written past err_size */
    json_decref(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_round_trips_exactly),
        cmocka_unit_test(test_cfp_round_trips_exactly),
        cmocka_unit_test(test_researcher_update_round_trips_exactly),
        cmocka_unit_test(test_event_json_fills_the_protobuf_fields),
        cmocka_unit_test(test_cfp_json_keeps_offsets_and_money),
        cmocka_unit_test(test_enum_accepts_short_full_and_any_case_names),
        cmocka_unit_test(test_enum_value_newer_than_this_build_is_written_as_a_number),
        cmocka_unit_test(test_output_omits_zero_valued_fields),
        cmocka_unit_test(test_empty_envelope_is_an_empty_object),
        cmocka_unit_test(test_message_id_of_another_length_is_written_as_hex),
        cmocka_unit_test(test_bare_and_upper_case_uuid_are_read),
        cmocka_unit_test(test_heartbeat_round_trips_with_a_large_uint64),
        cmocka_unit_test(test_unknown_key_is_named_with_its_path),
        cmocka_unit_test(test_wrong_type_is_named),
        cmocka_unit_test(test_unknown_enum_name_is_refused),
        cmocka_unit_test(test_unspecified_enum_is_refused_by_name),
        cmocka_unit_test(test_bad_timestamp_is_named),
        cmocka_unit_test(test_two_payload_kinds_at_once_are_refused),
        cmocka_unit_test(test_bad_uuid_is_refused),
        cmocka_unit_test(test_bad_hex_bytes_are_refused),
        cmocka_unit_test(test_non_object_is_refused),
        cmocka_unit_test(test_integer_out_of_uint32_range_is_refused),
        cmocka_unit_test(test_negative_value_for_uint64_is_refused),
        cmocka_unit_test(test_integer_out_of_int32_range_is_refused),
        cmocka_unit_test(test_string_with_an_embedded_nul_is_refused),
        cmocka_unit_test(test_error_in_a_later_field_frees_what_was_built),
        cmocka_unit_test(test_long_error_is_truncated_not_overflowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
