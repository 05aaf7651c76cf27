/* test_subcount.c — count frames: their wire form, and a subscriber's counts settled against them. */
#include "fb_client_int.h"
#include "fb_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define S_P(s) (const uint8_t *)(s), strlen(s)

static void test_a_count_frame_reads_back_what_was_written(void **state)
{
    (void)state;
    uint8_t f[FB_WIRE_FEED_COUNT_MAX(FB_TOPIC_MAX)];
    const uint8_t *prefix;
    size_t plen, n;
    uint64_t head, count;
    n = fb_wire_put_feed_count(S_P("event.kr-seoul."), UINT64_MAX, 1234567, f);
    assert_true(n <= FB_WIRE_FEED_COUNT_MAX(strlen("event.kr-seoul.")));
    assert_int_equal(f[0], FB_WIRE_FEED_COUNT_MARK);
    assert_int_equal(fb_wire_feed_count_view(f, n, &prefix, &plen, &head, &count), 1);
    assert_int_equal(plen, strlen("event.kr-seoul."));
    assert_memory_equal(prefix, "event.kr-seoul.", plen);
    assert_true(head == UINT64_MAX);
    assert_int_equal(count, 1234567);
    /* the empty prefix (everything), and a count of 0 */
    n = fb_wire_put_feed_count(NULL, 0, 9, 0, f);
    assert_int_equal(fb_wire_feed_count_view(f, n, &prefix, &plen, &head, &count), 1);
    assert_int_equal(plen, 0);
    assert_int_equal(head, 9);
    assert_int_equal(count, 0);
}

static void test_what_is_not_a_count_frame_is_told(void **state)
{
    (void)state;
    const uint8_t *prefix;
    size_t plen;
    uint64_t head, count;
    const uint8_t head_frame[] = {FB_WIRE_FEED_HEAD_MARK, 0, 0x08, 0x05};
    const uint8_t no_nul[] = {FB_WIRE_FEED_COUNT_MARK, 'e', 'v'};
    const uint8_t cut[] = {FB_WIRE_FEED_COUNT_MARK, 'e', 0, 0x08}; /* head_seq's varint cut off */
    const uint8_t mark_only[] = {FB_WIRE_FEED_COUNT_MARK};
    assert_int_equal(fb_wire_feed_count_view(head_frame, sizeof(head_frame), &prefix, &plen, &head, &count), 0);
    assert_int_equal(fb_wire_feed_count_view(no_nul, sizeof(no_nul), &prefix, &plen, &head, &count), 0);
    assert_int_equal(fb_wire_feed_count_view(mark_only, sizeof(mark_only), &prefix, &plen, &head, &count), 0);
    assert_int_equal(fb_wire_feed_count_view(cut, sizeof(cut), &prefix, &plen, &head, &count), -1);
    assert_int_equal(fb_wire_feed_count_view(NULL, 0, &prefix, &plen, &head, &count), 0);
}

/* One head of a subscriber of "event." and "cfp.kr-seoul": the head frame
 * and both count frames came; returns what settling said. */
static int s_round(fb_subcount_t *sc, uint64_t head, uint64_t events, uint64_t cfps)
{
    assert_int_equal(fb_subcount_head(sc, head), 1);
    assert_int_equal(fb_subcount_frame(sc, S_P("event."), head, events), 0);
    assert_int_equal(fb_subcount_frame(sc, S_P("cfp.kr-seoul"), head, cfps), 1);
    return fb_subcount_settle(sc);
}

/* The counts of a subscriber of "event." and "cfp.kr-seoul": each head's
 * count frames settle it when every prefix grew by what was received. */
