/* test_jsonfeed.c — messages as a JSON Feed (lib/fb_jsonfeed.c), read back with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fb_jsonfeed.h"

static const fb_ics_head_t s_head = {"019b76da-a80e-7f93-877c-dbb165d1cee3", "kr-busan", "event.kr-busan.forum",
                                     1767225600000000LL /* 2026-01-01T00:00:00Z */, 42};

static const char *s_event =
    "{\"event\": {\"kind\": \"forum\","
    " \"title\": {\"ko\": \"부산 정기포럼\", \"en\": \"Busan monthly forum\"},"
    " \"summary\": {\"ko\": \"매월 열린다.\", \"en\": \"It meets monthly.\"},"
    " \"starts_at\": \"2026-03-19T16:00:00+09:00\", \"ends_at\": \"2026-03-19T18:30:00+09:00\","
    " \"venue\": {\"name\": {\"en\": \"Forum room\"}, \"city\": \"Busan\", \"country\": \"KR\"},"
    " \"host\": \"Busan S&T Council\", \"url\": \"https://example.org/forum\", \"fields\": [\"ai\", \"energy\"]}}";

static const char *s_cfp = "{\"cfp\": {\"title\": {\"en\": \"Call for bio teams\"}, \"closes_at\": \"2026-04-30T18:00:00+09:00\","
                           " \"budget\": {\"amount\": \"1500000000\", \"currency\": \"KRW\"}, \"fields\": [\"bio\"]}}";

static const char *s_researcher =
    "{\"researcher\": {\"researcher_id\": \"r-1\", \"name\": {\"en\": \"A. Kim\", \"ko\": \"김 아\"},"
    " \"kind\": \"award\", \"detail\": {\"en\": \"Young scientist award.\"}, \"affiliation\": \"KAIST\"}}";

/* A feed of the messages jsons, written and parsed back; *rcs gets each item's return. */
static json_t *s_feed(const char *const *jsons, size_t n, const char *lang, int *rcs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fb_jsonfeed_t jf;
    assert_int_equal(fb_jsonfeed_begin(&jf, f, "fedbus: *.kr-busan", lang), 0);
    for (size_t i = 0; i < n; i++) {
        json_error_t e;
        json_t *j = json_loads(jsons[i], 0, &e);
        if (!j) fail_msg("test JSON %zu: %s", i, e.text);
        rcs[i] = fb_jsonfeed_item(&jf, &s_head, j, lang);
        json_decref(j);
    }
    fb_jsonfeed_end(&jf);
    fclose(f);
    json_error_t e;
    json_t *feed = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
    if (!feed) fail_msg("the feed is not JSON (%s): %s", e.text, buf);
    free(buf);
    assert_string_equal(json_string_value(json_object_get(feed, "version")), "https://jsonfeed.org/version/1.1");
    assert_string_equal(json_string_value(json_object_get(feed, "title")), "fedbus: *.kr-busan");
    assert_string_equal(json_string_value(json_object_get(feed, "language")), lang);
    assert_true(json_is_array(json_object_get(feed, "items")));
    return feed;
}

static const char *s_at(json_t *items, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(items, i), key));
}

