/* test_batch.c — a batch's classification, look-ups settled, numbering and heads, without sockets or PostgreSQL. */
#include "fb_batch.h"

#include "fedbus.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define S_NOW 1789776000000000LL

static fb_batch_t *s_b;
static fb_map_t *s_stored; /* origin -> highest origin_seq stored */

static int s_setup(void **state)
{
    (void)state;
    s_b = fb_batch_new(64);
    s_stored = fb_map_new(16);
    return s_b && s_stored ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    fb_batch_destroy(&s_b);
    fb_map_destroy(&s_stored);
    return 0;
}

/* Adds a checked publish of origin with origin_seq, whose message_id is 16
 * times id and whose content hash is 32 times content. */
static fb_batch_item_t *s_add(const char *origin, uint64_t origin_seq, uint8_t id, uint8_t content)
{
    fb_batch_item_t *it = fb_batch_open(s_b);
    it->origin = origin;
    it->topic = "event.x.forum";
    it->origin_seq = origin_seq;
    memset(it->id, id, FB_UUID_LEN);
    it->has_id = 1;
    memset(it->hash, content, FB_SHA256_LEN);
    it->env_data = (const uint8_t *)"envelope";
    it->env_len = 8;
    it->state = FB_BATCH_PENDING;
    s_b->nitems++;
    return it;
}

static void s_stored_head(const char *origin, uint64_t origin_seq)
{
    fb_map_put(s_stored, origin, strlen(origin), origin_seq);
}

/* What the store answers for the k-th key: found with global_seq and the
 * content hash 32 times content, or not found (global_seq 0). */
static void s_found(size_t k, uint64_t global_seq, uint8_t content)
{
    fb_store_found_t *f = &s_b->found[k];
    memset(f, 0, sizeof(*f));
    f->found = global_seq != 0;
    f->global_seq = global_seq;
    f->stored_at_us = S_NOW - 1000;
    memset(f->hash, content, sizeof(f->hash));
}

static uint64_t s_head(const fb_map_t *heads, const char *origin)
{
    uint64_t v = 0;
    fb_map_get(heads, origin, strlen(origin), &v);
    return v;
}

static void test_new_publishes_get_consecutive_global_seqs_after_the_store_head(void **state)
{
    (void)state;
    for (uint8_t i = 1; i <= 3; i++) s_add("kr-busan", i, i, i);
    fb_batch_classify(s_b, s_stored, NULL);
    for (size_t i = 0; i < 3; i++) assert_int_equal(s_b->items[i].state, FB_BATCH_NEW);
    assert_int_equal(fb_batch_keys(s_b, 0), 0); /* nothing to look up */
    assert_int_equal(fb_batch_assign(s_b, 41, S_NOW), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(s_b->items[i].global_seq, 42 + i);
        assert_int_equal(s_b->rows[i].global_seq, 42 + i);
        assert_int_equal(s_b->rows[i].origin_seq, i + 1);
        assert_ptr_equal(s_b->rows[i].body, s_b->items[i].env_data);
        uint8_t stamp[FB_STAMP_MAX];
        size_t n = fb_wire_stamp_stored(42 + i, S_NOW, stamp);
        assert_int_equal(s_b->rows[i].stamp_len, n);
        assert_memory_equal(s_b->rows[i].stamp, stamp, n);
    }
    assert_int_equal(s_head(s_b->heads, "kr-busan"), 3);
}

static void test_origins_interleaved_keep_each_origins_head_within_the_batch(void **state)
{
    (void)state;
    s_stored_head("kr-seoul", 10);
    s_add("kr-busan", 1, 1, 1);
    s_add("kr-seoul", 11, 2, 2);
    s_add("kr-busan", 2, 3, 3);
    s_add("kr-seoul", 11, 4, 4); /* the run of kr-seoul before already took 11 */
    fb_batch_classify(s_b, s_stored, NULL);
    assert_int_equal(s_b->items[0].state, FB_BATCH_NEW);
    assert_int_equal(s_b->items[1].state, FB_BATCH_NEW);
    assert_int_equal(s_b->items[2].state, FB_BATCH_NEW);
    assert_int_equal(s_b->items[3].state, FB_BATCH_CHECK);
    assert_int_equal(fb_batch_assign(s_b, 0, S_NOW), 3);
    assert_int_equal(s_head(s_b->heads, "kr-busan"), 2);
    assert_int_equal(s_head(s_b->heads, "kr-seoul"), 11);
}

