/* it_node_frames.c — how many publish frames a real fedbus-node keeps unanswered, against
 * a scripted broker (a ROUTER socket of the test's own, which answers only when the test
 * says so): inflight-frames frames at any time, up to twice that while they hold fewer
 * publishes together than inflight-frames full frames (1,024 each), whatever their bytes,
 * and never more; an answer frees a slot at once.
 *
 * Also: frames, a PublishBatch's envelopes and an AckBatch's acks, each read one ahead of
 * taking the one before, are still each answered for themselves, in order, bad ones in the
 * middle included.
 *
 * Ports 22200-22229, clear of the other tests (21000-21952, 22000-22169) and of
 * bench/run: test k's scripted broker on 22200+k and its node's submit socket on 22210+k
 * (a closed socket's port is not always free again at once); feed and replay,
 * 22220-22221, are never served. */
#include "harness.h"

#include "fb_envelope.h"
#include "fb_time.h"
#include "fb_zmq.h"

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

#define S_MEMBER   "intl-frames"
#define S_QUIET_MS 500 /* how long "nothing more is sent" is watched for */

static void *s_broker; /* the scripted broker: ROUTER on S_INGEST */
static void *s_client; /* a submitter: DEALER on the node's submit socket */
static pid_t s_node;
static zmq_msg_t s_peer; /* the node's identity on s_broker */

/* One publish frame as the scripted broker saw it. */
typedef struct {
    size_t n;            /* publishes it holds */
    uint8_t last_id[16]; /* message_id of its last one */
} s_frame_t;

/* Sends bm to the node, as the broker answers on its ROUTER. */
static void s_reply(const Fedbus__BrokerMessage *bm)
{
    uint8_t buf[256];
    size_t len = fedbus__broker_message__pack(bm, buf);
    zmq_msg_t to;
    zmq_msg_init(&to);
    zmq_msg_copy(&to, &s_peer);
    assert_true(zmq_msg_send(&to, s_broker, ZMQ_SNDMORE) >= 0);
    assert_int_equal(zmq_send(s_broker, buf, len, 0), (int)len);
}

/* The next frame from the node that carries publishes (Hello and heartbeats
 * are skipped, a Hello answered with a Welcome); returns 0, or -1 when none
 * came within timeout_ms. */
static int s_next_frame(int timeout_ms, s_frame_t *f)
{
    int64_t until = fb_time_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        long left = (long)((until - fb_time_mono_us()) / 1000);
        zmq_pollitem_t it = {s_broker, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&it, 1, left) != 1) return -1;
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        assert_true(zmq_msg_recv(&id, s_broker, 0) >= 0);
        assert_true(zmq_msg_more(&id));
        assert_true(zmq_msg_recv(&body, s_broker, 0) >= 0);
        zmq_msg_close(&s_peer);
        zmq_msg_init(&s_peer);
        zmq_msg_copy(&s_peer, &id);
        zmq_msg_close(&id);
        Fedbus__NodeMessage *nm =
            fedbus__node_message__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
        zmq_msg_close(&body);
        if (!nm) fail_msg("the node sent a frame that is not a NodeMessage");
        int got = 0;
        if (nm->body_case == FEDBUS__NODE_MESSAGE__BODY_HELLO) {
            Fedbus__Welcome w = FEDBUS__WELCOME__INIT;
            w.origin = nm->hello->origin;
            w.max_frame = 1 << 20;
            Fedbus__BrokerMessage bm = FEDBUS__BROKER_MESSAGE__INIT;
            bm.body_case = FEDBUS__BROKER_MESSAGE__BODY_WELCOME;
            bm.welcome = &w;
            s_reply(&bm);
        } else if (nm->body_case == FEDBUS__NODE_MESSAGE__BODY_PUBLISH ||
                   nm->body_case == FEDBUS__NODE_MESSAGE__BODY_PUBLISH_BATCH) {
            const ProtobufCBinaryData *last =
                nm->body_case == FEDBUS__NODE_MESSAGE__BODY_PUBLISH
                    ? &nm->publish->envelope
                    : &nm->publish_batch->envelopes[nm->publish_batch->n_envelopes - 1];
            f->n = nm->body_case == FEDBUS__NODE_MESSAGE__BODY_PUBLISH
                       ? 1
                       : nm->publish_batch->n_envelopes;
            fb_envelope_head_t h;
            assert_int_equal(fb_wire_envelope_scan(last->data, last->len, &h), 0);
            assert_int_equal(h.message_id_len, 16);
            memcpy(f->last_id, h.message_id, 16);
            got = 1;
        }
        fedbus__node_message__free_unpacked(nm, NULL);
        if (got) return 0;
    }
}

