/* fb_http.c — the node's HTTP API: POST /v1/publish, GET /v1/health, GET /v1/calendar.ics and GET /v1/feed.json as fb_httpd routes.
 *
 * A POST's body must be sent as application/json (UTF-8); any other
 * Content-Type, or none, is answered 415 naming the one expected, so that
 * a form post or a body in another charset is never read as JSON.
 *
 * An array is checked whole before any of it is sent: one item that is
 * not valid and nothing is sent — the answer (400 or 422) has a verdict
 * per item, each with the message_id it has or was given, so that a retry
 * is exact. A valid array is then sent at once, each item getting its own
 * verdict as before.
 *
 * Every 503 of POST /v1/publish (the outbox full, the node's journal or the
 * broker's store unavailable, the node loop unreachable) carries
 * Retry-After: each is transient, and the same message_id posted again is
 * stored once. */
#include "fb_http.h"

#include "fb_forpeople.h"
#include "fb_envelope.h"
#include "fb_crypto.h"
#include "fb_httpd.h"
#include "fb_json.h"
#include "fb_log.h"
#include "fb_time.h"
#include "fedbus/fedbus.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct fb_http {
    fb_httpd_t *httpd;
    char member[64];
    char submit[256];
    const fb_node_t *node;
    char token[FB_HTTPD_TOKEN_MAX + 1]; /* "": none asked for */
    size_t token_len;
    long long max_body; /* bytes of a request body (max-frame), for the 413 */
    char replay[256];   /* the broker's replay endpoint, for the calendar and the feed */
    fb_curve_t curve;   /* CURVE to it, as the node's member */
    atomic_int for_people; /* calendar and feed requests being answered */
};

/* The most calendar and feed requests answered at once: each is a replay
 * from the broker, so that a crowd of readers cannot turn the node into a
 * flood of replays. */
#define S_FOR_PEOPLE_MAX 4

/* Seconds a client is asked to wait before it posts again after a 503. */
#define S_RETRY_AFTER "5"

/* The media type POST /v1/publish takes (and answers with). */
#define S_JSON_TYPE "application/json"

/* The answer when there is no memory to write another. */
static const char s_oom_json[] =
    "{\"status\":\"rejected\",\"reason\":\"NODE_UNAVAILABLE\",\"detail\":\"out of memory\"}\n";

/* Answers with body (taken; NULL when it could not be built) as one line
 * of JSON. */
static void s_respond(fb_httpd_resp_t *r, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    size_t len = text ? strlen(text) : 0;
    char *line = text ? realloc(text, len + 2) : NULL;
    if (!line) {
        free(text);
        fb_httpd_respond_static(r, FB_HTTP_SERVICE_UNAVAILABLE, "application/json", s_oom_json, sizeof(s_oom_json) - 1);
        return;
    }
    line[len++] = '\n';
    line[len] = '\0';
    fb_httpd_respond_take(r, status, "application/json", line, len);
}

/* s_respond() for POST /v1/publish: a 503 says when to try again. */
static void s_respond_publish(fb_httpd_resp_t *r, unsigned status, json_t *body)
{
    s_respond(r, status, body);
    if (status == FB_HTTP_SERVICE_UNAVAILABLE) fb_httpd_header(r, "Retry-After", S_RETRY_AFTER);
}

static json_t *s_error(const char *reason, const char *detail)
{
    return json_pack("{s:s, s:s, s:s}", "status", "rejected", "reason", reason, "detail", detail);
}

/* The body of a reject for a full outbox (its detail begins with
 * FB_NODE_FULL_DETAIL, then the key whose bound was reached), or NULL when
 * ack is another reject. */
static json_t *s_full(const fb_ack_t *ack)
{
    size_t n = strlen(FB_NODE_FULL_DETAIL);
    if (ack->reason != FEDBUS__REJECT_REASON__REJECT_OUTBOX_FULL) return NULL;
    if (strncmp(ack->detail, FB_NODE_FULL_DETAIL, n) != 0) n = strlen(ack->detail); /* no key named */
    char limit[32];
    snprintf(limit, sizeof(limit), "%.*s", (int)strcspn(ack->detail + n, " "), ack->detail + n);
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "status", "rejected", "message_id", ack->message_id, "reason",
                     "OUTBOX_FULL", "limit", limit, "detail", ack->detail);
}

