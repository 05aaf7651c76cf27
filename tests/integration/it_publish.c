/* it_publish.c — publish -> ack -> row in PostgreSQL -> subscriber; idempotent resends; gapless sequence. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libpq-fe.h>
#include <zmq.h>
#include <cmocka.h>

#include "fb_zmq.h"

static th_t s_t;

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "publish", 21000);
    th_broker_start(&s_t, NULL);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

static void test_publish_is_acked_stored_and_delivered(void **state)
{
    (void)state;
    int n = th_node_start(&s_t, "kr-incheon", NULL);
    fb_subscriber_t *sub = th_subscriber(&s_t, "th-probe");
    assert_non_null(sub);
    assert_int_equal(fb_subscriber_add(sub, "event.kr-incheon"), FB_OK);
    fb_publisher_t *pub = fb_publisher_new(s_t.node_submit[n]);
    fb_ack_t ack;
    fb_message_t msg;

    /* Nothing on the wire says a subscription has reached the broker:
     * publish probes until one arrives, then the feed is live. */
    uint64_t probes = 0;
    for (int got = 0; !got && probes < 50; probes++) {
        const char *probe = th_event_json("kr-incheon", "probe", "probe");
        assert_int_equal(fb_publisher_send_json(pub, probe, strlen(probe), &ack, 10000), FB_OK);
        while (!got && fb_subscriber_recv(sub, &msg, 100) == FB_OK) got = 1;
    }
    while (fb_subscriber_recv(sub, &msg, 200) == FB_OK) /* late probes */
        ;

    const char *json = th_event_json("kr-incheon", "forum", "Incheon Science Connect forum");
    assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 10000), FB_OK);
    assert_int_equal(ack.status, FB_ACK_ACCEPTED);
    assert_true(ack.global_seq >= 1);
    assert_int_equal(ack.origin_seq, probes + 1); /* the node numbers its publishes 1, 2, ... */

    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM fedbus_messages WHERE global_seq = %llu AND origin = 'kr-incheon' "
             "AND topic = 'event.kr-incheon.forum' AND message_id = '%s'",
             (unsigned long long)ack.global_seq, ack.message_id);
    assert_int_equal(th_sql_int(&s_t, sql), 1);

    assert_int_equal(fb_subscriber_recv(sub, &msg, 5000), FB_OK);
    assert_string_equal(msg.message_id, ack.message_id);
    assert_int_equal(msg.global_seq, ack.global_seq);
    assert_string_equal(msg.origin, "kr-incheon");
    assert_true(msg.stored_at_us >= msg.created_at_us);
    char *line = fb_message_json(&msg);
    assert_non_null(strstr(line, "Incheon Science Connect forum"));
    free(line);
    fb_publisher_destroy(&pub);
    fb_subscriber_destroy(&sub);
}

static void test_resend_through_node_is_stored_once_with_the_same_seq(void **state)
{
    (void)state;
    int n = th_node_start(&s_t, "kr-seoul", NULL);
    fb_publisher_t *pub = fb_publisher_new(s_t.node_submit[n]);
    const char *json = "{\"message_id\":\"0192f000-0000-7000-8000-00000000a001\","
                       "\"topic\":\"cfp.kr-seoul.ai\",\"cfp\":{\"title\":{\"en\":\"AI call\"},"
                       "\"closes_at\":\"2026-09-30T18:00:00+09:00\"}}";
    fb_ack_t a1, a2;
    assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &a1, 10000), FB_OK);
    assert_int_equal(a1.status, FB_ACK_ACCEPTED);
    assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &a2, 10000), FB_OK);
    assert_int_equal(a2.status, FB_ACK_DUPLICATE);
    assert_int_equal(a2.global_seq, a1.global_seq);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE message_id = "
                                      "'0192f000-0000-7000-8000-00000000a001'"),
                     1);
    fb_publisher_destroy(&pub);
}

