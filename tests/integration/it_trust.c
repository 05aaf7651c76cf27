/* it_trust.c — a broker with keys: CURVE on every socket, clients admitted by the member registry, the
 * identity ZAP established used instead of anything a peer types, members cut off within 5 s on
 * connections already open (publish, feed, replay) and let back in when reactivated; a node, the CLI
 * and the node's HTTP token with keys.
 *
 * Members are registered by SQL (th_member(), th_member_status()), as `fedbus member` does.
 * Ports 26400-26599, clear of the other tests and of bench/run. */
#include "harness.h"

#include "fb_time.h"
#include "fb_wire.h"
#include "fb_zmq.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

#define S_CUT_MS 5000     /* a suspension or revocation takes effect within this */
#define S_NOTHING_MS 1500 /* how long "nothing comes" is watched for */

static th_t s_t;

/* A database, a broker with keys; extra: NULL or NULL-terminated flags. */
static void s_up(const char *name, int port_base, const char *const *extra)
{
    th_init(&s_t, name, port_base);
    th_trust(&s_t);
    th_broker_start(&s_t, extra);
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

/* ------------------------------------------------------------- frames --- */

static void s_send_msg(void *s, Fedbus__NodeMessage *nm)
{
    size_t len = fedbus__node_message__get_packed_size(nm);
    uint8_t *buf = malloc(len);
    fedbus__node_message__pack(nm, buf);
    assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
    free(buf);
}

static void s_hello(void *s, const char *origin)
{
    Fedbus__Hello h = FEDBUS__HELLO__INIT;
    h.origin = (char *)origin;
    h.version = "it_trust";
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HELLO;
    nm.hello = &h;
    s_send_msg(s, &nm);
}

static void s_heartbeat(void *s, const char *origin)
{
    Fedbus__Heartbeat hb = FEDBUS__HEARTBEAT__INIT;
    hb.origin = (char *)origin;
    hb.sent_at_us = fb_time_now_us();
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HEARTBEAT;
    nm.heartbeat = &hb;
    s_send_msg(s, &nm);
}

/* Publishes one event of origin under category with title. */
static void s_publish(void *s, const char *origin, uint64_t seq, const char *category, const char *title)
{
    size_t len;
    uint8_t *f = th_frame(th_event_json(origin, category, title), origin, seq, NULL, &len);
    assert_int_equal(zmq_send(s, f, len, 0), (int)len);
    free(f);
}

/* The next frame on s within timeout_ms, decoded; NULL when none came. */
static Fedbus__BrokerMessage *s_reply(void *s, int timeout_ms)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) != 1) return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, s, 0) >= 0);
    Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    if (!bm) fail_msg("reply is not a BrokerMessage");
    return bm;
}

/* Expects an ack of status and reason on s; returns its detail's first bytes in detail. */
static void s_expect_ack(void *s, int status, int reason, char *detail, size_t size)
{
    Fedbus__BrokerMessage *bm = s_reply(s, 10000);
    if (!bm) fail_msg("no answer");
    if (bm->body_case != FEDBUS__BROKER_MESSAGE__BODY_ACK) fail_msg("answer is body %d, not an ack", bm->body_case);
    if ((int)bm->ack->status != status || (int)bm->ack->reason != reason)
        fail_msg("ack status %d reason %d (%s); wanted %d, %d", bm->ack->status, bm->ack->reason, bm->ack->detail,
                 status, reason);
    if (detail) snprintf(detail, size, "%s", bm->ack->detail);
    fedbus__broker_message__free_unpacked(bm, NULL);
}

static void s_expect_welcome(void *s, const char *origin)
{
    Fedbus__BrokerMessage *bm = s_reply(s, 10000);
    if (!bm || bm->body_case != FEDBUS__BROKER_MESSAGE__BODY_WELCOME) fail_msg("no Welcome for %s", origin);
    assert_string_equal(bm->welcome->origin, origin);
    fedbus__broker_message__free_unpacked(bm, NULL);
}

/* Asserts that nothing arrives on s within ms. */
static void s_expect_nothing(void *s, int ms)
{
    Fedbus__BrokerMessage *bm = s_reply(s, ms);
    if (bm) fail_msg("got an answer (body %d) where none may come", bm->body_case);
}