/* The HTTP status and body for what became of one message. */
static unsigned s_result(int rc, const fb_ack_t *ack, json_t **body)
{
    switch (rc) {
    case FB_OK:
        *body = json_pack("{s:s, s:s, s:I, s:I}", "status",
                          ack->status == FB_ACK_DUPLICATE ? "duplicate" : "accepted", "message_id",
                          ack->message_id, "global_seq", (json_int_t)ack->global_seq, "origin_seq",
                          (json_int_t)ack->origin_seq);
        return ack->status == FB_ACK_DUPLICATE ? FB_HTTP_OK : FB_HTTP_CREATED;
    case FB_EREJECTED:
        if ((*body = s_full(ack))) return FB_HTTP_SERVICE_UNAVAILABLE;
        *body = json_pack("{s:s, s:s, s:s, s:s}", "status", "rejected", "message_id", ack->message_id,
                          "reason", ack->reason_name, "detail", ack->detail);
        return ack->reason == FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE ? (unsigned)FB_HTTP_SERVICE_UNAVAILABLE
               : ack->reason == FEDBUS__REJECT_REASON__REJECT_FRAME_TOO_LARGE ? (unsigned)FB_HTTP_PAYLOAD_TOO_LARGE
                                                                              : (unsigned)FB_HTTP_UNPROCESSABLE;
    case FB_EINVAL:
        *body = s_error("INVALID_JSON", ack->detail);
        return FB_HTTP_BAD_REQUEST;
    case FB_ETIMEOUT:
        *body = json_pack("{s:s, s:s, s:s}", "status", "pending", "message_id", ack->message_id, "detail",
                          "not confirmed yet; the node keeps resending: POST the same message_id again to ask");
        return FB_HTTP_ACCEPTED;
    default:
        *body = s_error("NODE_UNAVAILABLE", fb_strerror(rc));
        return FB_HTTP_SERVICE_UNAVAILABLE;
    }
}

/* Publishes one JSON message; returns the HTTP status and sets *body. */
static unsigned s_publish_one(const fb_http_t *self, const char *text, size_t len, json_t **body)
{
    fb_ack_t ack;
    fb_publisher_t *pub = fb_publisher_new(self->submit);
    if (!pub) {
        *body = s_error("NODE_UNAVAILABLE", "cannot reach the node loop");
        return FB_HTTP_SERVICE_UNAVAILABLE;
    }
    int rc = fb_publisher_send_json(pub, text, len, &ack, 30000);
    fb_publisher_destroy(&pub);
    return s_result(rc, &ack, body);
}

/* Gives item a message_id when it has none (a UUIDv7, so that the verdict
 * can name it) and checks it as the node's submit loop will, origin and
 * times filled as the node fills them. Returns NULL when it is valid, else
 * its verdict body (status rejected, reason, detail, message_id) and
 * *status (400 bad JSON, 422 not valid). */
static json_t *s_check_item(const fb_http_t *self, json_t *item, unsigned *status)
{
    char id[37] = "", detail[192];
    uint8_t raw[FB_UUID_LEN];
    const char *reason = "INVALID_JSON";
    *status = FB_HTTP_BAD_REQUEST;
    if (!json_is_object(item)) return s_error(reason, "an array item is a message, a JSON object");
    json_t *own = json_object_get(item, "message_id");
    if (own && json_is_string(own) && fb_uuid_parse(json_string_value(own), raw) == 0) fb_uuid_format(raw, id);
    else if (!own && fb_uuid_v7(fb_time_now_us(), raw) == 0) {
        fb_uuid_format(raw, id);
        json_object_set_new(item, "message_id", json_string(id));
    }
    ProtobufCMessage *pm = NULL;
    if (fb_json_to_message(item, &fedbus__envelope__descriptor, &pm, detail, sizeof(detail)) == 0) {
        Fedbus__Envelope *env = (Fedbus__Envelope *)pm;
        char *theirs = env->origin;
        env->origin = (char *)self->member;
        if (env->schema_version == 0) env->schema_version = FEDBUS_SCHEMA_VERSION;
        if (env->created_at_us == 0) env->created_at_us = fb_time_now_us();
        fb_verdict_t v;
        int rc = fb_envelope_check(env, &v);
        env->origin = theirs;
        protobuf_c_message_free_unpacked(pm, NULL);
        if (rc == 0) return NULL;
        reason = fb_reject_name(v.reason);
        snprintf(detail, sizeof(detail), "%s", v.detail);
        *status = FB_HTTP_UNPROCESSABLE;
    }
    return json_pack("{s:s, s:s, s:s, s:s}", "status", "rejected", "message_id", id, "reason", reason, "detail",
                     detail);
}