static void test_raw_resends_and_in_batch_copies_get_the_original_seq(void **state)
{
    (void)state;
    void *s = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "intl-wta");
    size_t len;
    uint8_t *frame = th_frame(th_event_json("intl-wta", "forum", "WTA forum"), "intl-wta", 1,
                              "0192f000-0000-7000-8000-00000000b001", &len);
    /* Three copies at once: they may share a batch. */
    for (int i = 0; i < 3; i++) assert_true(zmq_send(s, frame, len, 0) >= 0);
    uint64_t seq = 0;
    int accepted = 0, duplicate = 0;
    for (int i = 0; i < 3; i++) {
        th_ack_t a;
        assert_int_equal(th_read_ack(s, 5000, &a), 0);
        if (a.status == FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED) accepted++;
        if (a.status == FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE) duplicate++;
        if (seq == 0) seq = a.global_seq;
        assert_int_equal(a.global_seq, seq);
    }
    assert_int_equal(accepted, 1);
    assert_int_equal(duplicate, 2);
    free(frame);

    /* The same message (same topic and payload) under a new origin_seq and
     * creation time, as from a publisher that lost its place, is still the
     * same message; other content under the same id is refused. */
    fb_publisher_t *pub = th_publisher(&s_t, "intl-wta");
    fb_ack_t ack;
    frame = th_frame(th_event_json("intl-wta", "forum", "WTA forum"), "intl-wta", 7,
                     "0192f000-0000-7000-8000-00000000b001", &len);
    assert_int_equal(fb_publisher_send_raw(pub, frame, len, &ack, 5000), FB_OK);
    assert_int_equal(ack.status, FB_ACK_DUPLICATE);
    assert_int_equal(ack.global_seq, seq);
    free(frame);
    frame = th_frame(th_event_json("intl-wta", "forum", "Another forum"), "intl-wta", 8,
                     "0192f000-0000-7000-8000-00000000b001", &len);
    assert_int_equal(fb_publisher_send_raw(pub, frame, len, &ack, 5000), FB_EREJECTED);
    assert_int_equal(ack.reason, FEDBUS__REJECT_REASON__REJECT_ID_REUSED);
    free(frame);
    zmq_close(s);
    fb_publisher_destroy(&pub);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE message_id = "
                                      "'0192f000-0000-7000-8000-00000000b001'"),
                     1);
}

static void test_global_seq_is_gapless_across_origins(void **state)
{
    (void)state;
    const char *origins[] = {"kr-daejeon", "kr-busan", "intl-example"};
    void *s[3]; /* each member its own connection */
    for (int o = 0; o < 3; o++) s[o] = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, origins[o]);
    long long before = th_sql_int(&s_t, "SELECT coalesce(max(global_seq), 0) FROM fedbus_messages");
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        size_t len;
        char title[32];
        snprintf(title, sizeof(title), "seminar %d", i);
        uint8_t *f = th_frame(th_event_json(origins[i % 3], "seminar", title), origins[i % 3],
                              (uint64_t)(i / 3 + 1), NULL, &len);
        assert_true(zmq_send(s[i % 3], f, len, 0) >= 0);
        free(f);
    }
    char *seen = calloc(N + 1, 1);
    for (int i = 0; i < N; i++) {
        th_ack_t a;
        assert_int_equal(th_read_ack(s[i % 3], 10000, &a), 0);
        assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
        long long k = (long long)a.global_seq - before;
        assert_in_range(k, 1, N);
        assert_int_equal(seen[k], 0);
        seen[k] = 1;
    }
    free(seen);
    for (int o = 0; o < 3; o++) zmq_close(s[o]);
    assert_int_equal(th_sql_int(&s_t, "SELECT max(global_seq) - min(global_seq) + 1 - count(*) "
                                      "FROM fedbus_messages"),
                     0);
    assert_int_equal(th_sql_int(&s_t, "SELECT max(global_seq) FROM fedbus_messages"), before + N);
    assert_int_equal(th_sql_int(&s_t, "SELECT max(origin_seq) FROM fedbus_messages WHERE origin = 'kr-busan'"),
                     N / 3);
}

static void test_an_idle_broker_holds_no_copy_open(void **state)
{
    (void)state;
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE datname = 'fedbus_it_%s' AND state = 'active' "
             "AND query LIKE '%%COPY fedbus_messages%%' AND pid <> pg_backend_pid()",
             s_t.name);
    void *s = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-ulsan");
    /* A burst: each commit sends the next batch's COPY ahead. */
    enum { N = 200 };
    for (int i = 0; i < N; i++) {
        size_t len;
        uint8_t *f = th_frame(th_event_json("kr-ulsan", "forum", "idle"), "kr-ulsan", (uint64_t)(i + 1), NULL, &len);
        assert_true(zmq_send(s, f, len, 0) >= 0);
        free(f);
    }
    int open_seen = 0;
    for (int i = 0; i < N; i++) {
        th_ack_t a;
        assert_int_equal(th_read_ack(s, 10000, &a), 0);
        assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    }
    open_seen = th_sql_int(&s_t, sql) > 0; /* right after the last commit: usually still open */
    /* Idle for 300 ms: the COPY sent ahead has been closed. */
    usleep(300 * 1000);
    assert_int_equal(th_sql_int(&s_t, sql), 0);
    print_message("COPY open right after the burst: %s\n", open_seen ? "yes" : "no");
    zmq_close(s);
}