/* Answers the frame f as a broker would: one Ack (a lone publish) or an
 * AckBatch, every publish ACCEPTED. Only f's last id is known here, so it
 * answers frames of one publish only. */
static void s_answer_single(const s_frame_t *f, uint64_t global_seq)
{
    assert_int_equal(f->n, 1);
    Fedbus__Ack a = FEDBUS__ACK__INIT;
    a.message_id.data = (uint8_t *)f->last_id;
    a.message_id.len = 16;
    a.status = FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED;
    a.global_seq = global_seq;
    Fedbus__BrokerMessage bm = FEDBUS__BROKER_MESSAGE__INIT;
    bm.body_case = FEDBUS__BROKER_MESSAGE__BODY_ACK;
    bm.ack = &a;
    s_reply(&bm);
}

/* Sends the n envelopes to the node as one PublishBatch frame. */
static void s_send_batch(ProtobufCBinaryData *envs, size_t n)
{
    Fedbus__PublishBatch pb = FEDBUS__PUBLISH_BATCH__INIT;
    pb.envelopes = envs;
    pb.n_envelopes = n;
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_PUBLISH_BATCH;
    nm.publish_batch = &pb;
    size_t len = fedbus__node_message__get_packed_size(&nm);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    fedbus__node_message__pack(&nm, buf);
    assert_int_equal(zmq_send(s_client, buf, len, 0), (int)len);
    free(buf);
}

/* Submits one event to the node, or a PublishBatch of n when n > 1. */
static void s_submit(size_t n)
{
    static int counter;
    if (n == 1) {
        char title[64];
        snprintf(title, sizeof(title), "Frame test %d", ++counter);
        size_t len;
        uint8_t *f =
            th_frame(th_event_json(S_MEMBER, "frames", title), S_MEMBER, 0, NULL, &len);
        assert_int_equal(zmq_send(s_client, f, len, 0), (int)len);
        free(f);
        return;
    }
    ProtobufCBinaryData *envs = calloc(n, sizeof(*envs));
    uint8_t **frames = calloc(n, sizeof(*frames));
    assert_non_null(envs);
    assert_non_null(frames);
    for (size_t i = 0; i < n; i++) {
        char title[64];
        snprintf(title, sizeof(title), "Frame test %d", ++counter);
        size_t len;
        frames[i] =
            th_frame(th_event_json(S_MEMBER, "frames", title), S_MEMBER, 0, NULL, &len);
        const uint8_t *env;
        size_t env_len;
        assert_int_equal(fb_wire_publish_view(frames[i], len, &env, &env_len), 0);
        envs[i] = (ProtobufCBinaryData){env_len, (uint8_t *)env};
    }
    s_send_batch(envs, n);
    for (size_t i = 0; i < n; i++)
        free(frames[i]);
    free(frames);
    free(envs);
}

