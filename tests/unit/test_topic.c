/* test_topic.c — topic grammar, segments, subscription patterns and their ZeroMQ prefixes. */
#include "fedbus/fb_topic.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static int s_valid(const char *topic)
{
    return fb_topic_valid(topic, strlen(topic), NULL);
}

/* Asserts that topic is refused and that a reason is given. */
static void s_assert_refused(const char *topic)
{
    const char *why = NULL;
    if (fb_topic_valid(topic, strlen(topic), &why) != 0) fail_msg("topic '%s' was accepted", topic);
    assert_non_null(why);
    assert_true(strlen(why) > 0);
}

/* Fills buf with n segments of seglen 'a's (the first is "cfp"). */
static void s_make_topic(char *buf, size_t size, int n, size_t seglen)
{
    size_t o = (size_t)snprintf(buf, size, "cfp");
    for (int i = 1; i < n; i++) {
        buf[o++] = '.';
        for (size_t k = 0; k < seglen; k++) buf[o++] = 'a';
    }
    buf[o] = '\0';
}

/* ------------------------------------------------------------ topic grammar --- */

static void test_topics_of_three_to_six_lowercase_segments_are_valid(void **state)
{
    (void)state;
    const char *why = "untouched";
    assert_int_equal(fb_topic_valid("cfp.kr-daejeon.bio", 18, &why), 1);
    assert_string_equal(why, "untouched"); /* why is left alone on success */
    assert_int_equal(s_valid("event.kr-incheon.forum"), 1);
    assert_int_equal(s_valid("researcher.kr-busan.award"), 1);
    assert_int_equal(s_valid("cfp.kr-daejeon.bio.health"), 1);
    assert_int_equal(s_valid("event.kr-incheon.a.b.c"), 1);      /* 6 segments */
    assert_int_equal(s_valid("cfp.intl-wta.2026"), 1);           /* digits */
    assert_int_equal(s_valid("cfp.a-.b"), 1);                    /* '-' allowed past the start */
}

static void test_topic_validity_uses_len_not_the_terminator(void **state)
{
    (void)state;
    /* Only the first 18 bytes count: the rest would be a 4th, invalid segment. */
    assert_int_equal(fb_topic_valid("cfp.kr-daejeon.bio.BAD", 18, NULL), 1);
    /* And a length that cuts a segment short is judged as written. */
    assert_int_equal(fb_topic_valid("cfp.kr-daejeon.bio", 15, NULL), 0);
}

static void test_empty_topic_is_refused(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(fb_topic_valid("", 0, &why), 0);
    assert_non_null(why);
    assert_non_null(strstr(why, "empty"));
    assert_int_equal(fb_topic_valid("", 0, NULL), 0); /* NULL why is allowed */
}

static void test_topic_longer_than_255_bytes_is_refused(void **state)
{
    (void)state;
    /* 256 bytes; the reason names the length, not the (also too long) last segment. */
    char t[300];
    strcpy(t, "cfp.kr-incheon.");
    size_t o = strlen(t);
    while (o < 256) t[o++] = 'a';
    t[o] = '\0';
    const char *why = NULL;
    assert_int_equal(fb_topic_valid(t, 256, &why), 0);
    assert_non_null(why);
    assert_non_null(strstr(why, "255"));
}

static void test_topic_of_255_bytes_passes_the_length_check(void **state)
{
    (void)state;
    /* 255 bytes but segments > 32: refused for the segment, not the length. */
    char t[256];
    strcpy(t, "cfp.kr-incheon.");
    size_t o = strlen(t);
    while (o < 255) t[o++] = 'a';
    t[o] = '\0';
    const char *why = NULL;
    assert_int_equal(fb_topic_valid(t, 255, &why), 0);
    assert_non_null(why);
    assert_null(strstr(why, "255"));
}

static void test_two_segments_are_too_few(void **state)
{
    (void)state;
    s_assert_refused("cfp.kr-daejeon");
    s_assert_refused("cfp");
}

