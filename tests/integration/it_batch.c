/* it_batch.c — PublishBatch frames against a real broker and PostgreSQL: one AckBatch per frame with one
 * ack per envelope in order, rejects that stop no other envelope, duplicates across and within batches,
 * whole-frame refusals that store nothing; and a real node that turns a burst of single publishes into few
 * batch frames, each publish acked once and stored once in origin_seq order. */
#include "harness.h"

#include "fb_crypto.h"
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

#define S_ORIGIN "intl-batch"
#define S_PROBE "intl-probe" /* the origin of s_expect_nothing_more()'s publishes */
#define S_BIG_BATCH 1024 /* FB_BATCH_MAX, the documented limit, spelled out: the test checks the code */

/* Ports 22000-22169, clear of the other tests (21000-21952) and of bench/run
 * (17701-17703, 18001 up): each group's broker at +0..+2 of its base (22000,
 * 22050, 22100, 22130, 22150), its node's submit socket at +10. */
static th_t s_t;
static void *s_sock;         /* raw DEALER on the broker's ingest */
static uint64_t s_seq = 1;   /* S_ORIGIN's next origin_seq */

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "batch", 22000);
    /* The default, spelled out: the size tests below are built around it.
     * In plaintext: these tests pin the batch frame as the protocol has it
     * without keys, where one connection may carry several origins (the
     * probe of s_expect_nothing_more() is another origin on the same
     * connection, so that its ack orders after everything before it). */
    const char *extra[] = {"--max-frame=1048576", "--insecure-plaintext", NULL};
    th_broker_start(&s_t, extra);
    s_sock = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, S_ORIGIN);
    return s_sock ? 0 : -1;
}

/* A broker whose small batches wait S_LINGER_MS for more, and whose batches
 * of 3 publishes or more are committed at once. */
#define S_LINGER_MS 2000
static int s_linger_setup(void **state)
{
    (void)state;
    th_init(&s_t, "linger", 22150);
    const char *extra[] = {"--commit-linger=2000", "--commit-min=3", NULL};
    th_broker_start(&s_t, extra);
    s_sock = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, S_ORIGIN);
    return s_sock ? 0 : -1;
}

/* A broker that lets a small batch follow the one before only
 * S_INTERVAL_MS after it, and commits batches of 3 publishes or more at
 * once. */
#define S_INTERVAL_MS 1000
static int s_interval_setup(void **state)
{
    (void)state;
    th_init(&s_t, "interval", 22130);
    const char *extra[] = {"--commit-interval=1000000", "--commit-min=3", NULL};
    th_broker_start(&s_t, extra);
    s_sock = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, S_ORIGIN);
    return s_sock ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    if (s_sock) zmq_close(s_sock);
    s_sock = NULL;
    th_cleanup(&s_t);
    return 0;
}

/* ------------------------------------------------------------ envelopes --- */

/* One envelope of S_ORIGIN as a publisher serialises it. */
typedef struct {
    uint8_t id[16];
    char id_text[37];
    uint64_t origin_seq;
    uint8_t *data;
    size_t len;
} s_env_t;

/* Builds a good event envelope titled title under topic
 * event.S_ORIGIN.category (a caller may make either bad), with origin_seq
 * and id (a fresh one when id is NULL). */
static void s_build(s_env_t *e, const char *category, const char *title, uint64_t origin_seq,
                    const uint8_t *id)
{
    Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
    Fedbus__Event ev = FEDBUS__EVENT__INIT;
    Fedbus__Text t = FEDBUS__TEXT__INIT;
    Fedbus__Timestamp starts = FEDBUS__TIMESTAMP__INIT;
    char topic[128];
    snprintf(topic, sizeof(topic), "event.%s.%s", S_ORIGIN, category);
    if (id) memcpy(e->id, id, 16);
    else assert_int_equal(fb_uuid_v7(fb_time_now_us(), e->id), 0);
    fb_uuid_format(e->id, e->id_text);
    e->origin_seq = origin_seq;
    env.message_id.data = e->id;
    env.message_id.len = 16;
    env.origin = S_ORIGIN;
    env.topic = topic;
    env.created_at_us = fb_time_now_us();
    env.schema_version = 1;
    env.origin_seq = origin_seq;
    t.en = (char *)title; /* protobuf-c packs the bytes as given, valid UTF-8 or not */
    starts.unix_us = 1789776000000000LL;
    starts.utc_offset_min = 540;
    ev.kind = FEDBUS__EVENT_KIND__EVENT_KIND_FORUM;
    ev.title = &t;
    ev.starts_at = &starts;
    env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_EVENT;
    env.event = &ev;
    e->len = fedbus__envelope__get_packed_size(&env);
    e->data = malloc(e->len);
    assert_non_null(e->data);
    fedbus__envelope__pack(&env, e->data);
}

/* The same with S_ORIGIN's next origin_seq and a fresh id. */
static void s_make(s_env_t *e, const char *category, const char *title)
{
    s_build(e, category, title, s_seq++, NULL);
}

static void s_free(s_env_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++) free(e[i].data);
}

/* ---------------------------------------------------------------- frames --- */

/* Packs NodeMessage{publish_batch{envelopes}} with protobuf-c, as any
 * client would; caller frees. */
static uint8_t *s_batch_frame(const s_env_t *e, size_t n, size_t *len)
{
    ProtobufCBinaryData *bins = calloc(n ? n : 1, sizeof(*bins));
    assert_non_null(bins);
    for (size_t i = 0; i < n; i++) bins[i] = (ProtobufCBinaryData){e[i].len, e[i].data};
    Fedbus__PublishBatch pb = FEDBUS__PUBLISH_BATCH__INIT;
    pb.envelopes = bins;
    pb.n_envelopes = n;
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_PUBLISH_BATCH;
    nm.publish_batch = &pb;
    *len = fedbus__node_message__get_packed_size(&nm);
    uint8_t *f = malloc(*len + 16); /* room for what a test appends */
    assert_non_null(f);
    fedbus__node_message__pack(&nm, f);
    free(bins);
    return f;
}

static void s_send(const void *frame, size_t len)
{
    assert_int_equal(zmq_send(s_sock, frame, len, 0), (int)len);
}

/* The next reply frame from the broker, decoded; fails the test after
 * timeout_ms without one. */
static Fedbus__BrokerMessage *s_reply(int timeout_ms)
{
    zmq_pollitem_t it = {s_sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) != 1) fail_msg("no reply within %d ms", timeout_ms);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, s_sock, 0) >= 0);
    Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    if (!bm) fail_msg("reply is not a BrokerMessage");
    return bm;
}

