/* fb_ics.c — stored events and calls for proposals as an iCalendar (RFC 5545) calendar.
 *
 * An event becomes a VEVENT at its own time; a call for proposals becomes
 * a VEVENT at its deadline, transparent (it blocks no time). Times are
 * written in UTC, so the calendar needs no VTIMEZONE. The UID is the
 * message_id: a calendar application that subscribes to the file again
 * keeps one entry per message.
 *
 * libical builds the components and escapes text (, ; \ and newlines);
 * lines are folded here at 75 octets, between UTF-8 characters. What a
 * member wrote is still treated as hostile: control characters in text
 * become spaces (a newline stays, as an escaped \n), and a URL that is not
 * one plain run of printable ASCII with a scheme is left out, since
 * libical writes URI values unescaped. */
#include "fb_ics.h"
#include "fb_msgtext.h"
#include "fb_time.h"
#include "fedbus/fedbus.h"

#include <libical/ical.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The latest time libical writes: 3000-12-31T23:59:59Z (a later year comes
 * out as 00000000T000000). */
#define S_MAX_UNIX_S 32535215999LL

/* A copy of s with every control character but the newline made a space
 * (CR LF and a lone CR become a newline); NULL when out of memory. */
static char *s_clean(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *c = malloc(n + 1);
    if (!c) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b == '\r') {
            c[o++] = '\n';
            if (s[i + 1] == '\n') i++;
        } else
            c[o++] = (b < 0x20 && b != '\n') || b == 0x7f ? ' ' : (char)b;
    }
    c[o] = 0;
    return c;
}

/* Unix seconds (0 to S_MAX_UNIX_S) as a UTC icaltime. */
static struct icaltimetype s_utc(long long sec)
{
    time_t t = (time_t)sec;
    struct tm tm;
    struct icaltimetype it = icaltime_null_time();
    if (!gmtime_r(&t, &tm)) return it;
    it.year = tm.tm_year + 1900;
    it.month = tm.tm_mon + 1;
    it.day = tm.tm_mday;
    it.hour = tm.tm_hour;
    it.minute = tm.tm_min;
    it.second = tm.tm_sec;
    it.zone = icaltimezone_get_utc_timezone();
    return it;
}

/* A time field (RFC 3339 text) as a UTC icaltime; 0, -1 when it is
 * missing or unreadable, -2 when it is before 1970 or after 3000. */
static int s_time(const json_t *obj, const char *key, struct icaltimetype *t)
{
    const char *s = fb_mt_str(obj, key);
    int64_t us;
    int off;
    if (!*s || fb_time_parse(s, &us, &off) != 0) return -1;
    long long sec = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    if (sec < 0 || sec > S_MAX_UNIX_S) return -2;
    *t = s_utc(sec);
    return 0;
}

/* Adds p to c; -1 when p is NULL (out of memory). */
static int s_add(icalcomponent *c, icalproperty *p)
{
    if (!p) return -1;
    icalcomponent_add_property(c, p);
    return 0;
}

/* Whether s is nothing but spaces and newlines (a reader would see an
 * empty value, which is an error for most properties). */
static int s_blank(const char *s)
{
    return s[strspn(s, " \n")] == 0;
}

/* Adds a text property made by make from a cleaned copy of v (nothing
 * when v is blank). */
static int s_add_text(icalcomponent *c, icalproperty *(*make)(const char *), const char *v)
{
    char *clean = s_clean(v);
    if (!clean) return -1;
    int rc = s_blank(clean) ? 0 : s_add(c, make(clean));
    free(clean);
    return rc;
}

/* Adds X-name with a text value (escaped like any text; nothing when v is
 * blank). */
static int s_add_x(icalcomponent *c, const char *name, const char *v)
{
    char *clean = s_clean(v);
    if (clean && s_blank(clean)) {
        free(clean);
        return 0;
    }
    icalproperty *p = clean ? icalproperty_new(ICAL_X_PROPERTY) : NULL;
    icalvalue *val = p ? icalvalue_new_text(clean) : NULL;
    free(clean);
    if (!val) {
        if (p) icalproperty_free(p);
        return -1;
    }
    icalproperty_set_x_name(p, name);
    icalproperty_set_value(p, val);
    return s_add(c, p);
}

/* The length of the UTF-8 character at p (1 for a stray byte). */
static size_t s_char_len(const unsigned char *p)
{
    size_t k = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 1;
    for (size_t j = 1; j < k; j++)
        if ((p[j] & 0xc0) != 0x80) return j;
    return k;
}

/* Writes libical's text s to f with its lines folded again: libical 3.0
 * folds at 75 octets but may cut a UTF-8 character in two, which a reader
 * then shows as garbage. Its folds are undone (a CRLF and a space go), and
 * each line folded again at 75 octets, between characters. Returns 0, or
 * -1 when out of memory. */
