/* test_time.c — RFC 3339 parsing and formatting with UTC offsets, and the two clocks. */
#include "fb_time.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define S_US 1000000LL
/* 2026-03-12T14:00:00+09:00, as computed by `date -d ... +%s`. */
#define S_KNOWN_S 1773291600LL

/* Asserts s parses to (us, off). */
static void s_assert_parses(const char *s, int64_t us, int off)
{
    int64_t got_us = -7;
    int got_off = -7;
    if (fb_time_parse(s, &got_us, &got_off) != 0) fail_msg("'%s' was refused", s);
    assert_int_equal(got_us, us);
    assert_int_equal(got_off, off);
}

/* Asserts s is refused. */
static void s_assert_refused(const char *s)
{
    int64_t us;
    int off;
    if (fb_time_parse(s, &us, &off) != -1) fail_msg("'%s' was accepted", s);
}

static void test_known_kst_time_parses_to_its_epoch_seconds(void **state)
{
    (void)state;
    s_assert_parses("2026-03-12T14:00:00+09:00", S_KNOWN_S * S_US, 540);
}

static void test_known_kst_time_formats_back_to_the_same_string(void **state)
{
    (void)state;
    char out[64];
    int n = fb_time_format(S_KNOWN_S * S_US, 540, out, sizeof(out));
    assert_string_equal(out, "2026-03-12T14:00:00+09:00");
    assert_int_equal(n, (int)strlen(out));
}

static void test_same_instant_in_z_and_negative_offset(void **state)
{
    (void)state;
    s_assert_parses("2026-03-12T05:00:00Z", S_KNOWN_S * S_US, 0);
    s_assert_parses("2026-03-12T00:00:00-05:00", S_KNOWN_S * S_US, -300);
    s_assert_parses("2026-03-12T05:00:00+00:00", S_KNOWN_S * S_US, 0);
    s_assert_parses("2026-03-12t05:00:00z", S_KNOWN_S * S_US, 0); /* RFC 3339 allows lower case */
    s_assert_parses("2026-03-12 14:00:00+09:00", S_KNOWN_S * S_US, 540);
    s_assert_parses("2026-04-15T18:00:00-05:00", 1776294000LL * S_US, -300);
    s_assert_parses("2026-03-12T19:30:00+05:30", 1773324000LL * S_US, 330);
}

static void test_format_writes_z_and_negative_offsets(void **state)
{
    (void)state;
    char out[64];
    assert_true(fb_time_format(S_KNOWN_S * S_US, 0, out, sizeof(out)) > 0);
    assert_string_equal(out, "2026-03-12T05:00:00Z");
    assert_true(fb_time_format(S_KNOWN_S * S_US, -300, out, sizeof(out)) > 0);
    assert_string_equal(out, "2026-03-12T00:00:00-05:00");
    assert_true(fb_time_format(S_KNOWN_S * S_US, 330, out, sizeof(out)) > 0);
    assert_string_equal(out, "2026-03-12T10:30:00+05:30");
    assert_true(fb_time_format(S_KNOWN_S * S_US, -570, out, sizeof(out)) > 0);
    assert_string_equal(out, "2026-03-11T19:30:00-09:30");
}

static void test_fractional_seconds_parse_to_microseconds(void **state)
{
    (void)state;
    s_assert_parses("2026-03-12T14:00:00.5+09:00", S_KNOWN_S * S_US + 500000, 540);
    s_assert_parses("2026-03-12T14:00:00.000001+09:00", S_KNOWN_S * S_US + 1, 540);
    s_assert_parses("2026-03-12T14:00:00.123456Z", (S_KNOWN_S + 9 * 3600) * S_US + 123456, 0);
    /* Digits past microseconds are dropped, not rounded. */
    s_assert_parses("2026-03-12T14:00:00.1234569+09:00", S_KNOWN_S * S_US + 123456, 540);
}

static void test_fractional_seconds_format_as_six_digits_and_round_trip(void **state)
{
    (void)state;
    const char *in = "2026-03-12T14:00:00.250000-05:00";
    int64_t us;
    int off;
    assert_int_equal(fb_time_parse(in, &us, &off), 0);
    char out[64];
    assert_true(fb_time_format(us, off, out, sizeof(out)) > 0);
    assert_string_equal(out, in);
    assert_true(fb_time_format(S_KNOWN_S * S_US + 7, 540, out, sizeof(out)) > 0);
    assert_string_equal(out, "2026-03-12T14:00:00.000007+09:00");
}

static void test_minutes_without_seconds_are_accepted(void **state)
{
    (void)state;
    s_assert_parses("2026-03-12T14:00+09:00", S_KNOWN_S * S_US, 540);
}

