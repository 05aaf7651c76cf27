/* fb_cli_status.c — `fedbus status`: the broker's /api/status as a table for people, as JSON for scripts, with Nagios-style exit codes. */
#include "fb_cli.h"
#include "fb_httpd.h"

#include "fb_time.h"

#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The port operators give http-port by convention (docs/operations.md). */
#define S_DEFAULT_URL "http://127.0.0.1:7704"
#define S_BODY_MAX (16 << 20)

/* Exit statuses: stable, listed by --help. */
enum { S_OK = 0, S_STALE = 1, S_CRITICAL = 2 };

typedef struct {
    char url[512];
    char token_file[512];
    int json, watch;
    long long interval;
    long long timeout_ms;
} s_opts_t;

#define S_STR(f) offsetof(s_opts_t, f), sizeof(((s_opts_t *)0)->f)
static const fb_cfg_key_t s_keys[] = {
    {"broker-http", FB_CFG_STR, S_STR(url), S_DEFAULT_URL, 0, 0, "the broker's HTTP endpoint (its http-port)"},
    {"http-token-file", FB_CFG_STR, S_STR(token_file), "", 0, 0,
     "file holding the bearer token the broker asks for (its http-token-file)"},
    {"json", FB_CFG_BOOL, offsetof(s_opts_t, json), 0, "false", 0, 0, "print the broker's /api/status document as it is"},
    {"watch", FB_CFG_BOOL, offsetof(s_opts_t, watch), 0, "false", 0, 0, "refresh in place until interrupted"},
    {"interval", FB_CFG_INT, offsetof(s_opts_t, interval), 0, "2", 1, 3600, "seconds between refreshes with --watch"},
    {"timeout-ms", FB_CFG_INT, offsetof(s_opts_t, timeout_ms), 0, "5000", 100, 600000,
     "how long to wait for the broker's answer"},
    FB_CFG_END,
};

static const char s_help_tail[] =
    "Exit status:\n"
    "  0  every member that has been seen is up, and PostgreSQL is reachable\n"
    "  1  some member is stale (silent longer than the broker's stale-after)\n"
    "  2  some member is down, PostgreSQL is unreachable, the broker cannot be asked, or a bad option\n"
    "Members never seen since the broker started (subscribers only, say) do not count.\n";

/* ---------------------------------------------------------------- HTTP -- */

/* Splits url "http://HOST[:PORT][/PREFIX]" into its parts. Returns 0, or -1. */
static int s_parse_url(const char *url, char *host, size_t hsize, char *port, size_t psize, char *prefix, size_t xsize)
{
    if (strncmp(url, "http://", 7) != 0) return -1;
    const char *h = url + 7, *slash = strchr(h, '/'), *end = slash ? slash : h + strlen(h);
    const char *colon = memchr(h, ':', (size_t)(end - h));
    size_t hl = (size_t)((colon ? colon : end) - h);
    if (hl == 0 || hl >= hsize) return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(port, psize, "%.*s", colon ? (int)(end - colon - 1) : 2, colon ? colon + 1 : "80");
    if (!*port) return -1;
    snprintf(prefix, xsize, "%s", slash ? slash : "");
    size_t n = strlen(prefix);
    if (n && prefix[n - 1] == '/') prefix[n - 1] = '\0';
    return 0;
}