/* Publishes on s as origin (seq counted in *seq) until the answer is
 * REJECTED with reason, or S_CUT_MS passed; returns the ms it took. */
static int64_t s_until_refused(void *s, const char *origin, uint64_t *seq, int reason)
{
    int64_t start = fb_time_mono_us();
    for (;;) {
        s_publish(s, origin, ++*seq, "forum", "until refused");
        th_ack_t a;
        assert_int_equal(th_read_ack(s, 10000, &a), 0);
        if (a.status == FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED) {
            assert_int_equal(a.reason, reason);
            return (fb_time_mono_us() - start) / 1000;
        }
        if (fb_time_mono_us() - start > S_CUT_MS * 1000LL) fail_msg("%s not refused within %d ms", origin, S_CUT_MS);
        usleep(50 * 1000);
    }
}

/* Waits up to ms for the last "stats trust" line to show key at least min. */
static double s_trust_stat(const char *key, double min, int ms)
{
    double v = -1;
    for (int i = 0; i < ms / 100; i++) {
        if ((v = th_stat_trust(&s_t, key)) >= min) return v;
        usleep(100 * 1000);
    }
    fail_msg("%s stayed at %.0f (wanted >= %.0f)", key, v, min);
    return v;
}

/* A SUB to the feed as member (subscribed to everything). */
static void *s_sub(const char *member)
{
    void *s = th_socket(&s_t, ZMQ_SUB, s_t.feed, member);
    assert_int_equal(zmq_setsockopt(s, ZMQ_SUBSCRIBE, "event.", 6), 0);
    return s;
}

/* Whether the len bytes at p hold text. */
static int s_contains(const void *p, size_t len, const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp((const char *)p + i, text, n) == 0) return 1;
    return 0;
}

/* Whether a feed frame holding text comes on sub within ms (other frames are skipped). */
static int s_feed_has(void *sub, const char *text, int ms)
{
    int64_t end = fb_time_mono_us() + ms * 1000LL;
    for (;;) {
        int64_t left = (end - fb_time_mono_us()) / 1000;
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&it, 1, (long)left) != 1) return 0;
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, sub, 0) >= 0);
        int found = s_contains(zmq_msg_data(&m), zmq_msg_size(&m), text);
        zmq_msg_close(&m);
        if (found) return 1;
    }
}

/* Publishes events titled text as origin on pub until sub delivers one (or ms). */
static int s_feed_reaches(void *pub, const char *origin, uint64_t *seq, void *sub, const char *text, int ms)
{
    int64_t end = fb_time_mono_us() + ms * 1000LL;
    while (fb_time_mono_us() < end) {
        s_publish(pub, origin, ++*seq, "forum", text);
        th_ack_t a;
        assert_int_equal(th_read_ack(pub, 10000, &a), 0);
        assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
        if (s_feed_has(sub, text, 250)) return 1;
    }
    return 0;
}

/* ---------------------------------------------------------- admission --- */

static void test_a_key_no_member_has_is_refused_and_counted(void **state)
{
    (void)state;
    s_up("trust_unknown", 26400, NULL);
    th_keys_t stranger;
    th_keys_make(&s_t, "kr-stranger", &stranger); /* made, never registered */
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_t.ingest,
                                           .curve_serverkey = s_t.broker_keys.curve_public,
                                           .curve_publickey = stranger.curve_public,
                                           .curve_secretkey = stranger.curve_secret});
    assert_non_null(s);
    s_hello(s, "kr-stranger");
    s_expect_nothing(s, S_NOTHING_MS);
    /* A registered member on the same broker is answered. */
    void *ok = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-seoul");
    s_hello(ok, "kr-seoul");
    s_expect_welcome(ok, "kr-seoul");
    s_trust_stat(" zap_unknown=", 1, 5000);
    assert_true(th_count_lines(s_t.broker_log, "zap: refused key") >= 1);
    zmq_close(ok);
    zmq_close(s);
}

static int s_count(const fb_message_t *m, void *arg)
{
    (void)m;
    (*(int *)arg)++;
    return 0;
}

