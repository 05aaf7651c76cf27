/* test_verifier.c — a delivered envelope is verified only against a good seal of its origin: an edited entry, a
 * wrong root, an unknown key, another member's key, a key outside its window and a bad signature each fail; an
 * envelope no seal covers is unsigned, not failed; a seal kept verifies its frame's other envelopes. */
#include "fb_crypto.h"
#include "fb_keys.h"
#include "fb_seal.h"
#include "fb_verifier.h"
#include "fb_wire.h"
#include "fedbus.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define S_N 4
#define S_T0 1760000000000000LL

static uint8_t s_pub[32], s_sec[32], s_kid[8], s_pub2[32], s_sec2[32], s_kid2[8];
static uint8_t s_env[S_N][256];
static size_t s_len[S_N];
static uint8_t s_entries[S_N][32];

/* Envelope i of origin at origin_seq 10 + i, stamped by the broker as global_seq 100 + i. */
static void s_make(const char *origin)
{
    for (int i = 0; i < S_N; i++) {
        Fedbus__Envelope e = FEDBUS__ENVELOPE__INIT;
        uint8_t id[16] = {1, 2, 3, (uint8_t)i};
        char topic[64];
        snprintf(topic, sizeof(topic), "event.%s.forum", origin);
        e.message_id = (ProtobufCBinaryData){16, id};
        e.origin = (char *)origin;
        e.topic = topic;
        e.origin_seq = 10 + (uint64_t)i;
        size_t n = fedbus__envelope__pack(&e, s_env[i]);
        fb_seal_entry_hash(s_env[i], n, s_entries[i]);
        n += fb_wire_stamp_stored(100 + (uint64_t)i, S_T0 + i, s_env[i] + n);
        s_len[i] = n;
    }
}

static void s_seal(fb_seal_t *s, const char *origin, const uint8_t *kid, const uint8_t *sec, int64_t at)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->origin, sizeof(s->origin), "%s", origin);
    s->first_seq = 10;
    s->last_seq = 10 + S_N - 1;
    fb_seal_root((const uint8_t(*)[32])s_entries, S_N, s->root);
    memcpy(s->key_id, kid, 8);
    s->signed_at_us = at;
    assert_int_equal(fb_seal_sign(s, sec), 0);
}

static fb_verifier_t *s_verifier(void)
{
    fb_verifier_t *v = fb_verifier_new();
    assert_non_null(v);
    assert_int_equal(fb_verifier_add_key(v, "kr-seoul", s_kid, s_pub, S_T0 - 1000000, S_T0 + 1000000), 0);
    assert_int_equal(fb_verifier_add_key(v, "kr-busan", s_kid2, s_pub2, 0, 0), 0);
    return v;
}

static int s_setup(void **state)
{
    (void)state;
    fb_ed25519_keypair(s_pub, s_sec);
    fb_keys_id(s_pub, s_kid);
    fb_ed25519_keypair(s_pub2, s_sec2);
    fb_keys_id(s_pub2, s_kid2);
    s_make("kr-seoul");
    return 0;
}

static void test_a_good_seal_verifies_every_envelope_of_its_frame(void **state)
{
    (void)state;
    fb_verifier_t *v = s_verifier();
    fb_seal_t s;
    char why[160];
    s_seal(&s, "kr-seoul", s_kid, s_sec, S_T0);
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 1, why, sizeof(why)), 1);
    for (int i = 0; i < S_N; i++) assert_int_equal(fb_verifier_check(v, s_env[i], s_len[i], why, sizeof(why)), 1);
    /* The same seal again (the next chunk brings it): still good. */
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 1, why, sizeof(why)), 1);
    fb_verifier_destroy(&v);
    assert_null(v);
    fb_verifier_destroy(NULL);
}

static void test_an_edited_envelope_fails(void **state)
{
    (void)state;
    fb_verifier_t *v = s_verifier();
    fb_seal_t s;
    char why[160];
    s_seal(&s, "kr-seoul", s_kid, s_sec, S_T0);
    fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 1, why, sizeof(why));
    uint8_t copy[256];
    memcpy(copy, s_env[2], s_len[2]);
    copy[30] ^= 0x01; /* in the topic */
    assert_int_equal(fb_verifier_check(v, copy, s_len[2], why, sizeof(why)), -1);
    assert_non_null(strstr(why, "not the one its origin signed"));
    fb_verifier_destroy(&v);
}

