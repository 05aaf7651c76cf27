/* it_restart.c — a broker killed with unconfirmed publishes loses nothing; origin heads survive a
 * kill between two writes of the heads table; one writer per database. */
#include "harness.h"

#include "fb_zmq.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

static void test_node_resends_what_a_killed_broker_never_confirmed(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "restart", 21400);
    th_broker_start(&t, NULL);
    int n = th_node_start(&t, "kr-daejeon", NULL);
    fb_publisher_t *pub = fb_publisher_new(t.node_submit[n]);
    for (int i = 0; i < 10; i++) {
        char title[32];
        snprintf(title, sizeof(title), "before %d", i);
        const char *json = th_event_json("kr-daejeon", "seminar", title);
        fb_ack_t ack;
        assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 10000), FB_OK);
    }
    fb_publisher_destroy(&pub);

    /* kill -9 the broker, then submit 10 more: the node holds them. */
    th_broker_stop(&t, SIGKILL);
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = t.node_submit[n]});
    for (int i = 0; i < 10; i++) {
        char title[32];
        size_t len;
        snprintf(title, sizeof(title), "during %d", i);
        /* origin and origin_seq are the node's to set: send them empty. */
        uint8_t *f = th_frame(th_event_json("kr-daejeon", "seminar", title), "", 0, NULL, &len);
        assert_true(zmq_send(s, f, len, 0) >= 0);
        free(f);
    }
    usleep(500 * 1000);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), 10);

    th_broker_start(&t, NULL);
    int accepted = 0;
    for (int i = 0; i < 10; i++) {
        th_ack_t a;
        assert_int_equal(th_read_ack(s, 10000, &a), 0);
        if (a.status == FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED ||
            a.status == FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE)
            accepted++;
    }
    zmq_close(s);
    assert_int_equal(accepted, 10);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), 20);
    assert_int_equal(th_sql_int(&t, "SELECT count(DISTINCT message_id) FROM fedbus_messages"), 20);
    /* Gapless global and per-origin sequences across the crash. */
    assert_int_equal(th_sql_int(&t, "SELECT max(global_seq) FROM fedbus_messages"), 20);
    assert_int_equal(th_sql_int(&t, "SELECT max(origin_seq) - min(origin_seq) + 1 FROM fedbus_messages"), 20);
    th_cleanup(&t);
}

/* Publishes one raw event as kr-daejeon with origin_seq seq over s and
 * returns the ack. */
static th_ack_t s_raw_publish(void *s, uint64_t seq)
{
    char title[32];
    size_t len;
    snprintf(title, sizeof(title), "raw %llu", (unsigned long long)seq);
    uint8_t *f = th_frame(th_event_json("kr-daejeon", "seminar", title), "kr-daejeon", seq, NULL, &len);
    assert_true(zmq_send(s, f, len, 0) >= 0);
    free(f);
    th_ack_t a;
    assert_int_equal(th_read_ack(s, 10000, &a), 0);
    return a;
}

static void test_origin_heads_survive_a_kill_between_heads_writes(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "heads", 23000);
    /* Heads are written with the first batch, then not for an hour. */
    const char *const slow[] = {"--heads-interval=3600000", NULL};
    th_broker_start(&t, slow);
    void *s = th_socket(&t, ZMQ_DEALER, t.ingest, "kr-daejeon");
    for (uint64_t seq = 1; seq <= 10; seq++)
        assert_int_equal(s_raw_publish(s, seq).status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    /* The table lags: what it says is not what is stored. */
    assert_true(th_sql_int(&t, "SELECT last_origin_seq FROM fedbus_origins WHERE origin = 'kr-daejeon'") < 10);
    zmq_close(s);

    th_broker_stop(&t, SIGKILL);
    th_broker_start(&t, slow);
    s = th_socket(&t, ZMQ_DEALER, t.ingest, "kr-daejeon");
    /* The restarted broker knows 10 is the head: 7 (a new message) is stale. */
    th_ack_t a = s_raw_publish(s, 7);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_STALE_SEQUENCE);
    a = s_raw_publish(s, 11);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_int_equal(a.global_seq, 11);
    zmq_close(s);

    /* A clean stop writes the heads. */
    th_broker_stop(&t, SIGTERM);
    assert_int_equal(th_sql_int(&t, "SELECT last_origin_seq FROM fedbus_origins WHERE origin = 'kr-daejeon'"), 11);
    assert_int_equal(th_sql_int(&t, "SELECT last_global_seq FROM fedbus_origins WHERE origin = 'kr-daejeon'"), 11);
    th_cleanup(&t);
}

static void test_second_broker_on_the_same_database_is_refused(void **state)
{
    (void)state;
    th_t t, u;
    th_init(&t, "onewriter", 21500);
    th_broker_start(&t, NULL);
    char pg[300], keys[300];
    snprintf(pg, sizeof(pg), "--pg=%s", t.conninfo);
    snprintf(keys, sizeof(keys), "--keys=%s", t.broker_keys.file); /* refused for the lock alone */
    const char *argv[] = {FEDBUS_BROKER_BIN, pg, "--ingest=tcp://127.0.0.1:21510",
                          "--feed=tcp://127.0.0.1:21511", "--replay=tcp://127.0.0.1:21512", keys, NULL};
    (void)u;
    int rc = th_run(argv, NULL, 20);
    assert_int_equal(rc, 1);
    th_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_resends_what_a_killed_broker_never_confirmed),
        cmocka_unit_test(test_origin_heads_survive_a_kill_between_heads_writes),
        cmocka_unit_test(test_second_broker_on_the_same_database_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