/* Submits a PublishBatch of n events whose summaries are bytes long. */
static void s_submit_big(size_t n, size_t bytes)
{
    char *summary = malloc(bytes + 1);
    assert_non_null(summary);
    memset(summary, 'x', bytes);
    summary[bytes] = '\0';
    ProtobufCBinaryData *envs = calloc(n, sizeof(*envs));
    assert_non_null(envs);
    for (size_t i = 0; i < n; i++) {
        Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
        Fedbus__Event ev = FEDBUS__EVENT__INIT;
        Fedbus__Text title = FEDBUS__TEXT__INIT, sum = FEDBUS__TEXT__INIT;
        Fedbus__Timestamp starts = FEDBUS__TIMESTAMP__INIT;
        env.origin = S_MEMBER;
        env.topic = "event." S_MEMBER ".frames";
        env.schema_version = 1;
        env.created_at_us = fb_time_now_us();
        title.en = "A large frame test";
        sum.en = summary;
        starts.unix_us = 1789776000000000LL;
        ev.kind = FEDBUS__EVENT_KIND__EVENT_KIND_FORUM;
        ev.title = &title;
        ev.summary = &sum;
        ev.starts_at = &starts;
        env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_EVENT;
        env.event = &ev;
        envs[i].len = fedbus__envelope__get_packed_size(&env);
        envs[i].data = malloc(envs[i].len);
        assert_non_null(envs[i].data);
        fedbus__envelope__pack(&env, envs[i].data);
    }
    s_send_batch(envs, n);
    for (size_t i = 0; i < n; i++)
        free(envs[i].data);
    free(envs);
    free(summary);
}

/* Starts test k's scripted broker, then a node with inflight-frames set to
 * frames. */
static void s_start(int k, int frames)
{
    char ingest[64], submit[64], broker_arg[80], submit_arg[80];
    snprintf(ingest, sizeof(ingest), "tcp://127.0.0.1:%d", 22200 + k);
    snprintf(submit, sizeof(submit), "tcp://127.0.0.1:%d", 22210 + k);
    snprintf(broker_arg, sizeof(broker_arg), "--broker=%s", ingest);
    snprintf(submit_arg, sizeof(submit_arg), "--submit=%s", submit);
    s_broker = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_ROUTER, .endpoint = ingest, .bind = 1});
    assert_non_null(s_broker);
    zmq_msg_init(&s_peer);
    char inflight[64];
    snprintf(inflight, sizeof(inflight), "--inflight-frames=%d", frames);
    unlink("it-node-frames.log");
    /* A journal of its own, empty: what an earlier test's node held is not resent here. */
    th_rm_tree("it-node_frames");
    const char *argv[] = {FEDBUS_NODE_BIN,
                          "--member=" S_MEMBER,
                          broker_arg,
                          "--feed=tcp://127.0.0.1:22220",
                          "--replay=tcp://127.0.0.1:22221",
                          submit_arg,
                          "--http-port=0",
                          "--state-dir=it-node_frames/state/" S_MEMBER,
                          "--resend-ms=60000",
                          "--heartbeat-ms=60000",
                          inflight,
                          "--log-level=debug",
                          NULL};
    s_node = th_spawn(argv, "it-node-frames.log");
    s_client = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = submit});
    assert_non_null(s_client);
    /* The Hello is answered inside s_next_frame; a first publish shows the
     * node is welcomed and sending. */
}

static void s_stop(void)
{
    th_stop_pid(s_node, SIGKILL);
    zmq_close(s_client);
    zmq_msg_close(&s_peer);
    zmq_close(s_broker);
}

static void test_small_frames_take_up_to_twice_inflight_frames_and_no_more(void **state)
{
    (void)state;
    s_start(0, 2);
    s_frame_t f[5];
    /* Each publish goes as soon as it is submitted while a slot is free:
     * two slots, and two more since the four frames hold four publishes. */
    for (int i = 0; i < 4; i++) {
        s_submit(1);
        if (s_next_frame(10000, &f[i]) != 0)
            fail_msg("publish %d was not sent with %d frames unanswered", i + 1, i);
        assert_int_equal(f[i].n, 1);
    }
    s_submit(1);
    s_frame_t extra;
    if (s_next_frame(S_QUIET_MS, &extra) == 0)
        fail_msg("a fifth frame was sent with four unanswered (inflight-frames 2)");
    /* Answering the oldest frees a slot: the waiting publish goes. */
    s_answer_single(&f[0], 1);
    if (s_next_frame(10000, &f[4]) != 0)
        fail_msg("the waiting publish was not sent after an answer");
    assert_int_equal(f[4].n, 1);
    s_stop();
}

