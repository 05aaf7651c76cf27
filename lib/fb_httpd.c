/* fb_httpd.c — the embedded HTTP server on libmicrohttpd: routing, body limit, responses built by handlers.
 *
 * libmicrohttpd calls s_access() several times per request: first with the
 * headers (the route is chosen, or the request answered 404/405 at once),
 * then once per piece of body (gathered, up to max_body), then with nothing
 * more to read (the handler runs). One thread per connection. */
#include "fb_httpd.h"

#include "fedbus/fedbus.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#if MHD_VERSION < 0x00097002
typedef int s_mhd_result;
#else
typedef enum MHD_Result s_mhd_result;
#endif

struct fb_httpd {
    struct MHD_Daemon *daemon;
    fb_httpd_route_t *routes;
    size_t nroutes;
    size_t max_body;
    fb_httpd_error_t on_error;
    void *error_arg;
    int port;
};

struct fb_httpd_resp {
    unsigned status;
    char content_type[128];
    char *body;
    size_t len;
    int owned; /* body is malloc'd and the response's to free */
    const char *names[FB_HTTPD_HEADERS_MAX], *values[FB_HTTPD_HEADERS_MAX];
    size_t nheaders;
    char room[FB_HTTPD_HEADERS_ROOM]; /* where names and values are copied */
    size_t used;
};

/* One request between libmicrohttpd's calls. */
typedef struct {
    const fb_httpd_route_t *route;
    char *buf; /* the body so far, NUL-terminated */
    size_t len, cap;
    int too_large, out_of_memory;
} s_req_t;

static const char s_oom_text[] = "out of memory\n";

/* ------------------------------------------------------------ responses -- */

static void s_set(fb_httpd_resp_t *r, unsigned status, const char *content_type, char *body, size_t len,
                  int owned)
{
    if (r->owned) free(r->body);
    r->status = status;
    snprintf(r->content_type, sizeof(r->content_type), "%s", content_type ? content_type : "");
    r->body = body;
    r->len = len;
    r->owned = owned;
}

void fb_httpd_respond_static(fb_httpd_resp_t *r, unsigned status, const char *content_type, const char *body,
                             size_t len)
{
    s_set(r, status, content_type, (char *)body, len, 0);
}

void fb_httpd_respond_take(fb_httpd_resp_t *r, unsigned status, const char *content_type, char *body,
                           size_t len)
{
    if (!body) fb_httpd_respond_static(r, FB_HTTP_SERVICE_UNAVAILABLE, "text/plain", s_oom_text, sizeof(s_oom_text) - 1);
    else s_set(r, status, content_type, body, len, 1);
}

int fb_httpd_respond(fb_httpd_resp_t *r, unsigned status, const char *content_type, const void *body, size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (copy && len) memcpy(copy, body, len);
    fb_httpd_respond_take(r, status, content_type, copy, len);
    return copy ? 0 : -1;
}

int fb_httpd_header(fb_httpd_resp_t *r, const char *name, const char *value)
{
    size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
    if (r->nheaders == FB_HTTPD_HEADERS_MAX || nl + vl > sizeof(r->room) - r->used) return -1;
    char *p = r->room + r->used;
    memcpy(p, name, nl);
    memcpy(p + nl, value, vl);
    r->names[r->nheaders] = p;
    r->values[r->nheaders++] = p + nl;
    r->used += nl + vl;
    return 0;
}

/* ---------------------------------------------------------- media type -- */

