/* test_retention.c — the partition manager's arithmetic: bounds, periods, names, the partitions it would make. */
#include "fb_crypto.h"
#include "fb_retention.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define S_DAY 86400000LL
#define S_T 1773291600123LL /* 2026-03-12T05:00:00.123Z */

static void test_the_bound_of_a_time_is_its_milliseconds_then_zeros(void **state)
{
    (void)state;
    uint8_t bound[FB_UUID_LEN], id[FB_UUID_LEN];
    char text[37];
    fb_uuid_of_ms(S_T, bound);
    fb_uuid_format(bound, text);
    assert_string_equal(text, "019ce06a-78fb-0000-0000-000000000000");
    /* Every id made in that millisecond sorts at or above it, every id of
     * the one before below. */
    for (int i = 0; i < 32; i++) {
        assert_int_equal(fb_uuid_v7(S_T * 1000 + 999, id), 0);
        assert_true(memcmp(id, bound, FB_UUID_LEN) > 0);
        assert_int_equal(fb_uuid_v7(S_T * 1000 - 1, id), 0);
        assert_true(memcmp(id, bound, FB_UUID_LEN) < 0);
    }
    fb_uuid_of_ms(0, bound);
    fb_uuid_format(bound, text);
    assert_string_equal(text, "00000000-0000-0000-0000-000000000000");
}

static void test_periods_start_at_multiples_of_their_width_from_the_epoch(void **state)
{
    (void)state;
    assert_int_equal(fb_retention_floor(S_T, S_DAY), 1773273600000LL); /* 2026-03-12T00:00:00Z */
    assert_int_equal(fb_retention_floor(S_T, 3600000), 1773291600000LL);
    assert_int_equal(fb_retention_floor(S_T, 1000), 1773291600000LL);
    assert_int_equal(fb_retention_floor(1773273600000LL, S_DAY), 1773273600000LL); /* already a start */
    assert_int_equal(fb_retention_floor(0, S_DAY), 0);
    assert_int_equal(fb_retention_floor(-1, S_DAY), -S_DAY); /* before 1970: still down */
}

static void test_a_partition_is_named_by_the_start_of_its_range(void **state)
{
    (void)state;
    char name[64];
    fb_retention_name(1773273600000LL, name, sizeof(name));
    assert_string_equal(name, "fedbus_messages_20260312_000000");
    fb_retention_name(S_T, name, sizeof(name));
    assert_string_equal(name, "fedbus_messages_20260312_050000_123");
    assert_true(strlen(name) < 64); /* PostgreSQL keeps 63 bytes of a name */
}

static fb_store_part_t s_part(int64_t lo, int64_t hi)
{
    fb_store_part_t p;
    memset(&p, 0, sizeof(p));
    p.lo_ms = lo;
    p.hi_ms = hi;
    return p;
}

static void test_gaps_are_filled_period_by_period_around_what_exists(void **state)
{
    (void)state;
    const int64_t d = S_DAY, t0 = 20000 * S_DAY;
    fb_store_part_t parts[3] = {s_part(INT64_MIN, t0 + d / 2), s_part(t0 + 2 * d, t0 + 3 * d), s_part(0, 0)};
    parts[2].is_default = 1;
    fb_retention_range_t out[16];
    size_t n = fb_retention_gaps(parts, 3, t0, t0 + 5 * d, d, out, 16);
    /* The rest of day 0 after the first partition, day 1, then days 3 and 4. */
    assert_int_equal(n, 4);
    assert_int_equal(out[0].lo_ms, t0 + d / 2);
    assert_int_equal(out[0].hi_ms, t0 + d);
    assert_int_equal(out[1].lo_ms, t0 + d);
    assert_int_equal(out[1].hi_ms, t0 + 2 * d);
    assert_int_equal(out[2].lo_ms, t0 + 3 * d);
    assert_int_equal(out[3].hi_ms, t0 + 5 * d);
    /* Nothing is missing: nothing to make. */
    fb_store_part_t all[1] = {s_part(INT64_MIN, INT64_MAX)};
    assert_int_equal(fb_retention_gaps(all, 1, t0, t0 + 5 * d, d, out, 16), 0);
    /* At most max at a time, oldest first. */
    assert_int_equal(fb_retention_gaps(NULL, 0, t0, t0 + 5 * d, d, out, 2), 2);
    assert_int_equal(out[1].hi_ms, t0 + 2 * d);
}

static void test_a_long_gap_gets_one_partition_for_its_older_part(void **state)
{
    (void)state;
    const int64_t p = 1000, t0 = S_T - S_T % 1000;
    fb_retention_range_t out[70];
    /* A broker stopped for 100 periods: 64 partitions, the first holding
     * the 37 oldest periods. */
    size_t n = fb_retention_gaps(NULL, 0, t0, t0 + 100 * p, p, out, 70);
    assert_int_equal(n, 64);
    assert_int_equal(out[0].lo_ms, t0);
    assert_int_equal(out[0].hi_ms, t0 + 37 * p);
    for (size_t i = 1; i < n; i++) {
        assert_int_equal(out[i].lo_ms, out[i - 1].hi_ms);
        assert_int_equal(out[i].hi_ms - out[i].lo_ms, p);
    }
    assert_int_equal(out[n - 1].hi_ms, t0 + 100 * p);
}

static void test_the_automatic_width_keeps_about_sixteen_to_fifty_partitions(void **state)
{
    (void)state;
    assert_int_equal(fb_retention_auto_period(30 * S_DAY), S_DAY);
    assert_int_equal(fb_retention_auto_period(7 * S_DAY), 6 * 3600000LL);
    assert_int_equal(fb_retention_auto_period(365 * S_DAY), 14 * S_DAY);
    assert_int_equal(fb_retention_auto_period(12 * 3600000LL), 30 * 60000LL);
    assert_int_equal(fb_retention_auto_period(45000), 1000);
    assert_int_equal(fb_retention_auto_period(1000), 1000);
    assert_int_equal(fb_retention_auto_period(0), 30 * S_DAY); /* everything kept: few, wide partitions */
    const int64_t rs[] = {16000,      60000,      90 * 60000LL, 3600000,     2 * S_DAY,
                          30 * S_DAY, 90 * S_DAY, 365 * S_DAY,  3650 * S_DAY, 8000 * S_DAY};
    for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
        int64_t n = rs[i] / fb_retention_auto_period(rs[i]);
        if (n < 16 || n > 60) fail_msg("retention %lld ms: %lld partitions", (long long)rs[i], (long long)n);
    }
    char text[32];
    fb_retention_text(30 * S_DAY, text, sizeof(text));
    assert_string_equal(text, "30d");
    fb_retention_text(90 * 60000LL, text, sizeof(text));
    assert_string_equal(text, "90m");
    fb_retention_text(1500, text, sizeof(text));
    assert_string_equal(text, "1500ms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_bound_of_a_time_is_its_milliseconds_then_zeros),
        cmocka_unit_test(test_periods_start_at_multiples_of_their_width_from_the_epoch),
        cmocka_unit_test(test_a_partition_is_named_by_the_start_of_its_range),
        cmocka_unit_test(test_gaps_are_filled_period_by_period_around_what_exists),
        cmocka_unit_test(test_a_long_gap_gets_one_partition_for_its_older_part),
        cmocka_unit_test(test_the_automatic_width_keeps_about_sixteen_to_fifty_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