static void test_frames_holding_a_full_batch_take_only_inflight_frames(void **state)
{
    (void)state;
    s_start(1, 1);
    s_frame_t big, extra;
    s_submit(FB_BATCH_MAX); /* one frame of 1,024 publishes, unanswered */
    if (s_next_frame(10000, &big) != 0) fail_msg("the batch was not sent");
    assert_int_equal(big.n, FB_BATCH_MAX);
    s_submit(1);
    if (s_next_frame(S_QUIET_MS, &extra) == 0)
        fail_msg("a second frame was sent beside an unanswered frame of %d publishes "
                 "(inflight-frames 1)",
                 FB_BATCH_MAX);
    s_stop();
}

static void test_frames_of_large_envelopes_take_up_to_twice_inflight_frames(void **state)
{
    (void)state;
    s_start(3, 1);
    s_frame_t big, second, extra;
    /* One frame of ~600 KB holds 3 publishes, far fewer than a full frame's
     * 1,024: a second may go beside it, a third may not. */
    s_submit_big(3, 200000);
    if (s_next_frame(10000, &big) != 0) fail_msg("the batch was not sent");
    assert_int_equal(big.n, 3);
    s_submit_big(3, 200000);
    if (s_next_frame(10000, &second) != 0)
        fail_msg("a frame of 3 large publishes did not leave room for a second (inflight-frames 1)");
    assert_int_equal(second.n, 3);
    s_submit(1);
    if (s_next_frame(S_QUIET_MS, &extra) == 0)
        fail_msg("a third frame was sent with two unanswered (inflight-frames 1)");
    s_stop();
}

static void
test_one_small_frame_leaves_room_for_a_second_with_inflight_frames_1(void **state)
{
    (void)state;
    s_start(2, 1);
    s_frame_t a, b, extra;
    s_submit(1);
    if (s_next_frame(10000, &a) != 0) fail_msg("the first publish was not sent");
    s_submit(1);
    if (s_next_frame(10000, &b) != 0)
        fail_msg("a small frame did not leave room for a second one");
    s_submit(1);
    if (s_next_frame(S_QUIET_MS, &extra) == 0)
        fail_msg("a third frame was sent with two unanswered (inflight-frames 1)");
    s_stop();
}

/* Sends len raw bytes to the node, as the broker answers on its ROUTER. */
static void s_reply_raw(const uint8_t *buf, size_t len)
{
    zmq_msg_t to;
    zmq_msg_init(&to);
    zmq_msg_copy(&to, &s_peer);
    assert_true(zmq_msg_send(&to, s_broker, ZMQ_SNDMORE) >= 0);
    assert_int_equal(zmq_send(s_broker, buf, len, 0), (int)len);
}

/* The next frame the submitter gets, decoded: its acks (at most max) in
 * a[], their count returned; fails the test when none comes in timeout_ms. */
static size_t s_client_acks(int timeout_ms, Fedbus__BrokerMessage **bm, Fedbus__Ack **a, size_t max)
{
    zmq_pollitem_t it = {s_client, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) != 1) fail_msg("no answer reached the submitter (see it-node-frames.log)");
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, s_client, 0) >= 0);
    *bm = fedbus__broker_message__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    assert_non_null(*bm);
    if ((*bm)->body_case == FEDBUS__BROKER_MESSAGE__BODY_ACK) {
        a[0] = (*bm)->ack;
        return 1;
    }
    assert_int_equal((*bm)->body_case, FEDBUS__BROKER_MESSAGE__BODY_ACK_BATCH);
    size_t n = (*bm)->ack_batch->n_acks;
    assert_true(n <= max);
    for (size_t i = 0; i < n; i++) a[i] = (*bm)->ack_batch->acks[i];
    return n;
}

