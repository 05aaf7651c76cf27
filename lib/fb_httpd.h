/* fb_httpd.h — the one embedded HTTP server of fedbus' daemons: a routing table of handlers on libmicrohttpd.
 *
 * A server listens on an IPv4 address and port and answers each request
 * with the handler its routing table names for the method and path (exact
 * matches). It reads the whole request body first, up to a limit; it
 * answers by itself when no route has the path (404), when the path has no
 * route for the method (405, with Allow), when the body is over the limit
 * (413, the limit in the text) and when memory ran out (503) — through an
 * optional hook that can word those answers the daemon's way. Each
 * connection has a thread of its own, so a handler may block (the node's
 * waits for an ack); the number of connections is limited, and a
 * connection idle longer than the timeout is closed, so that idle clients
 * cannot take the server. libmicrohttpd appears in fb_httpd.c only. */
#ifndef FB_HTTPD_H
#define FB_HTTPD_H

#include <stddef.h>

/* The defaults of fb_httpd_opts_t's zero fields. */
#define FB_HTTPD_MAX_BODY (1u << 20)
#define FB_HTTPD_MAX_CONNS 64u
#define FB_HTTPD_TIMEOUT_S 60u

/* The statuses fedbus answers with. */
enum {
    FB_HTTP_OK = 200,
    FB_HTTP_CREATED = 201,
    FB_HTTP_ACCEPTED = 202,
    FB_HTTP_SEE_OTHER = 303,
    FB_HTTP_BAD_REQUEST = 400,
    FB_HTTP_UNAUTHORIZED = 401,
    FB_HTTP_NOT_FOUND = 404,
    FB_HTTP_METHOD_NOT_ALLOWED = 405,
    FB_HTTP_PAYLOAD_TOO_LARGE = 413,
    FB_HTTP_UNSUPPORTED_MEDIA_TYPE = 415,
    FB_HTTP_UNPROCESSABLE = 422,
    FB_HTTP_INTERNAL_ERROR = 500,
    FB_HTTP_SERVICE_UNAVAILABLE = 503,
};

/* The most extra headers one response carries, and their room in all. */
#define FB_HTTPD_HEADERS_MAX 8
#define FB_HTTPD_HEADERS_ROOM 1024

typedef struct fb_httpd fb_httpd_t;

/* A response being built by a handler; lives as long as the handler's call. */
typedef struct fb_httpd_resp fb_httpd_resp_t;

/* A request as a handler sees it; everything lives as long as the call. */
typedef struct {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query string */
    const char *content_type; /* the Content-Type header as sent; NULL when there is none */
    const char *body;   /* the whole body, NUL-terminated; NULL when there is none */
    size_t body_len;
    const char *authorization; /* the Authorization header's value; NULL when there is none */
    const char *cookie; /* the Cookie header's value; NULL when there is none */
    void *conn_; /* the server's own: for fb_httpd_query() */
} fb_httpd_req_t;

/* Answers req through resp (fb_httpd_respond*, fb_httpd_header). Called on
 * the connection's own thread, so it may block, and several run at once. A
 * handler that answers nothing makes the server answer 500. */
typedef void (*fb_httpd_handler_t)(const fb_httpd_req_t *req, fb_httpd_resp_t *resp, void *arg);

/* Called, instead of a handler, when the server answers by itself: status
 * is 404, 405, 413 or 503 and resp already holds the server's own answer
 * (text/plain), which the hook may replace (serving paths no route names
 * exactly, say). req->body and req->content_type are NULL. */
typedef void (*fb_httpd_error_t)(unsigned status, const fb_httpd_req_t *req, fb_httpd_resp_t *resp, void *arg);

/* One entry of the routing table. */
typedef struct {
    const char *method; /* exact, e.g. "POST" */
    const char *path;   /* exact, e.g. "/v1/publish" */
    fb_httpd_handler_t handler;
    void *arg;
} fb_httpd_route_t;

