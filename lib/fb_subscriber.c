/* fb_subscriber.c — live messages from the broker's feed, after a catch-up from stored history, with every gap repaired.
 *
 * A SUB socket on the feed, subscribed to the patterns' prefixes. Catch-up
 * replays history page by page into a queue that is delivered first; live
 * messages wait in the SUB queue meanwhile, and those catch-up delivered
 * already are skipped by global_seq, so that there are no duplicates or
 * holes between the two. Delivered messages are read in place from the
 * frame (or the replayed blob) that holds them.
 *
 * Gaps (docs/protocol.md, "Feed"). The feed drops frames for a subscriber
 * whose queue is full, and the feed carries only what matches, so a jump in
 * global_seq says nothing by itself. With a replay endpoint the subscriber
 * also takes the broker's head frames, and keeps `covered`: every matching
 * message up to it has been delivered or is queued. Once covered is known
 * (a from_seq, or the first head frame), a head frame above covered means
 * messages up to it may be missing, whichever they are: the subscriber
 * replays (covered, head] with its patterns into the queue before anything
 * newer, and live messages at or below covered are skipped. Live messages
 * above covered are not delivered from the feed then (nothing proves there
 * is no hole below them): the next repair fetches them, at most
 * S_REPAIR_GAP_US later, so memory stays bounded and order exact. They are
 * remembered by global_seq only, to count what the feed had lost.
 *
 * Count frames (fb_subcount.c) spare most of those replays: a broker that
 * sends them follows each head frame with, for every prefix subscribed,
 * how many messages it sent under it. When every prefix of this
 * subscriber grew by as many as it received, nothing was lost up to that
 * head: the live messages above covered, held meanwhile (up to S_HOLD_MAX,
 * S_HOLD_BYTES), go to the queue in order and covered moves to the head,
 * without a replay. Anything else (a count that differs, a count frame
 * missing, too much to hold) repairs as above. */
#include "fb_client_int.h"
#include "fb_subscriber_int.h"
#include "fb_envelope.h"
#include "fb_time.h"
#include "fb_wire.h"
#include "fb_zmq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_CATCHUP_PAGE 4096     /* stored messages fetched per catch-up step */
#define S_REPAIR_GAP_US 20000   /* least time between two repairs: bounds the replays a busy feed causes */
#define S_SEEN_MAX 65536        /* live global_seqs remembered between repairs */
#define S_RETRY_US 500000      /* a failed replay is not tried again sooner */
#define S_DRAIN_MAX 4096        /* live messages read at most before a due repair starts */
#define S_HOLD_MAX 65536        /* live messages held at most for count frames to vouch for ... */
#define S_HOLD_BYTES (32u << 20) /* ... and their bytes */
#define S_HEAD 2                /* s_live(): a head frame came */
#define S_SILENCE_US 2000000    /* a feed this long without a frame (head frames come every 200 ms) ... */
#define S_SILENCE_MAX_US 16000000 /* ... is connected again, backing off to this while it stays silent */