/* Reads the answer to a batch: exactly one AckBatch frame of n acks. */
static Fedbus__BrokerMessage *s_ack_batch(size_t n)
{
    Fedbus__BrokerMessage *bm = s_reply(10000);
    if (bm->body_case != FEDBUS__BROKER_MESSAGE__BODY_ACK_BATCH)
        fail_msg("answer to a batch is body %d, not an AckBatch", bm->body_case);
    assert_int_equal(bm->ack_batch->n_acks, n);
    return bm;
}

/* Reads the answer to a frame refused whole: one plain Ack, REJECTED with
 * reason and no message_id. */
static void s_expect_whole_reject(int reason)
{
    Fedbus__BrokerMessage *bm = s_reply(10000);
    if (bm->body_case != FEDBUS__BROKER_MESSAGE__BODY_ACK)
        fail_msg("answer to a refused frame is body %d, not an Ack", bm->body_case);
    if (bm->ack->status != FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED || (int)bm->ack->reason != reason)
        fail_msg("answer is status %d (%s: %s, global_seq %llu), want REJECTED %s", bm->ack->status,
                 fb_reject_name(bm->ack->reason), bm->ack->detail, (unsigned long long)bm->ack->global_seq,
                 fb_reject_name(reason));
    assert_int_equal(bm->ack->message_id.len, 0);
    assert_int_equal(bm->ack->global_seq, 0);
    assert_true(bm->ack->detail && bm->ack->detail[0]);
    fedbus__broker_message__free_unpacked(bm, NULL);
}

/* Asserts that nothing but what was read answered the frames sent so far,
 * and that whatever they left for the store is settled: a single publish of
 * another origin is committed after everything read before it, and its ack
 * follows every ack of the batches before it — so its ack must be the very
 * next frame. */
static void s_expect_nothing_more(void)
{
    static uint64_t probe_seq = 1;
    Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
    Fedbus__Event ev = FEDBUS__EVENT__INIT;
    Fedbus__Text t = FEDBUS__TEXT__INIT;
    Fedbus__Timestamp starts = FEDBUS__TIMESTAMP__INIT;
    uint8_t id[16];
    assert_int_equal(fb_uuid_v7(fb_time_now_us(), id), 0);
    env.message_id.data = id;
    env.message_id.len = 16;
    env.origin = S_PROBE;
    env.topic = "event." S_PROBE ".probe";
    env.created_at_us = fb_time_now_us();
    env.schema_version = 1;
    env.origin_seq = probe_seq++;
    t.en = "probe";
    starts.unix_us = 1789776000000000LL;
    ev.kind = FEDBUS__EVENT_KIND__EVENT_KIND_OTHER;
    ev.title = &t;
    ev.starts_at = &starts;
    env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_EVENT;
    env.event = &ev;
    size_t len;
    uint8_t *f = fb_envelope_publish_frame(&env, &len);
    assert_non_null(f);
    s_send(f, len);
    free(f);
    Fedbus__BrokerMessage *bm = s_reply(10000);
    if (bm->body_case != FEDBUS__BROKER_MESSAGE__BODY_ACK || bm->ack->message_id.len != 16 ||
        memcmp(bm->ack->message_id.data, id, 16) != 0)
        fail_msg("an extra frame (body %d) came before the probe's ack", bm->body_case);
    assert_int_equal(bm->ack->status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    fedbus__broker_message__free_unpacked(bm, NULL);
}

static void s_assert_acks_id(const Fedbus__Ack *a, const s_env_t *e)
{
    assert_int_equal(a->message_id.len, 16);
    assert_memory_equal(a->message_id.data, e->id, 16);
}

static void s_assert_accepted(const Fedbus__Ack *a, const s_env_t *e)
{
    if (a->status != FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED)
        fail_msg("status %d (%s: %s), want ACCEPTED", a->status, fb_reject_name(a->reason), a->detail);
    s_assert_acks_id(a, e);
    assert_int_equal(a->origin_seq, e->origin_seq);
    assert_true(a->global_seq > 0);
    assert_int_equal(a->reason, FEDBUS__REJECT_REASON__REJECT_NONE);
}

static void s_assert_rejected(const Fedbus__Ack *a, int reason)
{
    assert_int_equal(a->status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    if ((int)a->reason != reason) fail_msg("reason %s (%s), want %s", fb_reject_name(a->reason), a->detail,
                                      fb_reject_name(reason));
    assert_int_equal(a->global_seq, 0);
    assert_true(a->detail && a->detail[0]);
}

/* Rows of S_ORIGIN: what the tests published, not the probes. */
static long long s_rows(void)
{
    return th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = '" S_ORIGIN "'");
}

static long long s_rows_with_id(const s_env_t *e)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM fedbus_messages WHERE message_id = '%s'", e->id_text);
    return th_sql_int(&s_t, sql);
}

/* Sends the n envelopes as one batch; returns its AckBatch (caller frees). */
static Fedbus__BrokerMessage *s_publish_batch(const s_env_t *e, size_t n)
{
    size_t len;
    uint8_t *f = s_batch_frame(e, n, &len);
    s_send(f, len);
    free(f);
    return s_ack_batch(n);
}

/* ----------------------------------------------------------------- tests --- */

static void test_batch_of_three_is_answered_by_one_ack_batch_in_order(void **state)
{
    (void)state;
    s_env_t e[3];
    for (int i = 0; i < 3; i++) s_make(&e[i], "forum", "Technopolis forum");
    long long before = s_rows();
    Fedbus__BrokerMessage *bm = s_publish_batch(e, 3);
    Fedbus__Ack **a = bm->ack_batch->acks;
    for (int i = 0; i < 3; i++) s_assert_accepted(a[i], &e[i]);
    /* stored in the batch's order: consecutive numbers */
    assert_int_equal(a[1]->global_seq, a[0]->global_seq + 1);
    assert_int_equal(a[2]->global_seq, a[0]->global_seq + 2);
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before + 3);
    for (int i = 0; i < 3; i++) {
        char sql[200];
        snprintf(sql, sizeof(sql), "SELECT global_seq FROM fedbus_messages WHERE message_id = '%s'",
                 e[i].id_text);
        assert_int_equal(th_sql_int(&s_t, sql), a[i]->global_seq);
    }
    fedbus__broker_message__free_unpacked(bm, NULL);
    s_free(e, 3);
}

static void test_batch_of_one_is_answered_by_an_ack_batch(void **state)
{
    (void)state;
    s_env_t e;
    s_make(&e, "forum", "A forum alone");
    Fedbus__BrokerMessage *bm = s_publish_batch(&e, 1);
    s_assert_accepted(bm->ack_batch->acks[0], &e);
    s_expect_nothing_more();
    assert_int_equal(s_rows_with_id(&e), 1);
    fedbus__broker_message__free_unpacked(bm, NULL);
    s_free(&e, 1);
}

