/* fb_ics.c — stored events and calls for proposals as an iCalendar (RFC 5545) calendar.
 *
 * An event becomes a VEVENT at its own time; a call for proposals becomes
 * a VEVENT at its deadline, transparent (it blocks no time). Times are
 * written in UTC, so the calendar needs no VTIMEZONE. The UID is the
 * message_id: a calendar application that subscribes to the file again
 * keeps one entry per message.
 *
 * libical builds the components and escapes text (, ; \ and newlines);
 * lines are folded here at 75 octets, between UTF-8 characters. What a member wrote is still treated as
 * hostile: control characters in text become spaces (a newline stays, as
 * an escaped \n), and a URL that is not one plain run of printable ASCII
 * with a scheme is left out, since libical writes URI values unescaped. */
#include "fb_ics.h"
#include "fb_time.h"
#include "fedbus/fedbus.h"

#include <libical/ical.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The latest time libical writes: 3000-12-31T23:59:59Z (a later year comes
 * out as 00000000T000000). */
#define S_MAX_UNIX_S 32535215999LL

/* Labels in the description, in the calendar's language. */
typedef struct {
    const char *deadline, *host, *series, *registration, *capacity, *online, *programme, *budget, *awards,
        *eligibility, *contact, *opens;
} s_labels_t;

static const s_labels_t s_ko = {"마감", "주최", "시리즈", "참가 신청", "정원", "온라인", "사업", "예산", "선정",
                                "자격", "문의", "접수 시작"};
static const s_labels_t s_en = {"Deadline", "Host", "Series", "Registration", "Capacity", "Online", "Programme",
                                "Budget", "Awards", "Eligibility", "Contact", "Opens"};

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

/* Whether s can be a URI value as it is: printable ASCII, no space, a
 * scheme before the first colon. */
static int s_plain_uri(const char *s)
{
    const char *colon = strchr(s, ':');
    if (!colon || colon == s) return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) return 0;
    for (const char *p = s; p < colon; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (p > s && strchr("0123456789+-.", *p))))
            return 0;
    return 1;
}

