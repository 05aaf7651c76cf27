/* test_map.c — the open-addressing map against a plain array as reference, deletion included. */
#include "fb_map.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define S_N 100000
#define S_FULL 91000

/* A bijection on 64-bit integers (splitmix64's finaliser): distinct inputs
 * give distinct keys, so the reference needs no duplicate handling. */
static uint64_t s_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* Key i: 8 distinct bytes, then a tail so lengths run from 8 to FB_MAP_KEY_MAX. */
static size_t s_key(uint64_t i, uint8_t key[FB_MAP_KEY_MAX])
{
    uint64_t m = s_mix(i);
    memcpy(key, &m, 8);
    size_t len = 8 + (size_t)(i % (FB_MAP_KEY_MAX - 8 + 1));
    for (size_t k = 8; k < len; k++) key[k] = (uint8_t)(m >> (k % 8 * 8)) ^ (uint8_t)k;
    return len;
}

static uint64_t s_value(uint64_t i)
{
    return s_mix(i ^ 0xA5A5A5A5A5A5A5A5ULL);
}

static void test_put_get_del_of_one_key(void **state)
{
    (void)state;
    fb_map_t *m = fb_map_new(4);
    assert_non_null(m);
    uint64_t v = 0;
    assert_int_equal(fb_map_get(m, "kr-incheon", 10, &v), 0);
    assert_int_equal(fb_map_put(m, "kr-incheon", 10, 42), 0);
    assert_int_equal(fb_map_size(m), 1);
    assert_int_equal(fb_map_get(m, "kr-incheon", 10, &v), 1);
    assert_int_equal(v, 42);
    assert_int_equal(fb_map_get(m, "kr-incheon", 10, NULL), 1); /* value may be NULL */
    assert_int_equal(fb_map_get(m, "kr-incheo", 9, &v), 0);      /* a prefix is another key */
    assert_int_equal(fb_map_get(m, "kr-incheon!", 11, &v), 0);
    assert_int_equal(fb_map_del(m, "kr-incheon", 10), 1);
    assert_int_equal(fb_map_size(m), 0);
    assert_int_equal(fb_map_get(m, "kr-incheon", 10, &v), 0);
    assert_int_equal(fb_map_del(m, "kr-incheon", 10), 0);
    fb_map_destroy(&m);
    assert_null(m);
}

static void test_put_on_an_existing_key_overwrites_and_keeps_the_size(void **state)
{
    (void)state;
    fb_map_t *m = fb_map_new(0);
    assert_non_null(m);
    assert_int_equal(fb_map_put(m, "k", 1, 1), 0);
    assert_int_equal(fb_map_put(m, "k", 1, UINT64_MAX), 0);
    assert_int_equal(fb_map_size(m), 1);
    uint64_t v = 0;
    assert_int_equal(fb_map_get(m, "k", 1, &v), 1);
    assert_int_equal(v, UINT64_MAX);
    fb_map_destroy(&m);
}

static void test_keys_are_bytes_not_strings(void **state)
{
    (void)state;
    fb_map_t *m = fb_map_new(0);
    assert_non_null(m);
    const uint8_t a[4] = {0, 1, 0, 2}, b[4] = {0, 1, 0, 3};
    assert_int_equal(fb_map_put(m, a, 4, 10), 0);
    assert_int_equal(fb_map_put(m, b, 4, 20), 0);
    assert_int_equal(fb_map_size(m), 2);
    uint64_t v = 0;
    assert_int_equal(fb_map_get(m, a, 4, &v), 1);
    assert_int_equal(v, 10);
    assert_int_equal(fb_map_get(m, b, 4, &v), 1);
    assert_int_equal(v, 20);
    assert_int_equal(fb_map_get(m, a, 2, &v), 0);
    fb_map_destroy(&m);
}

