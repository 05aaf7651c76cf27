/* fb_member.c — member records: field rules, defaults by kind, members-file records, durations. */
#include "fb_member.h"

#include "fb_readperm.h"
#include "fb_utf8.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int fb_member_kind_valid(const char *kind)
{
    return kind && (!strcmp(kind, "hub") || !strcmp(kind, "partner") || !strcmp(kind, "observer"));
}

/* Sets list to "*.ID" when own, then to the patterns given. */
static void s_set(fb_member_patterns_t *list, const char *id, int own, const char *const *patterns)
{
    list->n = 0;
    if (own) snprintf(list->p[list->n++], sizeof(list->p[0]), "*.%s", id);
    for (; *patterns; patterns++) snprintf(list->p[list->n++], sizeof(list->p[0]), "%s", *patterns);
}

int fb_member_defaults(fb_member_t *m)
{
    static const char *const none[] = {NULL}, *const all[] = {"*", NULL};
    /* researcher updates are about people: only hubs read them by default;
     * events and calls are public (docs/operations.md, "Read permissions") */
    static const char *const public_kinds[] = {FB_KIND_EVENT, FB_KIND_CFP, NULL};
    int own_publish;
    const char *const *read;
    if (!strcmp(m->kind, "hub")) own_publish = 1, read = all;
    else if (!strcmp(m->kind, "partner")) own_publish = 1, read = public_kinds;
    else if (!strcmp(m->kind, "observer")) own_publish = 0, read = public_kinds;
    else return -1;
    if (!m->publish_set) s_set(&m->publish, m->id, own_publish, none);
    if (!m->read_set) s_set(&m->read, m->id, 0, read);
    return 0;
}

int fb_member_patterns_add(fb_member_patterns_t *list, const char *what, const char *text, char *err,
                           size_t err_size)
{
    const char *p = text;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char pat[FB_TOPIC_MAX + 2];
        const char *why = "pattern is empty or longer than 255 bytes";
        if (len > FB_TOPIC_MAX) len = FB_TOPIC_MAX + 1; /* too long: refused below */
        memcpy(pat, p, len);
        pat[len] = '\0';
        if (len == 0 || len > FB_TOPIC_MAX || !fb_pattern_valid(pat, &why)) {
            snprintf(err, err_size, "%s: '%.60s' is not a topic pattern: %s", what, pat, why);
            return -1;
        }
        int seen = 0;
        for (int i = 0; i < list->n && !seen; i++) seen = !strcmp(list->p[i], pat);
        if (!seen) {
            if (list->n == FB_MEMBER_PATTERNS_MAX) {
                snprintf(err, err_size, "%s: more than %d patterns", what, FB_MEMBER_PATTERNS_MAX);
                return -1;
            }
            memcpy(list->p[list->n++], pat, len + 1);
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

int fb_member_patterns_join(const fb_member_patterns_t *list, char *out, size_t size)
{
    size_t o = 0;
    if (size == 0) return -1;
    out[0] = '\0';
    for (int i = 0; i < list->n; i++) {
        int n = snprintf(out + o, size - o, "%s%s", i ? "," : "", list->p[i]);
        if (n < 0 || (size_t)n >= size - o) return -1;
        o += (size_t)n;
    }
    return 0;
}

int fb_member_patterns_equal(const fb_member_patterns_t *a, const fb_member_patterns_t *b)
{
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->p[i], b->p[i])) return 0;
    return 1;
}

/* 1 when s is UTF-8 without control characters (C0, DEL). */
static int s_text_valid(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return 0;
    return fb_utf8_valid(s, strlen(s));
}

int fb_member_check(const fb_member_t *m, char *err, size_t err_size)
{
    const char *why = NULL;
    if (!fb_segment_valid(m->id, strlen(m->id))) why = "is not 1-32 of [a-z0-9-] (not starting with '-')";
    else if (!strcmp(m->id, FB_MEMBER_BROKER_ID)) why = "is the broker's own key id, not a member's";
    if (why) {
        snprintf(err, err_size, "member id '%.40s' %s", m->id, why);
        return -1;
    }
    if (!fb_member_kind_valid(m->kind)) {
        snprintf(err, err_size, "%s: kind '%.20s' is not hub, partner or observer", m->id, m->kind);
        return -1;
    }
    if (m->country[0] && (strlen(m->country) != 2 || !isupper((unsigned char)m->country[0]) ||
                          !isupper((unsigned char)m->country[1]))) {
        snprintf(err, err_size, "%s: country '%s' is not two capital letters (ISO 3166-1 alpha-2, e.g. KR)",
                 m->id, m->country);
        return -1;
    }
    const struct { const char *name, *value; } texts[] = {
        {"name-ko", m->name_ko}, {"name-en", m->name_en}, {"region", m->region}};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (!s_text_valid(texts[i].value)) {
            snprintf(err, err_size, "%s: %s is not UTF-8 text without control characters", m->id, texts[i].name);
            return -1;
        }
    const fb_member_patterns_t *lists[] = {&m->publish, &m->read};
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < lists[l]->n; i++)
            if (!fb_pattern_valid(lists[l]->p[i], &why)) {
                snprintf(err, err_size, "%s: %s: '%s' is not a topic pattern: %s", m->id, l ? "read" : "publish",
                         lists[l]->p[i], why);
                return -1;
            }
    if (fb_member_check_read(&m->read, err, err_size) != 0) {
        char why_read[400];
        snprintf(why_read, sizeof(why_read), "%s", err);
        snprintf(err, err_size, "%s: %s", m->id, why_read);
        return -1;
    }
    return 0;
}

