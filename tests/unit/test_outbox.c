/* test_outbox.c — the node's outbox through its API: capacity, send order, answers, trim, resends. */
#include "fb_outbox.h"

#include "fedbus/fedbus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Message id k: 16 bytes that differ for every k. */
static void s_id(uint64_t k, uint8_t id[FB_UUID_LEN])
{
    memset(id, 0xA5, FB_UUID_LEN);
    memcpy(id, &k, sizeof(k));
}

/* Appends publish k (its frame: 4 bytes "f" and k) with the next
 * origin_seq, created at 1000 * k; returns what append returned (the frame
 * is freed when it was refused). */
static int s_append_who(fb_outbox_t *ob, uint64_t k, const char *who, int batched)
{
    uint8_t id[FB_UUID_LEN];
    s_id(k, id);
    uint8_t *frame = malloc(4);
    assert_non_null(frame);
    memcpy(frame, "f", 1);
    frame[1] = (uint8_t)k;
    frame[2] = (uint8_t)(k >> 8);
    frame[3] = 0;
    fb_outbox_add_t add = {.id = id, .origin_seq = fb_outbox_next_seq(ob), .created_at_us = 1000 * (int64_t)k,
                           .frame = frame, .frame_len = 4, .who = (const uint8_t *)who,
                           .who_len = who ? strlen(who) : 0, .batched = batched};
    int rc = fb_outbox_append(ob, &add);
    if (rc != FB_OK) free(frame);
    return rc;
}

static int s_append(fb_outbox_t *ob, uint64_t k)
{
    return s_append_who(ob, k, "client", 0);
}

/* A new outbox of cap entries holding publishes 1 to n. */
static fb_outbox_t *s_outbox(size_t cap, uint64_t n)
{
    fb_outbox_t *ob = fb_outbox_new(cap);
    assert_non_null(ob);
    for (uint64_t k = 1; k <= n; k++) assert_int_equal(s_append(ob, k), FB_OK);
    return ob;
}

/* Walks range and writes the origin_seqs it yields into seqs; returns how many. */
static size_t s_walk(fb_outbox_t *ob, fb_outbox_range_t range, uint64_t *seqs, size_t max)
{
    fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
    fb_outbox_entry_t *e;
    size_t n = 0;
    while ((e = fb_outbox_next(ob, range, &it))) {
        assert_true(n < max);
        seqs[n++] = e->origin_seq;
    }
    return n;
}

static fb_outbox_entry_t *s_answer(fb_outbox_t *ob, uint64_t k)
{
    uint8_t id[FB_UUID_LEN];
    s_id(k, id);
    return fb_outbox_answer_id(ob, id);
}

static void test_append_until_full_then_refused_as_full(void **state)
{
    (void)state;
    fb_outbox_t *ob = fb_outbox_new(16);
    assert_non_null(ob);
    for (uint64_t k = 1; k <= 16; k++) {
        assert_false(fb_outbox_full(ob));
        assert_int_equal(s_append(ob, k), FB_OK);
    }
    assert_true(fb_outbox_full(ob));
    assert_int_equal(s_append(ob, 17), FB_EFULL); /* full, not out of memory */
    assert_int_equal(fb_outbox_depth(ob), 16);
    assert_int_equal(fb_outbox_next_seq(ob), 17); /* a refused append takes no origin_seq */
    /* Room again once the oldest is answered and let go of. */
    assert_non_null(s_answer(ob, 1));
    assert_true(fb_outbox_full(ob));
    fb_outbox_trim(ob);
    assert_false(fb_outbox_full(ob));
    assert_int_equal(s_append(ob, 17), FB_OK);
    fb_outbox_destroy(&ob);
    assert_null(ob);
}

/* A frame that is not a publish has no envelope to offer (the outbox
 * takes any bytes; the broker refuses them). */
static void test_a_frame_that_is_no_publish_has_no_envelope(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_outbox(4, 1);
    size_t len = 99;
    assert_null(fb_outbox_envelope(fb_outbox_newest(ob), &len));
    assert_int_equal(len, 0);
    fb_outbox_destroy(&ob);
}