static void test_refused_envelope_in_a_batch_stops_none_of_the_others(void **state)
{
    (void)state;
    s_env_t e[3];
    s_make(&e[0], "forum", "Before the bad one");
    s_make(&e[1], "for_um", "Bad topic"); /* '_' is outside the topic grammar */
    s_make(&e[2], "forum", "After the bad one");
    long long before = s_rows();
    Fedbus__BrokerMessage *bm = s_publish_batch(e, 3);
    Fedbus__Ack **a = bm->ack_batch->acks;
    s_assert_accepted(a[0], &e[0]);
    s_assert_rejected(a[1], FEDBUS__REJECT_REASON__REJECT_BAD_TOPIC);
    s_assert_acks_id(a[1], &e[1]); /* the reject names the envelope it refuses */
    assert_int_equal(a[1]->origin_seq, 0);
    s_assert_accepted(a[2], &e[2]);
    assert_int_equal(a[2]->global_seq, a[0]->global_seq + 1); /* a reject takes no number */
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before + 2);
    assert_int_equal(s_rows_with_id(&e[1]), 0);
    fedbus__broker_message__free_unpacked(bm, NULL);
    s_free(e, 3);
}

static void test_refused_envelope_is_named_only_when_it_decoded(void **state)
{
    (void)state;
    s_env_t e[3];
    s_make(&e[0], "forum", "Busan \xc3\x28 forum"); /* invalid UTF-8: decodes, then is refused */
    s_make(&e[1], "forum", "Between two refused ones");
    s_make(&e[2], "forum", "Replaced by junk");
    static uint8_t junk[] = {0x0a, 0xff, 0x01}; /* not an envelope at all */
    free(e[2].data);
    e[2].data = malloc(sizeof(junk));
    memcpy(e[2].data, junk, sizeof(junk));
    e[2].len = sizeof(junk);
    long long before = s_rows();
    Fedbus__BrokerMessage *bm = s_publish_batch(e, 3);
    Fedbus__Ack **a = bm->ack_batch->acks;
    s_assert_rejected(a[0], FEDBUS__REJECT_REASON__REJECT_INVALID_UTF8);
    s_assert_acks_id(a[0], &e[0]);
    s_assert_accepted(a[1], &e[1]);
    s_assert_rejected(a[2], FEDBUS__REJECT_REASON__REJECT_MALFORMED);
    assert_int_equal(a[2]->message_id.len, 0); /* never decoded: no id to name */
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before + 1);
    fedbus__broker_message__free_unpacked(bm, NULL);
    s_free(e, 3);
}

static void test_batch_whose_every_envelope_is_refused_is_still_answered(void **state)
{
    (void)state;
    s_env_t e[2];
    s_make(&e[0], "for_um", "Bad topic");
    s_build(&e[1], "forum", "No sequence", 0, NULL); /* decodes, but cannot be sequenced */
    long long before = s_rows();
    Fedbus__BrokerMessage *bm = s_publish_batch(e, 2);
    Fedbus__Ack **a = bm->ack_batch->acks;
    s_assert_rejected(a[0], FEDBUS__REJECT_REASON__REJECT_BAD_TOPIC);
    s_assert_acks_id(a[0], &e[0]);
    s_assert_rejected(a[1], FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD);
    s_assert_acks_id(a[1], &e[1]);
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before);
    fedbus__broker_message__free_unpacked(bm, NULL);
    s_free(e, 2);
}

static void test_batch_resent_is_answered_duplicate_with_the_original_seqs(void **state)
{
    (void)state;
    s_env_t e[3];
    for (int i = 0; i < 3; i++) s_make(&e[i], "seminar", "Resent seminar");
    Fedbus__BrokerMessage *first = s_publish_batch(e, 3);
    for (int i = 0; i < 3; i++) s_assert_accepted(first->ack_batch->acks[i], &e[i]);
    long long before = s_rows();
    /* The very same bytes again, as a publisher resends after a timeout. */
    Fedbus__BrokerMessage *again = s_publish_batch(e, 3);
    for (int i = 0; i < 3; i++) {
        const Fedbus__Ack *a = again->ack_batch->acks[i];
        assert_int_equal(a->status, FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE);
        s_assert_acks_id(a, &e[i]);
        assert_int_equal(a->global_seq, first->ack_batch->acks[i]->global_seq);
        assert_int_equal(a->origin_seq, e[i].origin_seq);
        assert_string_equal(a->detail, "stored before");
    }
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before);
    fedbus__broker_message__free_unpacked(first, NULL);
    fedbus__broker_message__free_unpacked(again, NULL);
    s_free(e, 3);
}

static void test_same_message_twice_in_one_batch_is_a_duplicate_of_the_first(void **state)
{
    (void)state;
    s_env_t e;
    s_make(&e, "forum", "Twice in one frame");
    s_env_t twice[2] = {e, e};
    long long before = s_rows();
    Fedbus__BrokerMessage *bm = s_publish_batch(twice, 2);
    Fedbus__Ack **a = bm->ack_batch->acks;
    s_assert_accepted(a[0], &e);
    assert_int_equal(a[1]->status, FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE);
    s_assert_acks_id(a[1], &e);
    assert_int_equal(a[1]->global_seq, a[0]->global_seq);
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before + 1);
    fedbus__broker_message__free_unpacked(bm, NULL);
    s_free(&e, 1);
}

static void test_same_id_with_other_content_in_one_batch_is_id_reused(void **state)
{
    (void)state;
    s_env_t e[2];
    s_make(&e[0], "forum", "The original");
    s_build(&e[1], "forum", "Another message under the same id", s_seq++, e[0].id);
    long long before = s_rows();
    Fedbus__BrokerMessage *bm = s_publish_batch(e, 2);
    Fedbus__Ack **a = bm->ack_batch->acks;
    s_assert_accepted(a[0], &e[0]);
    s_assert_rejected(a[1], FEDBUS__REJECT_REASON__REJECT_ID_REUSED);
    s_assert_acks_id(a[1], &e[0]);
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before + 1);
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT origin_seq FROM fedbus_messages WHERE message_id = '%s'", e[0].id_text);
    assert_int_equal(th_sql_int(&s_t, sql), e[0].origin_seq); /* the first one is what was kept */
    fedbus__broker_message__free_unpacked(bm, NULL);
    s_free(e, 2);
}

