/* fb_forpeople.c — the node's feeds for people: the broker's history through replay, as iCalendar or JSON Feed. */
#include "fb_forpeople.h"

#include "fb_ics.h"
#include "fb_jsonfeed.h"
#include "fedbus/fedbus.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    FILE *m;
    fb_forpeople_format_t format;
    fb_jsonfeed_t jf;
    const char *lang;
    long long items, failed;
    int oom;
} s_build_t;

static int s_take(const fb_message_t *msg, void *arg)
{
    s_build_t *b = arg;
    if (fb_message_verified(msg) == FB_MSG_FAILED) {
        b->failed++;
        return 0;
    }
    char *line = fb_message_json(msg), why[128];
    json_t *j = line ? json_loads(line, 0, NULL) : NULL;
    free(line);
    if (!j) return 0; /* a payload this build cannot read: no item */
    fb_ics_head_t h = {msg->message_id, msg->origin, msg->topic, msg->created_at_us, msg->global_seq};
    int rc;
    if (b->format == FB_FORPEOPLE_JSONFEED) {
        rc = fb_jsonfeed_item(&b->jf, &h, j, b->lang);
        if (rc < 0) snprintf(why, sizeof(why), "out of memory");
    } else
        rc = fb_ics_item(b->m, &h, j, b->lang, why, sizeof(why));
    json_decref(j);
    if (rc < 0 && strcmp(why, "out of memory") == 0) {
        b->oom = 1;
        return 1;
    }
    b->items += rc == 1;
    return 0;
}

int fb_forpeople_build(const fb_forpeople_src_t *src, fb_forpeople_format_t format, const char *const *patterns,
                       int npatterns, int64_t since_us, const char *lang, const char *name, char **out, size_t *len,
                       long long *items, long long *failed, char *why, size_t whysize)
{
    *out = NULL;
    *len = 0;
    *items = *failed = 0;
    s_build_t b = {.format = format, .lang = lang};
    b.m = open_memstream(out, len);
    int head = !b.m ? -1
               : format == FB_FORPEOPLE_JSONFEED ? fb_jsonfeed_begin(&b.jf, b.m, name, lang)
                                                 : fb_ics_begin(b.m, name);
    if (head != 0) {
        if (b.m) fclose(b.m);
        free(*out);
        *out = NULL;
        snprintf(why, whysize, "out of memory");
        return FB_ENOMEM;
    }
    fb_endpoint_opts_t e = {.endpoint = src->replay};
    if (src->curve && src->curve->on) {
        e.curve_serverkey = src->curve->server_key;
        e.curve_publickey = src->curve->public_key;
        e.curve_secretkey = src->curve->secret_key;
    }
    fb_verify_options_t v = {.mode = FB_VERIFY_ON};
    int rc = fb_replay_verify(&e, &v, patterns, npatterns, 0, since_us, FB_FORPEOPLE_MESSAGES_MAX, s_take, &b,
                              src->timeout_ms);
    if (rc == FB_EVERIFY) rc = FB_OK; /* those that failed are left out */
    if (rc == FB_OK && b.oom) rc = FB_ENOMEM;
    if (rc == FB_OK && format == FB_FORPEOPLE_JSONFEED) fb_jsonfeed_end(&b.jf);
    else if (rc == FB_OK) fb_ics_end(b.m);
    if (fclose(b.m) != 0 && rc == FB_OK) rc = FB_ENOMEM;
    if (rc != FB_OK) {
        snprintf(why, whysize, "%s", rc == FB_ENOMEM ? "out of memory" : fb_strerror(rc));
        free(*out);
        *out = NULL;
        *len = 0;
        return rc;
    }
    *items = b.items;
    *failed = b.failed;
    return FB_OK;
}
