/* it_resend.c — a stored message sent again under a higher origin_seq (a re-POST through a node, a
 * publisher that lost its place) is answered DUPLICATE with its first global_seq and stored once, without
 * a failed COPY: alone, inside a batch frame beside new messages, and after a restart of the broker; it is
 * counted as a resend in the stats line.
 *
 * Ports 22400-22402, clear of the other tests (21000-21952, 22000-22290, 23000-23292) and of bench/run. */
#include "harness.h"

#include "fb_crypto.h"
#include "fb_time.h"
#include "fb_wire.h"
#include "fb_zmq.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include <cmocka.h>

#define S_ORIGIN "kr-resend"

static th_t s_t;
static void *s_sock; /* raw DEALER on the broker's ingest */

/* (Re)connects the raw DEALER to the broker's ingest. */
static void s_connect(void)
{
    if (s_sock) zmq_close(s_sock);
    s_sock = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, S_ORIGIN);
}

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "resend", 22400);
    th_broker_start(&s_t, NULL); /* the harness logs stats every second, at debug level */
    s_connect();
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    zmq_close(s_sock);
    s_sock = NULL;
    th_cleanup(&s_t);
    return 0;
}

/* A fresh message id, as text. */
static void s_new_id(char id[37])
{
    uint8_t b[16];
    assert_int_equal(fb_uuid_v7(fb_time_now_us(), b), 0);
    fb_uuid_format(b, id);
}

/* The publish frame of message `title` of S_ORIGIN under id and origin_seq:
 * the same title gives the same content hash whatever the id or sequence. */
static uint8_t *s_frame(const char *title, const char *id, uint64_t origin_seq, size_t *len)
{
    return th_frame(th_event_json(S_ORIGIN, "forum", title), S_ORIGIN, origin_seq, id, len);
}

/* Publishes alone and returns the ack. */
static th_ack_t s_publish(const char *title, const char *id, uint64_t origin_seq)
{
    size_t len;
    uint8_t *f = s_frame(title, id, origin_seq, &len);
    assert_int_equal(zmq_send(s_sock, f, len, 0), (int)len);
    free(f);
    th_ack_t a;
    if (th_read_ack(s_sock, 10000, &a) != 0) fail_msg("no ack (see %s)", s_t.broker_log);
    return a;
}

/* Publishes message title under a fresh id (into id) as origin_seq 1, and
 * returns its ack, which must be ACCEPTED. */
static th_ack_t s_publish_first(const char *title, char id[37])
{
    s_new_id(id);
    th_ack_t a = s_publish(title, id, 1);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    return a;
}

static long long s_rows_with_id(const char *id)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM fedbus_messages WHERE message_id = '%s'", id);
    return th_sql_int(&s_t, sql);
}

/* Stops the broker, which writes its last stats line as it exits, and
 * checks that no COPY failed on the way and that resends were counted. */
static void s_expect_no_failed_copy(int resends)
{
    th_broker_stop(&s_t, SIGTERM);
    if (th_count_lines(s_t.broker_log, "batch conflict") != 0)
        fail_msg("a COPY failed on a stored id (see %s)", s_t.broker_log);
    assert_int_equal(th_stat(&s_t, " store_errors="), 0);
    assert_int_equal(th_stat(&s_t, " store_conflicts="), 0);
    assert_int_equal(th_stat(&s_t, " resends="), resends);
    assert_int_equal(th_stat(&s_t, " duplicates="), resends);
}

static void test_resend_under_a_higher_origin_seq_is_a_duplicate_with_the_first_global_seq(void **state)
{
    (void)state;
    char id[37];
    th_ack_t first = s_publish_first("Resent forum", id);
    th_ack_t again = s_publish("Resent forum", id, 2);
    if (again.status != FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE)
        fail_msg("the resend is status %d (reason %d), want DUPLICATE", again.status, again.reason);
    assert_int_equal(again.global_seq, first.global_seq);
    assert_int_equal(s_rows_with_id(id), 1);
    /* The resend took no number: the next message follows the first. */
    char next[37];
    s_new_id(next);
    th_ack_t after = s_publish("The forum after", next, 3);
    assert_int_equal(after.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_int_equal(after.global_seq, first.global_seq + 1);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages"), 2);
    s_expect_no_failed_copy(1);
}

static void test_resend_inside_a_batch_frame_stops_none_of_the_new_messages(void **state)
{
    (void)state;
    char old[37], ids[3][37];
    th_ack_t first = s_publish_first("Stored once", old);
    /* One PublishBatch: a new message, the stored one again, a new one. */
    const char *titles[3] = {"New before", "Stored once", "New after"};
    s_new_id(ids[0]);
    memcpy(ids[1], old, sizeof(old));
    s_new_id(ids[2]);
    uint8_t items[8192];
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        size_t len, env_len;
        const uint8_t *env;
        uint8_t *f = s_frame(titles[i], ids[i], (uint64_t)i + 2, &len);
        assert_int_equal(fb_wire_publish_view(f, len, &env, &env_len), 0);
        assert_true(n + fb_wire_item_size(env_len) <= sizeof(items));
        n += fb_wire_put_item(env, env_len, items + n);
        free(f);
    }
    uint8_t frame[8192 + 16];
    size_t h = fb_wire_put_publish_batch_header(n, frame);
    memcpy(frame + h, items, n);
    assert_int_equal(zmq_send(s_sock, frame, h + n, 0), (int)(h + n));
    zmq_pollitem_t it = {s_sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 10000) != 1) fail_msg("no AckBatch (see %s)", s_t.broker_log);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, s_sock, 0) >= 0);
    Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    assert_non_null(bm);
    assert_int_equal(bm->body_case, FEDBUS__BROKER_MESSAGE__BODY_ACK_BATCH);
    assert_int_equal(bm->ack_batch->n_acks, 3);
    Fedbus__Ack **a = bm->ack_batch->acks;
    assert_int_equal(a[0]->status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    if (a[1]->status != FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE)
        fail_msg("the resend is status %d (%s), want DUPLICATE", a[1]->status, a[1]->detail);
    assert_int_equal(a[1]->global_seq, first.global_seq);
    assert_int_equal(a[1]->origin_seq, 3);
    assert_int_equal(a[2]->status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_int_equal(a[0]->global_seq, first.global_seq + 1);
    assert_int_equal(a[2]->global_seq, first.global_seq + 2);
    fedbus__broker_message__free_unpacked(bm, NULL);
    assert_int_equal(s_rows_with_id(old), 1);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages"), 3);
    s_expect_no_failed_copy(1);
}

static void test_resend_after_a_restart_is_a_duplicate_without_a_failed_copy(void **state)
{
    (void)state;
    char id[37];
    th_ack_t first = s_publish_first("Stored before the restart", id);
    th_broker_stop(&s_t, SIGTERM);
    th_broker_start(&s_t, NULL);
    s_connect();
    th_ack_t again = s_publish("Stored before the restart", id, 2);
    if (again.status != FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE)
        fail_msg("the resend is status %d (reason %d), want DUPLICATE", again.status, again.reason);
    assert_int_equal(again.global_seq, first.global_seq);
    assert_int_equal(s_rows_with_id(id), 1);
    s_expect_no_failed_copy(1);
}

#define S_TEST(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        S_TEST(test_resend_under_a_higher_origin_seq_is_a_duplicate_with_the_first_global_seq),
        S_TEST(test_resend_inside_a_batch_frame_stops_none_of_the_new_messages),
        S_TEST(test_resend_after_a_restart_is_a_duplicate_without_a_failed_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
