/* fb_bhttp.c — the broker's HTTP routes, each answered from the newest health snapshot. */
#include "fb_bhttp.h"

#include "fb_dashboard.h"
#include "fb_httpd.h"
#include "fb_log.h"
#include "fb_status.h"
#include "fedbus/fedbus.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define S_TOKEN_MAX 512

struct fb_bhttp {
    fb_httpd_t *httpd;
    fb_health_t *health;
    char token[S_TOKEN_MAX + 1];
    size_t token_len;
};

static const char s_no_snapshot[] = "starting\n";
static const char s_text[] = "text/plain; charset=utf-8";

/* Whether req carries the token (or none is asked for); the compare takes
 * the same time whatever the bytes given. */
static int s_authorized(const fb_bhttp_t *self, const fb_httpd_req_t *req)
{
    if (!self->token_len) return 1;
    const char *a = req->authorization;
    if (!a || strncasecmp(a, "Bearer ", 7) != 0) return 0;
    a += 7;
    while (*a == ' ') a++;
    size_t n = strlen(a);
    unsigned char diff = n != self->token_len;
    for (size_t i = 0; i < self->token_len; i++)
        diff |= (unsigned char)((i < n ? (unsigned char)a[i] : 0) ^ (unsigned char)self->token[i]);
    return diff == 0;
}

static void s_unauthorized(fb_httpd_resp_t *r)
{
    static const char text[] = "this broker asks for 'Authorization: Bearer TOKEN' (http-token-file)\n";
    fb_httpd_respond_static(r, FB_HTTP_UNAUTHORIZED, s_text, text, sizeof(text) - 1);
    fb_httpd_header(r, "WWW-Authenticate", "Bearer realm=\"fedbus\"");
}

static void s_healthz(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    static const char ok[] = "ok\n";
    fb_httpd_respond_static(r, FB_HTTP_OK, s_text, ok, sizeof(ok) - 1);
}

static void s_readyz(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    fb_bhttp_t *self = arg;
    fb_health_snap_t *s = fb_health_snap_get(self->health);
    char why[256], line[300];
    if (!s) {
        fb_httpd_respond_static(r, FB_HTTP_SERVICE_UNAVAILABLE, s_text, s_no_snapshot, sizeof(s_no_snapshot) - 1);
        return;
    }
    int ready = fb_status_ready(s, why, sizeof(why));
    fb_health_snap_release(&s);
    int n = snprintf(line, sizeof(line), "%s\n", ready ? "ready" : why);
    fb_httpd_respond(r, ready ? FB_HTTP_OK : FB_HTTP_SERVICE_UNAVAILABLE, s_text, line, (size_t)n);
}

static void s_metrics(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    fb_bhttp_t *self = arg;
    fb_health_snap_t *s = fb_health_snap_get(self->health);
    if (!s) {
        fb_httpd_respond_static(r, FB_HTTP_SERVICE_UNAVAILABLE, s_text, s_no_snapshot, sizeof(s_no_snapshot) - 1);
        return;
    }
    size_t len = 0;
    char *text = fb_status_metrics(s, fb_version(), &len);
    fb_health_snap_release(&s);
    fb_httpd_respond_take(r, FB_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

static void s_status(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    fb_bhttp_t *self = arg;
    if (!s_authorized(self, req)) {
        s_unauthorized(r);
        return;
    }
    fb_health_snap_t *s = fb_health_snap_get(self->health);
    if (!s) {
        fb_httpd_respond_static(r, FB_HTTP_SERVICE_UNAVAILABLE, s_text, s_no_snapshot, sizeof(s_no_snapshot) - 1);
        return;
    }
    size_t len = 0;
    char *text = fb_status_json(s, fb_version(), &len);
    fb_health_snap_release(&s);
    fb_httpd_respond_take(r, FB_HTTP_OK, "application/json", text, len);
    fb_httpd_header(r, "Cache-Control", "no-store");
}

/* Paths without a route: the dashboard's files for GET, else the server's
 * own answer. The files hold no data, and a browser that opens the page
 * sends no bearer header: they are served to anyone, and the page asks for
 * the token that /api/status wants. */
static void s_other(unsigned status, const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    (void)arg;
    if (status != FB_HTTP_NOT_FOUND || strcmp(req->method, "GET") != 0) return;
    const fb_asset_t *a = fb_dashboard_find(req->path);
    if (!a) return;
    fb_httpd_respond_static(r, FB_HTTP_OK, a->content_type, a->data, a->len);
}

/* Reads the token: the first line of path, without blanks around it, from
 * a file others cannot read. Returns 0, or -1 after logging why. */
static int s_read_token(fb_bhttp_t *self, const char *path)
{
    FILE *f = fopen(path, "re");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        fb_err("http-token-file %s: %s", path, strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    char line[S_TOKEN_MAX + 2] = "";
    int got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    if (st.st_mode & 077) {
        fb_err("http-token-file %s: must not be readable by others (mode %03o; chmod 600 it)", path,
               (unsigned)(st.st_mode & 0777));
        return -1;
    }
    size_t b = 0, e = got ? strlen(line) : 0;
    while (e && isspace((unsigned char)line[e - 1])) e--;
    while (b < e && isspace((unsigned char)line[b])) b++;
    if (e == b || e - b > S_TOKEN_MAX) {
        fb_err("http-token-file %s: %s", path, e == b ? "holds no token" : "the token is longer than 512 bytes");
        return -1;
    }
    memcpy(self->token, line + b, e - b);
    self->token[e - b] = '\0';
    self->token_len = e - b;
    return 0;
}

fb_bhttp_t *fb_bhttp_start(const fb_bhttp_opts_t *o)
{
    fb_bhttp_t *self = calloc(1, sizeof(*self));
    if (!self) {
        fb_err("out of memory");
        return NULL;
    }
    self->health = o->health;
    if (o->token_file && *o->token_file && s_read_token(self, o->token_file) != 0) goto error;
    const fb_httpd_route_t routes[] = {
        {"GET", "/healthz", s_healthz, self},
        {"GET", "/readyz", s_readyz, self},
        {"GET", "/metrics", s_metrics, self},
        {"GET", "/api/status", s_status, self},
    };
    int err = 0;
    self->httpd = fb_httpd_start(&(fb_httpd_opts_t){.bind_addr = o->bind_addr, .port = o->port, .routes = routes,
                                                    .nroutes = sizeof(routes) / sizeof(routes[0]), .max_body = 4096,
                                                    .max_conns = 32, .timeout_s = 30, .on_error = s_other,
                                                    .error_arg = self},
                                 &err);
    if (!self->httpd) {
        fb_err("http: cannot listen on %s:%d: %s", o->bind_addr, o->port,
               err == FB_EINVAL ? "not an IPv4 address and port" : err == FB_ENOMEM ? "out of memory" : "the port is taken?");
        goto error;
    }
    fb_info("http: metrics, health and the dashboard on http://%s:%d/%s", o->bind_addr, o->port,
            self->token_len ? " (/api with the bearer token)" : "");
    return self;
error:
    fb_bhttp_stop(&self);
    return NULL;
}

void fb_bhttp_stop(fb_bhttp_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_httpd_stop(&(*self_p)->httpd);
    free(*self_p);
    *self_p = NULL;
}