fb_subscriber_t *fb_subscriber_open(const fb_endpoint_opts_t *feed, const fb_endpoint_opts_t *replay)
{
    if (replay && fb_endpoint_check(replay) != 0) return NULL;
    fb_subscriber_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->sock = fb_endpoint_open(feed, ZMQ_SUB, 100000, 0);
    if (!self->sock || !(self->arena = fb_arena_new(64 << 10, 64 << 10)) ||
        !(self->feed_endpoint = strdup(feed->endpoint)))
        goto error;
    self->heard_us = fb_time_mono_us();
    self->silence_us = S_SILENCE_US;
    if (!(self->sv = fb_subverify_new(NULL))) goto error;
    if (replay) {
        /* Head frames only mean something to a subscriber that can repair. */
        const char mark = FB_WIRE_FEED_HEAD_MARK;
        if (!(self->replay = fb_endpoint_dup(replay)) || !(self->seen = malloc(S_SEEN_MAX * sizeof(uint64_t))) ||
            !(self->sc = fb_subcount_new()) || zmq_setsockopt(self->sock, ZMQ_SUBSCRIBE, &mark, 1) != 0)
            goto error;
        fb_subverify_destroy(&self->sv);
        if (!(self->sv = fb_subverify_new(self->replay)) || fb_subscriber_seals_subscribe(self) != FB_OK) goto error;
    }
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

/* Lets go of the live messages held for count frames. */
static void s_hold_drop(fb_subscriber_t *self)
{
    for (size_t i = 0; i < self->nhold; i++) {
        free(self->hold[i].data);
        free(self->hold[i].why);
    }
    self->nhold = self->hold_bytes = 0;
}

static void s_queue_clear(fb_subscriber_t *self)
{
    for (size_t i = self->qhead; i < self->qlen; i++) {
        free(self->queue[i].data);
        free(self->queue[i].why);
    }
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
    s_hold_drop(self);
    free(self->hold);
    fb_subcount_destroy(&self->sc);
    free(self->seen);
    fb_arena_destroy(&self->arena);
    if (self->frame_live) zmq_msg_close(&self->frame);
    for (int i = 0; i < self->nplain; i++) free(self->plain[i]);
    free(self->plain);
    fb_subverify_destroy(&self->sv);
    free(self->verify_replay);
    free(self->replay);
    free(self->feed_endpoint);
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
        if (self->sc) {
            /* The prefix's count frames too (docs/protocol.md, "Feed"). */
            marked[0] = FB_WIRE_FEED_COUNT_MARK;
            if (fb_subcount_add(self->sc, prefixes[i]) != 0) return FB_ENOMEM;
            if (zmq_setsockopt(self->sock, ZMQ_SUBSCRIBE, marked, len + 1) != 0) return FB_EIO;
        }
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
    self->repairing = 0;
    self->from_start = from_seq == 0;
    self->from_seq = from_seq ? from_seq : 1;
    self->covered = self->from_seq - 1;
    self->based = 1;
    return FB_OK;
}

uint64_t fb_subscriber_lost(const fb_subscriber_t *self, uint64_t *first, uint64_t *last)
{
    *first = self ? self->lost_first : 0;
    *last = self ? self->lost_last : 0;
    return self ? self->lost_total : 0;
}

uint64_t fb_subscriber_last(const fb_subscriber_t *self)
{
    return self ? self->last_seq : 0;
}

uint64_t fb_subscriber_position(const fb_subscriber_t *self)
{
    if (!self) return 0;
    /* Queued history lies above the last delivered message; without it,
     * covered says more (matching messages may be far apart). */
    if (self->qhead < self->qlen || self->catchup) return self->last_seq;
    return self->covered > self->last_seq ? self->covered : self->last_seq;
}

uint64_t fb_subscriber_repaired(const fb_subscriber_t *self)
{
    return self ? self->repaired : 0;
}

/* Whether the feed brought seq since the last repair. */
static int s_seen(const fb_subscriber_t *self, uint64_t seq)
{
    size_t lo = 0, hi = self->nseen;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->seen[mid] < seq) lo = mid + 1;
        else hi = mid;
    }
    return lo < self->nseen && self->seen[lo] == seq;
}

/* Forgets the live global_seqs at or below covered. */
static void s_seen_trim(fb_subscriber_t *self)
{
    size_t k = 0;
    while (k < self->nseen && self->seen[k] <= self->covered) k++;
    memmove(self->seen, self->seen + k, (self->nseen - k) * sizeof(uint64_t));
    self->nseen -= k;
}

/* Copies msg, with its verdict, into *b; 0, or -1 when out of memory. */
static int s_blob_from(const fb_message_t *msg, fb_sub_blob_t *b)
{
    if (!(b->data = malloc(msg->raw_len))) return -1;
    memcpy(b->data, msg->raw, msg->raw_len);
    b->len = msg->raw_len;
    b->verified = fb_message_verified(msg);
    const char *why = fb_message_verify_detail(msg);
    b->why = *why ? strdup(why) : NULL; /* lost when out of memory: the verdict stays */
    return 0;
}

/* Makes room in *v (*cap slots) for need blobs; 0, or -1 when out of memory. */
static int s_blobs_room(fb_sub_blob_t **v, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 256;
    if (c < need) c = need;
    fb_sub_blob_t *n = realloc(*v, c * sizeof(*n));
    if (!n) return -1;
    *v = n;
    *cap = c;
    return 0;
}