/* Connects to host:port within timeout_ms; returns the socket, or -1 with err. */
static int s_connect(const char *host, const char *port, int timeout_ms, char *err, size_t esize)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, esize, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            snprintf(err, esize, "%s:%s: %s", host, port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* GETs path of the broker at url with token (may be ""). Returns the HTTP
 * status and the body (malloc'd, NUL-terminated) in *body, or -1 with err. */
static int s_get(const s_opts_t *o, const char *token, const char *path, char **body, char *err, size_t esize)
{
    char host[256], port[16], prefix[256];
    *body = NULL;
    if (s_parse_url(o->url, host, sizeof(host), port, sizeof(port), prefix, sizeof(prefix)) != 0) {
        snprintf(err, esize, "--broker-http=%.200s is not http://HOST[:PORT][/PATH]", o->url);
        return -1;
    }
    int fd = s_connect(host, port, (int)o->timeout_ms, err, esize);
    if (fd < 0) return -1;
    char req[2048];
    int n = snprintf(req, sizeof(req), "GET %s%s HTTP/1.1\r\nHost: %s:%s\r\nAccept: application/json\r\n%s%s%s"
                     "Connection: close\r\n\r\n", prefix, path, host, port, *token ? "Authorization: Bearer " : "",
                     token, *token ? "\r\n" : "");
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (!buf || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        snprintf(err, esize, "%s:%s: %s", host, port, buf ? strerror(errno) : "out of memory");
        goto error;
    }
    for (;;) {
        if (len + 1 == cap) {
            char *more = cap < S_BODY_MAX ? realloc(buf, cap * 2) : NULL;
            if (!more) {
                snprintf(err, esize, "the answer is larger than %d bytes", S_BODY_MAX);
                goto error;
            }
            buf = more, cap *= 2;
        }
        ssize_t got = recv(fd, buf + len, cap - len - 1, 0);
        if (got == 0) break;
        if (got < 0) {
            snprintf(err, esize, "%s:%s: %s", host, port, errno == EAGAIN ? "no answer in time" : strerror(errno));
            goto error;
        }
        len += (size_t)got;
    }
    buf[len] = '\0';
    close(fd);
    int status = 0;
    char *start = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || !start) {
        snprintf(err, esize, "%s:%s did not answer HTTP", host, port);
        free(buf);
        return -1;
    }
    memmove(buf, start + 4, len - (size_t)(start + 4 - buf) + 1);
    *body = buf;
    return status;
error:
    free(buf);
    close(fd);
    return -1;
}

/* --------------------------------------------------------------- table -- */

/* "12s ago", "3m ago", "2h ago", "4d ago" from RFC 3339 t to now_us; "-" for null. */
static const char *s_ago(const json_t *t, int64_t now_us, char *out, size_t size)
{
    int64_t us;
    int off;
    if (!json_is_string(t) || fb_time_parse(json_string_value(t), &us, &off) != 0) return "-";
    long long s = (long long)((now_us - us) / 1000000);
    if (s < 0) s = 0;
    if (s < 120) snprintf(out, size, "%llds ago", s);
    else if (s < 7200) snprintf(out, size, "%lldm ago", s / 60);
    else if (s < 172800) snprintf(out, size, "%lldh ago", s / 3600);
    else snprintf(out, size, "%lldd ago", s / 86400);
    return out;
}

static void s_print_broker(const json_t *b, FILE *out)
{
    const json_t *pg = json_object_get(b, "postgres");
    const json_t *lat = json_object_get(pg, "commit_latency_seconds");
    double up = json_real_value(json_object_get(b, "uptime_seconds"));
    fprintf(out, "broker %s %s  uptime %.0fs  head %lld  postgres %s  commit p50 %.1f ms p99 %.1f ms  members up %lld  batches in flight %lld\n",
            json_string_value(json_object_get(b, "version")), json_string_value(json_object_get(b, "state")), up,
            (long long)json_integer_value(json_object_get(b, "global_seq")),
            json_is_true(json_object_get(pg, "reachable")) ? "reachable" : "UNREACHABLE",
            json_number_value(json_object_get(lat, "p50")) * 1000, json_number_value(json_object_get(lat, "p99")) * 1000,
            (long long)json_integer_value(json_object_get(b, "connections")),
            (long long)json_integer_value(json_object_get(b, "batches_in_flight")));
}

/* The member column's width: the longest id (at least 20), so that the
 * columns after it line up. */
static int s_id_width(const json_t *members)
{
    int w = 20;
    size_t i;
    const json_t *m;
    json_array_foreach(members, i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        if (id && (int)strlen(id) > w && strlen(id) <= 64) w = (int)strlen(id);
    }
    return w;
}

static void s_print_member(const json_t *m, int64_t now_us, int id_width, FILE *out)
{
    char seen[32], last[320], ago[32], outbox[48] = "-", lag[24] = "-";
    const json_t *lm = json_object_get(m, "last_message"), *ob = json_object_get(m, "outbox"),
                 *feed = json_object_get(m, "feed");
    if (json_is_object(lm))
        snprintf(last, sizeof(last), "%s %s", json_string_value(json_object_get(lm, "topic")),
                 s_ago(json_object_get(lm, "at"), now_us, ago, sizeof(ago)));
    else
        snprintf(last, sizeof(last), "-");
    if (json_is_object(ob))
        snprintf(outbox, sizeof(outbox), "%lld (%.0fs)", (long long)json_integer_value(json_object_get(ob, "depth")),
                 json_number_value(json_object_get(ob, "oldest_age_seconds")));
    if (json_is_object(feed)) snprintf(lag, sizeof(lag), "%lld", (long long)json_integer_value(json_object_get(feed, "lag")));
    fprintf(out, "%-*s %-6s %-10s %-40s %8.1f %-14s %s\n", id_width, json_string_value(json_object_get(m, "id")),
            json_string_value(json_object_get(m, "state")), s_ago(json_object_get(m, "last_seen"), now_us, seen, sizeof(seen)),
            last, json_number_value(json_object_get(m, "msgs_per_min")), outbox, lag);
}

/* The exit status doc says, and the table when out is not NULL. */
static int s_verdict(const json_t *doc, FILE *out)
{
    const json_t *b = json_object_get(doc, "broker"), *members = json_object_get(doc, "members");
    int rc = json_is_true(json_object_get(json_object_get(b, "postgres"), "reachable")) ? S_OK : S_CRITICAL;
    int64_t now_us = fb_time_now_us();
    int w = s_id_width(members);
    if (out) {
        s_print_broker(b, out);
        fprintf(out, "%-*s %-6s %-10s %-40s %8s %-14s %s\n", w, "MEMBER", "STATE", "LAST SEEN", "LAST MESSAGE", "MSGS/MIN",
                "OUTBOX", "LAG");
    }
    size_t i;
    const json_t *m;
    json_array_foreach(members, i, m) {
        const char *st = json_string_value(json_object_get(m, "state"));
        if (st && !strcmp(st, "down")) rc = S_CRITICAL;
        else if (st && !strcmp(st, "stale") && rc == S_OK) rc = S_STALE;
        if (out) s_print_member(m, now_us, w, out);
    }
    if (out && !json_is_true(json_object_get(json_object_get(b, "postgres"), "reachable")))
        fprintf(out, "PostgreSQL is unreachable: the broker stores nothing until it is back\n");
    return rc;
}

/* One look at the broker: prints what was asked; returns the exit status. */
static int s_once(const s_opts_t *o, const char *token)
{
    char err[512], *body = NULL;
    int status = s_get(o, token, "/api/status", &body, err, sizeof(err));
    if (status < 0) {
        fprintf(stderr, "fedbus status: cannot reach the broker at %s: %s\n", o->url, err);
        return S_CRITICAL;
    }
    if (status != 200) {
        char *nl = strchr(body, '\n');
        if (nl) *nl = '\0';
        fprintf(stderr, "fedbus status: the broker at %s answered %d%s%.200s\n", o->url, status, *body ? ": " : "", body);
        free(body);
        return S_CRITICAL;
    }
    json_error_t jerr;
    json_t *doc = json_loads(body, 0, &jerr);
    if (!json_is_object(doc) || !json_is_object(json_object_get(doc, "broker"))) {
        fprintf(stderr, "fedbus status: the broker at %s answered no status document (%s)\n", o->url, jerr.text);
        json_decref(doc);
        free(body);
        return S_CRITICAL;
    }
    int rc;
    if (o->json) {
        fputs(body, stdout);
        fputc('\n', stdout);
        rc = s_verdict(doc, NULL);
    } else {
        rc = s_verdict(doc, stdout);
    }
    fflush(stdout);
    json_decref(doc);
    free(body);
    return rc;
}

int fb_cli_status(int argc, char **argv)
{
    s_opts_t o;
    char err[256], token[FB_HTTPD_TOKEN_MAX + 1] = "";
    int nargs = 0;
    memset(&o, 0, sizeof(o));
    int rc = fb_config_load(s_keys, &o, argc, argv, &nargs, err, sizeof(err));
    if (rc == 1) {
        printf("usage: fedbus status [options]\n\nOptions:\n");
        fb_config_help(s_keys, stdout);
        printf("\n%s", s_help_tail);
        return S_OK;
    }
    if (rc < 0 || nargs > 0) {
        fprintf(stderr, "fedbus status: %s\n", rc < 0 ? err : "takes no arguments");
        return S_CRITICAL;
    }
    size_t token_len = 0;
    /* The daemons' own reader: the same trimming, and a file others can
     * read is refused here as the broker refuses it. */
    if (*o.token_file && fb_httpd_token_read(o.token_file, token, &token_len, err, sizeof(err)) != 0) {
        fprintf(stderr, "fedbus status: %s\n", err);
        return S_CRITICAL;
    }
    if (!o.watch) return s_once(&o, token);
    while (!fb_cli_stop) {
        printf("\033[H\033[2J"); /* home, clear: refresh in place */
        rc = s_once(&o, token);
        for (long long t = 0; t < o.interval * 10 && !fb_cli_stop; t++) usleep(100000);
    }
    return rc;
}