static void test_a_plaintext_client_is_refused_by_a_curve_broker(void **state)
{
    (void)state;
    s_up("trust_plain", 26420, NULL);
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_t.ingest});
    s_hello(s, "kr-seoul");
    s_expect_nothing(s, S_NOTHING_MS);
    int n = 0;
    assert_int_equal(fb_replay(s_t.replay, NULL, 0, 1, 0, 0, s_count, &n, S_NOTHING_MS), FB_ETIMEOUT);
    assert_int_equal(n, 0);
    zmq_close(s);
}

/* ------------------------------------------------------------- claims --- */

static void test_hello_publish_and_heartbeat_claiming_another_member_are_refused(void **state)
{
    (void)state;
    s_up("trust_claims", 26440, NULL);
    th_member(&s_t, "kr-seoul");
    void *s = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-busan");
    char detail[200];
    s_hello(s, "kr-seoul");
    s_expect_ack(s, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED, detail,
                 sizeof(detail));
    assert_string_equal(detail, "Hello for kr-seoul from member kr-busan");
    s_hello(s, "kr-busan");
    s_expect_welcome(s, "kr-busan");
    s_publish(s, "kr-seoul", 1, "forum", "Seoul cancels all 2026 calls");
    s_expect_ack(s, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED, detail,
                 sizeof(detail));
    assert_string_equal(detail, "origin kr-seoul is not this connection's member kr-busan");
    s_publish(s, "kr-busan", 1, "forum", "Busan's own");
    s_expect_ack(s, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED, 0, NULL, 0);

    /* Each envelope of a batch is judged alone. */
    size_t l1, l2, e1, e2;
    uint8_t *f1 = th_frame(th_event_json("kr-busan", "forum", "batch own"), "kr-busan", 2, NULL, &l1);
    uint8_t *f2 = th_frame(th_event_json("kr-seoul", "forum", "batch forged"), "kr-seoul", 2, NULL, &l2);
    const uint8_t *env1, *env2;
    assert_int_equal(fb_wire_publish_view(f1, l1, &env1, &e1), 0);
    assert_int_equal(fb_wire_publish_view(f2, l2, &env2, &e2), 0);
    ProtobufCBinaryData bins[2] = {{e1, (uint8_t *)env1}, {e2, (uint8_t *)env2}};
    Fedbus__PublishBatch pb = FEDBUS__PUBLISH_BATCH__INIT;
    pb.envelopes = bins;
    pb.n_envelopes = 2;
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_PUBLISH_BATCH;
    nm.publish_batch = &pb;
    s_send_msg(s, &nm);
    free(f1);
    free(f2);
    Fedbus__BrokerMessage *bm = s_reply(s, 10000);
    assert_non_null(bm);
    assert_int_equal(bm->body_case, FEDBUS__BROKER_MESSAGE__BODY_ACK_BATCH);
    assert_int_equal(bm->ack_batch->n_acks, 2);
    assert_int_equal(bm->ack_batch->acks[0]->status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_int_equal(bm->ack_batch->acks[1]->status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_int_equal(bm->ack_batch->acks[1]->reason, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED);
    fedbus__broker_message__free_unpacked(bm, NULL);

    /* A heartbeat for another member is not answered: ignored and counted. */
    s_heartbeat(s, "kr-seoul");
    s_expect_nothing(s, 300);
    s_trust_stat(" heartbeats_refused=", 1, 5000);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-seoul'"), 0);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-busan'"), 2);
    /* Four refusals of one peer, one line: at most one a minute per peer. */
    assert_int_equal(th_count_lines(s_t.broker_log, "reject NOT_AUTHORIZED:"), 1);
    zmq_close(s);
}

static void test_a_topic_outside_the_members_publish_patterns_is_refused_namespace_and_none_allow_nothing(void **state)
{
    (void)state;
    s_up("trust_patterns", 26460, NULL);
    void *s = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-busan");
    th_sql_exec(&s_t, "UPDATE fedbus_members SET publish = '{event.kr-busan.forum}', updated_at = now()"
                      " WHERE member = 'kr-busan'; NOTIFY fedbus_members");
    uint64_t seq = 0;
    int64_t ms = 0;
    /* Until the directory has the patterns: then seminar is outside them. */
    for (int64_t start = fb_time_mono_us();; usleep(50 * 1000)) {
        s_publish(s, "kr-busan", ++seq, "seminar", "outside");
        th_ack_t a;
        assert_int_equal(th_read_ack(s, 10000, &a), 0);
        ms = (fb_time_mono_us() - start) / 1000;
        if (a.status == FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED) {
            assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_NAMESPACE);
            break;
        }
        if (ms > S_CUT_MS) fail_msg("publish patterns not applied within %d ms", S_CUT_MS);
    }
    s_publish(s, "kr-busan", ++seq, "forum", "inside");
    s_expect_ack(s, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED, 0, NULL, 0);
    /* No pattern at all (an observer's): nothing. */
    th_sql_exec(&s_t, "UPDATE fedbus_members SET publish = '{}', updated_at = now() WHERE member = 'kr-busan';"
                      " NOTIFY fedbus_members");
    ms = s_until_refused(s, "kr-busan", &seq, FEDBUS__REJECT_REASON__REJECT_NAMESPACE);
    assert_true(ms < S_CUT_MS);
    zmq_close(s);
}

/* --------------------------------------------------------- cutting off --- */

/* Publishes n events as origin in batch frames of 1000 on s. */
static void s_fill(void *s, const char *origin, uint64_t *seq, int n)
{
    for (int done = 0; done < n; done += 1000) {
        ProtobufCBinaryData bins[1000];
        uint8_t *frames[1000];
        int k = n - done < 1000 ? n - done : 1000;
        for (int i = 0; i < k; i++) {
            size_t len, el;
            const uint8_t *env;
            frames[i] = th_frame(th_event_json(origin, "forum", "history to replay"), origin, ++*seq, NULL, &len);
            assert_int_equal(fb_wire_publish_view(frames[i], len, &env, &el), 0);
            bins[i] = (ProtobufCBinaryData){el, (uint8_t *)env};
        }
        Fedbus__PublishBatch pb = FEDBUS__PUBLISH_BATCH__INIT;
        pb.envelopes = bins;
        pb.n_envelopes = (size_t)k;
        Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
        nm.body_case = FEDBUS__NODE_MESSAGE__BODY_PUBLISH_BATCH;
        nm.publish_batch = &pb;
        s_send_msg(s, &nm);
        for (int i = 0; i < k; i++) free(frames[i]);
        Fedbus__BrokerMessage *bm = s_reply(s, 30000);
        assert_non_null(bm);
        assert_int_equal(bm->body_case, FEDBUS__BROKER_MESSAGE__BODY_ACK_BATCH);
        fedbus__broker_message__free_unpacked(bm, NULL);
    }
}

/* The next replay chunk on s within timeout_ms; NULL when none came. */
static Fedbus__ReplayChunk *s_chunk(void *s, int timeout_ms)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) != 1) return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, s, 0) >= 0);
    Fedbus__ReplayChunk *ch = fedbus__replay_chunk__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    assert_non_null(ch);
    return ch;
}

