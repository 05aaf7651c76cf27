/* it_retention.c — retention by age: old partitions dropped and counted, every message inside the window kept,
 * replay and publishes past the horizon refused BEYOND_RETENTION, the ids' date rules, duplicates caught across
 * partitions, losses reported to subscribers and by `fedbus tail`, and numbering that never goes back.
 *
 * One broker keeps 10 s of history in partitions of 1 s. Ports 26000-26002 (26010-26012: a broker refused). */
#include "harness.h"

#include "fb_crypto.h"
#include "fb_time.h"
#include "fb_zmq.h"

#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

enum { N = 40 };
/* Plaintext: these tests publish as several origins on one raw socket;
 * members and keys are it_trust's and it_member's. */
#define S_ARGS {"--retention=10s", "--retention-period=1s", "--insecure-plaintext", NULL}

static th_t s_t;
static void *s_sock; /* raw DEALER on ingest */
static int64_t s_old_us; /* when the old messages were published */

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "retention", 26000);
    const char *args[] = S_ARGS;
    th_broker_start(&s_t, args);
    s_sock = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_t.ingest});
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    zmq_close(s_sock);
    th_cleanup(&s_t);
    return 0;
}

/* The text of a new UUIDv7 dated at unix_us. */
static void s_id_at(int64_t unix_us, char out[37])
{
    uint8_t b[16];
    assert_int_equal(fb_uuid_v7(unix_us, b), 0);
    fb_uuid_format(b, out);
}

/* Publishes event `title` of origin as origin_seq seq under id (NULL: a
 * new one) and returns the ack. */
static th_ack_t s_publish(const char *origin, const char *title, uint64_t seq, const char *id)
{
    size_t len;
    uint8_t *f = th_frame(th_event_json(origin, "forum", title), origin, seq, id, &len);
    assert_true(zmq_send(s_sock, f, len, 0) >= 0);
    free(f);
    th_ack_t a;
    if (th_read_ack(s_sock, 10000, &a) != 0) fail_msg("no ack (see %s)", s_t.broker_log);
    return a;
}

static long long s_count(const char *origin)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM fedbus_messages WHERE origin = '%s'", origin);
    return th_sql_int(&s_t, sql);
}

/* What one raw replay request got. */
typedef struct {
    int error;
    char detail[256];
    uint64_t first_seq;
    uint64_t seqs[2 * N];
    int n;
} s_got_t;

static s_got_t s_replay(uint64_t from_seq, int64_t since_us)
{
    s_got_t g;
    memset(&g, 0, sizeof(g));
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_t.replay});
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    req.request_id = 7;
    req.from_seq = from_seq;
    req.since_us = since_us;
    uint8_t buf[64];
    size_t len = fedbus__replay_request__pack(&req, buf);
    assert_true(zmq_send(s, buf, len, 0) >= 0);
    for (int done = 0; !done;) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10000) != 1) fail_msg("no replay chunk (see %s)", s_t.broker_log);
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, s, 0) >= 0);
        Fedbus__ReplayChunk *ch = fedbus__replay_chunk__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        assert_non_null(ch);
        g.error = ch->error;
        g.first_seq = ch->first_seq;
        snprintf(g.detail, sizeof(g.detail), "%s", ch->detail ? ch->detail : "");
        for (size_t i = 0; i < ch->n_envelopes; i++) {
            Fedbus__Envelope *e = fedbus__envelope__unpack(NULL, ch->envelopes[i].len, ch->envelopes[i].data);
            assert_non_null(e);
            if (g.n < 2 * N) g.seqs[g.n++] = e->global_seq;
            fedbus__envelope__free_unpacked(e, NULL);
        }
        done = ch->done;
        fedbus__replay_chunk__free_unpacked(ch, NULL);
    }
    zmq_close(s);
    return g;
}

/* Waits up to timeout_s for sql to give want; fails otherwise. */
static void s_wait_sql(const char *sql, long long want, int timeout_s)
{
    for (int i = 0; i < timeout_s * 20; i++) {
        if (th_sql_int(&s_t, sql) == want) return;
        usleep(50000);
    }
    fail_msg("%s: %lld, not %lld, after %d s (see %s)", sql, th_sql_int(&s_t, sql), want, timeout_s,
             s_t.broker_log);
}

