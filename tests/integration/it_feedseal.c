/* it_feedseal.c — seals on the feed: a verifying live subscriber (fb_subscriber_verify_via()) gets each frame's
 * seal on the feed before its messages and verifies every message with no seal look-up on replay, a partner
 * that reads events only too; one that missed the seal frames still verifies every message through replay's
 * look-up; a subscriber that does not verify never sees a seal frame, and the broker builds none while nobody
 * takes them; with pinned keys a subscriber verifies from the feed alone, no replay at all; a subscriber with
 * replay takes live messages from the feed, vouched for by count frames, with no replay. Ports 30200-30399. */
#include "harness.h"

#include "fb_wire.h"

#include "fedbus/fedbus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <zmq.h>

static th_t s_t;
static int s_seoul, s_busan;

static void s_publish(int node, const char *origin, int n)
{
    fb_publisher_t *pub = fb_publisher_new(s_t.node_submit[node]);
    assert_non_null(pub);
    for (int i = 0; i < n; i++) {
        char title[32];
        snprintf(title, sizeof(title), "sealed %03d", i);
        const char *json = th_event_json(origin, "forum", title);
        fb_ack_t ack;
        assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 15000), FB_OK);
        if (ack.status != FB_ACK_ACCEPTED) fail_msg("publish %d: %s %s", i, ack.reason_name, ack.detail);
    }
    fb_publisher_destroy(&pub);
}

/* Whether the broker bound its feed again after the registry change (at
 * once, or after a "cannot bind ... again yet" and its retries). */
static int s_feed_rebound(void)
{
    if (th_count_lines(s_t.broker_log, "the feed is bound again") < 1) return 0;
    return th_count_lines(s_t.broker_log, "cannot bind") == 0 ||
           th_count_lines(s_t.broker_log, "feed: bound again at") >= 1;
}

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "feedseal", 30200);
    th_broker_start(&s_t, NULL);
    s_seoul = th_node_start(&s_t, "kr-seoul", NULL);
    s_busan = th_node_start(&s_t, "kr-busan", NULL);
    /* intl-wta: a partner, reading events only. */
    th_member(&s_t, "intl-wta");
    th_sql_exec(&s_t, "UPDATE fedbus_members SET kind = 'partner', read = '{event}', updated_at = now()"
                      " WHERE member = 'intl-wta'; NOTIFY fedbus_members");
    /* The change of read permission binds the feed again: a subscriber that
     * connected before that would lose what is published while it
     * reconnects (the tests' subscribers have no replay to repair from). */
    for (int i = 0; i < 100 && !s_feed_rebound(); i++) usleep(50000);
    assert_true(s_feed_rebound());
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

/* A live subscriber as member on the patterns, verifying through replay (verify off when off). */
static fb_subscriber_t *s_sub(const char *member, const char *const *patterns, int n, int off)
{
    fb_endpoint_opts_t feed = th_endpoint(&s_t, s_t.feed, member), replay = th_endpoint(&s_t, s_t.replay, member);
    fb_subscriber_t *sub = fb_subscriber_open(&feed, NULL);
    assert_non_null(sub);
    if (off) assert_int_equal(fb_subscriber_set_verify(sub, FB_VERIFY_OFF), FB_OK);
    assert_int_equal(fb_subscriber_verify_via(sub, &replay), FB_OK);
    for (int i = 0; i < n; i++) assert_int_equal(fb_subscriber_add(sub, patterns[i]), FB_OK);
    usleep(400000); /* the subscriptions reach the broker */
    return sub;
}

/* Receives want messages from sub; returns how many were verified. */
static int s_recv(fb_subscriber_t *sub, int want)
{
    int n = 0, verified = 0;
    for (int tries = 0; n < want && tries < 100;) {
        fb_message_t m;
        int rc = fb_subscriber_recv(sub, &m, 200);
        if (rc == FB_ETIMEOUT) {
            tries++;
            continue;
        }
        if (rc != FB_OK) fail_msg("recv: %s (%s)", fb_strerror(rc), fb_message_verify_detail(&m));
        n++;
        if (fb_message_verified(&m) == FB_MSG_VERIFIED) verified++;
        else fail_msg("%s not verified: %s", m.message_id, fb_message_verify_detail(&m));
    }
    assert_int_equal(n, want);
    return verified;
}

static void test_no_seal_frame_is_built_while_nobody_takes_them(void **state)
{
    (void)state;
    const char *p[] = {"*.kr-seoul"};
    fb_subscriber_t *plain = s_sub("kr-incheon", p, 1, 1);
    s_publish(s_seoul, "kr-seoul", 5);
    fb_message_t m;
    for (int i = 0; i < 5; i++) assert_int_equal(fb_subscriber_recv(plain, &m, 5000), FB_OK);
    assert_int_equal((long long)th_stat_fresh(&s_t, " feed_seals="), 0);
    fb_subscriber_destroy(&plain);
}

