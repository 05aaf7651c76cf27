/* it_health.c — members' states as the broker sees them: a stopped node turns stale then down and up again,
 * each change a row and a message on _fedbus.health in order; PostgreSQL away makes /readyz fail and
 * `fedbus status` exit 2 while a node's outbox grows in /metrics; the JSON follows docs/status.schema.json;
 * /metrics passes promtool; the token and the bad settings are refused. */
#include "harness.h"

#include "fb_time.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#define S_BODY 262144

static char s_body[S_BODY];

/* GETs path from the broker's HTTP port; returns the status (0: no answer), the body in s_body. */
static int s_get(int port, const char *path)
{
    s_body[0] = '\0';
    return th_http(port, "GET", path, NULL, NULL, 0, s_body, sizeof(s_body));
}

/* member's state in /api/status, into out; "" when absent. */
static const char *s_state(int port, const char *member, char *out, size_t size)
{
    out[0] = '\0';
    if (s_get(port, "/api/status") != 200) return out;
    json_t *doc = json_loads(s_body, 0, NULL);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(doc, "members"), i, m)
        if (json_string_value(json_object_get(m, "id")) && !strcmp(json_string_value(json_object_get(m, "id")), member))
            snprintf(out, size, "%s", json_string_value(json_object_get(m, "state")));
    json_decref(doc);
    return out;
}

/* Waits up to ms for member to be in state; returns the ms it took, or -1. */
static long s_wait_state(int port, const char *member, const char *state, long ms)
{
    int64_t start = fb_time_mono_us();
    char st[16];
    while ((fb_time_mono_us() - start) / 1000 < ms) {
        if (!strcmp(s_state(port, member, st, sizeof(st)), state)) return (long)((fb_time_mono_us() - start) / 1000);
        usleep(50000);
    }
    return -1;
}

/* Runs `fedbus status` with the flags given (NULL-terminated), output into *out (may be NULL); returns its exit status. */
static int s_status(int port, char **out, ...)
{
    char url[64];
    snprintf(url, sizeof(url), "--broker-http=http://127.0.0.1:%d", port);
    const char *argv[12] = {FEDBUS_CLI_BIN, "status", url};
    int n = 3;
    va_list ap;
    va_start(ap, out);
    for (const char *a; n < 11 && (a = va_arg(ap, const char *));) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return th_run(argv, out, 20);
}

/* One SQL text result. */
static char *s_sql_text(th_t *t, const char *sql)
{
    PGconn *c = PQconnectdb(t->conninfo);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    char *v = strdup(PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

typedef struct {
    char seen[512];
} s_changes_t;

static int s_on_health(const fb_message_t *msg, void *arg)
{
    s_changes_t *c = arg;
    char *j = fb_message_json(msg);
    json_t *doc = json_loads(j, 0, NULL);
    json_t *ms = json_object_get(json_object_get(doc, "member_state"), "to_state");
    const char *member = json_string_value(json_object_get(json_object_get(doc, "member_state"), "member"));
    if (member && !strcmp(member, "kr-busan") && json_is_string(ms)) {
        size_t n = strlen(c->seen);
        snprintf(c->seen + n, sizeof(c->seen) - n, "%s%s", n ? "," : "", json_string_value(ms));
    }
    json_decref(doc);
    free(j);
    return 0;
}

static void test_a_stopped_node_turns_stale_then_down_and_up_again_in_the_table_and_on_the_health_topic(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "health_states", 27400);
    enum { HTTP = 27450 };
    const char *extra[] = {"--http-port=27450", "--health-topic=true", "--stale-after=1000", "--down-after=3000", NULL};
    th_broker_start(&t, extra);
    const char *node_extra[] = {"--heartbeat-ms=200", NULL};
    th_node_spawn(&t, 0, "kr-busan", NULL, NULL, node_extra);
    assert_true(s_wait_state(HTTP, "kr-busan", "up", 5000) >= 0);
    assert_int_equal(s_status(HTTP, NULL, NULL), 0);

    th_stop_pid(t.nodes[0], SIGKILL);
    long stale = s_wait_state(HTTP, "kr-busan", "stale", 4000);
    print_message("stale after %ld ms (stale-after 1000)\n", stale);
    assert_true(stale >= 500 && stale <= 2000);
    char *out = NULL;
    assert_int_equal(s_status(HTTP, &out, NULL), 1);
    assert_non_null(strstr(out, "kr-busan"));
    free(out);
    long down = s_wait_state(HTTP, "kr-busan", "down", 6000);
    print_message("down %ld ms later (down-after 3000)\n", down);
    assert_true(down >= 0 && stale + down <= 4000);
    assert_int_equal(s_status(HTTP, NULL, NULL), 2);

    th_node_spawn(&t, 0, "kr-busan", NULL, NULL, node_extra);
    assert_true(s_wait_state(HTTP, "kr-busan", "up", 5000) >= 0);
    assert_int_equal(s_status(HTTP, NULL, NULL), 0);

    /* The outage history in PostgreSQL, and the same story, in the same order, in the feed's history. */
    usleep(500000); /* the last change's batch commits */
    char *rows = s_sql_text(&t, "SELECT string_agg(from_state || '>' || to_state, ',' ORDER BY id) "
                                "FROM fedbus_member_states WHERE member = 'kr-busan'");
    assert_string_equal(rows, "never>up,up>stale,stale>down,down>up");
    free(rows);
    s_changes_t c = {""};
    const char *patterns[] = {"_fedbus.health"};
    fb_endpoint_opts_t e = th_endpoint(&t, t.replay, "th-probe");
    assert_int_equal(fb_replay_opts(&e, patterns, 1, 1, 0, 0, s_on_health, &c, 5000), FB_OK);
    assert_string_equal(c.seen, "up,stale,down,up");
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages WHERE topic = '_fedbus.health' "
                                    "AND origin = '_fedbus'"),
                     th_sql_int(&t, "SELECT count(*) FROM fedbus_member_states"));
    th_cleanup(&t);
}

