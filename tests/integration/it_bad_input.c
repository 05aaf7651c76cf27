/* it_bad_input.c — every kind of bad input gets its reject code, a log line and a counter,
 * nothing is stored, and the broker keeps serving. */
#include "harness.h"

#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_time.h"
#include "fb_zmq.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

static th_t s_t;
static fb_publisher_t *s_pub;
static fb_ack_t s_last; /* the last reject seen by s_expect_reject */
static uint64_t s_seq = 100; /* kr-busan's next origin_seq in these tests */

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "badinput", 21300);
    const char *extra[] = {"--max-frame=4096", NULL};
    th_broker_start(&s_t, extra);
    s_pub = th_publisher(&s_t, "kr-busan");
    return s_pub ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    fb_publisher_destroy(&s_pub);
    th_cleanup(&s_t);
    return 0;
}

/* A good event envelope of kr-busan; the caller may spoil it. */
typedef struct {
    Fedbus__Envelope env;
    Fedbus__Event ev;
    Fedbus__Text title;
    Fedbus__Timestamp starts;
    uint8_t id[16];
} s_msg_t;

static void s_good(s_msg_t *m)
{
    fedbus__envelope__init(&m->env);
    fedbus__event__init(&m->ev);
    fedbus__text__init(&m->title);
    fedbus__timestamp__init(&m->starts);
    fb_uuid_v7(fb_time_now_us(), m->id);
    m->env.message_id.data = m->id;
    m->env.message_id.len = 16;
    m->env.origin = "kr-busan";
    m->env.topic = "event.kr-busan.forum";
    m->env.created_at_us = fb_time_now_us();
    m->env.schema_version = 1;
    m->env.origin_seq = s_seq++;
    m->title.ko = "부산 과학기술 정기포럼";
    m->title.en = "Busan monthly S&T forum";
    m->starts.unix_us = 1780000000000000LL;
    m->starts.utc_offset_min = 540;
    m->ev.kind = FEDBUS__EVENT_KIND__EVENT_KIND_FORUM;
    m->ev.title = &m->title;
    m->ev.starts_at = &m->starts;
    m->env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_EVENT;
    m->env.event = &m->ev;
}

/* Wraps envelope bytes (with extra bytes appended) into a NodeMessage frame. */
static uint8_t *s_wrap(const uint8_t *env, size_t env_len, size_t *len)
{
    return fb_wire_publish_wrap(env, env_len, NULL, 0, len);
}

static uint8_t *s_frame(const Fedbus__Envelope *env, size_t *len)
{
    return fb_envelope_publish_frame(env, len);
}

/* Sends frame; asserts a reject with reason, one more log line naming it,
 * and nothing stored. */
static void s_expect_reject(const void *frame, size_t len, int reason)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "reject %s:", fb_reject_name(reason));
    int lines = th_count_lines(s_t.broker_log, needle);
    long long stored = th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages");
    fb_ack_t ack;
    assert_int_equal(fb_publisher_send_raw(s_pub, frame, len, &ack, 5000), FB_EREJECTED);
    assert_int_equal(ack.status, FB_ACK_REJECTED);
    assert_int_equal(ack.reason, reason);
    assert_true(ack.detail[0] != '\0');
    s_last = ack;
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages"), stored);
    usleep(50 * 1000);
    assert_int_equal(th_count_lines(s_t.broker_log, needle), lines + 1);
}

static void s_expect_accept(void)
{
    s_msg_t m;
    size_t len;
    s_good(&m);
    uint8_t *f = s_frame(&m.env, &len);
    fb_ack_t ack;
    assert_int_equal(fb_publisher_send_raw(s_pub, f, len, &ack, 5000), FB_OK);
    assert_int_equal(ack.status, FB_ACK_ACCEPTED);
    free(f);
}

static void test_frame_over_max_is_refused_before_decoding(void **state)
{
    (void)state;
    uint8_t *big = calloc(1, 5000); /* zeros: not even valid protobuf, never decoded */
    s_expect_reject(big, 5000, FEDBUS__REJECT_REASON__REJECT_FRAME_TOO_LARGE);
    free(big);
}

static void test_garbage_frame_is_malformed(void **state)
{
    (void)state;
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99};
    s_expect_reject(junk, sizeof(junk), FEDBUS__REJECT_REASON__REJECT_MALFORMED);
}

