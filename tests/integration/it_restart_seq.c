/* it_restart_seq.c — a node restarted while the broker still holds its frames gets a sequence that never collides. */
#include "harness.h"

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

enum { S_WARM = 20, S_IN_FLIGHT = 300, S_AFTER = 400 };

/* Holds fedbus_messages locked in an open transaction of a connection of
 * its own: the broker's writer waits, with its batch, until it is freed. */
static PGconn *s_lock_store(th_t *t)
{
    PGconn *c = PQconnectdb(t->conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "BEGIN; LOCK TABLE fedbus_messages IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    return c;
}

static void s_unlock_store(PGconn **c)
{
    PGresult *r = PQexec(*c, "COMMIT");
    PQclear(r);
    PQfinish(*c);
    *c = NULL;
}

/* Publishes one event through the node's submit socket and waits for its ack. */
static int s_publish(fb_publisher_t *pub, const char *title, fb_ack_t *ack)
{
    const char *json = th_event_json("kr-incheon", "forum", title);
    return fb_publisher_send_json(pub, json, strlen(json), ack, 10000);
}

/* Counts the stored messages whose message_id is one of the n in ids. */
static long long s_count_stored(th_t *t, char (*ids)[37], int n)
{
    size_t cap = (size_t)n * 42 + 128, o = 0;
    char *sql = malloc(cap);
    o += (size_t)snprintf(sql + o, cap - o, "SELECT count(*) FROM fedbus_messages WHERE message_id::text IN (");
    for (int i = 0; i < n; i++) o += (size_t)snprintf(sql + o, cap - o, "%s'%s'", i ? "," : "", ids[i]);
    snprintf(sql + o, cap - o, ")");
    long long v = th_sql_int(t, sql);
    free(sql);
    return v;
}

static void test_node_restarted_while_its_frames_wait_in_the_broker_is_never_stale(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "restart_seq", 24300);
    th_broker_start(&t, NULL);
    int n = th_node_start(&t, "kr-incheon", NULL);
    fb_publisher_t *pub = fb_publisher_new(t.node_submit[n]);
    static char told[S_WARM + S_AFTER][37];
    int ntold = 0;
    for (int i = 0; i < S_WARM; i++) {
        char title[32];
        fb_ack_t ack;
        snprintf(title, sizeof(title), "warm %d", i);
        assert_int_equal(s_publish(pub, title, &ack), FB_OK);
        memcpy(told[ntold++], ack.message_id, 37);
    }
    fb_publisher_destroy(&pub);

    /* The store is away: the node's next publishes reach the broker and
     * wait there, in batches, unconfirmed. */
    PGconn *lock = s_lock_store(&t);
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = t.node_submit[n]});
    assert_non_null(s);
    for (int i = 0; i < S_IN_FLIGHT; i++) {
        char title[32];
        size_t len;
        snprintf(title, sizeof(title), "in flight %d", i);
        uint8_t *f = th_frame(th_event_json("kr-incheon", "forum", title), "", 0, NULL, &len);
        assert_true(zmq_send(s, f, len, 0) >= 0);
        free(f);
    }
    usleep(1000 * 1000);
    zmq_close(s);

    /* kill -9 the node with them in flight, and start it again: its Hello
     * comes while the broker still holds them. */
    th_stop_pid(t.nodes[n], SIGKILL);
    t.nodes[n] = 0;
    n = th_node_start(&t, "kr-incheon", NULL);
    usleep(1000 * 1000);
    s_unlock_store(&lock);

    pub = fb_publisher_new(t.node_submit[n]);
    assert_non_null(pub);
    int accepted = 0, stale = 0, other = 0;
    for (int i = 0; i < S_AFTER; i++) {
        char title[32];
        fb_ack_t ack;
        snprintf(title, sizeof(title), "after %d", i);
        int rc = s_publish(pub, title, &ack);
        if (rc == FB_OK) {
            accepted++;
            memcpy(told[ntold++], ack.message_id, 37);
        } else if (rc == FB_EREJECTED && ack.reason == FEDBUS__REJECT_REASON__REJECT_STALE_SEQUENCE) {
            stale++;
        } else {
            other++;
        }
    }
    fb_publisher_destroy(&pub);
    long long stored = s_count_stored(&t, told, ntold);
    long long ghosts = th_sql_int(&t, "SELECT count(*) FROM fedbus_messages") - stored;
    print_message("after the restart: accepted %d, STALE_SEQUENCE %d, other %d; told accepted %d, of them "
                  "stored %lld; stored unconfirmed (the dead node's) %lld\n",
                  accepted, stale, other, ntold, stored, ghosts);
    assert_int_equal(stale, 0);
    assert_int_equal(other, 0);
    assert_int_equal(accepted, S_AFTER);
    assert_int_equal(stored, ntold);
    /* Nothing is stored twice under two numbers. */
    assert_int_equal(th_sql_int(&t, "SELECT count(*) - count(DISTINCT origin_seq) FROM fedbus_messages"), 0);
    th_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_restarted_while_its_frames_wait_in_the_broker_is_never_stale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