static void test_date_only_is_midnight_utc(void **state)
{
    (void)state;
    s_assert_parses("2026-03-12", 1773273600LL * S_US, 0);
    s_assert_parses("1970-01-01", 0, 0);
}

static void test_time_without_offset_is_refused(void **state)
{
    (void)state;
    s_assert_refused("2026-03-12T14:00:00");
    s_assert_refused("2026-03-12T14:00");
    s_assert_refused("2026-03-12T14:00:00.5");
}

static void test_impossible_dates_are_refused(void **state)
{
    (void)state;
    s_assert_refused("2026-13-01T00:00:00Z");
    s_assert_refused("2026-00-10T00:00:00Z");
    s_assert_refused("2026-02-30T00:00:00Z");
    s_assert_refused("2026-02-29T00:00:00Z"); /* 2026 is not a leap year */
    s_assert_refused("2026-02-29");
    s_assert_refused("2026-04-31");
    s_assert_refused("2026-01-00");
    s_assert_refused("2026-01-32");
    s_assert_refused("2100-02-29"); /* divisible by 100, not by 400 */
}

static void test_leap_days_are_accepted(void **state)
{
    (void)state;
    s_assert_parses("2028-02-29T00:00:00Z", 1835395200LL * S_US, 0);
    s_assert_parses("2028-02-29", 1835395200LL * S_US, 0);
    int64_t us;
    int off;
    assert_int_equal(fb_time_parse("2000-02-29", &us, &off), 0); /* divisible by 400 */
}

static void test_impossible_times_and_offsets_are_refused(void **state)
{
    (void)state;
    s_assert_refused("2026-03-12T24:00:00Z");
    s_assert_refused("2026-03-12T14:60:00Z");
    s_assert_refused("2026-03-12T14:00:61Z");
    s_assert_refused("2026-03-12T14:00:00+09:60");
    s_assert_refused("2026-03-12T14:00:00+24:00");
    s_assert_refused("2026-03-12T14:00:00+9:00");
    s_assert_refused("2026-03-12T14:00:00+0900");
    s_assert_refused("2026-03-12T14:00:00.+09:00"); /* a dot needs digits */
}

static void test_garbage_is_refused(void **state)
{
    (void)state;
    s_assert_refused("");
    s_assert_refused("yesterday");
    s_assert_refused("12/03/2026");
    s_assert_refused("2026-3-12");
    s_assert_refused("2026/03/12");
    s_assert_refused("20260312T140000Z");
    s_assert_refused("1969-12-31T23:59:59Z"); /* before the epoch */
}

static void test_trailing_junk_is_refused(void **state)
{
    (void)state;
    s_assert_refused("2026-03-12T14:00:00+09:00x");
    s_assert_refused("2026-03-12T14:00:00Z ");
    s_assert_refused("2026-03-12T14:00:00ZZ");
    s_assert_refused("2026-03-12x");
    s_assert_refused("2026-03-12T");
}

static void test_format_round_trips_through_parse_for_many_instants_and_offsets(void **state)
{
    (void)state;
    /* A deterministic walk over 1970..9999 and the offsets in use worldwide. */
    static const int offsets[] = {0, 540, -300, 330, 345, -570, 840, -720, 60, -60};
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    const int64_t lo = 86400LL * S_US, hi = 253402300799LL * S_US - 86400LL * S_US;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t us = lo + (int64_t)(x % (uint64_t)(hi - lo));
        if (i % 2) us -= us % S_US; /* half of them on whole seconds */
        int off = offsets[i % 10];
        char out[64];
        int n = fb_time_format(us, off, out, sizeof(out));
        assert_true(n > 0);
        int64_t back_us;
        int back_off;
        if (fb_time_parse(out, &back_us, &back_off) != 0) fail_msg("'%s' does not parse", out);
        assert_int_equal(back_us, us);
        assert_int_equal(back_off, off);
    }
}

static void test_format_before_the_epoch_borrows_correctly(void **state)
{
    (void)state;
    char out[64];
    assert_true(fb_time_format(-1, 0, out, sizeof(out)) > 0);
    assert_string_equal(out, "1969-12-31T23:59:59.999999Z");
    assert_true(fb_time_format(-S_US, 0, out, sizeof(out)) > 0);
    assert_string_equal(out, "1969-12-31T23:59:59Z");
    assert_true(fb_time_format(0, 540, out, sizeof(out)) > 0);
    assert_string_equal(out, "1970-01-01T09:00:00+09:00");
}

