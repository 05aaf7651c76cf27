/* test_keys.c — key files and Ed25519: written 0600, read back, tampering and loose modes refused. */
#include "fb_keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char s_dir[64];
static char s_sec[128], s_pub[128];

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof(s_dir), "/tmp/fb-test-keys-XXXXXX");
    if (!mkdtemp(s_dir)) return -1;
    snprintf(s_sec, sizeof(s_sec), "%s/m.key", s_dir);
    snprintf(s_pub, sizeof(s_pub), "%s/m.pub", s_dir);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    unlink(s_sec);
    unlink(s_pub);
    rmdir(s_dir);
    return 0;
}

static void s_write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static char *s_read_text(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_generated_keys_round_trip_through_files_with_secret_0600(void **state)
{
    (void)state;
    fb_keys_t k, back, pub;
    char err[256];
    assert_int_equal(fb_keys_generate("kr-seoul", &k, err, sizeof(err)), 0);
    assert_int_equal(fb_keys_write(&k, s_sec, s_pub, false, err, sizeof(err)), 0);
    struct stat st;
    assert_int_equal(stat(s_sec, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(fb_keys_read(s_sec, &back, err, sizeof(err)), 0);
    assert_true(back.has_secret);
    assert_string_equal(back.member, "kr-seoul");
    assert_memory_equal(back.curve_secret, k.curve_secret, FB_CURVE_RAW_LEN);
    assert_memory_equal(back.sign_secret, k.sign_secret, FB_ED25519_KEY_LEN);
    assert_memory_equal(back.sign_key_id, k.sign_key_id, FB_KEY_ID_LEN);
    assert_int_equal(back.created_us, k.created_us);
    assert_int_equal(fb_keys_read(s_pub, &pub, err, sizeof(err)), 0);
    assert_false(pub.has_secret);
    assert_memory_equal(pub.curve_public, k.curve_public, FB_CURVE_RAW_LEN);
    assert_memory_equal(pub.sign_public, k.sign_public, FB_ED25519_KEY_LEN);
    assert_null(strstr(s_read_text(s_pub), "secret ="));
}

static void test_existing_key_file_is_not_overwritten_without_force(void **state)
{
    (void)state;
    fb_keys_t a, b, back;
    char err[256];
    assert_int_equal(fb_keys_generate("kr-busan", &a, err, sizeof(err)), 0);
    assert_int_equal(fb_keys_generate("kr-busan", &b, err, sizeof(err)), 0);
    assert_int_equal(fb_keys_write(&a, s_sec, s_pub, false, err, sizeof(err)), 0);
    assert_int_equal(fb_keys_write(&b, s_sec, s_pub, false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "refusing to overwrite"));
    assert_int_equal(fb_keys_read(s_sec, &back, err, sizeof(err)), 0);
    assert_memory_equal(back.curve_secret, a.curve_secret, FB_CURVE_RAW_LEN);
    assert_int_equal(fb_keys_write(&b, s_sec, s_pub, true, err, sizeof(err)), 0);
    assert_int_equal(fb_keys_read(s_sec, &back, err, sizeof(err)), 0);
    assert_memory_equal(back.curve_secret, b.curve_secret, FB_CURVE_RAW_LEN);
}

static void test_secret_file_readable_by_others_is_refused(void **state)
{
    (void)state;
    fb_keys_t k, back;
    char err[256];
    assert_int_equal(fb_keys_generate("kr-daejeon", &k, err, sizeof(err)), 0);
    assert_int_equal(fb_keys_write(&k, s_sec, NULL, true, err, sizeof(err)), 0);
    chmod(s_sec, 0644);
    assert_int_equal(fb_keys_read(s_sec, &back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "chmod 600"));
    assert_false(back.has_secret);
}

static void test_secret_that_does_not_match_its_public_key_is_refused(void **state)
{
    (void)state;
    fb_keys_t a, b, back;
    char err[256], text[2048], z[FB_CURVE_Z85_LEN + 1], b64[FB_ED25519_B64_LEN + 1];
    assert_int_equal(fb_keys_generate("kr-incheon", &a, err, sizeof(err)), 0);
    assert_int_equal(fb_keys_generate("kr-incheon", &b, err, sizeof(err)), 0);
    /* a's public keys with b's CURVE secret */
    assert_true(fb_keys_format_public(&a, text, sizeof(text)) > 0);
    fb_keys_z85(b.curve_secret, z);
    fb_keys_b64(a.sign_secret, b64);
    snprintf(text + strlen(text), sizeof(text) - strlen(text), "curve-secret = %s\nsign-secret = %s\n", z, b64);
    s_write_text(s_sec, text, 0600);
    assert_int_equal(fb_keys_read(s_sec, &back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "curve-public is not the key of curve-secret"));
    /* and with b's signing secret */
    assert_true(fb_keys_format_public(&a, text, sizeof(text)) > 0);
    fb_keys_z85(a.curve_secret, z);
    fb_keys_b64(b.sign_secret, b64);
    snprintf(text + strlen(text), sizeof(text) - strlen(text), "curve-secret = %s\nsign-secret = %s\n", z, b64);
    s_write_text(s_sec, text, 0600);
    assert_int_equal(fb_keys_read(s_sec, &back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "sign-public is not the key of sign-secret"));
}

static void test_malformed_key_files_get_a_clear_reason(void **state)
{
    (void)state;
    static const struct { const char *text, *want; } cases[] = {
        {"member = kr-seoul\n", "curve-public is missing"},
        {"member = Seoul!\ncurve-public = x\n", "member is not valid"},
        {"member = a\ncurve-public = tooshort\n", "curve-public is not valid"},
        {"member = a\nmember = b\n", "member is given twice"},
        {"member = a\ncolour = blue\n", "unknown key 'colour'"},
        {"this is not ini\n", "line 1"},
        {"member = a\nsign-public = AAAA\n", "sign-public is not valid"},
    };
    fb_keys_t k;
    char err[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s_write_text(s_pub, cases[i].text, 0644);
        assert_int_equal(fb_keys_read(s_pub, &k, err, sizeof(err)), -1);
        if (!strstr(err, cases[i].want)) fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].want);
    }
    assert_int_equal(fb_keys_read("/nonexistent/k.key", &k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file"));
}

static void test_ed25519_signature_verifies_and_any_flipped_bit_fails(void **state)
{
    (void)state;
    uint8_t pub[32], sec[32], other[32], osec[32], sig[64];
    const char msg[] = "event.kr-seoul.forum head";
    assert_int_equal(fb_ed25519_keypair(pub, sec), 0);
    assert_int_equal(fb_ed25519_keypair(other, osec), 0);
    assert_int_equal(fb_ed25519_sign(sec, msg, sizeof(msg), sig), 0);
    assert_int_equal(fb_ed25519_verify(pub, msg, sizeof(msg), sig), 1);
    assert_int_equal(fb_ed25519_verify(other, msg, sizeof(msg), sig), 0);
    char copy[sizeof(msg)];
    for (size_t bit = 0; bit < sizeof(msg) * 8; bit += 7) {
        memcpy(copy, msg, sizeof(msg));
        copy[bit / 8] ^= (char)(1 << (bit % 8));
        assert_int_equal(fb_ed25519_verify(pub, copy, sizeof(copy), sig), 0);
    }
    sig[63] ^= 1;
    assert_int_equal(fb_ed25519_verify(pub, msg, sizeof(msg), sig), 0);
}

static void test_ed25519_matches_rfc8032_test_vector_1(void **state)
{
    (void)state;
    /* RFC 8032, section 7.1, TEST 1: the empty message. */
    static const uint8_t sec[32] = {0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
                                    0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
                                    0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
    static const uint8_t want_pub[32] = {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
                                         0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
                                         0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
    uint8_t pub[32], sig[64];
    assert_int_equal(fb_ed25519_public(sec, pub), 0);
    assert_memory_equal(pub, want_pub, 32);
    assert_int_equal(fb_ed25519_sign(sec, "", 0, sig), 0);
    assert_int_equal(sig[0], 0xe5);
    assert_int_equal(sig[63], 0x0b);
    assert_int_equal(fb_ed25519_verify(pub, "", 0, sig), 1);
}

static void test_text_forms_refuse_wrong_lengths_and_alphabets(void **state)
{
    (void)state;
    uint8_t key[32], id[8];
    char b64[FB_ED25519_B64_LEN + 1], hex[FB_KEY_ID_HEX_LEN + 1];
    memset(key, 0xAB, sizeof(key));
    fb_keys_b64(key, b64);
    assert_int_equal(strlen(b64), 44);
    uint8_t back[32];
    assert_int_equal(fb_keys_b64_parse(b64, back), 0);
    assert_memory_equal(back, key, 32);
    b64[43] = 'A';
    assert_int_equal(fb_keys_b64_parse(b64, back), -1);
    assert_int_equal(fb_keys_b64_parse("", back), -1);
    assert_int_equal(fb_keys_z85_parse("0123456789", back), -1);
    fb_keys_id(key, id);
    fb_keys_id_hex(id, hex);
    uint8_t id2[8];
    assert_int_equal(fb_keys_id_parse(hex, id2), 0);
    assert_memory_equal(id, id2, 8);
    assert_int_equal(fb_keys_id_parse("zz00000000000000", id2), -1);
    assert_int_equal(fb_keys_id_parse("00", id2), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_generated_keys_round_trip_through_files_with_secret_0600, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_existing_key_file_is_not_overwritten_without_force, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_secret_file_readable_by_others_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_secret_that_does_not_match_its_public_key_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_key_files_get_a_clear_reason, s_setup, s_teardown),
        cmocka_unit_test(test_ed25519_signature_verifies_and_any_flipped_bit_fails),
        cmocka_unit_test(test_ed25519_matches_rfc8032_test_vector_1),
        cmocka_unit_test(test_text_forms_refuse_wrong_lengths_and_alphabets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