static void test_append_takes_only_the_next_origin_seq(void **state)
{
    (void)state;
    fb_outbox_t *ob = fb_outbox_new(4);
    uint8_t id[FB_UUID_LEN];
    s_id(1, id);
    uint8_t frame[1] = {0};
    fb_outbox_add_t add = {.id = id, .origin_seq = 2, .frame = frame, .frame_len = 1};
    assert_int_equal(fb_outbox_append(ob, &add), FB_EINVAL);
    assert_int_equal(fb_outbox_depth(ob), 0);
    /* A Welcome raises the sequence, never lowers it. */
    fb_outbox_raise_seq(ob, 100);
    fb_outbox_raise_seq(ob, 50);
    assert_int_equal(fb_outbox_next_seq(ob), 100);
    assert_int_equal(s_append(ob, 1), FB_OK);
    assert_int_equal(fb_outbox_find(ob, id)->origin_seq, 100);
    assert_int_equal(fb_outbox_next_seq(ob), 101);
    fb_outbox_destroy(&ob);
}

static void test_next_to_send_is_in_origin_seq_order_and_mark_sent_moves_on(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_outbox(8, 5);
    uint64_t seqs[8];
    assert_int_equal(s_walk(ob, FB_OUTBOX_UNSENT, seqs, 8), 5);
    for (uint64_t i = 0; i < 5; i++) assert_int_equal(seqs[i], i + 1);
    assert_int_equal(s_walk(ob, FB_OUTBOX_SENT, seqs, 8), 0);

    fb_outbox_mark_sent(ob, fb_outbox_find_seq(ob, 3));
    assert_int_equal(s_walk(ob, FB_OUTBOX_UNSENT, seqs, 8), 2);
    assert_int_equal(seqs[0], 4);
    assert_int_equal(seqs[1], 5);
    assert_int_equal(s_walk(ob, FB_OUTBOX_SENT, seqs, 8), 3);
    assert_int_equal(seqs[2], 3);
    /* What is appended meanwhile is sent after what waits. */
    assert_int_equal(s_append(ob, 6), FB_OK);
    assert_int_equal(s_walk(ob, FB_OUTBOX_UNSENT, seqs, 8), 3);
    assert_int_equal(seqs[2], 6);
    assert_int_equal(s_walk(ob, FB_OUTBOX_ALL, seqs, 8), 6);
    fb_outbox_destroy(&ob);
}

static void test_answered_out_of_order_the_ring_advances_past_the_answered_head(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_outbox(4, 4);
    uint64_t seqs[8];
    fb_outbox_mark_sent(ob, fb_outbox_find_seq(ob, 4));
    assert_int_equal(s_answer(ob, 3)->origin_seq, 3);
    assert_int_equal(fb_outbox_answer_seq(ob, 2)->origin_seq, 2);
    fb_outbox_trim(ob);
    /* The head (1) is unanswered: nothing leaves yet. */
    assert_int_equal(fb_outbox_depth(ob), 4);
    assert_int_equal(fb_outbox_first_seq(ob), 1);
    assert_int_equal(s_walk(ob, FB_OUTBOX_SENT, seqs, 8), 2); /* 1 and 4 */
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[1], 4);

    assert_non_null(s_answer(ob, 1));
    fb_outbox_trim(ob);
    assert_int_equal(fb_outbox_depth(ob), 1);
    assert_int_equal(fb_outbox_first_seq(ob), 4);
    /* The freed slots take new entries; around the ring, all stays in order. */
    for (uint64_t k = 5; k <= 7; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_true(fb_outbox_full(ob));
    assert_int_equal(s_walk(ob, FB_OUTBOX_ALL, seqs, 8), 4);
    for (uint64_t i = 0; i < 4; i++) assert_int_equal(seqs[i], i + 4);
    assert_int_equal(s_walk(ob, FB_OUTBOX_UNSENT, seqs, 8), 3);
    assert_int_equal(seqs[0], 5);
    for (uint64_t k = 4; k <= 7; k++) assert_non_null(s_answer(ob, k));
    fb_outbox_trim(ob);
    assert_int_equal(fb_outbox_depth(ob), 0);
    assert_int_equal(fb_outbox_first_seq(ob), 8); /* empty: the next one */
    fb_outbox_destroy(&ob);
}