static void test_key_longer_than_key_max_is_refused(void **state)
{
    (void)state;
    fb_map_t *m = fb_map_new(0);
    assert_non_null(m);
    uint8_t key[FB_MAP_KEY_MAX + 1];
    memset(key, 'k', sizeof(key));
    assert_int_equal(fb_map_put(m, key, FB_MAP_KEY_MAX + 1, 1), -1);
    assert_int_equal(fb_map_size(m), 0);
    assert_int_equal(fb_map_get(m, key, FB_MAP_KEY_MAX + 1, NULL), 0);
    assert_int_equal(fb_map_del(m, key, FB_MAP_KEY_MAX + 1), 0);
    /* Exactly FB_MAP_KEY_MAX bytes is fine. */
    assert_int_equal(fb_map_put(m, key, FB_MAP_KEY_MAX, 7), 0);
    uint64_t v = 0;
    assert_int_equal(fb_map_get(m, key, FB_MAP_KEY_MAX, &v), 1);
    assert_int_equal(v, 7);
    assert_int_equal(fb_map_get(m, key, FB_MAP_KEY_MAX + 1, &v), 0);
    fb_map_destroy(&m);
}

/* Asserts that m holds exactly the keys i in [0, n) with present[i], valued s_value(i) + bump[i]. */
static void s_assert_like_reference(const fb_map_t *m, const uint8_t *present, const uint64_t *bump,
                                    size_t n)
{
    size_t want = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t key[FB_MAP_KEY_MAX];
        size_t len = s_key(i, key);
        uint64_t v = 0;
        int got = fb_map_get(m, key, len, &v);
        if (got != present[i]) fail_msg("key %zu: get says %d, reference says %d", i, got, present[i]);
        if (present[i]) {
            want++;
            if (v != s_value(i) + bump[i]) fail_msg("key %zu holds the wrong value", i);
        }
    }
    assert_int_equal(fb_map_size(m), want);
}

static void test_100k_random_keys_match_a_reference_array(void **state)
{
    (void)state;
    uint8_t *present = calloc(S_N, 1);
    uint64_t *bump = calloc(S_N, sizeof(uint64_t));
    assert_non_null(present);
    assert_non_null(bump);
    fb_map_t *m = fb_map_new(0); /* grows many times on the way */
    assert_non_null(m);
    for (size_t i = 0; i < S_N; i++) {
        uint8_t key[FB_MAP_KEY_MAX];
        size_t len = s_key(i, key);
        assert_int_equal(fb_map_put(m, key, len, s_value(i)), 0);
        present[i] = 1;
    }
    s_assert_like_reference(m, present, bump, S_N);
    /* Overwrite every third key. */
    for (size_t i = 0; i < S_N; i += 3) {
        uint8_t key[FB_MAP_KEY_MAX];
        size_t len = s_key(i, key);
        bump[i] = 1000;
        assert_int_equal(fb_map_put(m, key, len, s_value(i) + bump[i]), 0);
    }
    s_assert_like_reference(m, present, bump, S_N);
    /* Keys never inserted are absent. */
    for (size_t i = S_N; i < 2 * S_N; i++) {
        uint8_t key[FB_MAP_KEY_MAX];
        size_t len = s_key(i, key);
        if (fb_map_get(m, key, len, NULL)) fail_msg("key %zu was never put but is found", i);
    }
    fb_map_destroy(&m);
    free(present);
    free(bump);
}