/* PostgreSQL refuses t's database (away = 1) or takes it again. */
static void s_database_away(th_t *t, int away)
{
    const char *db = strstr(t->conninfo, "dbname=") + strlen("dbname=");
    char sql[256];
    PGconn *c = PQconnectdb("dbname=postgres");
    snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS %s", db, away ? "false" : "true");
    PQclear(PQexec(c, sql));
    if (away) {
        snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'", db);
        PQclear(PQexec(c, sql));
    }
    PQfinish(c);
}

/* The value of the sample line starting with name in s_body; -1 when absent. */
static double s_metric(const char *name)
{
    const char *p = s_body;
    size_t n = strlen(name);
    while ((p = strstr(p, name))) {
        if ((p == s_body || p[-1] == '\n') && p[n] == ' ') return atof(p + n + 1);
        p += n;
    }
    return -1;
}

/* Checks the text in s_body with promtool check metrics. */
static void s_promtool(const char *file)
{
    FILE *f = fopen(file, "w");
    fputs(s_body, f);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", file);
    int rc = system(cmd);
    assert_int_equal(rc, 0);
}

/* Validates `fedbus status --json`'s output against docs/status.schema.json (Debian's python3-jsonschema). */
static void s_validate(const char *json, const char *file)
{
    FILE *f = fopen(file, "w");
    fputs(json, f);
    fclose(f);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c 'import json,sys,jsonschema; "
             "jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.load(open(sys.argv[2])))' "
             "%s/docs/status.schema.json %s",
             FEDBUS_SOURCE_DIR, file);
    assert_int_equal(system(cmd), 0);
}

