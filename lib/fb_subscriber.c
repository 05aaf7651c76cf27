/* fb_subscriber.c — live messages from the broker's feed, after a catch-up from stored history.
 *
 * A SUB socket on the feed, subscribed to the patterns' prefixes. Catch-up
 * replays history page by page into a queue that is delivered first; live
 * messages wait in the SUB queue meanwhile, and those catch-up delivered
 * already are skipped by global_seq, so that there are no duplicates or
 * holes between the two. Delivered messages are read in place from the
 * frame (or the replayed blob) that holds them. */
#include "fb_client_int.h"
#include "fb_envelope.h"
#include "fb_time.h"
#include "fb_zmq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_CATCHUP_PAGE 4096 /* stored messages fetched per catch-up step */

typedef struct {
    uint8_t *data;
    size_t len;
} s_blob_t;

struct fb_subscriber {
    void *sock;
    fb_endpoint_opts_t *replay; /* owned copy; NULL: no catch-up */
    char **patterns;
    int npatterns;
    int catchup;          /* history still to be fetched */
    uint64_t from_seq;
    uint64_t last_seq;    /* highest global_seq delivered */
    s_blob_t *queue;      /* replayed history waiting for delivery */
    size_t qlen, qcap, qhead;
    uint8_t *held;        /* replayed blob behind the last delivered message */
    fb_arena_t *arena;    /* the last delivered message's fields and decode; reset for each */
    zmq_msg_t frame;
    int frame_live;
    /* Batched feed frames (docs/protocol.md, "Feed"): until the first one
     * comes, the plain prefixes are subscribed too, for a broker that
     * sends no batches; after it, they are unsubscribed (the SUB socket
     * then drops the plain frames still queued, as matching nothing). While
     * bp < bend, frame is a batch not yet delivered whole. */
    int batched;
    char **plain;
    int nplain;
    const uint8_t *bp, *bend;
};

fb_subscriber_t *fb_subscriber_open(const fb_endpoint_opts_t *feed, const fb_endpoint_opts_t *replay)
{
    if (replay && fb_endpoint_check(replay) != 0) return NULL;
    fb_subscriber_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->sock = fb_endpoint_open(feed, ZMQ_SUB, 100000, 0);
    if (!self->sock || !(self->arena = fb_arena_new(64 << 10, 64 << 10))) goto error;
    if (replay && !(self->replay = fb_endpoint_dup(replay))) goto error;
    return self;
error:;
    int e = errno;
    fb_subscriber_destroy(&self);
    errno = e;
    return NULL;
}

fb_subscriber_t *fb_subscriber_new(const char *feed_endpoint, const char *replay_endpoint)
{
    fb_endpoint_opts_t feed = {.endpoint = feed_endpoint}, replay = {.endpoint = replay_endpoint};
    return fb_subscriber_open(&feed, replay_endpoint ? &replay : NULL);
}

static void s_queue_clear(fb_subscriber_t *self)
{
    for (size_t i = self->qhead; i < self->qlen; i++) free(self->queue[i].data);
    self->qhead = self->qlen = 0;
    free(self->held);
    self->held = NULL;
}

void fb_subscriber_destroy(fb_subscriber_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_subscriber_t *self = *self_p;
    if (self->sock) zmq_close(self->sock);
    for (int i = 0; i < self->npatterns; i++) free(self->patterns[i]);
    free(self->patterns);
    s_queue_clear(self);
    free(self->queue);
    fb_arena_destroy(&self->arena);
    if (self->frame_live) zmq_msg_close(&self->frame);
    for (int i = 0; i < self->nplain; i++) free(self->plain[i]);
    free(self->plain);
    free(self->replay);
    free(self);
    *self_p = NULL;
}