static void test_counts_settle_only_when_every_prefix_agrees(void **state)
{
    (void)state;
    fb_subcount_t *sc = fb_subcount_new();
    assert_non_null(sc);
    assert_int_equal(fb_subcount_add(sc, "event."), 0);
    assert_int_equal(fb_subcount_add(sc, "cfp.kr-seoul"), 0);
    assert_int_equal(fb_subcount_add(sc, "event."), 0); /* once */
    uint64_t head;
    /* No count frame yet: a head frame is not waited on. */
    assert_int_equal(fb_subcount_on(sc), 0);
    assert_int_equal(fb_subcount_head(sc, 10), 0);
    assert_int_equal(fb_subcount_pending(sc, &head), 0);
    /* The first count frames: where counting starts (a longer prefix's is another subscriber's). */
    assert_int_equal(fb_subcount_frame(sc, S_P("event.kr"), 10, 99), 0);
    assert_int_equal(fb_subcount_on(sc), 0);
    assert_int_equal(fb_subcount_frame(sc, S_P("event."), 10, 100), 0);
    assert_int_equal(fb_subcount_frame(sc, S_P("cfp.kr-seoul"), 10, 7), 0);
    assert_int_equal(fb_subcount_on(sc), 1);
    /* 3 events and a cfp received (and a topic under neither) */
    fb_subcount_recv(sc, "event.kr-seoul.forum", 20);
    fb_subcount_recv(sc, "event.kr-busan.seminar", 22);
    fb_subcount_recv(sc, "event.intl-wta.forum", 20);
    fb_subcount_recv(sc, "cfp.kr-seoul.rnd", 16);
    fb_subcount_recv(sc, "researcher.kr-seoul", 19);
    assert_int_equal(fb_subcount_head(sc, 20), 1);
    assert_int_equal(fb_subcount_pending(sc, &head), 1);
    assert_int_equal(head, 20);
    assert_int_equal(fb_subcount_frame(sc, S_P("event."), 19, 103), 0); /* another head's */
    assert_int_equal(fb_subcount_frame(sc, S_P("event."), 20, 103), 0);
    assert_int_equal(fb_subcount_frame(sc, S_P("event."), 20, 104), 0); /* said twice: the first counts */
    assert_int_equal(fb_subcount_frame(sc, S_P("cfp.kr-seoul"), 20, 8), 1);
    assert_int_equal(fb_subcount_settle(sc), 1);
    assert_int_equal(fb_subcount_pending(sc, &head), 0);
    /* The feed lost an event: the broker counts 2, 1 came. */
    fb_subcount_recv(sc, "event.kr-seoul.forum", 20);
    assert_int_equal(s_round(sc, 30, 105, 8), 0);
    /* From there on it compares again: nothing lost up to head 40. */
    fb_subcount_recv(sc, "event.kr-seoul.forum", 20);
    assert_int_equal(s_round(sc, 40, 106, 8), 1);
    /* A count frame missing (dropped, or a prefix the broker does not count): not settled. */
    assert_int_equal(fb_subcount_head(sc, 50), 1);
    assert_int_equal(fb_subcount_frame(sc, S_P("event."), 50, 106), 0);
    assert_int_equal(fb_subcount_settle(sc), 0);
    /* ... and the prefix without a frame has no starting point for the next head. */
    assert_int_equal(s_round(sc, 60, 106, 8), 0);
    assert_int_equal(s_round(sc, 70, 106, 8), 1);
    fb_subcount_destroy(&sc);
    assert_null(sc);
    fb_subcount_destroy(&sc);
}

/* The empty prefix (a subscription to everything) counts every topic. */
static void test_the_empty_prefix_counts_every_message(void **state)
{
    (void)state;
    fb_subcount_t *sc = fb_subcount_new();
    assert_int_equal(fb_subcount_add(sc, ""), 0);
    assert_int_equal(fb_subcount_head(sc, 1), 0);
    assert_int_equal(fb_subcount_frame(sc, NULL, 0, 1, 0), 0);
    fb_subcount_recv(sc, "event.a", 7);
    fb_subcount_recv(sc, "cfp.b", 5);
    assert_int_equal(fb_subcount_head(sc, 2), 1);
    assert_int_equal(fb_subcount_frame(sc, NULL, 0, 2, 2), 1);
    assert_int_equal(fb_subcount_settle(sc), 1);
    fb_subcount_destroy(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_count_frame_reads_back_what_was_written),
        cmocka_unit_test(test_what_is_not_a_count_frame_is_told),
        cmocka_unit_test(test_counts_settle_only_when_every_prefix_agrees),
        cmocka_unit_test(test_the_empty_prefix_counts_every_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
