/* fb_feedseal.h — the seal frames a subscriber took from the feed, kept unchecked until a message needs one.
 *
 * The broker sends each verified seal on the feed before the messages it
 * covers (docs/protocol.md, "Feed", seal frames). A subscriber keeps the
 * recent ones here, as decoded, without checking them: most cover messages
 * of topics it does not take. When a delivered message has no checked seal
 * yet (fb_verifier_check() says 0), fb_feedseal_take() hands over the kept
 * seals of its origin whose range covers its origin_seq, to be checked once
 * (fb_verifier_try_proof()) and kept by the verifier. Nothing here is
 * trusted: a seal is only as good as the signature the verifier checks.
 *
 * Bounds: at most FB_FEEDSEAL_MAX seals and FB_FEEDSEAL_BYTES bytes of
 * entry hashes together, across origins; past either, the oldest seal goes
 * (counted: its messages then fall back to a replay look-up). Each seal
 * holds at most FB_WIRE_FEED_SEAL_ENTRIES_MAX entries (32 KiB). Pure: no
 * socket. Not thread-safe. */
#ifndef FB_FEEDSEAL_H
#define FB_FEEDSEAL_H

#include "fb_seal.h"

#include <stddef.h>
#include <stdint.h>

#define FB_FEEDSEAL_MAX 1024             /* seals kept */
#define FB_FEEDSEAL_BYTES (8u << 20)     /* bytes of entry hashes kept, at most */

typedef struct fb_feedseal fb_feedseal_t;

/* What the cache did so far. */
typedef struct {
    uint64_t taken;   /* seal frames kept */
    uint64_t bad;     /* seal frames that did not decode (ignored) */
    uint64_t evicted; /* seals dropped for room before a message needed them */
    uint64_t used;    /* seals handed to the verifier */
} fb_feedseal_stats_t;

/* Returns an empty cache, or NULL when out of memory. */
fb_feedseal_t *fb_feedseal_new(void);

/* Accepts NULL and *self_p == NULL; nulls *self_p. */
void fb_feedseal_destroy(fb_feedseal_t **self_p);

/* Takes one feed frame (len bytes, borrowed). Returns 1 when it was a seal
 * frame and is kept, 0 when it is not a seal frame (it does not start with
 * FB_WIRE_FEED_SEAL_MARK and a NUL), -1 when it is one that does not decode
 * or is not a seal of a run (first_seq 0 or above last_seq, more entries
 * than origin_seqs): counted in bad and ignored, or when out of memory. */
int fb_feedseal_add(fb_feedseal_t *self, const uint8_t *frame, size_t len);

/* Called by fb_feedseal_take() for each seal handed over (seal and entries
 * valid for the call only). */
typedef void (*fb_feedseal_fn)(void *arg, const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN], size_t n);

/* Hands every kept seal of origin (olen bytes) whose range holds seq to fn,
 * oldest first, and forgets it. Returns how many. */
size_t fb_feedseal_take(fb_feedseal_t *self, const char *origin, size_t olen, uint64_t seq, fb_feedseal_fn fn,
                        void *arg);

/* Called by fb_feedseal_take_own() for each seal handed over: entries
 * (malloc'd) are fn's to keep when it returns 1 (it frees them with
 * free()); when it returns 0 the cache frees them after the call. */
typedef int (*fb_feedseal_own_fn)(void *arg, const fb_seal_t *seal, uint8_t (*entries)[FB_SHA256_LEN], size_t n);

/* fb_feedseal_take() that lets fn keep each seal's entries instead of
 * copying them. Returns how many seals were handed over. */
size_t fb_feedseal_take_own(fb_feedseal_t *self, const char *origin, size_t olen, uint64_t seq,
                            fb_feedseal_own_fn fn, void *arg);

/* How many seals, and bytes of entries, are kept now. */
size_t fb_feedseal_count(const fb_feedseal_t *self, size_t *bytes);

void fb_feedseal_get_stats(const fb_feedseal_t *self, fb_feedseal_stats_t *out);

#endif
