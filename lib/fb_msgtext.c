/* fb_msgtext.c — a message's fields as text for people: the words calendars and feeds show (fb_ics, fb_jsonfeed).
 *
 * Everything reads the message's JSON form (fb_message_json()), where a
 * Text is {"ko": ..., "en": ...} and times are RFC 3339 text. The text in
 * the language asked for comes first, the other language after it, then
 * the facts a reader wants at a glance, labelled in that language. */
#include "fb_msgtext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Labels in the description, in the calendar's language. */
typedef struct {
    const char *deadline, *host, *series, *registration, *capacity, *online, *programme, *budget, *awards,
        *eligibility, *contact, *opens, *affiliation, *team, *date;
} s_labels_t;

static const s_labels_t s_ko = {"마감", "주최", "시리즈", "참가 신청", "정원", "온라인", "사업", "예산", "선정",
                                "자격", "문의", "접수 시작", "소속", "연구팀", "일자"};
static const s_labels_t s_en = {"Deadline", "Host", "Series", "Registration", "Capacity", "Online", "Programme",
                                "Budget", "Awards", "Eligibility", "Contact", "Opens", "Affiliation", "Team",
                                "Date"};

static const s_labels_t *s_labels(const char *lang)
{
    return strcmp(lang, "en") ? &s_ko : &s_en;
}

const char *fb_mt_deadline_label(const char *lang)
{
    return s_labels(lang)->deadline;
}

/* Whether s can be a URI value as it is: printable ASCII, no space, a
 * scheme before the first colon. */
int fb_mt_plain_uri(const char *s)
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

const char *fb_mt_str(const json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

/* A Text's words in lang, else in the other language. */
const char *fb_mt_text(const json_t *obj, const char *key, const char *lang)
{
    const json_t *t = json_object_get(obj, key);
    const char *mine = fb_mt_str(t, lang), *other = fb_mt_str(t, strcmp(lang, "en") ? "en" : "ko");
    return *mine ? mine : other;
}

/* A Text's words in the other language, when both are there. */
static const char *s_text_other(const json_t *obj, const char *key, const char *lang)
{
    const json_t *t = json_object_get(obj, key);
    const char *mine = fb_mt_str(t, lang), *other = fb_mt_str(t, strcmp(lang, "en") ? "en" : "ko");
    return *mine && *other && strcmp(mine, other) ? other : "";
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
long long fb_mt_int(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) return (long long)json_integer_value(v);
    if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

/* The non-empty ones of parts joined by sep (malloc'd; NULL when out of
 * memory). */
char *fb_mt_join(const char *const *parts, size_t n, const char *sep)
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
    s_line(d, NULL, fb_mt_text(body, "summary", lang));
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
    s_line(d, l->host, fb_mt_str(e, "host"));
    s_line(d, l->series, fb_mt_str(e, "series"));
    s_line(d, l->registration, fb_mt_str(e, "registration_url"));
    s_line(d, l->online, fb_mt_str(json_object_get(e, "venue"), "online_url"));
    s_count_line(d, l->capacity, fb_mt_int(e, "capacity"));
}

static void s_cfp_desc(s_desc_t *d, const json_t *c, const char *lang, const s_labels_t *l)
{
    s_both_languages(d, c, lang);
    s_line(d, l->programme, fb_mt_text(c, "programme", lang));
    const json_t *b = json_object_get(c, "budget");
    char money[64] = "";
    if (b && fb_mt_int(b, "amount") > 0) {
        char n[40];
        s_thousands(fb_mt_int(b, "amount"), n, sizeof(n));
        snprintf(money, sizeof(money), "%s %.8s", n, fb_mt_str(b, "currency"));
    }
    s_line(d, l->budget, money);
    s_count_line(d, l->awards, fb_mt_int(c, "awards"));
    s_line(d, l->opens, fb_mt_str(c, "opens_at"));
    s_line(d, l->eligibility, fb_mt_text(c, "eligibility", lang));
    const json_t *ct = json_object_get(c, "contact");
    const char *parts[] = {fb_mt_str(ct, "name"), fb_mt_str(ct, "organisation"), fb_mt_str(ct, "email"), fb_mt_str(ct, "phone")};
    char *contact = fb_mt_join(parts, 4, ", ");
    if (contact) s_line(d, l->contact, contact);
    free(contact);
    s_line(d, l->host, fb_mt_str(c, "host"));
}

/* "name, address, city, country" of a venue, the parts there are, else
 * its online URL (malloc'd; NULL when out of memory). */
char *fb_mt_location(const json_t *v, const char *lang)
{
    const char *parts[] = {fb_mt_text(v, "name", lang), fb_mt_str(v, "address"), fb_mt_str(v, "city"), fb_mt_str(v, "country"),
                           fb_mt_str(v, "online_url")};
    return fb_mt_join(parts, *parts[0] || *parts[1] || *parts[2] || *parts[3] ? 4 : 5, ", ");
}


static void s_researcher_desc(s_desc_t *d, const json_t *r, const char *lang, const s_labels_t *l)
{
    s_line(d, NULL, fb_mt_text(r, "detail", lang));
    s_gap(d);
    s_line(d, NULL, s_text_other(r, "name", lang));
    s_line(d, NULL, s_text_other(r, "detail", lang));
    s_gap(d);
    s_line(d, l->affiliation, fb_mt_str(r, "affiliation"));
    s_line(d, l->team, fb_mt_str(r, "team"));
    s_line(d, l->date, fb_mt_str(r, "occurred_at"));
}

char *fb_mt_describe(const json_t *body, const char *kind, const char *lang)
{
    s_desc_t d = {0};
    d.m = open_memstream(&d.buf, &d.len);
    if (!d.m) return NULL;
    const s_labels_t *l = s_labels(lang);
    if (!strcmp(kind, "event")) s_event_desc(&d, body, lang, l);
    else if (!strcmp(kind, "cfp")) s_cfp_desc(&d, body, lang, l);
    else if (!strcmp(kind, "researcher")) s_researcher_desc(&d, body, lang, l);
    if (fclose(d.m) != 0) {
        free(d.buf);
        return NULL;
    }
    return d.buf;
}
