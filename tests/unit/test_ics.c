/* test_ics.c — events and calls for proposals as iCalendar (lib/fb_ics.c), read back with libical's parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fb_ics.h"

#include <libical/ical.h>

static const fb_ics_head_t s_head = {"019b76da-a80e-7f93-877c-dbb165d1cee3", "kr-busan", "event.kr-busan.forum",
                                     1767225600000000LL /* 2026-01-01T00:00:00Z */, 42};

static const char *s_event =
    "{\"event\": {\"kind\": \"forum\","
    " \"title\": {\"ko\": \"부산 과학기술 정기포럼 3월\", \"en\": \"Busan monthly S&T forum, March\"},"
    " \"summary\": {\"ko\": \"매월 한 번 열리는 정기포럼이다.\", \"en\": \"The forum that meets once a month.\"},"
    " \"starts_at\": \"2026-03-19T16:00:00+09:00\", \"ends_at\": \"2026-03-19T18:30:00+09:00\","
    " \"timezone\": \"Asia/Seoul\","
    " \"venue\": {\"name\": {\"ko\": \"부산과학기술협의회 포럼장\", \"en\": \"Forum room\"}, \"city\": \"Busan\","
    " \"country\": \"KR\"},"
    " \"host\": \"Busan Science and Technology Council\", \"url\": \"https://example.org/kr-busan/forum/2026-03\","
    " \"fields\": [\"ai\", \"digital-transition\"], \"series\": \"Busan monthly S&T forum\", \"capacity\": 100}}";

static const char *s_cfp =
    "{\"cfp\": {\"programme\": {\"ko\": \"지역 연구단\", \"en\": \"Regional research teams\"},"
    " \"title\": {\"ko\": \"바이오 연구단 공모\", \"en\": \"Call for bio research teams\"},"
    " \"budget\": {\"amount\": \"1500000000\", \"currency\": \"KRW\"},"
    " \"opens_at\": \"2026-04-01T09:00:00+09:00\", \"closes_at\": \"2026-04-30T18:00:00+09:00\","
    " \"fields\": [\"bio\"], \"awards\": 3, \"url\": \"https://example.org/kr-daejeon/cfp/bio\"}}";

/* What fb_ics_item() wrote for json (rc set), with the calendar around it. */
static char *s_write(const char *json, const char *lang, int *rc, char *why, size_t whysize)
{
    json_error_t e;
    json_t *j = json_loads(json, 0, &e);
    if (!j) fail_msg("test JSON: %s at %d", e.text, e.column);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(fb_ics_begin(f, "fedbus: event.kr-busan cfp"), 0);
    *rc = fb_ics_item(f, &s_head, j, lang, why, whysize);
    fb_ics_end(f);
    fclose(f);
    json_decref(j);
    return buf;
}

/* The one VEVENT of a calendar, parsed; the calendar is in *cal. */
static icalcomponent *s_parse_one(const char *text, icalcomponent **cal)
{
    *cal = icalparser_parse_string(text);
    assert_non_null(*cal);
    assert_int_equal(icalcomponent_isa(*cal), ICAL_VCALENDAR_COMPONENT);
    assert_int_equal(icalcomponent_count_components(*cal, ICAL_VEVENT_COMPONENT), 1);
    return icalcomponent_get_first_component(*cal, ICAL_VEVENT_COMPONENT);
}

static const char *s_x(icalcomponent *ev, const char *name)
{
    for (icalproperty *p = icalcomponent_get_first_property(ev, ICAL_X_PROPERTY); p;
         p = icalcomponent_get_next_property(ev, ICAL_X_PROPERTY))
        if (!strcmp(icalproperty_get_x_name(p), name)) return icalvalue_get_text(icalproperty_get_value(p));
    return NULL;
}

