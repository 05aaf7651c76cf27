/* test_memberdir.c — the registry's rows parsed the safe way, the directory searched, and what counts as cutting someone off. */
#include "fb_memberdir.h"

#include "fb_keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Two CURVE public keys in Z85 (any 40 characters of the alphabet are a key). */
#define S_KEY_A "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define S_KEY_B "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"

static fb_member_t s_row(const char *id, const char *status, const char *key, const char *publish, char *warn)
{
    fb_memberdir_row_t row = {id, "hub", key, status, publish, "{*}"};
    fb_member_t m;
    assert_int_equal(fb_memberdir_row_parse(&row, &m, warn, 512), 0);
    return m;
}

/* A sealed directory of the members given as (id, status, key) triples. */
static fb_memberdir_t *s_dir(int n, const char *const rows[][3])
{
    char warn[512];
    fb_memberdir_t *d = fb_memberdir_new();
    assert_non_null(d);
    for (int i = 0; i < n; i++) {
        fb_member_t m = s_row(rows[i][0], rows[i][1], rows[i][2], "{}", warn);
        assert_int_equal(fb_memberdir_add(d, &m), 0);
    }
    fb_memberdir_seal(d);
    return d;
}

static void test_array_literals_of_plain_and_quoted_elements_parse(void **state)
{
    (void)state;
    char **v;
    size_t n;
    assert_int_equal(fb_memberdir_array_parse("{}", &v, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(fb_memberdir_array_parse("{event.kr-seoul,\"cfp.*\",\"a\\\"b\\\\c\", d }", &v, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(v[0], "event.kr-seoul");
    assert_string_equal(v[1], "cfp.*");
    assert_string_equal(v[2], "a\"b\\c");
    assert_string_equal(v[3], "d");
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void test_malformed_array_literals_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"", "event", "{a", "{a,}", "{,a}", "{{a}}", "{\"a}", "{a}x", "{a\"b}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char **v = (char **)1;
        size_t n = 7;
        if (fb_memberdir_array_parse(bad[i], &v, &n) == 0) fail_msg("parsed '%s'", bad[i]);
        assert_null(v);
        assert_int_equal(n, 0);
    }
}

static void test_a_row_is_parsed_into_a_member(void **state)
{
    (void)state;
    char warn[512];
    fb_memberdir_row_t row = {"kr-seoul", "partner", S_KEY_A, "suspended", "{event.kr-seoul,cfp.kr-seoul}",
                              "{event,cfp}"};
    fb_member_t m;
    assert_int_equal(fb_memberdir_row_parse(&row, &m, warn, sizeof(warn)), 0);
    assert_string_equal(warn, "");
    assert_string_equal(m.id, "kr-seoul");
    assert_int_equal(m.kind, FB_MEMBER_PARTNER);
    assert_int_equal(m.status, FB_MEMBER_SUSPENDED);
    assert_true(m.has_curve);
    assert_string_equal(m.curve_z85, S_KEY_A);
    assert_int_equal(m.npublish, 2);
    assert_string_equal(m.publish[1], "cfp.kr-seoul");
    assert_int_equal(m.nread, 2);
    fb_member_clear(&m);
}

static void test_what_a_row_holds_that_cannot_be_used_is_read_the_safe_way(void **state)
{
    (void)state;
    char warn[512];
    /* An unknown status refuses, a bad key cannot connect, a bad pattern grants nothing. */
    fb_memberdir_row_t row = {"kr-seoul", "alien", "not-a-key", "on-holiday", "{event.kr-seoul,Event.X,\"a b\"}",
                              "not an array"};
    fb_member_t m;
    assert_int_equal(fb_memberdir_row_parse(&row, &m, warn, sizeof(warn)), 0);
    assert_int_equal(m.status, FB_MEMBER_REVOKED);
    assert_int_equal(m.kind, FB_MEMBER_OBSERVER);
    assert_false(m.has_curve);
    assert_int_equal(m.npublish, 1);
    assert_string_equal(m.publish[0], "event.kr-seoul");
    assert_int_equal(m.nread, 0);
    assert_non_null(strstr(warn, "taken as revoked"));
    assert_non_null(strstr(warn, "cannot connect"));
    assert_non_null(strstr(warn, "'Event.X' is not a topic pattern"));
    assert_non_null(strstr(warn, "read: not an array"));
    fb_member_clear(&m);
}

static void test_a_row_without_a_valid_member_id_is_left_out(void **state)
{
    (void)state;
    char warn[512];
    const char *ids[] = {NULL, "", "Kr-Seoul", "-x", "a-name-that-is-far-too-long-for-an-id"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        fb_memberdir_row_t row = {ids[i], "hub", S_KEY_A, "active", "{}", "{}"};
        fb_member_t m;
        assert_int_equal(fb_memberdir_row_parse(&row, &m, warn, sizeof(warn)), -1);
        assert_non_null(strstr(warn, "not a member id"));
    }
}

static void test_signing_key_rows_parse_and_bad_ones_are_refused(void **state)
{
    (void)state;
    char err[128];
    fb_member_key_t k;
    fb_memberdir_key_row_t ok = {"kr-seoul", "0011223344556677",
                                 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "1000", NULL};
    assert_int_equal(fb_memberdir_key_parse(&ok, &k, err, sizeof(err)), 0);
    assert_int_equal(k.key_id[7], 0x77);
    assert_int_equal(k.public_key[31], 0xff);
    assert_int_equal(k.valid_from_us, 1000);
    assert_int_equal(k.valid_until_us, 0);
    fb_memberdir_key_row_t bad[] = {
        {"m", "00112233", ok.public_key, "1", NULL},
        {"m", ok.key_id, "0011", "1", NULL},
        {"m", ok.key_id, ok.public_key, "yesterday", NULL},
        {"m", ok.key_id, ok.public_key, "100", "50"},
        {"m", "zz11223344556677", ok.public_key, "1", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fb_memberdir_key_parse(&bad[i], &k, err, sizeof(err)), -1);
}

static void test_members_are_found_by_id_and_by_curve_key(void **state)
{
    (void)state;
    const char *const rows[][3] = {{"kr-seoul", "active", S_KEY_A}, {"intl-wta", "active", S_KEY_B}, {"kr-busan", "active", NULL}};
    fb_memberdir_t *d = s_dir(3, rows);
    assert_int_equal(fb_memberdir_size(d), 3);
    assert_string_equal(fb_memberdir_at(d, 0)->id, "intl-wta"); /* id order */
    assert_string_equal(fb_memberdir_find(d, "kr-busan")->id, "kr-busan");
    assert_null(fb_memberdir_find(d, "kr-daejeon"));
    uint8_t key[FB_MEMBER_CURVE_LEN];
    assert_int_equal(fb_keys_z85_parse(S_KEY_B, key), 0);
    assert_string_equal(fb_memberdir_by_curve(d, key)->id, "intl-wta");
    key[0] ^= 1;
    assert_null(fb_memberdir_by_curve(d, key));
    fb_memberdir_release(&d);
    assert_null(d);
}

static void test_only_an_active_member_with_its_current_key_is_admitted(void **state)
{
    (void)state;
    const char *const rows[][3] = {{"kr-seoul", "active", S_KEY_A}, {"kr-busan", "suspended", S_KEY_B},
                                   {"intl-wta", "revoked", NULL}};
    fb_memberdir_t *d = s_dir(3, rows);
    const fb_member_t *m;
    assert_int_equal(fb_memberdir_admit(d, "kr-seoul", S_KEY_A, &m), FB_ADMIT_OK);
    assert_string_equal(m->id, "kr-seoul");
    assert_int_equal(fb_memberdir_admit(d, "kr-seoul", S_KEY_B, NULL), FB_ADMIT_KEY_CHANGED);
    assert_int_equal(fb_memberdir_admit(d, "kr-busan", S_KEY_B, NULL), FB_ADMIT_SUSPENDED);
    assert_int_equal(fb_memberdir_admit(d, "intl-wta", S_KEY_A, NULL), FB_ADMIT_REVOKED);
    assert_int_equal(fb_memberdir_admit(d, "kr-daejeon", S_KEY_A, &m), FB_ADMIT_UNKNOWN);
    assert_null(m);
    fb_memberdir_release(&d);
}

static void test_a_curve_key_held_by_two_members_admits_neither(void **state)
{
    (void)state;
    const char *const rows[][3] = {{"kr-seoul", "active", S_KEY_A}, {"kr-busan", "active", S_KEY_A}};
    fb_memberdir_t *d = s_dir(2, rows);
    uint8_t key[FB_MEMBER_CURVE_LEN];
    fb_keys_z85_parse(S_KEY_A, key);
    assert_null(fb_memberdir_by_curve(d, key));
    assert_int_equal(fb_memberdir_admit(d, "kr-seoul", S_KEY_A, NULL), FB_ADMIT_KEY_CHANGED);
    fb_memberdir_release(&d);
}

static void test_suspending_revoking_deleting_or_rekeying_an_active_member_cuts(void **state)
{
    (void)state;
    const char *const before[][3] = {{"kr-seoul", "active", S_KEY_A}, {"kr-busan", "suspended", S_KEY_B}};
    const char *const suspended[][3] = {{"kr-seoul", "suspended", S_KEY_A}, {"kr-busan", "suspended", S_KEY_B}};
    const char *const revoked[][3] = {{"kr-seoul", "revoked", S_KEY_A}, {"kr-busan", "suspended", S_KEY_B}};
    const char *const deleted[][3] = {{"kr-busan", "suspended", S_KEY_B}};
    const char *const rekeyed[][3] = {{"kr-seoul", "active", S_KEY_B}, {"kr-busan", "suspended", NULL}};
    const char *const reactivated[][3] = {{"kr-seoul", "active", S_KEY_A}, {"kr-busan", "active", S_KEY_B}};
    fb_memberdir_t *old = s_dir(2, before);
    fb_memberdir_t *dirs[] = {s_dir(2, suspended), s_dir(2, revoked), s_dir(1, deleted), s_dir(2, rekeyed)};
    for (size_t i = 0; i < 4; i++) {
        assert_true(fb_memberdir_cuts(old, dirs[i]));
        assert_false(fb_memberdir_equal(old, dirs[i]));
        fb_memberdir_release(&dirs[i]);
    }
    /* Admitting more cuts nobody, but it is a change. */
    fb_memberdir_t *more = s_dir(2, reactivated), *same = s_dir(2, before);
    assert_false(fb_memberdir_cuts(old, more));
    assert_false(fb_memberdir_equal(old, more));
    assert_false(fb_memberdir_cuts(old, same));
    assert_true(fb_memberdir_equal(old, same));
    fb_memberdir_release(&more);
    fb_memberdir_release(&same);
    fb_memberdir_release(&old);
}

static void test_a_changed_publish_pattern_is_a_change_but_cuts_nobody(void **state)
{
    (void)state;
    char warn[512];
    fb_memberdir_t *a = fb_memberdir_new(), *b = fb_memberdir_new();
    fb_member_t m = s_row("kr-seoul", "active", S_KEY_A, "{event.kr-seoul}", warn);
    fb_memberdir_add(a, &m);
    m = s_row("kr-seoul", "active", S_KEY_A, "{cfp.kr-seoul}", warn);
    fb_memberdir_add(b, &m);
    fb_memberdir_seal(a);
    fb_memberdir_seal(b);
    assert_false(fb_memberdir_equal(a, b));
    assert_false(fb_memberdir_cuts(a, b));
    fb_memberdir_release(&a);
    fb_memberdir_release(&b);
}

static void test_publish_patterns_limit_topics_and_none_publish_nothing(void **state)
{
    (void)state;
    char warn[512];
    fb_member_t m = s_row("kr-seoul", "active", S_KEY_A, "{event.kr-seoul,cfp.kr-seoul.bio}", warn);
    const char *yes[] = {"event.kr-seoul.forum", "cfp.kr-seoul.bio", "cfp.kr-seoul.bio.health"};
    const char *no[] = {"cfp.kr-seoul.ai", "researcher.kr-seoul.award", "event.kr-busan.forum"};
    for (size_t i = 0; i < 3; i++) {
        assert_true(fb_member_may_publish(&m, yes[i], strlen(yes[i])));
        assert_false(fb_member_may_publish(&m, no[i], strlen(no[i])));
    }
    fb_member_clear(&m);
    m = s_row("kr-seoul", "active", S_KEY_A, "{*.kr-seoul}", warn); /* what fedbus member add gives a hub */
    assert_true(fb_member_may_publish(&m, "researcher.kr-seoul.award", 25));
    fb_member_clear(&m);
    m = s_row("kr-seoul", "active", S_KEY_A, "{}", warn); /* an observer's */
    assert_false(fb_member_may_publish(&m, "event.kr-seoul.forum", 20));
    fb_member_clear(&m);
}

static void test_signing_keys_are_kept_with_their_member(void **state)
{
    (void)state;
    const char *const rows[][3] = {{"kr-seoul", "active", S_KEY_A}};
    fb_memberdir_t *d = s_dir(1, rows);
    fb_member_key_t k = {.valid_from_us = 5, .valid_until_us = 9};
    assert_int_equal(fb_memberdir_add_key(d, "kr-seoul", &k), 0);
    assert_int_equal(fb_memberdir_add_key(d, "kr-busan", &k), -1);
    const fb_member_t *m = fb_memberdir_find(d, "kr-seoul");
    assert_int_equal(m->nkeys, 1);
    assert_int_equal(m->keys[0].valid_until_us, 9);
    fb_memberdir_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_array_literals_of_plain_and_quoted_elements_parse),
        cmocka_unit_test(test_malformed_array_literals_are_refused),
        cmocka_unit_test(test_a_row_is_parsed_into_a_member),
        cmocka_unit_test(test_what_a_row_holds_that_cannot_be_used_is_read_the_safe_way),
        cmocka_unit_test(test_a_row_without_a_valid_member_id_is_left_out),
        cmocka_unit_test(test_signing_key_rows_parse_and_bad_ones_are_refused),
        cmocka_unit_test(test_members_are_found_by_id_and_by_curve_key),
        cmocka_unit_test(test_only_an_active_member_with_its_current_key_is_admitted),
        cmocka_unit_test(test_a_curve_key_held_by_two_members_admits_neither),
        cmocka_unit_test(test_suspending_revoking_deleting_or_rekeying_an_active_member_cuts),
        cmocka_unit_test(test_a_changed_publish_pattern_is_a_change_but_cuts_nobody),
        cmocka_unit_test(test_publish_patterns_limit_topics_and_none_publish_nothing),
        cmocka_unit_test(test_signing_keys_are_kept_with_their_member),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