static int s_enqueue(const fb_message_t *msg, void *arg)
{
    fb_subscriber_t *self = arg;
    if (msg->global_seq <= self->covered) return 0; /* queued or delivered already */
    if (s_blobs_room(&self->queue, &self->qcap, self->qlen + 1) != 0) goto oom;
    if (s_blob_from(msg, &self->queue[self->qlen]) != 0) goto oom;
    self->qlen++;
    self->covered = msg->global_seq;
    if (self->repairing && !s_seen(self, msg->global_seq)) self->repaired++;
    return 0;
oom:
    self->oom = 1;
    return -1;
}

/* Closes the frame last received, batch or not. */
static void s_frame_done(fb_subscriber_t *self)
{
    if (self->frame_live) zmq_msg_close(&self->frame);
    self->frame_live = 0;
    self->bp = self->bend = NULL;
}

/* Replay said retention dropped history above covered: what it queued
 * before saying so stays, the global_seqs from there to the first kept are
 * lost, noted, and the catch-up goes on from the first kept. Returns
 * FB_ELOST, or FB_EPROTO for an answer that names no first kept above
 * covered (the catch-up then stays as it was). */
static int s_lost(fb_subscriber_t *self, const fb_replay_tally_t *t)
{
    if (t->scanned_last > self->covered) self->covered = t->scanned_last;
    if (t->first_seq <= self->covered + 1) return FB_EPROTO;
    self->lost_first = self->covered + 1;
    self->lost_last = t->first_seq - 1;
    self->lost_total += self->lost_last - self->lost_first + 1;
    self->covered = self->lost_last;
    self->from_start = 0;
    s_seen_trim(self);
    return FB_ELOST;
}

/* Fetches one page of history above covered into the queue. Returns FB_OK
 * (the catch-up ends when the page reached the broker's head) or an error
 * (the catch-up stays due). */
static int s_fetch(fb_subscriber_t *self)
{
    fb_replay_tally_t t;
    self->oom = 0;
    int rc = fb_replay_scan(self->replay, (const char *const *)self->patterns, self->npatterns,
                            self->from_start ? 0 : self->covered + 1, 0, S_CATCHUP_PAGE, s_enqueue, self, 10000, &t,
                            self->verify_off ? NULL : self->sv);
    if (rc == FB_OK && self->oom) rc = FB_ENOMEM; /* what was queued stays; the rest comes next time */
    if (rc == FB_ELOST) return s_lost(self, &t);
    if (rc == FB_OK) self->from_start = 0;
    /* A replay that does not answer is not the caller's time-out: history
     * cannot be had. */
    if (rc == FB_ETIMEOUT) rc = FB_ESTORE;
    if (rc != FB_OK) return rc;
    if (t.scanned_last > self->covered) self->covered = t.scanned_last;
    if (t.scanned < S_CATCHUP_PAGE) {
        /* The end: nothing matching lies between the last message and the
         * head the broker read at. */
        if (t.head_seq > self->covered) self->covered = t.head_seq;
        self->catchup = 0;
        self->repairing = 0;
        s_seen_trim(self);
    }
    return FB_OK;
}

/* Delivers the next queued message of history into msg: FB_OK, 1 when the
 * queue is empty, or FB_EPROTO. */
static int s_deliver_queued(fb_subscriber_t *self, fb_message_t *msg)
{
    if (self->qhead == self->qlen) return 1;
    fb_sub_blob_t *b = &self->queue[self->qhead++];
    /* The blob backs msg->raw until the next call frees it. */
    self->held = b->data;
    if (self->qhead == self->qlen) self->qhead = self->qlen = 0;
    int verified = b->verified;
    char *why = b->why;
    b->why = NULL;
    int rc = fb_message_fill(self->arena, msg, b->data, b->len);
    if (rc == 0) fb_message_set_verified(msg, verified, why);
    free(why);
    if (rc != 0) return FB_EPROTO;
    if (msg->global_seq > self->last_seq) self->last_seq = msg->global_seq;
    return FB_OK;
}

/* Receives the next feed frame into self->frame without waiting, or waits
 * for one until deadline (-1: forever). Returns FB_OK (a frame is live), 1
 * (one may have come: try again), FB_ETIMEOUT, FB_EINTR or FB_EIO. */
