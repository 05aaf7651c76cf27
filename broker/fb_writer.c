/* fb_writer.c — the writer thread (classify, look up, number, COPY, COMMIT, retry) and its hand-off. */
#include "fb_writer.h"

#include "fb_proofs.h"
#include "fb_unstored.h"

#include "fb_envelope.h"
#include "fb_log.h"
#include "fb_recent.h"
#include "fb_store.h"
#include "fb_time.h"
#include "fb_zmq.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_AHEAD_IDLE_MS 20 /* a COPY sent ahead is closed when no batch came in this time */
/* Ids the writer remembers as stored (fb_recent): at least the last this
 * many stored, in 4 MiB. A resend of an older one is caught by the COPY's
 * conflict instead, at the price of a failed transaction (store_conflicts). */
#define S_RECENT_KEEP (1u << 16)
#define S_NBATCHES 3

struct fb_writer {
    const fb_broker_config_t *cfg;
    fb_broker_stats_t *stats;
    fb_writer_answer_fn *answer;
    void *arg;
    volatile sig_atomic_t *stop;
    /* The main thread's. */
    void *pipe;           /* its end of the hand-off */
    fb_batch_t *batches[S_NBATCHES];
    fb_batch_t *fill;     /* being read into */
    fb_batch_t *busy;     /* with the writer, or NULL */
    fb_batch_t *next;     /* handed to the writer behind busy, or NULL */
    int busy_sent;        /* busy's rows are sent: it waits for its COMMIT */
    fb_batch_t *spare[S_NBATCHES]; /* empty and answered */
    int nspare;
    int64_t handed_us;    /* monotonic: when the last batch went to the writer (commit-interval) */
    uint64_t serial;      /* the last batch number given (to the filling batch) */
    uint64_t answered;    /* the number of the last batch answered */
    pthread_t thread;
    int running;
    char endpoint[64];
    /* The writer thread's, untouched by main while it runs. */
    fb_store_t *store;     /* the writer connection */
    uint64_t store_head;   /* highest global_seq stored */
    fb_map_t *store_heads; /* origin -> highest origin_seq stored */
    fb_recent_t *recent;   /* (origin, message_id) stored last */
    void *wpipe;           /* its end of the hand-off */
    fb_batch_t *writing;   /* the batch being stored */
};

/* What the writer tells the main thread about a batch: its rows are all
 * sent and it waits for the COMMIT (sent), or it is stored (done). */
typedef struct {
    int sent;
    fb_batch_t *b;
} s_wmsg_t;

/* ------------------------------------------------------ writer thread -- */

static void s_load_head(const char *origin, uint64_t last, void *arg)
{
    uint64_t have = 0;
    if (!fb_map_get(arg, origin, strlen(origin), &have) || last > have)
        fb_map_put(arg, origin, strlen(origin), last);
}

static void s_load_recent(const char *origin, const uint8_t *message_id, void *arg)
{
    fb_recent_add(arg, fb_recent_key(origin, message_id));
}

static void s_tell(fb_writer_t *self, int sent, fb_batch_t *b)
{
    s_wmsg_t m = {sent, b};
    while (zmq_send(self->wpipe, &m, sizeof(m), 0) < 0 && errno == EINTR)
        ;
}

/* fb_store_append()'s rows are on their way: the main thread may hand over
 * the next batch now, so that it is there when the COMMIT returns. While
 * PostgreSQL commits, the new rows' ids join those stored lately (should
 * the COMMIT fail, a later resend of one is only looked up for nothing). */
static void s_on_sent(void *arg)
{
    fb_writer_t *self = arg;
    fb_batch_t *b = self->writing;
    s_tell(self, 1, b);
    for (size_t i = 0; i < b->nitems; i++)
        if (b->items[i].state == FB_BATCH_NEW) fb_recent_add(self->recent, b->items[i].key);
}

/* Looks up the items fb_batch_keys() names and settles them; 0, or -1 when
 * the store failed. */
static int s_look_up(fb_writer_t *self, fb_batch_t *b, int conflict)
{
    size_t n = fb_batch_keys(b, conflict);
    if (n == 0) return 0;
    if (fb_store_lookup(self->store, b->keys, n, b->found) != FB_OK) {
        fb_warn("store: %s", fb_store_error(self->store));
        return -1;
    }
    fb_batch_resolve(b, n);
    return 0;
}

