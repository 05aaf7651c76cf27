/* test_arena.c — the bump allocator: alignment, chunks, oversized requests, reset and what it keeps
 * (and gives back after a burst). */
#include "fb_arena.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_allocations_are_aligned_distinct_and_writable(void **state)
{
    (void)state;
    fb_arena_t *a = fb_arena_new(4096, 0);
    assert_non_null(a);
    uint8_t *prev = NULL;
    for (size_t i = 1; i <= 300; i++) {
        uint8_t *p = fb_arena_alloc(a, i);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, (int)(i & 0xff), i);
        assert_ptr_not_equal(p, prev); /* distinct from the previous one */
        prev = p;
    }
    /* Earlier bytes survive later allocations (no overlap across chunks). */
    fb_arena_reset(a);
    uint8_t *ptrs[64];
    for (int i = 0; i < 64; i++) {
        ptrs[i] = fb_arena_alloc(a, 100);
        memset(ptrs[i], i, 100);
    }
    for (int i = 0; i < 64; i++)
        for (int k = 0; k < 100; k++) assert_int_equal(ptrs[i][k], i);
    fb_arena_destroy(&a);
    assert_null(a);
}

static void test_zero_size_returns_null(void **state)
{
    (void)state;
    fb_arena_t *a = fb_arena_new(4096, 4096);
    assert_null(fb_arena_alloc(a, 0));
    assert_null(fb_arena_alloc(a, SIZE_MAX));
    assert_int_equal(fb_arena_used(a), 0);
    fb_arena_destroy(&a);
}

static void test_request_larger_than_a_chunk_gets_its_own(void **state)
{
    (void)state;
    fb_arena_t *a = fb_arena_new(4096, 0);
    uint8_t *small = fb_arena_alloc(a, 10);
    uint8_t *big = fb_arena_alloc(a, 100000);
    assert_non_null(small);
    assert_non_null(big);
    memset(big, 7, 100000);
    assert_true(fb_arena_held(a) >= 100000 + 4096);
    assert_int_equal(fb_arena_used(a), 16 + 100000);
    fb_arena_destroy(&a);
}

static void test_reset_keeps_up_to_keep_bytes_and_reuses_them(void **state)
{
    (void)state;
    fb_arena_t *a = fb_arena_new(4096, 8192);
    for (int i = 0; i < 40; i++) assert_non_null(fb_arena_alloc(a, 1000)); /* about 10 chunks */
    assert_true(fb_arena_held(a) >= 10 * 4096);
    fb_arena_reset(a);
    assert_int_equal(fb_arena_used(a), 0);
    assert_int_equal(fb_arena_held(a), 8192); /* two chunks kept */
    /* Reuse: filling the kept chunks allocates nothing new. */
    for (int i = 0; i < 8; i++) assert_non_null(fb_arena_alloc(a, 1000));
    assert_int_equal(fb_arena_held(a), 8192);
    assert_non_null(fb_arena_alloc(a, 4000)); /* past them: a new chunk */
    assert_int_equal(fb_arena_held(a), 3 * 4096);
    fb_arena_destroy(&a);
}

static void test_reset_gives_a_bursts_chunks_back_after_two_quiet_cycles(void **state)
{
    (void)state;
    fb_arena_t *a = fb_arena_new(4096, 1 << 20);
    for (int i = 0; i < 40; i++) assert_non_null(fb_arena_alloc(a, 1000)); /* a burst */
    fb_arena_reset(a);
    size_t after_burst = fb_arena_held(a);
    assert_true(after_burst >= 8 * 4096); /* kept for a burst that comes again */
    assert_non_null(fb_arena_alloc(a, 100));
    fb_arena_reset(a);
    assert_int_equal(fb_arena_held(a), after_burst); /* one quiet cycle: still kept */
    assert_non_null(fb_arena_alloc(a, 100));
    fb_arena_reset(a);
    assert_int_equal(fb_arena_held(a), 4096); /* two: one chunk is left */
    for (int i = 0; i < 40; i++) assert_non_null(fb_arena_alloc(a, 1000)); /* it grows again */
    assert_true(fb_arena_held(a) >= 10 * 4096);
    fb_arena_destroy(&a);
}

static void test_reset_with_keep_zero_frees_everything(void **state)
{
    (void)state;
    fb_arena_t *a = fb_arena_new(4096, 0);
    assert_non_null(fb_arena_alloc(a, 5000));
    fb_arena_reset(a);
    assert_int_equal(fb_arena_held(a), 0);
    assert_non_null(fb_arena_alloc(a, 10));
    fb_arena_destroy(&a);
    fb_arena_destroy(&a); /* NULL is accepted */
    fb_arena_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocations_are_aligned_distinct_and_writable),
        cmocka_unit_test(test_zero_size_returns_null),
        cmocka_unit_test(test_request_larger_than_a_chunk_gets_its_own),
        cmocka_unit_test(test_reset_keeps_up_to_keep_bytes_and_reuses_them),
        cmocka_unit_test(test_reset_gives_a_bursts_chunks_back_after_two_quiet_cycles),
        cmocka_unit_test(test_reset_with_keep_zero_frees_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
