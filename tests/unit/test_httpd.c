/* test_httpd.c — the embedded HTTP server against a plain-socket client on 127.0.0.1: routes, 404, 405, 413, headers, the JSON media type, timeouts, query and cookie, the bearer token and its file. */
#include "fb_httpd.h"

#include "fedbus/fedbus.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#define S_LIMIT 64

/* ------------------------------------------------------------- handlers -- */

static void s_hello(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    (void)req;
    (void)arg;
    fb_httpd_respond_static(r, FB_HTTP_OK, "text/plain", "hello\n", 6);
}

/* Answers the body back, and its length in a header. */
static void s_echo(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    (void)arg;
    char len[32];
    snprintf(len, sizeof(len), "%zu", req->body_len);
    fb_httpd_header(r, "X-Body-Length", len);
    if (req->body) fb_httpd_respond(r, FB_HTTP_OK, "application/octet-stream", req->body, req->body_len);
    else fb_httpd_respond_static(r, FB_HTTP_OK, "text/plain", "(none)", 6);
}

/* Answers the request's Content-Type, "(none)" when it had none. */
static void s_type(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    (void)arg;
    const char *t = req->content_type ? req->content_type : "(none)";
    fb_httpd_respond(r, FB_HTTP_OK, "text/plain", t, strlen(t));
}

static void s_busy(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    (void)req;
    (void)arg;
    fb_httpd_header(r, "Retry-After", "7");
    fb_httpd_respond(r, FB_HTTP_SERVICE_UNAVAILABLE, "application/json", "{\"busy\":true}", 13);
}

static void s_silent(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    (void)req;
    (void)r;
    (void)arg;
}

/* Words the server's own answers as JSON naming status, method and path. */
static void s_hook(unsigned status, const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\":%u,\"method\":\"%s\",\"path\":\"%s\",\"by\":\"%s\"}", status,
                     req->method, req->path, (const char *)arg);
    fb_httpd_respond(r, status == FB_HTTP_NOT_FOUND ? FB_HTTP_BAD_REQUEST : status, "application/json", body,
                     (size_t)n);
}

/* Answers the query's token argument and the fedbus_dashboard cookie. */
static void s_who(const fb_httpd_req_t *req, fb_httpd_resp_t *r, void *arg)
{
    (void)arg;
    char c[64], body[256];
    const char *q = fb_httpd_query(req, "token");
    const char *v = fb_httpd_cookie(req->cookie, "fedbus_dashboard", c, sizeof(c));
    int n = snprintf(body, sizeof(body), "token=[%s] cookie=[%s]", q ? q : "(none)", v ? v : "(none)");
    fb_httpd_respond(r, FB_HTTP_OK, "text/plain", body, (size_t)n);
}

static const fb_httpd_route_t s_routes[] = {
    {"GET", "/who", s_who, NULL},
    {"GET", "/hello", s_hello, NULL},
    {"HEAD", "/hello", s_hello, NULL},
    {"POST", "/echo", s_echo, NULL},
    {"POST", "/type", s_type, NULL},
    {"GET", "/busy", s_busy, NULL},
    {"GET", "/silent", s_silent, NULL},
};

static fb_httpd_t *s_start(fb_httpd_error_t hook, void *hook_arg)
{
    int err = -1;
    fb_httpd_t *h = fb_httpd_start(&(fb_httpd_opts_t){.bind_addr = "127.0.0.1", .port = 0, .routes = s_routes,
                                                      .nroutes = sizeof(s_routes) / sizeof(s_routes[0]),
                                                      .max_body = S_LIMIT, .max_conns = 8, .timeout_s = 1,
                                                      .on_error = hook, .error_arg = hook_arg},
                                   &err);
    assert_non_null(h);
    assert_true(fb_httpd_port(h) > 0);
    return h;
}

/* A server with the routes and no hook, for one test. */
static int s_setup(void **state)
{
    *state = s_start(NULL, NULL);
    return 0;
}

static int s_teardown(void **state)
{
    fb_httpd_t *h = *state;
    fb_httpd_stop(&h);
    assert_null(h);
    return 0;
}

