/* test_utf8.c — strict UTF-8 validation: what RFC 3629 allows, and every way to break it. */
#include "fb_utf8.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

/* Validity of a byte array of known length (may hold NUL). */
#define S_VALID(lit) fb_utf8_valid((lit), sizeof(lit) - 1)

static void test_ascii_and_empty_string_are_valid(void **state)
{
    (void)state;
    assert_int_equal(S_VALID(""), 1);
    assert_int_equal(S_VALID("Incheon S&T forum, 14:00 KST"), 1);
    assert_int_equal(S_VALID("\x01\x7F"), 1); /* controls other than NUL are text */
}

static void test_korean_text_is_valid(void **state)
{
    (void)state;
    assert_int_equal(S_VALID("인천 과학기술"), 1);
    assert_int_equal(S_VALID("대전 바이오 연구개발 특구"), 1);
    assert_int_equal(S_VALID("\xEC\x9D\xB8"), 1); /* 인 */
}

static void test_two_and_four_byte_sequences_are_valid(void **state)
{
    (void)state;
    assert_int_equal(S_VALID("caf\xC3\xA9"), 1);          /* é */
    assert_int_equal(S_VALID("\xC2\x80"), 1);             /* U+0080, smallest 2-byte */
    assert_int_equal(S_VALID("\xF0\x9F\x94\xAC"), 1);     /* U+1F52C microscope */
    assert_int_equal(S_VALID("lab \xF0\x9F\xA7\xAA ok"), 1); /* U+1F9EA test tube */
    assert_int_equal(S_VALID("\xF0\x90\x80\x80"), 1);     /* U+10000, smallest 4-byte */
}

static void test_boundary_code_points_are_valid(void **state)
{
    (void)state;
    assert_int_equal(S_VALID("\xE0\xA0\x80"), 1);     /* U+0800 */
    assert_int_equal(S_VALID("\xED\x9F\xBF"), 1);     /* U+D7FF, just below the surrogates */
    assert_int_equal(S_VALID("\xEE\x80\x80"), 1);     /* U+E000, just above them */
    assert_int_equal(S_VALID("\xEF\xBF\xBF"), 1);     /* U+FFFF */
    assert_int_equal(S_VALID("\xF4\x8F\xBF\xBF"), 1); /* U+10FFFF, the last code point */
}

static void test_overlong_encodings_are_refused(void **state)
{
    (void)state;
    assert_int_equal(S_VALID("\xC0\x80"), 0);         /* NUL, 2 bytes */
    assert_int_equal(S_VALID("\xC1\xBF"), 0);         /* U+007F, 2 bytes */
    assert_int_equal(S_VALID("\xE0\x80\x80"), 0);     /* NUL, 3 bytes */
    assert_int_equal(S_VALID("\xE0\x9F\xBF"), 0);     /* U+07FF, 3 bytes */
    assert_int_equal(S_VALID("\xF0\x80\x80\x80"), 0); /* NUL, 4 bytes */
    assert_int_equal(S_VALID("\xF0\x8F\xBF\xBF"), 0); /* U+FFFF, 4 bytes */
}

static void test_utf16_surrogates_are_refused(void **state)
{
    (void)state;
    assert_int_equal(S_VALID("\xED\xA0\x80"), 0); /* U+D800 */
    assert_int_equal(S_VALID("\xED\xBF\xBF"), 0); /* U+DFFF */
    assert_int_equal(S_VALID("\xED\xA0\xBD\xED\xB4\xAC"), 0); /* CESU-8 pair */
}

static void test_code_points_above_10ffff_are_refused(void **state)
{
    (void)state;
    assert_int_equal(S_VALID("\xF4\x90\x80\x80"), 0); /* U+110000 */
    assert_int_equal(S_VALID("\xF4\xBF\xBF\xBF"), 0);
}

static void test_sequences_truncated_at_the_end_are_refused(void **state)
{
    (void)state;
    assert_int_equal(S_VALID("ok \xC3"), 0);
    assert_int_equal(S_VALID("ok \xEC\x9D"), 0);
    assert_int_equal(S_VALID("ok \xEC"), 0);
    assert_int_equal(S_VALID("ok \xF0\x9F\x94"), 0);
    assert_int_equal(S_VALID("ok \xF0\x9F"), 0);
    /* The validator must not read past len, even when more bytes follow. */
    assert_int_equal(fb_utf8_valid("\xEC\x9D\xB8", 2), 0);
    assert_int_equal(fb_utf8_valid("\xEC\x9D\xB8", 3), 1);
}

