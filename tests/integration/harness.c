/* harness.c — starts databases and fedbus processes for integration tests. */
#include "harness.h"

#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_json.h"
#include "fb_time.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

extern char **environ;

static void s_exec_admin(const char *sql)
{
    PGconn *c = PQconnectdb("");
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("PostgreSQL unreachable (%s): run the integration tests under pg_virtualenv, "
                 "see README.md", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

void th_init(th_t *t, const char *name, int port_base)
{
    char sql[256];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->port_base = port_base;
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS fedbus_it_%s WITH (FORCE)", name);
    s_exec_admin(sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE fedbus_it_%s", name);
    s_exec_admin(sql);
    snprintf(t->conninfo, sizeof(t->conninfo), "dbname=fedbus_it_%s", name);
    snprintf(t->ingest, sizeof(t->ingest), "tcp://127.0.0.1:%d", port_base);
    snprintf(t->feed, sizeof(t->feed), "tcp://127.0.0.1:%d", port_base + 1);
    snprintf(t->replay, sizeof(t->replay), "tcp://127.0.0.1:%d", port_base + 2);
    snprintf(t->broker_log, sizeof(t->broker_log), "it-%s-broker.log", name);
    unlink(t->broker_log);
}

/* Every process the harness started, stopped at exit even when a test fails. */
static pid_t s_children[64];
static int s_nchildren;

static void s_kill_children(void)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] > 0 && kill(s_children[i], SIGKILL) == 0) waitpid(s_children[i], NULL, 0);
}

void th_kill_children_now(void)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] > 0) kill(s_children[i], SIGKILL);
}

static pid_t s_spawn(const char *const *argv, const char *log, const char *out)
{
    if (s_nchildren == 0) atexit(s_kill_children);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out) posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) fail_msg("cannot start %s: %s", argv[0], strerror(rc));
    if (s_nchildren < 64) s_children[s_nchildren++] = pid;
    return pid;
}

static int s_stop(pid_t pid, int sig)
{
    int status = 0;
    if (pid <= 0) return 0;
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] == pid) s_children[i] = 0;
    kill(pid, sig);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) return status;
        usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return status;
}

static int s_count_one(const fb_message_t *m, void *arg)
{
    (void)m;
    (*(int *)arg)++;
    return 0;
}

