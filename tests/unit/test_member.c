/* test_member.c — member records: defaults by kind, pattern lists, field rules, members-file records, durations. */
#include "fb_member.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static fb_member_t s_member(const char *id, const char *kind)
{
    fb_member_t m;
    memset(&m, 0, sizeof(m));
    snprintf(m.id, sizeof(m.id), "%s", id);
    snprintf(m.kind, sizeof(m.kind), "%s", kind);
    return m;
}

static void s_assert_patterns(const fb_member_patterns_t *list, const char *joined)
{
    char buf[1024];
    assert_int_equal(fb_member_patterns_join(list, buf, sizeof(buf)), 0);
    assert_string_equal(buf, joined);
}

static void test_defaults_by_kind(void **state)
{
    (void)state;
    fb_member_t hub = s_member("kr-seoul", "hub"), partner = s_member("intl-wta", "partner"),
                observer = s_member("obs-1", "observer"), bad = s_member("x", "admin");
    assert_int_equal(fb_member_defaults(&hub), 0);
    s_assert_patterns(&hub.publish, "*.kr-seoul");
    s_assert_patterns(&hub.read, "*");
    assert_int_equal(fb_member_defaults(&partner), 0);
    s_assert_patterns(&partner.publish, "*.intl-wta");
    s_assert_patterns(&partner.read, "event,cfp");
    assert_int_equal(fb_member_defaults(&observer), 0);
    s_assert_patterns(&observer.publish, "");
    s_assert_patterns(&observer.read, "event,cfp");
    assert_int_equal(fb_member_defaults(&bad), -1);
    assert_true(fb_member_kind_valid("hub") && fb_member_kind_valid("partner") && fb_member_kind_valid("observer"));
    assert_false(fb_member_kind_valid("Hub") || fb_member_kind_valid("") || fb_member_kind_valid(NULL));
}

static void test_given_patterns_are_kept_even_when_empty(void **state)
{
    (void)state;
    char err[256];
    fb_member_t m = s_member("intl-wta", "partner");
    m.read_set = true;
    assert_int_equal(fb_member_patterns_add(&m.read, "read", "event,researcher.kr-daejeon", err, sizeof(err)), 0);
    m.publish_set = true; /* --publish= : publishes nothing */
    assert_int_equal(fb_member_patterns_add(&m.publish, "publish", "", err, sizeof(err)), 0);
    assert_int_equal(fb_member_defaults(&m), 0);
    s_assert_patterns(&m.read, "event,researcher.kr-daejeon");
    s_assert_patterns(&m.publish, "");
}

static void test_patterns_are_validated_and_added_once(void **state)
{
    (void)state;
    char err[256];
    fb_member_patterns_t list = {0};
    assert_int_equal(fb_member_patterns_add(&list, "read", "cfp,event.kr-busan,cfp", err, sizeof(err)), 0);
    assert_int_equal(fb_member_patterns_add(&list, "read", "*.*.bio", err, sizeof(err)), 0);
    s_assert_patterns(&list, "cfp,event.kr-busan,*.*.bio");
    const char *bad[] = {"CFP", "cfp,,event", "news.kr-busan", "cfp.kr_busan", "cfp.a.b.c.d.e.f", ",cfp"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fb_member_patterns_t l = {0};
        assert_int_equal(fb_member_patterns_add(&l, "read", bad[i], err, sizeof(err)), -1);
        assert_non_null(strstr(err, "read: '"));
        assert_non_null(strstr(err, "is not a topic pattern"));
    }
    fb_member_patterns_t full = {0};
    for (int i = 0; i < FB_MEMBER_PATTERNS_MAX; i++) {
        char p[32];
        snprintf(p, sizeof(p), "cfp.m%d", i);
        assert_int_equal(fb_member_patterns_add(&full, "publish", p, err, sizeof(err)), 0);
    }
    assert_int_equal(fb_member_patterns_add(&full, "publish", "event", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "more than 32 patterns"));
    fb_member_patterns_t a = {0}, b = {0};
    fb_member_patterns_add(&a, "x", "cfp,event", err, sizeof(err));
    fb_member_patterns_add(&b, "x", "event,cfp", err, sizeof(err));
    assert_false(fb_member_patterns_equal(&a, &b));
    assert_true(fb_member_patterns_equal(&a, &a));
}

