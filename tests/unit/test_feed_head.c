/* test_feed_head.c — the feed's head frame (docs/protocol.md, "Feed"): the mark, a NUL,
 * then FeedHead as protobuf-c packs it; read back whatever protobuf-c packs, and
 * told apart from feed messages and from bytes that are not FeedHead. */
#include "fb_wire.h"

#include "fedbus.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void test_head_frame_is_mark_nul_and_what_protobuf_c_packs(void **state)
{
    (void)state;
    const uint64_t heads[] = {0, 1, 127, 128, 30003, UINT64_MAX};
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        uint8_t frame[FB_WIRE_FEED_HEAD_MAX], ref[16];
        size_t n = fb_wire_put_feed_head(heads[i], frame);
        assert_true(n <= FB_WIRE_FEED_HEAD_MAX);
        assert_int_equal(frame[0], FB_WIRE_FEED_HEAD_MARK);
        assert_int_equal(frame[1], 0);
        Fedbus__FeedHead h = FEDBUS__FEED_HEAD__INIT;
        h.head_seq = heads[i];
        size_t rn = fedbus__feed_head__pack(&h, ref);
        /* protobuf-c leaves a zero out; fb_wire writes it: both read as 0. */
        Fedbus__FeedHead *back = fedbus__feed_head__unpack(NULL, n - 2, frame + 2);
        assert_non_null(back);
        assert_true(back->head_seq == heads[i]);
        fedbus__feed_head__free_unpacked(back, NULL);
        if (heads[i]) assert_memory_equal(frame + 2, ref, rn);
        uint64_t got = 7;
        assert_int_equal(fb_wire_feed_head_view(frame, n, &got), 1);
        assert_true(got == heads[i]);
    }
}

static void test_head_view_steps_over_fields_it_does_not_know(void **state)
{
    (void)state;
    /* A later broker may add fields: they are stepped over. */
    uint8_t frame[64] = {FB_WIRE_FEED_HEAD_MARK, 0};
    size_t n = 2;
    n += fb_wire_put_uint(9, 5, frame + n);
    n += fb_wire_put_uint(1, 424242, frame + n);
    n += fb_wire_put_bytes(10, "x", 1, frame + n);
    uint64_t got = 0;
    assert_int_equal(fb_wire_feed_head_view(frame, n, &got), 1);
    assert_true(got == 424242);
}

static void test_feed_messages_are_not_head_frames(void **state)
{
    (void)state;
    uint64_t got;
    const uint8_t plain[] = "event.kr-busan.forum\0\x08\x01";
    const uint8_t batched[] = "\x01" "event\0";
    const uint8_t mark_only[] = {FB_WIRE_FEED_HEAD_MARK};
    const uint8_t no_nul[] = {FB_WIRE_FEED_HEAD_MARK, 'x', 0};
    assert_int_equal(fb_wire_feed_head_view(plain, sizeof(plain) - 1, &got), 0);
    assert_int_equal(fb_wire_feed_head_view(batched, sizeof(batched) - 1, &got), 0);
    assert_int_equal(fb_wire_feed_head_view(mark_only, sizeof(mark_only), &got), 0);
    assert_int_equal(fb_wire_feed_head_view(no_nul, sizeof(no_nul), &got), 0);
}

static void test_head_frame_with_broken_protobuf_is_refused(void **state)
{
    (void)state;
    uint64_t got;
    const uint8_t truncated[] = {FB_WIRE_FEED_HEAD_MARK, 0, 0x08, 0x80}; /* a varint that does not end */
    const uint8_t field0[] = {FB_WIRE_FEED_HEAD_MARK, 0, 0x00, 0x01};    /* field number 0 */
    assert_int_equal(fb_wire_feed_head_view(truncated, sizeof(truncated), &got), -1);
    assert_int_equal(fb_wire_feed_head_view(field0, sizeof(field0), &got), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_frame_is_mark_nul_and_what_protobuf_c_packs),
        cmocka_unit_test(test_head_view_steps_over_fields_it_does_not_know),
        cmocka_unit_test(test_feed_messages_are_not_head_frames),
        cmocka_unit_test(test_head_frame_with_broken_protobuf_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
