/* fuzz_subscriber.c — what the broker sends a subscriber (feed frames, head frames, replay chunks), as fb_subscriber reads it.
 *
 * Each input is up to FZ_FRAMES_MAX frames (cut at FZ_SPLIT), each opening
 * with a channel byte:
 *   'F'  the rest is a frame the feed publishes (plain, batched, a head frame, anything);
 *   'R'  the rest is a ReplayChunk the replay socket answers each request with
 *        (its request_id is set to the request's), before a last empty done chunk;
 *   'S'  the rest is a pattern the subscriber adds (none: "*");
 *   'C'  the rest, in decimal, is where a catch-up starts (fb_subscriber_from);
 *   'V'  the subscriber is a live one without replay that verifies through
 *        it (fb_subscriber_verify_via): it takes the feed's seal frames
 *        (FB_WIRE_FEED_SEAL_MARK) and looks seals up on the replay socket.
 * A frame with another first byte is a feed frame whole. A new subscriber
 * (with replay, so that head frames make it repair gaps, unless 'V') then receives
 * until nothing more comes. What it delivers must match its patterns, in
 * rising global_seq, each once. */
#include "fuzz.h"

#include "fb_client_int.h"
#include "fb_wire.h"
#include "fedbus.pb-c.h"
#include "fedbus/fb_client.h"
#include "fedbus/fedbus.h"

#include <pthread.h>

#define S_FEED "inproc://fuzz-sub-feed"
#define S_REPLAY "inproc://fuzz-sub-replay"
#define S_PATTERNS 8

/* What the replay thread answers with, set for each input. */
static struct {
    pthread_mutex_t lock;
    const uint8_t *chunks[FZ_FRAMES_MAX];
    size_t lens[FZ_FRAMES_MAX];
    int n;
} s_replay = {PTHREAD_MUTEX_INITIALIZER, {0}, {0}, 0};

/* Sends chunk (len bytes) with request_id appended: protobuf takes the last. */
static void s_send_chunk(void *sock, const zmq_msg_t *ident, const uint8_t *chunk, size_t len, uint64_t request_id)
{
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_copy(&id, (zmq_msg_t *)ident);
    uint8_t tail[11];
    size_t tail_len = fb_wire_put_uint(1, request_id, tail); /* ReplayChunk.request_id */
    zmq_msg_init_size(&body, len + tail_len);
    if (len) memcpy(zmq_msg_data(&body), chunk, len);
    memcpy((uint8_t *)zmq_msg_data(&body) + len, tail, tail_len);
    if (fz_msg_send(&id, sock, ZMQ_SNDMORE) < 0) zmq_msg_close(&id);
    if (fz_msg_send(&body, sock, 0) < 0) zmq_msg_close(&body);
}

/* The broker's replay socket: every request is answered with the input's
 * chunks, then an empty chunk that says done. */
static void *s_replay_main(void *arg)
{
    void *sock = arg;
    for (;;) {
        zmq_msg_t ident, req;
        zmq_msg_init(&ident);
        zmq_msg_init(&req);
        if (fz_msg_recv(&ident, sock, 0) < 0 || fz_msg_recv(&req, sock, 0) < 0) {
            zmq_msg_close(&ident);
            zmq_msg_close(&req);
            continue;
        }
        Fedbus__ReplayRequest *r = fedbus__replay_request__unpack(NULL, zmq_msg_size(&req), zmq_msg_data(&req));
        FZ_CHECK(r != NULL, "the subscriber sent a request that is not a ReplayRequest");
        pthread_mutex_lock(&s_replay.lock);
        for (int i = 0; i < s_replay.n; i++) s_send_chunk(sock, &ident, s_replay.chunks[i], s_replay.lens[i], r->request_id);
        pthread_mutex_unlock(&s_replay.lock);
        uint8_t done[2] = {0x18, 1}; /* ReplayChunk.done = true */
        s_send_chunk(sock, &ident, done, sizeof(done), r->request_id);
        fedbus__replay_request__free_unpacked(r, NULL);
        zmq_msg_close(&ident);
        zmq_msg_close(&req);
    }
    return NULL;
}

static void *s_setup(void)
{
    fz_quiet();
    void *replay = fz_socket(ZMQ_ROUTER, S_REPLAY, 1);
    pthread_t t;
    FZ_CHECK(pthread_create(&t, NULL, s_replay_main, replay) == 0, "cannot start the replay thread");
    pthread_detach(t);
    return fz_socket(ZMQ_PUB, S_FEED, 1);
}