static void s_replay_request(void *s, uint64_t id)
{
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    req.request_id = id;
    req.from_seq = 1;
    uint8_t buf[64];
    size_t len = fedbus__replay_request__pack(&req, buf);
    assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
}

static void test_a_revoked_member_is_cut_off_within_5_s_for_publish_feed_and_replay(void **state)
{
    (void)state;
    static const char *const extra[] = {"--replay-queue=1", NULL};
    s_up("trust_revoke", 26480, extra);
    void *busan = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-busan");
    void *seoul = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-seoul");
    uint64_t busan_seq = 0, seoul_seq = 0;
    s_hello(seoul, "kr-seoul");
    s_expect_welcome(seoul, "kr-seoul");
    s_fill(busan, "kr-busan", &busan_seq, 20000); /* history enough for a replay that takes a while */

    /* kr-seoul's open connections: a feed subscriber, a replay in progress. */
    void *seoul_sub = s_sub("kr-seoul"), *busan_sub = s_sub("kr-busan");
    assert_true(s_feed_reaches(busan, "kr-busan", &busan_seq, seoul_sub, "before the cut", 5000));
    assert_true(s_feed_reaches(busan, "kr-busan", &busan_seq, busan_sub, "before the cut", 5000));
    fb_endpoint_opts_t re = th_endpoint(&s_t, s_t.replay, "kr-seoul");
    void *replay = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_t.replay, .rcvhwm = 1,
                                                .curve_serverkey = re.curve_serverkey,
                                                .curve_publickey = re.curve_publickey,
                                                .curve_secretkey = re.curve_secretkey});
    s_replay_request(replay, 7);
    Fedbus__ReplayChunk *ch = s_chunk(replay, 10000);
    assert_non_null(ch);
    assert_false(ch->done);
    size_t got = ch->n_envelopes;
    fedbus__replay_chunk__free_unpacked(ch, NULL);

    th_member_status(&s_t, "kr-seoul", "revoked");
    int64_t ms = s_until_refused(seoul, "kr-seoul", &seoul_seq, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED);
    print_message("publish refused %lld ms after the revocation\n", (long long)ms);
    assert_true(ms < S_CUT_MS);

    /* The replay in progress ends NOT_AUTHORIZED, short of the history. */
    int refused = 0;
    while (!refused && (ch = s_chunk(replay, S_CUT_MS))) {
        got += ch->n_envelopes;
        if (ch->error) {
            assert_int_equal(ch->error, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED);
            assert_true(ch->done);
            refused = 1;
        } else {
            assert_false(ch->done);
        }
        fedbus__replay_chunk__free_unpacked(ch, NULL);
    }
    assert_true(refused);
    assert_true(got < 20000);
    /* A new request on the same connection is refused too. */
    s_replay_request(replay, 8);
    ch = s_chunk(replay, S_CUT_MS);
    assert_non_null(ch);
    assert_int_equal(ch->request_id, 8);
    assert_int_equal(ch->error, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED);
    fedbus__replay_chunk__free_unpacked(ch, NULL);

    /* The feed: kr-busan's subscriber is back, kr-seoul's gets nothing more. */
    assert_true(s_feed_reaches(busan, "kr-busan", &busan_seq, busan_sub, "after the cut", S_CUT_MS));
    assert_false(s_feed_has(seoul_sub, "after the cut", S_NOTHING_MS));
    s_trust_stat(" replays_stopped=", 1, 5000);
    s_trust_stat(" feed_cuts=", 1, 5000);
    s_trust_stat(" zap_revoked=", 1, 5000); /* the subscriber's reconnections */
    zmq_close(replay);
    zmq_close(seoul_sub);
    zmq_close(busan_sub);
    zmq_close(seoul);
    zmq_close(busan);
}

