/* it_durable.c — durable subscriptions across kill -9: `fedbus tail --durable=NAME`
 * killed mid-stream and started again prints what it missed (nothing lost; a repeat of
 * what the last cursor write had not covered is allowed); a node's JSON-lines feed
 * across kill -9 of the node (and a torn last line) holds every matching message
 * exactly once, in order, checked against PostgreSQL's rows.
 *
 * Ports 25200-25202 and 25210, clear of the other tests and of bench/run. */
#include "harness.h"

#include "fb_time.h"
#include "fb_zmq.h"

#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

#define S_WINDOW 500
#define S_MAXSEQ 20000

extern char **environ;

static th_t s_t;
static void *s_dealer[2]; /* each origin's own connection */
static const char *s_origins[] = {"kr-daejeon", "kr-busan"};
static uint64_t s_origin_seq[2];

/* Publishes n events, alternating the origins, in windows of S_WINDOW. */
static void s_publish(int n)
{
    for (int done = 0; done < n;) {
        int w = n - done < S_WINDOW ? n - done : S_WINDOW;
        for (int i = 0; i < w; i++) {
            int o = (done + i) % 2;
            size_t len;
            uint8_t *f = th_frame(th_event_json(s_origins[o], "forum", "durable test"), s_origins[o],
                                  ++s_origin_seq[o], NULL, &len);
            assert_true(zmq_send(s_dealer[o], f, len, 0) >= 0);
            free(f);
        }
        for (int i = 0; i < w; i++) {
            th_ack_t a;
            assert_int_equal(th_read_ack(s_dealer[(done + i) % 2], 10000, &a), 0);
            assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
        }
        done += w;
    }
}

/* Starts argv with stdout appended to out and stderr to log. */
static pid_t s_spawn_out(const char *const *argv, const char *out, const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static void s_kill9(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Reads the global_seqs of the JSON lines of path into seqs (counts per
 * global_seq, S_MAXSEQ long); returns the complete lines read. A last line
 * without its newline (torn by a kill) is not counted. *in_order is
 * cleared when a line's global_seq is not above the one before it. */
static int s_read_lines(const char *path, int *seqs, int *in_order, const char *topic_prefix)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lines = 0;
    long long prev = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') break;
        json_t *doc = json_loads(line, 0, NULL);
        assert_non_null(doc);
        long long seq = json_integer_value(json_object_get(doc, "global_seq"));
        const char *topic = json_string_value(json_object_get(doc, "topic"));
        assert_non_null(topic);
        assert_true(strncmp(topic, topic_prefix, strlen(topic_prefix)) == 0);
        json_decref(doc);
        assert_in_range(seq, 1, S_MAXSEQ - 1);
        if (seq <= prev) *in_order = 0;
        prev = seq;
        seqs[seq]++;
        lines++;
    }
    free(line);
    fclose(f);
    return lines;
}

