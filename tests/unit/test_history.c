/* test_history.c — fb_history (the offline verdict of fedbus verify), the archive's base64 and the signed directory, without PostgreSQL. */
#include "fb_archive.h"
#include "fb_history.h"
#include "fb_keys.h"
#include "fb_seal.h"
#include "fb_signed_dir.h"
#include "fb_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define S_T0 1764669600000000LL /* 2025-12-02T10:00:00Z */

static fb_keys_t s_keys;
static uint8_t s_env[8][256];
static size_t s_len[8];
static size_t s_olen[8]; /* before the broker's stamp */
static int s_same_id = -1; /* s_make: this envelope takes the message_id of the one before */
static uint8_t s_hash[8][32];
static char s_lines[4096];

static void s_collect(void *arg, fb_history_kind_t kind, const char *line)
{
    (void)arg;
    strcat(s_lines, kind == FB_HISTORY_FAIL ? "FAIL " : "UNSEALED ");
    strcat(s_lines, line);
    strcat(s_lines, "\n");
}

/* n envelopes of kr-seoul, origin_seq 1..n, linked, stamped with global_seq 100+i. */
static void s_make(int n)
{
    uint8_t prev[32] = {0};
    for (int i = 0; i < n; i++) {
        uint8_t id[16] = {1, 2, 3, (uint8_t)(i == s_same_id ? i - 1 : i)};
        size_t len = fb_wire_stamp_origin(&(fb_wire_origin_stamp_t){.origin = "kr-seoul", .origin_len = 8,
                                                                      .message_id = id, .prev_hash = prev,
                                                                      .origin_seq = (uint64_t)i + 1},
                                          s_env[i]);
        fb_seal_entry_hash(s_env[i], len, s_hash[i]);
        memcpy(prev, s_hash[i], 32);
        s_olen[i] = len;
        len += fb_wire_stamp_stored(100 + (uint64_t)i, S_T0 + i, s_env[i] + len);
        s_len[i] = len;
    }
}

/* A seal over envelopes [from, to) signed at at_us with key k. */
static fb_history_seal_t s_seal(int from, int to, int64_t at_us, const fb_keys_t *k, uint64_t *seqs)
{
    fb_history_seal_t s = {0};
    snprintf(s.seal.origin, sizeof(s.seal.origin), "kr-seoul");
    s.seal.first_seq = (uint64_t)from + 1, s.seal.last_seq = (uint64_t)to, s.seal.signed_at_us = at_us;
    fb_seal_root((const uint8_t(*)[32])s_hash[from], (size_t)(to - from), s.seal.root);
    memcpy(s.seal.key_id, k->sign_key_id, 8);
    assert_int_equal(fb_seal_sign(&s.seal, k->sign_secret), 0);
    for (int i = from; i < to; i++) seqs[i - from] = (uint64_t)i + 1;
    s.n = (size_t)(to - from), s.entries = (const uint8_t(*)[32])s_hash[from], s.seqs = seqs;
    s.head_seq = (uint64_t)to;
    return s;
}

static json_t *s_directory(const char *until)
{
    char kid[17], pub[45], text[512];
    fb_keys_id_hex(s_keys.sign_key_id, kid);
    fb_keys_b64(s_keys.sign_public, pub);
    snprintf(text, sizeof(text),
             "{\"members\": [{\"id\": \"kr-seoul\", \"keys\": [{\"key_id\": \"%s\", \"public_key\": \"%s\","
             " \"valid_from\": \"2025-01-01T00:00:00Z\", \"valid_until\": %s}]}]}",
             kid, pub, until);
    json_t *d = json_loads(text, 0, NULL);
    assert_non_null(d);
    return d;
}