static void test_envelopes_of_an_origin_out_of_order_in_a_batch_are_stale(void **state)
{
    (void)state;
    s_env_t e[2];
    uint64_t first = s_seq;
    s_seq += 2;
    s_build(&e[0], "forum", "The later one, first", first + 1, NULL);
    s_build(&e[1], "forum", "The earlier one, second", first, NULL);
    long long before = s_rows();
    Fedbus__BrokerMessage *bm = s_publish_batch(e, 2);
    Fedbus__Ack **a = bm->ack_batch->acks;
    s_assert_accepted(a[0], &e[0]);
    /* judged in the frame's order: by then the origin's head is above it */
    s_assert_rejected(a[1], FEDBUS__REJECT_REASON__REJECT_STALE_SEQUENCE);
    s_assert_acks_id(a[1], &e[1]);
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before + 1);
    assert_int_equal(s_rows_with_id(&e[1]), 0);
    fedbus__broker_message__free_unpacked(bm, NULL);
    s_free(e, 2);
}

static void test_batch_of_1024_envelopes_is_accepted_whole(void **state)
{
    (void)state;
    s_env_t *e = calloc(S_BIG_BATCH, sizeof(*e));
    for (int i = 0; i < S_BIG_BATCH; i++) s_make(&e[i], "workshop", "One of a thousand and twenty-four");
    long long before = s_rows();
    Fedbus__BrokerMessage *bm = s_publish_batch(e, S_BIG_BATCH);
    Fedbus__Ack **a = bm->ack_batch->acks;
    for (int i = 0; i < S_BIG_BATCH; i++) {
        s_assert_accepted(a[i], &e[i]);
        assert_int_equal(a[i]->global_seq, a[0]->global_seq + (uint64_t)i);
    }
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before + S_BIG_BATCH);
    fedbus__broker_message__free_unpacked(bm, NULL);
    s_free(e, S_BIG_BATCH);
    free(e);
}

static void test_batch_of_1025_envelopes_is_refused_whole(void **state)
{
    (void)state;
    s_env_t *e = calloc(S_BIG_BATCH + 1, sizeof(*e));
    for (int i = 0; i < S_BIG_BATCH + 1; i++) s_make(&e[i], "workshop", "One too many");
    long long before = s_rows();
    size_t len;
    uint8_t *f = s_batch_frame(e, S_BIG_BATCH + 1, &len);
    assert_true(len < 1048576); /* within max-frame: refused for its count alone */
    s_send(f, len);
    s_expect_whole_reject(FEDBUS__REJECT_REASON__REJECT_MALFORMED);
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before);
    free(f);
    s_free(e, S_BIG_BATCH + 1);
    free(e);
}

static void test_empty_batch_is_refused_whole(void **state)
{
    (void)state;
    long long before = s_rows();
    size_t len;
    uint8_t *f = s_batch_frame(NULL, 0, &len);
    uint8_t want[16];
    size_t want_len = fb_wire_put_publish_batch_header(0, want); /* NodeMessage{publish_batch{}} */
    assert_int_equal(len, want_len);
    assert_memory_equal(f, want, want_len);
    s_send(f, len);
    s_expect_whole_reject(FEDBUS__REJECT_REASON__REJECT_MALFORMED);
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before);
    free(f);
}

static void test_batch_with_a_truncated_length_is_refused_whole(void **state)
{
    (void)state;
    s_env_t e;
    s_make(&e, "forum", "Good, but in a broken batch");
    /* PublishBatch = the good envelope, then an envelope field whose length
     * (100) runs past the end; the outer length is right, so only the batch
     * inside is broken. */
    assert_true(e.len < 128);
    uint8_t items[256], f[256], *p = items;
    p += fb_wire_put_item(e.data, e.len, p);
    p += fb_wire_put_item_header(100, p), *p++ = 'x';
    size_t inner = (size_t)(p - items);
    p = f + fb_wire_put_publish_batch_header(inner, f);
    memcpy(p, items, inner), p += inner;
    long long before = s_rows();
    s_send(f, (size_t)(p - f));
    s_expect_whole_reject(FEDBUS__REJECT_REASON__REJECT_MALFORMED);
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before);
    assert_int_equal(s_rows_with_id(&e), 0); /* the good envelope went with its frame */
    s_free(&e, 1);
}

static void test_batch_frame_with_other_fields_is_refused_whole(void **state)
{
    (void)state;
    s_env_t e;
    s_make(&e, "forum", "Good, but in a frame with more");
    size_t blen;
    uint8_t *batch = s_batch_frame(&e, 1, &blen);
    /* the batch then an unknown field (a varint); a Hello{} then the
     * batch; the batch twice */
    uint8_t unknown[16], hello[16];
    Fedbus__Hello h = FEDBUS__HELLO__INIT;
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HELLO;
    nm.hello = &h;
    size_t unknown_len = fb_wire_put_unknown_field(1, unknown);
    size_t hello_len = fedbus__node_message__pack(&nm, hello);
    struct {
        const uint8_t *before, *after;
        size_t before_len, after_len;
    } shapes[] = {
        {NULL, unknown, 0, unknown_len},
        {hello, NULL, hello_len, 0},
        {NULL, batch, 0, blen},
    };
    long long before = s_rows();
    for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
        uint8_t *f = malloc(2 * blen + 4), *p = f;
        if (shapes[k].before) memcpy(p, shapes[k].before, shapes[k].before_len), p += shapes[k].before_len;
        memcpy(p, batch, blen), p += blen;
        if (shapes[k].after) memcpy(p, shapes[k].after, shapes[k].after_len), p += shapes[k].after_len;
        s_send(f, (size_t)(p - f));
        s_expect_whole_reject(FEDBUS__REJECT_REASON__REJECT_MALFORMED);
        free(f);
    }
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before);
    free(batch);
    s_free(&e, 1);
}

static void test_batch_frame_followed_by_a_publish_is_refused_whole(void **state)
{
    (void)state;
    s_env_t e[2];
    s_make(&e[0], "forum", "In the batch");
    s_make(&e[1], "forum", "In the publish after the batch");
    size_t blen, plen;
    uint8_t *batch = s_batch_frame(&e[0], 1, &blen);
    uint8_t *publish = fb_wire_publish_wrap(e[1].data, e[1].len, NULL, 0, &plen);
    uint8_t *f = malloc(blen + plen);
    memcpy(f, batch, blen);
    memcpy(f + blen, publish, plen);
    long long before = s_rows();
    s_send(f, blen + plen);
    s_expect_whole_reject(FEDBUS__REJECT_REASON__REJECT_MALFORMED);
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before);
    free(f);
    free(publish);
    free(batch);
    s_free(e, 2);
}