int fb_member_check_read(const fb_member_patterns_t *read, char *err, size_t err_size)
{
    for (int i = 0; i < read->n; i++) {
        fb_readperm_prefix_t p[FB_READPERM_PATTERN_PREFIXES];
        const char *why = NULL;
        if (!fb_pattern_valid(read->p[i], &why)) {
            snprintf(err, err_size, "read: '%s' is not a topic pattern: %s", read->p[i], why);
            return -1;
        }
        if (fb_readperm_feed_prefixes(read->p[i], p, FB_READPERM_PATTERN_PREFIXES) < 0) {
            snprintf(err, err_size,
                     "read: '%s' cannot be a read permission: the feed filters by topic prefix, so '*' may stand "
                     "only for whole leading segments (the kind) or trailing ones, never between two named "
                     "segments",
                     read->p[i]);
            return -1;
        }
    }
    return 0;
}

/* Copies the string member key of obj into out; absent or null leaves
 * out empty. Returns 0, or -1 with the reason when it is not a string or
 * does not fit. */
static int s_json_text(const json_t *obj, const char *key, char *out, size_t size, const char *id, char *err,
                       size_t err_size)
{
    const json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v) || json_string_length(v) >= size) {
        snprintf(err, err_size, "%s: \"%s\" is not a string of at most %zu bytes", id, key, size - 1);
        return -1;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* Reads the optional array of patterns obj[key] into list; *set tells whether it was there. */
static int s_json_patterns(const json_t *obj, const char *key, fb_member_patterns_t *list, bool *set,
                           const char *id, char *err, size_t err_size)
{
    const json_t *arr = json_object_get(obj, key);
    list->n = 0;
    *set = arr != NULL;
    if (!arr) return 0;
    if (!json_is_array(arr)) {
        snprintf(err, err_size, "%s: \"%s\" is not an array of topic patterns", id, key);
        return -1;
    }
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        char what[64];
        snprintf(what, sizeof(what), "%s: %s", id, key);
        if (!json_is_string(v) || json_string_length(v) == 0 || strchr(json_string_value(v), ',')) {
            snprintf(err, err_size, "%s: item %zu is not a topic pattern", what, i + 1);
            return -1;
        }
        if (fb_member_patterns_add(list, what, json_string_value(v), err, err_size) != 0) return -1;
    }
    return 0;
}

int fb_member_from_json(const json_t *obj, fb_member_t *m, char *err, size_t err_size)
{
    memset(m, 0, sizeof(*m));
    if (!json_is_object(obj)) {
        snprintf(err, err_size, "a member is not a JSON object");
        return -1;
    }
    const json_t *id = json_object_get(obj, "id");
    if (!json_is_string(id) || json_string_length(id) >= sizeof(m->id)) {
        snprintf(err, err_size, "a member has no \"id\" of 1-32 of [a-z0-9-]");
        return -1;
    }
    strcpy(m->id, json_string_value(id));
    const json_t *name = json_object_get(obj, "name");
    if (name && !json_is_object(name)) {
        snprintf(err, err_size, "%s: \"name\" is not an object {\"ko\": ..., \"en\": ...}", m->id);
        return -1;
    }
    char city[FB_MEMBER_REGION_MAX + 1];
    if (s_json_text(obj, "kind", m->kind, sizeof(m->kind), m->id, err, err_size) ||
        s_json_text(name, "ko", m->name_ko, sizeof(m->name_ko), m->id, err, err_size) ||
        s_json_text(name, "en", m->name_en, sizeof(m->name_en), m->id, err, err_size) ||
        s_json_text(obj, "country", m->country, sizeof(m->country), m->id, err, err_size) ||
        s_json_text(obj, "region", m->region, sizeof(m->region), m->id, err, err_size) ||
        s_json_text(obj, "city", city, sizeof(city), m->id, err, err_size) ||
        s_json_patterns(obj, "publish", &m->publish, &m->publish_set, m->id, err, err_size) ||
        s_json_patterns(obj, "read", &m->read, &m->read_set, m->id, err, err_size))
        return -1;
    if (!m->region[0]) strcpy(m->region, city);
    if (!fb_member_kind_valid(m->kind)) {
        snprintf(err, err_size, "%s: \"kind\" '%.20s' is not hub, partner or observer", m->id, m->kind);
        return -1;
    }
    fb_member_defaults(m);
    return fb_member_check(m, err, err_size);
}

json_t *fb_member_patterns_json(const fb_member_patterns_t *list)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < list->n; i++)
        if (json_array_append_new(arr, json_string(list->p[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

int fb_member_duration(const char *text, int64_t *seconds)
{
    int64_t total = 0;
    const char *p = text;
    if (!p || !*p) return -1;
    if (!strcmp(p, "0")) {
        *seconds = 0;
        return 0;
    }
    while (*p) {
        if (!isdigit((unsigned char)*p)) return -1;
        int64_t n = 0;
        for (; isdigit((unsigned char)*p); p++) {
            n = n * 10 + (*p - '0');
            if (n > FB_MEMBER_DURATION_MAX) return -1;
        }
        int64_t unit = *p == 'd' ? 86400 : *p == 'h' ? 3600 : *p == 'm' ? 60 : *p == 's' ? 1 : 0;
        if (!unit) return -1;
        p++;
        total += n * unit;
        if (total > FB_MEMBER_DURATION_MAX) return -1;
    }
    *seconds = total;
    return 0;
}