static void test_format_fails_on_a_small_buffer_or_absurd_offset(void **state)
{
    (void)state;
    char out[64];
    /* "2026-03-12T14:00:00+09:00" is 25 bytes and needs 26. */
    assert_int_equal(fb_time_format(S_KNOWN_S * S_US, 540, out, 25), -1);
    assert_int_equal(fb_time_format(S_KNOWN_S * S_US, 540, out, 26), 25);
    assert_int_equal(fb_time_format(S_KNOWN_S * S_US, 24 * 60 + 1, out, sizeof(out)), -1);
    assert_int_equal(fb_time_format(S_KNOWN_S * S_US, -24 * 60 - 1, out, sizeof(out)), -1);
}

/* Any int64 reaches the formatter (a publisher's Timestamp.unix_us, which
 * the broker does not bound): a time whose local date is outside years 1
 * to 9999 has no RFC 3339 form and is refused, with no overflow on the
 * way (the sanitizer build stops at one). */
static void test_format_refuses_times_outside_years_1_to_9999(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(fb_time_format(INT64_MAX, 60, out, sizeof(out)), -1);
    assert_int_equal(fb_time_format(INT64_MAX, 0, out, sizeof(out)), -1);
    assert_int_equal(fb_time_format(INT64_MIN, 0, out, sizeof(out)), -1);
    assert_int_equal(fb_time_format(INT64_MIN, -24 * 60, out, sizeof(out)), -1);
    assert_true(fb_time_format(253402300799999999LL, 0, out, sizeof(out)) > 0);
    assert_string_equal(out, "9999-12-31T23:59:59.999999Z");
    assert_int_equal(fb_time_format(253402300799999999LL, 60, out, sizeof(out)), -1); /* 10000-01-01 there */
    assert_true(fb_time_format(-62135596800000000LL, 0, out, sizeof(out)) > 0);
    assert_string_equal(out, "0001-01-01T00:00:00Z");
    assert_int_equal(fb_time_format(-62135596800000000LL - 1, 0, out, sizeof(out)), -1);
    assert_int_equal(fb_time_format(-62135596800000000LL, -1, out, sizeof(out)), -1); /* year 0 there */
}

/* The last day of year 9999 west of UTC is in year 10000 in UTC: such an
 * instant could be read but not written again (a key file's created time
 * is written in UTC), so it is not read either. */
static void test_parse_refuses_an_instant_after_year_9999_in_utc(void **state)
{
    (void)state;
    int64_t us;
    int off;
    char out[64];
    assert_int_equal(fb_time_parse("9999-12-31T23:59:59-01:00", &us, &off), -1);
    assert_int_equal(fb_time_parse("9999-12-31T23:00:00+01:00", &us, &off), 0);
    assert_true(fb_time_format(us, 0, out, sizeof(out)) > 0);
    assert_string_equal(out, "9999-12-31T22:00:00Z");
    assert_int_equal(fb_time_parse("9999-12-31T23:59:59.999999Z", &us, &off), 0);
}

static void test_wall_clock_is_recent_and_monotonic_clock_does_not_go_back(void **state)
{
    (void)state;
    int64_t now = fb_time_now_us();
    assert_true(now > 1704067200LL * S_US);  /* after 2024-01-01 */
    assert_true(now < 4102444800LL * S_US);  /* before 2100-01-01 */
    int64_t a = fb_time_mono_us();
    int64_t b = fb_time_mono_us();
    assert_true(a > 0);
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_kst_time_parses_to_its_epoch_seconds),
        cmocka_unit_test(test_known_kst_time_formats_back_to_the_same_string),
        cmocka_unit_test(test_same_instant_in_z_and_negative_offset),
        cmocka_unit_test(test_format_writes_z_and_negative_offsets),
        cmocka_unit_test(test_fractional_seconds_parse_to_microseconds),
        cmocka_unit_test(test_fractional_seconds_format_as_six_digits_and_round_trip),
        cmocka_unit_test(test_minutes_without_seconds_are_accepted),
        cmocka_unit_test(test_date_only_is_midnight_utc),
        cmocka_unit_test(test_time_without_offset_is_refused),
        cmocka_unit_test(test_impossible_dates_are_refused),
        cmocka_unit_test(test_leap_days_are_accepted),
        cmocka_unit_test(test_impossible_times_and_offsets_are_refused),
        cmocka_unit_test(test_format_refuses_times_outside_years_1_to_9999),
        cmocka_unit_test(test_parse_refuses_an_instant_after_year_9999_in_utc),
        cmocka_unit_test(test_garbage_is_refused),
        cmocka_unit_test(test_trailing_junk_is_refused),
        cmocka_unit_test(test_format_round_trips_through_parse_for_many_instants_and_offsets),
        cmocka_unit_test(test_format_before_the_epoch_borrows_correctly),
        cmocka_unit_test(test_format_fails_on_a_small_buffer_or_absurd_offset),
        cmocka_unit_test(test_wall_clock_is_recent_and_monotonic_clock_does_not_go_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