static int s_recv_frame(fb_subscriber_t *self, int64_t deadline)
{
    /* What is queued already is taken without a poll; only an empty
     * queue waits. */
    zmq_msg_init(&self->frame);
    self->frame_live = 1;
    if (zmq_msg_recv(&self->frame, self->sock, ZMQ_DONTWAIT) >= 0) {
        self->heard_us = fb_time_mono_us();
        self->silence_us = S_SILENCE_US;
        return FB_OK;
    }
    zmq_msg_close(&self->frame);
    self->frame_live = 0;
    if (errno != EAGAIN) return errno == EINTR ? FB_EINTR : FB_EIO;
    long wait = deadline < 0 ? -1 : (long)((deadline - fb_time_mono_us() + 999) / 1000);
    if (deadline >= 0 && wait < 0) wait = 0;
    zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&item, 1, wait);
    if (n < 0) return errno == EINTR ? FB_EINTR : FB_EIO;
    return n == 0 ? FB_ETIMEOUT : 1;
}

/* Fills msg from one envelope of the feed; returns FB_OK when it is a
 * matching message not yet covered, 1 to skip it, or FB_EPROTO. */
static int s_take(fb_subscriber_t *self, fb_message_t *msg, const uint8_t *env, size_t len)
{
    if (fb_message_fill(self->arena, msg, env, len) != 0) return FB_EPROTO;
    /* Skip what catch-up already delivered, and what the patterns'
     * prefixes let through but the patterns do not match. */
    if (msg->global_seq <= self->covered ||
        !fb_message_match(msg, (const char *const *)self->patterns, self->npatterns)) {
        fb_arena_reset(self->arena);
        return 1;
    }
    return FB_OK;
}

static void s_settle(fb_subscriber_t *self);

/* A frame other than a count frame came: count frames still awaited will
 * not come now (they follow their head frame at once). */
static void s_not_a_count(fb_subscriber_t *self)
{
    uint64_t head;
    if (self->sc && fb_subcount_pending(self->sc, &head)) s_settle(self);
}

/* Reads the feed until deadline (-1: forever) for the next matching message
 * above covered (FB_OK, msg filled) or a head frame (S_HEAD, *head set). Returns those, FB_ETIMEOUT, FB_EINTR, FB_EIO or FB_EPROTO. */
static int s_live(fb_subscriber_t *self, fb_message_t *msg, int64_t deadline, uint64_t *head)
{
    int rc;
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
            if (self->sc) fb_subcount_recv(self->sc, self->btopic, self->btlen);
            if ((rc = s_take(self, msg, env, env_len)) != 1) return rc;
            continue;
        }
        s_frame_done(self);
        if ((rc = s_recv_frame(self, deadline)) == 1) continue;
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
            s_frame_done(self);
            continue;
        }
        if (data[0] == FB_WIRE_FEED_COUNT_MARK) {
            const uint8_t *prefix;
            size_t plen;
            uint64_t at, count;
            if (self->sc && fb_wire_feed_count_view(data, size, &prefix, &plen, &at, &count) == 1 &&
                fb_subcount_frame(self->sc, prefix, plen, at, count))
                s_settle(self);
            s_frame_done(self);
            continue;
        }
        s_not_a_count(self);
        if (data[0] == FB_WIRE_FEED_HEAD_MARK) {
            rc = fb_wire_feed_head_view(data, size, head);
            s_frame_done(self);
            if (rc == 1) return S_HEAD;
            continue;
        }
        if (data[0] == FB_WIRE_FEED_SEAL_MARK) {
            /* A seal frame: kept for the messages that follow it; one that
             * does not decode is counted and ignored. */
            if (self->seals_sub) fb_subverify_feed_seal(self->sv, data, size);
            s_frame_done(self);
            continue;
        }
        if (data[0] < 0x20 && data[0] != FB_FEED_MARK) {
            /* A mark this library does not know (a later broker's frame,
             * reaching a subscription to the empty prefix): not a message. */
            s_frame_done(self);
            continue;
        }
        if (data[0] == FB_FEED_MARK) {
            /* A batched frame: its envelopes come one per call. What plain
             * frames delivered before it comes again in it, and is skipped
             * by global_seq. */
            if (!self->batched) s_go_batched(self);
            self->btopic = (const char *)data + 1;
            self->btlen = (size_t)(nul - data - 1);
            self->bp = nul + 1;
            self->bend = data + size;
            if (self->bp == self->bend) s_frame_done(self);
            continue;
        }
        if (self->sc) fb_subcount_recv(self->sc, (const char *)data, (size_t)(nul - data));
        if ((rc = s_take(self, msg, nul + 1, size - (size_t)(nul + 1 - data))) != 1) return rc;
        s_frame_done(self);
    }
}

