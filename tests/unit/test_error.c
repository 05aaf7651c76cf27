/* test_error.c — every error code has its own sentence; unknown codes say so. */
#include "fedbus/fedbus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static const int s_codes[] = {FB_OK,       FB_ENOMEM,   FB_EINVAL,    FB_EIO,
                              FB_ESTORE,   FB_ECONFLICT, FB_ETIMEOUT, FB_EPROTO,
                              FB_EREJECTED, FB_ENOTFOUND, FB_ECONFIG, FB_EINTR,
                              FB_EFULL, FB_ELOST, FB_EVERIFY};
#define S_NCODES ((int)(sizeof(s_codes) / sizeof(s_codes[0])))

static void test_codes_keep_their_stable_numbers(void **state)
{
    (void)state;
    /* The numbers are part of the ABI: never renumbered. */
    for (int i = 0; i < S_NCODES; i++) assert_int_equal(s_codes[i], i);
}

static void test_every_code_has_a_non_empty_sentence(void **state)
{
    (void)state;
    for (int i = 0; i < S_NCODES; i++) {
        const char *s = fb_strerror(s_codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        if (strcmp(s, "unknown error") == 0) fail_msg("code %d has no sentence", s_codes[i]);
    }
}

static void test_every_code_has_a_distinct_sentence(void **state)
{
    (void)state;
    for (int i = 0; i < S_NCODES; i++)
        for (int j = i + 1; j < S_NCODES; j++)
            if (strcmp(fb_strerror(s_codes[i]), fb_strerror(s_codes[j])) == 0)
                fail_msg("codes %d and %d share '%s'", i, j, fb_strerror(s_codes[i]));
}

static void test_unknown_codes_give_unknown_error(void **state)
{
    (void)state;
    assert_string_equal(fb_strerror(-1), "unknown error");
    assert_string_equal(fb_strerror(FB_EVERIFY + 1), "unknown error");
    assert_string_equal(fb_strerror(1000), "unknown error");
    assert_string_equal(fb_strerror(-2147483647 - 1), "unknown error");
}

static void test_version_string_matches_the_version_macros(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", FEDBUS_VERSION_MAJOR, FEDBUS_VERSION_MINOR,
             FEDBUS_VERSION_PATCH);
    assert_string_equal(fb_version(), want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_keep_their_stable_numbers),
        cmocka_unit_test(test_every_code_has_a_non_empty_sentence),
        cmocka_unit_test(test_every_code_has_a_distinct_sentence),
        cmocka_unit_test(test_unknown_codes_give_unknown_error),
        cmocka_unit_test(test_version_string_matches_the_version_macros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
