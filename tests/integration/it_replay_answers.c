/* it_replay_answers.c — a replay's last answer (a refusal, an error) reaches a client whose queue was full when it was given. */
#include "harness.h"

#include "fb_zmq.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

static th_t s_t;

/* 10k rows of 2 KiB under event.zz-big from global_seq 2: 20 MiB, more
 * than a replay connection's queues and TCP buffers hold. */
enum { ROWS = 10000, ROW_BYTES = 2048 };

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "replay_answers", 29600);
    th_broker_start(&s_t, NULL); /* migrates */
    void *pub = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-seoul");
    size_t len;
    uint8_t *f = th_frame(th_event_json("kr-seoul", "forum", "first"), "kr-seoul", 1, NULL, &len);
    assert_true(zmq_send(pub, f, len, 0) >= 0);
    free(f);
    th_ack_t a;
    int rc = th_read_ack(pub, 10000, &a);
    zmq_close(pub);
    assert_int_equal(rc, 0); /* global_seq 1: what the harness replays to see the broker up */
    th_broker_stop(&s_t, SIGTERM);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO fedbus_messages SELECT g, 'zz-filler', g, md5(g::text)::uuid, 'event.zz-big.forum',"
             " now(), now(), '\\x00'::bytea, convert_to(repeat('x', %d), 'UTF8')"
             " FROM generate_series(2, %d) g; ANALYZE fedbus_messages",
             ROW_BYTES, ROWS + 1);
    th_sql_exec(&s_t, sql);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

/* A replay DEALER as the harness's member that queues at most one chunk. */
static void *s_replay_socket(void)
{
    fb_endpoint_opts_t e = th_endpoint(&s_t, s_t.replay, "th-probe");
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_t.replay, .rcvhwm = 1,
                                           .curve_serverkey = e.curve_serverkey, .curve_publickey = e.curve_publickey,
                                           .curve_secretkey = e.curve_secretkey});
    assert_non_null(s);
    return s;
}

static void s_request(void *s, uint64_t id, const char *prefix)
{
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    char *prefixes[1] = {(char *)prefix};
    req.request_id = id;
    req.from_seq = 2;
    req.prefixes = prefixes;
    req.n_prefixes = 1;
    uint8_t buf[512];
    size_t len = fedbus__replay_request__pack(&req, buf);
    assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
}

/* Starts the broker (one replay a client, one chunk queued) and returns a
 * client that asked for 20 MiB and read nothing: the queues between it and
 * the broker are full, and the broker holds the next chunk. */
static void *s_full_client(void)
{
    th_broker_start(&s_t, (const char *const[]){"--replay-per-peer=1", "--replay-queue=1", "--replay-stall=30000",
                                                NULL});
    void *s = s_replay_socket();
    s_request(s, 1, "event.zz-big");
    usleep(1500 * 1000);
    return s;
}

/* Reads every chunk until nothing comes for 10 s, or request 1 is done and
 * want_refused refusals came; returns the refusals (STORE_UNAVAILABLE
 * chunks of requests other than 1), and sets *done when request 1 ended. */
static int s_read_all(void *s, int want_refused, int *done)
{
    int refused = 0;
    *done = 0;
    while (!*done || refused < want_refused) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10000) != 1) break;
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, s, 0) >= 0);
        Fedbus__ReplayChunk *ch = fedbus__replay_chunk__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        assert_non_null(ch);
        if (ch->request_id == 1 && ch->done) {
            assert_int_equal(ch->error, 0);
            *done = 1;
        } else if (ch->request_id != 1) {
            assert_int_equal(ch->error, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE);
            refused++;
        }
        fedbus__replay_chunk__free_unpacked(ch, NULL);
    }
    return refused;
}

/* A client asks for 20 MiB, reads nothing until the queues between it and
 * the broker are full, asks again (one replay a client: refused), then
 * reads: the refusal comes, after what was queued before it. */
static void test_a_refusal_given_while_the_clients_queue_is_full_comes_once_it_reads(void **state)
{
    (void)state;
    void *s = s_full_client();
    s_request(s, 2, "event.zz-big");
    usleep(500 * 1000);
    int done, refused = s_read_all(s, 1, &done);
    zmq_close(s);
    th_broker_stop(&s_t, SIGTERM);
    assert_true(done);
    assert_int_equal(refused, 1);
}

/* What the broker keeps for a client that does not read is bounded: of 40
 * refusals given while its queue is full, 8 wait for it, the others are
 * dropped, counted (replays_dropped) and logged once. */
static void test_refusals_kept_for_a_client_that_does_not_read_are_bounded_and_the_rest_counted(void **state)
{
    (void)state;
    void *s = s_full_client();
    for (uint64_t id = 2; id < 42; id++) s_request(s, id, "event.zz-big");
    usleep(1000 * 1000);
    int done, refused = s_read_all(s, 40, &done);
    zmq_close(s);
    double dropped = th_stat_fresh(&s_t, " replays_dropped=");
    int lines = th_count_lines(s_t.broker_log, "answers kept for this client");
    th_broker_stop(&s_t, SIGTERM);
    assert_true(done);
    assert_int_equal(refused, 8);
    assert_int_equal((int)dropped, 32);
    assert_int_equal(lines, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_refusal_given_while_the_clients_queue_is_full_comes_once_it_reads),
        cmocka_unit_test(test_refusals_kept_for_a_client_that_does_not_read_are_bounded_and_the_rest_counted),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
