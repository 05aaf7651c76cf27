/* test_broker_recent.c — the broker's memory of the ids stored last: what it keeps, for how long, and its keys. */
#include "fb_recent.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* The key of message i of origin kr-busan (ids differ only in their last bytes, as UUIDv7s of one ms). */
static uint64_t s_key(uint32_t i)
{
    uint8_t id[16] = {0x01, 0x8f, 0x00, 0x11, 0x22, 0x33, 0x70, 0x00, 0x80};
    memcpy(id + 12, &i, 4);
    return fb_recent_key("kr-busan", id);
}

static void test_keys_added_are_remembered_and_others_not(void **state)
{
    (void)state;
    fb_recent_t *r = fb_recent_new(1000);
    assert_non_null(r);
    for (uint32_t i = 0; i < 1000; i++) fb_recent_add(r, s_key(i));
    for (uint32_t i = 0; i < 1000; i++) assert_true(fb_recent_has(r, s_key(i)));
    for (uint32_t i = 1000; i < 2000; i++) assert_false(fb_recent_has(r, s_key(i)));
    fb_recent_destroy(&r);
    assert_null(r);
}

static void test_the_last_keep_keys_are_remembered_and_older_ones_forgotten(void **state)
{
    (void)state;
    enum { KEEP = 100 };
    fb_recent_t *r = fb_recent_new(KEEP);
    assert_non_null(r);
    for (uint32_t i = 0; i < 10 * KEEP; i++) {
        fb_recent_add(r, s_key(i));
        /* Always at least the last KEEP, at most the last 2 * KEEP. */
        for (uint32_t k = i + 1 > KEEP ? i + 1 - KEEP : 0; k <= i; k++) assert_true(fb_recent_has(r, s_key(k)));
        assert_in_range(fb_recent_size(r), i + 1 < KEEP ? i + 1 : KEEP, 2 * KEEP);
    }
    assert_false(fb_recent_has(r, s_key(0)));
    assert_false(fb_recent_has(r, s_key(7 * KEEP)));
    fb_recent_destroy(&r);
}

static void test_a_key_added_twice_is_kept_once(void **state)
{
    (void)state;
    fb_recent_t *r = fb_recent_new(16);
    fb_recent_add(r, s_key(1));
    fb_recent_add(r, s_key(1));
    assert_int_equal(fb_recent_size(r), 1);
    fb_recent_destroy(&r);
}

static void test_key_depends_on_origin_and_every_byte_of_the_id(void **state)
{
    (void)state;
    uint8_t id[16] = {0};
    uint64_t base = fb_recent_key("kr-busan", id);
    assert_int_not_equal(base, 0);
    assert_int_equal(fb_recent_key("kr-busan", id), base);
    assert_int_not_equal(fb_recent_key("kr-seoul", id), base);
    assert_int_not_equal(fb_recent_key("kr-busa", id), base);
    for (int i = 0; i < 16; i++) {
        id[i] = 1;
        assert_int_not_equal(fb_recent_key("kr-busan", id), base);
        id[i] = 0;
    }
}

static void test_destroy_accepts_null(void **state)
{
    (void)state;
    fb_recent_t *r = NULL;
    fb_recent_destroy(&r);
    fb_recent_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_added_are_remembered_and_others_not),
        cmocka_unit_test(test_the_last_keep_keys_are_remembered_and_older_ones_forgotten),
        cmocka_unit_test(test_a_key_added_twice_is_kept_once),
        cmocka_unit_test(test_key_depends_on_origin_and_every_byte_of_the_id),
        cmocka_unit_test(test_destroy_accepts_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