static void test_batch_frame_over_max_frame_is_refused_whole(void **state)
{
    (void)state;
    /* Ten envelopes of ~110 KB: each fits max-frame (1 MiB), the ten do not. */
    enum { N = 10 };
    char *title = malloc(110000);
    memset(title, 'x', 109999);
    title[109999] = '\0';
    s_env_t e[N];
    for (int i = 0; i < N; i++) s_make(&e[i], "exhibition", title);
    long long before = s_rows();
    size_t len;
    uint8_t *f = s_batch_frame(e, N, &len);
    assert_true(len > 1048576 && len < 4 * 1048576); /* answered, not dropped by the transport */
    s_send(f, len);
    s_expect_whole_reject(FEDBUS__REJECT_REASON__REJECT_FRAME_TOO_LARGE);
    s_expect_nothing_more();
    assert_int_equal(s_rows(), before);
    free(f);
    free(title);
    s_free(e, N);
}

static void test_broker_still_accepts_a_single_publish_after_all_that(void **state)
{
    (void)state;
    s_env_t e;
    s_make(&e, "forum", "A single publish at the end");
    long long head = th_sql_int(&s_t, "SELECT max(global_seq) FROM fedbus_messages");
    size_t len;
    uint8_t *f = fb_wire_publish_wrap(e.data, e.len, NULL, 0, &len);
    s_send(f, len);
    Fedbus__BrokerMessage *bm = s_reply(10000);
    assert_int_equal(bm->body_case, FEDBUS__BROKER_MESSAGE__BODY_ACK); /* a single publish, a single ack */
    s_assert_accepted(bm->ack, &e);
    assert_int_equal(bm->ack->global_seq, head + 1);
    /* Nothing the refusals did left a hole in the sequence. */
    assert_int_equal(th_sql_int(&s_t, "SELECT max(global_seq) - count(*) FROM fedbus_messages"), 0);
    fedbus__broker_message__free_unpacked(bm, NULL);
    free(f);
    s_free(&e, 1);
}

/* -------------------------------------------------------- commit-linger --- */

/* Sends n envelopes as one batch frame and returns how long the AckBatch
 * took, in ms; every envelope must be accepted. */
static double s_timed_batch(size_t n)
{
    s_env_t e[4];
    assert_true(n <= 4);
    for (size_t i = 0; i < n; i++) s_make(&e[i], "forum", "Lingering batch");
    int64_t t0 = fb_time_mono_us();
    Fedbus__BrokerMessage *bm = s_publish_batch(e, n);
    double ms = (double)(fb_time_mono_us() - t0) / 1000.0;
    for (size_t i = 0; i < n; i++) s_assert_accepted(bm->ack_batch->acks[i], &e[i]);
    fedbus__broker_message__free_unpacked(bm, NULL);
    s_free(e, n);
    return ms;
}

static void test_batch_below_commit_min_waits_commit_linger(void **state)
{
    (void)state;
    double ms = s_timed_batch(1);
    /* The broker read the frame after it was sent, and held it S_LINGER_MS from then. */
    if (ms < S_LINGER_MS - 5)
        fail_msg("a lone publish was acked after %.1f ms, before the %d ms linger", ms, S_LINGER_MS);
}

static void test_batch_of_commit_min_is_committed_without_lingering(void **state)
{
    (void)state;
    double ms = s_timed_batch(3);
    if (ms >= S_LINGER_MS / 2) fail_msg("a batch of commit-min publishes was acked after %.1f ms: it lingered", ms);
}

/* Sends one publish, lets the broker read it into its filling batch (where
 * it is held back), stops the broker, and checks that the stop stored and
 * acked it within limit_ms rather than waiting out what held it. */
static void s_held_publish_survives_the_stop(const char *summary, int wait_ms, int limit_ms, const char *held)
{
    s_env_t e;
    s_make(&e, "forum", summary);
    size_t len;
    uint8_t *f = s_batch_frame(&e, 1, &len);
    s_send(f, len);
    free(f);
    zmq_poll(NULL, 0, wait_ms);
    int64_t t0 = fb_time_mono_us();
    assert_int_equal(th_broker_stop(&s_t, SIGTERM), 0);
    double ms = (double)(fb_time_mono_us() - t0) / 1000.0;
    assert_int_equal(s_rows_with_id(&e), 1);
    if (ms >= limit_ms) fail_msg("stopping took %.1f ms: the %s batch held the stop", ms, held);
    Fedbus__BrokerMessage *bm = s_ack_batch(1);
    s_assert_accepted(bm->ack_batch->acks[0], &e);
    fedbus__broker_message__free_unpacked(bm, NULL);
    s_free(&e, 1);
}

static void test_lingering_publish_is_committed_when_the_broker_stops(void **state)
{
    (void)state;
    s_held_publish_survives_the_stop("Published just before the broker stops", 300, S_LINGER_MS / 2, "lingering");
}

/* ------------------------------------------------------ commit-interval --- */

static void test_small_batch_goes_at_once_and_the_next_waits_commit_interval(void **state)
{
    (void)state;
    /* Nothing went to the writer for a while (the broker just started, or
     * the test before waited out its interval): the first goes at once. */
    zmq_poll(NULL, 0, S_INTERVAL_MS);
    int64_t t0 = fb_time_mono_us();
    double first = s_timed_batch(1);
    if (first >= S_INTERVAL_MS / 2)
        fail_msg("a lone publish after a quiet second was acked after %.1f ms: it was paced", first);
    s_timed_batch(1);
    double both = (double)(fb_time_mono_us() - t0) / 1000.0;
    /* The second was handed over S_INTERVAL_MS after the first, which went
     * after t0. */
    if (both < S_INTERVAL_MS - 5)
        fail_msg("the second small batch was acked %.1f ms after the first was sent, within the %d ms interval",
                 both, S_INTERVAL_MS);
}

static void test_batch_of_commit_min_is_not_paced(void **state)
{
    (void)state;
    s_timed_batch(1); /* a hand-off just now */
    double ms = s_timed_batch(3);
    if (ms >= S_INTERVAL_MS / 2) fail_msg("a batch of commit-min publishes was acked after %.1f ms: it was paced", ms);
}

static void test_paced_publish_is_committed_when_the_broker_stops(void **state)
{
    (void)state;
    s_timed_batch(1); /* a hand-off just now: the next small batch is paced */
    s_held_publish_survives_the_stop("Paced, then the broker stops", 200, S_INTERVAL_MS / 2, "paced");
}

/* ------------------------------------------------------ through a node --- */

#define S_BURST 3000
#define S_MEMBER "kr-daejeon"

static th_t s_n;     /* the broker of the node groups */
static pid_t s_node;
static char s_submit[64];