/* --------------------------------------------------------------- client -- */

typedef struct {
    int status;
    char head[2048]; /* status line and headers */
    char body[4096];
    size_t body_len;
} s_resp_t;

static int s_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Sends one request (body of len bytes, NULL: none; header, a whole
 * header line without its CRLF, NULL: none), reads the answer until the
 * server closes, and returns its status. */
static int s_request_with(int port, const char *method, const char *path, const char *header, const char *body,
                          size_t len, s_resp_t *out)
{
    int fd = s_connect(port);
    char req[1024];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n", method, path);
    if (header) n += snprintf(req + n, sizeof(req) - (size_t)n, "%s\r\n", header);
    if (body) n += snprintf(req + n, sizeof(req) - (size_t)n, "Content-Length: %zu\r\n", len);
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    assert_int_equal(write(fd, req, (size_t)n), n);
    if (body && len) assert_int_equal(write(fd, body, len), (ssize_t)len);
    static char raw[8192];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(raw) - 1 && (r = read(fd, raw + got, sizeof(raw) - 1 - got)) > 0) got += (size_t)r;
    close(fd);
    raw[got] = '\0';
    memset(out, 0, sizeof(*out));
    assert_int_equal(sscanf(raw, "HTTP/1.1 %d", &out->status), 1);
    const char *sep = strstr(raw, "\r\n\r\n");
    assert_non_null(sep);
    size_t head_len = (size_t)(sep - raw);
    assert_true(head_len < sizeof(out->head));
    memcpy(out->head, raw, head_len);
    out->body_len = got - head_len - 4;
    assert_true(out->body_len < sizeof(out->body));
    memcpy(out->body, sep + 4, out->body_len);
    return out->status;
}

/* s_request_with() with Content-Type type (NULL: none). */
static int s_request_typed(int port, const char *method, const char *path, const char *type, const char *body,
                           size_t len, s_resp_t *out)
{
    char line[256];
    if (type) snprintf(line, sizeof(line), "Content-Type: %s", type);
    return s_request_with(port, method, path, type ? line : NULL, body, len, out);
}

static int s_request(int port, const char *method, const char *path, const char *body, size_t len, s_resp_t *out)
{
    return s_request_typed(port, method, path, NULL, body, len, out);
}

/* The value of header name in r (spelt as the server writes it), or NULL. */
static const char *s_header(s_resp_t *r, const char *name, char *value, size_t size)
{
    char key[128];
    snprintf(key, sizeof(key), "\r\n%s: ", name);
    const char *p = strstr(r->head, key);
    if (!p) return NULL;
    p += strlen(key);
    size_t n = strcspn(p, "\r");
    snprintf(value, size, "%.*s", (int)n, p);
    return value;
}

/* ---------------------------------------------------------------- tests -- */

static void test_route_is_answered_by_its_handler(void **state)
{
    int port = fb_httpd_port(*state);
    s_resp_t r;
    char v[128];
    assert_int_equal(s_request(port, "GET", "/hello", NULL, 0, &r), 200);
    assert_string_equal(r.body, "hello\n");
    assert_string_equal(s_header(&r, "Content-Type", v, sizeof(v)), "text/plain");
    /* The query string is not part of the path. */
    assert_int_equal(s_request(port, "GET", "/hello?x=1", NULL, 0, &r), 200);
}

static void test_unknown_path_is_404(void **state)
{
    int port = fb_httpd_port(*state);
    s_resp_t r;
    assert_int_equal(s_request(port, "GET", "/nope", NULL, 0, &r), 404);
    assert_int_equal(s_request(port, "POST", "/nope", "{}", 2, &r), 404);
}

static void test_known_path_with_another_method_is_405_with_allow(void **state)
{
    int port = fb_httpd_port(*state);
    s_resp_t r;
    char v[128];
    assert_int_equal(s_request(port, "DELETE", "/hello", NULL, 0, &r), 405);
    assert_string_equal(s_header(&r, "Allow", v, sizeof(v)), "GET, HEAD");
    assert_int_equal(s_request(port, "GET", "/echo", NULL, 0, &r), 405);
    assert_string_equal(s_header(&r, "Allow", v, sizeof(v)), "POST");
}

