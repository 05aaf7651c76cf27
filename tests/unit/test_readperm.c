/* test_readperm.c — read patterns as exact feed prefixes, subscriptions and replay prefixes narrowed, and the feed's per-connection bookkeeping. */
#include "fb_feedsub.h"
#include "fb_readperm.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* The prefixes in v as one string: each in brackets, a NUL as "\0", the marks as "\1" and "\2". */
static const char *s_show(const fb_readperm_prefix_t *v, int n)
{
    static char buf[4096];
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        buf[o++] = '[';
        for (size_t j = 0; j < v[i].len; j++) {
            uint8_t c = v[i].b[j];
            if (c < 3) o += (size_t)sprintf(buf + o, "\\%d", c);
            else buf[o++] = (char)c;
        }
        buf[o++] = ']';
    }
    buf[o] = '\0';
    return buf;
}

static const char *s_feed(const char *pattern)
{
    fb_readperm_prefix_t p[FB_READPERM_PATTERN_PREFIXES];
    int n = fb_readperm_feed_prefixes(pattern, p, FB_READPERM_PATTERN_PREFIXES);
    return n < 0 ? "refused" : s_show(p, n);
}

static void test_patterns_become_exact_feed_prefixes(void **state)
{
    (void)state;
    assert_string_equal(s_feed("event"), "[event.]");
    assert_string_equal(s_feed("cfp.kr-seoul"), "[cfp.kr-seoul.]");
    assert_string_equal(s_feed("cfp.kr-daejeon.bio"), "[cfp.kr-daejeon.bio.][cfp.kr-daejeon.bio\\0]");
    assert_string_equal(s_feed("cfp.kr-seoul.*"), "[cfp.kr-seoul.]");
    assert_string_equal(s_feed("*.kr-incheon"), "[event.kr-incheon.][cfp.kr-incheon.][researcher.kr-incheon.]");
    assert_string_equal(s_feed("*"), "[event.][cfp.][researcher.]");
    assert_string_equal(s_feed("*.*.*"), "[event.][cfp.][researcher.]");
}

static void test_patterns_prefixes_cannot_say_grant_nothing(void **state)
{
    (void)state;
    /* a '*' between literal segments needs every origin listed */
    assert_string_equal(s_feed("cfp.*.bio"), "refused");
    assert_string_equal(s_feed("*.*.bio"), "refused");
    /* four segments at least: "cfp.kr-seoul." also holds three-segment topics */
    assert_string_equal(s_feed("cfp.kr-seoul.*.*"), "refused");
    assert_string_equal(s_feed("not a pattern"), "refused");
    assert_string_equal(s_feed(""), "refused");
    const char *read[] = {"cfp.*.bio"};
    assert_false(fb_readperm_may_read(read, 1, "cfp.kr-seoul.bio", 16));
}

static void test_reading_everything_is_told_apart(void **state)
{
    (void)state;
    const char *all[] = {"event", "*"}, *all3[] = {"*.*.*"}, *some[] = {"event", "cfp"}, *four[] = {"*.*.*.*"};
    assert_true(fb_readperm_all(all, 2));
    assert_true(fb_readperm_all(all3, 1));
    assert_false(fb_readperm_all(some, 2));
    assert_false(fb_readperm_all(four, 1));
    assert_false(fb_readperm_all(NULL, 0));
}

static void test_topics_are_read_only_as_a_pattern_permits(void **state)
{
    (void)state;
    const char *read[] = {"event", "cfp", "researcher.kr-daejeon"};
    const char *yes[] = {"event.kr-seoul.forum", "cfp.kr-daejeon.bio.health", "researcher.kr-daejeon.award"};
    const char *no[] = {"researcher.kr-seoul.award", "researcher.kr-daejeon2.award"};
    for (int i = 0; i < 3; i++) assert_true(fb_readperm_may_read(read, 3, yes[i], strlen(yes[i])));
    for (int i = 0; i < 2; i++) assert_false(fb_readperm_may_read(read, 3, no[i], strlen(no[i])));
    assert_false(fb_readperm_may_read(NULL, 0, yes[0], strlen(yes[0])));
}

static const char *s_narrow(const char *sub, size_t len, const char *const *read, size_t n)
{
    fb_readperm_prefix_t out[64];
    int k = fb_readperm_narrow((const uint8_t *)sub, len, read, n, out, 64);
    return k < 0 ? "overflow" : s_show(out, k);
}