static void test_truncated_frame_is_malformed(void **state)
{
    (void)state;
    s_msg_t m;
    size_t len;
    s_good(&m);
    uint8_t *f = s_frame(&m.env, &len);
    s_expect_reject(f, len - 7, FEDBUS__REJECT_REASON__REJECT_MALFORMED);
    free(f);
}

static void test_garbage_envelope_inside_publish_is_malformed(void **state)
{
    (void)state;
    const uint8_t junk[] = {0x0a, 0xff, 0x01};
    size_t len;
    uint8_t *f = s_wrap(junk, sizeof(junk), &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_MALFORMED);
    free(f);
}

static void test_multipart_publish_is_malformed(void **state)
{
    (void)state;
    /* Raw DEALER: two frames in one message. */
    void *s = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-busan");
    s_msg_t m;
    size_t len;
    s_good(&m);
    uint8_t *f = s_frame(&m.env, &len);
    zmq_send(s, f, len, ZMQ_SNDMORE);
    zmq_send(s, f, len, 0);
    th_ack_t a;
    assert_int_equal(th_read_ack(s, 5000, &a), 0);
    assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_MALFORMED);
    free(f);
    zmq_close(s);
}

static void test_invalid_utf8_is_refused(void **state)
{
    (void)state;
    s_msg_t m;
    size_t len;
    s_good(&m);
    m.title.en = "Busan \xc3\x28 forum";
    uint8_t *f = s_frame(&m.env, &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_INVALID_UTF8);
    free(f);
    /* A refused envelope that decoded names its message, for pipelining publishers. */
    char id[37];
    fb_uuid_format(m.id, id);
    assert_string_equal(s_last.message_id, id);
}

static void test_nul_inside_a_string_is_refused(void **state)
{
    (void)state;
    s_msg_t m;
    size_t elen, len;
    s_good(&m);
    m.env.topic = "event.kr-busan.forumXjunk";
    elen = fedbus__envelope__get_packed_size(&m.env);
    uint8_t *e = malloc(elen);
    fedbus__envelope__pack(&m.env, e);
    /* "forumXjunk" -> "forum\0junk" (search the text: random id bytes may hold an 'X') */
    uint8_t *x = NULL;
    for (size_t k = 0; k + 10 <= elen && !x; k++)
        if (memcmp(e + k, "forumXjunk", 10) == 0) x = e + k;
    assert_non_null(x);
    x[5] = '\0';
    uint8_t *f = s_wrap(e, elen, &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_INVALID_UTF8);
    free(e);
    free(f);
}

static void test_unknown_payload_kind_is_refused(void **state)
{
    (void)state;
    s_msg_t m;
    s_good(&m);
    m.env.payload_case = FEDBUS__ENVELOPE__PAYLOAD__NOT_SET;
    m.env.event = NULL;
    size_t elen = fedbus__envelope__get_packed_size(&m.env), len;
    uint8_t *e = malloc(elen + 16);
    fedbus__envelope__pack(&m.env, e);
    /* An empty payload of a kind from the future. */
    size_t n = fb_wire_put_unknown_payload(NULL, 0, e + elen);
    uint8_t *f = s_wrap(e, elen + n, &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_UNKNOWN_KIND);
    free(e);
    free(f);
}

static void test_topic_outside_the_grammar_is_refused(void **state)
{
    (void)state;
    const char *bad[] = {"Event.kr-busan.forum", "event.kr-busan", "event..forum", "event.kr-busan.for_um",
                         "news.kr-busan.forum"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s_msg_t m;
        size_t len;
        char id[37];
        s_good(&m);
        m.env.topic = (char *)bad[i];
        uint8_t *f = s_frame(&m.env, &len);
        s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_BAD_TOPIC);
        fb_uuid_format(m.id, id);
        assert_string_equal(s_last.message_id, id);
        free(f);
    }
}

static void test_topic_outside_the_origin_namespace_is_refused(void **state)
{
    (void)state;
    s_msg_t m;
    size_t len;
    s_good(&m);
    m.env.topic = "event.kr-incheon.forum";
    uint8_t *f = s_frame(&m.env, &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_NAMESPACE);
    free(f);
    s_good(&m);
    m.env.topic = "cfp.kr-busan.bio"; /* an event under the cfp kind */
    f = s_frame(&m.env, &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_NAMESPACE);
    free(f);
}

static void test_missing_required_fields_are_refused(void **state)
{
    (void)state;
    s_msg_t m;
    size_t len;
    uint8_t *f;
    s_good(&m);
    m.ev.title = NULL;
    f = s_frame(&m.env, &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD);
    free(f);
    s_good(&m);
    m.env.message_id.len = 0;
    f = s_frame(&m.env, &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD);
    free(f);
    s_good(&m);
    m.env.origin_seq = 0;
    f = s_frame(&m.env, &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD);
    free(f);
}