static void test_sequences_interrupted_in_the_middle_are_refused(void **state)
{
    (void)state;
    assert_int_equal(S_VALID("\xC3(x"), 0);
    assert_int_equal(S_VALID("\xE2\x28\xA1"), 0);
    assert_int_equal(S_VALID("\xE2\x82\x28"), 0);
    assert_int_equal(S_VALID("\xF0\x9F\x94(z"), 0);
    assert_int_equal(S_VALID("\xEC\x9D\xEC\x9D\xB8"), 0); /* new lead where a continuation belongs */
}

static void test_lone_continuation_bytes_are_refused(void **state)
{
    (void)state;
    assert_int_equal(S_VALID("\x80"), 0);
    assert_int_equal(S_VALID("a\xBF"), 0);
    assert_int_equal(S_VALID("\xEC\x9D\xB8\xB8"), 0); /* one continuation too many */
}

static void test_nul_byte_is_refused(void **state)
{
    (void)state;
    assert_int_equal(S_VALID("\0"), 0);
    assert_int_equal(S_VALID("abc\0def"), 0);
    assert_int_equal(fb_utf8_valid("abc\0def", 3), 1); /* only len bytes are looked at */
    assert_int_equal(S_VALID("\xEC\x9D\xB8\0"), 0);
}

static void test_bytes_f5_to_ff_are_refused_everywhere(void **state)
{
    (void)state;
    for (unsigned b = 0xF5; b <= 0xFF; b++) {
        char s[5] = {(char)b, (char)0x80, (char)0x80, (char)0x80, 0};
        if (fb_utf8_valid(s, 4)) fail_msg("lead byte 0x%02X accepted", b);
        if (fb_utf8_valid(s, 1)) fail_msg("lone byte 0x%02X accepted", b);
        char t[3] = {'a', (char)b, 'b'};
        if (fb_utf8_valid(t, 3)) fail_msg("byte 0x%02X inside ASCII accepted", b);
    }
}

/* ASCII is taken eight bytes at a time: a NUL, a stray byte or a Korean
 * syllable at any offset of a long ASCII run, aligned or not, is still seen. */
static void test_any_offset_in_a_long_ascii_run_is_checked(void **state)
{
    (void)state;
    char buf[64];
    for (size_t at = 0; at < 40; at++) {
        memset(buf, 'a', sizeof(buf));
        assert_int_equal(fb_utf8_valid(buf, sizeof(buf)), 1);
        buf[at] = '\0';
        assert_int_equal(fb_utf8_valid(buf, sizeof(buf)), 0);
        buf[at] = (char)0xFF;
        assert_int_equal(fb_utf8_valid(buf, sizeof(buf)), 0);
        buf[at] = (char)0x80; /* a lone continuation byte */
        assert_int_equal(fb_utf8_valid(buf, sizeof(buf)), 0);
        memcpy(buf + at, "\xed\x95\x9c", 3); /* 한 */
        assert_int_equal(fb_utf8_valid(buf, sizeof(buf)), 1);
        memcpy(buf + at, "\xed\x95", 2); /* cut before its last byte */
        buf[at + 2] = 'a';
        assert_int_equal(fb_utf8_valid(buf, sizeof(buf)), 0);
        /* The same strings through an unaligned start. */
        memset(buf, 'a', sizeof(buf));
        buf[at + 1] = '\0';
        assert_int_equal(fb_utf8_valid(buf + 1, sizeof(buf) - 1), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_and_empty_string_are_valid),
        cmocka_unit_test(test_korean_text_is_valid),
        cmocka_unit_test(test_two_and_four_byte_sequences_are_valid),
        cmocka_unit_test(test_boundary_code_points_are_valid),
        cmocka_unit_test(test_overlong_encodings_are_refused),
        cmocka_unit_test(test_utf16_surrogates_are_refused),
        cmocka_unit_test(test_code_points_above_10ffff_are_refused),
        cmocka_unit_test(test_sequences_truncated_at_the_end_are_refused),
        cmocka_unit_test(test_sequences_interrupted_in_the_middle_are_refused),
        cmocka_unit_test(test_lone_continuation_bytes_are_refused),
        cmocka_unit_test(test_nul_byte_is_refused),
        cmocka_unit_test(test_bytes_f5_to_ff_are_refused_everywhere),
        cmocka_unit_test(test_any_offset_in_a_long_ascii_run_is_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