static void test_a_tampered_entry_gives_a_wrong_root_and_fails(void **state)
{
    (void)state;
    fb_verifier_t *v = s_verifier();
    fb_seal_t s;
    char why[160];
    s_seal(&s, "kr-seoul", s_kid, s_sec, S_T0);
    uint8_t entries[S_N][32];
    memcpy(entries, s_entries, sizeof(entries));
    entries[1][0] ^= 0x80;
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])entries, S_N, 1, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "root"));
    assert_int_equal(fb_verifier_check(v, s_env[0], s_len[0], why, sizeof(why)), -1);
    assert_non_null(strstr(why, "root"));
    fb_verifier_destroy(&v);
}

static void test_a_flipped_signature_fails(void **state)
{
    (void)state;
    fb_verifier_t *v = s_verifier();
    fb_seal_t s;
    char why[160];
    s_seal(&s, "kr-seoul", s_kid, s_sec, S_T0);
    s.signature[5] ^= 0x01;
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 1, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "signature does not verify"));
    assert_int_equal(fb_verifier_check(v, s_env[3], s_len[3], why, sizeof(why)), -1);
    fb_verifier_destroy(&v);
}

static void test_an_unknown_key_asks_for_the_directory_then_fails(void **state)
{
    (void)state;
    fb_verifier_t *v = s_verifier();
    uint8_t pub[32], sec[32], kid[8];
    fb_ed25519_keypair(pub, sec);
    fb_keys_id(pub, kid);
    fb_seal_t s;
    char why[160];
    s_seal(&s, "kr-seoul", kid, sec, S_T0);
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 0, why, sizeof(why)),
                     FB_VERIFIER_UNKNOWN_KEY);
    assert_int_equal(fb_verifier_check(v, s_env[0], s_len[0], why, sizeof(why)), 0); /* nothing kept */
    /* The directory fetched again holds it (a rotation): good. */
    fb_verifier_clear_keys(v);
    assert_int_equal(fb_verifier_nkeys(v), 0);
    assert_int_equal(fb_verifier_add_key(v, "kr-seoul", kid, pub, 0, 0), 0);
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 0, why, sizeof(why)), 1);
    fb_verifier_destroy(&v);
    /* Still unknown after that: the seal fails. */
    v = s_verifier();
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 1, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "does not hold"));
    assert_int_equal(fb_verifier_check(v, s_env[0], s_len[0], why, sizeof(why)), -1);
    fb_verifier_destroy(&v);
}

static void test_another_members_key_fails(void **state)
{
    (void)state;
    fb_verifier_t *v = s_verifier();
    fb_seal_t s;
    char why[160];
    s_seal(&s, "kr-seoul", s_kid2, s_sec2, S_T0); /* kr-busan's key signing for kr-seoul */
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 0, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "not a key of kr-seoul"));
    fb_verifier_destroy(&v);
}

static void test_a_key_outside_its_window_fails(void **state)
{
    (void)state;
    fb_verifier_t *v = s_verifier();
    fb_seal_t s;
    char why[160];
    s_seal(&s, "kr-seoul", s_kid, s_sec, S_T0 + 1000000); /* the window's end is exclusive */
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 1, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "outside its key's validity window"));
    s_seal(&s, "kr-seoul", s_kid, s_sec, S_T0 - 1000001);
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 1, why, sizeof(why)), 0);
    fb_verifier_destroy(&v);
}

static void test_a_seal_that_could_not_be_checked_fails_until_a_good_copy_comes(void **state)
{
    (void)state;
    fb_verifier_t *v = s_verifier();
    fb_seal_t s;
    char why[160];
    s_seal(&s, "kr-seoul", s_kid, s_sec, S_T0);
    assert_int_equal(fb_verifier_add_failed(v, &s, (const uint8_t(*)[32])s_entries, S_N, "the directory is away"), 0);
    assert_int_equal(fb_verifier_check(v, s_env[0], s_len[0], why, sizeof(why)), -1);
    assert_string_equal(why, "the directory is away");
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 1, why, sizeof(why)), 1);
    assert_int_equal(fb_verifier_check(v, s_env[0], s_len[0], why, sizeof(why)), 1);
    fb_verifier_destroy(&v);
}

static void test_an_envelope_no_seal_covers_is_unsigned(void **state)
{
    (void)state;
    fb_verifier_t *v = s_verifier();
    char why[160];
    assert_int_equal(fb_verifier_check(v, s_env[1], s_len[1], why, sizeof(why)), 0);
    /* A seal of another origin covers nothing of kr-seoul's. */
    fb_seal_t s;
    s_seal(&s, "kr-busan", s_kid2, s_sec2, S_T0);
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 1, why, sizeof(why)), 1);
    assert_int_equal(fb_verifier_check(v, s_env[1], s_len[1], why, sizeof(why)), 0);
    /* Once a seal covers it, bytes that are not the stamped envelope fail. */
    s_seal(&s, "kr-seoul", s_kid, s_sec, S_T0);
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 1, why, sizeof(why)), 1);
    assert_int_equal(fb_verifier_check(v, s_env[1], s_len[1] - 1, why, sizeof(why)), -1);
    assert_int_equal(fb_verifier_check(v, (const uint8_t *)"\xff", 1, why, sizeof(why)), -1);
    assert_int_equal(fb_verifier_add_key(v, "", s_kid, s_pub, 0, 0), -1);
    fb_verifier_destroy(&v);
}

