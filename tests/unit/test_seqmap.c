/* test_seqmap.c — partitions' bounds read, and the range of ids a window of global_seqs lies in. */
#include "fb_seqmap.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define A "01a43ab1-444c-0000-0000-000000000000"
#define B "01a43fd7-a04c-0000-0000-000000000000"
#define C "01a444fd-fc4c-0000-0000-000000000000"

static void test_bounds_as_postgresql_writes_them_are_read_and_others_refused(void **state)
{
    (void)state;
    fb_seqmap_part_t p;
    assert_int_equal(fb_seqmap_parse_bound("FOR VALUES FROM ('" A "') TO ('" B "')", &p), 0);
    assert_string_equal(p.lo, A);
    assert_string_equal(p.hi, B);
    assert_false(p.is_default);
    assert_int_equal(fb_seqmap_parse_bound("FOR VALUES FROM (MINVALUE) TO ('" A "')", &p), 0);
    assert_string_equal(p.lo, "");
    assert_string_equal(p.hi, A);
    assert_int_equal(fb_seqmap_parse_bound("DEFAULT", &p), 0);
    assert_true(p.is_default);
    assert_int_equal(fb_seqmap_parse_bound("FOR VALUES FROM ('" A "') TO ('x')", &p), -1);
    assert_int_equal(fb_seqmap_parse_bound("FOR VALUES IN ('a')", &p), -1);
    assert_int_equal(fb_seqmap_parse_bound("FOR VALUES FROM ('" A "'); DROP TABLE x; --') TO ('" B "')", &p), -1);
}

static fb_seqmap_part_t s_parts[4];

/* legacy [MINVALUE, A): 1-100; [A, B): 101-200; [B, C): 201-300; DEFAULT: 150-160. */
static fb_seqmap_t s_map(int with_default)
{
    memset(s_parts, 0, sizeof(s_parts));
    strcpy(s_parts[0].hi, A);
    s_parts[0].min_seq = 1, s_parts[0].max_seq = 100;
    strcpy(s_parts[1].lo, A), strcpy(s_parts[1].hi, B);
    s_parts[1].min_seq = 101, s_parts[1].max_seq = 200;
    strcpy(s_parts[2].lo, B), strcpy(s_parts[2].hi, C);
    s_parts[2].min_seq = 201, s_parts[2].max_seq = 300;
    s_parts[3].is_default = 1;
    s_parts[3].min_seq = 150, s_parts[3].max_seq = 160;
    s_parts[3].empty = !with_default;
    return (fb_seqmap_t){s_parts, 4, 300, 1};
}

static void test_a_window_of_global_seqs_is_bounded_by_the_partitions_that_hold_it(void **state)
{
    (void)state;
    char lo[FB_SEQMAP_UUID], hi[FB_SEQMAP_UUID];
    fb_seqmap_t m = s_map(0);
    assert_int_equal(fb_seqmap_bounds(&m, 120, 180, lo, hi), 1);
    assert_string_equal(lo, A);
    assert_string_equal(hi, B);
    assert_int_equal(fb_seqmap_bounds(&m, 150, 250, lo, hi), 1);
    assert_string_equal(lo, A);
    assert_string_equal(hi, C);
    assert_int_equal(fb_seqmap_bounds(&m, 50, 150, lo, hi), 1);
    assert_string_equal(lo, "");
    assert_string_equal(hi, B);
    assert_int_equal(fb_seqmap_bounds(&m, 201, 301, lo, hi), 1); /* [201, 300] */
    assert_string_equal(lo, B);
}

static void test_a_window_past_the_map_or_on_the_default_partition_is_not_bounded(void **state)
{
    (void)state;
    char lo[FB_SEQMAP_UUID], hi[FB_SEQMAP_UUID];
    fb_seqmap_t m = s_map(0);
    assert_int_equal(fb_seqmap_bounds(&m, 250, 302, lo, hi), 0); /* 301 may be stored since, anywhere */
    assert_int_equal(fb_seqmap_bounds(&m, 250, 0, lo, hi), 0);   /* to the head */
    m = s_map(1);
    assert_int_equal(fb_seqmap_bounds(&m, 155, 170, lo, hi), 0);
    assert_int_equal(fb_seqmap_bounds(&m, 161, 170, lo, hi), 1);
    fb_seqmap_t never = {0};
    assert_int_equal(fb_seqmap_bounds(&never, 1, 2, lo, hi), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_as_postgresql_writes_them_are_read_and_others_refused),
        cmocka_unit_test(test_a_window_of_global_seqs_is_bounded_by_the_partitions_that_hold_it),
        cmocka_unit_test(test_a_window_past_the_map_or_on_the_default_partition_is_not_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