/* COPYs and COMMITs the n rows of b (classified and numbered) with extra
 * (may be NULL) and the envelopes its seals linked but the store takes no
 * row for (fedbus_unstored), in one transaction. */
static int s_append(fb_writer_t *self, fb_batch_t *b, size_t n, const char *extra)
{
    char *unstored = b->nproofs ? fb_unstored_sql(b) : NULL;
    char *both = NULL;
    if (unstored && *unstored) {
        size_t a = extra ? strlen(extra) : 0, u = strlen(unstored);
        if (!(both = malloc(a + u + 1))) {
            free(unstored);
            return FB_ESTORE; /* out of memory: retried */
        }
        if (a) memcpy(both, extra, a);
        memcpy(both + a, unstored, u + 1);
    }
    fb_store_set_extra(self->store, both ? both : extra);
    int rc = fb_store_append(self->store, b->rows, n);
    fb_store_set_extra(self->store, extra);
    free(both);
    free(unstored);
    return rc;
}

/* One attempt at storing b: looks up what it must, numbers, COPYs, COMMITs
 * (with extra, which may be NULL). Returns FB_OK with *n rows stored, or an
 * error (nothing stored). */
static int s_attempt(fb_writer_t *self, fb_batch_t *b, int retry, size_t *n, const char *extra)
{
    int64_t now = fb_time_now_us();
    if (fb_store_check(self->store) != 0) return FB_ESTORE;
    if (retry) {
        /* After a failure, what the store holds is the truth: a COMMIT
         * may have succeeded without its reply reaching us. */
        fb_map_clear(self->store_heads);
        if (fb_store_head(self->store, &self->store_head) != FB_OK ||
            fb_store_origin_heads(self->store, s_load_head, self->store_heads) != FB_OK)
            return FB_ESTORE;
    }
    if (s_look_up(self, b, 0) != 0) return FB_ESTORE;
    *n = fb_batch_assign(b, self->store_head, now);
    int rc = s_append(self, b, *n, extra);
    if (rc != FB_ECONFLICT) return rc;
    /* A new origin_seq carries a message_id stored before, longer ago than
     * the ids remembered (or by this batch, whose COMMIT reply was lost):
     * find which. */
    b->store_conflicts++;
    fb_debug("batch conflict, resolving: %s", fb_store_error(self->store));
    if (s_look_up(self, b, 1) != 0) return FB_ESTORE;
    *n = fb_batch_assign(b, self->store_head, now);
    return s_append(self, b, *n, extra);
}

/* Classifies and stores batch b: returns once it is committed, or when a
 * stop was requested while the store was away (b->dropped: nothing stored,
 * nothing will be answered; publishers resend). */
static void s_store_batch(fb_writer_t *self, fb_batch_t *b)
{
    b->dropped = 0;
    b->store_errors = 0;
    b->store_conflicts = 0;
    fb_batch_classify(b, self->store_heads, self->recent);
    /* Nothing is acked before COMMIT, and nothing is rejected because
     * PostgreSQL is away: the batch is retried until it is stored, while the
     * publishers' frames wait in ZeroMQ's queues (backpressure). A stop
     * request drops the batch unanswered; publishers resend it. */
    int64_t backoff_ms = 100;
    size_t n = 0;
    b->base = self->store_head;
    /* The frames' proofs go in the rows' transaction: a stored envelope
     * always has its seal. */
    char *proofs = b->nproofs ? fb_proofs_sql(b->proofs, b->nproofs) : NULL;
    if (b->extra_sql && *b->extra_sql) {
        /* The health module's rows go in the same transaction. */
        size_t a = proofs ? strlen(proofs) : 0, e = strlen(b->extra_sql);
        char *both = malloc(a + e + 1);
        if (both) { /* out of memory: the seals still go, the state rows not */
            if (a) memcpy(both, proofs, a);
            memcpy(both + a, b->extra_sql, e + 1);
            free(proofs);
            proofs = both;
        }
    }
    for (int retry = 0; s_attempt(self, b, retry, &n, proofs) != FB_OK; retry = 1) {
        b->store_errors++;
        fb_warn("store: batch of %zu waits: %s; retrying in %lld ms", b->nitems,
                fb_store_error(self->store), (long long)backoff_ms);
        if (*self->stop) {
            b->dropped = 1;
            fb_store_set_extra(self->store, NULL);
            free(proofs);
            return;
        }
        zmq_poll(NULL, 0, (long)backoff_ms);
        backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
    }
    fb_store_set_extra(self->store, NULL);
    free(proofs);
    self->store_head += n;
    fb_batch_merge_heads(b->heads, self->store_heads);
    b->head = self->store_head;
}