/* N messages of kr-old, then, 8 s later, N of kr-new: once retention
 * (10 s) has passed for the old ones, their partitions are dropped and
 * counted, and every new one is still there. */
static void test_old_partitions_are_dropped_and_every_message_inside_the_window_stays(void **state)
{
    (void)state;
    s_old_us = fb_time_now_us();
    for (int i = 1; i <= N; i++) {
        th_ack_t a = s_publish("kr-old", "old", (uint64_t)i, NULL);
        assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
        assert_int_equal(a.global_seq, (uint64_t)i);
    }
    usleep(8000000);
    for (int i = 1; i <= N; i++)
        assert_int_equal(s_publish("kr-new", "new", (uint64_t)i, NULL).status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_int_equal(s_count("kr-old"), N);
    assert_int_equal(s_count("kr-new"), N);
    s_wait_sql("SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-old'", 0, 20);
    assert_true(fb_time_now_us() - s_old_us >= 10000000); /* not before its time */
    assert_int_equal(s_count("kr-new"), N);
    assert_int_equal(th_sql_int(&s_t, "SELECT dropped_rows FROM fedbus_retention"), N);
    assert_true(th_sql_int(&s_t, "SELECT dropped_partitions FROM fedbus_retention") >= 1);
    assert_int_equal(th_sql_int(&s_t, "SELECT horizon_seq FROM fedbus_retention"), N + 1);
    assert_true(th_count_lines(s_t.broker_log, "retention: dropped") >= 1);
    /* The next stats line counts it. */
    assert_true(th_wait_lines(s_t.broker_log, "stats retention: partitions_made=", 1, 10000) >= 1);
}

static int s_count_msg(const fb_message_t *msg, void *arg)
{
    (void)msg;
    (*(int *)arg)++;
    return 0;
}

/* Replay from before the horizon is refused, naming the first global_seq
 * kept; from it, or from 0, it serves every message kept. */
static void test_replay_from_before_the_horizon_is_refused_naming_the_first_kept(void **state)
{
    (void)state;
    s_got_t g = s_replay(1, 0);
    assert_int_equal(g.error, FEDBUS__REJECT_REASON__REJECT_BEYOND_RETENTION);
    assert_int_equal(g.first_seq, N + 1);
    if (!strstr(g.detail, "the first global_seq kept is 41")) fail_msg("detail: %s", g.detail);
    assert_int_equal(g.n, 0);
    g = s_replay(N, 0);
    assert_int_equal(g.error, FEDBUS__REJECT_REASON__REJECT_BEYOND_RETENTION);
    g = s_replay(0, s_old_us);
    assert_int_equal(g.error, FEDBUS__REJECT_REASON__REJECT_BEYOND_RETENTION);
    if (!strstr(g.detail, "since_us")) fail_msg("detail: %s", g.detail);
    for (int from = 0; from <= N + 1; from += N + 1) {
        g = s_replay((uint64_t)from, 0);
        assert_int_equal(g.error, 0);
        assert_int_equal(g.n, N);
        for (int i = 0; i < N; i++) assert_int_equal(g.seqs[i], (uint64_t)(N + 1 + i));
    }
    int seen = 0;
    assert_int_equal(fb_replay(s_t.replay, NULL, 0, 1, 0, 0, s_count_msg, &seen, 5000), FB_ELOST);
    assert_int_equal(seen, 0);
}

typedef struct {
    uint64_t seqs[2 * N];
    int n;
} s_seen_t;

/* A subscriber asking for history retention dropped is told what it lost,
 * then gets every message kept, in order. */
static void test_a_subscriber_is_told_what_retention_took_and_goes_on(void **state)
{
    (void)state;
    fb_subscriber_t *sub = fb_subscriber_new(s_t.feed, s_t.replay);
    assert_non_null(sub);
    assert_int_equal(fb_subscriber_add(sub, "event"), FB_OK);
    assert_int_equal(fb_subscriber_from(sub, 1), FB_OK);
    fb_message_t msg;
    uint64_t first = 0, last = 0;
    assert_int_equal(fb_subscriber_lost(sub, &first, &last), 0);
    assert_int_equal(fb_subscriber_recv(sub, &msg, 5000), FB_ELOST);
    assert_int_equal(fb_subscriber_lost(sub, &first, &last), N);
    assert_int_equal(first, 1);
    assert_int_equal(last, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(fb_subscriber_recv(sub, &msg, 5000), FB_OK);
        assert_int_equal(msg.global_seq, (uint64_t)(N + 1 + i));
    }
    fb_subscriber_destroy(&sub);
}

/* `fedbus tail` says on stderr which global_seqs retention took, and exits
 * 1 unless told to go on. */
static void test_fedbus_tail_reports_the_loss_and_exits_non_zero(void **state)
{
    (void)state;
    char cmd[512];
    char *out = NULL;
    snprintf(cmd, sizeof(cmd), "%s tail --feed=%s --replay=%s --from-seq=1 --idle=2 event 2>&1", FEDBUS_CLI_BIN,
             s_t.feed, s_t.replay);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(th_run(argv, &out, 30), 1);
    if (!strstr(out, "global_seq 1 to 40 were dropped by the broker's retention")) fail_msg("tail said: %s", out);
    assert_null(strstr(out, "\"global_seq\":41")); /* it stopped there */
    free(out);
    snprintf(cmd, sizeof(cmd), "%s tail --feed=%s --replay=%s --from-seq=1 --count=%d --skip-lost event 2>&1",
             FEDBUS_CLI_BIN, s_t.feed, s_t.replay, N);
    assert_int_equal(th_run(argv, &out, 30), 0);
    if (!strstr(out, "global_seq 1 to 40 were dropped") || !strstr(out, "\"global_seq\":41") ||
        !strstr(out, "\"global_seq\":80"))
        fail_msg("tail --skip-lost said: %s", out);
    free(out);
}

/* The id's date: not before the horizon (BEYOND_RETENTION), a UUIDv7
 * (INVALID_FIELD), not more than id-max-future (1 h) ahead (INVALID_FIELD). */
static void test_publishes_are_refused_by_the_date_of_their_id(void **state)
{
    (void)state;
    char id[37];
    s_id_at(fb_time_now_us() - 30 * 1000000LL, id);
    th_ack_t a = s_publish("kr-dates", "stale", 1, id);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_BEYOND_RETENTION);
    a = s_publish("kr-dates", "v4", 2, "5f0c2a4e-8d1b-4c3a-9e7f-2b6d1a0c9e8f");
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD);
    s_id_at(fb_time_now_us() + 3600 * 1000000LL + 60 * 1000000LL, id);
    a = s_publish("kr-dates", "ahead", 3, id);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD);
    /* Within the window and a little ahead: stored. */
    s_id_at(fb_time_now_us() - 2 * 1000000LL, id);
    assert_int_equal(s_publish("kr-dates", "lately", 4, id).status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    s_id_at(fb_time_now_us() + 5 * 1000000LL, id);
    assert_int_equal(s_publish("kr-dates", "soon", 5, id).status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_int_equal(s_count("kr-dates"), 2);
}

/* The unique key is global: a message sent again under a new origin_seq
 * while later partitions fill is still answered DUPLICATE. */
static void test_a_resend_in_a_later_partition_window_is_a_duplicate(void **state)
{
    (void)state;
    char id[37];
    s_id_at(fb_time_now_us(), id);
    th_ack_t first = s_publish("kr-dup", "twice", 1, id);
    assert_int_equal(first.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    usleep(2500000);
    assert_int_equal(s_publish("kr-dup", "between", 2, NULL).status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    th_ack_t again = s_publish("kr-dup", "twice", 3, id);
    assert_int_equal(again.status, FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE);
    assert_int_equal(again.global_seq, first.global_seq);
    assert_int_equal(s_count("kr-dup"), 2);
    /* The two are in different partitions. */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(DISTINCT tableoid) FROM fedbus_messages WHERE origin = 'kr-dup'");
    assert_int_equal(th_sql_int(&s_t, sql), 2);
}

/* With every message dropped, a restarted broker numbers on from the
 * horizon, never from 1 again. */
static void test_numbering_goes_on_after_everything_was_dropped(void **state)
{
    (void)state;
    long long head = th_sql_int(&s_t, "SELECT max(global_seq) FROM fedbus_messages");
    s_wait_sql("SELECT count(*) FROM fedbus_messages", 0, 40);
    assert_int_equal(th_sql_int(&s_t, "SELECT horizon_seq FROM fedbus_retention"), head + 1);
    th_broker_stop(&s_t, SIGTERM);
    const char *args[] = S_ARGS;
    th_broker_start(&s_t, args);
    zmq_close(s_sock);
    s_sock = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_t.ingest});
    th_ack_t a = s_publish("kr-after", "after", 1, NULL);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_int_equal(a.global_seq, (uint64_t)head + 1);
}

/* A drop that cannot have its lock within lock_timeout gives up, keeps
 * the partition, lets ingest go on, and is done at a later pass. */
static void test_a_drop_that_cannot_have_its_lock_is_tried_again_later(void **state)
{
    (void)state;
    int before = th_count_lines(s_t.broker_log, "dropping partitions failed, tried again at the next pass");
    /* A long reader of the table: a replay page of an old PostgreSQL
     * client, say. */
    PGconn *c = PQconnectdb(s_t.conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "BEGIN; SELECT count(*) FROM fedbus_messages");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    usleep(12000000); /* kr-after (the last test's) is due now */
    assert_int_equal(s_count("kr-after"), 1);
    int64_t t0 = fb_time_mono_us();
    assert_int_equal(s_publish("kr-after", "during", 2, NULL).status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_true(fb_time_mono_us() - t0 < 2000000); /* a drop waits 200 ms at most, and so does the COPY behind it */
    assert_true(th_count_lines(s_t.broker_log, "dropping partitions failed, tried again at the next pass") > before);
    PQclear(PQexec(c, "COMMIT"));
    PQfinish(c);
    s_wait_sql("SELECT count(*) FROM fedbus_messages WHERE origin_seq = 1 AND origin = 'kr-after'", 0, 10);
}

/* A partition narrower than a second is refused at start, with a reason. */
static void test_a_retention_period_below_a_second_is_refused_at_start(void **state)
{
    (void)state;
    char pg[300], cmd[700];
    snprintf(pg, sizeof(pg), "--pg=%s", s_t.conninfo);
    snprintf(cmd, sizeof(cmd),
             "%s '%s' --ingest=tcp://127.0.0.1:26010 --feed=tcp://127.0.0.1:26011 --replay=tcp://127.0.0.1:26012"
             " --retention=10s --retention-period=500ms 2>&1",
             FEDBUS_BROKER_BIN, pg);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    char *out = NULL;
    assert_int_equal(th_run(argv, &out, 20), 1);
    if (!strstr(out, "retention-period: at least 1s")) fail_msg("the broker said: %s", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_partitions_are_dropped_and_every_message_inside_the_window_stays),
        cmocka_unit_test(test_replay_from_before_the_horizon_is_refused_naming_the_first_kept),
        cmocka_unit_test(test_a_subscriber_is_told_what_retention_took_and_goes_on),
        cmocka_unit_test(test_fedbus_tail_reports_the_loss_and_exits_non_zero),
        cmocka_unit_test(test_publishes_are_refused_by_the_date_of_their_id),
        cmocka_unit_test(test_a_resend_in_a_later_partition_window_is_a_duplicate),
        cmocka_unit_test(test_numbering_goes_on_after_everything_was_dropped),
        cmocka_unit_test(test_a_drop_that_cannot_have_its_lock_is_tried_again_later),
        cmocka_unit_test(test_a_retention_period_below_a_second_is_refused_at_start),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