static void test_a_verifying_subscriber_verifies_every_live_message_with_no_seal_look_up(void **state)
{
    (void)state;
    const char *p[] = {"*.kr-seoul", "*.kr-busan"};
    fb_subscriber_t *sub = s_sub("kr-incheon", p, 2, 0);
    s_publish(s_seoul, "kr-seoul", 40);
    s_publish(s_busan, "kr-busan", 20);
    assert_int_equal(s_recv(sub, 60), 60);
    uint64_t seals = 0, bad = 0;
    assert_int_equal(fb_subscriber_seal_lookups(sub, &seals, &bad), 0);
    assert_true(seals >= 2);
    assert_int_equal(bad, 0);
    fb_subscriber_destroy(&sub);
    assert_true(th_stat_fresh(&s_t, " feed_seals=") >= (double)seals);
}

/* A subscriber with replay (gap repair: fedbus tail, a node's feed) used to
 * take every live message again from replay, since nothing told it the
 * feed had lost none. The count frames after each head frame tell it:
 * every message is delivered from the feed, verified with the feed's
 * seals, and the broker serves no replay for it beyond the member
 * directory. */
static void test_a_subscriber_with_replay_takes_live_messages_from_the_feed(void **state)
{
    (void)state;
    fb_endpoint_opts_t feed = th_endpoint(&s_t, s_t.feed, "kr-incheon"),
                       replay = th_endpoint(&s_t, s_t.replay, "kr-incheon");
    fb_subscriber_t *sub = fb_subscriber_open(&feed, &replay);
    assert_non_null(sub);
    assert_int_equal(fb_subscriber_add(sub, "*.kr-seoul"), FB_OK);
    assert_int_equal(fb_subscriber_add(sub, "event.kr-busan"), FB_OK);
    usleep(400000); /* the subscriptions reach the broker */
    /* The first head frame and its count frames: where the counting starts. */
    s_publish(s_seoul, "kr-seoul", 1);
    assert_int_equal(s_recv(sub, 1), 1);
    double before = th_stat_fresh(&s_t, " replays=");
    /* Taken as they come: without count frames, every round was a repair. */
    for (int round = 0; round < 12; round++) {
        s_publish(round % 3 ? s_seoul : s_busan, round % 3 ? "kr-seoul" : "kr-busan", 5);
        assert_int_equal(s_recv(sub, 5), 5);
    }
    double served = th_stat_fresh(&s_t, " replays=") - before;
    fprintf(stderr, "it_feedseal: 60 live messages, %.0f replay requests served, %llu repaired\n", served,
            (unsigned long long)fb_subscriber_repaired(sub));
    assert_true(served <= 1); /* the member directory, at most */
    assert_int_equal(fb_subscriber_repaired(sub), 0);
    uint64_t seals = 0, bad = 0;
    assert_int_equal(fb_subscriber_seal_lookups(sub, &seals, &bad), 0);
    assert_true(seals >= 8);
    fb_subscriber_destroy(&sub);
}

/* A count frame's prefix ends at its first NUL: a subscription to 0x04
 * and a prefix with a NUL in it would have the broker send, under another
 * subscriber's prefix, a FeedCount that the subscription wrote. The broker
 * counts no such prefix and sends no frame for it. */
static void test_a_count_subscription_with_a_nul_in_it_gets_no_count_frame(void **state)
{
    (void)state;
    void *s = th_socket(&s_t, ZMQ_SUB, s_t.feed, "kr-incheon");
    /* The crafted one: "event." NUL, then FeedCount{head_seq 1, count 0} */
    const uint8_t crafted[] = {FB_WIRE_FEED_COUNT_MARK, 'e', 'v', 'e', 'n', 't', '.', 0, 0x08, 0x01, 0x10, 0x00};
    assert_int_equal(zmq_setsockopt(s, ZMQ_SUBSCRIBE, crafted, sizeof(crafted)), 0);
    const uint8_t honest[] = {FB_WIRE_FEED_COUNT_MARK, 'e', 'v'};
    assert_int_equal(zmq_setsockopt(s, ZMQ_SUBSCRIBE, honest, sizeof(honest)), 0);
    usleep(400000);
    s_publish(s_seoul, "kr-seoul", 3);
    int honest_frames = 0;
    for (int i = 0; i < 50; i++) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0) continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, s, 0) >= 0);
        const uint8_t *d = zmq_msg_data(&m);
        size_t n = zmq_msg_size(&m);
        const uint8_t *prefix;
        size_t plen;
        uint64_t head, count;
        assert_int_equal(fb_wire_feed_count_view(d, n, &prefix, &plen, &head, &count), 1);
        /* never the crafted prefix's frame: its bytes after the first NUL are the broker's own */
        if (n >= sizeof(crafted) && memcmp(d, crafted, sizeof(crafted)) == 0) fail_msg("a count frame for a prefix with a NUL");
        if (plen == 2 && memcmp(prefix, "ev", 2) == 0) honest_frames++;
        zmq_msg_close(&m);
    }
    assert_true(honest_frames > 0); /* the honest prefix's frames came */
    zmq_close(s);
}