/* A checker with the directory, envelopes 0..nenv and the given seals; returns the FAIL count. */
static size_t s_check(const char *until, int nenv, const fb_history_seal_t *seals, int nseals, fb_history_counts_t *c)
{
    char err[256];
    fb_history_t *h = fb_history_new("not stored");
    json_t *d = s_directory(until);
    assert_int_equal(fb_history_directory(h, d, err, sizeof(err)), 0);
    json_decref(d);
    for (int i = 0; i < nseals; i++) assert_int_equal(fb_history_add_seal(h, &seals[i]), 0);
    for (int i = 0; i < nenv; i++) assert_int_equal(fb_history_add_envelope(h, s_env[i], s_len[i]), 0);
    s_lines[0] = '\0';
    size_t f = fb_history_check(h, s_collect, NULL, c);
    fb_history_destroy(&h);
    fb_history_destroy(&h); /* accepts NULL */
    return f;
}

static int s_setup(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(fb_keys_generate("kr-seoul", &s_keys, err, sizeof(err)), 0);
    return 0;
}

static void test_a_sealed_linked_history_verifies(void **state)
{
    (void)state;
    s_make(5);
    uint64_t a[8], b[8];
    fb_history_seal_t seals[] = {s_seal(0, 3, S_T0, &s_keys, a), s_seal(3, 5, S_T0 + 1, &s_keys, b)};
    fb_history_counts_t c;
    assert_int_equal(s_check("null", 5, seals, 2, &c), 0);
    assert_int_equal(c.origins, 1);
    assert_int_equal(c.seals, 2);
    assert_int_equal(c.envelopes, 5);
    assert_int_equal(c.unsealed, 0);
}

static void test_a_seal_signed_outside_its_keys_window_fails(void **state)
{
    (void)state;
    s_make(2);
    uint64_t a[8];
    fb_history_seal_t seals[] = {s_seal(0, 2, S_T0, &s_keys, a)};
    fb_history_counts_t c;
    assert_true(s_check("\"2025-06-01T00:00:00Z\"", 2, seals, 1, &c) >= 1);
    assert_non_null(strstr(s_lines, "signed outside the validity window"));
    assert_non_null(strstr(s_lines, "kr-seoul seq 1 message_id 01020300-0000-0000-0000-000000000000: covered only"));
}

static void test_a_seal_by_a_key_not_in_the_directory_fails(void **state)
{
    (void)state;
    char err[256];
    fb_keys_t other;
    assert_int_equal(fb_keys_generate("kr-seoul", &other, err, sizeof(err)), 0);
    s_make(2);
    uint64_t a[8];
    fb_history_seal_t seals[] = {s_seal(0, 2, S_T0, &other, a)};
    fb_history_counts_t c;
    assert_true(s_check("null", 2, seals, 1, &c) >= 1);
    assert_non_null(strstr(s_lines, "is not a key of kr-seoul in the member directory"));
}

static void test_a_seal_whose_root_is_not_its_entries_fails(void **state)
{
    (void)state;
    s_make(3);
    uint64_t a[8];
    fb_history_seal_t s = s_seal(0, 3, S_T0, &s_keys, a);
    s.n = 2; /* entries cut, seqs no longer first..last */
    assert_true(s_check("null", 3, &s, 1, NULL) >= 1);
    assert_non_null(strstr(s_lines, "seal signed_at_us"));
    s.n = 3;
    s.seal.root[0] ^= 1; /* ... the signature then fails too, but the root is said first */
    assert_true(s_check("null", 3, &s, 1, NULL) >= 1);
    assert_non_null(strstr(s_lines, "its root is not the Merkle root"));
}

static void test_unsealed_envelopes_are_reported_apart_and_do_not_fail(void **state)
{
    (void)state;
    s_make(3);
    uint64_t a[8];
    fb_history_seal_t seals[] = {s_seal(0, 2, S_T0, &s_keys, a)};
    fb_history_counts_t c;
    assert_int_equal(s_check("null", 3, seals, 1, &c), 0);
    assert_int_equal(c.unsealed, 1);
    assert_non_null(strstr(s_lines, "UNSEALED kr-seoul seq 3 message_id 01020302-0000-0000-0000-000000000000: no seal"));
}