/* Skips optional white space (RFC 9110's OWS: spaces and tabs). */
static const char *s_ows(const char *p)
{
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

/* Reads one parameter's value at *p (a token, or a quoted string whose
 * escapes are undone) into value (size bytes, cut to fit) and moves *p past
 * it. Returns 0, or -1 when there is no value or a quote is not closed. */
static int s_param_value(const char **p, char *value, size_t size)
{
    const char *s = *p;
    size_t n = 0;
    if (*s == '"') {
        for (s++; *s && *s != '"'; s++) {
            if (*s == '\\' && s[1]) s++;
            if (n + 1 < size) value[n++] = *s;
        }
        if (*s++ != '"') return -1;
    } else {
        for (; *s && *s != ';' && *s != ' ' && *s != '\t'; s++)
            if (n + 1 < size) value[n++] = *s;
        if (s == *p) return -1;
    }
    value[n] = '\0';
    *p = s;
    return 0;
}

int fb_httpd_type_is_json(const char *content_type)
{
    static const char want[] = "application/json";
    if (!content_type) return 0;
    const char *p = s_ows(content_type);
    if (strncasecmp(p, want, sizeof(want) - 1) != 0) return 0;
    for (p = s_ows(p + sizeof(want) - 1); *p; p = s_ows(p)) {
        /* ; name=value, each name a token */
        if (*p++ != ';') return 0;
        p = s_ows(p);
        const char *name = p;
        size_t name_len = strcspn(p, "=; \t\"");
        char value[32];
        if (name_len == 0 || p[name_len] != '=') return 0;
        p += name_len + 1;
        if (s_param_value(&p, value, sizeof(value)) != 0) return 0;
        if (name_len == 7 && strncasecmp(name, "charset", 7) == 0 && strcasecmp(value, "utf-8") != 0) return 0;
    }
    return 1;
}

/* Queues r on c; returns libmicrohttpd's verdict. */
static s_mhd_result s_queue(struct MHD_Connection *c, fb_httpd_resp_t *r)
{
    static const char no_answer[] = "the handler gave no answer\n";
    if (!r->status) fb_httpd_respond_static(r, FB_HTTP_INTERNAL_ERROR, "text/plain", no_answer, sizeof(no_answer) - 1);
    struct MHD_Response *m = MHD_create_response_from_buffer(r->len, r->body,
                                                             r->owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!m) {
        if (r->owned) free(r->body);
        return MHD_NO;
    }
    /* A header that cannot be added (no memory) is left out: the answer
     * still goes. */
    if (r->content_type[0]) MHD_add_response_header(m, "Content-Type", r->content_type);
    for (size_t i = 0; i < r->nheaders; i++) MHD_add_response_header(m, r->names[i], r->values[i]);
    s_mhd_result ret = MHD_queue_response(c, r->status, m);
    MHD_destroy_response(m);
    return ret;
}

/* ------------------------------------------------------------- requests -- */

const char *fb_httpd_query(const fb_httpd_req_t *req, const char *name)
{
    return req->conn_ ? MHD_lookup_connection_value(req->conn_, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

const char *fb_httpd_cookie(const char *cookie, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    /* cookie-string: pairs "name=value" separated by "; " (RFC 6265 5.4). */
    for (const char *p = cookie; p && *p;) {
        p = s_ows(p);
        size_t pair = strcspn(p, ";");
        if (pair > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t vl = pair - nl - 1;
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') v++, vl -= 2;
            if (vl >= size) return NULL;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
        p += pair;
        if (*p) p++;
    }
    return NULL;
}

/* --------------------------------------------------------- bearer token -- */

int fb_httpd_token_read(const char *path, char token[FB_HTTPD_TOKEN_MAX + 1], size_t *len, char *err,
                        size_t esize)
{
    FILE *f = fopen(path, "re");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        snprintf(err, esize, "http-token-file %s: %s", path, strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    char line[FB_HTTPD_TOKEN_MAX + 2] = "";
    int got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    if (st.st_mode & 077) {
        snprintf(err, esize, "http-token-file %s: must not be readable by others (mode %03o; chmod 600 it)", path,
                 (unsigned)(st.st_mode & 0777));
        return -1;
    }
    size_t b = 0, e = got ? strlen(line) : 0;
    while (e && isspace((unsigned char)line[e - 1])) e--;
    while (b < e && isspace((unsigned char)line[b])) b++;
    if (e == b || e - b > FB_HTTPD_TOKEN_MAX) {
        snprintf(err, esize, "http-token-file %s: %s", path,
                 e == b ? "holds no token" : "the token is longer than 512 bytes");
        return -1;
    }
    memcpy(token, line + b, e - b);
    token[e - b] = '\0';
    *len = e - b;
    return 0;
}

int fb_httpd_secret_equal(const char *given, const char *want, size_t len)
{
    if (!given) return 0;
    size_t n = strlen(given);
    unsigned char diff = n != len;
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)((i < n ? (unsigned char)given[i] : 0) ^ (unsigned char)want[i]);
    return diff == 0;
}

int fb_httpd_bearer_ok(const char *authorization, const char *token, size_t len)
{
    const char *a = authorization;
    if (!a || strncasecmp(a, "Bearer ", 7) != 0) return 0;
    a += 7;
    while (*a == ' ') a++;
    return fb_httpd_secret_equal(a, token, len);
}

/* ---------------------------------------------------------------- server -- */

/* The route for method and path; NULL when there is none, with *path_known
 * set when some route has the path. */
static const fb_httpd_route_t *s_route(const fb_httpd_t *self, const char *method, const char *path,
                                       int *path_known)
{
    *path_known = 0;
    for (size_t i = 0; i < self->nroutes; i++) {
        if (strcmp(self->routes[i].path, path) != 0) continue;
        *path_known = 1;
        if (strcmp(self->routes[i].method, method) == 0) return &self->routes[i];
    }
    return NULL;
}

/* The server's own answer with status, then the hook's say. */
static s_mhd_result s_answer_error(fb_httpd_t *self, struct MHD_Connection *c, unsigned status, const char *method,
                                   const char *path)
{
    fb_httpd_resp_t r = {0};
    char text[160], allow[256] = "";
    if (status == FB_HTTP_SERVICE_UNAVAILABLE) {
        fb_httpd_respond_static(&r, status, "text/plain", s_oom_text, sizeof(s_oom_text) - 1);
    } else {
        if (status == FB_HTTP_NOT_FOUND) {
            snprintf(text, sizeof(text), "no such path\n");
        } else if (status == FB_HTTP_METHOD_NOT_ALLOWED) {
            snprintf(text, sizeof(text), "method %.32s not allowed here\n", method);
            size_t n = 0;
            for (size_t i = 0; i < self->nroutes && n < sizeof(allow); i++) {
                if (strcmp(self->routes[i].path, path) != 0) continue;
                int k = snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "", self->routes[i].method);
                n += k > 0 ? (size_t)k : 0;
            }
            fb_httpd_header(&r, "Allow", allow);
        } else {
            snprintf(text, sizeof(text), "request body exceeds the limit of %zu bytes\n", self->max_body);
        }
        fb_httpd_respond(&r, status, "text/plain", text, strlen(text));
    }
    if (self->on_error) {
        fb_httpd_req_t req = {.method = method, .path = path,
                              .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                              .cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie"), .conn_ = c};
        self->on_error(status, &req, &r, self->error_arg);
    }
    return s_queue(c, &r);
}

/* Adds n bytes of body to rq, or marks it too large or out of memory (the
 * rest is then read and dropped). */
static void s_take_body(const fb_httpd_t *self, s_req_t *rq, const char *data, size_t n)
{
    if (rq->too_large || rq->out_of_memory) return;
    if (n > self->max_body - rq->len) {
        rq->too_large = 1;
    } else if (rq->len + n + 1 > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 4096;
        while (cap < rq->len + n + 1) cap *= 2;
        char *b = realloc(rq->buf, cap);
        if (b) {
            rq->buf = b;
            rq->cap = cap;
        } else {
            rq->out_of_memory = 1;
        }
    }
    if (rq->too_large || rq->out_of_memory) {
        free(rq->buf);
        rq->buf = NULL;
        rq->len = rq->cap = 0;
        return;
    }
    memcpy(rq->buf + rq->len, data, n);
    rq->len += n;
    rq->buf[rq->len] = '\0';
}

static s_mhd_result s_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    fb_httpd_t *self = cls;
    s_req_t *rq = *con_cls;
    (void)version;
    if (!rq) {
        int path_known;
        const fb_httpd_route_t *route = s_route(self, method, url, &path_known);
        if (!route)
            return s_answer_error(self, c, path_known ? FB_HTTP_METHOD_NOT_ALLOWED : FB_HTTP_NOT_FOUND, method, url);
        if (!(rq = calloc(1, sizeof(*rq)))) return s_answer_error(self, c, FB_HTTP_SERVICE_UNAVAILABLE, method, url);
        rq->route = route;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        s_take_body(self, rq, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->too_large) return s_answer_error(self, c, FB_HTTP_PAYLOAD_TOO_LARGE, method, url);
    if (rq->out_of_memory) return s_answer_error(self, c, FB_HTTP_SERVICE_UNAVAILABLE, method, url);
    fb_httpd_req_t req = {.method = method, .path = url, .body = rq->buf, .body_len = rq->len,
                          .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                          .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
                          .cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie"), .conn_ = c};
    fb_httpd_resp_t r = {0};
    rq->route->handler(&req, &r, rq->route->arg);
    return s_queue(c, &r);
}

static void s_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    s_req_t *rq = *con_cls;
    if (rq) {
        free(rq->buf);
        free(rq);
        *con_cls = NULL;
    }
}

/* Returns FB_OK when *o can start a server, else FB_EINVAL; fills *addr. */
static int s_check(const fb_httpd_opts_t *o, struct sockaddr_in *addr)
{
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    if (!o->bind_addr || inet_pton(AF_INET, o->bind_addr, &addr->sin_addr) != 1 || o->port < 0 || o->port > 65535 ||
        (o->nroutes && !o->routes))
        return FB_EINVAL;
    addr->sin_port = htons((uint16_t)o->port);
    for (size_t i = 0; i < o->nroutes; i++)
        if (!o->routes[i].method || !o->routes[i].path || !o->routes[i].handler) return FB_EINVAL;
    return FB_OK;
}

fb_httpd_t *fb_httpd_start(const fb_httpd_opts_t *o, int *err)
{
    struct sockaddr_in addr;
    fb_httpd_t *self = NULL;
    int e = s_check(o, &addr);
    if (e != FB_OK) goto error;
    e = FB_ENOMEM;
    if (!(self = calloc(1, sizeof(*self)))) goto error;
    if (o->nroutes && !(self->routes = malloc(o->nroutes * sizeof(*self->routes)))) goto error;
    if (o->nroutes) memcpy(self->routes, o->routes, o->nroutes * sizeof(*self->routes));
    self->nroutes = o->nroutes;
    self->max_body = o->max_body ? o->max_body : FB_HTTPD_MAX_BODY;
    self->on_error = o->on_error;
    self->error_arg = o->error_arg;
    self->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, (uint16_t)o->port,
        NULL, NULL, s_access, self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
        s_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, o->max_conns ? o->max_conns : FB_HTTPD_MAX_CONNS,
        MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s ? o->timeout_s : FB_HTTPD_TIMEOUT_S, MHD_OPTION_END);
    e = FB_EIO;
    if (!self->daemon) goto error;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info && info->port ? info->port : o->port;
    return self;
error:
    if (err) *err = e;
    fb_httpd_stop(&self);
    return NULL;
}

int fb_httpd_port(const fb_httpd_t *self)
{
    return self->port;
}

void fb_httpd_stop(fb_httpd_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_httpd_t *self = *self_p;
    if (self->daemon) MHD_stop_daemon(self->daemon);
    free(self->routes);
    free(self);
    *self_p = NULL;
}