static void test_a_subscription_to_everything_becomes_the_permitted_prefixes_and_head_frames(void **state)
{
    (void)state;
    const char *partner[] = {"event", "cfp"};
    assert_string_equal(s_narrow("", 0, partner, 2), "[event.][\\1event.][cfp.][\\1cfp.][\\2]");
    const char *hub[] = {"*"};
    assert_string_equal(s_narrow("", 0, hub, 1), "[]");
    /* a member that may read nothing subscribes to nothing, head frames neither */
    assert_string_equal(s_narrow("", 0, NULL, 0), "");
}

static void test_seal_frames_are_kept_for_every_admitted_member_and_only_when_asked(void **state)
{
    (void)state;
    const char *partner[] = {"event", "cfp"};
    assert_string_equal(s_narrow("\3", 1, partner, 2), "[\3]");
    assert_string_equal(s_narrow("\3", 1, NULL, 0), "[\3]"); /* one that reads nothing, too */
    const char *hub[] = {"*"};
    assert_string_equal(s_narrow("\3", 1, hub, 1), "[\3]");
    /* everything does not bring them to a partner: they are asked for */
    assert_string_equal(s_narrow("", 0, partner, 2), "[event.][\\1event.][cfp.][\\1cfp.][\\2]");
}

static void test_subscriptions_are_narrowed_kept_or_refused(void **state)
{
    (void)state;
    const char *partner[] = {"event", "cfp", "researcher.kr-daejeon"};
    /* within: kept as asked */
    assert_string_equal(s_narrow("event.kr-busan.", 15, partner, 3), "[event.kr-busan.]");
    assert_string_equal(s_narrow("\1cfp.kr-daejeon.bio", 19, partner, 3), "[\\1cfp.kr-daejeon.bio]");
    /* wider: narrowed */
    assert_string_equal(s_narrow("researcher", 10, partner, 3), "[researcher.kr-daejeon.]");
    assert_string_equal(s_narrow("\1researcher.kr-d", 16, partner, 3), "[\\1researcher.kr-daejeon.]");
    /* count frames (0x04): narrowed like the prefix after the mark */
    assert_string_equal(s_narrow("\4researcher", 11, partner, 3), "[\4researcher.kr-daejeon.]");
    assert_string_equal(s_narrow("\4event.kr-busan.", 16, partner, 3), "[\4event.kr-busan.]");
    assert_string_equal(s_narrow("\4researcher.kr-seoul.", 21, partner, 3), "");
    const char *bio[] = {"cfp.kr-daejeon.bio"};
    assert_string_equal(s_narrow("cfp", 3, bio, 1), "[cfp.kr-daejeon.bio.][cfp.kr-daejeon.bio\\0]");
    /* outside: nothing */
    assert_string_equal(s_narrow("researcher.kr-seoul.", 20, partner, 3), "");
    assert_string_equal(s_narrow("researcher.kr-daejeon2", 22, partner, 3), "");
    /* head frames: anyone admitted */
    assert_string_equal(s_narrow("\2", 1, partner, 3), "[\\2]");
    fb_readperm_prefix_t one[1];
    assert_int_equal(fb_readperm_narrow((const uint8_t *)"", 0, (const char *const *)partner, 3, one, 1), -1);
}

/* The prefixes fb_readperm_replay() gives, comma-separated, "everything" for none. */
static const char *s_replay(const char *const *read, size_t n, const char *const *req, size_t nreq)
{
    static char buf[1024];
    char **out;
    size_t nout, o = 0;
    assert_int_equal(fb_readperm_replay(read, n, req, nreq, &out, &nout), 0);
    buf[0] = '\0';
    for (size_t i = 0; i < nout; i++) o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? "," : "", out[i]);
    fb_readperm_free(out, nout);
    return nout ? buf : "none";
}

static void test_replay_prefixes_are_narrowed_to_the_permission(void **state)
{
    (void)state;
    const char *partner[] = {"event", "cfp", "cfp.*.bio"}, *hub[] = {"*"};
    const char *everything[] = {NULL};
    assert_string_equal(s_replay(partner, 3, everything, 0), "event,cfp");
    assert_string_equal(s_replay(hub, 1, everything, 0), "none"); /* reads all: asks all */
    const char *req[] = {"researcher.kr-seoul", "event.kr-busan", "c"};
    assert_string_equal(s_replay(partner, 3, req, 3), "event.kr-busan,cfp");
    assert_string_equal(s_replay(hub, 1, req, 3), "researcher.kr-seoul,event.kr-busan,c");
    const char *denied[] = {"researcher"};
    assert_string_equal(s_replay(partner, 3, denied, 1), "none");
    assert_false(fb_readperm_all(partner, 3));
}