int fb_subscriber_add(fb_subscriber_t *self, const char *pattern)
{
    char prefixes[FB_PATTERN_MAX_PREFIXES][FB_TOPIC_MAX + 1];
    int n = fb_pattern_prefixes(pattern, prefixes, FB_PATTERN_MAX_PREFIXES);
    if (n < 0) return FB_EINVAL;
    char **p = realloc(self->patterns, sizeof(char *) * (size_t)(self->npatterns + 1));
    if (!p) return FB_ENOMEM;
    self->patterns = p;
    if (!(p[self->npatterns] = strdup(pattern))) return FB_ENOMEM;
    self->npatterns++;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(prefixes[i]);
        char marked[FB_TOPIC_MAX + 2];
        marked[0] = FB_FEED_MARK;
        memcpy(marked + 1, prefixes[i], len);
        if (zmq_setsockopt(self->sock, ZMQ_SUBSCRIBE, marked, len + 1) != 0) return FB_EIO;
        if (self->batched) continue;
        char **pl = realloc(self->plain, sizeof(char *) * (size_t)(self->nplain + 1));
        if (!pl) return FB_ENOMEM;
        self->plain = pl;
        if (!(pl[self->nplain] = strdup(prefixes[i]))) return FB_ENOMEM;
        self->nplain++;
        if (zmq_setsockopt(self->sock, ZMQ_SUBSCRIBE, prefixes[i], len) != 0) return FB_EIO;
    }
    return FB_OK;
}

/* The broker sends batched frames: from now on only they are read, and the
 * plain subscriptions go (the broker then stops building plain frames for
 * this subscriber). */
static void s_go_batched(fb_subscriber_t *self)
{
    self->batched = 1;
    for (int i = 0; i < self->nplain; i++) {
        zmq_setsockopt(self->sock, ZMQ_UNSUBSCRIBE, self->plain[i], strlen(self->plain[i]));
        free(self->plain[i]);
    }
    free(self->plain);
    self->plain = NULL;
    self->nplain = 0;
}

int fb_subscriber_from(fb_subscriber_t *self, uint64_t from_seq)
{
    if (!self->replay) return FB_EINVAL;
    self->catchup = 1;
    self->from_seq = from_seq;
    return FB_OK;
}

static int s_enqueue(const fb_message_t *msg, void *arg)
{
    fb_subscriber_t *self = arg;
    if (self->qlen == self->qcap) {
        size_t cap = self->qcap ? self->qcap * 2 : 256;
        s_blob_t *q = realloc(self->queue, cap * sizeof(*q));
        if (!q) return -1;
        self->queue = q;
        self->qcap = cap;
    }
    s_blob_t *b = &self->queue[self->qlen];
    if (!(b->data = malloc(msg->raw_len))) return -1;
    memcpy(b->data, msg->raw, msg->raw_len);
    b->len = msg->raw_len;
    self->qlen++;
    return 0;
}

/* Closes the frame last received, batch or not. */
static void s_frame_done(fb_subscriber_t *self)
{
    if (self->frame_live) zmq_msg_close(&self->frame);
    self->frame_live = 0;
    self->bp = self->bend = NULL;
}

/* Delivers the next message of history into msg when catch-up has one:
 * returns FB_OK, 1 when history is done with (live messages come next), or
 * an error. Catch-up goes page by page, so history of any length takes
 * bounded memory; live messages wait in the SUB queue meanwhile. */
static int s_recv_history(fb_subscriber_t *self, fb_message_t *msg)
{
    while (self->catchup && self->qhead == self->qlen) {
        uint32_t scanned = 0;
        uint64_t last = 0;
        int rc = fb_replay_scan(self->replay, (const char *const *)self->patterns, self->npatterns,
                                self->from_seq, 0, S_CATCHUP_PAGE, s_enqueue, self, 10000, &scanned, &last);
        if (rc != FB_OK) return rc;
        if (scanned < S_CATCHUP_PAGE) self->catchup = 0;
        else self->from_seq = last + 1;
    }
    if (self->qhead == self->qlen) return 1;
    s_blob_t *b = &self->queue[self->qhead++];
    /* The blob backs msg->raw until the next call frees it. */
    self->held = b->data;
    if (self->qhead == self->qlen) self->qhead = self->qlen = 0;
    if (fb_message_fill(self->arena, msg, b->data, b->len) != 0) return FB_EPROTO;
    if (msg->global_seq > self->last_seq) self->last_seq = msg->global_seq;
    return FB_OK;
}

