/* fb_http.h — the node's HTTP front: POST /v1/publish, GET /v1/health, /v1/calendar.ics and /v1/feed.json on fb_httpd.
 *
 * Each request publishes through the node's own submit socket (inproc), so
 * HTTP, the CLI and files all take the same path: the same checks, the same
 * outbox, the same ack. /v1/health reads the node's state through
 * fb_node_snapshot(), never the loop's own fields. /v1/calendar.ics and
 * /v1/feed.json read the broker's history through replay, as the node's
 * member (fb_forpeople). */
#ifndef FB_HTTP_H
#define FB_HTTP_H

#include "fb_curve.h"
#include "fb_node.h"

typedef struct fb_http fb_http_t;

typedef struct {
    const char *bind_addr;  /* IPv4 address (the http-bind key) */
    int port;               /* 1-65535 (the http-port key) */
    const char *member;     /* this node's member id, copied */
    long long max_body;     /* largest request body, bytes (the max-frame key) */
    const char *submit;     /* endpoint the handlers publish through, copied */
    const fb_node_t *node;  /* borrowed: read with fb_node_snapshot(); outlives the server */
    const char *token_file; /* NULL or "": no token; else a file (not readable by others) whose
                               first line is the token POST /v1/publish asks for */
    const char *replay;     /* the broker's replay endpoint, copied (calendar and feed) */
    const fb_curve_t *curve; /* CURVE to it as this node's member, copied; NULL: plaintext */
} fb_http_opts_t;

/* Starts serving as *o says. With a token, POST /v1/publish without
 * "Authorization: Bearer TOKEN" is answered 401 (the token compared in
 * constant time), and so are GET /v1/calendar.ics and /v1/feed.json without
 * it or ?token=TOKEN;
 * GET /v1/health stays open. Returns NULL after logging
 * the reason (also a token file unreadable, empty, or readable by others). */
fb_http_t *fb_http_start(const fb_http_opts_t *o);

/* Stops serving (waits for requests in progress); accepts NULL, nulls *self_p. */
void fb_http_stop(fb_http_t **self_p);

#endif
