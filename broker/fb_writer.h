/* fb_writer.h — group commit: the writer thread that stores batches, and the main thread's side of the hand-off.
 *
 * Three batches: one filling on the main thread, one with the writer, and one
 * handed ahead behind it when the filling one grew large while the writer
 * committed (or a spare). The writer thread owns the writing PostgreSQL
 * connection and its own copy of the stored heads: it classifies a batch,
 * looks up what it must, numbers the new publishes, COPYs and COMMITs, and
 * retries while PostgreSQL is away. The two threads meet only over an inproc
 * PAIR that carries batch pointers; a batch belongs to one of them at a time.
 * Every function here but the thread itself is the main thread's. */
#ifndef FB_WRITER_H
#define FB_WRITER_H

#include "fb_batch.h"
#include "fb_broker.h"
#include "fb_broker_stats.h"
#include "fb_map.h"

#include <signal.h>
#include <stdint.h>

typedef struct fb_writer fb_writer_t;

/* Called on the main thread with each batch the writer hands back: stored,
 * or dropped (b->dropped) when a stop came while the store was away. The
 * callee answers it and releases it (fb_batch_release()). */
typedef void(fb_writer_answer_fn)(void *arg, fb_batch_t *b);

/* Opens the writer's connection to cfg->pg (migrating the schema, taking the
 * single-writer lock), reads the stored heads and the ids stored last, and
 * makes the batches and the hand-off. cfg and stats (handed_ahead is counted
 * into it) are borrowed from the broker. Returns NULL after logging why. */
fb_writer_t *fb_writer_new(const fb_broker_config_t *cfg, fb_writer_answer_fn *answer, void *arg,
                           fb_broker_stats_t *stats);

/* Stops the thread if it runs (answering only the batch it holds), frees
 * *self_p (accepts NULL; sets *self_p to NULL). */
void fb_writer_destroy(fb_writer_t **self_p);

/* The highest global_seq stored and each origin's highest origin_seq
 * (origin -> value), as read at fb_writer_new(); not to be read once the
 * thread runs. */
uint64_t fb_writer_head(const fb_writer_t *self);
const fb_map_t *fb_writer_heads(const fb_writer_t *self);

/* Before fb_writer_start(): calls fn(arg, origin, seq, hash) with every
 * origin's signed chain head the store holds. Returns 0, or -1 (logged). */
int fb_writer_chain_heads(fb_writer_t *self, int (*fn)(void *arg, const char *origin, uint64_t seq, const uint8_t *hash),
                          void *arg);

/* Starts the writer thread; a batch held while the store is away is dropped
 * once *stop is set. Returns 0, or -1 after logging why. */
int fb_writer_start(fb_writer_t *self, volatile sig_atomic_t *stop);

/* Stores and answers every batch held (with the writer, queued, filling),
 * then ends the thread, which writes the origin heads. */
void fb_writer_stop(fb_writer_t *self);

/* The main thread's end of the hand-off, to poll: readable when the writer
 * has something to say. */
void *fb_writer_socket(fb_writer_t *self);

/* The batch to read publishes into. */
fb_batch_t *fb_writer_filling(fb_writer_t *self);

/* Whether a batch is with the writer. */
int fb_writer_busy(const fb_writer_t *self);

/* Whether the writer has said something (without waiting). */
int fb_writer_back(fb_writer_t *self);

/* Hands the filling batch to the writer when it is idle and the batch may go
 * (commit-linger, commit-interval); returns 1 when it went. While the writer
 * waits for a COMMIT, a filling batch of commit-min publishes is queued
 * behind it instead (handed_ahead; returns 0). */
int fb_writer_hand_off(fb_writer_t *self);

/* Takes one message of the writer, waiting up to wait_ms for it (-1: as long
 * as it takes), and answers the batch it stored; returns 1 when one was
 * answered, 0 when none, -1 when the wait failed. */
int fb_writer_collect(fb_writer_t *self, long wait_ms);

/* Batches are numbered as they start to fill, from 1 on, and answered in
 * that order. The number of the filling batch: */
uint64_t fb_writer_fill_serial(const fb_writer_t *self);

/* ... and of the last batch answered (0: none yet). */
uint64_t fb_writer_answered(const fb_writer_t *self);

/* How many publishes of origin the batches hold that are not answered yet
 * (filling, with the writer, queued behind it); raises *max_seq to their
 * highest origin_seq. */
size_t fb_writer_held(const fb_writer_t *self, const char *origin, uint64_t *max_seq);

/* timeout, or less when a lingering or paced filling batch is due sooner
 * (milliseconds, for the loop's poll). */
long fb_writer_timeout(const fb_writer_t *self, long timeout);

#endif