static void test_deleting_half_of_a_full_table_keeps_the_rest_reachable(void **state)
{
    (void)state;
    uint8_t *present = calloc(S_FULL, 1);
    uint64_t *bump = calloc(S_FULL, sizeof(uint64_t));
    assert_non_null(present);
    assert_non_null(bump);
    /* S_FULL keys leave a 131072-slot table just under its 0.7 load limit,
     * so probe runs are long and deletion has much to shift back. */
    fb_map_t *m = fb_map_new(0);
    assert_non_null(m);
    for (size_t i = 0; i < S_FULL; i++) {
        uint8_t key[FB_MAP_KEY_MAX];
        size_t len = s_key(i, key);
        assert_int_equal(fb_map_put(m, key, len, s_value(i)), 0);
        present[i] = 1;
    }
    /* Delete a pseudo-random half. */
    for (size_t i = 0; i < S_FULL; i++) {
        if (s_mix(i * 7 + 1) & 1) continue;
        uint8_t key[FB_MAP_KEY_MAX];
        size_t len = s_key(i, key);
        assert_int_equal(fb_map_del(m, key, len), 1);
        assert_int_equal(fb_map_del(m, key, len), 0);
        present[i] = 0;
    }
    size_t left = 0;
    for (size_t i = 0; i < S_FULL; i++) left += present[i];
    assert_in_range(left, S_FULL / 2 - 2000, S_FULL / 2 + 2000);
    s_assert_like_reference(m, present, bump, S_FULL);
    /* Put the deleted ones back under a new value: no ghosts, no losses. */
    for (size_t i = 0; i < S_FULL; i++) {
        if (present[i]) continue;
        uint8_t key[FB_MAP_KEY_MAX];
        size_t len = s_key(i, key);
        bump[i] = 5;
        assert_int_equal(fb_map_put(m, key, len, s_value(i) + 5), 0);
        present[i] = 1;
    }
    s_assert_like_reference(m, present, bump, S_FULL);
    fb_map_destroy(&m);
    free(present);
    free(bump);
}

static void test_interleaved_puts_and_deletes_match_the_reference(void **state)
{
    (void)state;
    enum { S_KEYS = 5000, S_OPS = 100000 };
    uint8_t present[S_KEYS];
    uint64_t bump[S_KEYS];
    memset(present, 0, sizeof(present));
    memset(bump, 0, sizeof(bump));
    fb_map_t *m = fb_map_new(16);
    assert_non_null(m);
    for (uint64_t op = 0; op < S_OPS; op++) {
        uint64_t r = s_mix(op);
        size_t i = (size_t)(r % S_KEYS);
        uint8_t key[FB_MAP_KEY_MAX];
        size_t len = s_key(i, key);
        if ((r >> 32) % 3 == 0) {
            assert_int_equal(fb_map_del(m, key, len), present[i]);
            present[i] = 0;
        } else {
            bump[i] = op;
            assert_int_equal(fb_map_put(m, key, len, s_value(i) + op), 0);
            present[i] = 1;
        }
    }
    s_assert_like_reference(m, present, bump, S_KEYS);
    fb_map_destroy(&m);
}

/* Clearing only starts a new generation of slots: across many rounds of
 * fill, delete, clear and growth, nothing of an earlier round is ever seen
 * and iteration visits exactly the current entries. */
static int s_count_each(const void *key, size_t len, uint64_t value, void *arg)
{
    (void)key;
    (void)len;
    (void)value;
    (*(size_t *)arg)++;
    return 0;
}

static void test_clear_over_many_rounds_never_shows_an_earlier_round(void **state)
{
    (void)state;
    fb_map_t *m = fb_map_new(64);
    assert_non_null(m);
    for (uint64_t round = 0; round < 300; round++) {
        size_t n = 1 + (size_t)(round * 37 % 500); /* some rounds make the map grow */
        for (uint64_t i = 0; i < n; i++) {
            uint8_t key[FB_MAP_KEY_MAX];
            size_t len = s_key(round * 1000 + i, key);
            assert_int_equal(fb_map_put(m, key, len, round), 0);
        }
        for (uint64_t i = 0; i < n; i += 3) { /* deletion shifts within this round */
            uint8_t key[FB_MAP_KEY_MAX];
            size_t len = s_key(round * 1000 + i, key);
            assert_int_equal(fb_map_del(m, key, len), 1);
        }
        size_t want = n - (n + 2) / 3, seen = 0;
        assert_int_equal(fb_map_size(m), want);
        fb_map_each(m, s_count_each, &seen);
        assert_int_equal(seen, want);
        for (uint64_t i = 0; i < n; i++) {
            uint8_t key[FB_MAP_KEY_MAX];
            size_t len = s_key(round * 1000 + i, key);
            uint64_t v = 99999;
            int got = fb_map_get(m, key, len, &v);
            assert_int_equal(got, i % 3 != 0);
            if (got) assert_int_equal(v, round);
        }
        if (round > 0) { /* the previous round's keys are gone */
            uint8_t key[FB_MAP_KEY_MAX];
            size_t len = s_key((round - 1) * 1000 + 1, key);
            assert_int_equal(fb_map_get(m, key, len, NULL), 0);
        }
        fb_map_clear(m);
        assert_int_equal(fb_map_size(m), 0);
    }
    fb_map_destroy(&m);
}