static void test_same_message_twice_in_a_batch_is_a_duplicate_of_the_first(void **state)
{
    (void)state;
    s_add("kr-busan", 1, 7, 7);
    s_add("kr-busan", 2, 7, 7);
    fb_batch_classify(s_b, s_stored, NULL);
    assert_int_equal(s_b->items[1].state, FB_BATCH_DUP_REF);
    assert_int_equal(s_b->items[1].ref, 0);
    assert_int_equal(fb_batch_assign(s_b, 100, S_NOW), 1);
    fb_batch_settle(s_b, &s_b->items[0]);
    fb_batch_settle(s_b, &s_b->items[1]);
    assert_int_equal(s_b->items[0].state, FB_BATCH_NEW);
    assert_int_equal(s_b->items[1].state, FB_BATCH_DUPLICATE);
    assert_int_equal(s_b->items[1].global_seq, 101);
    assert_false(s_b->items[1].resent);
}

static void test_same_id_with_other_content_in_a_batch_is_id_reused(void **state)
{
    (void)state;
    s_add("kr-busan", 1, 7, 7);
    s_add("kr-busan", 2, 7, 8);
    fb_batch_classify(s_b, s_stored, NULL);
    assert_int_equal(s_b->items[1].state, FB_BATCH_REJECTED);
    assert_int_equal(s_b->items[1].reason, FEDBUS__REJECT_REASON__REJECT_ID_REUSED);
    assert_int_equal(fb_batch_assign(s_b, 0, S_NOW), 1);
}

static void test_same_id_of_two_origins_is_two_messages(void **state)
{
    (void)state;
    s_add("kr-busan", 1, 7, 7);
    s_add("kr-seoul", 1, 7, 7);
    fb_batch_classify(s_b, s_stored, NULL);
    assert_int_equal(s_b->items[1].state, FB_BATCH_NEW);
    assert_int_equal(fb_batch_assign(s_b, 0, S_NOW), 2);
}

/* A full batch: 32 messages of two origins (the same 16 ids in each),
 * each twice, the copies in another order: every copy refers to its
 * first, whichever slots their fingerprints fall in. */
static void test_every_copy_in_a_full_batch_refers_to_its_first(void **state)
{
    (void)state;
    static const char *origins[] = {"kr-busan", "kr-seoul"};
    for (int k = 0; k < 32; k++) s_add(origins[k & 1], (uint64_t)(k / 2 + 1), (uint8_t)(k / 2 + 1), (uint8_t)k);
    for (int k = 31; k >= 0; k--) {
        int m = (k * 7) % 32; /* 7 is prime to 32: each message once */
        s_add(origins[m & 1], (uint64_t)(m / 2 + 1), (uint8_t)(m / 2 + 1), (uint8_t)m);
    }
    fb_batch_classify(s_b, s_stored, NULL);
    for (size_t i = 0; i < 32; i++) assert_int_equal(s_b->items[i].state, FB_BATCH_NEW);
    for (size_t i = 32; i < 64; i++) {
        const fb_batch_item_t *it = &s_b->items[i], *first = &s_b->items[it->ref];
        assert_int_equal(it->state, FB_BATCH_DUP_REF);
        assert_true(it->ref < 32);
        assert_string_equal(first->origin, it->origin);
        assert_memory_equal(first->id, it->id, FB_UUID_LEN);
    }
    assert_int_equal(fb_batch_assign(s_b, 0, S_NOW), 32);
}

