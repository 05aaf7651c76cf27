/* it_hostile.c — one peer's extreme values never stop the broker or another member's acks. */
#include "harness.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

#include "fb_zmq.h"

static th_t s_t;

/* Each member publishes on a connection of its own, made on first use. */
static struct {
    const char *origin;
    void *sock;
} s_socks[8];
static int s_nsocks;

static void *s_for(const char *origin)
{
    for (int i = 0; i < s_nsocks; i++)
        if (strcmp(s_socks[i].origin, origin) == 0) return s_socks[i].sock;
    assert_true(s_nsocks < 8);
    s_socks[s_nsocks].origin = origin;
    return s_socks[s_nsocks++].sock = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, origin);
}

/* Closes every member's connection. */
static void s_close_all(void)
{
    for (int i = 0; i < s_nsocks; i++) zmq_close(s_socks[i].sock);
    s_nsocks = 0;
}

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "hostile", 24000);
    th_broker_start(&s_t, NULL);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    s_close_all();
    th_cleanup(&s_t);
    return 0;
}

/* Sends one publish built from json as origin with origin_seq, on
 * origin's connection, and returns its ack. */
static th_ack_t s_publish(const char *json, const char *origin, uint64_t origin_seq)
{
    void *s = s_for(origin);
    size_t len;
    uint8_t *frame = th_frame(json, origin, origin_seq, NULL, &len);
    assert_true(zmq_send(s, frame, len, 0) >= 0);
    free(frame);
    th_ack_t a;
    assert_int_equal(th_read_ack(s, 10000, &a), 0);
    return a;
}

/* An honest member publishes its next message and must be stored. */
static void s_assert_member_acked(const char *origin, uint64_t origin_seq)
{
    th_ack_t a = s_publish(th_event_json(origin, "forum", "still served"), origin, origin_seq);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_true(a.global_seq > 0);
}

/* Says Hello as origin on s and returns the Welcome's last_origin_seq. */
static uint64_t s_hello(const char *origin)
{
    void *s = s_for(origin);
    Fedbus__Hello h = FEDBUS__HELLO__INIT;
    h.origin = (char *)origin;
    h.version = "test";
    Fedbus__NodeMessage m = FEDBUS__NODE_MESSAGE__INIT;
    m.body_case = FEDBUS__NODE_MESSAGE__BODY_HELLO;
    m.hello = &h;
    uint8_t buf[256];
    size_t len = fedbus__node_message__pack(&m, buf);
    assert_true(zmq_send(s, buf, len, 0) >= 0);
    int timeout = 10000;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    assert_true(zmq_msg_recv(&msg, s, 0) >= 0);
    Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    assert_non_null(bm);
    assert_int_equal(bm->body_case, FEDBUS__BROKER_MESSAGE__BODY_WELCOME);
    uint64_t last = bm->welcome->last_origin_seq;
    fedbus__broker_message__free_unpacked(bm, NULL);
    zmq_msg_close(&msg);
    return last;
}

static void s_assert_broker_alive(void)
{
    int status;
    assert_int_equal(waitpid(s_t.broker, &status, WNOHANG), 0);
}

static void test_origin_seq_above_int64_max_is_refused_and_other_members_keep_their_acks(void **state)
{
    (void)state;
    th_ack_t a = s_publish(th_event_json("intl-evil", "forum", "2^63"), "intl-evil", 1ULL << 63);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD);
    a = s_publish(th_event_json("intl-evil", "forum", "2^64-1"), "intl-evil", UINT64_MAX);
    assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = 'intl-evil'"), 0);
    /* The origin heads are written about once a second: past that, and past
     * a restart that reads them back, an honest member is still served. */
    usleep(1500 * 1000);
    s_assert_member_acked("kr-busan", 1);
    assert_int_equal(th_broker_stop(&s_t, SIGTERM), 0);
    th_broker_start(&s_t, NULL);
    s_close_all();
    s_assert_member_acked("kr-busan", 2);
}

static void test_origin_seq_at_int64_max_is_stored_and_the_next_one_refused_without_harm(void **state)
{
    (void)state;
    th_ack_t a = s_publish(th_event_json("kr-daejeon", "forum", "last"), "kr-daejeon", INT64_MAX);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    /* A node of that member now starts at INT64_MAX + 1: refused, and the
     * broker lives on and serves everyone else. */
    int n = th_node_start(&s_t, "kr-daejeon", NULL);
    fb_publisher_t *pub = fb_publisher_new(s_t.node_submit[n]);
    assert_non_null(pub);
    const char *json = th_event_json("kr-daejeon", "forum", "after the last");
    fb_ack_t ack;
    assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 10000), FB_EREJECTED);
    assert_int_equal(ack.reason, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD);
    fb_publisher_destroy(&pub);
    usleep(2500 * 1000);
    s_assert_broker_alive();
    s_assert_member_acked("kr-seoul", 1);
}

static void test_hello_of_an_origin_at_int64_max_is_welcomed_and_the_operator_told(void **state)
{
    (void)state;
    th_ack_t a = s_publish(th_event_json("kr-daejeon", "forum", "last"), "kr-daejeon", INT64_MAX);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    /* Its node, restarted twice, is welcomed each time; neither it nor the
     * broker stops, and the log says what to do. */
    for (int k = 0; k < 2; k++) {
        int n = th_node_start(&s_t, "kr-daejeon", NULL);
        usleep(1000 * 1000);
        int status;
        assert_int_equal(waitpid(s_t.nodes[n], &status, WNOHANG), 0);
        th_stop_pid(s_t.nodes[n], SIGKILL);
        s_t.nodes[n] = 0;
    }
    assert_int_equal(s_hello("kr-daejeon"), (uint64_t)INT64_MAX);
    s_assert_broker_alive();
    assert_true(th_count_lines(s_t.broker_log, "give that node a new member id") >= 1);
    s_assert_member_acked("kr-seoul", 1);
}

static void test_created_at_beyond_year_9999_is_refused_and_other_members_keep_their_acks(void **state)
{
    (void)state;
    static const char *const times[] = {"4611686018427387904", "9223372036854775807", "253402300800000000"};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        char json[512];
        snprintf(json, sizeof(json),
                 "{\"created_at_us\":%s,\"topic\":\"event.intl-late.forum\",\"event\":{\"kind\":\"forum\","
                 "\"title\":{\"en\":\"far future\"},\"starts_at\":\"2026-05-20T14:00:00+09:00\"}}",
                 times[i]);
        th_ack_t a = s_publish(json, "intl-late", i + 1);
        assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
        assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD);
    }
    usleep(1500 * 1000);
    s_assert_broker_alive();
    s_assert_member_acked("kr-incheon", 1);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = 'intl-late'"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_origin_seq_above_int64_max_is_refused_and_other_members_keep_their_acks,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_origin_seq_at_int64_max_is_stored_and_the_next_one_refused_without_harm,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hello_of_an_origin_at_int64_max_is_welcomed_and_the_operator_told,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_created_at_beyond_year_9999_is_refused_and_other_members_keep_their_acks,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