static void test_seven_segments_are_too_many(void **state)
{
    (void)state;
    char t[128];
    s_make_topic(t, sizeof(t), 7, 2);
    assert_string_equal(t, "cfp.aa.aa.aa.aa.aa.aa");
    s_assert_refused(t);
    s_make_topic(t, sizeof(t), 6, 2);
    assert_int_equal(s_valid(t), 1);
}

static void test_uppercase_is_refused(void **state)
{
    (void)state;
    s_assert_refused("cfp.KR-daejeon.bio");
    s_assert_refused("CFP.kr-daejeon.bio");
    s_assert_refused("cfp.kr-daejeon.Bio");
}

static void test_underscore_and_other_punctuation_are_refused(void **state)
{
    (void)state;
    s_assert_refused("cfp.kr_daejeon.bio");
    s_assert_refused("cfp.kr-daejeon.bio/x");
    s_assert_refused("cfp.kr daejeon.bio");
    s_assert_refused("cfp.kr-daejeon.*");
    s_assert_refused("cfp.kr-daejeon.\xEC\x9D\xB8");
}

static void test_segment_starting_with_dash_is_refused(void **state)
{
    (void)state;
    s_assert_refused("cfp.-kr-daejeon.bio");
    s_assert_refused("cfp.kr-daejeon.-bio");
}

static void test_empty_segment_is_refused(void **state)
{
    (void)state;
    s_assert_refused("cfp.kr-daejeon..bio");
    s_assert_refused("cfp..bio");
    s_assert_refused(".cfp.kr-daejeon.bio");
    s_assert_refused("cfp.kr-daejeon.bio.");
}

static void test_unknown_kind_is_refused(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(fb_topic_valid("news.kr-daejeon.bio", 19, &why), 0);
    assert_non_null(why);
    assert_non_null(strstr(why, "kind"));
    s_assert_refused("cfps.kr-daejeon.bio");
    s_assert_refused("cf.kr-daejeon.bio");
    s_assert_refused("events.kr-incheon.forum");
}

static void test_segment_of_33_bytes_is_refused_and_32_accepted(void **state)
{
    (void)state;
    char t[128];
    s_make_topic(t, sizeof(t), 3, 33);
    s_assert_refused(t);
    s_make_topic(t, sizeof(t), 3, 32);
    assert_int_equal(s_valid(t), 1);
}

static void test_segment_and_kind_checks_follow_the_grammar(void **state)
{
    (void)state;
    assert_int_equal(fb_segment_valid("kr-incheon", 10), 1);
    assert_int_equal(fb_segment_valid("", 0), 0);
    assert_int_equal(fb_segment_valid("-x", 2), 0);
    assert_int_equal(fb_segment_valid("a_b", 3), 0);
    assert_int_equal(fb_segment_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 33), 0);
    assert_int_equal(fb_segment_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 32), 1);
    assert_int_equal(fb_topic_kind_known("event", 5), 1);
    assert_int_equal(fb_topic_kind_known("cfp", 3), 1);
    assert_int_equal(fb_topic_kind_known("researcher", 10), 1);
    assert_int_equal(fb_topic_kind_known("cfpx", 3), 1); /* only len bytes count */
    assert_int_equal(fb_topic_kind_known("cfpx", 4), 0);
    assert_int_equal(fb_topic_kind_known("ev", 2), 0);
    assert_int_equal(fb_topic_kind_known("", 0), 0);
}

/* ----------------------------------------------------------------- segments --- */

static void test_topic_segment_copies_the_nth_segment(void **state)
{
    (void)state;
    const char *t = "cfp.kr-daejeon.bio.health";
    char out[64];
    assert_int_equal(fb_topic_segment(t, strlen(t), 0, out, sizeof(out)), 3);
    assert_string_equal(out, "cfp");
    assert_int_equal(fb_topic_segment(t, strlen(t), 1, out, sizeof(out)), 10);
    assert_string_equal(out, "kr-daejeon");
    assert_int_equal(fb_topic_segment(t, strlen(t), 2, out, sizeof(out)), 3);
    assert_string_equal(out, "bio");
    assert_int_equal(fb_topic_segment(t, strlen(t), 3, out, sizeof(out)), 6);
    assert_string_equal(out, "health");
}