/* fb_feedsub_fn that records calls as "+prefix" / "-prefix". */
static char s_calls[1024];
static void s_record(void *arg, int add, const uint8_t *p, size_t len)
{
    (void)arg;
    size_t o = strlen(s_calls);
    snprintf(s_calls + o, sizeof(s_calls) - o, "%c%.*s ", add ? '+' : '-', (int)len, (const char *)p);
}

static fb_readperm_prefix_t s_prefix(const char *s)
{
    fb_readperm_prefix_t p = {.len = strlen(s)};
    memcpy(p.b, s, p.len);
    return p;
}

static void test_a_connection_keeps_a_narrowed_prefix_until_every_request_for_it_is_withdrawn(void **state)
{
    (void)state;
    fb_feedsub_t *t = fb_feedsub_new();
    assert_non_null(t);
    fb_readperm_prefix_t ev = s_prefix("event."), cfp = s_prefix("cfp."), both[2] = {ev, cfp};
    s_calls[0] = '\0';
    assert_int_equal(fb_feedsub_add(t, "1", (const uint8_t *)"", 0, both, 2, s_record, NULL), 1);
    assert_int_equal(fb_feedsub_add(t, "1", (const uint8_t *)"e", 1, &ev, 1, s_record, NULL), 1);
    assert_string_equal(s_calls, "+event. +cfp. ");
    /* asked twice: nothing more */
    assert_int_equal(fb_feedsub_add(t, "1", (const uint8_t *)"e", 1, &ev, 1, s_record, NULL), 0);
    s_calls[0] = '\0';
    assert_int_equal(fb_feedsub_remove(t, "1", (const uint8_t *)"", 0, s_record, NULL), 1);
    assert_string_equal(s_calls, "-cfp. ");
    /* never asked, or by another connection: ignored */
    assert_int_equal(fb_feedsub_remove(t, "1", (const uint8_t *)"x", 1, s_record, NULL), 0);
    assert_int_equal(fb_feedsub_remove(t, "2", (const uint8_t *)"e", 1, s_record, NULL), 0);
    assert_int_equal(fb_feedsub_remove(t, "1", (const uint8_t *)"e", 1, s_record, NULL), 1);
    assert_string_equal(s_calls, "-cfp. -event. ");
    assert_int_equal(fb_feedsub_conns(t), 1);
    fb_feedsub_clear(t);
    assert_int_equal(fb_feedsub_conns(t), 0);
    fb_feedsub_destroy(&t);
    assert_null(t);
    fb_feedsub_destroy(NULL);
}

static void test_the_connection_idle_longest_is_forgotten_when_the_table_is_full(void **state)
{
    (void)state;
    fb_feedsub_t *t = fb_feedsub_new();
    fb_readperm_prefix_t ev = s_prefix("event.");
    char name[24];
    for (int i = 0; i <= FB_FEEDSUB_CONNS_MAX; i++) {
        snprintf(name, sizeof(name), "%d", i);
        assert_int_equal(fb_feedsub_add(t, name, (const uint8_t *)"e", 1, &ev, 1, s_record, NULL), 1);
    }
    assert_int_equal(fb_feedsub_conns(t), FB_FEEDSUB_CONNS_MAX);
    assert_int_equal(fb_feedsub_remove(t, "0", (const uint8_t *)"e", 1, s_record, NULL), 0);
    assert_int_equal(fb_feedsub_remove(t, "1", (const uint8_t *)"e", 1, s_record, NULL), 1);
    fb_feedsub_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patterns_become_exact_feed_prefixes),
        cmocka_unit_test(test_patterns_prefixes_cannot_say_grant_nothing),
        cmocka_unit_test(test_reading_everything_is_told_apart),
        cmocka_unit_test(test_topics_are_read_only_as_a_pattern_permits),
        cmocka_unit_test(test_a_subscription_to_everything_becomes_the_permitted_prefixes_and_head_frames),
        cmocka_unit_test(test_seal_frames_are_kept_for_every_admitted_member_and_only_when_asked),
        cmocka_unit_test(test_subscriptions_are_narrowed_kept_or_refused),
        cmocka_unit_test(test_replay_prefixes_are_narrowed_to_the_permission),
        cmocka_unit_test(test_a_connection_keeps_a_narrowed_prefix_until_every_request_for_it_is_withdrawn),
        cmocka_unit_test(test_the_connection_idle_longest_is_forgotten_when_the_table_is_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