/* Receives the next feed frame into self->frame without waiting, or waits
 * for one until deadline. Returns FB_OK (a frame is live), 1 (one may have
 * come: try again), FB_ETIMEOUT, FB_EINTR or FB_EIO. */
static int s_recv_frame(fb_subscriber_t *self, int64_t deadline, int timeout_ms)
{
    /* What is queued already is taken without a poll; only an empty
     * queue waits. */
    zmq_msg_init(&self->frame);
    self->frame_live = 1;
    if (zmq_msg_recv(&self->frame, self->sock, ZMQ_DONTWAIT) >= 0) return FB_OK;
    zmq_msg_close(&self->frame);
    self->frame_live = 0;
    if (errno != EAGAIN) return errno == EINTR ? FB_EINTR : FB_EIO;
    long wait = timeout_ms < 0 ? -1 : (long)((deadline - fb_time_mono_us()) / 1000);
    if (timeout_ms >= 0 && wait < 0) wait = 0;
    zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&item, 1, wait);
    if (n < 0) return errno == EINTR ? FB_EINTR : FB_EIO;
    return n == 0 ? FB_ETIMEOUT : 1;
}

int fb_subscriber_recv(fb_subscriber_t *self, fb_message_t *msg, int timeout_ms)
{
    fb_arena_reset(self->arena);
    if (!self->bp) s_frame_done(self);
    free(self->held);
    self->held = NULL;
    int rc = s_recv_history(self, msg);
    if (rc != 1) return rc;
    int64_t deadline = fb_time_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        if (self->bp) {
            /* The next envelope of a batched frame. */
            const uint8_t *env;
            size_t env_len;
            rc = fb_wire_next_item(&self->bp, self->bend, &env, &env_len);
            if (rc != 1) {
                s_frame_done(self);
                if (rc < 0) return FB_EPROTO; /* the rest of the frame is not readable */
                continue;
            }
            if (fb_message_fill(self->arena, msg, env, env_len) != 0) return FB_EPROTO;
            if (msg->global_seq <= self->last_seq ||
                !fb_message_match(msg, (const char *const *)self->patterns, self->npatterns)) {
                fb_arena_reset(self->arena);
                continue;
            }
            self->last_seq = msg->global_seq;
            return FB_OK;
        }
        s_frame_done(self);
        if ((rc = s_recv_frame(self, deadline, timeout_ms)) == 1) continue;
        if (rc != FB_OK) return rc;
        /* One frame: the topic, a NUL, the stored envelope. Anything else
         * is not a fedbus feed message. */
        const uint8_t *data = zmq_msg_data(&self->frame);
        size_t size = zmq_msg_size(&self->frame);
        const uint8_t *nul = zmq_msg_more(&self->frame)
                                 ? NULL
                                 : memchr(data, 0, size < FB_TOPIC_MAX + 2 ? size : FB_TOPIC_MAX + 2);
        if (!nul) {
            if (zmq_msg_more(&self->frame)) fb_zmq_drain(self->sock);
            zmq_msg_close(&self->frame);
            self->frame_live = 0;
            continue;
        }
        if (data[0] == FB_FEED_MARK) {
            /* A batched frame: its envelopes come one per call. What plain
             * frames delivered before it comes again in it, and is skipped
             * by global_seq. */
            if (!self->batched) s_go_batched(self);
            self->bp = nul + 1;
            self->bend = data + size;
            if (self->bp == self->bend) s_frame_done(self);
            continue;
        }
        if (fb_message_fill(self->arena, msg, nul + 1, size - (size_t)(nul + 1 - data)) != 0) return FB_EPROTO;
        /* Skip what catch-up already delivered, and what the patterns'
         * prefixes let through but the patterns do not match. */
        if (msg->global_seq <= self->last_seq ||
            !fb_message_match(msg, (const char *const *)self->patterns, self->npatterns)) {
            fb_arena_reset(self->arena);
            zmq_msg_close(&self->frame);
            self->frame_live = 0;
            continue;
        }
        self->last_seq = msg->global_seq;
        return FB_OK;
    }
}