static void test_topic_segment_fails_past_the_last_segment(void **state)
{
    (void)state;
    const char *t = "cfp.kr-daejeon.bio";
    char out[64] = "unchanged";
    assert_int_equal(fb_topic_segment(t, strlen(t), 3, out, sizeof(out)), -1);
    assert_int_equal(fb_topic_segment(t, strlen(t), 99, out, sizeof(out)), -1);
    assert_int_equal(fb_topic_segment(t, strlen(t), -1, out, sizeof(out)), -1);
    assert_string_equal(out, "unchanged");
}

static void test_topic_segment_fails_when_out_is_too_small(void **state)
{
    (void)state;
    const char *t = "cfp.kr-daejeon.bio";
    char out[16] = "unchanged";
    /* "kr-daejeon" needs 11 bytes with its terminator. */
    assert_int_equal(fb_topic_segment(t, strlen(t), 1, out, 10), -1);
    assert_string_equal(out, "unchanged");
    assert_int_equal(fb_topic_segment(t, strlen(t), 1, out, 11), 10);
    assert_string_equal(out, "kr-daejeon");
}

static void test_topic_segment_respects_len(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(fb_topic_segment("cfp.kr-daejeon.bio", 7, 1, out, sizeof(out)), 3);
    assert_string_equal(out, "kr-");
    assert_int_equal(fb_topic_segment("cfp.kr-daejeon.bio", 7, 2, out, sizeof(out)), -1);
}

/* ----------------------------------------------------------------- patterns --- */

static void test_well_formed_patterns_are_valid(void **state)
{
    (void)state;
    const char *good[] = {"cfp", "event", "researcher", "*", "*.kr-incheon", "cfp.kr-daejeon.bio",
                          "cfp.*.bio", "*.*.forum", "cfp.kr-daejeon", "event.a.b.c.d.e",
                          "*.*.*.*.*.*", "cfp.kr-daejeon.bio.*"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *why = NULL;
        if (fb_pattern_valid(good[i], &why) != 1) fail_msg("'%s' refused: %s", good[i], why);
    }
}

static void test_malformed_patterns_are_refused_with_a_reason(void **state)
{
    (void)state;
    char seg33[64], seven[64];
    s_make_topic(seg33, sizeof(seg33), 2, 33);
    s_make_topic(seven, sizeof(seven), 7, 1);
    const char *bad[] = {"",      "news",      "CFP",      "cfp..bio", "cfp.",     ".cfp",
                         "cfp.**", "cfp.k*",   "**",       "cfp.-x",   "cfp.a_b",  "cfp.Bio",
                         seg33,   seven,       "*x.kr-incheon"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        if (fb_pattern_valid(bad[i], &why) != 0) fail_msg("'%s' accepted", bad[i]);
        assert_non_null(why);
        assert_int_equal(fb_pattern_valid(bad[i], NULL), 0);
    }
}

static void test_pattern_longer_than_255_bytes_is_refused(void **state)
{
    (void)state;
    char p[300];
    memset(p, 'a', sizeof(p));
    memcpy(p, "cfp.", 4);
    p[256] = '\0';
    const char *why = NULL;
    assert_int_equal(fb_pattern_valid(p, &why), 0);
    assert_non_null(strstr(why, "255"));
}

static int s_match(const char *pattern, const char *topic)
{
    return fb_pattern_match(pattern, topic, strlen(topic));
}