static int s_put_folded(FILE *f, const char *s)
{
    size_t n = strlen(s), o = 0;
    char *u = malloc(n + 1);
    if (!u) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && s[i + 1] == '\n' && (s[i + 2] == ' ' || s[i + 2] == '\t')) {
            i += 2;
            continue;
        }
        u[o++] = s[i];
    }
    u[o] = 0;
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)u; *p;) {
        if (p[0] == '\r' && p[1] == '\n') {
            fputs("\r\n", f);
            col = 0;
            p += 2;
            continue;
        }
        size_t k = s_char_len(p);
        if (col + k > 75) {
            fputs("\r\n ", f);
            col = 1;
        }
        fwrite(p, 1, k, f);
        col += k;
        p += k;
    }
    free(u);
    return 0;
}

int fb_ics_begin(FILE *f, const char *name)
{
    fprintf(f, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//fedbus//fedbus %s//EN\r\nCALSCALE:GREGORIAN\r\n"
               "METHOD:PUBLISH\r\n",
            fb_version());
    if (!*name) return 0;
    /* A property alone is written through a component holding it. */
    icalcomponent *c = icalcomponent_new(ICAL_X_COMPONENT);
    if (!c || s_add_x(c, "X-WR-CALNAME", name) != 0) {
        if (c) icalcomponent_free(c);
        return -1;
    }
    char *s = icalproperty_as_ical_string_r(icalcomponent_get_first_property(c, ICAL_X_PROPERTY));
    icalcomponent_free(c);
    if (!s) return -1;
    int rc = s_put_folded(f, s);
    icalmemory_free_buffer(s);
    return rc;
}

int fb_ics_item(FILE *f, const fb_ics_head_t *h, const json_t *msg, const char *lang, char *why, size_t whysize)
{
    const json_t *ev = json_object_get(msg, "event"), *cfp = json_object_get(msg, "cfp");
    const json_t *body = ev ? ev : cfp;
    if (!json_is_object(body)) return 0;
    const char *key = ev ? "starts_at" : "closes_at";
    struct icaltimetype start, end, stamp;
    int trc = s_time(body, key, &start);
    if (trc != 0) {
        if (trc == -2) snprintf(why, whysize, "has a %s out of a calendar's range (1970 to 3000)", key);
        else snprintf(why, whysize, "has %s %s", *fb_mt_str(body, key) ? "an unreadable" : "no", key);
        return -1;
    }
    int has_end = ev && s_time(body, "ends_at", &end) == 0;
    long long created = h->created_at_us > 0 ? h->created_at_us / 1000000 : 0;
    stamp = s_utc(created > S_MAX_UNIX_S ? S_MAX_UNIX_S : created);
    icalcomponent *c = icalcomponent_new_vevent();
    if (!c) goto oom;
    char uid[80], seq[24];
    snprintf(uid, sizeof(uid), "%s@fedbus", h->message_id);
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long)h->global_seq);
    const char *sparts[] = {ev ? "" : fb_mt_deadline_label(lang), fb_mt_text(body, "title", lang)};
    char *summary = fb_mt_join(sparts, 2, ": "), *desc = fb_mt_describe(body, ev ? "event" : "cfp", lang);
    int rc = !summary || !desc || s_add(c, icalproperty_new_uid(uid)) || s_add(c, icalproperty_new_dtstamp(stamp)) ||
             s_add(c, icalproperty_new_dtstart(start)) || (has_end && s_add(c, icalproperty_new_dtend(end))) ||
             s_add_text(c, icalproperty_new_summary, summary) || s_add_text(c, icalproperty_new_description, desc);
    free(summary);
    free(desc);
    if (ev && !rc) {
        char *where = fb_mt_location(json_object_get(ev, "venue"), lang);
        rc = where ? s_add_text(c, icalproperty_new_location, where) : -1;
        free(where);
    }
    const char *url = fb_mt_str(body, "url");
    if (!rc && fb_mt_plain_uri(url)) rc = s_add(c, icalproperty_new_url(url));
    if (!rc && !ev) rc = s_add(c, icalproperty_new_transp(ICAL_TRANSP_TRANSPARENT));
    if (!rc && ev) rc = s_add_text(c, icalproperty_new_categories, fb_mt_str(ev, "kind"));
    const json_t *fields = json_object_get(body, "fields");
    for (size_t i = 0; !rc && i < json_array_size(fields); i++) {
        const char *tag = json_string_value(json_array_get(fields, i));
        rc = s_add_text(c, icalproperty_new_categories, tag ? tag : "");
    }
    if (!rc) rc = s_add_x(c, "X-FEDBUS-ORIGIN", h->origin) || s_add_x(c, "X-FEDBUS-TOPIC", h->topic) ||
                  s_add_x(c, "X-FEDBUS-GLOBAL-SEQ", seq);
    char *s = rc ? NULL : icalcomponent_as_ical_string_r(c);
    icalcomponent_free(c);
    if (!s) goto oom;
    rc = s_put_folded(f, s);
    icalmemory_free_buffer(s);
    if (rc != 0) goto oom;
    return 1;
oom:
    snprintf(why, whysize, "out of memory");
    return -1;
}

void fb_ics_end(FILE *f)
{
    fputs("END:VCALENDAR\r\n", f);
}