static void test_an_event_is_a_vevent_at_its_time_in_utc(void **state)
{
    (void)state;
    int rc;
    char why[128] = "";
    char *text = s_write(s_event, "ko", &rc, why, sizeof(why));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(text, "DTSTART:20260319T070000Z\r\n"));
    assert_non_null(strstr(text, "DTEND:20260319T093000Z\r\n"));
    assert_non_null(strstr(text, "DTSTAMP:20260101T000000Z\r\n"));
    icalcomponent *cal, *ev = s_parse_one(text, &cal);
    assert_string_equal(icalcomponent_get_uid(ev), "019b76da-a80e-7f93-877c-dbb165d1cee3@fedbus");
    assert_string_equal(icalcomponent_get_summary(ev), "부산 과학기술 정기포럼 3월");
    assert_string_equal(icalcomponent_get_location(ev), "부산과학기술협의회 포럼장, Busan, KR");
    const char *desc = icalcomponent_get_description(ev);
    assert_non_null(strstr(desc, "매월 한 번 열리는 정기포럼이다.\n\nBusan monthly S&T forum, March\n"));
    assert_non_null(strstr(desc, "주최: Busan Science and Technology Council"));
    assert_non_null(strstr(desc, "정원: 100"));
    icalproperty *url = icalcomponent_get_first_property(ev, ICAL_URL_PROPERTY);
    assert_non_null(url);
    assert_string_equal(icalproperty_get_url(url), "https://example.org/kr-busan/forum/2026-03");
    const char *want[] = {"forum", "ai", "digital-transition"};
    int n = 0;
    for (icalproperty *p = icalcomponent_get_first_property(ev, ICAL_CATEGORIES_PROPERTY); p;
         p = icalcomponent_get_next_property(ev, ICAL_CATEGORIES_PROPERTY), n++)
        assert_string_equal(icalproperty_get_categories(p), want[n]);
    assert_int_equal(n, 3);
    assert_string_equal(s_x(ev, "X-FEDBUS-ORIGIN"), "kr-busan");
    assert_string_equal(s_x(ev, "X-FEDBUS-TOPIC"), "event.kr-busan.forum");
    assert_string_equal(s_x(ev, "X-FEDBUS-GLOBAL-SEQ"), "42");
    icalproperty *name = icalcomponent_get_first_property(cal, ICAL_X_PROPERTY);
    assert_string_equal(icalproperty_get_x_name(name), "X-WR-CALNAME");
    assert_string_equal(icalvalue_get_text(icalproperty_get_value(name)), "fedbus: event.kr-busan cfp");
    icalcomponent_free(cal);
    free(text);
}

static void test_the_other_language_leads_with_lang_en(void **state)
{
    (void)state;
    int rc;
    char why[128] = "";
    char *text = s_write(s_event, "en", &rc, why, sizeof(why));
    assert_int_equal(rc, 1);
    icalcomponent *cal, *ev = s_parse_one(text, &cal);
    assert_string_equal(icalcomponent_get_summary(ev), "Busan monthly S&T forum, March");
    assert_string_equal(icalcomponent_get_location(ev), "Forum room, Busan, KR");
    const char *desc = icalcomponent_get_description(ev);
    assert_non_null(strstr(desc, "The forum that meets once a month.\n\n부산 과학기술 정기포럼 3월\n"));
    assert_non_null(strstr(desc, "Host: Busan Science and Technology Council"));
    icalcomponent_free(cal);
    free(text);
}

static void test_a_call_is_a_transparent_vevent_at_its_deadline(void **state)
{
    (void)state;
    int rc;
    char why[128] = "";
    char *text = s_write(s_cfp, "en", &rc, why, sizeof(why));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(text, "DTSTART:20260430T090000Z\r\n"));
    assert_null(strstr(text, "DTEND"));
    icalcomponent *cal, *ev = s_parse_one(text, &cal);
    assert_string_equal(icalcomponent_get_summary(ev), "Deadline: Call for bio research teams");
    icalproperty *tr = icalcomponent_get_first_property(ev, ICAL_TRANSP_PROPERTY);
    assert_non_null(tr);
    assert_int_equal(icalproperty_get_transp(tr), ICAL_TRANSP_TRANSPARENT);
    const char *desc = icalcomponent_get_description(ev);
    assert_non_null(strstr(desc, "Budget: 1,500,000,000 KRW"));
    assert_non_null(strstr(desc, "Awards: 3"));
    assert_non_null(strstr(desc, "Opens: 2026-04-01T09:00:00+09:00"));
    assert_non_null(strstr(desc, "Programme: Regional research teams"));
    icalcomponent_free(cal);
    free(text);
    text = s_write(s_cfp, "ko", &rc, why, sizeof(why));
    assert_int_equal(rc, 1);
    ev = s_parse_one(text, &cal);
    assert_string_equal(icalcomponent_get_summary(ev), "마감: 바이오 연구단 공모");
    icalcomponent_free(cal);
    free(text);
}

