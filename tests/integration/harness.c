/* harness.c — starts databases and fedbus processes for integration tests. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np(), nftw() */
#include "harness.h"

#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_json.h"
#include "fb_migrate.h"
#include "fb_time.h"
#include "fb_zmq.h"
#include "harness_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

extern char **environ;

/* The test state th_init() set up last: th_run() gives the CLI its keys. */
static th_t *s_current;
const char *th_node_bin = FEDBUS_NODE_BIN;

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

static int s_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0) fail_msg("cannot remove %s: %s", path, strerror(errno));
    return 0;
}

void th_rm_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void th_init(th_t *t, const char *name, int port_base)
{
    char sql[256];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    snprintf(t->dir, sizeof(t->dir), "it-%s", name);
    th_rm_tree(t->dir);
    if (mkdir(t->dir, 0755) != 0) fail_msg("cannot make %s: %s", t->dir, strerror(errno));
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
    /* Secure by default, as the broker is: keys for it, and members for
     * whatever the test connects as (th_member()). */
    th_trust(t);
    s_current = t;
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
    /* Nothing of the caller's but stdin, stdout, stderr: a broker that
     * outlives a killed test must not hold its flock (or any socket). */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
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
    char pg[300], in[100], fe[100], re[100], keys[300];
    snprintf(pg, sizeof(pg), "--pg=%s", t->conninfo);
    snprintf(in, sizeof(in), "--ingest=%s", t->ingest);
    snprintf(fe, sizeof(fe), "--feed=%s", t->feed);
    snprintf(re, sizeof(re), "--replay=%s", t->replay);
    snprintf(keys, sizeof(keys), "--keys=%s", t->broker_keys.file);
    /* The health topic takes global_seqs and rows that tests counting what
     * they published do not expect: off unless a test asks for it (it_health
     * does; a later flag wins). */
    const char *argv[32] = {FEDBUS_BROKER_BIN, pg, in, fe, re, "--stats-interval=1", "--log-level=debug",
                            "--health-topic=false"};
    int n = 8;
    /* A test of plaintext behaviour says so: then the harness's own clients
     * are plaintext too. */
    for (int i = 0; extra && extra[i]; i++)
        if (strncmp(extra[i], "--insecure-plaintext", 20) == 0) t->trust = 0;
    if (t->trust) argv[n++] = keys;
    for (int i = 0; extra && extra[i] && n < 31; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    /* The member the harness asks the broker as, known before it starts. */
    if (t->trust) th_member(t, "th-probe");
    fb_endpoint_opts_t probe = th_endpoint(t, t->replay, "th-probe");
    t->broker = s_spawn(argv, t->broker_log, NULL);
    for (int i = 0; i < 100; i++) {
        int count = 0;
        if (fb_replay_opts(&probe, NULL, 0, 0, 0, 1, s_count_one, &count, 200) == FB_OK) return;
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

const char *th_state_dir(const th_t *t, const char *member, char *out, size_t size)
{
    snprintf(out, size, "%s/state/%s", t->dir[0] ? t->dir : ".", member);
    return out;
}

int th_node_spawn(th_t *t, int i, const char *member, const char *subscribe, const char *broker,
                  const char *const *extra)
{
    char m[100], b[100], f[100], r[100], s[100], sub[600], out[300], dir[200], sd[220];
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
    const char *argv[32] = {th_node_bin, m, b, f, r, s, sub, out, "--resend-ms=300",
                            "--heartbeat-ms=200", "--log-level=debug", "--from-seq=1", NULL};
    int n = 12, own_dir = 0;
    for (int k = 0; extra && extra[k]; k++) own_dir |= strncmp(extra[k], "--state-dir=", 12) == 0;
    if (!own_dir) {
        snprintf(sd, sizeof(sd), "--state-dir=%s", th_state_dir(t, member, dir, sizeof(dir)));
        argv[n++] = sd;
    }
    char keys[300], broker_key[300];
    if (t->trust) {
        snprintf(keys, sizeof(keys), "--keys=%s", th_member(t, member)->file);
        snprintf(broker_key, sizeof(broker_key), "--broker-key=%s", t->broker_keys.pub_file);
        argv[n++] = keys;
        argv[n++] = broker_key;
    }
    for (int k = 0; extra && extra[k] && n < 31; k++) argv[n++] = extra[k];
    argv[n] = NULL;
    t->nodes[i] = s_spawn(argv, t->node_log[i], NULL);
    return i;
}

/* ------------------------------------------------------------- trust --- */

void th_keys_make(th_t *t, const char *id, th_keys_t *out)
{
    char err[512];
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", id);
    snprintf(out->file, sizeof(out->file), "it-%s-%s.key", t->name, id);
    snprintf(out->pub_file, sizeof(out->pub_file), "it-%s-%s.pub", t->name, id);
    if (th_keys_generate(id, out->file, out->pub_file, out->curve_public, out->curve_secret, out->sign_public,
                         out->sign_key_id, err, sizeof(err)) != 0)
        fail_msg("keys for %s: %s", id, err);
}

void th_trust(th_t *t)
{
    t->trust = 1;
    if (!t->broker_keys.file[0]) th_keys_make(t, "broker", &t->broker_keys);
}

void th_node_flags(th_t *t, const char *member, char *keys, char *broker_key)
{
    snprintf(keys, 320, "--keys=%s", t->trust ? th_member(t, member)->file : "");
    snprintf(broker_key, 320, "--broker-key=%s", t->trust ? t->broker_keys.pub_file : "");
}

void th_plaintext(th_t *t)
{
    t->trust = 0;
}

int th_replay(th_t *t, const char *const *patterns, int npatterns, uint64_t from_seq, int64_t since_us,
              uint32_t limit, fb_replay_fn fn, void *arg, int timeout_ms)
{
    fb_endpoint_opts_t e = th_endpoint(t, t->replay, "th-probe");
    return fb_replay_opts(&e, patterns, npatterns, from_seq, since_us, limit, fn, arg, timeout_ms);
}

fb_subscriber_t *th_subscriber(th_t *t, const char *member)
{
    fb_endpoint_opts_t feed = th_endpoint(t, t->feed, member), replay = th_endpoint(t, t->replay, member);
    return fb_subscriber_open(&feed, &replay);
}

fb_publisher_t *th_publisher(th_t *t, const char *member)
{
    fb_endpoint_opts_t e = th_endpoint(t, t->ingest, member);
    return fb_publisher_open(&e);
}

/* Runs sql with params on c; fails the test on an error. */
static void s_exec_params(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

void th_member_register(th_t *t, const char *id, const char *kind, const th_keys_t *keys)
{
    char err[512];
    PGconn *c = PQconnectdb(t->conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    /* The registry's tables, as the broker would make them. */
    if (fb_migrate_run(c, err, sizeof(err)) != 0) fail_msg("migrating %s: %s", t->conninfo, err);
    const char *p[] = {id, kind, keys->curve_public, keys->sign_key_id, keys->sign_public};
    s_exec_params(c,
                  "INSERT INTO fedbus_members (member, kind, curve_public, status, publish, read)"
                  " VALUES ($1, $2, $3, 'active', ARRAY['*.' || $1], '{*}') ON CONFLICT (member) DO UPDATE"
                  " SET kind = EXCLUDED.kind, curve_public = EXCLUDED.curve_public, status = 'active',"
                  " updated_at = now()",
                  3, p);
    s_exec_params(c, "DELETE FROM fedbus_member_keys WHERE member = $1", 1, p);
    s_exec_params(c,
                  "INSERT INTO fedbus_member_keys (member, key_id, public_key, valid_from)"
                  " VALUES ($1, decode($2, 'hex'), decode($3, 'hex'), now())",
                  3, (const char *const[]){id, keys->sign_key_id, keys->sign_public});
    s_exec_params(c, "NOTIFY fedbus_members", 0, NULL);
    PQfinish(c);
}

/* Whether the broker answers a replay request from keys k within ms: a
 * client ZAP refused never gets a connection (and ZeroMQ does not retry
 * one), so each try is a socket of its own. */
static int s_admitted(th_t *t, const th_keys_t *k, int ms)
{
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = t->replay,
                                           .curve_serverkey = t->broker_keys.curve_public,
                                           .curve_publickey = k->curve_public, .curve_secretkey = k->curve_secret});
    if (!s) return 0;
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    req.from_seq = 1ULL << 62;
    req.limit = 1;
    uint8_t buf[64];
    zmq_send(s, buf, fedbus__replay_request__pack(&req, buf), ZMQ_DONTWAIT);
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    int ok = zmq_poll(&it, 1, ms) == 1;
    zmq_close(s);
    return ok;
}

const th_keys_t *th_member(th_t *t, const char *id)
{
    for (int i = 0; i < t->nmembers; i++)
        if (strcmp(t->members[i].id, id) == 0) return &t->members[i];
    if (t->nmembers == TH_MEMBERS_MAX) fail_msg("more than %d members", TH_MEMBERS_MAX);
    th_keys_t *k = &t->members[t->nmembers++];
    th_keys_make(t, id, k);
    th_member_register(t, id, "hub", k);
    /* A running broker reads the registry on the NOTIFY; a client of this
     * member that came before would be refused for good. */
    int tries = 0;
    while (t->broker > 0 && t->trust && !s_admitted(t, k, 200))
        if (++tries == 50) fail_msg("the broker does not admit member %s", id);
    return k;
}

void th_member_status(th_t *t, const char *id, const char *status)
{
    PGconn *c = PQconnectdb(t->conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    s_exec_params(c, "UPDATE fedbus_members SET status = $2, updated_at = now() WHERE member = $1", 2,
                  (const char *const[]){id, status});
    s_exec_params(c, "NOTIFY fedbus_members", 0, NULL);
    PQfinish(c);
}

fb_endpoint_opts_t th_endpoint(th_t *t, const char *endpoint, const char *member)
{
    fb_endpoint_opts_t o = {.endpoint = endpoint};
    if (!t->trust) return o;
    const th_keys_t *k = th_member(t, member);
    o.curve_serverkey = t->broker_keys.curve_public;
    o.curve_publickey = k->curve_public;
    o.curve_secretkey = k->curve_secret;
    return o;
}

void *th_socket(th_t *t, int type, const char *endpoint, const char *member)
{
    fb_endpoint_opts_t e = th_endpoint(t, endpoint, member);
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = type, .endpoint = endpoint, .curve_serverkey = e.curve_serverkey,
                                           .curve_publickey = e.curve_publickey,
                                           .curve_secretkey = e.curve_secretkey});
    if (!s) fail_msg("socket to %s: %s", endpoint, zmq_strerror(errno));
    return s;
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

double th_stat_fresh(const th_t *t, const char *key)
{
    th_wait_lines(t->broker_log, "stats frames=", th_count_lines(t->broker_log, "stats frames=") + 1, 5000);
    return th_stat(t, key);
}

double th_stat_trust(const th_t *t, const char *key)
{
    FILE *f = fopen(t->broker_log, "r");
    if (!f) return -1;
    char line[4096], last[4096] = "";
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "stats trust ")) snprintf(last, sizeof(last), "%s", line);
    fclose(f);
    const char *p = strstr(last, key);
    double v = -1;
    if (p) sscanf(p + strlen(key), "%lf", &v);
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

int th_wait_lines(const char *path, const char *needle, int min, int timeout_ms)
{
    int n = th_count_lines(path, needle);
    for (int waited = 0; n < min && waited < timeout_ms; waited += 50) {
        usleep(50 * 1000);
        n = th_count_lines(path, needle);
    }
    return n;
}

/* The environment a program th_run() starts gets: the CLI, under trust,
 * FEDBUS_KEYS and FEDBUS_BROKER_KEY of the harness's own member (unless
 * the test set them), so that tail and replay reach the broker. Returns
 * environ, or env (entries in store). */
static char **s_env(const char *prog, char **env, size_t cap, char store[2][400])
{
    th_t *t = s_current;
    if (!t || !t->trust || strcmp(prog, FEDBUS_CLI_BIN) != 0 || getenv("FEDBUS_KEYS") || getenv("FEDBUS_BROKER_KEY"))
        return environ;
    size_t n = 0;
    for (char **e = environ; *e && n + 3 < cap; e++) env[n++] = *e;
    snprintf(store[0], sizeof(store[0]), "FEDBUS_KEYS=%s", th_member(t, "th-probe")->file);
    snprintf(store[1], sizeof(store[1]), "FEDBUS_BROKER_KEY=%s", t->broker_keys.curve_public);
    env[n++] = store[0];
    env[n++] = store[1];
    env[n] = NULL;
    return env;
}

int th_run(const char *const *argv, char **out, int timeout_s)
{
    int pipefd[2];
    if (pipe(pipefd) != 0) fail_msg("pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* the pipe's ends among them */
    pid_t pid;
    char *env[512], store[2][400];
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, s_env(argv[0], env, 512, store));
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

static int s_http(int port, const char *method, const char *path, const char *content_type, const char *header,
                  const char *payload, char *head, size_t head_size, char *body, size_t body_size);

int th_http(int port, const char *method, const char *path, const char *payload, char *head,
            size_t head_size, char *body, size_t body_size)
{
    return s_http(port, method, path, "application/json", NULL, payload, head, head_size, body, body_size);
}

int th_http_with(int port, const char *method, const char *path, const char *header, const char *payload,
                 char *head, size_t head_size, char *body, size_t body_size)
{
    return s_http(port, method, path, "application/json", header, payload, head, head_size, body, body_size);
}

int th_http_typed(int port, const char *method, const char *path, const char *content_type,
                  const char *payload, char *head, size_t head_size, char *body, size_t body_size)
{
    return s_http(port, method, path, content_type, NULL, payload, head, head_size, body, body_size);
}

static int s_http(int port, const char *method, const char *path, const char *content_type, const char *header,
                  const char *payload, char *head, size_t head_size, char *body, size_t body_size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return 0;
    }
    char req[8192], type[300] = "";
    if (content_type) snprintf(type, sizeof(type), "Content-Type: %s\r\n", content_type);
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: localhost\r\n%s%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     method, path, type, header ? header : "", header ? "\r\n" : "", payload ? strlen(payload) : 0,
                     payload ? payload : "");
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