static void test_body_up_to_the_limit_is_handed_over_whole(void **state)
{
    int port = fb_httpd_port(*state);
    s_resp_t r;
    char body[S_LIMIT], v[128];
    for (size_t i = 0; i < sizeof(body); i++) body[i] = (char)('a' + i % 26);
    assert_int_equal(s_request(port, "POST", "/echo", body, sizeof(body), &r), 200);
    assert_int_equal(r.body_len, S_LIMIT);
    assert_memory_equal(r.body, body, S_LIMIT);
    assert_string_equal(s_header(&r, "X-Body-Length", v, sizeof(v)), "64");
    /* No body: the handler sees none. */
    assert_int_equal(s_request(port, "POST", "/echo", NULL, 0, &r), 200);
    assert_string_equal(r.body, "(none)");
}

static void test_body_over_the_limit_is_413_naming_the_limit(void **state)
{
    int port = fb_httpd_port(*state);
    s_resp_t r;
    char body[S_LIMIT + 1];
    memset(body, 'x', sizeof(body));
    assert_int_equal(s_request(port, "POST", "/echo", body, sizeof(body), &r), 413);
    assert_non_null(strstr(r.body, "64 bytes"));
}

static void test_handler_sets_status_content_type_and_extra_headers(void **state)
{
    int port = fb_httpd_port(*state);
    s_resp_t r;
    char v[128];
    assert_int_equal(s_request(port, "GET", "/busy", NULL, 0, &r), 503);
    assert_string_equal(s_header(&r, "Retry-After", v, sizeof(v)), "7");
    assert_string_equal(s_header(&r, "Content-Type", v, sizeof(v)), "application/json");
    assert_string_equal(r.body, "{\"busy\":true}");
}

static void test_handler_that_answers_nothing_gives_500(void **state)
{
    int port = fb_httpd_port(*state);
    s_resp_t r;
    assert_int_equal(s_request(port, "GET", "/silent", NULL, 0, &r), 500);
}

static void test_error_hook_words_the_servers_own_answers(void **state)
{
    (void)state;
    fb_httpd_t *h = s_start(s_hook, "hook");
    int port = fb_httpd_port(h);
    s_resp_t r;
    char big[S_LIMIT + 10];
    memset(big, 'y', sizeof(big));
    assert_int_equal(s_request(port, "GET", "/nope", NULL, 0, &r), 400); /* the hook may change the status */
    assert_string_equal(r.body, "{\"error\":404,\"method\":\"GET\",\"path\":\"/nope\",\"by\":\"hook\"}");
    assert_int_equal(s_request(port, "PUT", "/hello", NULL, 0, &r), 405);
    assert_non_null(strstr(r.body, "\"error\":405"));
    assert_int_equal(s_request(port, "POST", "/echo", big, sizeof(big), &r), 413);
    assert_non_null(strstr(r.body, "\"path\":\"/echo\""));
    /* Routes are not the hook's. */
    assert_int_equal(s_request(port, "GET", "/hello", NULL, 0, &r), 200);
    fb_httpd_stop(&h);
}

static void test_idle_connection_is_closed_after_the_timeout(void **state)
{
    int port = fb_httpd_port(*state);
    int fd = s_connect(port);
    /* Half a request, then nothing: the server closes it (timeout 1 s). */
    assert_int_equal(write(fd, "GET /hello HTTP/1.1\r\n", 21), 21);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    char c;
    assert_true(read(fd, &c, 1) <= 0);
    close(fd);
    /* And the server still serves. */
    s_resp_t r;
    assert_int_equal(s_request(port, "GET", "/hello", NULL, 0, &r), 200);
}

static void test_handler_sees_the_content_type_as_sent(void **state)
{
    int port = fb_httpd_port(*state);
    s_resp_t r;
    assert_int_equal(s_request_typed(port, "POST", "/type", "Application/JSON; charset=UTF-8", "{}", 2, &r), 200);
    assert_string_equal(r.body, "Application/JSON; charset=UTF-8");
    assert_int_equal(s_request(port, "POST", "/type", "{}", 2, &r), 200);
    assert_string_equal(r.body, "(none)");
}

