/* fuzz_ics.c — a message's JSON to an iCalendar item (fb_ics) and a JSON Feed item (fb_jsonfeed), as replay --format=ics|jsonfeed and the node's feeds write them.
 *
 * What a member published is hostile: no field of it may add a line, a
 * property or a component to the calendar. Every item written must read
 * back with libical as one VEVENT holding only the properties fb_ics
 * writes, in lines that end in CRLF, of at most 75 octets, folded between
 * UTF-8 characters. Every feed written must read back as JSON with the
 * items written, each with the message_id. The first byte picks the
 * language. */
#include "fuzz.h"

#include "fb_ics.h"
#include "fb_jsonfeed.h"

#include <libical/ical.h>

/* The properties fb_ics writes. */
static int s_ours(icalproperty_kind k)
{
    return k == ICAL_UID_PROPERTY || k == ICAL_DTSTAMP_PROPERTY || k == ICAL_DTSTART_PROPERTY ||
           k == ICAL_DTEND_PROPERTY || k == ICAL_SUMMARY_PROPERTY || k == ICAL_DESCRIPTION_PROPERTY ||
           k == ICAL_LOCATION_PROPERTY || k == ICAL_URL_PROPERTY || k == ICAL_TRANSP_PROPERTY ||
           k == ICAL_CATEGORIES_PROPERTY || k == ICAL_X_PROPERTY;
}

static void s_check_lines(const char *text, size_t len)
{
    for (const char *p = text; p < text + len;) {
        const char *eol = strstr(p, "\r\n");
        FZ_CHECK(eol != NULL, "a line does not end in CRLF");
        size_t n = (size_t)(eol - p);
        FZ_CHECK(n <= 75, "a line is longer than 75 octets");
        FZ_CHECK(memchr(p, '\n', n) == NULL && memchr(p, '\r', n) == NULL, "a bare CR or LF inside a line");
        if (*p == ' ') { /* a fold: it continues a character-whole line */
            p++;
            n--;
        }
        FZ_CHECK(n == 0 || ((unsigned char)*p & 0xc0) != 0x80, "a line starts inside a UTF-8 character");
        p = eol + 2;
    }
}

/* The feed of msg alone must read back as JSON Feed with its one item. */
static void s_check_feed(const fb_ics_head_t *h, const json_t *msg, const char *lang)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FZ_CHECK(f != NULL, "out of memory");
    fb_jsonfeed_t jf;
    FZ_CHECK(fb_jsonfeed_begin(&jf, f, "fedbus: fuzz", lang) == 0, "out of memory");
    int rc = fb_jsonfeed_item(&jf, h, msg, lang);
    fb_jsonfeed_end(&jf);
    fclose(f);
    FZ_CHECK(rc >= -1 && rc <= 1, "fb_jsonfeed_item returned something else");
    json_t *feed = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    FZ_CHECK(feed != NULL, "the feed does not read back as JSON");
    json_t *items = json_object_get(feed, "items");
    FZ_CHECK(json_is_array(items) && json_array_size(items) == (rc == 1 ? 1u : 0u), "the feed lost or gained an item");
    if (rc == 1)
        FZ_CHECK(!strcmp(json_string_value(json_object_get(json_array_get(items, 0), "id")), h->message_id),
                 "the item is not the message's");
    json_decref(feed);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *lang = data[0] & 1 ? "en" : "ko";
    json_t *j = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (!j) return 0;
    char *buf = NULL, why[128];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FZ_CHECK(f != NULL, "out of memory");
    fb_ics_head_t h = {"019b76da-a80e-7f93-877c-dbb165d1cee3", "kr-busan", "event.kr-busan.forum",
                       1767225600000000LL, 7};
    int rc = fb_ics_item(f, &h, j, lang, why, sizeof(why));
    fclose(f);
    s_check_feed(&h, j, lang);
    json_decref(j);
    FZ_CHECK(rc >= -1 && rc <= 1, "fb_ics_item returned something else");
    if (rc != 1) {
        FZ_CHECK(len == 0, "an item that was not written left lines behind");
        free(buf);
        return 0;
    }
    s_check_lines(buf, len);
    icalcomponent *c = icalparser_parse_string(buf);
    FZ_CHECK(c != NULL, "the item does not read back");
    FZ_CHECK(icalcomponent_isa(c) == ICAL_VEVENT_COMPONENT, "the item is no VEVENT");
    FZ_CHECK(icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT) == NULL, "the item holds a component");
    int uids = 0;
    for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_ANY_PROPERTY); p;
         p = icalcomponent_get_next_property(c, ICAL_ANY_PROPERTY)) {
        FZ_CHECK(s_ours(icalproperty_isa(p)), "the item holds a property fb_ics does not write");
        uids += icalproperty_isa(p) == ICAL_UID_PROPERTY;
    }
    FZ_CHECK(uids == 1, "the item has not one UID");
    icalcomponent_free(c);
    free(buf);
    return 0;
}
