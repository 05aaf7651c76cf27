/* fb_answers.h — last answers to ROUTER peers whose queue is full, kept (bounded) and sent once they read.
 *
 * An answer that ends an exchange (a replay's refusal or error chunk) is
 * the only thing its client waits for: dropped, the client would wait for
 * its own timeout without knowing why. fb_answers_send() sends it at once
 * when the peer's queue takes it, else keeps it and offers it again every
 * few milliseconds until it does. What is kept is bounded: a few answers a
 * peer, a few hundred in all, each for at most stall_ms; an answer beyond
 * that is dropped, counted and logged (once a minute a peer). Main thread
 * only. */
#ifndef FB_ANSWERS_H
#define FB_ANSWERS_H

#include "fb_pace.h"

#include <stdint.h>
#include <zmq.h>

#define FB_ANSWERS_PER_PEER 8 /* answers kept for one peer */
#define FB_ANSWERS_MAX 256    /* ... for all peers together */

typedef struct fb_answers fb_answers_t;

/* Returns the answers of router (borrowed: it outlives them), kept at most
 * stall_ms each, logged through pace (borrowed; one line a minute a peer);
 * NULL when out of memory. */
fb_answers_t *fb_answers_new(void *router, int stall_ms, fb_pace_t *pace);

/* Frees *self_p and the answers it kept (accepts NULL; sets *self_p to NULL). */
void fb_answers_destroy(fb_answers_t **self_p);

/* Sends body (taken over) to the peer ident (copied) now, or keeps it when
 * the peer's queue is full. Returns 0 when sent or kept, 1 when the peer is
 * gone (nothing to tell), -1 when dropped because too many answers are kept
 * (counted and logged). request_id names the answer in log lines. */
int fb_answers_send(fb_answers_t *self, const zmq_msg_t *ident, zmq_msg_t *body, uint64_t request_id);

/* Offers again, in the order they were kept, the answers last offered
 * 5 ms ago or more; drops (counted, logged) those kept longer than
 * stall_ms. now is fb_time_mono_us(). */
void fb_answers_flush(fb_answers_t *self, int64_t now);

/* Microseconds until an answer kept is due (0: now), or -1 when none is kept. */
int64_t fb_answers_wait_us(const fb_answers_t *self, int64_t now);

/* Answers dropped so far (too many kept, or kept longer than stall_ms). */
uint64_t fb_answers_dropped(const fb_answers_t *self);

#endif