/* fb_verifier_check_scanned() answers as fb_verifier_check() does, for good, edited, cut and uncovered
 * envelopes, and hashes an envelope once across calls. */
static void test_a_scanned_envelope_gets_the_same_answer(void **state)
{
    (void)state;
    fb_verifier_t *v = s_verifier();
    fb_seal_t s;
    char why[160], why2[160];
    uint8_t copy[256], hash[32];
    fb_envelope_head_t h;
    int hashed = 0;
    /* No seal yet: unsigned, and nothing hashed. */
    assert_int_equal(fb_wire_envelope_scan(s_env[0], s_len[0], &h), 0);
    assert_int_equal(fb_verifier_check_scanned(v, s_env[0], s_len[0], &h, hash, &hashed, why, sizeof(why)), 0);
    assert_int_equal(hashed, 0);
    s_seal(&s, "kr-seoul", s_kid, s_sec, S_T0);
    assert_int_equal(fb_verifier_add_proof(v, &s, (const uint8_t(*)[32])s_entries, S_N, 1, why, sizeof(why)), 1);
    assert_int_equal(fb_verifier_check_scanned(v, s_env[0], s_len[0], &h, hash, &hashed, why, sizeof(why)), 1);
    assert_int_equal(hashed, 1);
    assert_memory_equal(hash, s_entries[0], 32);
    for (int i = 0; i < S_N; i++) {
        hashed = 0;
        assert_int_equal(fb_wire_envelope_scan(s_env[i], s_len[i], &h), 0);
        assert_int_equal(fb_verifier_check_scanned(v, s_env[i], s_len[i], &h, hash, &hashed, why, sizeof(why)), 1);
        /* An edited copy: the same failure, the same reason. */
        memcpy(copy, s_env[i], s_len[i]);
        copy[s_len[i] - 20] ^= 1;
        hashed = 0;
        if (fb_wire_envelope_scan(copy, s_len[i], &h) == 0) {
            int rc = fb_verifier_check_scanned(v, copy, s_len[i], &h, hash, &hashed, why, sizeof(why));
            assert_int_equal(rc, fb_verifier_check(v, copy, s_len[i], why2, sizeof(why2)));
            assert_int_equal(rc, -1);
            assert_string_equal(why, why2);
        }
        /* Cut short: the stamp is not its end. */
        hashed = 0;
        if (fb_wire_envelope_scan(s_env[i], s_len[i] - 1, &h) == 0) {
            int rc = fb_verifier_check_scanned(v, s_env[i], s_len[i] - 1, &h, hash, &hashed, why, sizeof(why));
            assert_int_equal(rc, fb_verifier_check(v, s_env[i], s_len[i] - 1, why2, sizeof(why2)));
            assert_int_equal(rc, -1);
            assert_string_equal(why, why2);
        }
    }
    /* Envelope 1 held as envelope 2's hash: the hash carried is the one checked (the caller keeps it per
     * envelope), so a wrong one fails and never verifies. */
    assert_int_equal(fb_wire_envelope_scan(s_env[1], s_len[1], &h), 0);
    memcpy(hash, s_entries[2], 32);
    hashed = 1;
    assert_int_equal(fb_verifier_check_scanned(v, s_env[1], s_len[1], &h, hash, &hashed, why, sizeof(why)), -1);
    fb_verifier_destroy(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_good_seal_verifies_every_envelope_of_its_frame),
        cmocka_unit_test(test_an_edited_envelope_fails),
        cmocka_unit_test(test_a_tampered_entry_gives_a_wrong_root_and_fails),
        cmocka_unit_test(test_a_flipped_signature_fails),
        cmocka_unit_test(test_an_unknown_key_asks_for_the_directory_then_fails),
        cmocka_unit_test(test_another_members_key_fails),
        cmocka_unit_test(test_a_key_outside_its_window_fails),
        cmocka_unit_test(test_a_seal_that_could_not_be_checked_fails_until_a_good_copy_comes),
        cmocka_unit_test(test_an_envelope_no_seal_covers_is_unsigned),
        cmocka_unit_test(test_a_scanned_envelope_gets_the_same_answer),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