static void test_origin_seq_at_or_below_the_head_is_looked_up_and_settled(void **state)
{
    (void)state;
    s_stored_head("kr-busan", 5);
    s_add("kr-busan", 5, 1, 1); /* at the head: stored before */
    s_add("kr-busan", 3, 2, 2); /* below it: never stored */
    s_add("kr-busan", 4, 3, 3); /* below it: the id stored with other content */
    fb_batch_classify(s_b, s_stored, NULL);
    for (size_t i = 0; i < 3; i++) assert_int_equal(s_b->items[i].state, FB_BATCH_CHECK);
    assert_int_equal(fb_batch_keys(s_b, 0), 3);
    assert_string_equal(s_b->keys[1].origin, "kr-busan");
    assert_ptr_equal(s_b->keys[1].message_id, s_b->items[1].id);
    assert_int_equal(s_b->key_items[2], 2);
    s_b->base = 20;
    s_found(0, 17, 1);
    s_found(1, 0, 0);
    s_found(2, 18, 9);
    fb_batch_resolve(s_b, 3);
    assert_int_equal(s_b->items[0].state, FB_BATCH_DUPLICATE);
    assert_int_equal(s_b->items[0].global_seq, 17);
    assert_false(s_b->items[0].resent); /* the same origin_seq again: a plain resend */
    assert_int_equal(s_b->items[1].state, FB_BATCH_REJECTED);
    assert_int_equal(s_b->items[1].reason, FEDBUS__REJECT_REASON__REJECT_STALE_SEQUENCE);
    assert_int_equal(s_b->items[2].state, FB_BATCH_REJECTED);
    assert_int_equal(s_b->items[2].reason, FEDBUS__REJECT_REASON__REJECT_ID_REUSED);
    assert_int_equal(fb_batch_assign(s_b, 20, S_NOW), 0);
    assert_int_equal(fb_map_size(s_b->heads), 0); /* nothing new: no head moves */
}

static void test_origin_seq_below_an_earlier_one_of_the_batch_is_looked_up(void **state)
{
    (void)state;
    s_add("kr-busan", 3, 1, 1);
    s_add("kr-busan", 2, 2, 2);
    fb_batch_classify(s_b, s_stored, NULL);
    assert_int_equal(s_b->items[0].state, FB_BATCH_NEW);
    assert_int_equal(s_b->items[1].state, FB_BATCH_CHECK);
}

static void test_resend_under_a_new_origin_seq_is_a_duplicate_with_the_first_global_seq(void **state)
{
    (void)state;
    fb_recent_t *recent = fb_recent_new(16);
    assert_non_null(recent);
    fb_recent_add(recent, fb_recent_key("kr-busan", (const uint8_t *)"\x07\x07\x07\x07\x07\x07\x07\x07"
                                                                      "\x07\x07\x07\x07\x07\x07\x07\x07"));
    s_stored_head("kr-busan", 1);
    s_add("kr-busan", 2, 7, 7); /* message 7, stored as origin_seq 1, sent again as 2 */
    s_add("kr-busan", 3, 8, 8); /* a new one behind it */
    fb_batch_classify(s_b, s_stored, recent);
    assert_int_equal(s_b->items[0].state, FB_BATCH_SEEN);
    assert_int_equal(s_b->items[1].state, FB_BATCH_NEW);
    assert_int_equal(fb_batch_keys(s_b, 0), 1); /* only the one seen: one look-up, before the COPY */
    assert_int_equal(s_b->key_items[0], 0);
    s_b->base = 9;
    s_found(0, 4, 7);
    fb_batch_resolve(s_b, 1);
    assert_int_equal(s_b->items[0].state, FB_BATCH_DUPLICATE);
    assert_int_equal(s_b->items[0].global_seq, 4);
    assert_true(s_b->items[0].resent);
    assert_int_equal(fb_batch_assign(s_b, 9, S_NOW), 1);
    assert_int_equal(s_b->items[1].global_seq, 10);
    assert_int_equal(s_head(s_b->heads, "kr-busan"), 3);
    fb_recent_destroy(&recent);
}