/* Waits up to ms for sub to deliver a message titled title; returns 1 when it did. */
static int s_delivers(fb_subscriber_t *sub, const char *title, int ms)
{
    int64_t end = fb_time_mono_us() + ms * 1000LL;
    while (fb_time_mono_us() < end) {
        fb_message_t m;
        if (fb_subscriber_recv(sub, &m, 200) == FB_OK && strcmp(fb_message_title(&m, "en"), title) == 0) return 1;
    }
    return 0;
}

static void test_a_suspended_member_works_again_when_reactivated_by_hand_in_sql(void **state)
{
    (void)state;
    s_up("trust_suspend", 26500, NULL);
    void *busan = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-busan");
    void *seoul = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-seoul");
    fb_endpoint_opts_t fe = th_endpoint(&s_t, s_t.feed, "kr-seoul"), re = th_endpoint(&s_t, s_t.replay, "kr-seoul");
    fb_subscriber_t *sub = fb_subscriber_open(&fe, &re);
    assert_non_null(sub);
    assert_int_equal(fb_subscriber_add(sub, "event"), FB_OK);
    assert_int_equal(fb_subscriber_from(sub, 1), FB_OK);
    uint64_t busan_seq = 0, seoul_seq = 0;
    th_ack_t a;
    s_publish(busan, "kr-busan", ++busan_seq, "forum", "before");
    assert_int_equal(th_read_ack(busan, 10000, &a), 0);
    assert_true(s_delivers(sub, "before", 10000));

    /* By hand, without NOTIFY: the poll finds it. */
    th_sql_exec(&s_t, "UPDATE fedbus_members SET status = 'suspended' WHERE member = 'kr-seoul'");
    int64_t ms = s_until_refused(seoul, "kr-seoul", &seoul_seq, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED);
    print_message("suspension took effect after %lld ms\n", (long long)ms);
    assert_true(ms < S_CUT_MS);
    void *late = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-seoul");
    s_hello(late, "kr-seoul");
    s_expect_nothing(late, S_NOTHING_MS);
    zmq_close(late);
    s_publish(busan, "kr-busan", ++busan_seq, "forum", "during the suspension");
    assert_int_equal(th_read_ack(busan, 10000, &a), 0);
    assert_false(s_delivers(sub, "during the suspension", S_NOTHING_MS));

    th_sql_exec(&s_t, "UPDATE fedbus_members SET status = 'active' WHERE member = 'kr-seoul'");
    int64_t start = fb_time_mono_us();
    for (;; usleep(50 * 1000)) {
        s_publish(seoul, "kr-seoul", ++seoul_seq, "forum", "back");
        assert_int_equal(th_read_ack(seoul, 10000, &a), 0);
        if (a.status == FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED) break;
        if (fb_time_mono_us() - start > S_CUT_MS * 1000LL) fail_msg("not let back in within %d ms", S_CUT_MS);
    }
    /* A new connection gets in, and the subscriber, connecting again by
     * itself, delivers what it missed. */
    late = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-seoul");
    s_hello(late, "kr-seoul");
    s_expect_welcome(late, "kr-seoul");
    assert_true(s_delivers(sub, "during the suspension", 30000));
    s_publish(busan, "kr-busan", ++busan_seq, "forum", "after the reactivation");
    assert_int_equal(th_read_ack(busan, 10000, &a), 0);
    assert_true(s_delivers(sub, "after the reactivation", 10000));
    fb_subscriber_destroy(&sub);
    zmq_close(late);
    zmq_close(seoul);
    zmq_close(busan);
}