static void *s_writer_main(void *arg)
{
    fb_writer_t *self = arg;
    /* Signals are the main thread's: it owns the stop flag's loop. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    void *pipe = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_PAIR, .endpoint = self->endpoint});
    if (!pipe) {
        fb_err("writer: cannot connect %s: %s", self->endpoint, zmq_strerror(errno));
        return NULL;
    }
    self->wpipe = pipe;
    fb_store_set_on_sent(self->store, s_on_sent, self);
    for (;;) {
        fb_batch_t *b = NULL;
        if (fb_store_ahead(self->store)) {
            /* The next batch's COPY is open: close it when none comes. */
            zmq_pollitem_t item = {pipe, 0, ZMQ_POLLIN, 0};
            int n = zmq_poll(&item, 1, S_AHEAD_IDLE_MS);
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) {
                fb_store_idle(self->store);
                continue;
            }
        }
        int rc = zmq_recv(pipe, &b, sizeof(b), 0);
        if (rc < 0 && errno == EINTR) continue;
        if (rc != (int)sizeof(b) || !b) break; /* NULL: stop */
        int64_t t0 = fb_time_mono_us();
        self->writing = b;
        s_store_batch(self, b);
        b->store_us = fb_time_mono_us() - t0;
        s_tell(self, 0, b);
    }
    fb_store_set_on_sent(self->store, NULL, NULL);
    /* Leave fedbus_origins current; if this fails, the next start reads
     * the heads from the messages themselves. */
    if (fb_store_check(self->store) != 0 || fb_store_write_heads(self->store) != FB_OK)
        fb_warn("store: origin heads not written at stop: %s", fb_store_error(self->store));
    zmq_close(pipe);
    return NULL;
}

/* ---------------------------------------------------------- lifetime --- */

fb_writer_t *fb_writer_new(const fb_broker_config_t *cfg, fb_writer_answer_fn *answer, void *arg,
                           fb_broker_stats_t *stats)
{
    char err[512];
    fb_writer_t *self = calloc(1, sizeof(*self));
    if (!self) {
        fb_err("out of memory");
        return NULL;
    }
    self->cfg = cfg;
    self->stats = stats;
    self->answer = answer;
    self->arg = arg;
    /* Room for one more PublishBatch beyond batch-max: a frame is never split. */
    size_t max = (size_t)cfg->batch_max + FB_BATCH_MAX;
    for (int i = 0; i < S_NBATCHES; i++) self->batches[i] = fb_batch_new(max);
    self->store_heads = fb_map_new(64);
    self->recent = fb_recent_new(S_RECENT_KEEP);
    if (!self->batches[0] || !self->batches[1] || !self->batches[2] || !self->store_heads || !self->recent) {
        fb_err("out of memory");
        goto error;
    }
    self->fill = self->batches[0];
    self->fill->serial = ++self->serial;
    for (int i = 1; i < S_NBATCHES; i++) self->spare[self->nspare++] = self->batches[i];
    self->store = fb_store_open(cfg->pg, FB_STORE_WRITER, err, sizeof(err));
    if (!self->store) {
        fb_err("store: %s", err);
        goto error;
    }
    fb_store_set_heads_interval(self->store, cfg->heads_interval);
    fb_store_set_ahead(self->store, 1);
    if (fb_store_head(self->store, &self->store_head) != FB_OK ||
        fb_store_origin_heads(self->store, s_load_head, self->store_heads) != FB_OK ||
        fb_store_recent(self->store, S_RECENT_KEEP, s_load_recent, self->recent) != FB_OK) {
        fb_err("store: %s", fb_store_error(self->store));
        goto error;
    }
    snprintf(self->endpoint, sizeof(self->endpoint), "inproc://fedbus-writer-%p", (void *)self);
    self->pipe = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_PAIR, .endpoint = self->endpoint, .bind = 1});
    if (!self->pipe) {
        fb_err("cannot bind %s: %s", self->endpoint, zmq_strerror(errno));
        goto error;
    }
    return self;