static void test_postgres_away_fails_readyz_and_status_while_the_outbox_grows_in_metrics_and_both_recover(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "health_pg", 27480);
    enum { HTTP = 27530, N = 5 };
    const char *extra[] = {"--http-port=27530", "--health-topic=true", "--stale-after=5000", "--down-after=20000", NULL};
    th_broker_start(&t, extra);
    /* Each held publish goes as a frame of its own, and a node takes no
     * new publish while every frame slot waits for the broker: room for
     * all N, so that all N are in its outbox. */
    const char *node_extra[] = {"--heartbeat-ms=200", "--inflight-frames=8", NULL};
    th_node_spawn(&t, 0, "kr-incheon", NULL, NULL, node_extra);
    assert_true(s_wait_state(HTTP, "kr-incheon", "up", 5000) >= 0);
    assert_int_equal(s_get(HTTP, "/healthz"), 200);
    assert_int_equal(s_get(HTTP, "/readyz"), 200);
    char *out = NULL;
    /* What the node's heartbeats carry reaches the document: "up" may come
     * from its Hello, the version with its first heartbeat. */
    json_t *doc = NULL, *node = NULL;
    for (int64_t t0 = fb_time_mono_us(); fb_time_mono_us() - t0 < 5000000; usleep(100000)) {
        free(out);
        out = NULL;
        json_decref(doc);
        assert_int_equal(s_status(HTTP, &out, "--json", NULL), 0);
        doc = json_loads(out, 0, NULL);
        size_t k;
        json_t *m;
        node = NULL;
        json_array_foreach(json_object_get(doc, "members"), k, m)
            if (json_string_value(json_object_get(m, "id")) && !strcmp(json_string_value(json_object_get(m, "id")), "kr-incheon"))
                node = m;
        if (node && json_string_value(json_object_get(node, "version"))) break;
    }
    s_validate(out, "it-health_pg/status-up.json");
    assert_non_null(node);
    assert_non_null(json_string_value(json_object_get(node, "version")));
    assert_string_equal(json_string_value(json_object_get(node, "version")), fb_version());
    assert_true(json_real_value(json_object_get(node, "uptime_seconds")) > 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(node, "outbox"), "depth")), 0);
    json_decref(doc);
    free(out);

    s_database_away(&t, 1);
    int64_t start = fb_time_mono_us();
    while (s_get(HTTP, "/readyz") != 503 && fb_time_mono_us() - start < 5000000) usleep(100000);
    assert_int_equal(s_get(HTTP, "/readyz"), 503);
    assert_non_null(strstr(s_body, "postgres unreachable"));
    assert_int_equal(s_get(HTTP, "/healthz"), 200);
    assert_int_equal(s_status(HTTP, &out, NULL), 2);
    assert_non_null(strstr(out, "PostgreSQL is unreachable"));
    free(out);

    /* Publishes the broker cannot store stay in the node's outbox, which its heartbeats report. */
    fb_publisher_t *pub = fb_publisher_new(t.node_submit[0]);
    for (int i = 0; i < N; i++) {
        char title[32];
        fb_ack_t ack;
        snprintf(title, sizeof(title), "held %d", i);
        const char *j = th_event_json("kr-incheon", "forum", title);
        assert_int_equal(fb_publisher_send_json(pub, j, strlen(j), &ack, 100), FB_ETIMEOUT);
    }
    double depth = -1, age1 = -1, age2 = -1;
    for (start = fb_time_mono_us(); fb_time_mono_us() - start < 5000000 && depth < N; usleep(100000)) {
        assert_int_equal(s_get(HTTP, "/metrics"), 200);
        depth = s_metric("fedbus_member_outbox_depth{member=\"kr-incheon\"}");
        age1 = s_metric("fedbus_member_outbox_oldest_age_seconds{member=\"kr-incheon\"}");
    }
    assert_true(depth >= N);
    assert_true(s_metric("fedbus_postgres_up") == 0);
    s_promtool("it-health_pg/metrics-away.txt");
    usleep(1500000);
    assert_int_equal(s_get(HTTP, "/metrics"), 200);
    age2 = s_metric("fedbus_member_outbox_oldest_age_seconds{member=\"kr-incheon\"}");
    print_message("outbox depth %.0f, oldest %.2f s then %.2f s\n", depth, age1, age2);
    assert_true(age2 > age1 + 0.5);
    assert_int_equal(s_status(HTTP, &out, "--json", NULL), 2);
    s_validate(out, "it-health_pg/status-away.json");
    free(out);

    s_database_away(&t, 0);
    for (start = fb_time_mono_us(); s_get(HTTP, "/readyz") != 200 && fb_time_mono_us() - start < 10000000;)
        usleep(100000);
    assert_int_equal(s_get(HTTP, "/readyz"), 200);
    for (start = fb_time_mono_us(); fb_time_mono_us() - start < 10000000; usleep(100000)) {
        s_get(HTTP, "/metrics");
        if (s_metric("fedbus_member_outbox_depth{member=\"kr-incheon\"}") == 0) break;
    }
    assert_true(s_metric("fedbus_member_outbox_depth{member=\"kr-incheon\"}") == 0);
    assert_true(s_metric("fedbus_member_messages_total{member=\"kr-incheon\"}") >= N);
    assert_true(s_metric("fedbus_commit_latency_seconds_count") > 0);
    s_promtool("it-health_pg/metrics-back.txt");
    assert_int_equal(s_status(HTTP, NULL, NULL), 0);
    fb_publisher_destroy(&pub);
    th_cleanup(&t);
}