static void test_clear_removes_everything_and_the_map_stays_usable(void **state)
{
    (void)state;
    fb_map_t *m = fb_map_new(0);
    assert_non_null(m);
    for (uint64_t i = 0; i < 1000; i++) {
        uint8_t key[FB_MAP_KEY_MAX];
        size_t len = s_key(i, key);
        assert_int_equal(fb_map_put(m, key, len, i), 0);
    }
    assert_int_equal(fb_map_size(m), 1000);
    fb_map_clear(m);
    assert_int_equal(fb_map_size(m), 0);
    for (uint64_t i = 0; i < 1000; i++) {
        uint8_t key[FB_MAP_KEY_MAX];
        size_t len = s_key(i, key);
        if (fb_map_get(m, key, len, NULL)) fail_msg("key %u survived clear", (unsigned)i);
    }
    fb_map_clear(m); /* clearing an empty map is harmless */
    uint8_t key[FB_MAP_KEY_MAX];
    size_t len = s_key(3, key);
    assert_int_equal(fb_map_put(m, key, len, 33), 0);
    uint64_t v = 0;
    assert_int_equal(fb_map_get(m, key, len, &v), 1);
    assert_int_equal(v, 33);
    assert_int_equal(fb_map_size(m), 1);
    fb_map_destroy(&m);
}

typedef struct {
    size_t calls;
    uint64_t value_sum;
    size_t len_sum;
    size_t stop_after; /* 0 = never */
} s_each_t;

static int s_each_fn(const void *key, size_t len, uint64_t value, void *arg)
{
    s_each_t *e = arg;
    (void)key;
    e->calls++;
    e->value_sum += value;
    e->len_sum += len;
    return e->stop_after && e->calls == e->stop_after;
}

typedef struct {
    size_t foreign; /* entries whose key is not the key of their value */
} s_check_t;

static int s_each_check_fn(const void *key, size_t len, uint64_t value, void *arg)
{
    /* Value i was put under key i: each entry must carry its own key. */
    s_check_t *c = arg;
    uint8_t want[FB_MAP_KEY_MAX];
    size_t wlen = s_key(value, want);
    if (len != wlen || memcmp(key, want, len) != 0) c->foreign++;
    return 0;
}

static void test_each_visits_every_entry_once_and_stops_when_asked(void **state)
{
    (void)state;
    fb_map_t *m = fb_map_new(0);
    assert_non_null(m);
    s_each_t e = {0, 0, 0, 0};
    fb_map_each(m, s_each_fn, &e);
    assert_int_equal(e.calls, 0);
    uint64_t want_sum = 0;
    size_t want_len = 0;
    for (uint64_t i = 0; i < 500; i++) {
        uint8_t key[FB_MAP_KEY_MAX];
        size_t len = s_key(i, key);
        assert_int_equal(fb_map_put(m, key, len, i), 0);
        want_sum += i;
        want_len += len;
    }
    fb_map_each(m, s_each_fn, &e);
    assert_int_equal(e.calls, 500);
    assert_int_equal(e.value_sum, want_sum);
    assert_int_equal(e.len_sum, want_len);
    s_check_t c = {0};
    fb_map_each(m, s_each_check_fn, &c);
    assert_int_equal(c.foreign, 0);
    s_each_t stop = {0, 0, 0, 7};
    fb_map_each(m, s_each_fn, &stop);
    assert_int_equal(stop.calls, 7);
    fb_map_destroy(&m);
}