error:
    fb_writer_destroy(&self);
    return NULL;
}

void fb_writer_destroy(fb_writer_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_writer_t *self = *self_p;
    if (self->running) {
        /* fb_writer_stop() joins the thread; this is only reached if it did not. */
        fb_batch_t *quit = NULL;
        while (self->busy && fb_writer_collect(self, -1) >= 0)
            ;
        zmq_send(self->pipe, &quit, sizeof(quit), 0);
        pthread_join(self->thread, NULL);
    }
    for (int i = 0; i < S_NBATCHES; i++) fb_batch_destroy(&self->batches[i]);
    if (self->pipe) zmq_close(self->pipe);
    fb_store_destroy(&self->store);
    fb_map_destroy(&self->store_heads);
    fb_recent_destroy(&self->recent);
    free(self);
    *self_p = NULL;
}

uint64_t fb_writer_head(const fb_writer_t *self)
{
    return self->store_head;
}

const fb_map_t *fb_writer_heads(const fb_writer_t *self)
{
    return self->store_heads;
}

int fb_writer_chain_heads(fb_writer_t *self, int (*fn)(void *arg, const char *origin, uint64_t seq, const uint8_t *hash),
                          void *arg)
{
    if (self->running) return -1;
    if (fb_store_chain_heads(self->store, fn, arg) != FB_OK) {
        fb_err("store: %s", fb_store_error(self->store));
        return -1;
    }
    return 0;
}

int fb_writer_start(fb_writer_t *self, volatile sig_atomic_t *stop)
{
    self->stop = stop;
    if (pthread_create(&self->thread, NULL, s_writer_main, self) != 0) {
        fb_err("cannot start the writer thread");
        return -1;
    }
    self->running = 1;
    return 0;
}

/* ----------------------------------------------------------- hand-off -- */

void *fb_writer_socket(fb_writer_t *self)
{
    return self->pipe;
}

fb_batch_t *fb_writer_filling(fb_writer_t *self)
{
    return self->fill;
}

int fb_writer_busy(const fb_writer_t *self)
{
    return self->busy != NULL;
}

/* Whether batch b is small: below commit-min publishes and a quarter of
 * batch-bytes (commit-linger and commit-interval hold only those back). */
static int s_small(const fb_writer_t *self, const fb_batch_t *b)
{
    return (long long)b->nitems < self->cfg->commit_min && b->bytes < self->cfg->batch_bytes / 4;
}

/* Whether commit-interval holds batch b back: a small batch, no stop. */
static int s_pacing(const fb_writer_t *self, const fb_batch_t *b)
{
    return self->cfg->commit_interval > 0 && !*self->stop && s_small(self, b);
}

/* Hands the filling batch to the idle writer and fills then (whichever
 * is given, or a spare one); returns 1 when it did. */
static int s_hand_off(fb_writer_t *self, fb_batch_t *then)
{
    fb_batch_t *b = self->fill;
    if (self->busy || b->nitems == 0 || (!then && self->nspare == 0)) return 0;
    if (self->cfg->commit_linger > 0 && !*self->stop && s_small(self, b) &&
        fb_time_mono_us() - b->first_us < self->cfg->commit_linger * 1000)
        return 0;
    int64_t now = fb_time_mono_us();
    if (s_pacing(self, b) && now - self->handed_us < self->cfg->commit_interval) return 0;
    if (zmq_send(self->pipe, &b, sizeof(b), 0) != (int)sizeof(b)) {
        fb_err("writer hand-off: %s", zmq_strerror(errno));
        return 0;
    }
    self->handed_us = now;
    self->busy = b;
    self->busy_sent = 0;
    self->fill = then ? then : self->spare[--self->nspare];
    self->fill->serial = ++self->serial;
    return 1;
}

/* The writer has sent batch b's rows and waits for its COMMIT: a filling
 * batch of commit-min publishes or more goes to it now, or as soon as it
 * has that many, queued behind b, so that its COPY starts as soon as b is
 * stored instead of after a round trip through this thread. (Smaller
 * ones, and every one with commit-linger, keep filling until b is
 * answered, as before.) */