static void test_find_by_id_and_by_origin_seq_sees_only_what_is_held(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_outbox(8, 3);
    uint8_t id[FB_UUID_LEN];
    s_id(2, id);
    fb_outbox_entry_t *e = fb_outbox_find(ob, id);
    assert_non_null(e);
    assert_int_equal(e->origin_seq, 2);
    assert_memory_equal(e->id, id, FB_UUID_LEN);
    assert_int_equal(e->frame_len, 4);
    assert_int_equal(e->frame[1], 2);
    assert_ptr_equal(fb_outbox_find_seq(ob, 2), e);
    s_id(9, id);
    assert_null(fb_outbox_find(ob, id));
    assert_null(fb_outbox_find_seq(ob, 9));
    /* Answered: no longer found by id, and not answered twice. */
    assert_ptr_equal(s_answer(ob, 2), e);
    assert_true(e->answered);
    s_id(2, id);
    assert_null(fb_outbox_find(ob, id));
    assert_null(s_answer(ob, 2));
    assert_null(fb_outbox_answer_seq(ob, 2));
    fb_outbox_destroy(&ob);
}

static void test_depth_and_oldest_age_follow_answers(void **state)
{
    (void)state;
    fb_outbox_t *ob = fb_outbox_new(8);
    assert_int_equal(fb_outbox_depth(ob), 0);
    assert_int_equal(fb_outbox_oldest_created_us(ob), 0);
    for (uint64_t k = 1; k <= 3; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(fb_outbox_depth(ob), 3);
    assert_int_equal(fb_outbox_oldest_created_us(ob), 1000);
    assert_non_null(s_answer(ob, 1));
    /* Answered but not yet let go of: held, no longer the oldest unconfirmed. */
    assert_int_equal(fb_outbox_depth(ob), 3);
    assert_int_equal(fb_outbox_oldest_created_us(ob), 2000);
    fb_outbox_trim(ob);
    assert_int_equal(fb_outbox_depth(ob), 2);
    assert_non_null(s_answer(ob, 3));
    assert_non_null(s_answer(ob, 2));
    assert_int_equal(fb_outbox_oldest_created_us(ob), 0);
    fb_outbox_trim(ob);
    assert_int_equal(fb_outbox_depth(ob), 0);
    fb_outbox_destroy(&ob);
}

static void test_after_a_rewind_everything_unanswered_is_sent_again_in_order(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_outbox(8, 5);
    uint64_t seqs[8];
    fb_outbox_mark_sent(ob, fb_outbox_find_seq(ob, 5));
    assert_int_equal(s_walk(ob, FB_OUTBOX_UNSENT, seqs, 8), 0);
    assert_non_null(s_answer(ob, 2));
    assert_non_null(s_answer(ob, 4));
    fb_outbox_rewind(ob); /* a reconnection */
    assert_int_equal(s_walk(ob, FB_OUTBOX_SENT, seqs, 8), 0);
    assert_int_equal(s_walk(ob, FB_OUTBOX_UNSENT, seqs, 8), 3);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[1], 3);
    assert_int_equal(seqs[2], 5);
    /* Sent again up to 3: 5 is still to send. */
    fb_outbox_mark_sent(ob, fb_outbox_find_seq(ob, 3));
    assert_int_equal(s_walk(ob, FB_OUTBOX_UNSENT, seqs, 8), 1);
    assert_int_equal(seqs[0], 5);
    fb_outbox_destroy(&ob);
}