static void test_a_partner_reading_events_only_gets_the_seal_frames_too(void **state)
{
    (void)state;
    const char *p[] = {"event.kr-seoul"};
    fb_subscriber_t *sub = s_sub("intl-wta", p, 1, 0);
    s_publish(s_seoul, "kr-seoul", 10);
    assert_int_equal(s_recv(sub, 10), 10);
    uint64_t seals = 0;
    assert_int_equal(fb_subscriber_seal_lookups(sub, &seals, NULL), 0);
    assert_true(seals >= 1);
    fb_subscriber_destroy(&sub);
}

static void test_a_subscriber_that_missed_the_seal_frames_verifies_through_replay(void **state)
{
    (void)state;
    /* Verification off: no subscription to seal frames while the messages come; it is turned on before
     * they are read, so they are checked with no seal frame before them. */
    const char *p[] = {"*.kr-busan"};
    fb_subscriber_t *sub = s_sub("kr-incheon", p, 1, 1);
    s_publish(s_busan, "kr-busan", 6);
    usleep(300000); /* delivered into the subscriber's queue */
    assert_int_equal(fb_subscriber_set_verify(sub, FB_VERIFY_ON), FB_OK);
    assert_int_equal(s_recv(sub, 6), 6);
    uint64_t seals = 0;
    assert_true(fb_subscriber_seal_lookups(sub, &seals, NULL) >= 1);
    assert_int_equal(seals, 0);
    fb_subscriber_destroy(&sub);
}

/* hex (2n digits) into n bytes. */
static void s_unhex(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void test_with_pinned_keys_a_subscriber_verifies_from_the_feed_alone(void **state)
{
    (void)state;
    const th_keys_t *k = th_member(&s_t, "kr-seoul");
    fb_signing_key_t pin = {.member = "kr-seoul"};
    s_unhex(k->sign_key_id, pin.key_id, sizeof(pin.key_id));
    s_unhex(k->sign_public, pin.public_key, sizeof(pin.public_key));
    fb_endpoint_opts_t feed = th_endpoint(&s_t, s_t.feed, "kr-incheon");
    fb_subscriber_t *sub = fb_subscriber_open(&feed, NULL);
    assert_non_null(sub);
    assert_int_equal(fb_subscriber_pin_keys(sub, &pin, 1), FB_OK);
    assert_int_equal(fb_subscriber_add(sub, "*.kr-seoul"), FB_OK);
    usleep(400000);
    s_publish(s_seoul, "kr-seoul", 8);
    assert_int_equal(s_recv(sub, 8), 8);
    uint64_t seals = 0;
    assert_int_equal(fb_subscriber_seal_lookups(sub, &seals, NULL), 0);
    assert_true(seals >= 1);
    fb_subscriber_destroy(&sub);
}

static void test_a_subscriber_that_does_not_verify_sees_no_seal_frame(void **state)
{
    (void)state;
    const char *p[] = {"*.kr-seoul"};
    fb_subscriber_t *plain = s_sub("kr-incheon", p, 1, 1), *verifying = s_sub("kr-incheon", p, 1, 0);
    s_publish(s_seoul, "kr-seoul", 5);
    s_recv(verifying, 5);
    fb_message_t m;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fb_subscriber_recv(plain, &m, 5000), FB_OK);
        assert_int_equal(fb_message_verified(&m), FB_MSG_NOT_CHECKED);
    }
    uint64_t seals = 1, vseals = 0;
    assert_int_equal(fb_subscriber_seal_lookups(plain, &seals, NULL), 0);
    assert_int_equal(seals, 0);
    fb_subscriber_seal_lookups(verifying, &vseals, NULL);
    assert_true(vseals >= 1);
    assert_int_equal(fb_subscriber_recv(plain, &m, 300), FB_ETIMEOUT);
    fb_subscriber_destroy(&plain);
    fb_subscriber_destroy(&verifying);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_seal_frame_is_built_while_nobody_takes_them),
        cmocka_unit_test(test_a_verifying_subscriber_verifies_every_live_message_with_no_seal_look_up),
        cmocka_unit_test(test_a_subscriber_with_replay_takes_live_messages_from_the_feed),
        cmocka_unit_test(test_a_count_subscription_with_a_nul_in_it_gets_no_count_frame),
        cmocka_unit_test(test_a_partner_reading_events_only_gets_the_seal_frames_too),
        cmocka_unit_test(test_a_subscriber_that_missed_the_seal_frames_verifies_through_replay),
        cmocka_unit_test(test_with_pinned_keys_a_subscriber_verifies_from_the_feed_alone),
        cmocka_unit_test(test_a_subscriber_that_does_not_verify_sees_no_seal_frame),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