/* Fails unless the client's next answer is one ack alone: a malformed
 * publish refused, naming no message. */
static void s_expect_unnamed_reject(void)
{
    Fedbus__BrokerMessage *bm;
    Fedbus__Ack *a[4];
    assert_int_equal(s_client_acks(10000, &bm, a, 4), 1);
    assert_int_equal(a[0]->status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_int_equal(a[0]->reason, FEDBUS__REJECT_REASON__REJECT_MALFORMED);
    assert_int_equal(a[0]->message_id.len, 0);
    fedbus__broker_message__free_unpacked(bm, NULL);
}

/* An accepted Ack of id, as the broker writes it, into out; its length. */
static size_t s_put_ack(const uint8_t *id, uint64_t global_seq, uint8_t *out)
{
    fb_ack_view_t v = {.message_id = id, .message_id_len = 16,
                       .status = FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED, .global_seq = global_seq};
    return fb_wire_put_ack(&v, out);
}

static void test_batch_read_ahead_answers_each_envelope_in_order(void **state)
{
    (void)state;
    s_start(4, 2);
    /* A good envelope, bytes that are no protobuf, another good one, and
     * the first again (a retry within the batch: no second publish). */
    static const char x_id[] = "01900000-0000-7000-8000-0000000000a1", y_id[] = "01900000-0000-7000-8000-0000000000b2";
    uint8_t x[16], y[16];
    assert_int_equal(fb_uuid_parse(x_id, x), 0);
    assert_int_equal(fb_uuid_parse(y_id, y), 0);
    size_t xl, yl;
    uint8_t *xf = th_frame(th_event_json(S_MEMBER, "frames", "Read ahead x"), S_MEMBER, 0, x_id, &xl);
    uint8_t *yf = th_frame(th_event_json(S_MEMBER, "frames", "Read ahead y"), S_MEMBER, 0, y_id, &yl);
    const uint8_t *xe, *ye;
    size_t xel, yel;
    assert_int_equal(fb_wire_publish_view(xf, xl, &xe, &xel), 0);
    assert_int_equal(fb_wire_publish_view(yf, yl, &ye, &yel), 0);
    static uint8_t junk[] = {0x0a, 0x7f}; /* a field longer than the bytes left */
    ProtobufCBinaryData envs[4] = {{xel, (uint8_t *)xe}, {sizeof(junk), junk}, {yel, (uint8_t *)ye},
                                   {xel, (uint8_t *)xe}};
    s_send_batch(envs, 4);
    /* The bad one is refused at once, naming no message. */
    s_expect_unnamed_reject();
    /* One frame of two publishes: x, then y. */
    s_frame_t f;
    if (s_next_frame(10000, &f) != 0) fail_msg("the batch was not sent");
    assert_int_equal(f.n, 2);
    assert_memory_equal(f.last_id, y, 16);
    /* An AckBatch: x's ack, an ack that is no protobuf, y's ack. Acks are
     * read one ahead too: x is answered, and nothing after the bad one. */
    uint8_t acks[3][64], frame[256];
    size_t al[3] = {s_put_ack(x, 1, acks[0]), 0, s_put_ack(y, 2, acks[2])};
    acks[1][0] = 0x0a; /* a message_id longer than the bytes left */
    acks[1][1] = 0x7f;
    al[1] = 2;
    size_t items = 0;
    for (int i = 0; i < 3; i++) items += fb_wire_item_size(al[i]);
    uint8_t *p = frame + fb_wire_put_ack_batch_header(items, frame);
    for (int i = 0; i < 3; i++) p += fb_wire_put_item(acks[i], al[i], p);
    s_reply_raw(frame, (size_t)(p - frame));
    Fedbus__BrokerMessage *bm;
    Fedbus__Ack *a[4];
    assert_int_equal(s_client_acks(10000, &bm, a, 4), 1);
    assert_int_equal(a[0]->status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_int_equal(a[0]->message_id.len, 16);
    assert_memory_equal(a[0]->message_id.data, x, 16);
    fedbus__broker_message__free_unpacked(bm, NULL);
    zmq_pollitem_t it = {s_client, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, S_QUIET_MS) != 0) fail_msg("an ack after the bad one reached the submitter");
    /* y's own AckBatch answers it. */
    p = frame + fb_wire_put_ack_batch_header(fb_wire_item_size(al[2]), frame);
    p += fb_wire_put_item(acks[2], al[2], p);
    s_reply_raw(frame, (size_t)(p - frame));
    assert_int_equal(s_client_acks(10000, &bm, a, 4), 1);
    assert_int_equal(a[0]->status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_memory_equal(a[0]->message_id.data, y, 16);
    fedbus__broker_message__free_unpacked(bm, NULL);
    free(xf);
    free(yf);
    s_stop();
}

static void test_frames_read_ahead_are_each_taken_for_themselves_in_order(void **state)
{
    (void)state;
    s_start(5, 2);
    /* Sent back to back, so that the node reads each one ahead of taking
     * the one before: a publish in two frames (refused, its second frame
     * drained), a publish, a frame that is no NodeMessage, a publish. */
    static const char p_id[] = "01900000-0000-7000-8000-0000000000c3", q_id[] = "01900000-0000-7000-8000-0000000000d4";
    uint8_t q[16];
    assert_int_equal(fb_uuid_parse(q_id, q), 0);
    size_t pl, ql, ml;
    uint8_t *pf = th_frame(th_event_json(S_MEMBER, "frames", "Ahead p"), S_MEMBER, 0, p_id, &pl);
    uint8_t *qf = th_frame(th_event_json(S_MEMBER, "frames", "Ahead q"), S_MEMBER, 0, q_id, &ql);
    uint8_t *mf = th_frame(th_event_json(S_MEMBER, "frames", "Ahead m"), S_MEMBER, 0, NULL, &ml);
    static const uint8_t junk[] = {0xff, 0xff};
    assert_int_equal(zmq_send(s_client, mf, ml, ZMQ_SNDMORE), (int)ml);
    assert_int_equal(zmq_send(s_client, junk, sizeof(junk), 0), (int)sizeof(junk));
    assert_int_equal(zmq_send(s_client, pf, pl, 0), (int)pl);
    assert_int_equal(zmq_send(s_client, junk, sizeof(junk), 0), (int)sizeof(junk));
    assert_int_equal(zmq_send(s_client, qf, ql, 0), (int)ql);
    /* Two rejects, naming no message. */
    for (int i = 0; i < 2; i++) s_expect_unnamed_reject();
    /* p and q reach the broker, q last, and nothing else. */
    size_t got = 0;
    s_frame_t f;
    while (got < 2) {
        if (s_next_frame(10000, &f) != 0) fail_msg("%zu of the 2 publishes reached the broker", got);
        got += f.n;
    }
    assert_int_equal(got, 2);
    assert_memory_equal(f.last_id, q, 16);
    zmq_pollitem_t it = {s_client, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, S_QUIET_MS) != 0) fail_msg("a third answer reached the submitter");
    free(pf);
    free(qf);
    free(mf);
    s_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_frames_take_up_to_twice_inflight_frames_and_no_more),
        cmocka_unit_test(test_frames_holding_a_full_batch_take_only_inflight_frames),
        cmocka_unit_test(test_frames_of_large_envelopes_take_up_to_twice_inflight_frames),
        cmocka_unit_test(
            test_one_small_frame_leaves_room_for_a_second_with_inflight_frames_1),
        cmocka_unit_test(test_batch_read_ahead_answers_each_envelope_in_order),
        cmocka_unit_test(test_frames_read_ahead_are_each_taken_for_themselves_in_order),
    };
    return cmocka_run_group_tests_name("node frames", tests, NULL, NULL);
}
