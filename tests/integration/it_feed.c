/* it_feed.c — the client library's subscriber against a scripted feed (a PUB socket of
 * the test's own): a feed message is one frame, topic + NUL + stored envelope; frames
 * that are not feed messages (no NUL after a topic, several parts) are skipped, and a
 * frame whose envelope does not decode is reported.
 *
 * Port 22240, clear of the other tests (21000-21952, 22000-22229) and of bench/run. */
#include "harness.h"

#include "fb_crypto.h"
#include "fb_time.h"
#include "fb_zmq.h"
#include "fedbus/fb_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include <cmocka.h>

#define S_FEED  "tcp://127.0.0.1:22240"
#define S_TOPIC "event.intl-feed.forum"

static void *s_pub;
static fb_subscriber_t *s_sub;

/* A stored envelope of S_TOPIC with global_seq; caller frees. */
static uint8_t *s_stored(uint64_t global_seq, size_t *len)
{
    Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
    Fedbus__Event ev = FEDBUS__EVENT__INIT;
    Fedbus__Text title = FEDBUS__TEXT__INIT;
    Fedbus__Timestamp starts = FEDBUS__TIMESTAMP__INIT;
    uint8_t id[16];
    assert_int_equal(fb_uuid_v7(fb_time_now_us(), id), 0);
    env.message_id.data = id;
    env.message_id.len = 16;
    env.origin = "intl-feed";
    env.topic = S_TOPIC;
    env.created_at_us = fb_time_now_us();
    env.schema_version = 1;
    env.origin_seq = global_seq;
    env.global_seq = global_seq;
    env.stored_at_us = fb_time_now_us();
    title.en = "Feed frame test";
    starts.unix_us = 1789776000000000LL;
    ev.kind = FEDBUS__EVENT_KIND__EVENT_KIND_FORUM;
    ev.title = &title;
    ev.starts_at = &starts;
    env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_EVENT;
    env.event = &ev;
    *len = fedbus__envelope__get_packed_size(&env);
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    fedbus__envelope__pack(&env, b);
    return b;
}

/* Publishes topic, a NUL, then body (len bytes) as one frame. */
static void s_send_feed(const char *topic, const void *body, size_t len)
{
    size_t tlen = strlen(topic);
    uint8_t *f = malloc(tlen + 1 + len);
    assert_non_null(f);
    memcpy(f, topic, tlen);
    f[tlen] = 0;
    memcpy(f + tlen + 1, body, len);
    assert_int_equal(zmq_send(s_pub, f, tlen + 1 + len, 0), (int)(tlen + 1 + len));
    free(f);
}

/* Sends what the test wants skipped, then a good message of global_seq
 * seq, until the subscriber (whose subscription takes a moment to reach the
 * PUB) delivers something; returns what it delivered first. */
static int s_first_delivery(uint64_t seq, fb_message_t *msg)
{
    size_t len;
    uint8_t *good = s_stored(seq, &len);
    int rc = FB_ETIMEOUT;
    for (int round = 0; round < 50 && rc == FB_ETIMEOUT; round++) {
        /* not feed messages: a topic without its NUL, and two parts */
        const char bare[] = S_TOPIC;
        assert_int_equal(zmq_send(s_pub, bare, sizeof(bare) - 1, 0),
                         (int)sizeof(bare) - 1);
        assert_int_equal(zmq_send(s_pub, bare, sizeof(bare) - 1, ZMQ_SNDMORE),
                         (int)sizeof(bare) - 1);
        assert_int_equal(zmq_send(s_pub, good, len, 0), (int)len);
        s_send_feed(S_TOPIC, good, len);
        rc = fb_subscriber_recv(s_sub, msg, 100);
    }
    free(good);
    return rc;
}

static int s_setup(void **state)
{
    (void)state;
    s_pub = fb_zmq_socket(ZMQ_PUB, S_FEED, 1, 0, 0, 0);
    s_sub = fb_subscriber_new(S_FEED, NULL);
    if (!s_pub || !s_sub || fb_subscriber_add(s_sub, "event") != FB_OK) return -1;
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    fb_subscriber_destroy(&s_sub);
    if (s_pub) zmq_close(s_pub);
    return 0;
}

static void test_one_frame_feed_message_is_delivered_and_the_rest_skipped(void **state)
{
    (void)state;
    fb_message_t msg;
    assert_int_equal(s_first_delivery(7, &msg), FB_OK);
    /* The first thing delivered is the good message: the frames without a
     * NUL and the two-part message before it were skipped. */
    assert_string_equal(msg.topic, S_TOPIC);
    assert_int_equal(msg.global_seq, 7);
    assert_string_equal(fb_message_kind(&msg), "event");
    assert_string_equal(fb_message_title(&msg, "en"), "Feed frame test");
    char *json = fb_message_json(&msg);
    assert_non_null(json);
    assert_non_null(strstr(json, S_TOPIC));
    free(json);
}

static void
test_feed_message_whose_envelope_is_not_protobuf_is_a_protocol_error(void **state)
{
    (void)state;
    /* drain what the previous test's rounds left queued */
    fb_message_t msg;
    while (fb_subscriber_recv(s_sub, &msg, 200) == FB_OK)
        ;
    const uint8_t junk[] = {0x0a, 0x7f, 0x01}; /* a length past the end */
    s_send_feed(S_TOPIC, junk, sizeof(junk));
    assert_int_equal(fb_subscriber_recv(s_sub, &msg, 5000), FB_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_frame_feed_message_is_delivered_and_the_rest_skipped),
        cmocka_unit_test(
            test_feed_message_whose_envelope_is_not_protobuf_is_a_protocol_error),
    };
    return cmocka_run_group_tests_name("feed frames", tests, s_setup, s_teardown);
}