/* Checks every item of doc (giving each its message_id) before anything
 * is sent; returns 0 when all are valid, else the array's status (400 or
 * 422) with results filled: each bad item's verdict, each good one
 * "not_sent". */
static unsigned s_check_all(const fb_http_t *self, json_t *doc, json_t *results)
{
    size_t n = json_array_size(doc);
    unsigned worst = 0;
    json_t **verdicts = calloc(n ? n : 1, sizeof(*verdicts));
    if (!verdicts) return FB_HTTP_SERVICE_UNAVAILABLE;
    for (size_t i = 0; i < n; i++) {
        unsigned status;
        if ((verdicts[i] = s_check_item(self, json_array_get(doc, i), &status)) && status > worst) worst = status;
    }
    for (size_t i = 0; worst && i < n; i++) {
        json_t *id = json_object_get(json_array_get(doc, i), "message_id");
        json_array_append_new(results, verdicts[i] ? verdicts[i]
                                                   : json_pack("{s:s, s:O?, s:s}", "status", "not_sent", "message_id",
                                                               id, "detail",
                                                               "another item of the array is not valid: nothing was sent"));
        verdicts[i] = NULL;
    }
    free(verdicts);
    return worst;
}

/* Publishes the n elements of an array in one go (PublishBatch frames);
 * sets results to one body per element and returns the array's status:
 * 200 when all are stored, else the worst failure, or 202 when only some
 * are pending. */
static unsigned s_publish_many(const fb_http_t *self, json_t *doc, json_t *results)
{
    size_t n = json_array_size(doc);
    char **texts = calloc(n ? n : 1, sizeof(*texts));
    size_t *lens = calloc(n ? n : 1, sizeof(*lens));
    fb_ack_t *acks = calloc(n ? n : 1, sizeof(*acks));
    int *rcs = calloc(n ? n : 1, sizeof(*rcs));
    fb_publisher_t *pub = fb_publisher_new(self->submit);
    unsigned worst = FB_HTTP_OK;
    if (!texts || !lens || !acks || !rcs || !pub) {
        for (size_t i = 0; i < n; i++)
            json_array_append_new(results, s_error("NODE_UNAVAILABLE", pub ? "out of memory" : "cannot reach the node loop"));
        worst = FB_HTTP_SERVICE_UNAVAILABLE;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        texts[i] = json_dumps(json_array_get(doc, i), JSON_COMPACT);
        /* an element that cannot be written out goes as nothing: bad JSON */
        lens[i] = texts[i] ? strlen(texts[i]) : 0;
    }
    fb_publisher_send_json_many(pub, (const char *const *)texts, lens, n, acks, rcs, 30000);
    for (size_t i = 0; i < n; i++) {
        json_t *body;
        unsigned status = s_result(rcs[i], &acks[i], &body);
        json_array_append_new(results, body);
        if (status >= 400 && status > worst) worst = status;
        else if (status == FB_HTTP_ACCEPTED && worst < 400) worst = FB_HTTP_ACCEPTED;
    }
done:
    if (texts)
        for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
    free(acks);
    free(rcs);
    fb_publisher_destroy(&pub);
    return worst;
}

static void s_health(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    const fb_http_t *self = arg;
    fb_node_snapshot_t snap;
    (void)req;
    fb_node_snapshot(self->node, &snap);
    int64_t age_ms = snap.oldest_unconfirmed_us ? (fb_time_now_us() - snap.oldest_unconfirmed_us) / 1000 : 0;
    json_t *journal = snap.on_disk
                          ? json_pack("{s:s, s:I, s:I, s:I, s:s?}", "mode", "disk", "replayed",
                                      (json_int_t)snap.replayed, "corrupt_tails", (json_int_t)snap.corrupt_tails,
                                      "dropped_bytes", (json_int_t)snap.dropped_bytes, "error",
                                      snap.sync_errno ? strerror(snap.sync_errno) : NULL)
                          : json_pack("{s:s}", "mode", "memory");
    /* Healthy: welcomed by the broker, and the journal writable. */
    s_respond(r, snap.connected && !snap.sync_errno ? FB_HTTP_OK : FB_HTTP_SERVICE_UNAVAILABLE,
              json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:o?}", "member", self->member, "connected",
                        snap.connected, "outbox", (json_int_t)snap.outbox_depth, "outbox_bytes",
                        (json_int_t)snap.outbox_bytes, "outbox_max", (json_int_t)snap.outbox_max,
                        "outbox_max_bytes", (json_int_t)snap.outbox_max_bytes, "oldest_unconfirmed_age_ms",
                        (json_int_t)(age_ms > 0 ? age_ms : 0), "journal", journal));
}

