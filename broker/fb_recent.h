/* fb_recent.h — the (origin, message_id) pairs stored last, as 64-bit fingerprints.
 *
 * The writer asks it, for each publish whose origin_seq is above its origin's
 * head, whether its id may be stored already (a resend under a new origin_seq:
 * a re-POST to a node, a publisher that lost its place). Only those are looked
 * up in the store before the COPY; the others cannot conflict unless they are
 * older than what this set remembers, and then the COPY's conflict still
 * catches them. A wrong "yes" (a fingerprint collision, about one in 2^64 per
 * question) costs a look-up; a wrong "no" cannot happen within its memory.
 *
 * Two generations of fingerprints, each an open-addressing table at most a
 * quarter full (so that a question costs about one cache line): new ones go
 * into the current one; when it holds `keep` the older one is emptied and
 * becomes the current. So the last `keep` to 2 * `keep` pairs added are
 * remembered, in constant memory (64 bytes per pair of `keep`). */
#ifndef FB_RECENT_H
#define FB_RECENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct fb_recent fb_recent_t;

/* Returns a set that remembers at least the last keep pairs added, or NULL
 * when out of memory. */
fb_recent_t *fb_recent_new(size_t keep);

/* Frees *self_p (accepts NULL; sets *self_p to NULL). */
void fb_recent_destroy(fb_recent_t **self_p);

/* The fingerprint of (origin, 16-byte message_id); never 0. */
uint64_t fb_recent_key(const char *origin, const uint8_t *message_id);

/* Returns 1 when key was added and is still remembered (or collides with one
 * that is), else 0. */
int fb_recent_has(const fb_recent_t *self, uint64_t key);

/* Asks the memory for key's slots ahead of fb_recent_has() or fb_recent_add(),
 * so that a batch's probes overlap instead of waiting one after the other. */
void fb_recent_prefetch(const fb_recent_t *self, uint64_t key);

/* Remembers key. One the current generation holds already changes nothing;
 * one only the older generation holds is added again, to be kept longer. */
void fb_recent_add(fb_recent_t *self, uint64_t key);

/* How many pairs it remembers now. */
size_t fb_recent_size(const fb_recent_t *self);

#endif