/* A fresh database, a broker (with extra flags) and a node of S_MEMBER. */
static void s_start_node(const char *name, int port_base, const char *const *broker_extra)
{
    th_init(&s_n, name, port_base);
    th_broker_start(&s_n, broker_extra);
    snprintf(s_submit, sizeof(s_submit), "tcp://127.0.0.1:%d", s_n.port_base + 10);
    char b[100], s[100], log[128], dir[200], d[220];
    snprintf(b, sizeof(b), "--broker=%s", s_n.ingest);
    snprintf(s, sizeof(s), "--submit=%s", s_submit);
    snprintf(d, sizeof(d), "--state-dir=%s", th_state_dir(&s_n, S_MEMBER, dir, sizeof(dir)));
    snprintf(log, sizeof(log), "it-%s-node.log", s_n.name);
    unlink(log); /* the log of this run only */
    /* A resend timer far beyond the bursts' round trips: a resend goes as
     * a frame of its own and would blur the frame counts checked here. */
    char keys[300], bkey[300];
    snprintf(keys, sizeof(keys), "--keys=%s", th_member(&s_n, S_MEMBER)->file);
    snprintf(bkey, sizeof(bkey), "--broker-key=%s", s_n.broker_keys.pub_file);
    const char *argv[] = {FEDBUS_NODE_BIN, "--member=" S_MEMBER, b, s, d, "--resend-ms=20000",
                          "--log-level=debug", keys, bkey, NULL};
    s_node = th_spawn(argv, log);
}

static int s_node_setup(void **state)
{
    (void)state;
    s_start_node("batchnode", 22050, NULL);
    return 0;
}

static int s_small_setup(void **state)
{
    (void)state;
    const char *extra[] = {"--max-frame=65536", NULL};
    s_start_node("batchsmall", 22100, extra);
    return 0;
}

static int s_node_teardown(void **state)
{
    (void)state;
    th_stop_pid(s_node, SIGTERM);
    th_cleanup(&s_n);
    return 0;
}

/* Message ids of a burst: one UUIDv7, with the publish's index in its last
 * four bytes, so that an ack says which publish it answers. */
static uint8_t s_base_id[16];

static void s_burst_id(uint32_t i, uint8_t id[16])
{
    memcpy(id, s_base_id, 16);
    id[12] = (uint8_t)(i >> 24), id[13] = (uint8_t)(i >> 16), id[14] = (uint8_t)(i >> 8), id[15] = (uint8_t)i;
}

/* Submits n single publishes to the node at once, as an agency's import
 * would (all of them in flight), each titled with its index and padded to
 * pad bytes of title; returns the submitting DEALER. */
static void *s_submit_burst(uint32_t n, size_t pad)
{
    /* High-water marks above the burst: nothing waits on this side. */
    void *sock = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_submit,
                                              .sndhwm = (int)(2 * n), .rcvhwm = (int)(2 * n)});
    assert_non_null(sock);
    assert_int_equal(fb_uuid_v7(fb_time_now_us(), s_base_id), 0);
    char *title = malloc(pad + 48);
    assert_non_null(title);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t id[16];
        char id_text[37];
        s_burst_id(i, id);
        fb_uuid_format(id, id_text);
        int k = snprintf(title, 48, "Daedeok seminar %u ", i);
        memset(title + k, 'x', pad);
        title[(size_t)k + pad] = '\0';
        /* th_event_json's buffer holds 1 KiB: build the JSON here */
        size_t jcap = pad + 256;
        char *json = malloc(jcap);
        assert_non_null(json);
        snprintf(json, jcap,
                 "{\"topic\":\"event.%s.seminar\",\"event\":{\"kind\":\"seminar\",\"title\":{\"en\":\"%s\"},"
                 "\"starts_at\":\"2026-05-20T14:00:00+09:00\"}}",
                 S_MEMBER, title);
        size_t len;
        /* origin_seq 0 is left out: the node numbers the publishes itself. */
        uint8_t *f = th_frame(json, S_MEMBER, 0, id_text, &len);
        assert_int_equal(zmq_send(sock, f, len, 0), (int)len);
        free(f);
        free(json);
    }
    free(title);
    return sock;
}

/* Waits until deadline for the next frame on sock and decodes it as a
 * BrokerMessage (caller frees); fails the test on a timeout, naming what
 * was awaited (got of want). */
static Fedbus__BrokerMessage *s_next_reply(void *sock, int64_t deadline, uint32_t got, uint32_t want)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    long left = (long)((deadline - fb_time_mono_us()) / 1000);
    if (left <= 0 || zmq_poll(&it, 1, left) != 1) fail_msg("%u of %u acks in time", got, want);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, sock, 0) >= 0);
    Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    assert_non_null(bm);
    return bm;
}

/* The burst index an ack names (the last four bytes of its message_id),
 * after checking the id is one of this burst's. */
static uint32_t s_burst_index(const Fedbus__Ack *a)
{
    assert_int_equal(a->message_id.len, 16);
    assert_memory_equal(a->message_id.data, s_base_id, 12);
    return (uint32_t)a->message_id.data[12] << 24 | (uint32_t)a->message_id.data[13] << 16 |
           (uint32_t)a->message_id.data[14] << 8 | a->message_id.data[15];
}

/* Reads the burst's n acks from sock: one plain Ack per publish, ACCEPTED,
 * each the first and only one for it, numbered in submission order. */
static void s_expect_burst_acked(void *sock, uint32_t n)
{
    uint8_t *seen = calloc(n, 1);
    assert_non_null(seen);
    int64_t deadline = fb_time_mono_us() + 15 * 1000000LL;
    for (uint32_t got = 0; got < n; got++) {
        Fedbus__BrokerMessage *bm = s_next_reply(sock, deadline, got, n);
        if (bm->body_case != FEDBUS__BROKER_MESSAGE__BODY_ACK)
            fail_msg("the node answered a submitter with body %d, not an Ack", bm->body_case);
        const Fedbus__Ack *a = bm->ack;
        if (a->status != FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED)
            fail_msg("status %d (%s: %s), want ACCEPTED", a->status, fb_reject_name(a->reason), a->detail);
        uint32_t i = s_burst_index(a);
        assert_in_range(i, 0, n - 1);
        if (seen[i]++) fail_msg("publish %u acked twice", i);
        assert_int_equal(a->origin_seq, i + 1); /* a fresh origin: the node numbers from 1 */
        fedbus__broker_message__free_unpacked(bm, NULL);
    }
    free(seen);
    /* Anything but a publish is answered at once: a stray ack queued for
     * this submitter would come before this answer. */
    Fedbus__Hello h = FEDBUS__HELLO__INIT;
    h.origin = S_MEMBER;
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HELLO;
    nm.hello = &h;
    uint8_t buf[64];
    assert_true(zmq_send(sock, buf, fedbus__node_message__pack(&nm, buf), 0) > 0);
    th_ack_t marker;
    assert_int_equal(th_read_ack(sock, 10000, &marker), 0);
    assert_int_equal(marker.reason, FEDBUS__REJECT_REASON__REJECT_UNKNOWN_REQUEST);
}