static void test_pattern_cfp_matches_every_cfp_and_nothing_else(void **state)
{
    (void)state;
    assert_int_equal(s_match("cfp", "cfp.kr-daejeon.bio"), 1);
    assert_int_equal(s_match("cfp", "cfp.kr-incheon.ai"), 1);
    assert_int_equal(s_match("cfp", "cfp.kr-daejeon.biotech.x.y.z"), 1);
    assert_int_equal(s_match("cfp", "event.kr-daejeon.bio"), 0);
    assert_int_equal(s_match("cfp", "researcher.kr-daejeon.cfp"), 0);
}

static void test_pattern_star_origin_matches_every_kind_from_that_origin(void **state)
{
    (void)state;
    assert_int_equal(s_match("*.kr-incheon", "event.kr-incheon.forum"), 1);
    assert_int_equal(s_match("*.kr-incheon", "cfp.kr-incheon.ai"), 1);
    assert_int_equal(s_match("*.kr-incheon", "researcher.kr-incheon.award.2026"), 1);
    assert_int_equal(s_match("*.kr-incheon", "event.kr-busan.forum"), 0);
    assert_int_equal(s_match("*.kr-incheon", "event.kr-incheon-south.forum"), 0);
    assert_int_equal(s_match("*.kr-incheon", "event.kr-inch.forum"), 0);
    assert_int_equal(s_match("*.kr-incheon", "event.forum.kr-incheon"), 0);
}

static void test_full_pattern_matches_its_topic_and_subtopics_only(void **state)
{
    (void)state;
    const char *p = "cfp.kr-daejeon.bio";
    assert_int_equal(s_match(p, "cfp.kr-daejeon.bio"), 1);
    assert_int_equal(s_match(p, "cfp.kr-daejeon.bio.health"), 1);
    assert_int_equal(s_match(p, "cfp.kr-daejeon.biotech"), 0);
    assert_int_equal(s_match(p, "cfp.kr-daejeon.bi"), 0);
    assert_int_equal(s_match(p, "cfp.kr-daejeon"), 0);
    assert_int_equal(s_match(p, "cfp.kr-incheon.bio"), 0);
    assert_int_equal(s_match(p, "event.kr-daejeon.bio"), 0);
    assert_int_equal(s_match(p, "researcher.kr-daejeon.bio"), 0);
}

static void test_inner_star_matches_one_whole_segment(void **state)
{
    (void)state;
    assert_int_equal(s_match("cfp.*.bio", "cfp.kr-daejeon.bio"), 1);
    assert_int_equal(s_match("cfp.*.bio", "cfp.kr-busan.bio.health"), 1);
    assert_int_equal(s_match("cfp.*.bio", "cfp.kr-busan.biotech"), 0);
    assert_int_equal(s_match("*", "event.kr-busan.forum"), 1);
    assert_int_equal(s_match("*.*.forum", "event.kr-busan.forum"), 1);
    assert_int_equal(s_match("*.*.forum", "event.kr-busan.forums"), 0);
}

static void test_pattern_match_respects_len(void **state)
{
    (void)state;
    /* The topic is the first 18 bytes: "cfp.kr-daejeon.bio". */
    assert_int_equal(fb_pattern_match("cfp.kr-daejeon.bio", "cfp.kr-daejeon.biotech", 18), 1);
    assert_int_equal(fb_pattern_match("cfp.kr-daejeon.biotech", "cfp.kr-daejeon.biotech", 18), 0);
}

/* Asserts that pattern expands to exactly the n prefixes in want, in order. */
static void s_assert_prefixes(const char *pattern, const char *const *want, int n)
{
    char got[FB_PATTERN_MAX_PREFIXES][FB_TOPIC_MAX + 1];
    int k = fb_pattern_prefixes(pattern, got, FB_PATTERN_MAX_PREFIXES);
    if (k != n) fail_msg("'%s' gave %d prefixes, want %d", pattern, k, n);
    for (int i = 0; i < n; i++) assert_string_equal(got[i], want[i]);
}