static void test_member_fields_are_checked(void **state)
{
    (void)state;
    char err[256];
    fb_member_t ok = s_member("kr-ulsan", "hub");
    snprintf(ok.country, sizeof(ok.country), "KR");
    snprintf(ok.name_ko, sizeof(ok.name_ko), "울산 허브");
    fb_member_defaults(&ok);
    assert_int_equal(fb_member_check(&ok, err, sizeof(err)), 0);
    struct {
        const char *id, *kind, *country, *name_en, *why;
    } bad[] = {
        {"KR-Ulsan", "hub", "KR", "", "is not 1-32 of [a-z0-9-]"},
        {"-ulsan", "hub", "KR", "", "is not 1-32 of [a-z0-9-]"},
        {"", "hub", "KR", "", "is not 1-32 of [a-z0-9-]"},
        {"broker", "hub", "KR", "", "the broker's own key id"},
        {"kr-ulsan", "admin", "KR", "", "is not hub, partner or observer"},
        {"kr-ulsan", "hub", "kr", "", "is not two capital letters"},
        {"kr-ulsan", "hub", "K", "", "is not two capital letters"},
        {"kr-ulsan", "hub", "KR", "Ulsan\nhub", "name-en is not UTF-8 text without control characters"},
        {"kr-ulsan", "hub", "KR", "Ulsan \xff", "name-en is not UTF-8 text without control characters"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fb_member_t m = s_member(bad[i].id, bad[i].kind);
        snprintf(m.country, sizeof(m.country), "%s", bad[i].country);
        snprintf(m.name_en, sizeof(m.name_en), "%s", bad[i].name_en);
        assert_int_equal(fb_member_check(&m, err, sizeof(err)), -1);
        if (!strstr(err, bad[i].why)) fail_msg("case %zu: '%s' does not say '%s'", i, err, bad[i].why);
    }
    fb_member_t empty_country = ok;
    empty_country.country[0] = '\0';
    assert_int_equal(fb_member_check(&empty_country, err, sizeof(err)), 0);
}

static json_t *s_json(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) fail_msg("%s", je.text);
    return j;
}

static void test_members_file_record_takes_defaults_and_region_from_city(void **state)
{
    (void)state;
    char err[256];
    fb_member_t m;
    json_t *j = s_json("{\"id\": \"kr-busan\", \"name\": {\"ko\": \"부산\", \"en\": \"Busan hub\"},"
                       " \"kind\": \"hub\", \"country\": \"KR\", \"city\": \"Busan\", \"organisations\": []}");
    assert_int_equal(fb_member_from_json(j, &m, err, sizeof(err)), 0);
    assert_string_equal(m.id, "kr-busan");
    assert_string_equal(m.name_ko, "부산");
    assert_string_equal(m.name_en, "Busan hub");
    assert_string_equal(m.region, "Busan");
    s_assert_patterns(&m.publish, "*.kr-busan");
    s_assert_patterns(&m.read, "*");
    json_decref(j);
    j = s_json("{\"id\": \"intl-wta\", \"kind\": \"partner\", \"city\": \"Daejeon\", \"region\": \"Chungcheong\","
               " \"read\": [\"event\", \"cfp\", \"researcher.kr-daejeon\"]}");
    assert_int_equal(fb_member_from_json(j, &m, err, sizeof(err)), 0);
    assert_string_equal(m.region, "Chungcheong");
    s_assert_patterns(&m.publish, "*.intl-wta");
    s_assert_patterns(&m.read, "event,cfp,researcher.kr-daejeon");
    json_decref(j);
    j = s_json("{\"id\": \"obs\", \"kind\": \"observer\", \"publish\": []}");
    assert_int_equal(fb_member_from_json(j, &m, err, sizeof(err)), 0);
    s_assert_patterns(&m.publish, "");
    json_decref(j);
}