static void test_a_fork_a_broken_link_and_a_repeat_fail(void **state)
{
    (void)state;
    s_make(3);
    uint64_t a[8], b[8];
    fb_history_seal_t good = s_seal(0, 3, S_T0, &s_keys, a);
    /* a second seal putting another envelope at seq 2 */
    uint8_t saved[32];
    memcpy(saved, s_hash[1], 32);
    s_hash[1][5] ^= 1;
    fb_history_seal_t fork = s_seal(1, 2, S_T0 + 5, &s_keys, b);
    fork.entries = malloc(32);
    memcpy((void *)fork.entries, s_hash[1], 32);
    memcpy(s_hash[1], saved, 32);
    fb_history_seal_t both[] = {good, fork};
    assert_true(s_check("null", 3, both, 2, NULL) >= 1);
    assert_non_null(strstr(s_lines, "a fork"));
    free((void *)fork.entries);
    /* envelope 3 sealed, but linked to nothing before it */
    uint8_t zero[32] = {0};
    size_t len = fb_wire_stamp_origin(&(fb_wire_origin_stamp_t){.origin = "kr-seoul", .origin_len = 8,
                                                                  .prev_hash = zero, .origin_seq = 3},
                                      s_env[2]);
    fb_seal_entry_hash(s_env[2], len, s_hash[2]);
    s_len[2] = len + fb_wire_stamp_stored(102, S_T0, s_env[2] + len);
    good = s_seal(0, 3, S_T0, &s_keys, a);
    assert_true(s_check("null", 3, &good, 1, NULL) >= 1);
    assert_non_null(strstr(s_lines, "kr-seoul seq 3 message_id -: prev_hash does not link to origin_seq 2"));
    /* the same envelope twice */
    s_make(3);
    good = s_seal(0, 3, S_T0, &s_keys, a);
    memcpy(s_env[2], s_env[1], s_len[1]);
    s_len[2] = s_len[1];
    assert_true(s_check("null", 3, &good, 1, NULL) >= 1);
    assert_non_null(strstr(s_lines, "a second envelope at this origin_seq"));
}

static void test_a_missing_link_and_bad_envelopes_fail(void **state)
{
    (void)state;
    s_make(4);
    uint64_t a[8];
    fb_history_seal_t s = s_seal(0, 4, S_T0, &s_keys, a);
    memcpy(s_env[1], "\xff\xff", 2); /* not protobuf */
    s_len[1] = 2;
    s_env[2][s_len[2]++] = 0x38; /* another global_seq after the stamp: the stamp is no longer last */
    s_env[2][s_len[2]++] = 0x05;
    assert_true(s_check("null", 4, &s, 1, NULL) >= 1);
    assert_non_null(strstr(s_lines, "not a well-formed envelope"));
    assert_non_null(strstr(s_lines, "does not end with the broker's stamp"));
    assert_non_null(strstr(s_lines, "kr-seoul seq 2 message_id -: sealed (seal 1-4) and linked into the chain, but not stored"));
}

/* Envelopes 1..4 of one seal, the third (origin_seq 3, the second's message
 * again) kept as not stored with reason, original and its bytes (flip: one
 * flipped), and with unsealed_after a fifth one stored unsealed; returns the
 * FAIL count. */
static size_t s_check_kept_with(const char *reason, uint64_t original, int flip, int unsealed_after,
                                fb_history_counts_t *c)
{
    char err[256];
    s_same_id = 2;
    s_make(5);
    s_same_id = -1;
    uint64_t a[8];
    fb_history_seal_t seal = s_seal(0, 4, S_T0, &s_keys, a);
    fb_history_t *h = fb_history_new("not stored");
    json_t *d = s_directory("null");
    assert_int_equal(fb_history_directory(h, d, err, sizeof(err)), 0);
    json_decref(d);
    assert_int_equal(fb_history_add_seal(h, &seal), 0);
    for (int i = 0; i < (unsealed_after ? 5 : 4); i++)
        if (i != 2) assert_int_equal(fb_history_add_envelope(h, s_env[i], s_len[i]), 0);
    uint8_t kept[256];
    memcpy(kept, s_env[2], s_olen[2]);
    for (size_t i = 0; flip && i + 32 <= s_olen[2]; i++)
        if (!memcmp(kept + i, s_hash[1], 32)) kept[i + 5] ^= 1, flip = 0; /* a byte of its prev_hash */
    assert_int_equal(flip, 0);
    assert_int_equal(fb_history_add_unstored(h, &(fb_history_unstored_t){kept, s_olen[2], reason, original}), 0);
    s_lines[0] = '\0';
    size_t f = fb_history_check(h, s_collect, NULL, c);
    fb_history_destroy(&h);
    return f;
}