static void test_a_time_up_to_the_year_3000_is_written_as_it_is(void **state)
{
    (void)state;
    int rc;
    char why[128] = "";
    char *text = s_write("{\"event\": {\"title\": {\"en\": \"x\"}, \"starts_at\": \"2999-05-01T10:00:00+09:00\","
                         " \"ends_at\": \"3000-12-31T23:59:59Z\"}}",
                         "en", &rc, why, sizeof(why));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(text, "DTSTART:29990501T010000Z\r\n"));
    assert_non_null(strstr(text, "DTEND:30001231T235959Z\r\n"));
    icalcomponent *cal, *ev = s_parse_one(text, &cal);
    assert_int_equal(icalcomponent_get_dtstart(ev).year, 2999);
    assert_null(icalcomponent_get_first_property(ev, ICAL_XLICERROR_PROPERTY));
    icalcomponent_free(cal);
    free(text);
    /* Beyond: an end is left out, a start leaves the item out. */
    text = s_write("{\"event\": {\"title\": {\"en\": \"x\"}, \"starts_at\": \"2999-05-01T10:00:00Z\","
                   " \"ends_at\": \"3001-01-01T00:00:00Z\"}}",
                   "en", &rc, why, sizeof(why));
    assert_int_equal(rc, 1);
    assert_null(strstr(text, "DTEND"));
    free(text);
    text = s_write("{\"event\": {\"title\": {\"en\": \"x\"}, \"starts_at\": \"4052-05-01T10:00:00+09:00\"}}",
                   "en", &rc, why, sizeof(why));
    assert_int_equal(rc, -1);
    assert_string_equal(why, "has a starts_at out of a calendar's range (1970 to 3000)");
    assert_null(strstr(text, "VEVENT"));
    free(text);
}

static void test_messages_that_are_no_calendar_item_write_nothing(void **state)
{
    (void)state;
    const char *others[] = {"{\"researcher\": {\"kind\": \"award\", \"name\": {\"en\": \"A. Kim\"}}}",
                            "{\"member_state\": {\"member\": \"kr-busan\"}}", "{}", "{\"event\": 7}"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        int rc;
        char why[128] = "";
        char *text = s_write(others[i], "ko", &rc, why, sizeof(why));
        assert_int_equal(rc, 0);
        assert_null(strstr(text, "VEVENT"));
        icalcomponent *cal = icalparser_parse_string(text);
        assert_non_null(cal);
        assert_int_equal(icalcomponent_count_components(cal, ICAL_VEVENT_COMPONENT), 0);
        icalcomponent_free(cal);
        free(text);
    }
}

static void test_a_missing_or_unreadable_time_is_said_and_writes_nothing(void **state)
{
    (void)state;
    const struct {
        const char *json, *why;
    } bad[] = {
        {"{\"event\": {\"title\": {\"en\": \"x\"}}}", "has no starts_at"},
        {"{\"event\": {\"title\": {\"en\": \"x\"}, \"starts_at\": \"next tuesday\"}}", "has an unreadable starts_at"},
        {"{\"event\": {\"title\": {\"en\": \"x\"}, \"starts_at\": 1767225600}}", "has no starts_at"},
        {"{\"cfp\": {\"title\": {\"en\": \"x\"}, \"closes_at\": \"1969-12-31T23:59:59Z\"}}",
         "has an unreadable closes_at"},
        {"{\"cfp\": {\"title\": {\"en\": \"x\"}, \"closes_at\": \"\"}}", "has no closes_at"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;
        char why[128] = "";
        char *text = s_write(bad[i].json, "ko", &rc, why, sizeof(why));
        assert_int_equal(rc, -1);
        assert_string_equal(why, bad[i].why);
        assert_null(strstr(text, "VEVENT"));
        free(text);
    }
}

/* Whether the bytes [p, p + n) are whole UTF-8 characters. */
static int s_whole_utf8(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = p[i] < 0x80 ? 1 : (p[i] & 0xe0) == 0xc0 ? 2 : (p[i] & 0xf0) == 0xe0 ? 3 : (p[i] & 0xf8) == 0xf0 ? 4 : 0;
        if (!k || i + k > n) return 0;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xc0) != 0x80) return 0;
        i += k;
    }
    return 1;
}