static void test_seen_id_not_stored_after_all_is_numbered(void **state)
{
    (void)state;
    fb_recent_t *recent = fb_recent_new(16);
    assert_non_null(recent);
    s_add("kr-busan", 1, 7, 7);
    fb_recent_add(recent, fb_recent_key("kr-busan", s_b->items[0].id)); /* a COMMIT that failed */
    fb_batch_classify(s_b, s_stored, recent);
    assert_int_equal(s_b->items[0].state, FB_BATCH_SEEN);
    assert_int_equal(fb_batch_keys(s_b, 0), 1);
    s_found(0, 0, 0);
    fb_batch_resolve(s_b, 1);
    assert_int_equal(s_b->items[0].state, FB_BATCH_NEW);
    assert_int_equal(fb_batch_assign(s_b, 0, S_NOW), 1);
    fb_recent_destroy(&recent);
}

static void test_conflict_settles_the_new_ones_committed_or_resent(void **state)
{
    (void)state;
    s_add("kr-busan", 1, 1, 1); /* stored by this batch's first attempt, its reply lost */
    s_add("kr-busan", 2, 2, 2); /* stored long ago under another origin_seq */
    s_add("kr-busan", 3, 3, 3); /* new */
    fb_batch_classify(s_b, s_stored, NULL);
    s_b->base = 50;
    assert_int_equal(fb_batch_keys(s_b, 0), 0);
    assert_int_equal(fb_batch_keys(s_b, 1), 3);
    s_found(0, 51, 1);
    s_found(1, 12, 2);
    s_found(2, 0, 0);
    fb_batch_resolve(s_b, 3);
    assert_int_equal(s_b->items[0].state, FB_BATCH_COMMITTED);
    assert_int_equal(s_b->items[0].global_seq, 51);
    uint8_t stamp[FB_STAMP_MAX];
    size_t n = fb_wire_stamp_stored(51, S_NOW - 1000, stamp);
    assert_int_equal(s_b->items[0].stamp_len, n);
    assert_memory_equal(s_b->items[0].stamp, stamp, n);
    assert_int_equal(s_b->items[1].state, FB_BATCH_DUPLICATE);
    assert_true(s_b->items[1].resent);
    assert_int_equal(s_b->items[2].state, FB_BATCH_NEW);
    assert_int_equal(fb_batch_assign(s_b, 51, S_NOW), 1);
    assert_int_equal(s_b->items[2].global_seq, 52);
}

static void test_refused_publishes_keep_their_place_and_take_no_number(void **state)
{
    (void)state;
    s_add("kr-busan", 1, 1, 1);
    fb_batch_item_t *bad = s_add("kr-busan", 2, 2, 2);
    fb_batch_reject(bad, FEDBUS__REJECT_REASON__REJECT_BAD_TOPIC, "topic");
    s_add("kr-busan", 3, 3, 3);
    fb_batch_classify(s_b, s_stored, NULL);
    assert_int_equal(bad->state, FB_BATCH_REJECTED);
    assert_int_equal(bad->reason, FEDBUS__REJECT_REASON__REJECT_BAD_TOPIC);
    assert_int_equal(fb_batch_assign(s_b, 0, S_NOW), 2);
    assert_int_equal(s_b->items[0].global_seq, 1);
    assert_int_equal(s_b->items[2].global_seq, 2);
    fb_batch_settle(s_b, bad);
    assert_int_equal(bad->state, FB_BATCH_REJECTED);
}

static void test_copy_of_a_refused_publish_takes_its_reject(void **state)
{
    (void)state;
    s_stored_head("kr-busan", 5);
    s_add("kr-busan", 3, 1, 1);
    s_add("kr-busan", 3, 1, 1);
    fb_batch_classify(s_b, s_stored, NULL);
    assert_int_equal(fb_batch_keys(s_b, 0), 1);
    s_found(0, 0, 0);
    fb_batch_resolve(s_b, 1);
    fb_batch_settle(s_b, &s_b->items[1]);
    assert_int_equal(s_b->items[1].state, FB_BATCH_REJECTED);
    assert_int_equal(s_b->items[1].reason, FEDBUS__REJECT_REASON__REJECT_STALE_SEQUENCE);
}

