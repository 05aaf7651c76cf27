/* test_peers.c — what a peer wrote is logged escaped: control characters, DEL, backslash, bytes not UTF-8. */
#include "fb_peers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static const char *s_esc(const char *s, size_t len, size_t cap)
{
    static char buf[256];
    memset(buf, 'Z', sizeof(buf));
    fb_peers_escape(buf, cap, s, len);
    /* Nothing is written past cap. */
    if (cap < sizeof(buf)) assert_int_equal(buf[cap], 'Z');
    return buf;
}

static void test_printable_ascii_and_utf8_are_kept_as_they_are(void **state)
{
    (void)state;
    assert_string_equal(s_esc("kr-incheon", 10, 64), "kr-incheon");
    assert_string_equal(s_esc("\xed\x95\x9c\xea\xb5\xad", 6, 64), "\xed\x95\x9c\xea\xb5\xad");
}

static void test_control_characters_del_and_backslash_are_escaped(void **state)
{
    (void)state;
    assert_string_equal(s_esc("kr-\x1b[31m\n", 9, 64), "kr-\\x1b[31m\\x0a");
    assert_string_equal(s_esc("a\x7f" "b\\c", 5, 64), "a\\x7fb\\\\c");
    assert_string_equal(s_esc("a\0b", 3, 64), "a\\x00b");
}

static void test_bytes_that_are_not_utf8_are_escaped_one_by_one(void **state)
{
    (void)state;
    assert_string_equal(s_esc("\xff\xfe", 2, 64), "\\xff\\xfe");
    assert_string_equal(s_esc("\xc0\xaf", 2, 64), "\\xc0\\xaf");       /* overlong */
    assert_string_equal(s_esc("\xed\x95", 2, 64), "\\xed\\x95");       /* cut short */
    assert_string_equal(s_esc("\xed\xa0\x80", 3, 64), "\\xed\\xa0\\x80"); /* surrogate */
}

static void test_what_does_not_fit_is_cut_with_dots_within_the_buffer(void **state)
{
    (void)state;
    char in[200];
    memset(in, '\\', sizeof(in));
    for (size_t cap = 8; cap < 40; cap++) {
        const char *out = s_esc(in, sizeof(in), cap);
        assert_true(strlen(out) < cap);
        assert_non_null(strstr(out, "..."));
    }
    memset(in, '\x01', sizeof(in));
    const char *out = s_esc(in, sizeof(in), 33);
    assert_true(strlen(out) < 33);
    assert_string_equal(s_esc("abc", 3, 4), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printable_ascii_and_utf8_are_kept_as_they_are),
        cmocka_unit_test(test_control_characters_del_and_backslash_are_escaped),
        cmocka_unit_test(test_bytes_that_are_not_utf8_are_escaped_one_by_one),
        cmocka_unit_test(test_what_does_not_fit_is_cut_with_dots_within_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