/* Starts a plaintext broker on 27580-27582 with the flags given and
 * expects it to refuse them: a non-zero exit and want in what it says. */
static void s_broker_refuses(const char *pg, const char *flags, const char *want)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "%s '%s' --insecure-plaintext --ingest=tcp://127.0.0.1:27580 --feed=tcp://127.0.0.1:27581 "
             "--replay=tcp://127.0.0.1:27582 %s 2>&1",
             FEDBUS_BROKER_BIN, pg, flags);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    char *out = NULL;
    assert_int_not_equal(th_run(argv, &out, 20), 0);
    if (!strstr(out, want)) fail_msg("broker with %s said: %s (want: %s)", flags, out, want);
    free(out);
}

static void test_status_exits_2_when_the_broker_cannot_be_asked_and_the_token_guards_the_api(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "health_token", 27560);
    char *out = NULL;
    /* Nothing listens on 27589. */
    const char *argv[] = {"/bin/sh", "-c", FEDBUS_CLI_BIN " status --broker-http=http://127.0.0.1:27589 2>&1", NULL};
    assert_int_equal(th_run(argv, &out, 20), 2);
    assert_non_null(strstr(out, "cannot reach the broker"));
    free(out);

    const char *token = "it-health_token/token";
    FILE *f = fopen(token, "w");
    fputs("s3cret-token\n", f);
    fclose(f);
    chmod(token, 0600);
    const char *extra[] = {"--http-port=27570", "--health-topic=true", "--http-token-file=it-health_token/token", NULL};
    th_broker_start(&t, extra);
    for (int64_t start = fb_time_mono_us(); s_get(27570, "/healthz") != 200 && fb_time_mono_us() - start < 5000000;)
        usleep(50000);
    assert_int_equal(s_get(27570, "/api/status"), 401);
    assert_int_equal(s_get(27570, "/metrics"), 200);
    /* The dashboard too: without the token its login page, with it the page
     * (the session cookie's part is it_dashboard's). */
    assert_int_equal(s_get(27570, "/"), 401);
    assert_non_null(strstr(s_body, "action=\"/dashboard/login\""));
    assert_int_equal(s_get(27570, "/dashboard/app.js"), 401);
    assert_int_equal(th_http_with(27570, "GET", "/api/status", "Authorization: Bearer s3cret-token", NULL, NULL, 0,
                                  s_body, sizeof(s_body)),
                     200);
    assert_int_equal(th_http_with(27570, "GET", "/", "Authorization: Bearer s3cret-token", NULL, NULL, 0, s_body,
                                  sizeof(s_body)),
                     200);
    assert_non_null(strstr(s_body, "/dashboard/app.js"));
    assert_int_equal(s_status(27570, NULL, NULL), 2);
    assert_int_equal(s_status(27570, NULL, "--http-token-file=it-health_token/token", NULL), 0);
    th_broker_stop(&t, SIGTERM);

    /* Settings the broker refuses, each with its reason. */
    char pg[300];
    snprintf(pg, sizeof(pg), "--pg=%s", t.conninfo);
    chmod(token, 0644);
    s_broker_refuses(pg, "--http-port=27583 --http-token-file=it-health_token/token", "must not be readable by others");
    s_broker_refuses(pg, "--stale-after=5000 --down-after=5000", "down-after (5000 ms) must be longer than stale-after");
    s_broker_refuses(pg, "--http-port=27580", "http: cannot listen on 127.0.0.1:27580");
    s_broker_refuses(pg, "--http-port=27583 --http-token-file=it-health_token/none",
                     "http-token-file it-health_token/none: No such file");
    /* fedbus status's own bad input: exit 2 and one line. */
    char cmd[1024];
    const char *sh[] = {"/bin/sh", "-c", cmd, NULL};
    snprintf(cmd, sizeof(cmd), "%s status --broker-http=ftp://127.0.0.1:27583 2>&1", FEDBUS_CLI_BIN);
    assert_int_equal(th_run(sh, &out, 20), 2);
    assert_non_null(strstr(out, "is not http://HOST[:PORT][/PATH]"));
    free(out);
    snprintf(cmd, sizeof(cmd), "%s status --http-token-file=it-health_token/none 2>&1", FEDBUS_CLI_BIN);
    assert_int_equal(th_run(sh, &out, 20), 2);
    assert_non_null(strstr(out, "http-token-file it-health_token/none: No such file"));
    free(out);
    /* The token file still 0644: status refuses it as the broker does. */
    snprintf(cmd, sizeof(cmd), "%s status --http-token-file=it-health_token/token 2>&1", FEDBUS_CLI_BIN);
    assert_int_equal(th_run(sh, &out, 20), 2);
    assert_non_null(strstr(out, "must not be readable by others"));
    free(out);
    th_cleanup(&t);
}