/* The broker's counters as its last stats line gives them. */
typedef struct {
    unsigned long long frames, accepted, duplicates, rejected, batches;
} s_stats_t;

/* Stops the broker, which logs its final counters as it exits, and reads them. */
static s_stats_t s_final_stats(void)
{
    th_broker_stop(&s_n, SIGTERM);
    s_stats_t st;
    unsigned long long *fields[] = {&st.frames, &st.accepted, &st.duplicates, &st.rejected, &st.batches};
    const char *names[] = {" frames=", " accepted=", " duplicates=", " rejected=", " batches="};
    for (int i = 0; i < 5; i++) *fields[i] = (unsigned long long)th_stat(&s_n, names[i]);
    return st;
}

static void test_burst_through_a_node_is_acked_once_each_in_order(void **state)
{
    (void)state;
    void *sock = s_submit_burst(S_BURST, 0);
    s_expect_burst_acked(sock, S_BURST);
    zmq_close(sock);
}

static void test_burst_through_a_node_is_stored_once_each_in_origin_seq_order(void **state)
{
    (void)state;
    assert_int_equal(th_sql_int(&s_n, "SELECT count(*) FROM fedbus_messages WHERE origin = '" S_MEMBER "'"),
                     S_BURST);
    assert_int_equal(th_sql_int(&s_n, "SELECT count(DISTINCT message_id) FROM fedbus_messages"), S_BURST);
    /* in global_seq order, origin_seq steps by one from 1 */
    assert_int_equal(th_sql_int(&s_n, "SELECT min(origin_seq) FROM fedbus_messages"), 1);
    assert_int_equal(th_sql_int(&s_n, "SELECT count(*) FROM (SELECT origin_seq - lag(origin_seq) OVER "
                                      "(ORDER BY global_seq) AS step FROM fedbus_messages) s WHERE step <> 1"),
                     0);
    /* and the row of publish i (i is in the id's last 8 hex digits) holds origin_seq i + 1 */
    assert_int_equal(th_sql_int(&s_n, "SELECT count(*) FROM fedbus_messages WHERE origin_seq <> 1 + "
                                      "('x' || right(replace(message_id::text, '-', ''), 8))::bit(32)::int"),
                     0);
}

static void test_burst_through_a_node_takes_fewer_frames_than_publishes(void **state)
{
    (void)state;
    s_stats_t st = s_final_stats();
    assert_int_equal(st.accepted, S_BURST);
    assert_int_equal(st.duplicates, 0); /* nothing was sent twice */
    /* Hellos and heartbeats are frames too: one frame per publish would
     * count more than S_BURST. */
    if (st.frames >= S_BURST) fail_msg("%llu frames carried %d publishes: no batching", st.frames, S_BURST);
}

static void test_node_keeps_each_batch_within_the_brokers_max_frame(void **state)
{
    (void)state;
    /* 40 publishes of ~10 KB against a broker taking 64 KiB frames: the
     * node learns the limit from the Welcome and splits its batches. */
    enum { N = 40, PAD = 10000 };
    void *sock = s_submit_burst(N, PAD);
    s_expect_burst_acked(sock, N);
    zmq_close(sock);
    s_stats_t st = s_final_stats();
    assert_int_equal(st.accepted, N);
    assert_int_equal(st.rejected, 0); /* no frame was refused FRAME_TOO_LARGE */
    assert_true(st.frames >= 1 + (N * PAD) / 65536); /* a Hello, and at least this many frames of publishes */
}

static int s_submit_setup(void **state)
{
    (void)state;
    s_start_node("batchsub", 22150, NULL);
    return 0;
}

/* A submitter may hand the node a PublishBatch: the node takes its
 * envelopes in order and answers them in AckBatch frames, one Ack per
 * envelope, in the order submitted. */
static void test_batch_submitted_to_a_node_is_answered_in_ack_batches_in_order(void **state)
{
    (void)state;
    enum { N = 300, PER = 100 };
    void *sock = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_submit,
                                              .sndhwm = 4 * N, .rcvhwm = 4 * N});
    assert_non_null(sock);
    assert_int_equal(fb_uuid_v7(fb_time_now_us(), s_base_id), 0);
    for (uint32_t f = 0; f < N / PER; f++) {
        uint8_t *items = NULL;
        size_t len = 0;
        for (uint32_t i = f * PER; i < (f + 1) * PER; i++) {
            uint8_t id[16];
            char id_text[37], title[48];
            s_burst_id(i, id);
            fb_uuid_format(id, id_text);
            snprintf(title, sizeof(title), "batched seminar %u", i);
            size_t flen;
            uint8_t *frame = th_frame(th_event_json(S_MEMBER, "seminar", title), S_MEMBER, 0, id_text, &flen);
            const uint8_t *env;
            size_t env_len;
            assert_int_equal(fb_wire_publish_view(frame, flen, &env, &env_len), 0);
            items = realloc(items, len + fb_wire_item_size(env_len));
            assert_non_null(items);
            len += fb_wire_put_item(env, env_len, items + len);
            free(frame);
        }
        uint8_t *frame = malloc(len + 16);
        assert_non_null(frame);
        size_t h = fb_wire_put_publish_batch_header(len, frame);
        memcpy(frame + h, items, len);
        assert_int_equal(zmq_send(sock, frame, h + len, 0), (int)(h + len));
        free(frame);
        free(items);
    }
    uint32_t next = 0, frames = 0;
    uint64_t last_seq = 0;
    int64_t deadline = fb_time_mono_us() + 15 * 1000000LL;
    while (next < N) {
        Fedbus__BrokerMessage *bm = s_next_reply(sock, deadline, next, N);
        if (bm->body_case != FEDBUS__BROKER_MESSAGE__BODY_ACK_BATCH)
            fail_msg("the node answered a batch submitter with body %d, not an AckBatch", bm->body_case);
        frames++;
        for (size_t k = 0; k < bm->ack_batch->n_acks; k++) {
            const Fedbus__Ack *a = bm->ack_batch->acks[k];
            assert_int_equal(a->status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
            assert_int_equal(s_burst_index(a), next); /* in the order submitted */
            assert_true(a->global_seq > last_seq);
            last_seq = a->global_seq;
            next++;
        }
        fedbus__broker_message__free_unpacked(bm, NULL);
    }
    assert_true(frames < N); /* many acks per frame */
    assert_int_equal(th_sql_int(&s_n, "SELECT count(*) FROM fedbus_messages"), N);

    /* A batch that is not one is refused whole, with one plain ack. */
    uint8_t empty[16];
    size_t empty_len = fb_wire_put_publish_batch_header(0, empty);
    assert_int_equal(zmq_send(sock, empty, empty_len, 0), (int)empty_len);
    th_ack_t a;
    assert_int_equal(th_read_ack(sock, 10000, &a), 0);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_MALFORMED);
    zmq_close(sock);
}