void th_broker_start(th_t *t, const char *const *extra)
{
    char pg[300], in[100], fe[100], re[100];
    snprintf(pg, sizeof(pg), "--pg=%s", t->conninfo);
    snprintf(in, sizeof(in), "--ingest=%s", t->ingest);
    snprintf(fe, sizeof(fe), "--feed=%s", t->feed);
    snprintf(re, sizeof(re), "--replay=%s", t->replay);
    const char *argv[32] = {FEDBUS_BROKER_BIN, pg, in, fe, re, "--stats-interval=1", "--log-level=debug"};
    int n = 7;
    for (int i = 0; extra && extra[i] && n < 31; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    t->broker = s_spawn(argv, t->broker_log, NULL);
    for (int i = 0; i < 100; i++) {
        int count = 0;
        if (fb_replay(t->replay, NULL, 0, 0, 0, 1, s_count_one, &count, 200) == FB_OK) return;
        int status;
        if (waitpid(t->broker, &status, WNOHANG) == t->broker) {
            t->broker = 0;
            fail_msg("broker exited during start (see %s)", t->broker_log);
        }
    }
    fail_msg("broker did not become ready (see %s)", t->broker_log);
}

int th_broker_stop(th_t *t, int sig)
{
    int status = s_stop(t->broker, sig);
    t->broker = 0;
    return status;
}

int th_node_start(th_t *t, const char *member, const char *subscribe)
{
    int i = t->nnodes++;
    char name[64];
    snprintf(name, sizeof(name), "%s", t->name);
    snprintf(t->node_log[i], sizeof(t->node_log[i]), "it-%s-node-%s.log", name, member);
    snprintf(t->node_output[i], sizeof(t->node_output[i]), "it-%s-node-%s.jsonl", name, member);
    unlink(t->node_log[i]);
    unlink(t->node_output[i]);
    return th_node_spawn(t, i, member, subscribe, NULL, NULL);
}

int th_node_spawn(th_t *t, int i, const char *member, const char *subscribe, const char *broker,
                  const char *const *extra)
{
    char m[100], b[100], f[100], r[100], s[100], sub[600], out[300];
    if (i >= t->nnodes) t->nnodes = i + 1;
    snprintf(t->node_submit[i], sizeof(t->node_submit[i]), "tcp://127.0.0.1:%d", t->port_base + 10 + i);
    if (!t->node_log[i][0]) {
        char name[64];
        snprintf(name, sizeof(name), "%s", t->name);
        snprintf(t->node_log[i], sizeof(t->node_log[i]), "it-%s-node-%s.log", name, member);
        snprintf(t->node_output[i], sizeof(t->node_output[i]), "it-%s-node-%s.jsonl", name, member);
        unlink(t->node_log[i]);
        unlink(t->node_output[i]);
    }
    snprintf(m, sizeof(m), "--member=%s", member);
    snprintf(b, sizeof(b), "--broker=%s", broker ? broker : t->ingest);
    snprintf(f, sizeof(f), "--feed=%s", t->feed);
    snprintf(r, sizeof(r), "--replay=%s", t->replay);
    snprintf(s, sizeof(s), "--submit=%s", t->node_submit[i]);
    snprintf(sub, sizeof(sub), "--subscribe=%s", subscribe ? subscribe : "");
    snprintf(out, sizeof(out), "--output=%s", t->node_output[i]);
    /* Subscribing nodes catch up from the start, so nothing published before
     * their subscription reached the broker is missed. */
    const char *argv[32] = {FEDBUS_NODE_BIN, m, b, f, r, s, sub, out, "--resend-ms=300",
                            "--heartbeat-ms=200", "--log-level=debug", "--from-seq=1", NULL};
    int n = 12;
    for (int k = 0; extra && extra[k] && n < 31; k++) argv[n++] = extra[k];
    argv[n] = NULL;
    t->nodes[i] = s_spawn(argv, t->node_log[i], NULL);
    return i;
}

void th_cleanup(th_t *t)
{
    for (int i = 0; i < t->nnodes; i++) s_stop(t->nodes[i], SIGTERM);
    t->nnodes = 0;
    s_stop(t->broker, SIGTERM);
    t->broker = 0;
}

long long th_sql_int(th_t *t, const char *sql)
{
    PGconn *c = PQconnectdb(t->conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    if (PQntuples(r) < 1 || PQgetisnull(r, 0, 0)) fail_msg("%s: no value", sql);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

void th_sql_exec(th_t *t, const char *sql)
{
    PGconn *c = PQconnectdb(t->conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

uint8_t *th_frame(const char *json, const char *origin, uint64_t origin_seq, const char *id, size_t *len)
{
    json_error_t jerr;
    char err[256];
    ProtobufCMessage *pm = NULL;
    json_t *root = json_loads(json, 0, &jerr);
    if (!root) fail_msg("bad test JSON: %s", jerr.text);
    if (fb_json_to_message(root, &fedbus__envelope__descriptor, &pm, err, sizeof(err)) != 0)
        fail_msg("bad test JSON: %s", err);
    json_decref(root);
    Fedbus__Envelope *env = (Fedbus__Envelope *)pm;
    env->origin = strdup(origin);
    env->origin_seq = origin_seq;
    env->schema_version = 1;
    if (!env->created_at_us) env->created_at_us = fb_time_now_us();
    if (env->message_id.len == 0) {
        env->message_id.data = malloc(16);
        env->message_id.len = 16;
        if (id) assert_int_equal(fb_uuid_parse(id, env->message_id.data), 0);
        else fb_uuid_v7(fb_time_now_us(), env->message_id.data);
    }
    uint8_t *frame = fb_envelope_publish_frame(env, len);
    assert_non_null(frame);
    protobuf_c_message_free_unpacked(pm, NULL);
    return frame;
}

const char *th_event_json(const char *origin, const char *category, const char *title)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"topic\":\"event.%s.%s\",\"event\":{\"kind\":\"forum\",\"title\":{\"en\":\"%s\"},"
             "\"starts_at\":\"2026-05-20T14:00:00+09:00\"}}",
             origin, category, title);
    return buf;
}

double th_stat(const th_t *t, const char *key)
{
    FILE *f = fopen(t->broker_log, "r");
    assert_non_null(f);
    char line[4096], last[4096] = "";
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "stats frames=")) snprintf(last, sizeof(last), "%s", line);
    fclose(f);
    const char *p = strstr(last, key);
    double v = -1;
    if (!p || sscanf(p + strlen(key), "%lf", &v) != 1)
        fail_msg("no%s in the last stats line of %s: %s", key, t->broker_log, last);
    return v;
}

int th_count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, needle)) n++;
    fclose(f);
    return n;
}

