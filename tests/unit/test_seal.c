/* test_seal.c — entry hashes, RFC 6962 roots, the seal's signed bytes, and forged seals refused. */
#include "fb_seal.h"
#include "fb_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static void s_hex(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

/* entry i = SHA-256 of the single byte i */
static void s_entries(uint8_t (*e)[FB_SHA256_LEN], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)i;
        assert_int_equal(fb_sha256(&b, 1, e[i]), 0);
    }
}

static void test_root_follows_rfc6962_for_balanced_and_unbalanced_trees(void **state)
{
    (void)state;
    /* Computed with an independent implementation of RFC 6962's MTH. */
    static const struct { size_t n; const char *root; } v[] = {
        {1, "d9de27625445003d8a9739a851e3ff8d41c0683630b4d63a88327a6aaa37c409"},
        {2, "604d540f09268b91672ab011394d5266ccd7d4484d0d109411a55848126a1b2c"},
        {3, "d1f13800048f5909d4043fc0c152f6643280cba608b672715e56ce159a20629f"},
        {5, "6b313b611b40676b9e1dfd70c4503f2379f88f0f1c2740fb7e1cacc32c113465"},
        {7, "bee2275db16667589a4515f63e0d053a2fa602c1d9f9703e98920a5bdad59baf"},
        {8, "80e139b44c90f91edebec705cc7586c3d90f4bdadd49628d25c20d4b03419287"},
    };
    uint8_t e[8][FB_SHA256_LEN], root[FB_SHA256_LEN], want[FB_SHA256_LEN];
    s_entries(e, 8);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(fb_seal_root((const uint8_t(*)[FB_SHA256_LEN])e, v[i].n, root), 0);
        s_hex(v[i].root, want, FB_SHA256_LEN);
        assert_memory_equal(root, want, FB_SHA256_LEN);
    }
    assert_int_equal(fb_seal_root((const uint8_t(*)[FB_SHA256_LEN])e, 0, root), -1);
}

static void test_root_changes_with_any_entry_and_with_order(void **state)
{
    (void)state;
    uint8_t e[7][FB_SHA256_LEN], root[FB_SHA256_LEN], other[FB_SHA256_LEN];
    s_entries(e, 7);
    assert_int_equal(fb_seal_root((const uint8_t(*)[FB_SHA256_LEN])e, 7, root), 0);
    for (int i = 0; i < 7; i++) {
        e[i][31] ^= 1;
        assert_int_equal(fb_seal_root((const uint8_t(*)[FB_SHA256_LEN])e, 7, other), 0);
        assert_memory_not_equal(root, other, FB_SHA256_LEN);
        e[i][31] ^= 1;
    }
    uint8_t tmp[FB_SHA256_LEN];
    memcpy(tmp, e[2], sizeof(tmp));
    memcpy(e[2], e[3], sizeof(tmp));
    memcpy(e[3], tmp, sizeof(tmp));
    assert_int_equal(fb_seal_root((const uint8_t(*)[FB_SHA256_LEN])e, 7, other), 0);
    assert_memory_not_equal(root, other, FB_SHA256_LEN);
    /* a prefix of the run is not the run */
    assert_int_equal(fb_seal_root((const uint8_t(*)[FB_SHA256_LEN])e, 6, other), 0);
    assert_memory_not_equal(root, other, FB_SHA256_LEN);
}

static fb_seal_t s_seal(void)
{
    fb_seal_t s = {.origin = "kr-busan", .first_seq = 41, .last_seq = 48, .signed_at_us = 1764669600000000};
    for (int i = 0; i < FB_SHA256_LEN; i++) s.root[i] = (uint8_t)i;
    for (int i = 0; i < FB_SEAL_KEY_ID_LEN; i++) s.key_id[i] = (uint8_t)(0xA0 + i);
    return s;
}

static void test_signed_bytes_follow_the_documented_layout(void **state)
{
    (void)state;
    fb_seal_t s = s_seal();
    uint8_t b[FB_SEAL_SIGNED_MAX];
    size_t n = fb_seal_signed_bytes(&s, b);
    assert_int_equal(n, 15 + 1 + 8 + 8 + 8 + 32 + 8 + 8);
    assert_memory_equal(b, "fedbus-seal-v1\0", 15);
    assert_int_equal(b[15], 8);
    assert_memory_equal(b + 16, "kr-busan", 8);
    assert_memory_equal(b + 24, "\0\0\0\0\0\0\0\x29", 8); /* 41 */
    assert_memory_equal(b + 32, "\0\0\0\0\0\0\0\x30", 8); /* 48 */
    assert_memory_equal(b + 40, s.root, 32);
    assert_memory_equal(b + 72, s.key_id, 8);
    /* 1764669600000000 = 0x000644f528a76800 */
    assert_memory_equal(b + 80, "\x00\x06\x44\xf5\x28\xa7\x68\x00", 8);
}