/* The client library's batch call: many messages, one round trip; each
 * gets its own verdict — stored, refused by the broker, or bad JSON and
 * never sent — in the order given. */
static void test_publisher_batch_call_answers_each_message_in_order(void **state)
{
    (void)state;
    enum { N = 50, BAD_JSON = 7, BAD_TOPIC = 21 };
    fb_publisher_t *pub = fb_publisher_new(s_submit);
    assert_non_null(pub);
    char *texts[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        char title[32];
        snprintf(title, sizeof(title), "many %d", i);
        const char *json = i == BAD_JSON ? "{\"topic\": " : th_event_json(S_MEMBER, "seminar", title);
        texts[i] = strdup(json);
        if (i == BAD_TOPIC) memcpy(strstr(texts[i], "event."), "event..", 7); /* outside the grammar */
        lens[i] = strlen(texts[i]);
    }
    long long before = th_sql_int(&s_n, "SELECT count(*) FROM fedbus_messages");
    fb_ack_t acks[N];
    int rcs[N];
    int rc = fb_publisher_send_json_many(pub, (const char *const *)texts, lens, N, acks, rcs, 15000);
    assert_int_equal(rc, FB_EINVAL); /* the first one that is not FB_OK, in order */
    uint64_t last = 0;
    for (int i = 0; i < N; i++) {
        if (i == BAD_JSON) {
            assert_int_equal(rcs[i], FB_EINVAL);
            assert_true(acks[i].detail[0] != '\0');
        } else if (i == BAD_TOPIC) {
            assert_int_equal(rcs[i], FB_EREJECTED);
            assert_string_equal(acks[i].reason_name, "BAD_TOPIC");
        } else {
            if (rcs[i] != FB_OK) fail_msg("message %d: %s: %s", i, fb_strerror(rcs[i]), acks[i].detail);
            assert_int_equal(acks[i].status, FB_ACK_ACCEPTED);
            assert_true(acks[i].global_seq > last); /* stored in the order given */
            last = acks[i].global_seq;
            assert_int_equal(strlen(acks[i].message_id), 36);
        }
        free(texts[i]);
    }
    assert_int_equal(th_sql_int(&s_n, "SELECT count(*) FROM fedbus_messages"), before + N - 2);
    fb_publisher_destroy(&pub);
}

int main(void)
{
    const struct CMUnitTest broker[] = {
        cmocka_unit_test(test_batch_of_three_is_answered_by_one_ack_batch_in_order),
        cmocka_unit_test(test_batch_of_one_is_answered_by_an_ack_batch),
        cmocka_unit_test(test_refused_envelope_in_a_batch_stops_none_of_the_others),
        cmocka_unit_test(test_refused_envelope_is_named_only_when_it_decoded),
        cmocka_unit_test(test_batch_whose_every_envelope_is_refused_is_still_answered),
        cmocka_unit_test(test_batch_resent_is_answered_duplicate_with_the_original_seqs),
        cmocka_unit_test(test_same_message_twice_in_one_batch_is_a_duplicate_of_the_first),
        cmocka_unit_test(test_same_id_with_other_content_in_one_batch_is_id_reused),
        cmocka_unit_test(test_envelopes_of_an_origin_out_of_order_in_a_batch_are_stale),
        cmocka_unit_test(test_batch_of_1024_envelopes_is_accepted_whole),
        cmocka_unit_test(test_batch_of_1025_envelopes_is_refused_whole),
        cmocka_unit_test(test_empty_batch_is_refused_whole),
        cmocka_unit_test(test_batch_with_a_truncated_length_is_refused_whole),
        cmocka_unit_test(test_batch_frame_with_other_fields_is_refused_whole),
        cmocka_unit_test(test_batch_frame_followed_by_a_publish_is_refused_whole),
        cmocka_unit_test(test_batch_frame_over_max_frame_is_refused_whole),
        cmocka_unit_test(test_broker_still_accepts_a_single_publish_after_all_that),
    };
    const struct CMUnitTest linger[] = {
        cmocka_unit_test(test_batch_below_commit_min_waits_commit_linger),
        cmocka_unit_test(test_batch_of_commit_min_is_committed_without_lingering),
        cmocka_unit_test(test_lingering_publish_is_committed_when_the_broker_stops),
    };
    const struct CMUnitTest interval[] = {
        cmocka_unit_test(test_small_batch_goes_at_once_and_the_next_waits_commit_interval),
        cmocka_unit_test(test_batch_of_commit_min_is_not_paced),
        cmocka_unit_test(test_paced_publish_is_committed_when_the_broker_stops),
    };
    const struct CMUnitTest node[] = {
        cmocka_unit_test(test_burst_through_a_node_is_acked_once_each_in_order),
        cmocka_unit_test(test_burst_through_a_node_is_stored_once_each_in_origin_seq_order),
        cmocka_unit_test(test_burst_through_a_node_takes_fewer_frames_than_publishes),
    };
    const struct CMUnitTest submit[] = {
        cmocka_unit_test(test_batch_submitted_to_a_node_is_answered_in_ack_batches_in_order),
        cmocka_unit_test(test_publisher_batch_call_answers_each_message_in_order),
    };
    const struct CMUnitTest small[] = {
        cmocka_unit_test(test_node_keeps_each_batch_within_the_brokers_max_frame),
    };
    int failed = cmocka_run_group_tests_name("broker", broker, s_setup, s_teardown);
    failed += cmocka_run_group_tests_name("broker, commit-linger", linger, s_linger_setup, s_teardown);
    failed += cmocka_run_group_tests_name("broker, commit-interval", interval, s_interval_setup, s_teardown);
    failed += cmocka_run_group_tests_name("node", node, s_node_setup, s_node_teardown);
    failed += cmocka_run_group_tests_name("node, batch submits", submit, s_submit_setup, s_node_teardown);
    failed += cmocka_run_group_tests_name("node, small max-frame", small, s_small_setup, s_node_teardown);
    return failed;
}
