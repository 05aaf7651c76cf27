/* fb_http.c — the node's HTTP front (libmicrohttpd): POST /v1/publish, GET /v1/health.
 *
 * Each request publishes through the node's own submit socket (inproc), so
 * HTTP, the CLI and files all take the same path: the same checks, the same
 * outbox, the same ack. */
#include "fb_node.h"

#include "fb_envelope.h"
#include "fb_log.h"
#include "fedbus/fedbus.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#if MHD_VERSION < 0x00097002
typedef int s_mhd_result;
#else
typedef enum MHD_Result s_mhd_result;
#endif

struct fb_http {
    struct MHD_Daemon *daemon;
    char member[64];
    long long max_body;
    const volatile int *welcomed;
    const volatile long long *depth;
};

typedef struct {
    char *buf;
    size_t len;
    int too_large;
} s_upload_t;

static s_mhd_result s_respond(struct MHD_Connection *c, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) return MHD_NO;
    size_t len = strlen(text);
    text = realloc(text, len + 2);
    text[len++] = '\n';
    text[len] = '\0';
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    s_mhd_result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static json_t *s_error(const char *reason, const char *detail)
{
    return json_pack("{s:s, s:s, s:s}", "status", "rejected", "reason", reason, "detail", detail);
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
        return ack->status == FB_ACK_DUPLICATE ? MHD_HTTP_OK : MHD_HTTP_CREATED;
    case FB_EREJECTED:
        *body = json_pack("{s:s, s:s, s:s, s:s}", "status", "rejected", "message_id", ack->message_id,
                          "reason", ack->reason_name, "detail", ack->detail);
        return ack->reason == FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE ? (unsigned)MHD_HTTP_SERVICE_UNAVAILABLE
               : ack->reason == FEDBUS__REJECT_REASON__REJECT_FRAME_TOO_LARGE ? 413u
                                                                              : 422u;
    case FB_EINVAL:
        *body = s_error("INVALID_JSON", ack->detail);
        return MHD_HTTP_BAD_REQUEST;
    case FB_ETIMEOUT:
        *body = json_pack("{s:s, s:s, s:s}", "status", "pending", "message_id", ack->message_id, "detail",
                          "not confirmed yet; the node keeps resending: POST the same message_id again to ask");
        return MHD_HTTP_ACCEPTED;
    default:
        *body = s_error("NODE_UNAVAILABLE", fb_strerror(rc));
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    }
}

