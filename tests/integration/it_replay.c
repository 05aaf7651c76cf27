/* it_replay.c — replay returns stored history in order, by seq, time, prefix and limit; catch-up joins live without gaps. */
#include "harness.h"

#include "fb_time.h"
#include "fb_zmq.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

static th_t s_t;
static int64_t s_half_time_us; /* between the two halves of the history */

enum { N = 600 }; /* more than two replay pages */

/* Publishes count events alternating kr-busan / kr-seoul, pipelined, and waits for all acks. */
static void s_publish(int first, int count)
{
    /* Each member publishes on a connection of its own. */
    void *s[2] = {th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-seoul"), th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-busan")};
    for (int i = first; i < first + count; i++) {
        const char *origin = i % 2 ? "kr-busan" : "kr-seoul";
        char title[32];
        size_t len;
        snprintf(title, sizeof(title), "m%d", i);
        uint8_t *f = th_frame(th_event_json(origin, "forum", title), origin, (uint64_t)(i / 2 + 1), NULL, &len);
        assert_true(zmq_send(s[i % 2], f, len, 0) >= 0);
        free(f);
    }
    for (int i = first; i < first + count; i++) {
        th_ack_t a;
        assert_int_equal(th_read_ack(s[i % 2], 10000, &a), 0);
        assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    }
    zmq_close(s[0]);
    zmq_close(s[1]);
}

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "replay", 21100);
    th_broker_start(&s_t, NULL);
    s_publish(0, N / 2);
    usleep(20 * 1000);
    s_half_time_us = fb_time_now_us();
    usleep(20 * 1000);
    s_publish(N / 2, N / 2);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

typedef struct {
    uint64_t seqs[N + 10];
    int n;
    int bad_order;
    const char *only_origin;
    int wrong_origin;
} s_got_t;

static int s_collect(const fb_message_t *m, void *arg)
{
    s_got_t *g = arg;
    if (g->n && m->global_seq <= g->seqs[g->n - 1]) g->bad_order++;
    if (g->only_origin && strcmp(m->origin, g->only_origin) != 0) g->wrong_origin++;
    if (g->n < N + 10) g->seqs[g->n++] = m->global_seq;
    return 0;
}

static void test_replay_from_start_returns_everything_in_order(void **state)
{
    (void)state;
    static s_got_t g;
    memset(&g, 0, sizeof(g));
    assert_int_equal(th_replay(&s_t, NULL, 0, 1, 0, 0, s_collect, &g, 5000), FB_OK);
    assert_int_equal(g.n, N);
    assert_int_equal(g.bad_order, 0);
    for (int i = 0; i < N; i++) assert_int_equal(g.seqs[i], (uint64_t)i + 1);
}

static void test_replay_from_seq_with_limit_returns_that_window(void **state)
{
    (void)state;
    static s_got_t g;
    memset(&g, 0, sizeof(g));
    assert_int_equal(th_replay(&s_t, NULL, 0, 250, 0, 100, s_collect, &g, 5000), FB_OK);
    assert_int_equal(g.n, 100);
    assert_int_equal(g.seqs[0], 250);
    assert_int_equal(g.seqs[99], 349);
    assert_int_equal(g.bad_order, 0);
}

static void test_replay_by_pattern_returns_only_that_origin(void **state)
{
    (void)state;
    static s_got_t g;
    memset(&g, 0, sizeof(g));
    g.only_origin = "kr-busan";
    const char *pats[] = {"*.kr-busan"};
    assert_int_equal(th_replay(&s_t, pats, 1, 1, 0, 0, s_collect, &g, 5000), FB_OK);
    assert_int_equal(g.n, N / 2);
    assert_int_equal(g.wrong_origin, 0);
    assert_int_equal(g.bad_order, 0);
}

static void test_replay_since_time_returns_only_later_messages(void **state)
{
    (void)state;
    static s_got_t g;
    memset(&g, 0, sizeof(g));
    assert_int_equal(th_replay(&s_t, NULL, 0, 1, s_half_time_us, 0, s_collect, &g, 5000), FB_OK);
    assert_int_equal(g.n, N / 2);
    assert_int_equal(g.seqs[0], N / 2 + 1);
}

static void test_replay_of_unknown_pattern_is_refused_by_the_library(void **state)
{
    (void)state;
    static s_got_t g;
    memset(&g, 0, sizeof(g));
    const char *pats[] = {"Not.A.Pattern"};
    assert_int_equal(th_replay(&s_t, pats, 1, 1, 0, 0, s_collect, &g, 5000), FB_EINVAL);
    assert_int_equal(g.n, 0);
}

static void test_catch_up_joins_live_without_gaps_or_duplicates(void **state)
{
    (void)state;
    enum { MORE = 4500 }; /* history longer than one catch-up page (4096) */
    s_publish(N, MORE);
    fb_subscriber_t *sub = th_subscriber(&s_t, "th-probe");
    assert_int_equal(fb_subscriber_add(sub, "event"), FB_OK);
    assert_int_equal(fb_subscriber_from(sub, 1), FB_OK);
    uint64_t expect = 1;
    fb_message_t m;
    /* History first... */
    for (int i = 0; i < N + MORE; i++) {
        assert_int_equal(fb_subscriber_recv(sub, &m, 5000), FB_OK);
        assert_int_equal(m.global_seq, expect++);
    }
    /* ...then live messages published now, with nothing lost between. */
    s_publish(N + MORE, 40);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(fb_subscriber_recv(sub, &m, 5000), FB_OK);
        assert_int_equal(m.global_seq, expect++);
    }
    assert_int_equal(fb_subscriber_recv(sub, &m, 300), FB_ETIMEOUT);
    fb_subscriber_destroy(&sub);
}

