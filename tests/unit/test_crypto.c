/* test_crypto.c — SHA-256 vectors, random bytes, UUIDv7 layout, UUID text form. */
#include "fb_crypto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static void s_hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void test_sha256_of_abc_is_the_fips_vector(void **state)
{
    (void)state;
    uint8_t h[FB_SHA256_LEN];
    char hex[2 * FB_SHA256_LEN + 1];
    assert_int_equal(fb_sha256("abc", 3, h), 0);
    s_hex(h, sizeof(h), hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_sha256_of_empty_input_is_the_known_vector(void **state)
{
    (void)state;
    uint8_t h[FB_SHA256_LEN];
    char hex[2 * FB_SHA256_LEN + 1];
    assert_int_equal(fb_sha256("", 0, h), 0);
    s_hex(h, sizeof(h), hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_sha256_of_parts_equals_sha256_of_their_concatenation(void **state)
{
    (void)state;
    const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    uint8_t whole[FB_SHA256_LEN], parts_h[FB_SHA256_LEN];
    char hex[2 * FB_SHA256_LEN + 1];
    assert_int_equal(fb_sha256(msg, strlen(msg), whole), 0);
    s_hex(whole, sizeof(whole), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const void *parts[3] = {msg, msg + 5, msg + 30};
    size_t lens[3] = {5, 25, strlen(msg) - 30};
    assert_int_equal(fb_sha256_parts(parts, lens, 3, parts_h), 0);
    assert_memory_equal(parts_h, whole, FB_SHA256_LEN);
    /* No parts is the empty message. */
    uint8_t empty[FB_SHA256_LEN], none[FB_SHA256_LEN];
    assert_int_equal(fb_sha256("", 0, empty), 0);
    assert_int_equal(fb_sha256_parts(NULL, NULL, 0, none), 0);
    assert_memory_equal(none, empty, FB_SHA256_LEN);
}

static void test_random_fills_distinct_buffers(void **state)
{
    (void)state;
    uint8_t a[32], b[32], zero[32];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    memset(zero, 0, sizeof(zero));
    assert_int_equal(fb_random(a, sizeof(a)), 0);
    assert_int_equal(fb_random(b, sizeof(b)), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
}

static void test_uuid_v7_sets_version_and_variant_bits(void **state)
{
    (void)state;
    for (int i = 0; i < 64; i++) {
        uint8_t id[FB_UUID_LEN];
        assert_int_equal(fb_uuid_v7(1773291600123456LL, id), 0);
        assert_int_equal(id[6] >> 4, 7);    /* version 7 */
        assert_int_equal(id[8] >> 6, 2);    /* variant 10xx */
    }
}

static void test_uuid_v7_first_48_bits_are_the_milliseconds(void **state)
{
    (void)state;
    const int64_t us[] = {1773291600123456LL, 0, 999, 1000, 281474976710655999LL /* 2^48-1 ms */};
    for (size_t k = 0; k < sizeof(us) / sizeof(us[0]); k++) {
        uint8_t id[FB_UUID_LEN];
        assert_int_equal(fb_uuid_v7(us[k], id), 0);
        uint64_t ms = 0;
        for (int i = 0; i < 6; i++) ms = ms << 8 | id[i];
        assert_int_equal(ms, (uint64_t)(us[k] / 1000));
    }
    uint8_t id[FB_UUID_LEN];
    assert_int_equal(fb_uuid_v7(1773291600123456LL, id), 0);
    const uint8_t want[6] = {0x01, 0x9C, 0xE0, 0x6A, 0x78, 0xFB}; /* 1773291600123 */
    assert_memory_equal(id, want, 6);
}

static void test_uuid_v7_ids_sort_by_time_and_differ_in_the_same_millisecond(void **state)
{
    (void)state;
    uint8_t a[FB_UUID_LEN], b[FB_UUID_LEN], c[FB_UUID_LEN];
    assert_int_equal(fb_uuid_v7(1773291600123456LL, a), 0);
    assert_int_equal(fb_uuid_v7(1773291600123999LL, b), 0); /* same millisecond */
    assert_int_equal(fb_uuid_v7(1773291600124000LL, c), 0);
    assert_memory_equal(a, b, 6);
    assert_memory_not_equal(a, b, FB_UUID_LEN); /* random tail */
    assert_true(memcmp(b, c, FB_UUID_LEN) < 0);
}

static void test_uuid_is_v7_wants_version_7_and_the_rfc_variant(void **state)
{
    (void)state;
    uint8_t id[FB_UUID_LEN];
    assert_int_equal(fb_uuid_v7(1773291600123456LL, id), 0);
    assert_true(fb_uuid_is_v7(id));
    assert_int_equal(fb_uuid_v7_ms(id), 1773291600123LL);
    id[6] = (uint8_t)(0x40 | (id[6] & 0x0F)); /* a UUIDv4 */
    assert_false(fb_uuid_is_v7(id));
    id[6] = (uint8_t)(0x70 | (id[6] & 0x0F));
    id[8] = (uint8_t)(0xC0 | (id[8] & 0x3F)); /* Microsoft's variant */
    assert_false(fb_uuid_is_v7(id));
    id[8] = (uint8_t)(0x00 | (id[8] & 0x3F)); /* NCS variant */
    assert_false(fb_uuid_is_v7(id));
    const uint8_t nil[FB_UUID_LEN] = {0};
    assert_false(fb_uuid_is_v7(nil));
}

static void test_uuid_format_then_parse_round_trips(void **state)
{
    (void)state;
    const uint8_t id[FB_UUID_LEN] = {0x01, 0x90, 0xf5, 0xb0, 0x7c, 0x3e, 0x7a, 0x2b,
                                     0x8c, 0x4d, 0x12, 0x34, 0x56, 0x78, 0x90, 0xab};
    char text[37];
    memset(text, 'x', sizeof(text));
    fb_uuid_format(id, text);
    assert_string_equal(text, "0190f5b0-7c3e-7a2b-8c4d-1234567890ab");
    uint8_t back[FB_UUID_LEN];
    assert_int_equal(fb_uuid_parse(text, back), 0);
    assert_memory_equal(back, id, FB_UUID_LEN);
    for (int i = 0; i < 100; i++) {
        uint8_t r[FB_UUID_LEN], r2[FB_UUID_LEN];
        assert_int_equal(fb_random(r, sizeof(r)), 0);
        fb_uuid_format(r, text);
        assert_int_equal(strlen(text), 36);
        assert_int_equal(fb_uuid_parse(text, r2), 0);
        assert_memory_equal(r, r2, FB_UUID_LEN);
    }
}

static void test_uuid_parse_accepts_bare_hex_and_upper_case(void **state)
{
    (void)state;
    const uint8_t want[FB_UUID_LEN] = {0x01, 0x90, 0xf5, 0xb0, 0x7c, 0x3e, 0x7a, 0x2b,
                                       0x8c, 0x4d, 0x12, 0x34, 0x56, 0x78, 0x90, 0xab};
    uint8_t got[FB_UUID_LEN];
    memset(got, 0, sizeof(got));
    assert_int_equal(fb_uuid_parse("0190f5b07c3e7a2b8c4d1234567890ab", got), 0);
    assert_memory_equal(got, want, FB_UUID_LEN);
    memset(got, 0, sizeof(got));
    assert_int_equal(fb_uuid_parse("0190F5B0-7C3E-7A2B-8C4D-1234567890AB", got), 0);
    assert_memory_equal(got, want, FB_UUID_LEN);
    memset(got, 0, sizeof(got));
    assert_int_equal(fb_uuid_parse("0190F5B07C3E7A2B8C4D1234567890Ab", got), 0);
    assert_memory_equal(got, want, FB_UUID_LEN);
}

static void test_uuid_parse_refuses_wrong_length(void **state)
{
    (void)state;
    uint8_t got[FB_UUID_LEN];
    assert_int_equal(fb_uuid_parse("", got), -1);
    assert_int_equal(fb_uuid_parse("0190f5b0-7c3e-7a2b-8c4d-1234567890a", got), -1);   /* 35 */
    assert_int_equal(fb_uuid_parse("0190f5b0-7c3e-7a2b-8c4d-1234567890abc", got), -1); /* 37 */
    assert_int_equal(fb_uuid_parse("0190f5b07c3e7a2b8c4d1234567890a", got), -1);      /* 31 */
    assert_int_equal(fb_uuid_parse("0190f5b07c3e7a2b8c4d1234567890abc", got), -1);    /* 33 */
    assert_int_equal(fb_uuid_parse("{0190f5b0-7c3e-7a2b-8c4d-1234567890ab}", got), -1);
}

static void test_uuid_parse_refuses_misplaced_dashes(void **state)
{
    (void)state;
    uint8_t got[FB_UUID_LEN];
    assert_int_equal(fb_uuid_parse("0190f5b-07c3e-7a2b-8c4d-1234567890ab", got), -1);
    assert_int_equal(fb_uuid_parse("0190f5b07-c3e-7a2b-8c4d-1234567890ab", got), -1);
    assert_int_equal(fb_uuid_parse("0190f5b0-7c3e7-a2b-8c4d-1234567890ab", got), -1);
    assert_int_equal(fb_uuid_parse("0190f5b0-7c3e-7a2b-8c4d1-234567890ab", got), -1);
    assert_int_equal(fb_uuid_parse("0190f5b0a7c3e-7a2b-8c4d-1234567890ab", got), -1); /* 36, dash missing */
    assert_int_equal(fb_uuid_parse("0190f5b0-7c3e-7a2b-8c4d-12345678-0ab", got), -1);
    assert_int_equal(fb_uuid_parse("0190f5b0-7c3e7a2b8c4d1234567890ab", got), -1);    /* 33 */
}

static void test_uuid_parse_refuses_non_hex(void **state)
{
    (void)state;
    uint8_t got[FB_UUID_LEN];
    assert_int_equal(fb_uuid_parse("0190f5b0-7c3e-7a2b-8c4d-1234567890ag", got), -1);
    assert_int_equal(fb_uuid_parse("g190f5b0-7c3e-7a2b-8c4d-1234567890ab", got), -1);
    assert_int_equal(fb_uuid_parse("0190f5b0-7c3e-7a2b-8c4d-12345 7890ab", got), -1);
    assert_int_equal(fb_uuid_parse("0190f5b07c3e7a2b8c4d1234567890a-", got), -1);
    assert_int_equal(fb_uuid_parse("0190f5b07c3e7a2b8c4d1234567890+a", got), -1);
    assert_int_equal(fb_uuid_parse("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", got), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_of_abc_is_the_fips_vector),
        cmocka_unit_test(test_sha256_of_empty_input_is_the_known_vector),
        cmocka_unit_test(test_sha256_of_parts_equals_sha256_of_their_concatenation),
        cmocka_unit_test(test_random_fills_distinct_buffers),
        cmocka_unit_test(test_uuid_v7_sets_version_and_variant_bits),
        cmocka_unit_test(test_uuid_v7_first_48_bits_are_the_milliseconds),
        cmocka_unit_test(test_uuid_v7_ids_sort_by_time_and_differ_in_the_same_millisecond),
        cmocka_unit_test(test_uuid_is_v7_wants_version_7_and_the_rfc_variant),
        cmocka_unit_test(test_uuid_format_then_parse_round_trips),
        cmocka_unit_test(test_uuid_parse_accepts_bare_hex_and_upper_case),
        cmocka_unit_test(test_uuid_parse_refuses_wrong_length),
        cmocka_unit_test(test_uuid_parse_refuses_misplaced_dashes),
        cmocka_unit_test(test_uuid_parse_refuses_non_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