static void test_lines_end_in_crlf_and_fold_at_75_octets_between_characters(void **state)
{
    (void)state;
    /* A long Korean summary: 3-octet characters, folded many times. */
    char json[8192], longtext[4096] = "";
    for (int i = 0; i < 60; i++) strcat(longtext, "과학기술 포럼, ");
    strcat(longtext, "끝"); /* (a reader drops a space that ends a line) */
    snprintf(json, sizeof(json),
             "{\"event\": {\"title\": {\"ko\": \"%s\"}, \"starts_at\": \"2026-05-01T10:00:00+09:00\"}}", longtext);
    int rc;
    char why[128] = "";
    char *text = s_write(json, "ko", &rc, why, sizeof(why));
    assert_int_equal(rc, 1);
    int lines = 0, folded = 0;
    for (const char *p = text; *p; lines++) {
        const char *eol = strstr(p, "\r\n");
        assert_non_null(eol); /* every line ends in CRLF */
        size_t n = (size_t)(eol - p);
        if (n > 75) fail_msg("line %d has %zu octets: %.*s", lines, n, (int)n, p);
        assert_null(memchr(p, '\n', n));
        const unsigned char *body = (const unsigned char *)p;
        if (*p == ' ') {
            folded++;
            body++;
            n--;
        }
        if (!s_whole_utf8(body, n)) fail_msg("line %d splits a character: %.*s", lines, (int)n, p);
        p = eol + 2;
    }
    assert_true(folded >= 10);
    icalcomponent *cal, *ev = s_parse_one(text, &cal);
    assert_string_equal(icalcomponent_get_summary(ev), longtext);
    icalcomponent_free(cal);
    free(text);
}

static void test_no_field_adds_a_line_or_a_property(void **state)
{
    (void)state;
    const char *json =
        "{\"event\": {\"title\": {\"en\": \"Forum\\r\\nATTENDEE:mailto:all@example.org\\r\\nX-A:1; b, c \\\\ d\"},"
        " \"summary\": {\"en\": \"one\\u0001two\\u0007three\\rfour\"},"
        " \"starts_at\": \"2026-05-01T10:00:00+09:00\", \"url\": \"https://example.org/x\\r\\nX-EVIL:1\","
        " \"venue\": {\"city\": \"Seoul\\nEND:VEVENT\"}, \"fields\": [\"ai\\nEND:VCALENDAR\", \"bio,chem\"]}}";
    int rc;
    char why[128] = "";
    char *text = s_write(json, "en", &rc, why, sizeof(why));
    assert_int_equal(rc, 1);
    /* Every line of the output starts with a property of ours, or folds one. */
    const char *names[] = {"BEGIN:", "END:", "VERSION:", "PRODID:", "CALSCALE:", "METHOD:", "X-WR-CALNAME:",
                           "UID:", "DTSTAMP:", "DTSTART:", "SUMMARY:", "DESCRIPTION:", "LOCATION:",
                           "CATEGORIES:", "X-FEDBUS-ORIGIN:", "X-FEDBUS-TOPIC:", "X-FEDBUS-GLOBAL-SEQ:", " "};
    int ends = 0;
    for (const char *p = text; *p;) {
        const char *eol = strstr(p, "\r\n");
        assert_non_null(eol);
        int known = 0;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            size_t k = strlen(names[i]) - (names[i][0] != ' '); /* the name, then ':' or ';' (a parameter) */
            if (!strncmp(p, names[i], k) && (names[i][0] == ' ' || p[k] == ':' || p[k] == ';')) known = 1;
        }
        if (!known) fail_msg("a line of no property of ours: %.*s", (int)(eol - p), p);
        if (!strncmp(p, "END:", 4)) ends++;
        p = eol + 2;
    }
    assert_int_equal(ends, 2); /* END:VEVENT and END:VCALENDAR, no more */
    icalcomponent *cal, *ev = s_parse_one(text, &cal);
    assert_string_equal(icalcomponent_get_summary(ev), "Forum\nATTENDEE:mailto:all@example.org\nX-A:1; b, c \\ d");
    assert_string_equal(icalcomponent_get_description(ev), "one two three\nfour");
    assert_null(icalcomponent_get_first_property(ev, ICAL_URL_PROPERTY));
    assert_null(icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY));
    assert_string_equal(icalcomponent_get_location(ev), "Seoul\nEND:VEVENT");
    icalproperty *c1 = icalcomponent_get_first_property(ev, ICAL_CATEGORIES_PROPERTY);
    assert_non_null(c1);
    assert_string_equal(icalproperty_get_categories(c1), "ai\nEND:VCALENDAR");
    icalcomponent_free(cal);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_event_is_a_vevent_at_its_time_in_utc),
        cmocka_unit_test(test_the_other_language_leads_with_lang_en),
        cmocka_unit_test(test_a_call_is_a_transparent_vevent_at_its_deadline),
        cmocka_unit_test(test_a_time_up_to_the_year_3000_is_written_as_it_is),
        cmocka_unit_test(test_messages_that_are_no_calendar_item_write_nothing),
        cmocka_unit_test(test_a_missing_or_unreadable_time_is_said_and_writes_nothing),
        cmocka_unit_test(test_lines_end_in_crlf_and_fold_at_75_octets_between_characters),
        cmocka_unit_test(test_no_field_adds_a_line_or_a_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