static void test_json_media_type_is_told_from_others_and_from_other_charsets(void **state)
{
    (void)state;
    static const char *const json[] = {
        "application/json",
        "APPLICATION/Json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "application/json ; charset=\"utf-8\"",
        "  application/json  ",
        "application/json; profile=x; charset=utf-8",
    };
    static const char *const not_json[] = {
        "",
        "text/plain",
        "application/jsonx",
        "application/json-seq",
        "application/x-www-form-urlencoded",
        "text/json",
        "application/json; charset=latin1",
        "application/json; charset=iso-8859-1",
        "application/json; charset=\"utf-16\"",
        "application/json; charset=utf-8x",
        "application/json; charset=",
        "application/json; charset=\"utf-8",
        "application/json; charset",
        "application/json, text/plain",
        "application/json utf-8",
    };
    for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++)
        if (!fb_httpd_type_is_json(json[i])) fail_msg("'%s' is JSON", json[i]);
    for (size_t i = 0; i < sizeof(not_json) / sizeof(not_json[0]); i++)
        if (fb_httpd_type_is_json(not_json[i])) fail_msg("'%s' is not JSON in UTF-8", not_json[i]);
    assert_false(fb_httpd_type_is_json(NULL));
}

static void test_start_refuses_a_bad_address_and_a_taken_port(void **state)
{
    (void)state;
    int err = 0;
    fb_httpd_opts_t o = {.bind_addr = "localhost:80", .routes = s_routes, .nroutes = 1};
    assert_null(fb_httpd_start(&o, &err));
    assert_int_equal(err, FB_EINVAL);
    o.bind_addr = "127.0.0.1";
    o.port = 70000;
    assert_null(fb_httpd_start(&o, &err));
    assert_int_equal(err, FB_EINVAL);
    fb_httpd_t *h = s_start(NULL, NULL);
    int port = fb_httpd_port(h);
    o.port = port;
    err = 0;
    assert_null(fb_httpd_start(&o, &err));
    assert_int_equal(err, FB_EIO);
    fb_httpd_stop(&h);
    fb_httpd_stop(&h); /* NULL is fine */
}

static void test_handler_sees_the_query_arguments_decoded_and_the_cookie_header(void **state)
{
    s_resp_t r;
    assert_int_equal(s_request(fb_httpd_port(*state), "GET", "/who?lang=en&token=s3c%20r%2Bt", NULL, 0, &r), 200);
    assert_string_equal(r.body, "token=[s3c r+t] cookie=[(none)]");
    assert_int_equal(s_request_with(fb_httpd_port(*state), "GET", "/who", "Cookie: a=1; fedbus_dashboard=abc123; b=2",
                                    NULL, 0, &r),
                     200);
    assert_string_equal(r.body, "token=[(none)] cookie=[abc123]");
}

static void test_cookie_is_found_by_its_exact_name_and_refused_when_it_does_not_fit(void **state)
{
    (void)state;
    char v[8];
    assert_string_equal(fb_httpd_cookie("fedbus_dashboard=abc", "fedbus_dashboard", v, sizeof(v)), "abc");
    assert_string_equal(fb_httpd_cookie("x=1;fedbus_dashboard=\"q\" ", "fedbus_dashboard", v, sizeof(v)), "q");
    assert_null(fb_httpd_cookie("xfedbus_dashboard=abc; fedbus_dashboardx=abc", "fedbus_dashboard", v, sizeof(v)));
    assert_null(fb_httpd_cookie("fedbus_dashboard=12345678", "fedbus_dashboard", v, sizeof(v)));
    assert_null(fb_httpd_cookie(NULL, "fedbus_dashboard", v, sizeof(v)));
    assert_null(fb_httpd_cookie("", "fedbus_dashboard", v, sizeof(v)));
}