static void test_submitter_is_kept_and_replaced_by_the_newest_asker(void **state)
{
    (void)state;
    fb_outbox_t *ob = fb_outbox_new(4);
    char long_who[200];
    memset(long_who, 'w', sizeof(long_who) - 1);
    long_who[sizeof(long_who) - 1] = '\0';
    assert_int_equal(s_append_who(ob, 1, "first", 0), FB_OK);
    assert_int_equal(s_append_who(ob, 2, NULL, 0), FB_OK);
    fb_outbox_entry_t *e = fb_outbox_find_seq(ob, 1);
    size_t len;
    const uint8_t *who = fb_outbox_submitter(e, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(who, "first", 5);
    assert_false(e->batched);
    assert_null(fb_outbox_submitter(fb_outbox_find_seq(ob, 2), &len));
    /* A long identity (kept apart), then a short one again. */
    assert_int_equal(fb_outbox_set_submitter(e, (const uint8_t *)long_who, strlen(long_who), 1), 0);
    who = fb_outbox_submitter(e, &len);
    assert_int_equal(len, strlen(long_who));
    assert_memory_equal(who, long_who, len);
    assert_true(e->batched);
    assert_int_equal(fb_outbox_set_submitter(e, (const uint8_t *)"again", 5, 0), 0);
    who = fb_outbox_submitter(e, &len);
    assert_memory_equal(who, "again", 5);
    /* Too long for a ZeroMQ identity: refused, the old one stays. */
    char huge[300];
    memset(huge, 'h', sizeof(huge));
    assert_int_equal(fb_outbox_set_submitter(e, (const uint8_t *)huge, sizeof(huge), 0), -1);
    who = fb_outbox_submitter(e, &len);
    assert_int_equal(len, 5);
    fb_outbox_destroy(&ob);
}

/* The ring starts small and doubles as publishes come: entries held while it
 * grows, wrapped around its end or not, keep their ids, order, frames and
 * submitters; it never holds more than outbox-max. */
static void test_ring_grows_with_entries_wrapped_and_keeps_them_in_order(void **state)
{
    (void)state;
    fb_outbox_t *ob = fb_outbox_new(5000);
    assert_non_null(ob);
    uint64_t k = 1, answered = 0;
    /* Let go of some at the head between appends, so that the ring's
     * contents wrap around its end before each doubling. */
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 700; i++, k++) assert_int_equal(s_append_who(ob, k, k % 2 ? "odd" : "even", 0), FB_OK);
        for (int i = 0; i < 300; i++) assert_non_null(s_answer(ob, ++answered));
        fb_outbox_trim(ob);
        assert_int_equal(fb_outbox_depth(ob), k - 1 - answered);
    }
    fb_outbox_t *empty = fb_outbox_new(1);
    assert_null(fb_outbox_newest(empty));
    fb_outbox_destroy(&empty);
    assert_int_equal(fb_outbox_newest(ob)->origin_seq, k - 1);
    uint64_t expect = answered + 1;
    fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
    for (fb_outbox_entry_t *e; (e = fb_outbox_next(ob, FB_OUTBOX_ALL, &it)); expect++) {
        uint8_t id[FB_UUID_LEN];
        s_id(expect, id);
        size_t len;
        const uint8_t *who = fb_outbox_submitter(e, &len);
        assert_int_equal(e->origin_seq, expect);
        assert_memory_equal(e->id, id, FB_UUID_LEN);
        assert_int_equal(e->frame[1], (uint8_t)expect);
        assert_memory_equal(who, expect % 2 ? "odd" : "even", len);
        assert_ptr_equal(fb_outbox_find(ob, id), e);
        assert_ptr_equal(fb_outbox_find_seq(ob, expect), e);
    }
    assert_int_equal(expect, k);
    /* Up to outbox-max and no further. */
    while (!fb_outbox_full(ob)) assert_int_equal(s_append(ob, k++), FB_OK);
    assert_int_equal(fb_outbox_depth(ob), 5000);
    assert_int_equal(s_append(ob, k), FB_EFULL);
    fb_outbox_destroy(&ob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_until_full_then_refused_as_full),
        cmocka_unit_test(test_append_takes_only_the_next_origin_seq),
        cmocka_unit_test(test_a_frame_that_is_no_publish_has_no_envelope),
        cmocka_unit_test(test_next_to_send_is_in_origin_seq_order_and_mark_sent_moves_on),
        cmocka_unit_test(test_answered_out_of_order_the_ring_advances_past_the_answered_head),
        cmocka_unit_test(test_find_by_id_and_by_origin_seq_sees_only_what_is_held),
        cmocka_unit_test(test_depth_and_oldest_age_follow_answers),
        cmocka_unit_test(test_after_a_rewind_everything_unanswered_is_sent_again_in_order),
        cmocka_unit_test(test_submitter_is_kept_and_replaced_by_the_newest_asker),
        cmocka_unit_test(test_ring_grows_with_entries_wrapped_and_keeps_them_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