static void test_a_registry_that_cannot_be_read_leaves_the_last_directory_in_force(void **state)
{
    (void)state;
    s_up("trust_registry_away", 26590, NULL);
    th_member(&s_t, "kr-seoul");
    th_sql_exec(&s_t, "ALTER TABLE fedbus_members RENAME TO fedbus_members_away");
    s_trust_stat(" members_failures=", 1, 10000);
    assert_int_equal(th_count_lines(s_t.broker_log, "members: cannot read the registry"), 1);
    /* Said once, and whoever was in may still come in. */
    void *s = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-seoul");
    s_hello(s, "kr-seoul");
    s_expect_welcome(s, "kr-seoul");
    assert_true(s_trust_stat(" members_active=", 2, 1000) >= 2);
    th_sql_exec(&s_t, "ALTER TABLE fedbus_members_away RENAME TO fedbus_members");
    for (int i = 0; i < 50 && th_count_lines(s_t.broker_log, "members: the registry is read again") == 0; i++)
        usleep(100 * 1000);
    assert_int_equal(th_count_lines(s_t.broker_log, "members: the registry is read again"), 1);
    zmq_close(s);
}

/* ------------------------------------------------------- node and CLI --- */

/* Waits up to ms for path to hold a line with needle. */
static int s_file_has(const char *path, const char *needle, int ms)
{
    for (int i = 0; i < ms / 100; i++) {
        if (th_count_lines(path, needle) > 0) return 1;
        usleep(100 * 1000);
    }
    return 0;
}