/* The global_seqs stored with topics starting with prefix, as counts. */
static int s_rows(const char *prefix, int *rows)
{
    PGconn *c = PQconnectdb(s_t.conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    const char *params[] = {prefix};
    PGresult *r = PQexecParams(c, "SELECT global_seq FROM fedbus_messages WHERE starts_with(topic, $1)", 1, NULL,
                               params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        long long seq = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        assert_in_range(seq, 1, S_MAXSEQ - 1);
        rows[seq]++;
    }
    PQclear(r);
    PQfinish(c);
    return n;
}

/* Waits up to 20 s until the files hold (at least) want lines in all. */
static void s_wait_lines(const char *const *paths, int npaths, int want, const char *prefix)
{
    /* Distinct global_seqs, not lines: a restarted tail may reprint the
     * last few, and those must not stand in for ones still to come. */
    for (int i = 0; i < 200; i++) {
        int distinct = 0, order = 1;
        int *seqs = calloc(S_MAXSEQ, sizeof(int));
        for (int p = 0; p < npaths; p++) s_read_lines(paths[p], seqs, &order, prefix);
        for (int s = 1; s < S_MAXSEQ; s++) distinct += seqs[s] > 0;
        free(seqs);
        if (distinct >= want) return;
        usleep(100 * 1000);
    }
}

static void test_durable_tail_killed_and_started_again_misses_nothing(void **state)
{
    (void)state;
    const char *out[] = {"it-durable-tail-1.jsonl", "it-durable-tail-2.jsonl"};
    const char *log = "it-durable-tail.log";
    unlink(out[0]);
    unlink(out[1]);
    unlink("it-durable-state/tail-test.cursor");
    char feed[100], replay[100];
    snprintf(feed, sizeof(feed), "--feed=%s", s_t.feed);
    snprintf(replay, sizeof(replay), "--replay=%s", s_t.replay);
    char keys[320], bkey[320];
    th_node_flags(&s_t, "kr-tail", keys, bkey);
    const char *argv[] = {FEDBUS_CLI_BIN, "tail", feed, replay, "--durable=tail-test", "--state-dir=it-durable-state",
                          "--from-seq=1", keys, bkey, "event.kr-busan", NULL};
    s_publish(1000);
    pid_t tail = s_spawn_out(argv, out[0], log);
    s_publish(2000);
    usleep(300 * 1000);
    s_kill9(tail); /* mid-stream: the first file may end in a torn line */
    s_publish(2000);
    tail = s_spawn_out(argv, out[1], log);
    s_publish(1000);
    int *rows = calloc(S_MAXSEQ, sizeof(int)), *seqs = calloc(S_MAXSEQ, sizeof(int));
    int want = s_rows("event.kr-busan.", rows);
    s_wait_lines(out, 2, want, "event.kr-busan.");
    assert_int_equal(th_stop_pid(tail, SIGTERM), 0);
    int order1 = 1, order2 = 1;
    int n1 = s_read_lines(out[0], seqs, &order1, "event.kr-busan.");
    int n2 = s_read_lines(out[1], seqs, &order2, "event.kr-busan.");
    int missing = 0, repeated = 0, extra = 0;
    for (int s = 1; s < S_MAXSEQ; s++) {
        if (rows[s] && !seqs[s]) missing++;
        if (seqs[s] > 1) repeated++;
        if (seqs[s] && !rows[s]) extra++;
    }
    fprintf(stderr, "it_durable: tail printed %d + %d lines for %d rows: %d missing, %d printed twice\n", n1, n2,
            want, missing, repeated);
    assert_true(n1 > 0 && n2 > 0);
    assert_true(order1 && order2);
    assert_int_equal(missing, 0);
    assert_int_equal(extra, 0);
    free(rows);
    free(seqs);
}

static pid_t s_node(const char *output)
{
    char b[100], f[100], r[100], o[300], dir[200], d[220];
    snprintf(d, sizeof(d), "--state-dir=%s", th_state_dir(&s_t, "kr-durable", dir, sizeof(dir)));
    snprintf(b, sizeof(b), "--broker=%s", s_t.ingest);
    snprintf(f, sizeof(f), "--feed=%s", s_t.feed);
    snprintf(r, sizeof(r), "--replay=%s", s_t.replay);
    snprintf(o, sizeof(o), "--output=%s", output);
    char keys[320], bkey[320];
    th_node_flags(&s_t, "kr-durable", keys, bkey);
    const char *argv[] = {FEDBUS_NODE_BIN, "--member=kr-durable", b, f, r, "--submit=tcp://127.0.0.1:25210",
                          "--subscribe=event.kr-daejeon", o, d, "--log-level=debug", "--from-seq=1", keys, bkey, NULL};
    return th_spawn(argv, "it-durable-node.log");
}

static void test_node_feed_file_has_no_duplicate_and_no_hole_across_kill_9(void **state)
{
    (void)state;
    const char *out = "it-durable-node.jsonl";
    unlink(out);
    pid_t node = s_node(out);
    for (int round = 0; round < 4; round++) {
        s_publish(1500);
        usleep(150 * 1000 * (unsigned)round); /* killed at different points of its writing */
        th_stop_pid(node, SIGKILL);
        if (round == 1) {
            /* As if the kill came in the middle of a line: the node cuts it off. */
            FILE *f = fopen(out, "a");
            assert_non_null(f);
            fputs("{\"topic\":\"event.kr-daejeon.forum\",\"glo", f);
            fclose(f);
        }
        s_publish(500); /* while it is down */
        node = s_node(out);
    }
    int *rows = calloc(S_MAXSEQ, sizeof(int)), *seqs = calloc(S_MAXSEQ, sizeof(int));
    int want = s_rows("event.kr-daejeon.", rows);
    s_wait_lines(&out, 1, want, "event.kr-daejeon.");
    th_stop_pid(node, SIGTERM);
    int order = 1, n = s_read_lines(out, seqs, &order, "event.kr-daejeon.");
    int missing = 0, repeated = 0, extra = 0;
    for (int s = 1; s < S_MAXSEQ; s++) {
        if (rows[s] && !seqs[s]) missing++;
        if (seqs[s] > 1) repeated++;
        if (seqs[s] && !rows[s]) extra++;
    }
    fprintf(stderr, "it_durable: the node's file holds %d lines for %d rows over 4 kills: %d missing, %d twice\n", n,
            want, missing, repeated);
    assert_true(order);
    assert_int_equal(missing, 0);
    assert_int_equal(repeated, 0);
    assert_int_equal(extra, 0);
    assert_int_equal(n, want);
    free(rows);
    free(seqs);
}

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "durable", 25200);
    th_broker_start(&s_t, NULL);
    for (int o = 0; o < 2; o++) s_dealer[o] = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, s_origins[o]);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    for (int o = 0; o < 2; o++)
        if (s_dealer[o]) zmq_close(s_dealer[o]);
    th_cleanup(&s_t);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durable_tail_killed_and_started_again_misses_nothing),
        cmocka_unit_test(test_node_feed_file_has_no_duplicate_and_no_hole_across_kill_9),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