int th_run(const char *const *argv, char **out, int timeout_s)
{
    int pipefd[2];
    if (pipe(pipefd) != 0) fail_msg("pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) fail_msg("cannot start %s: %s", argv[0], strerror(rc));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    int64_t deadline = fb_time_mono_us() + (int64_t)timeout_s * 1000000;
    int status = -1, done = 0;
    while (!done) {
        if (len + 1024 > cap) buf = realloc(buf, cap *= 2);
        ssize_t r = read(pipefd[0], buf + len, cap - len - 1);
        if (r > 0) {
            len += (size_t)r;
            continue;
        }
        if (waitpid(pid, &status, WNOHANG) == pid) {
            while ((r = read(pipefd[0], buf + len, cap - len - 1)) > 0) {
                len += (size_t)r;
                if (len + 1024 > cap) buf = realloc(buf, cap *= 2);
            }
            done = 1;
        } else if (fb_time_mono_us() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("%s did not finish in %d s", argv[0], timeout_s);
        } else {
            usleep(10000);
        }
    }
    close(pipefd[0]);
    buf[len] = '\0';
    if (out) *out = buf;
    else free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t th_spawn(const char *const *argv, const char *log)
{
    return s_spawn(argv, log, NULL);
}

int th_stop_pid(pid_t pid, int sig)
{
    return s_stop(pid, sig);
}

int th_read_ack(void *sock, int timeout_ms, th_ack_t *ack)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) != 1) return -1;
    uint8_t buf[4096];
    int r = zmq_recv(sock, buf, sizeof(buf), 0);
    if (r < 0 || r > (int)sizeof(buf)) fail_msg("ack frame: %d bytes", r);
    Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(NULL, (size_t)r, buf);
    if (!bm || bm->body_case != FEDBUS__BROKER_MESSAGE__BODY_ACK) fail_msg("not an ack frame");
    ack->status = bm->ack->status;
    ack->global_seq = bm->ack->global_seq;
    ack->reason = bm->ack->reason;
    fedbus__broker_message__free_unpacked(bm, NULL);
    return 0;
}

/* Copies text into out (size bytes; out may be NULL), cut to fit. */
static void s_copy_cut(char *out, size_t size, const char *text)
{
    if (!out || !size) return;
    size_t n = strlen(text);
    if (n >= size) n = size - 1;
    memcpy(out, text, n);
    out[n] = '\0';
}

int th_http(int port, const char *method, const char *path, const char *payload, char *head,
            size_t head_size, char *body, size_t body_size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return 0;
    }
    char req[8192];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     method, path, payload ? strlen(payload) : 0, payload ? payload : "");
    assert_true(n > 0 && (size_t)n < sizeof(req));
    assert_int_equal(write(fd, req, (size_t)n), n);
    char resp[16384];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof(resp) - 1 && (r = read(fd, resp + len, sizeof(resp) - 1 - len)) > 0) len += (size_t)r;
    close(fd);
    resp[len] = '\0';
    int status = 0;
    sscanf(resp, "HTTP/1.1 %d", &status);
    char *b = strstr(resp, "\r\n\r\n");
    if (b) *b = '\0';
    s_copy_cut(head, head_size, resp);
    s_copy_cut(body, body_size, b ? b + 4 : "");
    return status;
}