static void test_leading_star_expands_to_one_prefix_per_kind(void **state)
{
    (void)state;
    const char *star[] = {"event.", "cfp.", "researcher."};
    s_assert_prefixes("*", star, 3);
    const char *inch[] = {"event.kr-incheon", "cfp.kr-incheon", "researcher.kr-incheon"};
    s_assert_prefixes("*.kr-incheon", inch, 3);
    const char *forum[] = {"event.", "cfp.", "researcher."};
    s_assert_prefixes("*.*.forum", forum, 3);
    const char *inner[] = {"event.kr-incheon.", "cfp.kr-incheon.", "researcher.kr-incheon."};
    s_assert_prefixes("*.kr-incheon.*.x", inner, 3);
}

static void test_literal_pattern_is_its_own_prefix_up_to_the_first_star(void **state)
{
    (void)state;
    const char *cfp[] = {"cfp"};
    s_assert_prefixes("cfp", cfp, 1);
    const char *full[] = {"cfp.kr-daejeon.bio"};
    s_assert_prefixes("cfp.kr-daejeon.bio", full, 1);
    const char *inner[] = {"cfp."};
    s_assert_prefixes("cfp.*.bio", inner, 1);
    const char *two[] = {"cfp.kr-daejeon."};
    s_assert_prefixes("cfp.kr-daejeon.*", two, 1);
}

static void test_prefixes_of_invalid_pattern_is_an_error(void **state)
{
    (void)state;
    char got[FB_PATTERN_MAX_PREFIXES][FB_TOPIC_MAX + 1];
    assert_int_equal(fb_pattern_prefixes("news", got, FB_PATTERN_MAX_PREFIXES), -1);
    assert_int_equal(fb_pattern_prefixes("", got, FB_PATTERN_MAX_PREFIXES), -1);
    assert_int_equal(fb_pattern_prefixes("cfp..bio", got, FB_PATTERN_MAX_PREFIXES), -1);
    assert_int_equal(fb_pattern_prefixes("*.KR", got, FB_PATTERN_MAX_PREFIXES), -1);
}

static void test_prefixes_fail_when_max_is_too_small(void **state)
{
    (void)state;
    char got[FB_PATTERN_MAX_PREFIXES][FB_TOPIC_MAX + 1];
    assert_int_equal(fb_pattern_prefixes("*", got, 2), -1);
    assert_int_equal(fb_pattern_prefixes("*.kr-incheon", got, 0), -1);
    assert_int_equal(fb_pattern_prefixes("*", got, 3), 3);
    assert_int_equal(fb_pattern_prefixes("cfp", got, 0), -1);
    assert_int_equal(fb_pattern_prefixes("cfp", got, 1), 1);
}

/* ------------------------------------------------------------ property check --- */

static const char *const s_patterns[] = {
    "cfp", "*.kr-incheon", "cfp.kr-daejeon.bio", "*", "event", "researcher", "cfp.*.bio",
    "*.*.forum", "*.kr-daejeon.bio.health", "event.kr-busan", "*.kr-incheon.*.x", "cfp.kr-daejeon.*",
};
#define S_NPATTERNS (sizeof(s_patterns) / sizeof(s_patterns[0]))