static void test_a_node_with_keys_publishes_through_curve_and_its_feed_and_the_cli_deliver(void **state)
{
    (void)state;
    s_up("trust_node", 26520, NULL);
    int n = th_node_start(&s_t, "kr-incheon", "*");
    fb_publisher_t *pub = fb_publisher_new(s_t.node_submit[n]);
    fb_ack_t ack;
    const char *json = th_event_json("kr-incheon", "forum", "Science Connect over CURVE");
    assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 20000), FB_OK);
    fb_publisher_destroy(&pub);
    assert_true(s_file_has(s_t.node_output[n], "Science Connect over CURVE", 10000));
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-incheon'"), 1);

    /* The CLI: keys by flag, and by FEDBUS_KEYS / FEDBUS_BROKER_KEY (the key as Z85). */
    const th_keys_t *k = th_member(&s_t, "kr-busan");
    char rep[100], keys[300], bkey[300], feed[100];
    snprintf(rep, sizeof(rep), "--replay=%s", s_t.replay);
    snprintf(feed, sizeof(feed), "--feed=%s", s_t.feed);
    snprintf(keys, sizeof(keys), "--keys=%s", k->file);
    snprintf(bkey, sizeof(bkey), "--broker-key=%s", s_t.broker_keys.pub_file);
    const char *replay_argv[] = {FEDBUS_CLI_BIN, "replay", rep, keys, bkey, "--format=text", NULL};
    char *out = NULL;
    assert_int_equal(th_run(replay_argv, &out, 30), 0);
    assert_non_null(strstr(out, "Science Connect over CURVE"));
    free(out);
    setenv("FEDBUS_KEYS", k->file, 1);
    setenv("FEDBUS_BROKER_KEY", s_t.broker_keys.curve_public, 1);
    const char *tail_argv[] = {FEDBUS_CLI_BIN, "tail", feed, rep, "--from-seq=1", "--count=1", "--format=text", "*", NULL};
    assert_int_equal(th_run(tail_argv, &out, 30), 0);
    assert_non_null(strstr(out, "Science Connect over CURVE"));
    free(out);
    unsetenv("FEDBUS_KEYS");
    unsetenv("FEDBUS_BROKER_KEY");
    /* Without keys the CLI gets no answer, and says why it may be. */
    setenv("FEDBUS_KEYS", "", 1); /* and the harness gives it none */
    setenv("FEDBUS_BROKER_KEY", "", 1);
    const char *plain_argv[] = {FEDBUS_CLI_BIN, "replay", rep, "--timeout-ms=1000", NULL};
    assert_int_equal(th_run(plain_argv, NULL, 30), 1);
    unsetenv("FEDBUS_KEYS");
    unsetenv("FEDBUS_BROKER_KEY");
}

static void test_the_nodes_http_publish_asks_for_its_bearer_token(void **state)
{
    (void)state;
    s_up("trust_http", 26540, NULL);
    const char *token_file = "it-trust_http-token";
    FILE *f = fopen(token_file, "w");
    fputs("s3cret-t0ken\n", f);
    fclose(f);
    chmod(token_file, 0600);
    char port[32], tf[300];
    snprintf(port, sizeof(port), "--http-port=%d", 26555);
    snprintf(tf, sizeof(tf), "--http-token-file=%s", token_file);
    const char *const extra[] = {port, tf, NULL};
    th_node_spawn(&s_t, 0, "kr-daejeon", NULL, NULL, extra);
    const char *json = th_event_json("kr-daejeon", "forum", "token");
    char body[2048];
    int status = 0;
    for (int i = 0; i < 100 && (status = th_http(26555, "GET", "/v1/health", NULL, NULL, 0, NULL, 0)) != 200; i++)
        usleep(100 * 1000);
    assert_int_equal(status, 200); /* health is open, and the node is welcomed over CURVE */
    assert_int_equal(th_http(26555, "POST", "/v1/publish", json, NULL, 0, body, sizeof(body)), 401);
    assert_non_null(strstr(body, "UNAUTHORIZED"));
    assert_int_equal(th_http_with(26555, "POST", "/v1/publish", "Authorization: Bearer s3cret-t0keN", json, NULL, 0,
                                  NULL, 0),
                     401);
    assert_int_equal(th_http_with(26555, "POST", "/v1/publish", "Authorization: Bearer s3cret-t0ke", json, NULL, 0,
                                  NULL, 0),
                     401);
    assert_int_equal(th_http_with(26555, "POST", "/v1/publish", "Authorization: Bearer s3cret-t0ken", json, NULL, 0,
                                  body, sizeof(body)),
                     201);
    /* A token file others may read is refused at start. */
    chmod(token_file, 0644);
    char sub[100], submit[100], b[100];
    snprintf(submit, sizeof(submit), "--submit=tcp://127.0.0.1:%d", 26556);
    snprintf(b, sizeof(b), "--broker=%s", s_t.ingest);
    snprintf(sub, sizeof(sub), "--http-port=%d", 26557);
    const char *argv[] = {FEDBUS_NODE_BIN, "--member=kr-daejeon", b, submit, sub, tf, "--outbox=memory", NULL};
    assert_int_equal(th_run(argv, NULL, 20), 1);
    unlink(token_file);
}

/* ---------------------------------------------------------- settings --- */