static void test_bearer_header_must_carry_the_whole_token(void **state)
{
    (void)state;
    assert_true(fb_httpd_bearer_ok("Bearer s3cret", "s3cret", 6));
    assert_true(fb_httpd_bearer_ok("bearer   s3cret", "s3cret", 6));
    assert_false(fb_httpd_bearer_ok("Bearer s3cre", "s3cret", 6));
    assert_false(fb_httpd_bearer_ok("Bearer s3cretx", "s3cret", 6));
    assert_false(fb_httpd_bearer_ok("Basic s3cret", "s3cret", 6));
    assert_false(fb_httpd_bearer_ok("Bearer", "s3cret", 6));
    assert_false(fb_httpd_bearer_ok(NULL, "s3cret", 6));
    assert_true(fb_httpd_secret_equal("abc", "abc", 3));
    assert_false(fb_httpd_secret_equal("abd", "abc", 3));
    assert_false(fb_httpd_secret_equal(NULL, "abc", 3));
}

/* Writes text to path with mode; returns path. */
static const char *s_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void test_token_file_gives_its_first_line_trimmed_and_refuses_open_empty_long_and_missing_files(void **state)
{
    (void)state;
    char token[FB_HTTPD_TOKEN_MAX + 1], err[512], dir[] = "/tmp/test_httpd.XXXXXX", path[64];
    size_t len = 0;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/token", dir);

    assert_int_equal(fb_httpd_token_read(s_file(path, "  s3cret \nsecond line\n", 0600), token, &len, err, sizeof(err)), 0);
    assert_string_equal(token, "s3cret");
    assert_int_equal(len, 6);

    assert_int_equal(fb_httpd_token_read(s_file(path, "s3cret\n", 0640), token, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/token: must not be readable by others (mode 640; chmod 600 it)"));
    assert_int_equal(strncmp(err, "http-token-file /tmp/", 21), 0);

    assert_int_equal(fb_httpd_token_read(s_file(path, " \n", 0600), token, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/token: holds no token"));

    char big[FB_HTTPD_TOKEN_MAX + 3];
    memset(big, 'x', FB_HTTPD_TOKEN_MAX + 1);
    strcpy(big + FB_HTTPD_TOKEN_MAX + 1, "\n");
    assert_int_equal(fb_httpd_token_read(s_file(path, big, 0600), token, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "the token is longer than 512 bytes"));
    big[FB_HTTPD_TOKEN_MAX] = '\n';
    big[FB_HTTPD_TOKEN_MAX + 1] = '\0';
    assert_int_equal(fb_httpd_token_read(s_file(path, big, 0600), token, &len, err, sizeof(err)), 0);
    assert_int_equal(len, FB_HTTPD_TOKEN_MAX);

    unlink(path);
    assert_int_equal(fb_httpd_token_read(path, token, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/token: No such file or directory"));
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_route_is_answered_by_its_handler, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_path_is_404, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_known_path_with_another_method_is_405_with_allow, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_body_up_to_the_limit_is_handed_over_whole, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_body_over_the_limit_is_413_naming_the_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_handler_sets_status_content_type_and_extra_headers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_handler_that_answers_nothing_gives_500, s_setup, s_teardown),
        cmocka_unit_test(test_error_hook_words_the_servers_own_answers),
        cmocka_unit_test_setup_teardown(test_idle_connection_is_closed_after_the_timeout, s_setup, s_teardown),
        cmocka_unit_test(test_start_refuses_a_bad_address_and_a_taken_port),
        cmocka_unit_test_setup_teardown(test_handler_sees_the_content_type_as_sent, s_setup, s_teardown),
        cmocka_unit_test(test_json_media_type_is_told_from_others_and_from_other_charsets),
        cmocka_unit_test_setup_teardown(test_handler_sees_the_query_arguments_decoded_and_the_cookie_header, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_cookie_is_found_by_its_exact_name_and_refused_when_it_does_not_fit),
        cmocka_unit_test(test_bearer_header_must_carry_the_whole_token),
        cmocka_unit_test(test_token_file_gives_its_first_line_trimmed_and_refuses_open_empty_long_and_missing_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