/* How to start a server; zero numbers take the defaults above. */
typedef struct {
    const char *bind_addr;          /* an IPv4 address, e.g. "127.0.0.1" */
    int port;                       /* 0: a free port (fb_httpd_port() says which) */
    const fb_httpd_route_t *routes; /* the table is copied; its strings must outlive the server */
    size_t nroutes;
    size_t max_body;    /* bytes of request body accepted */
    unsigned max_conns; /* connections at once; more are refused */
    unsigned timeout_s; /* a connection idle this long is closed */
    fb_httpd_error_t on_error; /* NULL: the server's own answers */
    void *error_arg;
} fb_httpd_opts_t;

/* Starts a server as *o says. Returns it, or NULL with *err (when err is
 * not NULL) FB_EINVAL (bind_addr is not an IPv4 address, port out of
 * range, a route without method, path or handler), FB_ENOMEM, or FB_EIO
 * (libmicrohttpd could not start: the port is taken, most likely).
 * Logs nothing; the caller decides. */
fb_httpd_t *fb_httpd_start(const fb_httpd_opts_t *o, int *err);

/* The port the server listens on. */
int fb_httpd_port(const fb_httpd_t *self);

/* Stops the server: waits for the handlers running, closes every
 * connection; accepts NULL, nulls *self_p. */
void fb_httpd_stop(fb_httpd_t **self_p);

/* Sets the response's status, content type (copied) and body (len bytes,
 * copied). Returns 0, or -1 when out of memory: the response is then a 503
 * that needs no memory. */
int fb_httpd_respond(fb_httpd_resp_t *r, unsigned status, const char *content_type, const void *body,
                     size_t len);

/* The same with a body that outlives the server (a string literal), not copied. */
void fb_httpd_respond_static(fb_httpd_resp_t *r, unsigned status, const char *content_type, const char *body,
                             size_t len);

/* The same, taking body (malloc'd; the response frees it); body NULL (an
 * allocation that failed) makes the response the 503 that needs no memory. */
void fb_httpd_respond_take(fb_httpd_resp_t *r, unsigned status, const char *content_type, char *body,
                           size_t len);

/* Returns 1 when content_type (a Content-Type header's value; NULL: none)
 * says JSON in UTF-8: the media type application/json (any case), with
 * any parameters, provided a charset parameter, when there is one, is
 * utf-8 (any case, quoted or not); else 0, also for a malformed value. */
int fb_httpd_type_is_json(const char *content_type);

/* Adds a header, e.g. ("Retry-After", "5"); name and value are copied.
 * Returns 0, or -1 when the response has no room for it (see
 * FB_HTTPD_HEADERS_MAX, FB_HTTPD_HEADERS_ROOM). */
int fb_httpd_header(fb_httpd_resp_t *r, const char *name, const char *value);

/* The value of the query-string argument name of req, URL-decoded (lives
 * as long as the handler's call); NULL when the URL has no such argument. */
const char *fb_httpd_query(const fb_httpd_req_t *req, const char *name);

/* --------------------------------------------------------- bearer token -- */

/* The longest bearer token a daemon takes, in bytes. */
#define FB_HTTPD_TOKEN_MAX 512

/* Reads a daemon's bearer token (its http-token-file): the first line of
 * the file at path, without blanks around it, into token (NUL-terminated)
 * and its length into *len. The file must not be readable by group or
 * others. Returns 0, or -1 with err (esize bytes) saying why in one line
 * that starts with "http-token-file PATH: ". */
int fb_httpd_token_read(const char *path, char token[FB_HTTPD_TOKEN_MAX + 1], size_t *len, char *err,
                        size_t esize);

/* Returns 1 when given (NULL: nothing was given) is the len bytes of want,
 * else 0; the compare takes the same time whatever the bytes given, so that
 * nothing is learnt of want from how long a refusal takes. */
int fb_httpd_secret_equal(const char *given, const char *want, size_t len);

/* Returns 1 when authorization (an Authorization header's value; NULL:
 * none) is "Bearer TOKEN" (the scheme in any case) with token's len bytes,
 * compared as fb_httpd_secret_equal() does; else 0. */
int fb_httpd_bearer_ok(const char *authorization, const char *token, size_t len);

/* The value of the cookie name in cookie (a Cookie header's value; NULL:
 * none), copied into out (size bytes); returns out, or NULL when there is
 * no such cookie or its value does not fit. */
const char *fb_httpd_cookie(const char *cookie, const char *name, char *out, size_t size);

#endif