static size_t s_check_kept(const char *reason, uint64_t original, int flip, fb_history_counts_t *c)
{
    return s_check_kept_with(reason, original, flip, 0, c);
}

static void test_a_kept_duplicate_of_a_stored_original_accounts_for_its_link(void **state)
{
    (void)state;
    fb_history_counts_t c;
    assert_int_equal(s_check_kept("DUPLICATE", 101, 0, &c), 0);
    assert_int_equal(c.unstored, 1);
    assert_int_equal(c.unstored_duplicate, 1);
    assert_int_equal(c.envelopes, 3);
    /* stale: only an envelope stored unsealed above it can have made it so */
    assert_int_equal(s_check_kept_with("STALE_SEQUENCE", 0, 0, 1, &c), 0);
    assert_int_equal(c.unstored_stale, 1);
}

/* A deleted row moved into the kept ones as STALE_SEQUENCE: every stored
 * envelope of the origin is linked, so nothing can have made it stale. */
static void test_a_kept_stale_envelope_where_every_stored_one_is_linked_fails(void **state)
{
    (void)state;
    fb_history_counts_t c;
    if (s_check_kept("STALE_SEQUENCE", 0, 0, &c) != 1) fail_msg("%s", s_lines);
    assert_non_null(strstr(s_lines, "kept as STALE_SEQUENCE, but every stored envelope of its origin"));
    assert_int_equal(c.unstored_stale, 0);
}

static void test_a_kept_envelope_that_does_not_bear_out_its_reason_fails(void **state)
{
    (void)state;
    fb_history_counts_t c;
    if (s_check_kept("DUPLICATE", 101, 1, &c) != 1) fail_msg("%s", s_lines);
    assert_non_null(strstr(s_lines, "kr-seoul seq 3 message_id"));
    assert_non_null(strstr(s_lines, "but its bytes are not the envelope sealed"));
    assert_int_equal(c.unstored, 0);
    assert_int_equal(s_check_kept("DUPLICATE", 100, 0, &c), 1); /* another global_seq than the original's */
    assert_non_null(strstr(s_lines, "kept as a DUPLICATE, but no stored envelope of its origin is its original"));
    assert_int_equal(s_check_kept("ID_REUSED", 0, 0, &c), 1); /* the stored one has the same content */
    assert_non_null(strstr(s_lines, "kept as ID_REUSED, but no stored envelope"));
    assert_int_equal(s_check_kept("LOST", 0, 0, &c), 1);
    assert_non_null(strstr(s_lines, "kept with an unknown reason"));
}

static void test_a_directory_that_is_not_valid_is_refused(void **state)
{
    (void)state;
    char err[256];
    fb_history_t *h = fb_history_new("x");
    const char *bad[] = {
        "{}",
        "{\"members\": [{\"keys\": []}]}",
        "{\"members\": [{\"id\": \"a\", \"keys\": [{\"key_id\": \"zz\", \"public_key\": \"\"}]}]}",
        "{\"members\": [{\"id\": \"a\", \"keys\": [{\"key_id\": \"0000000000000000\","
        " \"public_key\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\", \"valid_from\": \"2025-01-01\"}]}]}",
    };
    const char *why[] = {"no \"members\" array", "no valid \"id\"", "is not valid", "is not the id of its public key"};
    for (size_t i = 0; i < 4; i++) {
        json_t *d = json_loads(bad[i], 0, NULL);
        assert_non_null(d);
        assert_int_equal(fb_history_directory(h, d, err, sizeof(err)), -1);
        if (!strstr(err, why[i])) fail_msg("directory %zu: %s", i, err);
        json_decref(d);
    }
    fb_history_destroy(&h);
}

