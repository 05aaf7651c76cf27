/* it_feed.c — the client library's subscriber against a scripted feed (an XPUB socket
 * of the test's own): a feed message is one frame, topic + NUL + stored envelope; frames
 * that are not feed messages (no NUL after a topic, several parts) are skipped, and a
 * frame whose envelope does not decode is reported. Batched frames (mark, topic, NUL,
 * envelopes) are delivered one envelope per call; once one came, the library drops its
 * plain subscriptions and skips plain frames.
 *
 * Port 22240, clear of the other tests (21000-21952, 22000-22229) and of bench/run. */
#include "harness.h"

#include "fb_crypto.h"
#include "fb_envelope.h"
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

/* A stored envelope of topic with global_seq and title; caller frees. */
static uint8_t *s_stored_as(const char *topic, uint64_t global_seq, const char *title_en, size_t *len)
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
    env.topic = (char *)topic;
    env.created_at_us = fb_time_now_us();
    env.schema_version = 1;
    env.origin_seq = global_seq;
    env.global_seq = global_seq;
    env.stored_at_us = fb_time_now_us();
    title.en = (char *)title_en;
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

/* A stored envelope of S_TOPIC with global_seq; caller frees. */
static uint8_t *s_stored(uint64_t global_seq, size_t *len)
{
    return s_stored_as(S_TOPIC, global_seq, "Feed frame test", len);
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
    s_pub = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_XPUB, .endpoint = S_FEED, .bind = 1});
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

#define S_CFP "cfp.intl-feed.forum"

/* Waits up to 5 s for the XPUB to report (un)subscription want (its first
 * byte 1 or 0, then the prefix, wlen bytes in all); others are skipped. */
static void s_expect_subscription(const char *want, size_t wlen)
{
    int64_t until = fb_time_mono_us() + 5000000;
    while (fb_time_mono_us() < until) {
        uint8_t b[300];
        zmq_pollitem_t it = {s_pub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0) continue;
        int n = zmq_recv(s_pub, b, sizeof(b), 0);
        if (n == (int)wlen && memcmp(b, want, wlen) == 0) return;
    }
    fail_msg("the XPUB never saw the %s of '%.*s'", want[0] ? "subscription" : "unsubscription",
             (int)wlen - 1, want + 1);
}

/* Appends FeedBatch.envelopes entry (bytes, len) to the frame in buf at *off. */
static void s_entry(uint8_t *buf, size_t *off, const uint8_t *bytes, size_t len)
{
    *off += fb_wire_put_item(bytes, len, buf + *off);
}

/* Sends a batched frame of topic whose envelopes are entries (n bytes). */
static void s_send_batch(const char *topic, const uint8_t *entries, size_t n)
{
    uint8_t f[8192];
    size_t tlen = strlen(topic);
    assert_true(2 + tlen + n <= sizeof(f));
    f[0] = FB_FEED_MARK;
    memcpy(f + 1, topic, tlen);
    f[1 + tlen] = 0;
    memcpy(f + 2 + tlen, entries, n);
    assert_int_equal(zmq_send(s_pub, f, 2 + tlen + n, 0), (int)(2 + tlen + n));
}

static void s_expect(fb_subscriber_t *sub, uint64_t seq, const char *title)
{
    fb_message_t msg;
    assert_int_equal(fb_subscriber_recv(sub, &msg, 5000), FB_OK);
    assert_int_equal(msg.global_seq, seq);
    assert_string_equal(msg.topic, S_CFP);
    assert_string_equal(fb_message_title(&msg, "en"), title);
}