static void test_add_keeps_what_is_there_and_says_so(void **state)
{
    (void)state;
    fb_map_t *m = fb_map_new(0);
    assert_non_null(m);
    uint64_t have = 7;
    assert_int_equal(fb_map_add(m, "kr-busan", 8, 1, &have), 0);
    assert_int_equal(have, 7); /* untouched when the key was added */
    assert_int_equal(fb_map_add(m, "kr-busan", 8, 2, &have), 1);
    assert_int_equal(have, 1);
    assert_int_equal(fb_map_add(m, "kr-busan", 8, 3, NULL), 1); /* have may be NULL */
    uint64_t v = 0;
    assert_int_equal(fb_map_get(m, "kr-busan", 8, &v), 1);
    assert_int_equal(v, 1); /* the first value stays */
    assert_int_equal(fb_map_size(m), 1);
    uint8_t longkey[FB_MAP_KEY_MAX + 1] = {0};
    assert_int_equal(fb_map_add(m, longkey, sizeof(longkey), 1, &have), -1);
    assert_int_equal(fb_map_size(m), 1);
    /* After a clear the key is new again. */
    fb_map_clear(m);
    assert_int_equal(fb_map_add(m, "kr-busan", 8, 4, &have), 0);
    assert_int_equal(fb_map_get(m, "kr-busan", 8, &v), 1);
    assert_int_equal(v, 4);
    fb_map_destroy(&m);
}

static void test_add_of_100k_keys_twice_matches_put_and_get(void **state)
{
    (void)state;
    fb_map_t *m = fb_map_new(0); /* grows all the way */
    assert_non_null(m);
    uint8_t key[FB_MAP_KEY_MAX];
    for (uint64_t i = 0; i < S_N; i++) {
        size_t len = s_key(i, key);
        assert_int_equal(fb_map_add(m, key, len, s_value(i), NULL), 0);
    }
    assert_int_equal(fb_map_size(m), S_N);
    for (uint64_t i = 0; i < S_N; i++) {
        size_t len = s_key(i, key);
        uint64_t have = 0;
        assert_int_equal(fb_map_add(m, key, len, 0, &have), 1);
        assert_int_equal(have, s_value(i));
    }
    assert_int_equal(fb_map_size(m), S_N);
    fb_map_destroy(&m);
}

static void test_destroy_accepts_null(void **state)
{
    (void)state;
    fb_map_t *m = NULL;
    fb_map_destroy(&m);
    fb_map_destroy(NULL);
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_del_of_one_key),
        cmocka_unit_test(test_put_on_an_existing_key_overwrites_and_keeps_the_size),
        cmocka_unit_test(test_keys_are_bytes_not_strings),
        cmocka_unit_test(test_key_longer_than_key_max_is_refused),
        cmocka_unit_test(test_100k_random_keys_match_a_reference_array),
        cmocka_unit_test(test_deleting_half_of_a_full_table_keeps_the_rest_reachable),
        cmocka_unit_test(test_interleaved_puts_and_deletes_match_the_reference),
        cmocka_unit_test(test_clear_removes_everything_and_the_map_stays_usable),
        cmocka_unit_test(test_clear_over_many_rounds_never_shows_an_earlier_round),
        cmocka_unit_test(test_each_visits_every_entry_once_and_stops_when_asked),
        cmocka_unit_test(test_add_keeps_what_is_there_and_says_so),
        cmocka_unit_test(test_add_of_100k_keys_twice_matches_put_and_get),
        cmocka_unit_test(test_destroy_accepts_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