static void test_base64_round_trips_and_refuses_what_is_not(void **state)
{
    (void)state;
    const uint8_t data[] = {0, 1, 2, 250, 251, 252, 253};
    char text[16];
    uint8_t back[16];
    for (size_t n = 0; n <= sizeof(data); n++) {
        fb_archive_b64(data, n, text);
        assert_int_equal(strlen(text), (n + 2) / 3 * 4);
        assert_int_equal(fb_archive_unb64(text, back), (long)n);
        assert_memory_equal(back, data, n);
    }
    assert_int_equal(fb_archive_unb64("abc", back), -1);
    assert_int_equal(fb_archive_unb64("ab=c", back), -1);
    assert_int_equal(fb_archive_unb64("a*cd", back), -1);
    assert_int_equal(fb_archive_unb64("ab==abcd", back), -1);
}

static void test_a_signed_directory_opens_with_the_signers_key_only(void **state)
{
    (void)state;
    char err[256];
    int checked;
    fb_keys_t broker, other;
    assert_int_equal(fb_keys_generate("broker", &broker, err, sizeof(err)), 0);
    assert_int_equal(fb_keys_generate("broker", &other, err, sizeof(err)), 0);
    json_t *dir = s_directory("null");
    json_t *doc = fb_signed_dir_sign(dir, &broker, S_T0, err, sizeof(err));
    assert_non_null(doc);
    json_t *back = fb_signed_dir_open(doc, broker.sign_public, &checked, err, sizeof(err));
    assert_non_null(back);
    assert_int_equal(checked, 1);
    assert_true(json_equal(back, dir));
    json_decref(back);
    back = fb_signed_dir_open(doc, NULL, &checked, err, sizeof(err)); /* no key: read, not checked */
    assert_non_null(back);
    assert_int_equal(checked, 0);
    json_decref(back);
    assert_null(fb_signed_dir_open(doc, other.sign_public, &checked, err, sizeof(err)));
    assert_non_null(strstr(err, "not by the broker's key given"));
    /* one character of the text changed */
    char *text = strdup(json_string_value(json_object_get(doc, "directory")));
    text[strlen(text) / 2] ^= 1;
    json_object_set_new(doc, "directory", json_string(text));
    free(text);
    assert_null(fb_signed_dir_open(doc, broker.sign_public, &checked, err, sizeof(err)));
    assert_non_null(strstr(err, "does not verify"));
    json_object_del(doc, "signature");
    assert_null(fb_signed_dir_open(doc, broker.sign_public, &checked, err, sizeof(err)));
    assert_non_null(strstr(err, "without a valid key_id"));
    json_decref(doc);
    doc = json_pack("{s:i}", "hello", 1);
    assert_null(fb_signed_dir_open(doc, NULL, &checked, err, sizeof(err)));
    assert_non_null(strstr(err, "neither a member directory"));
    json_decref(doc);
    fb_keys_t pub_only = broker;
    pub_only.has_secret = false;
    assert_null(fb_signed_dir_sign(dir, &pub_only, S_T0, err, sizeof(err)));
    assert_non_null(strstr(err, "a secret key file is needed"));
    json_decref(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_sealed_linked_history_verifies),
        cmocka_unit_test(test_a_seal_signed_outside_its_keys_window_fails),
        cmocka_unit_test(test_a_seal_by_a_key_not_in_the_directory_fails),
        cmocka_unit_test(test_a_seal_whose_root_is_not_its_entries_fails),
        cmocka_unit_test(test_unsealed_envelopes_are_reported_apart_and_do_not_fail),
        cmocka_unit_test(test_a_fork_a_broken_link_and_a_repeat_fail),
        cmocka_unit_test(test_a_missing_link_and_bad_envelopes_fail),
        cmocka_unit_test(test_a_kept_duplicate_of_a_stored_original_accounts_for_its_link),
        cmocka_unit_test(test_a_kept_stale_envelope_where_every_stored_one_is_linked_fails),
        cmocka_unit_test(test_a_kept_envelope_that_does_not_bear_out_its_reason_fails),
        cmocka_unit_test(test_a_directory_that_is_not_valid_is_refused),
        cmocka_unit_test(test_base64_round_trips_and_refuses_what_is_not),
        cmocka_unit_test(test_a_signed_directory_opens_with_the_signers_key_only),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
