/* test_idindex.c — the outbox's message_id index against a plain array as reference, deletion and growth included. */
#include "fb_idindex.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define S_N 20000

/* splitmix64's finaliser: a bijection, so distinct k give distinct ids. */
static uint64_t s_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* Id k: its first half shared by runs of 64 ids (as UUIDv7s of one
 * millisecond share their time), its second half distinct. */
static void s_id(uint64_t k, uint8_t id[FB_UUID_LEN])
{
    uint64_t hi = 0x0190000000007000ULL + k / 64, lo = s_mix(k);
    memcpy(id, &hi, 8);
    memcpy(id + 8, &lo, 8);
}

static void test_ids_put_found_and_deleted_as_a_reference_array_says(void **state)
{
    (void)state;
    fb_idindex_t *ix = fb_idindex_new(16); /* grows many times */
    assert_non_null(ix);
    static int64_t ref[S_N]; /* position held, or -1 */
    for (size_t i = 0; i < S_N; i++) ref[i] = -1;
    uint8_t id[FB_UUID_LEN];
    uint64_t pos, r = 1;
    size_t held = 0;
    for (uint64_t step = 0; step < 6 * S_N; step++) {
        r = s_mix(r);
        uint64_t k = r % S_N;
        s_id(k, id);
        switch (r >> 62) {
        case 0:
        case 1: /* put (a new position when held) */
            assert_int_equal(fb_idindex_put(ix, id, step), 0);
            if (ref[k] < 0) held++;
            ref[k] = (int64_t)step;
            break;
        case 2: /* delete */
            if (ref[k] < 0) {
                assert_int_equal(fb_idindex_del(ix, id, &pos), 0);
            } else {
                assert_int_equal(fb_idindex_del(ix, id, &pos), 1);
                assert_int_equal(pos, (uint64_t)ref[k]);
                ref[k] = -1;
                held--;
            }
            break;
        default: /* look up */
            assert_int_equal(fb_idindex_get(ix, id, &pos), ref[k] >= 0);
            if (ref[k] >= 0) assert_int_equal(pos, (uint64_t)ref[k]);
        }
        assert_int_equal(fb_idindex_size(ix), held);
    }
    /* Every id, held or not, answers as the reference does. */
    for (uint64_t k = 0; k < S_N; k++) {
        s_id(k, id);
        assert_int_equal(fb_idindex_get(ix, id, &pos), ref[k] >= 0);
        if (ref[k] >= 0) assert_int_equal(pos, (uint64_t)ref[k]);
    }
    fb_idindex_destroy(&ix);
    assert_null(ix);
    fb_idindex_destroy(&ix); /* NULL is fine */
}

/* The outbox's pattern: ids come in order and leave from the oldest; what
 * stays is found, what left is not, and the table does not fill up with
 * what left. */
static void test_ids_in_and_out_in_order_leave_no_trace(void **state)
{
    (void)state;
    fb_idindex_t *ix = fb_idindex_new(0);
    assert_non_null(ix);
    uint8_t id[FB_UUID_LEN];
    uint64_t pos;
    for (uint64_t k = 0; k < 200000; k++) {
        s_id(k, id);
        assert_int_equal(fb_idindex_put(ix, id, k), 0);
        if (k < 1000) continue;
        s_id(k - 1000, id);
        assert_int_equal(fb_idindex_del(ix, id, NULL), 1);
        assert_int_equal(fb_idindex_get(ix, id, &pos), 0);
    }
    assert_int_equal(fb_idindex_size(ix), 1000);
    for (uint64_t k = 199000; k < 200000; k++) {
        s_id(k, id);
        assert_int_equal(fb_idindex_get(ix, id, &pos), 1);
        assert_int_equal(pos, k);
    }
    fb_idindex_destroy(&ix);
}

/* A prefetch is a hint: ids held or not, before and after growth, it
 * changes nothing found. */
static void test_prefetch_changes_nothing(void **state)
{
    (void)state;
    fb_idindex_t *ix = fb_idindex_new(0);
    assert_non_null(ix);
    uint8_t id[FB_UUID_LEN];
    uint64_t pos;
    for (uint64_t k = 0; k < 5000; k++) {
        s_id(k, id);
        fb_idindex_prefetch(ix, id); /* not held yet */
        assert_int_equal(fb_idindex_put(ix, id, k), 0);
        fb_idindex_prefetch(ix, id); /* held */
    }
    assert_int_equal(fb_idindex_size(ix), 5000);
    for (uint64_t k = 0; k < 6000; k++) {
        s_id(k, id);
        fb_idindex_prefetch(ix, id);
        assert_int_equal(fb_idindex_get(ix, id, &pos), k < 5000);
        if (k < 5000) assert_int_equal(pos, k);
    }
    fb_idindex_destroy(&ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_put_found_and_deleted_as_a_reference_array_says),
        cmocka_unit_test(test_ids_in_and_out_in_order_leave_no_trace),
        cmocka_unit_test(test_prefetch_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