static void test_events_calls_and_updates_are_items_with_their_facts_first(void **state)
{
    (void)state;
    const char *jsons[] = {s_event, s_cfp, s_researcher};
    int rcs[3];
    json_t *feed = s_feed(jsons, 3, "en", rcs);
    for (int i = 0; i < 3; i++) assert_int_equal(rcs[i], 1);
    json_t *items = json_object_get(feed, "items");
    assert_int_equal(json_array_size(items), 3);
    assert_string_equal(s_at(items, 0, "id"), "019b76da-a80e-7f93-877c-dbb165d1cee3");
    assert_string_equal(s_at(items, 0, "title"), "Busan monthly forum");
    assert_string_equal(s_at(items, 0, "url"), "https://example.org/forum");
    assert_string_equal(s_at(items, 0, "date_published"), "2026-01-01T00:00:00Z");
    const char *c = s_at(items, 0, "content_text");
    assert_int_equal(strncmp(c, "When: 2026-03-19T16:00:00+09:00 – 2026-03-19T18:30:00+09:00\n"
                                "Where: Forum room, Busan, KR\n\nIt meets monthly.\n\n부산 정기포럼\n매월 열린다.",
                             strlen("When: 2026-03-19T16:00:00+09:00 – 2026-03-19T18:30:00+09:00\n"
                                    "Where: Forum room, Busan, KR\n\nIt meets monthly.\n\n부산 정기포럼\n매월 열린다.")),
                     0);
    assert_non_null(strstr(c, "Host: Busan S&T Council"));
    json_t *tags = json_object_get(json_array_get(items, 0), "tags");
    assert_int_equal(json_array_size(tags), 3);
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "forum");
    assert_string_equal(json_string_value(json_array_get(tags, 2)), "energy");
    json_t *author = json_array_get(json_object_get(json_array_get(items, 0), "authors"), 0);
    assert_string_equal(json_string_value(json_object_get(author, "name")), "Busan S&T Council");
    json_t *fx = json_object_get(json_array_get(items, 0), "_fedbus");
    assert_string_equal(json_string_value(json_object_get(fx, "origin")), "kr-busan");
    assert_int_equal(json_integer_value(json_object_get(fx, "global_seq")), 42);

    assert_string_equal(s_at(items, 1, "title"), "Call for bio teams");
    c = s_at(items, 1, "content_text");
    assert_int_equal(strncmp(c, "Deadline: 2026-04-30T18:00:00+09:00", 35), 0);
    assert_non_null(strstr(c, "Budget: 1,500,000,000 KRW"));
    assert_null(json_object_get(json_array_get(items, 1), "url"));
    json_t *author1 = json_array_get(json_object_get(json_array_get(items, 1), "authors"), 0);
    assert_string_equal(json_string_value(json_object_get(author1, "name")), "kr-busan"); /* no host: the origin */

    assert_string_equal(s_at(items, 2, "title"), "A. Kim: award");
    c = s_at(items, 2, "content_text");
    assert_int_equal(strncmp(c, "Young scientist award.\n\n김 아", strlen("Young scientist award.\n\n김 아")), 0);
    assert_non_null(strstr(c, "Affiliation: KAIST"));
    json_decref(feed);
}

static void test_health_and_unknown_kinds_are_no_items(void **state)
{
    (void)state;
    const char *jsons[] = {"{\"member_state\": {\"member\": \"kr-busan\"}}", "{}", "{\"event\": \"x\"}"};
    int rcs[3];
    json_t *feed = s_feed(jsons, 3, "ko", rcs);
    for (int i = 0; i < 3; i++) assert_int_equal(rcs[i], 0);
    assert_int_equal(json_array_size(json_object_get(feed, "items")), 0);
    json_decref(feed);
}

static void test_hostile_text_stays_inside_its_string(void **state)
{
    (void)state;
    const char *jsons[] = {
        "{\"event\": {\"title\": {\"en\": \"\\\"]},{\\\"id\\\":\\\"forged\\\"}\\u0001\\n\"}, \"starts_at\": \"x\","
        " \"url\": \"javascript alert(1)\", \"fields\": [7, \"ok\"]}}",
        s_event};
    int rcs[2];
    json_t *feed = s_feed(jsons, 2, "en", rcs);
    json_t *items = json_object_get(feed, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(s_at(items, 0, "title"), "\"]},{\"id\":\"forged\"}\x01\n");
    assert_null(json_object_get(json_array_get(items, 0), "url"));
    json_t *tags = json_object_get(json_array_get(items, 0), "tags");
    assert_int_equal(json_array_size(tags), 1); /* the number is no tag */
    assert_string_equal(s_at(items, 1, "id"), "019b76da-a80e-7f93-877c-dbb165d1cee3");
    json_decref(feed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_calls_and_updates_are_items_with_their_facts_first),
        cmocka_unit_test(test_health_and_unknown_kinds_are_no_items),
        cmocka_unit_test(test_hostile_text_stays_inside_its_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