static const char *s_str(const json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

/* A Text's words in lang, else in the other language. */
static const char *s_text(const json_t *obj, const char *key, const char *lang)
{
    const json_t *t = json_object_get(obj, key);
    const char *mine = s_str(t, lang), *other = s_str(t, strcmp(lang, "en") ? "en" : "ko");
    return *mine ? mine : other;
}

/* A Text's words in the other language, when both are there. */
static const char *s_text_other(const json_t *obj, const char *key, const char *lang)
{
    const json_t *t = json_object_get(obj, key);
    const char *mine = s_str(t, lang), *other = s_str(t, strcmp(lang, "en") ? "en" : "ko");
    return *mine && *other && strcmp(mine, other) ? other : "";
}

/* Unix seconds (0 to S_MAX_UNIX_S) as a UTC icaltime, by gmtime_r():
 * libical's own conversion gives a null time past 2038 on some builds. */
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
    const char *s = s_str(obj, key);
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

/* The description: lines appended as "label: value" or alone, a blank
 * line between groups. */
typedef struct {
    FILE *m;
    char *buf;
    size_t len;
    int lines;
    int gap; /* a blank line before the next line, if one comes */
} s_desc_t;

static void s_line(s_desc_t *d, const char *label, const char *v)
{
    if (!*v) return;
    if (d->lines++) fputs(d->gap ? "\n\n" : "\n", d->m);
    d->gap = 0;
    if (label) fprintf(d->m, "%s: ", label);
    fputs(v, d->m);
}

/* The lines that follow are a group of their own. */
static void s_gap(s_desc_t *d)
{
    d->gap = 1;
}

/* 1234567 -> "1,234,567". */
static void s_thousands(long long v, char *out, size_t size)
{
    char digits[32];
    snprintf(digits, sizeof(digits), "%lld", v < 0 ? 0 : v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < size; i++) {
        if (i && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = 0;
}

/* An integer field that JSON may carry as a number or as text (int64). */
static long long s_int(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) return (long long)json_integer_value(v);
    if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

/* The non-empty ones of parts joined by sep (malloc'd; NULL when out of
 * memory). */
static char *s_join(const char *const *parts, size_t n, const char *sep)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++) len += strlen(parts[i]) + strlen(sep);
    char *out = malloc(len);
    if (!out) return NULL;
    out[0] = 0;
    for (size_t i = 0; i < n; i++)
        if (*parts[i]) {
            if (out[0]) strcat(out, sep);
            strcat(out, parts[i]);
        }
    return out;
}

/* The summary in lang, then, as a group of their own, the title and the
 * summary in the other language; the lines after are a group too. */
static void s_both_languages(s_desc_t *d, const json_t *body, const char *lang)
{
    s_line(d, NULL, s_text(body, "summary", lang));
    s_gap(d);
    s_line(d, NULL, s_text_other(body, "title", lang));
    s_line(d, NULL, s_text_other(body, "summary", lang));
    s_gap(d);
}

/* "label: N" for a count above 0. */
static void s_count_line(s_desc_t *d, const char *label, long long v)
{
    char n[32];
    snprintf(n, sizeof(n), "%lld", v);
    if (v > 0) s_line(d, label, n);
}

static void s_event_desc(s_desc_t *d, const json_t *e, const char *lang, const s_labels_t *l)
{
    s_both_languages(d, e, lang);
    s_line(d, l->host, s_str(e, "host"));
    s_line(d, l->series, s_str(e, "series"));
    s_line(d, l->registration, s_str(e, "registration_url"));
    s_line(d, l->online, s_str(json_object_get(e, "venue"), "online_url"));
    s_count_line(d, l->capacity, s_int(e, "capacity"));
}

static void s_cfp_desc(s_desc_t *d, const json_t *c, const char *lang, const s_labels_t *l)
{
    s_both_languages(d, c, lang);
    s_line(d, l->programme, s_text(c, "programme", lang));
    const json_t *b = json_object_get(c, "budget");
    char money[64] = "";
    if (b && s_int(b, "amount") > 0) {
        char n[40];
        s_thousands(s_int(b, "amount"), n, sizeof(n));
        snprintf(money, sizeof(money), "%s %.8s", n, s_str(b, "currency"));
    }
    s_line(d, l->budget, money);
    s_count_line(d, l->awards, s_int(c, "awards"));
    s_line(d, l->opens, s_str(c, "opens_at"));
    s_line(d, l->eligibility, s_text(c, "eligibility", lang));
    const json_t *ct = json_object_get(c, "contact");
    const char *parts[] = {s_str(ct, "name"), s_str(ct, "organisation"), s_str(ct, "email"), s_str(ct, "phone")};
    char *contact = s_join(parts, 4, ", ");
    if (contact) s_line(d, l->contact, contact);
    free(contact);
    s_line(d, l->host, s_str(c, "host"));
}

/* "name, address, city, country" of a venue, the parts there are, else
 * its online URL (malloc'd; NULL when out of memory). */
static char *s_location(const json_t *v, const char *lang)
{
    const char *parts[] = {s_text(v, "name", lang), s_str(v, "address"), s_str(v, "city"), s_str(v, "country"),
                           s_str(v, "online_url")};
    return s_join(parts, *parts[0] || *parts[1] || *parts[2] || *parts[3] ? 4 : 5, ", ");
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
    const s_labels_t *l = strcmp(lang, "en") ? &s_ko : &s_en;
    const char *key = ev ? "starts_at" : "closes_at";
    struct icaltimetype start, end, stamp;
    int trc = s_time(body, key, &start);
    if (trc != 0) {
        if (trc == -2) snprintf(why, whysize, "has a %s out of a calendar's range (1970 to 3000)", key);
        else snprintf(why, whysize, "has %s %s", *s_str(body, key) ? "an unreadable" : "no", key);
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
    const char *sparts[] = {ev ? "" : l->deadline, s_text(body, "title", lang)};
    char *summary = s_join(sparts, 2, ": ");
    s_desc_t d = {0};
    d.m = summary ? open_memstream(&d.buf, &d.len) : NULL;
    if (!d.m) {
        free(summary);
        icalcomponent_free(c);
        goto oom;
    }
    if (ev) s_event_desc(&d, ev, lang, l);
    else s_cfp_desc(&d, cfp, lang, l);
    int derr = fclose(d.m);
    int rc = derr != 0 || s_add(c, icalproperty_new_uid(uid)) || s_add(c, icalproperty_new_dtstamp(stamp)) ||
             s_add(c, icalproperty_new_dtstart(start)) || (has_end && s_add(c, icalproperty_new_dtend(end))) ||
             s_add_text(c, icalproperty_new_summary, summary) ||
             s_add_text(c, icalproperty_new_description, d.buf ? d.buf : "");
    free(summary);
    free(d.buf);
    if (ev && !rc) {
        char *where = s_location(json_object_get(ev, "venue"), lang);
        rc = where ? s_add_text(c, icalproperty_new_location, where) : -1;
        free(where);
    }
    const char *url = s_str(body, "url");
    if (!rc && s_plain_uri(url)) rc = s_add(c, icalproperty_new_url(url));
    if (!rc && !ev) rc = s_add(c, icalproperty_new_transp(ICAL_TRANSP_TRANSPARENT));
    if (!rc && ev) rc = s_add_text(c, icalproperty_new_categories, s_str(ev, "kind"));
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