/* What the subscriber delivered so far in this input. */
typedef struct {
    const char *const *patterns;
    int npatterns;
    uint64_t last;
} s_seen_t;

/* One receive; checks what it delivered. Returns its result. */
static int s_receive_one(fb_subscriber_t *sub, s_seen_t *seen)
{
    fb_message_t msg;
    int rc = fb_subscriber_recv(sub, &msg, 0);
    if (rc != FB_OK && rc != FB_EVERIFY) return rc;
    FZ_CHECK((rc == FB_EVERIFY) == (fb_message_verified(&msg) == FB_MSG_FAILED), "a failed message not flagged");
    FZ_CHECK(msg.topic && msg.origin && msg.raw, "a delivered message without its fields");
    FZ_CHECK(msg.global_seq > seen->last, "delivered twice, or out of order");
    FZ_CHECK(fb_message_match(&msg, seen->patterns, seen->npatterns), "delivered a message its patterns do not match");
    seen->last = msg.global_seq;
    (void)fb_message_kind(&msg);
    return rc;
}

/* Receives until nothing more comes (a frame that does not read is
 * skipped: the next one may). */
static void s_receive(fb_subscriber_t *sub, s_seen_t *seen)
{
    for (int i = 0; i < 100000; i++) {
        int rc = s_receive_one(sub, seen);
        if (rc != FB_OK && rc != FB_EPROTO && rc != FB_EVERIFY) break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void *pub;
    if (!pub) pub = s_setup();
    fz_pace_sockets();
    fb_endpoint_opts_t feed = {.endpoint = S_FEED}, replay = {.endpoint = S_REPLAY};
    const uint8_t *p = data, *f;
    size_t n;
    int via = 0;
    for (int i = 0; i < FZ_FRAMES_MAX && fz_next(&p, data + size, &f, &n); i++)
        if (n && f[0] == 'V') via = 1;
    fb_subscriber_t *sub = fb_subscriber_open(&feed, via ? NULL : &replay);
    FZ_CHECK(sub != NULL, "cannot make a subscriber");
    FZ_CHECK(!via || fb_subscriber_verify_via(sub, &replay) == FB_OK, "cannot verify through replay");
    char *patterns[S_PATTERNS];
    int npatterns = 0;
    p = data;
    pthread_mutex_lock(&s_replay.lock);
    s_replay.n = 0;
    for (int i = 0; i < FZ_FRAMES_MAX && fz_next(&p, data + size, &f, &n); i++) {
        if (n && f[0] == 'R') {
            s_replay.chunks[s_replay.n] = f + 1;
            s_replay.lens[s_replay.n++] = n - 1;
        } else if (n && f[0] == 'S' && npatterns < S_PATTERNS) {
            char *pat = strndup((const char *)f + 1, n - 1);
            FZ_CHECK(pat != NULL, "out of memory");
            if (fb_subscriber_add(sub, pat) == FB_OK) patterns[npatterns++] = pat;
            else free(pat);
        } else if (n && f[0] == 'C') {
            char num[24];
            snprintf(num, sizeof(num), "%.*s", (int)(n - 1 < 23 ? n - 1 : 23), (const char *)f + 1);
            fb_subscriber_from(sub, strtoull(num, NULL, 10));
        }
    }
    pthread_mutex_unlock(&s_replay.lock);
    if (npatterns == 0) {
        patterns[npatterns] = strdup("*");
        FZ_CHECK(patterns[npatterns] && fb_subscriber_add(sub, patterns[npatterns]) == FB_OK, "cannot subscribe");
        npatterns++;
    }
    /* A catch-up asked for runs first, before anything is published. */
    s_seen_t seen = {(const char *const *)patterns, npatterns, 0};
    (void)s_receive_one(sub, &seen);
    p = data;
    for (int i = 0; i < FZ_FRAMES_MAX && fz_next(&p, data + size, &f, &n); i++) {
        if (n && (f[0] == 'R' || f[0] == 'S' || f[0] == 'C' || f[0] == 'V')) continue;
        if (n && f[0] == 'F') f++, n--;
        fz_send(pub, f, n, 0);
    }
    s_receive(sub, &seen);
    fb_subscriber_destroy(&sub);
    pthread_mutex_lock(&s_replay.lock);
    s_replay.n = 0;
    pthread_mutex_unlock(&s_replay.lock);
    for (int i = 0; i < npatterns; i++) free(patterns[i]);
    return 0;
}