/* Publishes one JSON message; returns the HTTP status and sets *body. */
static unsigned s_publish_one(const char *text, size_t len, json_t **body)
{
    fb_ack_t ack;
    fb_publisher_t *pub = fb_publisher_new(FB_NODE_INPROC);
    if (!pub) {
        *body = s_error("NODE_UNAVAILABLE", "cannot reach the node loop");
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    int rc = fb_publisher_send_json(pub, text, len, &ack, 30000);
    fb_publisher_destroy(&pub);
    return s_result(rc, &ack, body);
}

/* Publishes the n elements of an array in one go (PublishBatch frames);
 * sets results to one body per element and returns the array's status:
 * 200 when all are stored, else the worst failure, or 202 when only some
 * are pending. */
static unsigned s_publish_many(json_t *doc, json_t *results)
{
    size_t n = json_array_size(doc);
    char **texts = calloc(n ? n : 1, sizeof(*texts));
    size_t *lens = calloc(n ? n : 1, sizeof(*lens));
    fb_ack_t *acks = calloc(n ? n : 1, sizeof(*acks));
    int *rcs = calloc(n ? n : 1, sizeof(*rcs));
    fb_publisher_t *pub = fb_publisher_new(FB_NODE_INPROC);
    unsigned worst = MHD_HTTP_OK;
    if (!texts || !lens || !acks || !rcs || !pub) {
        for (size_t i = 0; i < n; i++)
            json_array_append_new(results, s_error("NODE_UNAVAILABLE", pub ? "out of memory" : "cannot reach the node loop"));
        worst = MHD_HTTP_SERVICE_UNAVAILABLE;
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
        else if (status == MHD_HTTP_ACCEPTED && worst < 400) worst = MHD_HTTP_ACCEPTED;
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

static s_mhd_result s_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size,
                              void **con_cls)
{
    fb_http_t *self = cls;
    (void)version;
    if (strcmp(method, "GET") == 0) {
        if (strcmp(url, "/v1/health") != 0)
            return s_respond(c, MHD_HTTP_NOT_FOUND, s_error("NOT_FOUND", "try POST /v1/publish or GET /v1/health"));
        return s_respond(c, *self->welcomed ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                         json_pack("{s:s, s:b, s:I}", "member", self->member, "connected",
                                   *self->welcomed, "outbox", (json_int_t)*self->depth));
    }
    if (strcmp(method, "POST") != 0)
        return s_respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, s_error("METHOD", "use GET or POST"));
    if (strcmp(url, "/v1/publish") != 0)
        return s_respond(c, MHD_HTTP_NOT_FOUND, s_error("NOT_FOUND", "POST to /v1/publish"));

    s_upload_t *up = *con_cls;
    if (!up) {
        if (!(up = calloc(1, sizeof(*up)))) return MHD_NO;
        *con_cls = up;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!up->too_large && up->len + *upload_size <= (size_t)self->max_body) {
            char *b = realloc(up->buf, up->len + *upload_size + 1);
            if (!b) return MHD_NO;
            memcpy(b + up->len, upload_data, *upload_size);
            up->buf = b;
            up->len += *upload_size;
            up->buf[up->len] = '\0';
        } else {
            up->too_large = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (up->too_large)
        return s_respond(c, 413, s_error("FRAME_TOO_LARGE", "body exceeds max-frame"));
    if (!up->buf) return s_respond(c, MHD_HTTP_BAD_REQUEST, s_error("INVALID_JSON", "empty body"));

    /* One message object, or an array of them (answered by an array). */
    json_error_t jerr;
    json_t *doc = json_loadb(up->buf, up->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        char detail[256];
        snprintf(detail, sizeof(detail), "JSON line %d: %s", jerr.line, jerr.text);
        return s_respond(c, MHD_HTTP_BAD_REQUEST, s_error("INVALID_JSON", detail));
    }
    if (!json_is_array(doc)) {
        json_decref(doc);
        json_t *body;
        unsigned status = s_publish_one(up->buf, up->len, &body);
        return s_respond(c, status, body);
    }
    json_t *results = json_array();
    unsigned worst = s_publish_many(doc, results);
    json_decref(doc);
    return s_respond(c, worst, results);
}

static void s_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    s_upload_t *up = *con_cls;
    if (up) {
        free(up->buf);
        free(up);
        *con_cls = NULL;
    }
}

fb_http_t *fb_http_start(const char *bind_addr, int port, const char *member, long long max_body,
                         const volatile int *welcomed, const volatile long long *outbox_depth)
{
    fb_http_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    snprintf(self->member, sizeof(self->member), "%s", member);
    self->max_body = max_body;
    self->welcomed = welcomed;
    self->depth = outbox_depth;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
        fb_err("http-bind: '%s' is not an IPv4 address", bind_addr);
        free(self);
        return NULL;
    }
    self->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                        MHD_USE_ERROR_LOG,
                                    (uint16_t)port, NULL, NULL, s_handler, self,
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                    MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL,
                                    MHD_OPTION_CONNECTION_LIMIT, 64U,
                                    MHD_OPTION_CONNECTION_TIMEOUT, 60U, MHD_OPTION_END);
    if (!self->daemon) {
        fb_err("cannot start HTTP on %s:%d", bind_addr, port);
        free(self);
        return NULL;
    }
    fb_info("http: POST http://%s:%d/v1/publish", bind_addr, port);
    return self;
}

void fb_http_stop(fb_http_t **self_p)
{
    if (!self_p || !*self_p) return;
    MHD_stop_daemon((*self_p)->daemon);
    free(*self_p);
    *self_p = NULL;
}