/* The feed said nothing for too long: connect it again (the SUB socket
 * sends its subscriptions again by itself), and bear a longer silence
 * next time. What the feed carried meanwhile, the next head frame's
 * repair brings. */
static void s_reconnect(fb_subscriber_t *self)
{
    zmq_disconnect(self->sock, self->feed_endpoint);
    fb_zmq_attach(self->sock, self->feed_endpoint, 0);
    self->heard_us = fb_time_mono_us();
    self->silence_us = self->silence_us * 2 < S_SILENCE_MAX_US ? self->silence_us * 2 : S_SILENCE_MAX_US;
}

/* A head frame says every message up to head went out on the feed. */
static void s_on_head(fb_subscriber_t *self, uint64_t head)
{
    if (!self->based) {
        /* The first one: a live subscriber starts here, or, when it
         * delivered something already, checks from there. */
        self->based = 1;
        if (self->last_seq == 0) self->covered = head;
    }
    if (head > self->covered) self->repair_due = 1;
}

/* Ends the wait for a head's count frames: when they vouch for the feed up
 * to that head, the messages held go to the queue, in order, and covered
 * moves to the head, with no replay; else the held messages go and the
 * head frame asks for a repair, as without count frames. */
static void s_settle(fb_subscriber_t *self)
{
    uint64_t head;
    if (!fb_subcount_pending(self->sc, &head)) return;
    int ok = fb_subcount_settle(self->sc) && self->based && !self->repair_due;
    if (ok && head > self->covered) {
        ok = s_blobs_room(&self->queue, &self->qcap, self->qlen + self->nhold) == 0;
        if (ok) {
            if (self->nhold) memcpy(&self->queue[self->qlen], self->hold, self->nhold * sizeof(*self->hold));
            self->qlen += self->nhold;
            self->nhold = self->hold_bytes = 0;
            self->covered = head;
            s_seen_trim(self);
            return;
        }
    }
    s_hold_drop(self);
    if (!ok) s_on_head(self, head);
}

/* Holds msg, a live message above covered, until count frames settle it.
 * It is checked now, against the seals kept (those the feed brought): one
 * none covers (unsigned, or its seal frame dropped) is not held, and the
 * repair then brings it with its proof, as it would a lost one. Returns 0,
 * or -1 when it is not held (that, too many, or out of memory). */
static int s_hold(fb_subscriber_t *self, fb_message_t *msg)
{
    if (self->nhold >= S_HOLD_MAX || self->hold_bytes + msg->raw_len > S_HOLD_BYTES) return -1;
    if (s_blobs_room(&self->hold, &self->caphold, self->nhold + 1) != 0) return -1;
    if (self->verify_off) fb_message_set_verified(msg, FB_MSG_NOT_CHECKED, NULL);
    else if (fb_subverify_check(self->sv, msg, 0) != FB_MSG_VERIFIED && fb_message_verified(msg) != FB_MSG_BROKER)
        return -1;
    if (s_blob_from(msg, &self->hold[self->nhold]) != 0) return -1;
    self->nhold++;
    self->hold_bytes += msg->raw_len;
    return 0;
}

/* Returns how long (microseconds) the repair a head frame or a live
 * message called for has still to wait, 0 when it is due now, -1 when none
 * is. */
static int64_t s_repair_wait(const fb_subscriber_t *self)
{
    if (!self->repair_due) return -1;
    int64_t now = fb_time_mono_us();
    return now < self->next_repair_us ? self->next_repair_us - now : 0;
}

static void s_repair_start(fb_subscriber_t *self)
{
    s_hold_drop(self); /* the repair brings them */
    self->repair_due = 0;
    self->catchup = 1;
    self->repairing = 1;
    self->drained = 0;
    self->next_repair_us = fb_time_mono_us() + S_REPAIR_GAP_US;
}