static void test_invalid_field_values_are_refused(void **state)
{
    (void)state;
    s_msg_t m;
    size_t len;
    Fedbus__Timestamp before = FEDBUS__TIMESTAMP__INIT;
    s_good(&m);
    before.unix_us = m.starts.unix_us - 1;
    m.ev.ends_at = &before;
    uint8_t *f = s_frame(&m.env, &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD);
    free(f);
}

static void test_newer_schema_version_is_refused(void **state)
{
    (void)state;
    s_msg_t m;
    size_t len;
    s_good(&m);
    m.env.schema_version = 99;
    uint8_t *f = s_frame(&m.env, &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_UNSUPPORTED_VERSION);
    free(f);
}

static void test_message_id_reused_with_other_content_is_refused(void **state)
{
    (void)state;
    s_msg_t m;
    size_t len;
    s_good(&m);
    uint8_t *f = s_frame(&m.env, &len);
    fb_ack_t ack;
    assert_int_equal(fb_publisher_send_raw(s_pub, f, len, &ack, 5000), FB_OK);
    free(f);
    m.title.en = "A different forum";
    m.env.origin_seq = s_seq++;
    f = s_frame(&m.env, &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_ID_REUSED);
    free(f);
}

static void test_sequence_going_backwards_is_refused(void **state)
{
    (void)state;
    s_msg_t m;
    size_t len;
    s_good(&m);
    m.env.origin_seq = 3; /* far below what kr-busan already stored */
    uint8_t *f = s_frame(&m.env, &len);
    s_expect_reject(f, len, FEDBUS__REJECT_REASON__REJECT_STALE_SEQUENCE);
    free(f);
}

static void test_unknown_request_is_refused(void **state)
{
    (void)state;
    /* An empty NodeMessage decodes, but carries no body this broker knows. */
    s_expect_reject("", 0, FEDBUS__REJECT_REASON__REJECT_UNKNOWN_REQUEST);
}

static void test_broker_still_serves_and_counted_every_reject(void **state)
{
    (void)state;
    s_expect_accept();
    /* The stats line (every second here) carries a counter per reason:
     * the first one after the last reject. */
    th_stat_fresh(&s_t, " rejected=");
    FILE *f = fopen(s_t.broker_log, "r");
    assert_non_null(f);
    char line[4096], last[4096] = "";
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "stats frames=")) strcpy(last, line);
    fclose(f);
    print_message("%s", last);
    const char *want[] = {"FRAME_TOO_LARGE=1 ", "MALFORMED=4 ", "INVALID_UTF8=2 ", "UNKNOWN_KIND=1 ",
                          "BAD_TOPIC=5 ", "NAMESPACE=2 ", "MISSING_FIELD=3 ", "INVALID_FIELD=1 ",
                          "UNSUPPORTED_VERSION=1 ", "ID_REUSED=1 ", "STALE_SEQUENCE=1 ",
                          "UNKNOWN_REQUEST=1", " rejected=23 "};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(last, want[i])) fail_msg("stats line lacks '%s'", want[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_over_max_is_refused_before_decoding),
        cmocka_unit_test(test_garbage_frame_is_malformed),
        cmocka_unit_test(test_truncated_frame_is_malformed),
        cmocka_unit_test(test_garbage_envelope_inside_publish_is_malformed),
        cmocka_unit_test(test_multipart_publish_is_malformed),
        cmocka_unit_test(test_invalid_utf8_is_refused),
        cmocka_unit_test(test_nul_inside_a_string_is_refused),
        cmocka_unit_test(test_unknown_payload_kind_is_refused),
        cmocka_unit_test(test_topic_outside_the_grammar_is_refused),
        cmocka_unit_test(test_topic_outside_the_origin_namespace_is_refused),
        cmocka_unit_test(test_missing_required_fields_are_refused),
        cmocka_unit_test(test_invalid_field_values_are_refused),
        cmocka_unit_test(test_newer_schema_version_is_refused),
        cmocka_unit_test(test_message_id_reused_with_other_content_is_refused),
        cmocka_unit_test(test_sequence_going_backwards_is_refused),
        cmocka_unit_test(test_unknown_request_is_refused),
        cmocka_unit_test(test_broker_still_serves_and_counted_every_reject),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
