/* it_feed_batch.c — the broker's feed to plain and to batched subscribers (raw SUB
 * sockets): both get every stored message, byte for byte the same, in global_seq
 * order; batched frames hold runs of one topic within the documented limits; and the
 * broker builds plain frames only for topics a plain subscriber's prefix selects.
 *
 * Ports 22250-22252 and 22270-22272, clear of the other tests and of bench/run. */
#include "harness.h"

#include "fb_envelope.h"
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

#define S_N 400 /* publishes per test */
#define S_MAXSEQ 4096

typedef struct {
    uint8_t *bytes; /* the stored envelope as the feed carried it */
    size_t len;
} s_seen_t;

static int s_most_long; /* most long events seen in one batched frame */

static const char *s_origins[] = {"kr-daejeon", "kr-busan", "intl-example"};

/* The order of topics on the feed is the test's: the three origins publish
 * on one connection, which only a broker without keys takes. */
#define S_PLAIN "--insecure-plaintext"
static const char *s_categories[] = {"forum", "seminar", "workshop"};

static void *s_sub(th_t *t, const char *prefix, size_t len)
{
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_SUB, .endpoint = t->feed});
    assert_non_null(s);
    assert_int_equal(zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, len), 0);
    return s;
}

/* Sends one event of origin o, category c (origin_seq seq) on a raw DEALER;
 * category 2's titles are 300 bytes longer. */
static void s_send(void *dealer, int o, int c, uint64_t seq)
{
    char title[400];
    size_t len;
    snprintf(title, sizeof(title), "feed batch %llu %.*s", (unsigned long long)seq, c == 2 ? 300 : 0,
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    uint8_t *f = th_frame(th_event_json(s_origins[o], s_categories[c], title), s_origins[o], seq, NULL, &len);
    assert_true(zmq_send(dealer, f, len, 0) >= 0);
    free(f);
}

/* Reads one accepted ack; returns its global_seq. */
static uint64_t s_acked(void *dealer)
{
    th_ack_t a;
    assert_int_equal(th_read_ack(dealer, 10000, &a), 0);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    return a.global_seq;
}

/* Publishes one event and waits for its ack; returns its global_seq. */
static uint64_t s_publish(void *dealer, int o, int c, uint64_t seq)
{
    s_send(dealer, o, c, seq);
    return s_acked(dealer);
}

/* Sends S_N events at once (so that the broker's batches hold many), then
 * reads their acks; sets the lowest and highest global_seq given. Topics:
 * 100 long events of one topic (frames fill up by bytes), 100 short ones
 * of another (by count), then runs of 7 from the three origins. */
static void s_burst(void *dealer, uint64_t seqs[3], uint64_t *lo, uint64_t *hi)
{
    for (int i = 0; i < S_N; i++) {
        int o = i < 100 ? 0 : i < 200 ? 1 : (i / 7) % 3, c = i < 100 ? 2 : i < 200 ? 0 : (i / 50) % 2;
        s_send(dealer, o, c, ++seqs[o]);
    }
    *lo = UINT64_MAX;
    *hi = 0;
    for (int i = 0; i < S_N; i++) {
        uint64_t g = s_acked(dealer);
        if (g < *lo) *lo = g;
        if (g > *hi) *hi = g;
    }
    assert_int_equal(*hi - *lo + 1, S_N);
}

/* Reads one frame from sock within timeout_ms into a malloc'd buffer;
 * returns its size, or -1 on timeout. */
static int s_recv(void *sock, int timeout_ms, uint8_t **out)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) return -1;
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, sock, 0) >= 0);
    assert_false(zmq_msg_more(&m));
    int n = (int)zmq_msg_size(&m);
    *out = malloc((size_t)n + 1);
    assert_non_null(*out);
    memcpy(*out, zmq_msg_data(&m), (size_t)n);
    zmq_msg_close(&m);
    return n;
}

static void s_keep(s_seen_t *seen, uint64_t seq, const uint8_t *b, size_t len)
{
    assert_in_range(seq, 1, S_MAXSEQ - 1);
    assert_null(seen[seq].bytes); /* each message once */
    seen[seq].bytes = malloc(len);
    assert_non_null(seen[seq].bytes);
    memcpy(seen[seq].bytes, b, len);
    seen[seq].len = len;
}