static void test_a_burst_is_stored_once_each_with_batches_handed_ahead(void **state)
{
    (void)state;
    /* Two publishers, 10,000 publishes each, encoded first. A statement
     * trigger holds every COPY, after its rows are sent, until this test
     * lets go of an advisory lock: the first batch waits for its COMMIT
     * while the first 4,000 publishes come in, however fast or slow the
     * machine. The broker must queue a batch of commit-min of them behind
     * it (handed_ahead) before the lock goes; then the rest follows. */
    enum { N = 10000, P = 2, FIRST = 2000 };
    const char *origins[P] = {"kr-gwangju", "kr-sejong"};
    void *s[P];
    PGconn *lock = PQconnectdb(s_t.conninfo);
    assert_int_equal(PQstatus(lock), CONNECTION_OK);
    PGresult *r = PQexec(lock, "SELECT pg_advisory_lock(424242)");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    th_sql_exec(&s_t, "CREATE FUNCTION fedbus_it_hold() RETURNS trigger LANGUAGE plpgsql AS "
                      "$$ BEGIN PERFORM pg_advisory_xact_lock_shared(424242); RETURN NULL; END $$");
    th_sql_exec(&s_t, "CREATE TRIGGER fedbus_it_hold AFTER INSERT ON fedbus_messages "
                      "FOR EACH STATEMENT EXECUTE FUNCTION fedbus_it_hold()");
    long long before = th_sql_int(&s_t, "SELECT coalesce(max(global_seq), 0) FROM fedbus_messages");
    double ahead0 = th_stat(&s_t, " handed_ahead=");
    uint8_t **frames = calloc((size_t)P * N, sizeof(*frames));
    size_t *lens = calloc((size_t)P * N, sizeof(*lens));
    assert_non_null(frames);
    assert_non_null(lens);
    for (int i = 0; i < N; i++)
        for (int p = 0; p < P; p++)
            frames[i * P + p] = th_frame(th_event_json(origins[p], "forum", "burst"), origins[p], (uint64_t)(i + 1),
                                         NULL, &lens[i * P + p]);
    for (int p = 0; p < P; p++) {
        s[p] = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, origins[p]);
    }
    for (int i = 0; i < N; i++) {
        if (i == FIRST) {
            /* The stats line comes every second. */
            double ahead = ahead0;
            for (int k = 0; k < 100 && ahead == ahead0; k++) {
                usleep(100 * 1000);
                ahead = th_stat(&s_t, " handed_ahead=");
            }
            print_message("handed ahead while the first COMMIT waited: %.0f\n", ahead - ahead0);
            assert_true(ahead > ahead0);
            r = PQexec(lock, "SELECT pg_advisory_unlock(424242)");
            assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
            PQclear(r);
        }
        for (int p = 0; p < P; p++) {
            assert_true(zmq_send(s[p], frames[i * P + p], lens[i * P + p], 0) >= 0);
            free(frames[i * P + p]);
        }
    }
    PQfinish(lock);
    free(frames);
    free(lens);
    char *seen = calloc((size_t)P * N + 1, 1);
    assert_non_null(seen);
    for (int p = 0; p < P; p++)
        for (int i = 0; i < N; i++) {
            th_ack_t a;
            assert_int_equal(th_read_ack(s[p], 20000, &a), 0);
            assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
            long long k = (long long)a.global_seq - before;
            assert_in_range(k, 1, (long long)P * N);
            assert_int_equal(seen[k], 0); /* each global_seq acked once */
            seen[k] = 1;
        }
    free(seen);
    for (int p = 0; p < P; p++) zmq_close(s[p]);
    th_sql_exec(&s_t, "DROP TRIGGER fedbus_it_hold ON fedbus_messages");
    th_sql_exec(&s_t, "DROP FUNCTION fedbus_it_hold()");
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin IN ('kr-gwangju', 'kr-sejong')"),
                     (long long)P * N);
    assert_int_equal(th_sql_int(&s_t, "SELECT max(global_seq) - min(global_seq) + 1 - count(*) FROM fedbus_messages"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_is_acked_stored_and_delivered),
        cmocka_unit_test(test_resend_through_node_is_stored_once_with_the_same_seq),
        cmocka_unit_test(test_raw_resends_and_in_batch_copies_get_the_original_seq),
        cmocka_unit_test(test_global_seq_is_gapless_across_origins),
        cmocka_unit_test(test_an_idle_broker_holds_no_copy_open),
        cmocka_unit_test(test_a_burst_is_stored_once_each_with_batches_handed_ahead),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
