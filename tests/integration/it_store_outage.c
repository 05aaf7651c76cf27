/* it_store_outage.c — PostgreSQL connections cut under load: nothing acked is lost,
 * nothing is acked twice under two numbers, the sequence stays gapless; a broker stopped
 * while PostgreSQL is away exits at once, having acked nothing; the wait shows in the
 * stats line as the slowest store. */
#include "harness.h"

#include "fb_zmq.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

static volatile int s_cutting = 1;
static int s_cuts;

/* Terminates the broker's PostgreSQL sessions every 30 ms, for a while. */
static void *s_cutter(void *arg)
{
    th_t *t = arg;
    PGconn *c = PQconnectdb(t->conninfo);
    for (int i = 0; i < 40 && s_cutting; i++) {
        PGresult *r = PQexec(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()");
        if (PQresultStatus(r) == PGRES_TUPLES_OK) s_cuts += atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        usleep(30 * 1000);
    }
    PQfinish(c);
    return NULL;
}

static void test_cut_connections_lose_nothing_and_keep_the_sequence_gapless(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "outage", 21700);
    const char *extra[] = {"--batch-max=64", NULL};
    th_broker_start(&t, extra);
    enum { N = 3000 };
    void *s = th_socket(&t, ZMQ_DEALER, t.ingest, "kr-incheon");
    int hwm = 0;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    pthread_t cutter;
    pthread_create(&cutter, NULL, s_cutter, &t);
    for (int i = 0; i < N; i++) {
        char title[32];
        size_t len;
        snprintf(title, sizeof(title), "m%d", i);
        uint8_t *f = th_frame(th_event_json("kr-incheon", "forum", title), "kr-incheon", (uint64_t)i + 1, NULL, &len);
        assert_true(zmq_send(s, f, len, 0) >= 0);
        free(f);
        if (i % 500 == 0) usleep(20 * 1000); /* spread the load over the cuts */
    }
    int accepted = 0, other = 0;
    for (int i = 0; i < N; i++) {
        th_ack_t a;
        if (th_read_ack(s, 30000, &a) != 0) fail_msg("only %d of %d acks (see %s)", i, N, t.broker_log);
        if (a.status == FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED) accepted++;
        else other++;
    }
    s_cutting = 0;
    pthread_join(cutter, NULL);
    zmq_close(s);
    print_message("connections cut: %d; accepted %d, other %d\n", s_cuts, accepted, other);
    assert_true(s_cuts > 0);
    assert_true(th_count_lines(t.broker_log, "waits:") > 0); /* the outage was felt */
    assert_int_equal(accepted, N);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), N);
    assert_int_equal(th_sql_int(&t, "SELECT max(global_seq) FROM fedbus_messages"), N);
    assert_int_equal(th_sql_int(&t, "SELECT count(DISTINCT origin_seq) FROM fedbus_messages"), N);
    /* The broker still serves after the cuts. */
    fb_publisher_t *pub = th_publisher(&t, "kr-incheon");
    size_t len;
    uint8_t *f = th_frame(th_event_json("kr-incheon", "forum", "after"), "kr-incheon", N + 1, NULL, &len);
    fb_ack_t ack;
    assert_int_equal(fb_publisher_send_raw(pub, f, len, &ack, 10000), FB_OK);
    assert_int_equal(ack.global_seq, N + 1);
    free(f);
    fb_publisher_destroy(&pub);
    th_cleanup(&t);
}

/* Runs sql on the maintenance database (the test's own may refuse connections). */
static void s_admin(const char *sql)
{
    PGconn *c = PQconnectdb("dbname=postgres");
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* PostgreSQL goes away for t's database (away = 1: no session, no new
 * one), or comes back (away = 0). */
static void s_database_away(const th_t *t, int away)
{
    const char *db = strstr(t->conninfo, "dbname=") + strlen("dbname=");
    char sql[256];
    snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS %s", db, away ? "false" : "true");
    s_admin(sql);
    if (!away) return;
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'", db);
    s_admin(sql);
}

static void test_stop_while_the_store_is_away_acks_nothing_and_loses_nothing(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "away", 23100);
    th_broker_start(&t, NULL);
    void *s = th_socket(&t, ZMQ_DEALER, t.ingest, "kr-seoul"); /* registered while the database is there */
    s_database_away(&t, 1);

    enum { N = 5 };
    uint8_t *frames[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        char title[32], id[40];
        snprintf(title, sizeof(title), "away %d", i);
        snprintf(id, sizeof(id), "018f0000-0000-7000-8000-0000000000%02d", i);
        frames[i] = th_frame(th_event_json("kr-seoul", "forum", title), "kr-seoul", (uint64_t)i + 1, id, &lens[i]);
        assert_true(zmq_send(s, frames[i], lens[i], 0) >= 0);
    }
    th_ack_t a;
    assert_int_equal(th_read_ack(s, 1500, &a), -1); /* nothing is acked while it is away */
    assert_true(th_count_lines(t.broker_log, "waits:") > 0);

    /* SIGTERM: the writer gives up its batch at once; the broker exits 0. */
    int status = th_broker_stop(&t, SIGTERM);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(th_count_lines(t.broker_log, "publishes unacknowledged") > 0);
    assert_int_equal(th_read_ack(s, 200, &a), -1);

    /* Back: the same publishes, resent, are stored once each. */
    s_database_away(&t, 0);
    th_broker_start(&t, NULL);
    zmq_close(s);
    s = th_socket(&t, ZMQ_DEALER, t.ingest, "kr-seoul");
    for (int i = 0; i < N; i++) {
        assert_true(zmq_send(s, frames[i], lens[i], 0) >= 0);
        assert_int_equal(th_read_ack(s, 10000, &a), 0);
        assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
        assert_int_equal(a.global_seq, (uint64_t)i + 1);
        free(frames[i]);
    }
    zmq_close(s);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), N);
    th_cleanup(&t);
}

static void test_an_outage_shows_as_the_slowest_store_in_the_stats_line(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "slow", 23130);
    th_broker_start(&t, NULL);
    void *s = th_socket(&t, ZMQ_DEALER, t.ingest, "kr-busan");
    s_database_away(&t, 1);
    size_t len;
    uint8_t *f = th_frame(th_event_json("kr-busan", "forum", "slow"), "kr-busan", 1, NULL, &len);
    assert_true(zmq_send(s, f, len, 0) >= 0);
    free(f);
    th_ack_t a;
    assert_int_equal(th_read_ack(s, 1500, &a), -1); /* away for 1.5 s at least */
    s_database_away(&t, 0);
    assert_int_equal(th_read_ack(s, 10000, &a), 0);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    zmq_close(s);
    th_broker_stop(&t, SIGTERM); /* logs its last stats line */
    double max = th_stat(&t, " store_ms_max="), avg = th_stat(&t, " store_ms_avg=");
    print_message("store_ms_max=%.1f store_ms_avg=%.1f\n", max, avg);
    assert_true(max >= 1500.0); /* the one batch waited out the outage */
    assert_true(avg > 0.0 && avg <= max);
    th_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_connections_lose_nothing_and_keep_the_sequence_gapless),
        cmocka_unit_test(test_stop_while_the_store_is_away_acks_nothing_and_loses_nothing),
        cmocka_unit_test(test_an_outage_shows_as_the_slowest_store_in_the_stats_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