/* Takes one plain frame (topic, NUL, stored envelope); returns its global_seq. */
static uint64_t s_take_plain(s_seen_t *seen, const uint8_t *f, size_t n)
{
    const uint8_t *nul = memchr(f, 0, n);
    assert_non_null(nul);
    assert_true(f[0] >= 'a' && f[0] <= 'z');
    fb_envelope_head_t h;
    const uint8_t *env = nul + 1;
    size_t len = n - (size_t)(env - f);
    assert_int_equal(fb_wire_envelope_scan(env, len, &h), 0);
    assert_int_equal(h.topic_len, (size_t)(nul - f));
    assert_memory_equal(h.topic, f, h.topic_len);
    s_keep(seen, h.global_seq, env, len);
    return h.global_seq;
}

/* Takes one batched frame (mark, topic, NUL, FeedBatch.envelopes), checking
 * its limits and that every envelope has the frame's topic and a global_seq
 * above *last; returns how many envelopes it held. */
static int s_take_batch(s_seen_t *seen, const uint8_t *f, size_t n, uint64_t *last)
{
    assert_int_equal(f[0], FB_FEED_MARK);
    const uint8_t *nul = memchr(f, 0, n);
    assert_non_null(nul);
    const uint8_t *topic = f + 1;
    size_t tlen = (size_t)(nul - topic);
    const uint8_t *p = nul + 1, *end = f + n, *env;
    size_t len, body = (size_t)(end - p);
    int count = 0, rc;
    while ((rc = fb_wire_next_item(&p, end, &env, &len)) == 1) {
        fb_envelope_head_t h;
        assert_int_equal(fb_wire_envelope_scan(env, len, &h), 0);
        assert_int_equal(h.topic_len, tlen);
        assert_memory_equal(h.topic, topic, tlen);
        assert_true(h.global_seq > *last);
        *last = h.global_seq;
        s_keep(seen, h.global_seq, env, len);
        count++;
    }
    assert_int_equal(rc, 0);
    assert_in_range(count, 1, FB_FEED_BATCH_MAX);
    if (count > 1) assert_true(body <= FB_FEED_BATCH_BYTES);
    if (tlen == strlen("event.kr-daejeon.workshop") && memcmp(topic, "event.kr-daejeon.workshop", tlen) == 0) {
        assert_true(count < FB_FEED_BATCH_MAX); /* long events: the bytes limit comes first */
        if (count > s_most_long) s_most_long = count;
    }
    return count;
}

static void s_free_seen(s_seen_t *seen)
{
    for (int i = 0; i < S_MAXSEQ; i++) free(seen[i].bytes);
    free(seen);
}

/* Publishes events of origin (origin_seq from *seq on) until every socket
 * in subs has received something (the subscriptions have reached the
 * broker); returns the last global_seq published then. Frames read
 * meanwhile are dropped. */
static uint64_t s_warm(void *dealer, void **subs, int nsubs, int origin, uint64_t *seq)
{
    uint64_t g = 0;
    for (int round = 0; round < 50; round++) {
        g = s_publish(dealer, origin, 0, ++*seq);
        int all = 1;
        for (int i = 0; i < nsubs; i++) {
            uint8_t *f;
            int got = 0;
            while (s_recv(subs[i], got ? 0 : 100, &f) >= 0) {
                got = 1;
                free(f);
            }
            all &= got;
        }
        if (all) break;
    }
    /* Whatever the warm-up left on its way is read and dropped. */
    for (int i = 0; i < nsubs; i++) {
        uint8_t *f;
        while (s_recv(subs[i], 200, &f) >= 0) free(f);
    }
    return g;
}