static void test_merging_heads_keeps_each_origins_highest(void **state)
{
    (void)state;
    s_stored_head("kr-busan", 9);
    s_stored_head("kr-seoul", 2);
    fb_map_t *from = fb_map_new(4);
    fb_map_put(from, "kr-busan", 8, 7);
    fb_map_put(from, "kr-seoul", 8, 5);
    fb_map_put(from, "kr-ulsan", 8, 1);
    fb_batch_merge_heads(from, s_stored);
    assert_int_equal(s_head(s_stored, "kr-busan"), 9);
    assert_int_equal(s_head(s_stored, "kr-seoul"), 5);
    assert_int_equal(s_head(s_stored, "kr-ulsan"), 1);
    fb_map_destroy(&from);
}

static void test_released_batch_is_empty_and_takes_publishes_again(void **state)
{
    (void)state;
    s_add("kr-busan", 1, 1, 1);
    fb_batch_release(s_b);
    assert_int_equal(s_b->nitems, 0);
    assert_int_equal(s_b->bytes, 0);
    s_add("kr-busan", 2, 2, 2);
    fb_batch_classify(s_b, s_stored, NULL);
    assert_int_equal(s_b->items[0].state, FB_BATCH_NEW);
}

static void test_count_of_an_origin_in_flight_names_its_highest_origin_seq(void **state)
{
    (void)state;
    s_add("kr-incheon", 7, 1, 1);
    s_add("kr-busan", 90, 2, 2);
    s_add("kr-incheon", 12, 3, 3);
    s_add("kr-incheon", 9, 4, 4);
    /* Refused while it was read: no origin, or no origin_seq, is not in flight. */
    fb_batch_item_t *bad = fb_batch_open(s_b);
    fb_batch_reject(bad, FEDBUS__REJECT_REASON__REJECT_MALFORMED, "bad");
    s_b->nitems++;
    uint64_t max = 5;
    assert_int_equal(fb_batch_count_origin(s_b, "kr-incheon", &max), 3);
    assert_int_equal(max, 12);
    max = 100;
    assert_int_equal(fb_batch_count_origin(s_b, "kr-busan", &max), 1);
    assert_int_equal(max, 100); /* only ever raised */
    max = 0;
    assert_int_equal(fb_batch_count_origin(s_b, "kr-seoul", &max), 0);
    assert_int_equal(max, 0);
    fb_batch_release(s_b);
    assert_int_equal(fb_batch_count_origin(s_b, "kr-incheon", &max), 0);
}

#define S_TEST(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        S_TEST(test_new_publishes_get_consecutive_global_seqs_after_the_store_head),
        S_TEST(test_origins_interleaved_keep_each_origins_head_within_the_batch),
        S_TEST(test_same_message_twice_in_a_batch_is_a_duplicate_of_the_first),
        S_TEST(test_same_id_with_other_content_in_a_batch_is_id_reused),
        S_TEST(test_same_id_of_two_origins_is_two_messages),
        S_TEST(test_every_copy_in_a_full_batch_refers_to_its_first),
        S_TEST(test_origin_seq_at_or_below_the_head_is_looked_up_and_settled),
        S_TEST(test_origin_seq_below_an_earlier_one_of_the_batch_is_looked_up),
        S_TEST(test_resend_under_a_new_origin_seq_is_a_duplicate_with_the_first_global_seq),
        S_TEST(test_seen_id_not_stored_after_all_is_numbered),
        S_TEST(test_conflict_settles_the_new_ones_committed_or_resent),
        S_TEST(test_refused_publishes_keep_their_place_and_take_no_number),
        S_TEST(test_copy_of_a_refused_publish_takes_its_reject),
        S_TEST(test_merging_heads_keeps_each_origins_highest),
        S_TEST(test_released_batch_is_empty_and_takes_publishes_again),
        S_TEST(test_count_of_an_origin_in_flight_names_its_highest_origin_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