/* A replay request is one frame (docs/protocol.md, "Replay"): one sent as
 * several frames is refused MALFORMED, unread (request_id 0), and the same
 * socket is served as usual afterwards. */
static void test_replay_request_of_two_frames_is_refused_malformed(void **state)
{
    (void)state;
    void *s = th_socket(&s_t, ZMQ_DEALER, s_t.replay, "th-probe");
    assert_non_null(s);
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    req.request_id = 77;
    req.from_seq = 1;
    req.limit = 1;
    uint8_t buf[64];
    size_t len = fedbus__replay_request__pack(&req, buf);
    assert_int_equal(zmq_send(s, buf, len, ZMQ_SNDMORE), (int)len);
    assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
    for (int round = 0; round < 2; round++) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 5000) != 1) fail_msg("no answer to the %s request", round ? "second" : "two-frame");
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, s, 0) >= 0);
        assert_false(zmq_msg_more(&m));
        Fedbus__ReplayChunk *ch = fedbus__replay_chunk__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        assert_non_null(ch);
        assert_true(ch->done);
        if (round == 0) {
            if ((int)ch->error != FEDBUS__REJECT_REASON__REJECT_MALFORMED)
                fail_msg("error %d (%s), want MALFORMED", (int)ch->error, ch->detail);
            assert_int_equal(ch->request_id, 0);
            assert_int_equal(ch->n_envelopes, 0);
            assert_true(ch->detail && ch->detail[0]);
            /* The same request as one frame is served. */
            assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
        } else {
            assert_int_equal(ch->error, FEDBUS__REJECT_REASON__REJECT_NONE);
            assert_int_equal(ch->request_id, 77);
            assert_int_equal(ch->n_envelopes, 1);
        }
        fedbus__replay_chunk__free_unpacked(ch, NULL);
    }
    zmq_close(s);
}

/* Reads every chunk of request id on s into seqs (global_seq of each
 * envelope); returns how many, or fails the test on an error chunk. */
static int s_raw_replay(void *s, uint64_t id, char **prefixes, size_t n, uint64_t *seqs, int max)
{
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    req.request_id = id;
    req.from_seq = 1;
    req.prefixes = prefixes;
    req.n_prefixes = n;
    uint8_t buf[512];
    size_t len = fedbus__replay_request__pack(&req, buf);
    assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
    int got = 0, done = 0;
    while (!done) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 5000) != 1) fail_msg("no chunk");
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, s, 0) >= 0);
        Fedbus__ReplayChunk *ch = fedbus__replay_chunk__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        assert_non_null(ch);
        if (ch->error) fail_msg("error %d (%s)", (int)ch->error, ch->detail);
        for (size_t i = 0; i < ch->n_envelopes; i++) {
            Fedbus__Envelope *e = fedbus__envelope__unpack(NULL, ch->envelopes[i].len, ch->envelopes[i].data);
            assert_non_null(e);
            if (got < max) seqs[got] = e->global_seq;
            got++;
            fedbus__envelope__free_unpacked(e, NULL);
        }
        done = ch->done;
        fedbus__replay_chunk__free_unpacked(ch, NULL);
    }
    return got;
}

/* Prefixes are byte ranges of topics: overlapping ones give each message
 * once, in global_seq order, and a prefix ending inside a segment matches. */
static void test_replay_by_overlapping_prefixes_returns_each_message_once_in_order(void **state)
{
    (void)state;
    void *s = th_socket(&s_t, ZMQ_DEALER, s_t.replay, "th-probe");
    static uint64_t seqs[8192]; /* the catch-up test adds 4540 */
    char *all[] = {"event.kr-b", "event.kr-busan.", "event.kr-s", "event.kr-seoul.forum"};
    int n = s_raw_replay(s, 1, all, 4, seqs, 8192);
    assert_true(n >= N && n <= 8192);
    for (int i = 1; i < n; i++) assert_true(seqs[i] > seqs[i - 1]);
    char *busan[] = {"event.kr-busan", "event.kr-busan"};
    int nb = s_raw_replay(s, 2, busan, 2, seqs, 8192);
    char *none[] = {"event.kr-busan.forum.", "event.kr-busaa"};
    assert_int_equal(s_raw_replay(s, 3, none, 2, seqs, 8192), 0);
    zmq_close(s);
    assert_int_equal(nb * 2, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_from_start_returns_everything_in_order),
        cmocka_unit_test(test_replay_from_seq_with_limit_returns_that_window),
        cmocka_unit_test(test_replay_by_pattern_returns_only_that_origin),
        cmocka_unit_test(test_replay_since_time_returns_only_later_messages),
        cmocka_unit_test(test_replay_of_unknown_pattern_is_refused_by_the_library),
        cmocka_unit_test(test_catch_up_joins_live_without_gaps_or_duplicates),
        cmocka_unit_test(test_replay_request_of_two_frames_is_refused_malformed),
        cmocka_unit_test(test_replay_by_overlapping_prefixes_returns_each_message_once_in_order),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