static void test_malformed_seals_have_no_signed_bytes(void **state)
{
    (void)state;
    uint8_t b[FB_SEAL_SIGNED_MAX], secret[32] = {1};
    fb_seal_t s = s_seal();
    s.first_seq = 0;
    assert_int_equal(fb_seal_signed_bytes(&s, b), 0);
    s = s_seal();
    s.last_seq = 40;
    assert_int_equal(fb_seal_signed_bytes(&s, b), 0);
    s = s_seal();
    s.last_seq = (uint64_t)1 << 63;
    assert_int_equal(fb_seal_signed_bytes(&s, b), 0);
    s = s_seal();
    strcpy(s.origin, "Busan!");
    assert_int_equal(fb_seal_signed_bytes(&s, b), 0);
    assert_int_equal(fb_seal_sign(&s, secret), -1);
    s.origin[0] = 0;
    assert_int_equal(fb_seal_signed_bytes(&s, b), 0);
    s = s_seal();
    s.first_seq = s.last_seq = 7;
    assert_true(fb_seal_signed_bytes(&s, b) > 0); /* a run of one is fine */
}

static void test_seal_verifies_and_every_altered_field_fails(void **state)
{
    (void)state;
    uint8_t pub[32], secret[32], other_pub[32], other_secret[32];
    assert_int_equal(fb_ed25519_keypair(pub, secret), 0);
    assert_int_equal(fb_ed25519_keypair(other_pub, other_secret), 0);
    fb_seal_t s = s_seal();
    assert_int_equal(fb_seal_sign(&s, secret), 0);
    assert_int_equal(fb_seal_verify(&s, pub), 1);
    assert_int_equal(fb_seal_verify(&s, other_pub), 0);
    fb_seal_t t;
    t = s, t.origin[3] = 'x';
    assert_int_equal(fb_seal_verify(&t, pub), 0);
    t = s, t.first_seq++;
    assert_int_equal(fb_seal_verify(&t, pub), 0);
    t = s, t.last_seq++;
    assert_int_equal(fb_seal_verify(&t, pub), 0);
    t = s, t.root[17] ^= 4;
    assert_int_equal(fb_seal_verify(&t, pub), 0);
    t = s, t.key_id[0] ^= 1;
    assert_int_equal(fb_seal_verify(&t, pub), 0);
    t = s, t.signed_at_us++;
    assert_int_equal(fb_seal_verify(&t, pub), 0);
    t = s, t.signature[5] ^= 0x80;
    assert_int_equal(fb_seal_verify(&t, pub), 0);
    /* another origin's key signing the same run is not the origin's seal */
    t = s;
    assert_int_equal(fb_seal_sign(&t, other_secret), 0);
    assert_int_equal(fb_seal_verify(&t, pub), 0);
}

static void test_a_signer_made_once_signs_as_the_seed_does(void **state)
{
    (void)state;
    uint8_t pub[32], secret[32];
    assert_int_equal(fb_ed25519_keypair(pub, secret), 0);
    fb_ed25519_signer_t *signer = fb_ed25519_signer_new(secret);
    assert_non_null(signer);
    fb_seal_t s = s_seal(), t = s_seal();
    assert_int_equal(fb_seal_sign(&s, secret), 0);
    assert_int_equal(fb_seal_sign_with(&t, signer), 0);
    /* Ed25519 is deterministic: the same bytes, however the key was held */
    assert_memory_equal(s.signature, t.signature, sizeof(s.signature));
    assert_int_equal(fb_seal_verify(&t, pub), 1);
    /* used again for another seal, it still signs that one */
    t.last_seq++;
    assert_int_equal(fb_seal_sign_with(&t, signer), 0);
    assert_int_equal(fb_seal_verify(&t, pub), 1);
    assert_memory_not_equal(s.signature, t.signature, sizeof(s.signature));
    /* a seal that is not well-formed is not signed */
    t.first_seq = 0;
    assert_int_equal(fb_seal_sign_with(&t, signer), -1);
    fb_ed25519_signer_destroy(&signer);
    assert_null(signer);
    fb_ed25519_signer_destroy(&signer);
    fb_ed25519_signer_destroy(NULL);
}

static void test_origin_bytes_are_the_envelope_without_the_brokers_stamp(void **state)
{
    (void)state;
    uint8_t env[128] = {0x0a, 0x03, 'a', 'b', 'c'}, stamp[FB_STAMP_MAX];
    size_t n = fb_wire_stamp_stored(123456, 1764669600000000, stamp);
    memcpy(env + 5, stamp, n);
    assert_int_equal(fb_seal_origin_len(env, 5 + n, 123456, 1764669600000000), 5);
    assert_int_equal(fb_seal_origin_len(env, 5 + n, 123457, 1764669600000000), -1);
    assert_int_equal(fb_seal_origin_len(env, 5 + n, 123456, 1764669600000001), -1);
    assert_int_equal(fb_seal_origin_len(env, 3, 123456, 1764669600000000), -1);
    env[5 + n - 1] ^= 1;
    assert_int_equal(fb_seal_origin_len(env, 5 + n, 123456, 1764669600000000), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_follows_rfc6962_for_balanced_and_unbalanced_trees),
        cmocka_unit_test(test_root_changes_with_any_entry_and_with_order),
        cmocka_unit_test(test_signed_bytes_follow_the_documented_layout),
        cmocka_unit_test(test_malformed_seals_have_no_signed_bytes),
        cmocka_unit_test(test_seal_verifies_and_every_altered_field_fails),
        cmocka_unit_test(test_a_signer_made_once_signs_as_the_seed_does),
        cmocka_unit_test(test_origin_bytes_are_the_envelope_without_the_brokers_stamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