/* The verdict on msg, about to be delivered: FB_OK, or FB_EVERIFY when it
 * failed (it is delivered flagged). A queued message was checked with its
 * chunk's proofs; a live one is checked now, its frame's seal fetched when
 * not kept. */
static int s_verdict(fb_subscriber_t *self, fb_message_t *msg, int live)
{
    if (self->verify_off) {
        fb_message_set_verified(msg, FB_MSG_NOT_CHECKED, NULL);
        return FB_OK;
    }
    int v = live ? fb_subverify_check(self->sv, msg, self->replay || self->verify_replay) : fb_message_verified(msg);
    if (v != FB_MSG_FAILED) return FB_OK;
    self->failed++;
    return FB_EVERIFY;
}

int fb_subscriber_recv(fb_subscriber_t *self, fb_message_t *msg, int timeout_ms)
{
    fb_arena_reset(self->arena);
    if (!self->bp) s_frame_done(self);
    free(self->held);
    self->held = NULL;
    int64_t deadline = timeout_ms < 0 ? -1 : fb_time_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        int rc = s_deliver_queued(self, msg);
        if (rc == FB_OK) return s_verdict(self, msg, 0);
        if (rc != 1) return rc;
        if (self->catchup) {
            /* A replay that failed is retried, but not in a busy loop. */
            int64_t now = fb_time_mono_us();
            if (now < self->retry_us) {
                int64_t until = deadline >= 0 && deadline < self->retry_us ? deadline : self->retry_us;
                if (until > now) usleep((useconds_t)(until - now));
                if (until != self->retry_us) return FB_ETIMEOUT;
            }
            if ((rc = s_fetch(self)) != FB_OK) {
                /* A loss is reported once; the catch-up goes on at once. */
                if (rc != FB_ELOST) self->retry_us = fb_time_mono_us() + S_RETRY_US;
                return rc;
            }
            continue;
        }
        /* A repair that is due first takes what the SUB queue holds (up to
         * S_DRAIN_MAX, so that a busy feed cannot hold it off), to know
         * what the feed did bring. */
        int64_t wait = s_repair_wait(self), until = deadline;
        if (wait == 0 && self->drained >= S_DRAIN_MAX) {
            s_repair_start(self);
            continue;
        }
        if (wait >= 0 && (deadline < 0 || fb_time_mono_us() + wait < deadline)) until = fb_time_mono_us() + wait;
        /* With replay, the feed is never silent for long: head frames. */
        int64_t silent_at = self->replay ? self->heard_us + self->silence_us : -1;
        if (silent_at >= 0 && (until < 0 || silent_at < until)) until = silent_at;
        uint64_t head = 0;
        rc = s_live(self, msg, until, &head);
        if (rc == S_HEAD) {
            /* (Without replay only a subscription to the empty prefix
             * brings them: nothing to do with them then.) */
            if (self->replay && !fb_subcount_head(self->sc, head)) s_on_head(self, head);
            continue;
        }
        if (rc == FB_ETIMEOUT && until != deadline) {
            if (self->replay && fb_time_mono_us() >= self->heard_us + self->silence_us) s_reconnect(self);
            else if (wait >= 0 && s_repair_wait(self) == 0) s_repair_start(self);
            continue;
        }
        if (rc != FB_OK) return rc;
        if (!self->based) {
            /* No head frame yet (or no replay to repair from): the feed is
             * all there is. */
            self->last_seq = self->covered = msg->global_seq;
            return s_verdict(self, msg, 1);
        }
        /* Above covered: held for the head's count frames to vouch for,
         * else the next repair brings it, in order. */
        if (self->nseen < S_SEEN_MAX && (!self->nseen || self->seen[self->nseen - 1] < msg->global_seq))
            self->seen[self->nseen++] = msg->global_seq;
        if (self->sc && fb_subcount_on(self->sc) && !self->repair_due && s_hold(self, msg) == 0) {
            fb_arena_reset(self->arena);
            continue;
        }
        s_hold_drop(self);
        fb_arena_reset(self->arena);
        self->repair_due = 1;
        self->drained++;
    }
}
