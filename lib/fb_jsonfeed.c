/* fb_jsonfeed.c — stored messages as a JSON Feed (https://jsonfeed.org/version/1.1) for feed readers.
 *
 * The feed is written as replay hands the messages over, oldest first
 * (readers order items by date): the head, then one item a message, then
 * the end. jansson writes every string, so no field a member wrote can
 * break the JSON; the text of an item is fb_msgtext's, with the time and
 * place of an event and the deadline of a call first. */
#include "fb_jsonfeed.h"

#include "fb_msgtext.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_VERSION "https://jsonfeed.org/version/1.1"

/* Writes j (taken) compact; 0, or -1 when out of memory. */
static int s_put(FILE *f, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!s) return -1;
    fputs(s, f);
    free(s);
    return 0;
}

int fb_jsonfeed_begin(fb_jsonfeed_t *jf, FILE *f, const char *title, const char *lang)
{
    jf->f = f;
    jf->items = 0;
    json_t *head = json_pack("{s:s, s:s, s:s}", "version", S_VERSION, "title", title, "language", lang);
    if (!head) return -1;
    char *s = json_dumps(head, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(head);
    if (!s) return -1;
    /* The head's object, left open for the items. */
    s[strlen(s) - 1] = '\0';
    fprintf(f, "%s,\"items\":[", s);
    free(s);
    return 0;
}

/* "2026-03-19T16:00:00+09:00 – 2026-03-19T18:30:00+09:00" of an event, as
 * written; NULL when out of memory. */
static char *s_when(const json_t *ev)
{
    const char *parts[] = {fb_mt_str(ev, "starts_at"), fb_mt_str(ev, "ends_at")};
    return fb_mt_join(parts, 2, " – ");
}

/* The lines an item's text starts with: an event's time and place, a
 * call's deadline (labelled in lang); malloc'd, NULL when out of memory. */
static char *s_lead(const char *kind, const json_t *body, const char *lang)
{
    int ko = strcmp(lang, "en") != 0;
    char *when = NULL, *where = NULL, *out = NULL;
    if (!strcmp(kind, "event")) {
        when = s_when(body);
        where = fb_mt_location(json_object_get(body, "venue"), lang);
        if (when && where) {
            size_t n = strlen(when) + strlen(where) + 32;
            out = malloc(n);
            if (out)
                snprintf(out, n, "%s: %s%s%s%s", ko ? "일시" : "When", when, *where ? "\n" : "",
                         *where ? (ko ? "장소: " : "Where: ") : "", where);
        }
    } else if (!strcmp(kind, "cfp")) {
        const char *parts[] = {fb_mt_deadline_label(lang), fb_mt_str(body, "closes_at")};
        out = fb_mt_join(parts, 2, ": ");
    } else
        out = strdup("");
    free(when);
    free(where);
    return out;
}

/* RFC 3339 in UTC of a time in microseconds. */
static void s_rfc3339(long long us, char out[32])
{
    time_t t = (time_t)(us > 0 ? us / 1000000 : 0);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(out, 32, "1970-01-01T00:00:00Z");
}

int fb_jsonfeed_item(fb_jsonfeed_t *jf, const fb_ics_head_t *h, const json_t *msg, const char *lang)
{
    static const char *const kinds[] = {"event", "cfp", "researcher"};
    const char *kind = NULL;
    const json_t *body = NULL;
    for (size_t i = 0; i < 3 && !kind; i++)
        if (json_is_object(body = json_object_get(msg, kinds[i]))) kind = kinds[i];
    if (!kind) return 0;
    char *title, *lead = s_lead(kind, body, lang), *text = fb_mt_describe(body, kind, lang);
    if (!strcmp(kind, "researcher")) {
        const char *parts[] = {fb_mt_text(body, "name", lang), fb_mt_str(body, "kind")};
        title = fb_mt_join(parts, 2, ": ");
    } else
        title = strdup(fb_mt_text(body, "title", lang));
    const char *parts[] = {lead ? lead : "", text ? text : ""};
    char *content = fb_mt_join(parts, 2, "\n\n"), when[32];
    s_rfc3339(h->created_at_us, when);
    json_t *tags = json_array(), *fields = json_object_get(body, "fields");
    if (tags && !strcmp(kind, "event") && *fb_mt_str(body, "kind"))
        json_array_append_new(tags, json_string(fb_mt_str(body, "kind")));
    for (size_t i = 0; tags && i < json_array_size(fields); i++)
        if (json_is_string(json_array_get(fields, i))) json_array_append(tags, json_array_get(fields, i));
    const char *host = fb_mt_str(body, "host"), *url = fb_mt_str(body, "url");
    json_t *item = title && lead && text && content && tags
                       ? json_pack("{s:s, s:s, s:s, s:s, s:O, s:[{s:s}], s:{s:s, s:s, s:I}}", "id", h->message_id,
                                   "title", title, "content_text", content, "date_published", when, "tags", tags,
                                   "authors", "name", *host ? host : h->origin, "_fedbus", "origin", h->origin,
                                   "topic", h->topic, "global_seq", (json_int_t)h->global_seq)
                       : NULL;
    json_decref(tags);
    if (item && fb_mt_plain_uri(url)) json_object_set_new(item, "url", json_string(url));
    free(title);
    free(lead);
    free(text);
    free(content);
    if (!item) return -1;
    if (jf->items++) fputc(',', jf->f);
    return s_put(jf->f, item) == 0 ? 1 : -1;
}

void fb_jsonfeed_end(fb_jsonfeed_t *jf)
{
    fputs("]}\n", jf->f);
}