static void test_every_matched_topic_starts_with_a_prefix_of_its_pattern(void **state)
{
    (void)state;
    static const char *const kinds[] = {"event", "cfp", "researcher"};
    static const char *const origins[] = {"kr-incheon", "kr-daejeon", "kr-busan", "kr-incheon-south"};
    static const char *const cats[] = {"bio", "biotech", "ai", "forum"};
    static const char *const subs[] = {"", ".health", ".x", ".health.x", ".x.x.x"};
    int matched_per_pattern[S_NPATTERNS] = {0};
    int topics = 0;
    for (size_t k = 0; k < 3; k++)
        for (size_t o = 0; o < 4; o++)
            for (size_t c = 0; c < 4; c++)
                for (size_t s = 0; s < 5; s++) {
                    char topic[FB_TOPIC_MAX + 1];
                    snprintf(topic, sizeof(topic), "%s.%s.%s%s", kinds[k], origins[o], cats[c], subs[s]);
                    assert_int_equal(s_valid(topic), 1);
                    topics++;
                    for (size_t p = 0; p < S_NPATTERNS; p++) {
                        if (!s_match(s_patterns[p], topic)) continue;
                        matched_per_pattern[p]++;
                        char pre[FB_PATTERN_MAX_PREFIXES][FB_TOPIC_MAX + 1];
                        int n = fb_pattern_prefixes(s_patterns[p], pre, FB_PATTERN_MAX_PREFIXES);
                        assert_true(n >= 1);
                        int covered = 0;
                        for (int i = 0; i < n; i++)
                            if (strncmp(topic, pre[i], strlen(pre[i])) == 0) covered = 1;
                        if (!covered)
                            fail_msg("'%s' matches '%s' but no prefix selects it", s_patterns[p], topic);
                    }
                }
    assert_int_equal(topics, 240);
    /* The property is not vacuous: every pattern matched something. */
    for (size_t p = 0; p < S_NPATTERNS; p++)
        if (matched_per_pattern[p] == 0) fail_msg("pattern '%s' matched nothing", s_patterns[p]);
    /* And the counts are what the grammar says (3 kinds x 4 origins x 4 cats x 5 subs). */
    assert_int_equal(matched_per_pattern[0], 80); /* cfp */
    assert_int_equal(matched_per_pattern[1], 60); /* *.kr-incheon */
    assert_int_equal(matched_per_pattern[2], 5);  /* cfp.kr-daejeon.bio + 4 subtopics */
    assert_int_equal(matched_per_pattern[3], 240);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics_of_three_to_six_lowercase_segments_are_valid),
        cmocka_unit_test(test_topic_validity_uses_len_not_the_terminator),
        cmocka_unit_test(test_empty_topic_is_refused),
        cmocka_unit_test(test_topic_longer_than_255_bytes_is_refused),
        cmocka_unit_test(test_topic_of_255_bytes_passes_the_length_check),
        cmocka_unit_test(test_two_segments_are_too_few),
        cmocka_unit_test(test_seven_segments_are_too_many),
        cmocka_unit_test(test_uppercase_is_refused),
        cmocka_unit_test(test_underscore_and_other_punctuation_are_refused),
        cmocka_unit_test(test_segment_starting_with_dash_is_refused),
        cmocka_unit_test(test_empty_segment_is_refused),
        cmocka_unit_test(test_unknown_kind_is_refused),
        cmocka_unit_test(test_segment_of_33_bytes_is_refused_and_32_accepted),
        cmocka_unit_test(test_segment_and_kind_checks_follow_the_grammar),
        cmocka_unit_test(test_topic_segment_copies_the_nth_segment),
        cmocka_unit_test(test_topic_segment_fails_past_the_last_segment),
        cmocka_unit_test(test_topic_segment_fails_when_out_is_too_small),
        cmocka_unit_test(test_topic_segment_respects_len),
        cmocka_unit_test(test_well_formed_patterns_are_valid),
        cmocka_unit_test(test_malformed_patterns_are_refused_with_a_reason),
        cmocka_unit_test(test_pattern_longer_than_255_bytes_is_refused),
        cmocka_unit_test(test_pattern_cfp_matches_every_cfp_and_nothing_else),
        cmocka_unit_test(test_pattern_star_origin_matches_every_kind_from_that_origin),
        cmocka_unit_test(test_full_pattern_matches_its_topic_and_subtopics_only),
        cmocka_unit_test(test_inner_star_matches_one_whole_segment),
        cmocka_unit_test(test_pattern_match_respects_len),
        cmocka_unit_test(test_leading_star_expands_to_one_prefix_per_kind),
        cmocka_unit_test(test_literal_pattern_is_its_own_prefix_up_to_the_first_star),
        cmocka_unit_test(test_prefixes_of_invalid_pattern_is_an_error),
        cmocka_unit_test(test_prefixes_fail_when_max_is_too_small),
        cmocka_unit_test(test_every_matched_topic_starts_with_a_prefix_of_its_pattern),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