/* Also: a broker given neither keys nor insecure-plaintext does not start (secure by default). */
static void test_key_settings_that_cannot_work_stop_the_programs_at_start(void **state)
{
    (void)state;
    th_init(&s_t, "trust_settings", 26560);
    th_trust(&s_t);
    const th_keys_t *seoul = th_member(&s_t, "kr-seoul");
    char pg[300], keys[300], pubkeys[300], node_keys[300], bkey[300], b[100];
    snprintf(pg, sizeof(pg), "--pg=%s", s_t.conninfo);
    snprintf(keys, sizeof(keys), "--keys=%s", s_t.broker_keys.file);
    snprintf(pubkeys, sizeof(pubkeys), "--keys=%s", s_t.broker_keys.pub_file);
    snprintf(node_keys, sizeof(node_keys), "--keys=%s", seoul->file);
    snprintf(bkey, sizeof(bkey), "--broker-key=%s", s_t.broker_keys.pub_file);
    snprintf(b, sizeof(b), "--broker=%s", s_t.ingest);
    const char *both[] = {FEDBUS_BROKER_BIN, pg, keys, "--insecure-plaintext", "--ingest=tcp://127.0.0.1:26561",
                          "--feed=tcp://127.0.0.1:26562", "--replay=tcp://127.0.0.1:26563", NULL};
    const char *missing[] = {FEDBUS_BROKER_BIN, pg, "--keys=/nonexistent/broker.key", "--ingest=tcp://127.0.0.1:26561",
                             "--feed=tcp://127.0.0.1:26562", "--replay=tcp://127.0.0.1:26563", NULL};
    const char *public_only[] = {FEDBUS_BROKER_BIN, pg, pubkeys, "--ingest=tcp://127.0.0.1:26561",
                                 "--feed=tcp://127.0.0.1:26562", "--replay=tcp://127.0.0.1:26563", NULL};
    const char *half[] = {FEDBUS_NODE_BIN, "--member=kr-seoul", b, node_keys, "--outbox=memory",
                          "--submit=tcp://127.0.0.1:26564", NULL};
    const char *other[] = {FEDBUS_NODE_BIN, "--member=kr-busan", b, node_keys, bkey, "--outbox=memory",
                           "--submit=tcp://127.0.0.1:26564", NULL};
    const char *neither[] = {FEDBUS_BROKER_BIN, pg, "--ingest=tcp://127.0.0.1:26561", "--feed=tcp://127.0.0.1:26562",
                             "--replay=tcp://127.0.0.1:26563", NULL};
    const char *const *cases[] = {both, missing, public_only, half, other, neither};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (th_run(cases[i], NULL, 20) != 1) fail_msg("case %zu started", i);
}

static void test_a_broker_without_keys_warns_at_start_that_it_checks_nobody(void **state)
{
    (void)state;
    th_init(&s_t, "trust_insecure", 26580);
    static const char *const extra[] = {"--insecure-plaintext", NULL};
    th_broker_start(&s_t, extra);
    assert_int_equal(th_count_lines(s_t.broker_log, "WARN broker: insecure-plaintext: no encryption and no member check"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_a_key_no_member_has_is_refused_and_counted, s_teardown),
        cmocka_unit_test_teardown(test_a_plaintext_client_is_refused_by_a_curve_broker, s_teardown),
        cmocka_unit_test_teardown(test_hello_publish_and_heartbeat_claiming_another_member_are_refused, s_teardown),
        cmocka_unit_test_teardown(test_a_topic_outside_the_members_publish_patterns_is_refused_namespace_and_none_allow_nothing,
                                  s_teardown),
        cmocka_unit_test_teardown(test_a_revoked_member_is_cut_off_within_5_s_for_publish_feed_and_replay, s_teardown),
        cmocka_unit_test_teardown(test_a_suspended_member_works_again_when_reactivated_by_hand_in_sql, s_teardown),
        cmocka_unit_test_teardown(test_a_registry_that_cannot_be_read_leaves_the_last_directory_in_force, s_teardown),
        cmocka_unit_test_teardown(test_a_node_with_keys_publishes_through_curve_and_its_feed_and_the_cli_deliver,
                                  s_teardown),
        cmocka_unit_test_teardown(test_the_nodes_http_publish_asks_for_its_bearer_token, s_teardown),
        cmocka_unit_test_teardown(test_key_settings_that_cannot_work_stop_the_programs_at_start, s_teardown),
        cmocka_unit_test_teardown(test_a_broker_without_keys_warns_at_start_that_it_checks_nobody, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