static void test_batched_frames_replace_plain_ones_once_one_comes(void **state)
{
    (void)state;
    fb_subscriber_t *sub = fb_subscriber_new(S_FEED, NULL);
    assert_non_null(sub);
    assert_int_equal(fb_subscriber_add(sub, "cfp"), FB_OK);
    /* Both kinds subscribed, for a broker that sends no batches. */
    s_expect_subscription("\001\001cfp", 5);
    s_expect_subscription("\001cfp", 4);

    uint8_t *env[16];
    size_t len[16];
    for (int i = 10; i <= 15; i++) env[i] = s_stored_as(S_CFP, (uint64_t)i, "batched", &len[i]);
    uint8_t *p10 = s_stored_as(S_CFP, 10, "plain", &len[0]);
    uint8_t *p11 = s_stored_as(S_CFP, 11, "plain", &len[1]);
    uint8_t *p14 = s_stored_as(S_CFP, 14, "plain", &len[2]);
    uint8_t a[4096], b[4096];
    size_t na = 0, nb = 0;
    for (int i = 10; i <= 13; i++) s_entry(a, &na, env[i], len[i]);
    for (int i = 14; i <= 15; i++) s_entry(b, &nb, env[i], len[i]);
    /* All sent before the library reads any: plain 14 is still let
     * through by the XPUB when it comes after the first batch. */
    s_send_feed(S_CFP, p10, len[0]);
    s_send_feed(S_CFP, p11, len[1]);
    s_send_batch(S_CFP, a, na);
    s_send_feed(S_CFP, p14, len[2]);
    s_send_batch(S_CFP, b, nb);

    s_expect(sub, 10, "plain");
    s_expect(sub, 11, "plain");
    /* 10 and 11 again in the batch: skipped by global_seq. */
    s_expect(sub, 12, "batched");
    s_expect(sub, 13, "batched");
    /* The first batch dropped the plain subscription... */
    s_expect_subscription("\000cfp", 4);
    /* ...and plain 14, queued before, is dropped with it: 14 comes from
     * the batch. */
    s_expect(sub, 14, "batched");
    s_expect(sub, 15, "batched");
    fb_message_t msg;
    assert_int_equal(fb_subscriber_recv(sub, &msg, 200), FB_ETIMEOUT);

    for (int i = 10; i <= 15; i++) free(env[i]);
    free(p10);
    free(p11);
    free(p14);
    fb_subscriber_destroy(&sub);
}

static void test_batched_frame_with_bad_entries_reports_each_and_goes_on(void **state)
{
    (void)state;
    fb_subscriber_t *sub = fb_subscriber_new(S_FEED, NULL);
    assert_non_null(sub);
    /* A pattern of its own: its subscriptions reach the XPUB afresh. */
    assert_int_equal(fb_subscriber_add(sub, "cfp.intl-feed"), FB_OK);
    s_expect_subscription("\001\001cfp.intl-feed", 15);
    uint8_t *e20, *e21, *e22;
    size_t l20, l21, l22;
    e20 = s_stored_as(S_CFP, 20, "batched", &l20);
    e21 = s_stored_as(S_CFP, 21, "batched", &l21);
    e22 = s_stored_as(S_CFP, 22, "batched", &l22);
    const uint8_t junk[] = {0x0a, 0x7f, 0x01}; /* not an envelope: a length past its end */
    uint8_t a[4096], b[4096];
    size_t na = 0, nb = 0;
    s_entry(a, &na, e20, l20);
    s_entry(a, &na, junk, sizeof(junk));
    s_entry(a, &na, e21, l21);
    /* an entry cut short: its length past the frame's end */
    na += fb_wire_put_item_header(0x40, a + na);
    s_entry(b, &nb, e22, l22);
    s_send_batch(S_CFP, a, na);
    s_send_batch(S_CFP, b, nb);

    s_expect(sub, 20, "batched");
    fb_message_t msg;
    assert_int_equal(fb_subscriber_recv(sub, &msg, 5000), FB_EPROTO); /* the junk entry */
    s_expect(sub, 21, "batched");                                       /* the entry after it */
    assert_int_equal(fb_subscriber_recv(sub, &msg, 5000), FB_EPROTO);  /* the cut entry */
    s_expect(sub, 22, "batched");                                       /* the next frame */
    free(e20);
    free(e21);
    free(e22);
    fb_subscriber_destroy(&sub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_frame_feed_message_is_delivered_and_the_rest_skipped),
        cmocka_unit_test(
            test_feed_message_whose_envelope_is_not_protobuf_is_a_protocol_error),
        cmocka_unit_test(test_batched_frames_replace_plain_ones_once_one_comes),
        cmocka_unit_test(test_batched_frame_with_bad_entries_reports_each_and_goes_on),
    };
    return cmocka_run_group_tests_name("feed frames", tests, s_setup, s_teardown);
}