static void test_members_file_record_errors_name_the_member(void **state)
{
    (void)state;
    char err[256];
    fb_member_t m;
    struct {
        const char *json, *why;
    } bad[] = {
        {"[]", "a member is not a JSON object"},
        {"{\"kind\": \"hub\"}", "a member has no \"id\""},
        {"{\"id\": 7, \"kind\": \"hub\"}", "a member has no \"id\""},
        {"{\"id\": \"kr-x\"}", "kr-x: \"kind\" '' is not hub, partner or observer"},
        {"{\"id\": \"kr-x\", \"kind\": \"hub\", \"name\": \"X\"}", "kr-x: \"name\" is not an object"},
        {"{\"id\": \"kr-x\", \"kind\": \"hub\", \"country\": 82}", "kr-x: \"country\" is not a string"},
        {"{\"id\": \"kr-x\", \"kind\": \"hub\", \"country\": \"KOR\"}", "kr-x: \"country\" is not a string of at most 2"},
        {"{\"id\": \"kr-x\", \"kind\": \"hub\", \"read\": \"cfp\"}", "kr-x: \"read\" is not an array"},
        {"{\"id\": \"kr-x\", \"kind\": \"hub\", \"read\": [\"cfp,event\"]}", "kr-x: read: item 1 is not a topic pattern"},
        {"{\"id\": \"kr-x\", \"kind\": \"hub\", \"publish\": [\"news\"]}", "kr-x: publish: 'news' is not a topic pattern"},
        {"{\"id\": \"Kr-X\", \"kind\": \"hub\"}", "member id 'Kr-X' is not 1-32"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = s_json(bad[i].json);
        assert_int_equal(fb_member_from_json(j, &m, err, sizeof(err)), -1);
        if (!strstr(err, bad[i].why)) fail_msg("case %zu: '%s' does not say '%s'", i, err, bad[i].why);
        json_decref(j);
    }
}

static void test_read_patterns_the_feed_cannot_apply_exactly_are_refused(void **state)
{
    (void)state;
    char err[512];
    fb_member_patterns_t ok = {0}, bad = {0};
    assert_int_equal(fb_member_patterns_add(&ok, "read", "event,*.kr-daejeon,cfp.kr-seoul.*", err, sizeof(err)), 0);
    assert_int_equal(fb_member_check_read(&ok, err, sizeof(err)), 0);
    assert_int_equal(fb_member_patterns_add(&bad, "read", "event,cfp.*.bio", err, sizeof(err)), 0);
    assert_int_equal(fb_member_check_read(&bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "read: 'cfp.*.bio' cannot be a read permission"));
    fb_member_t m = {.id = "intl-x", .kind = "partner", .read_set = true};
    m.read = bad;
    assert_int_equal(fb_member_defaults(&m), 0);
    assert_int_equal(fb_member_check(&m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "intl-x: read: 'cfp.*.bio'"));
}

static void test_durations(void **state)
{
    (void)state;
    struct {
        const char *text;
        int64_t s;
    } ok[] = {{"0", 0}, {"45s", 45}, {"90m", 5400}, {"1h", 3600}, {"1h30m", 5400}, {"2d", 172800}, {"366d", 31622400}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t s = -1;
        assert_int_equal(fb_member_duration(ok[i].text, &s), 0);
        assert_int_equal(s, ok[i].s);
    }
    const char *bad[] = {"", "h", "1", "1x", "-1h", "1.5h", "367d", "1h ", "99999999999999999999s", "1hh"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t s;
        if (fb_member_duration(bad[i], &s) != -1) fail_msg("'%s' was taken as a duration", bad[i]);
    }
    int64_t s;
    assert_int_equal(fb_member_duration(NULL, &s), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_by_kind),
        cmocka_unit_test(test_given_patterns_are_kept_even_when_empty),
        cmocka_unit_test(test_patterns_are_validated_and_added_once),
        cmocka_unit_test(test_member_fields_are_checked),
        cmocka_unit_test(test_members_file_record_takes_defaults_and_region_from_city),
        cmocka_unit_test(test_members_file_record_errors_name_the_member),
        cmocka_unit_test(test_read_patterns_the_feed_cannot_apply_exactly_are_refused),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