/* Whether the request carries "Bearer TOKEN" with the node's token (or
 * none is asked for). */
static int s_authorized(const fb_http_t *self, const fb_httpd_req_t *req)
{
    return !self->token_len || fb_httpd_bearer_ok(req->authorization, self->token, self->token_len);
}

/* The 415 for a body that does not say it is JSON in UTF-8: what was
 * sent (printable ASCII of it, cut short) and what is expected. */
static void s_wrong_type(fb_httpd_resp_t *r, const char *content_type)
{
    char got[64] = "none", detail[192];
    if (content_type) {
        size_t n = 0;
        for (const char *p = content_type; *p && n + 1 < sizeof(got); p++)
            got[n++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
        got[n] = '\0';
    }
    snprintf(detail, sizeof(detail), "Content-Type must be %s (charset utf-8, if one is given); got %s%s%s",
             S_JSON_TYPE, content_type ? "'" : "", got, content_type ? "'" : "");
    s_respond(r, FB_HTTP_UNSUPPORTED_MEDIA_TYPE,
              json_pack("{s:s, s:s, s:s, s:s}", "status", "rejected", "reason", "UNSUPPORTED_MEDIA_TYPE", "expected",
                        S_JSON_TYPE, "detail", detail));
}

/* One message object, or an array of them (answered by an array), sent as
 * application/json. */
static void s_publish(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    const fb_http_t *self = arg;
    if (!fb_httpd_type_is_json(req->content_type)) {
        s_wrong_type(r, req->content_type);
        return;
    }
    if (!s_authorized(self, req)) {
        s_respond(r, FB_HTTP_UNAUTHORIZED,
                  s_error("UNAUTHORIZED", "this node asks for 'Authorization: Bearer TOKEN' (http-token-file)"));
        fb_httpd_header(r, "WWW-Authenticate", "Bearer realm=\"fedbus-node\"");
        return;
    }
    if (!req->body) {
        s_respond(r, FB_HTTP_BAD_REQUEST, s_error("INVALID_JSON", "empty body"));
        return;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        char detail[256];
        snprintf(detail, sizeof(detail), "JSON line %d: %s", jerr.line, jerr.text);
        s_respond(r, FB_HTTP_BAD_REQUEST, s_error("INVALID_JSON", detail));
        return;
    }
    if (!json_is_array(doc)) {
        json_decref(doc);
        json_t *body;
        unsigned status = s_publish_one(self, req->body, req->body_len, &body);
        s_respond_publish(r, status, body);
        return;
    }
    json_t *results = json_array();
    unsigned worst = results ? s_check_all(self, doc, results) : FB_HTTP_SERVICE_UNAVAILABLE;
    if (results && !worst) worst = s_publish_many(self, doc, results);
    json_decref(doc);
    s_respond_publish(r, worst, results);
}

/* Whether a calendar or feed request may be answered: the bearer token,
 * or the same token as ?token= (an application subscribing to a URL sends
 * no header), when the node asks for one. */
static int s_people_authorized(const fb_http_t *self, const fb_httpd_req_t *req)
{
    const char *q = fb_httpd_query(req, "token");
    return s_authorized(self, req) ||
           (q && strlen(q) == self->token_len && fb_httpd_secret_equal(q, self->token, self->token_len));
}

/* Reads a calendar's or feed's query: patterns (comma-separated; default
 * dflt), days (of history, by store time; default 365) and lang. Returns
 * 0, or -1 after answering 400. pbuf holds the patterns. */
static int s_people_query(const fb_httpd_req_t *req, fb_httpd_resp_t *r, const char *dflt, char *pbuf, size_t psize,
                          const char *pats[FB_FORPEOPLE_PATTERNS_MAX], int *npats, long *days, const char **lang)
{
    const char *q = fb_httpd_query(req, "patterns"), *d = fb_httpd_query(req, "days"), *l = fb_httpd_query(req, "lang");
    char detail[320];
    if (!q || !*q) q = dflt;
    if (strlen(q) >= psize) {
        s_respond(r, FB_HTTP_BAD_REQUEST, s_error("BAD_PATTERN", "patterns is too long"));
        return -1;
    }
    snprintf(pbuf, psize, "%s", q);
    *npats = 0;
    for (char *save = NULL, *p = strtok_r(pbuf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        const char *why = NULL;
        if (*npats == FB_FORPEOPLE_PATTERNS_MAX) {
            snprintf(detail, sizeof(detail), "at most %d patterns", FB_FORPEOPLE_PATTERNS_MAX);
            s_respond(r, FB_HTTP_BAD_REQUEST, s_error("BAD_PATTERN", detail));
            return -1;
        }
        if (!fb_pattern_valid(p, &why)) {
            snprintf(detail, sizeof(detail), "pattern '%.64s': %s", p, why ? why : "not a pattern");
            s_respond(r, FB_HTTP_BAD_REQUEST, s_error("BAD_PATTERN", detail));
            return -1;
        }
        pats[(*npats)++] = p;
    }
    if (*npats == 0) {
        s_respond(r, FB_HTTP_BAD_REQUEST, s_error("BAD_PATTERN", "patterns names none"));
        return -1;
    }
    char *end = NULL;
    *days = d ? strtol(d, &end, 10) : 365;
    if (d && (!*d || *end || *days < 1 || *days > 3650)) {
        s_respond(r, FB_HTTP_BAD_REQUEST, s_error("BAD_REQUEST", "days must be a whole number from 1 to 3650"));
        return -1;
    }
    *lang = l ? l : "ko";
    if (strcmp(*lang, "ko") && strcmp(*lang, "en")) {
        s_respond(r, FB_HTTP_BAD_REQUEST, s_error("BAD_REQUEST", "lang must be ko or en"));
        return -1;
    }
    return 0;
}

/* What the member may read, from the broker's replay, as a calendar or a
 * feed (fb_forpeople). */
static void s_for_people(const fb_httpd_req_t *req, fb_httpd_resp_t *r, fb_http_t *self,
                         fb_forpeople_format_t format)
{
    int ics = format == FB_FORPEOPLE_ICS;
    if (!s_people_authorized(self, req)) {
        s_respond(r, FB_HTTP_UNAUTHORIZED,
                  s_error("UNAUTHORIZED", "this node asks for its token: 'Authorization: Bearer TOKEN' or ?token="));
        fb_httpd_header(r, "WWW-Authenticate", "Bearer realm=\"fedbus-node\"");
        return;
    }
    char pbuf[1024], name[1100], why[256];
    const char *pats[FB_FORPEOPLE_PATTERNS_MAX], *lang;
    int npats;
    long days;
    if (s_people_query(req, r, ics ? "event,cfp" : "event,cfp,researcher", pbuf, sizeof(pbuf), pats, &npats, &days,
                       &lang) != 0)
        return;
    size_t n = (size_t)snprintf(name, sizeof(name), "fedbus %s:", self->member);
    for (int i = 0; i < npats && n < sizeof(name); i++)
        n += (size_t)snprintf(name + n, sizeof(name) - n, " %s", pats[i]);
    const char *what = ics ? "calendar" : "feed";
    if (atomic_fetch_add(&self->for_people, 1) >= S_FOR_PEOPLE_MAX) {
        atomic_fetch_sub(&self->for_people, 1);
        snprintf(why, sizeof(why), "%d calendar and feed requests are being answered; the node takes no more at once",
                 S_FOR_PEOPLE_MAX);
        s_respond(r, FB_HTTP_SERVICE_UNAVAILABLE, s_error("BUSY", why));
        fb_httpd_header(r, "Retry-After", S_RETRY_AFTER);
        return;
    }
    fb_forpeople_src_t src = {self->replay, &self->curve, 5000};
    char *body;
    size_t len;
    long long items, failed;
    int rc = fb_forpeople_build(&src, format, pats, npats, fb_time_now_us() - (int64_t)days * 86400 * 1000000, lang,
                                name, &body, &len, &items, &failed, why, sizeof(why));
    atomic_fetch_sub(&self->for_people, 1);
    if (rc != FB_OK) {
        fb_warn("http: %s: %s", what, why);
        s_respond(r, FB_HTTP_SERVICE_UNAVAILABLE, s_error(rc == FB_ENOMEM ? "NODE_UNAVAILABLE" : "BROKER_UNAVAILABLE", why));
        fb_httpd_header(r, "Retry-After", S_RETRY_AFTER);
        return;
    }
    if (failed) fb_warn("http: %s: %lld messages failed verification and are left out", what, failed);
    fb_httpd_respond_take(r, FB_HTTP_OK, ics ? "text/calendar; charset=utf-8" : "application/feed+json", body, len);
}

static void s_calendar(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    s_for_people(req, r, arg, FB_FORPEOPLE_ICS);
}

static void s_feed(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    s_for_people(req, r, arg, FB_FORPEOPLE_JSONFEED);
}

/* The node's words for what the server answers by itself. */
static void s_on_error(unsigned status, const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    const fb_http_t *self = arg;
    if (status == FB_HTTP_PAYLOAD_TOO_LARGE) {
        char detail[128];
        snprintf(detail, sizeof(detail), "the body is larger than this node takes: %lld bytes (max-frame)",
                 self->max_body);
        s_respond(r, status, json_pack("{s:s, s:s, s:I, s:s}", "status", "rejected", "reason", "FRAME_TOO_LARGE",
                                       "limit_bytes", (json_int_t)self->max_body, "detail", detail));
    }
    else if (status == FB_HTTP_SERVICE_UNAVAILABLE)
        s_respond(r, status, s_error("NODE_UNAVAILABLE", "out of memory"));
    else if (strcmp(req->method, "GET") == 0)
        s_respond(r, FB_HTTP_NOT_FOUND,
                  s_error("NOT_FOUND", "try POST /v1/publish, GET /v1/health, /v1/calendar.ics or /v1/feed.json"));
    else if (strcmp(req->method, "POST") != 0)
        s_respond(r, FB_HTTP_METHOD_NOT_ALLOWED, s_error("METHOD", "use GET or POST"));
    else
        s_respond(r, FB_HTTP_NOT_FOUND, s_error("NOT_FOUND", "POST to /v1/publish"));
}

fb_http_t *fb_http_start(const fb_http_opts_t *o)
{
    fb_http_t *self = calloc(1, sizeof(*self));
    if (!self) {
        fb_err("out of memory");
        return NULL;
    }
    char why[1024];
    if (o->token_file && *o->token_file &&
        fb_httpd_token_read(o->token_file, self->token, &self->token_len, why, sizeof(why)) != 0) {
        fb_err("%s", why);
        free(self);
        return NULL;
    }
    snprintf(self->member, sizeof(self->member), "%s", o->member);
    snprintf(self->submit, sizeof(self->submit), "%s", o->submit);
    self->node = o->node;
    self->max_body = o->max_body;
    snprintf(self->replay, sizeof(self->replay), "%s", o->replay ? o->replay : "");
    if (o->curve) self->curve = *o->curve;
    const fb_httpd_route_t routes[] = {
        {"GET", "/v1/health", s_health, self},
        {"POST", "/v1/publish", s_publish, self},
        {"GET", "/v1/calendar.ics", s_calendar, self},
        {"GET", "/v1/feed.json", s_feed, self},
    };
    int err;
    self->httpd = fb_httpd_start(&(fb_httpd_opts_t){.bind_addr = o->bind_addr, .port = o->port, .routes = routes,
                                                    .nroutes = sizeof(routes) / sizeof(routes[0]),
                                                    .max_body = (size_t)o->max_body, .max_conns = 512,
                                                    .timeout_s = 10, .on_error = s_on_error, .error_arg = self},
                                 &err);
    if (!self->httpd) {
        if (err == FB_EINVAL) fb_err("http-bind: '%s' is not an IPv4 address", o->bind_addr);
        else fb_err("cannot start HTTP on %s:%d", o->bind_addr, o->port);
        fb_curve_clear(&self->curve);
        free(self);
        return NULL;
    }
    fb_info("http: POST http://%s:%d/v1/publish%s", o->bind_addr, o->port,
            self->token_len ? " (with its bearer token)" : "");
    return self;
}

void fb_http_stop(fb_http_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_httpd_stop(&(*self_p)->httpd);
    fb_curve_clear(&(*self_p)->curve);
    free(*self_p);
    *self_p = NULL;
}
