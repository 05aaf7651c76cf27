/* fb_bhttp.c — the broker's HTTP routes, each answered from the newest health snapshot. */
#include "fb_bhttp.h"

#include "fb_crypto.h"
#include "fb_dashboard.h"
#include "fb_httpd.h"
#include "fb_log.h"
#include "fb_status.h"
#include "fedbus/fedbus.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The dashboard's session cookie: the hex SHA-256 of S_SESSION_CONTEXT
 * and the token, so that the browser never holds the token itself. */
#define S_COOKIE "fedbus_dashboard"
#define S_SESSION_CONTEXT "fedbus-dashboard\n"
#define S_SESSION_LEN (2 * FB_SHA256_LEN)

struct fb_bhttp {
    fb_httpd_t *httpd;
    fb_health_t *health;
    char token[FB_HTTPD_TOKEN_MAX + 1];
    size_t token_len;
    char session[S_SESSION_LEN + 1]; /* the cookie's value; "" without a token */
};

static const char s_no_snapshot[] = "starting\n";
static const char s_text[] = "text/plain; charset=utf-8";

/* Whether req carries the token (or none is asked for): as a bearer header
 * (scripts, `fedbus status`) or as the session cookie a browser got when
 * it gave the token (s_session()). */
static int s_authorized(const fb_bhttp_t *self, const fb_httpd_req_t *req)
{
    if (!self->token_len) return 1;
    if (fb_httpd_bearer_ok(req->authorization, self->token, self->token_len)) return 1;
    char c[S_SESSION_LEN + 1];
    return fb_httpd_secret_equal(fb_httpd_cookie(req->cookie, S_COOKIE, c, sizeof(c)), self->session, S_SESSION_LEN);
}

/* Adds the session cookie to r: sent back on every request to this broker
 * until the browser closes, never shown to the page's scripts. */
static void s_session(const fb_bhttp_t *self, fb_httpd_resp_t *r)
{
    char v[sizeof(S_COOKIE) + S_SESSION_LEN + 64];
    snprintf(v, sizeof(v), "%s=%s; Path=/; HttpOnly; SameSite=Lax", S_COOKIE, self->session);
    fb_httpd_header(r, "Set-Cookie", v);
}

static void s_unauthorized(fb_httpd_resp_t *r)
{
    static const char text[] = "this broker asks for 'Authorization: Bearer TOKEN' (http-token-file)\n";
    fb_httpd_respond_static(r, FB_HTTP_UNAUTHORIZED, s_text, text, sizeof(text) - 1);
    fb_httpd_header(r, "WWW-Authenticate", "Bearer realm=\"fedbus\"");
}

/* The 401 a browser gets for the dashboard without the token: the login
 * page, which posts the token to /dashboard/login. */
static void s_login_page(fb_httpd_resp_t *r)
{
    const fb_asset_t *a = fb_dashboard_find("/dashboard/login.html");
    if (a) fb_httpd_respond_static(r, FB_HTTP_UNAUTHORIZED, a->content_type, a->data, a->len);
    else s_unauthorized(r);
    fb_httpd_header(r, "WWW-Authenticate", "Bearer realm=\"fedbus\"");
    fb_httpd_header(r, "Cache-Control", "no-store");
}

static void s_see_other(fb_httpd_resp_t *r, const char *location)
{
    fb_httpd_respond_static(r, FB_HTTP_SEE_OTHER, s_text, "", 0);
    fb_httpd_header(r, "Location", location);
    fb_httpd_header(r, "Cache-Control", "no-store");
}

/* Decodes the form field name of body (application/x-www-form-urlencoded)
 * into out (size bytes); returns out, or NULL when it is missing, badly
 * encoded or does not fit. */
static const char *s_form_field(const char *body, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    for (const char *p = body; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) != 0 || p[nl] != '=') continue;
        size_t n = 0;
        for (p += nl + 1; *p && *p != '&'; p++) {
            int c = *p == '+' ? ' ' : (unsigned char)*p;
            if (*p == '%') {
                unsigned v;
                if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]) || sscanf(p + 1, "%2x", &v) != 1)
                    return NULL;
                c = (int)v;
                p += 2;
            }
            if (n + 1 >= size) return NULL;
            out[n++] = (char)c;
        }
        out[n] = '\0';
        return out;
    }
    return NULL;
}

/* POST /dashboard/login, token=TOKEN: the session cookie and back to the
 * dashboard; a wrong token back to the login page, which says so. */
static void s_login(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    fb_bhttp_t *self = arg;
    char given[3 * FB_HTTPD_TOKEN_MAX + 1];
    const char *t = req->body ? s_form_field(req->body, "token", given, sizeof(given)) : NULL;
    if (!self->token_len) {
        s_see_other(r, "/");
    } else if (fb_httpd_secret_equal(t, self->token, self->token_len)) {
        s_see_other(r, "/");
        s_session(self, r);
    } else {
        s_see_other(r, "/?login=failed");
    }
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
 * own answer. With a token, a browser opening the page sends no bearer
 * header: it gives the token once (the login page's form, or ?token= in
 * the URL) and gets a session cookie that the page and /api/status accept. */
static void s_other(unsigned status, const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    fb_bhttp_t *self = arg;
    if (status != FB_HTTP_NOT_FOUND || strcmp(req->method, "GET") != 0) return;
    const fb_asset_t *a = fb_dashboard_find(req->path);
    if (!a) return;
    int new_session = 0;
    if (self->token_len) {
        const char *q = fb_httpd_query(req, "token");
        new_session = q && fb_httpd_secret_equal(q, self->token, self->token_len);
        if (!new_session && (q || !s_authorized(self, req))) {
            s_login_page(r);
            return;
        }
    }
    fb_httpd_respond_static(r, FB_HTTP_OK, a->content_type, a->data, a->len);
    if (self->token_len) fb_httpd_header(r, "Cache-Control", "no-store");
    if (new_session) s_session(self, r);
}

/* The session cookie's value for the token read. Returns 0, or -1 after logging. */
static int s_session_value(fb_bhttp_t *self)
{
    static const char ctx[] = S_SESSION_CONTEXT;
    const void *parts[] = {ctx, self->token};
    size_t lens[] = {sizeof(ctx) - 1, self->token_len};
    uint8_t h[FB_SHA256_LEN];
    if (fb_sha256_parts(parts, lens, 2, h) != 0) {
        fb_err("http: cannot hash the token");
        return -1;
    }
    for (size_t i = 0; i < FB_SHA256_LEN; i++) snprintf(self->session + 2 * i, 3, "%02x", h[i]);
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
    if (o->token_file && *o->token_file) {
        char err[1024];
        if (fb_httpd_token_read(o->token_file, self->token, &self->token_len, err, sizeof(err)) != 0) {
            fb_err("%s", err);
            goto error;
        }
        if (s_session_value(self) != 0) goto error;
    }
    const fb_httpd_route_t routes[] = {
        {"GET", "/healthz", s_healthz, self},
        {"GET", "/readyz", s_readyz, self},
        {"GET", "/metrics", s_metrics, self},
        {"GET", "/api/status", s_status, self},
        {"POST", "/dashboard/login", s_login, self},
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
            self->token_len ? " (the dashboard and /api with the token)" : "");
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