/* member's feed object in /api/status: *lag and *head_seen; returns 0, or -1 when it has none yet. */
static int s_feed(int port, const char *member, long long *lag, long long *last)
{
    int rc = -1;
    if (s_get(port, "/api/status") != 200) return -1;
    json_t *doc = json_loads(s_body, 0, NULL);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(doc, "members"), i, m)
    {
        const char *id = json_string_value(json_object_get(m, "id"));
        json_t *feed = json_object_get(m, "feed");
        if (id && !strcmp(id, member) && json_is_object(feed)) {
            *lag = json_integer_value(json_object_get(feed, "lag"));
            *last = json_integer_value(json_object_get(feed, "last_delivered_seq"));
            rc = 0;
        }
    }
    json_decref(doc);
    return rc;
}

/* A hub whose feed matches none of what is published has nothing waiting
 * for it: its lag stays 0 (it reports its subscriber's position, which the
 * broker's head frames move), not the head minus its last message. */
static void test_a_feed_matching_nothing_published_shows_no_lag(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "health_lag", 30000);
    enum { HTTP = 30050, N = 20 };
    const char *extra[] = {"--http-port=30050", "--health-topic=false", NULL};
    th_broker_start(&t, extra);
    const char *node_extra[] = {"--heartbeat-ms=200", NULL};
    th_node_spawn(&t, 0, "kr-busan", "researcher.kr-nowhere", NULL, node_extra);
    assert_true(s_wait_state(HTTP, "kr-busan", "up", 5000) >= 0);
    th_node_spawn(&t, 1, "kr-incheon", NULL, NULL, node_extra);
    fb_publisher_t *pub = fb_publisher_new(t.node_submit[1]);
    assert_non_null(pub);
    for (int i = 0; i < N; i++) {
        const char *j = th_event_json("kr-incheon", "forum", "a forum nobody in Busan follows");
        fb_ack_t ack;
        assert_int_equal(fb_publisher_send_json(pub, j, strlen(j), &ack, 5000), FB_OK);
    }
    fb_publisher_destroy(&pub);
    long long head = th_sql_int(&t, "SELECT max(global_seq) FROM fedbus_messages");
    assert_true(head >= N);
    long long lag = -1, last = 0;
    for (int64_t t0 = fb_time_mono_us(); fb_time_mono_us() - t0 < 5000000; usleep(100000))
        if (s_feed(HTTP, "kr-busan", &lag, &last) == 0 && last >= head) break;
    print_message("kr-busan: last %lld, lag %lld, head %lld\n", last, lag, head);
    assert_true(last >= head);
    assert_int_equal(lag, 0);
    th_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_stopped_node_turns_stale_then_down_and_up_again_in_the_table_and_on_the_health_topic),
        cmocka_unit_test(test_postgres_away_fails_readyz_and_status_while_the_outbox_grows_in_metrics_and_both_recover),
        cmocka_unit_test(test_status_exits_2_when_the_broker_cannot_be_asked_and_the_token_guards_the_api),
        cmocka_unit_test(test_a_feed_matching_nothing_published_shows_no_lag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