static void s_hand_ahead(fb_writer_t *self, const fb_batch_t *b)
{
    fb_batch_t *f = self->fill;
    if (b != self->busy || self->next || self->nspare == 0 || self->cfg->commit_linger > 0 ||
        (long long)f->nitems < self->cfg->commit_min)
        return;
    if (zmq_send(self->pipe, &f, sizeof(f), 0) != (int)sizeof(f)) {
        fb_err("writer hand-off: %s", zmq_strerror(errno));
        return;
    }
    self->next = f;
    self->handed_us = fb_time_mono_us();
    self->fill = self->spare[--self->nspare];
    self->fill->serial = ++self->serial;
    self->stats->handed_ahead++;
}

int fb_writer_hand_off(fb_writer_t *self)
{
    if (self->busy) {
        if (self->busy_sent) s_hand_ahead(self, self->busy);
        return 0;
    }
    return s_hand_off(self, NULL);
}

int fb_writer_back(fb_writer_t *self)
{
    uint32_t ev = 0;
    size_t sz = sizeof(ev);
    return zmq_getsockopt(self->pipe, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN);
}

int fb_writer_collect(fb_writer_t *self, long wait_ms)
{
    if (!self->busy) return 0;
    zmq_pollitem_t item = {self->pipe, 0, ZMQ_POLLIN, 0};
    if (wait_ms != 0) {
        int rc = zmq_poll(&item, 1, wait_ms);
        if (rc < 0 && errno != EINTR) return -1;
        if (rc <= 0) return 0;
    }
    s_wmsg_t m;
    if (zmq_recv(self->pipe, &m, sizeof(m), ZMQ_DONTWAIT) != (int)sizeof(m)) return 0;
    if (m.sent) {
        if (m.b == self->busy) self->busy_sent = 1;
        s_hand_ahead(self, m.b);
        return 0;
    }
    fb_batch_t *b = m.b;
    uint64_t serial = b->serial; /* renumbered if it fills again at once */
    self->busy = self->next;
    self->busy_sent = 0;
    self->next = NULL;
    /* With nothing queued, the next batch goes to the writer first, so that
     * its COPY runs while this one is answered; the hand-off makes b the
     * filling batch, and nothing is read into it before it is answered and
     * emptied. */
    int refill = !self->busy && s_hand_off(self, b);
    self->answer(self->arg, b);
    self->answered = serial;
    if (!refill) self->spare[self->nspare++] = b;
    return 1;
}

void fb_writer_stop(fb_writer_t *self)
{
    for (;;) {
        if (!self->busy) s_hand_off(self, NULL);
        if (!self->busy || fb_writer_collect(self, -1) < 0) break;
    }
    fb_batch_t *quit = NULL;
    zmq_send(self->pipe, &quit, sizeof(quit), 0);
    pthread_join(self->thread, NULL);
    self->running = 0;
}

uint64_t fb_writer_fill_serial(const fb_writer_t *self)
{
    return self->fill->serial;
}

uint64_t fb_writer_answered(const fb_writer_t *self)
{
    return self->answered;
}

size_t fb_writer_held(const fb_writer_t *self, const char *origin, uint64_t *max_seq)
{
    size_t n = fb_batch_count_origin(self->fill, origin, max_seq);
    if (self->busy) n += fb_batch_count_origin(self->busy, origin, max_seq);
    if (self->next) n += fb_batch_count_origin(self->next, origin, max_seq);
    return n;
}

/* Milliseconds from now until mono time at_us, rounded up; 0 when past. */
static long s_ms_until(int64_t at_us)
{
    int64_t left = at_us - fb_time_mono_us();
    return left <= 0 ? 0 : (long)((left + 999) / 1000);
}

long fb_writer_timeout(const fb_writer_t *self, long timeout)
{
    const fb_batch_t *f = self->fill;
    if (self->busy || f->nitems == 0) return timeout;
    if (self->cfg->commit_linger > 0) {
        /* A lingering batch: wake when its time is up. */
        long ms = s_ms_until(f->first_us + self->cfg->commit_linger * 1000);
        if (ms < timeout) timeout = ms;
    }
    if (s_pacing(self, f)) {
        /* A paced batch: wake when the interval is over. */
        long ms = s_ms_until(self->handed_us + self->cfg->commit_interval);
        if (ms < timeout) timeout = ms;
    }
    return timeout;
}