static void test_plain_and_batched_subscribers_get_the_same_bytes_in_order(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "feed_batch", 22250);
    /* Batches of the whole burst, however fast this machine is: a batch of
     * fewer than S_N waits up to 300 ms for more. The runs of one topic
     * then reach the feed frames' limits instead of a batch's end. */
    const char *linger[] = {"--commit-linger=300", "--commit-min=400", S_PLAIN, NULL};
    th_broker_start(&t, linger);
    void *plain = s_sub(&t, "event.", 6);
    const char marked[] = "\x01" "event.";
    void *batched = s_sub(&t, marked, sizeof(marked) - 1);
    void *dealer = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = t.ingest});
    assert_non_null(dealer);
    void *subs[] = {plain, batched};
    uint64_t seqs[3] = {0, 0, 0};
    uint64_t warm = s_warm(dealer, subs, 2, 0, &seqs[0]);

    /* Batched frames break at every change of topic. */
    uint64_t first, lastg;
    s_burst(dealer, seqs, &first, &lastg);
    assert_true(first > warm);

    s_seen_t *by_plain = calloc(S_MAXSEQ, sizeof(*by_plain));
    s_seen_t *by_batch = calloc(S_MAXSEQ, sizeof(*by_batch));
    assert_non_null(by_plain);
    assert_non_null(by_batch);
    uint64_t plast = warm, blast = warm;
    int pn = 0, bn = 0, frames = 0, most = 0;
    uint8_t *f;
    int n;
    while (pn < S_N && (n = s_recv(plain, 5000, &f)) >= 0) {
        uint64_t g = s_take_plain(by_plain, f, (size_t)n);
        assert_true(g > plast); /* global_seq order */
        plast = g;
        pn++;
        free(f);
    }
    while (bn < S_N && (n = s_recv(batched, 5000, &f)) >= 0) {
        int k = s_take_batch(by_batch, f, (size_t)n, &blast);
        if (k > most) most = k;
        bn += k;
        frames++;
        free(f);
    }
    assert_int_equal(pn, S_N);
    assert_int_equal(bn, S_N);
    /* Runs of one topic were batched, the 100 short events of one topic
     * up to the count limit. */
    assert_true(frames < S_N / 2);
    assert_int_equal(most, FB_FEED_BATCH_MAX);
    assert_true(s_most_long > 1);
    for (uint64_t g = first; g <= lastg; g++) {
        assert_non_null(by_plain[g].bytes);
        assert_non_null(by_batch[g].bytes);
        assert_int_equal(by_plain[g].len, by_batch[g].len);
        assert_memory_equal(by_plain[g].bytes, by_batch[g].bytes, by_plain[g].len);
    }
    s_free_seen(by_plain);
    s_free_seen(by_batch);
    zmq_close(dealer);
    zmq_close(plain);
    zmq_close(batched);
    th_cleanup(&t);
}

static void test_plain_frames_are_built_only_for_topics_a_plain_prefix_selects(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "feed_batch_only", 22270);
    th_broker_start(&t, (const char *const[]){S_PLAIN, NULL});
    const char marked[] = "\x01" "event.";
    void *batched = s_sub(&t, marked, sizeof(marked) - 1);
    /* The only plain subscriber follows one origin of three. */
    void *busan = s_sub(&t, "event.kr-busan.", 15);
    void *dealer = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = t.ingest});
    assert_non_null(dealer);
    void *subs[] = {batched, busan};
    uint64_t seqs[3] = {0, 0, 0}, lo, hi;
    s_warm(dealer, subs, 2, 1, &seqs[1]);
    /* The counters as they stand after the warm-up. */
    double plain0 = th_stat_fresh(&t, " feed_frames=");
    s_burst(dealer, seqs, &lo, &hi);
    int want = 0; /* kr-busan's events in the burst (s_burst's origins) */
    for (int i = 0; i < S_N; i++) want += (i < 100 ? 0 : i < 200 ? 1 : (i / 7) % 3) == 1;
    int got = 0, plain = 0;
    uint8_t *f;
    int n;
    uint64_t last = 0;
    s_seen_t *seen = calloc(S_MAXSEQ, sizeof(*seen)), *seen_plain = calloc(S_MAXSEQ, sizeof(*seen));
    assert_non_null(seen);
    assert_non_null(seen_plain);
    while (got < S_N && (n = s_recv(batched, 5000, &f)) >= 0) {
        got += s_take_batch(seen, f, (size_t)n, &last);
        free(f);
    }
    while (plain < want && (n = s_recv(busan, 5000, &f)) >= 0) {
        uint64_t g = s_take_plain(seen_plain, f, (size_t)n);
        assert_int_equal(memcmp(f, "event.kr-busan.", 15), 0);
        assert_in_range(g, lo, hi);
        plain++;
        free(f);
    }
    assert_int_equal(got, S_N);
    assert_int_equal(plain, want);
    s_free_seen(seen);
    s_free_seen(seen_plain);
    /* The broker logs its final counters as it exits: it built a plain
     * frame for each kr-busan event, and for nothing else. */
    th_broker_stop(&t, SIGTERM);
    assert_int_equal((long long)(th_stat(&t, " feed_frames=") - plain0), want);
    assert_true(th_stat(&t, " feed_batches=") > 0);
    zmq_close(dealer);
    zmq_close(batched);
    zmq_close(busan);
    th_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_batched_subscribers_get_the_same_bytes_in_order),
        cmocka_unit_test(test_plain_frames_are_built_only_for_topics_a_plain_prefix_selects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
