/* fb_verify.h — the broker checks what an origin signed before anything of it is stored.
 *
 * A PublishBatch frame may carry a seal (docs/protocol.md, "Signed
 * provenance"). Its envelopes are checked as a group, in this order, and
 * the first failure refuses every envelope of the frame:
 *   1. the seal's root is the Merkle root of the envelopes' entry hashes,
 *      and the seal names their origin and their first and last origin_seq
 *      (BAD_SIGNATURE);
 *   2. the signing key is the origin's, registered, and the seal was signed
 *      inside its validity window and not ahead of the broker's clock
 *      (KEY_NOT_VALID);
 *   3. the Ed25519 signature verifies (BAD_SIGNATURE).
 * Then the links: per origin the broker keeps the chain's head, the last
 * envelope it took into the chain (its origin_seq and entry hash). Each
 * envelope above the head must carry the head's hash as prev_hash and
 * becomes the head; one that does not is refused BROKEN_CHAIN, and so is
 * every later one of the frame. An envelope at or below the head is a
 * resend: it is judged as before (duplicate, stale), its link was checked
 * when it first came.
 *
 * A frame without a seal is refused BAD_SIGNATURE when signatures are
 * required, and taken as before when they are optional.
 *
 * The main thread alone calls it. */
#ifndef FB_VERIFY_H
#define FB_VERIFY_H

#include "fb_arena.h"
#include "fb_batch.h"
#include "fb_keys.h"
#include "fb_seal.h"

#include <stdint.h>

/* A member's signing key as the registry holds it. */
typedef struct {
    uint8_t pub[FB_ED25519_KEY_LEN];
    int64_t valid_from_us;
    int64_t valid_until_us; /* 0: no end */
} fb_verify_key_t;

/* Looks up member's signing key key_id: returns 1 and fills *out, or 0 when
 * the member has no such key. */
typedef int (*fb_verify_key_fn)(void *ctx, const char *member, const uint8_t key_id[FB_KEY_ID_LEN],
                                fb_verify_key_t *out);

typedef struct {
    int required;         /* a frame without a seal is refused */
    int64_t max_ahead_us; /* a seal signed further ahead of the broker's clock is refused */
    fb_verify_key_fn key;
    void *key_ctx;
} fb_verify_opts_t;

/* What the writer stores of a frame whose seal verified: the seal, the
 * entry hashes and origin_seqs of all its envelopes, and the chain's head
 * after it. */
typedef struct fb_verify_proof {
    fb_seal_t seal;
    size_t n;
    uint8_t (*entries)[FB_SHA256_LEN];
    uint64_t *seqs;
    uint64_t head_seq;
    uint8_t head_hash[FB_SHA256_LEN];
    int advanced; /* the frame moved the head: anything but resends */
} fb_verify_proof_t;

/* Counts, for the stats line. */
typedef struct {
    uint64_t sealed, unsealed, bad_signature, key_not_valid, broken_chain;
} fb_verify_stats_t;

typedef struct fb_verify fb_verify_t;

/* Returns a verifier as *o says, or NULL when out of memory. */
fb_verify_t *fb_verify_new(const fb_verify_opts_t *o);
void fb_verify_destroy(fb_verify_t **self_p);

/* Sets origin's chain head (at start, from what the store holds). Returns
 * 0, or -1 when out of memory. */
int fb_verify_set_head(fb_verify_t *self, const char *origin, uint64_t seq, const uint8_t hash[FB_SHA256_LEN]);

/* origin's chain head, for its Welcome: returns 1 and fills *seq, hash; 0
 * when the broker has taken nothing of it into a chain. */
int fb_verify_head(const fb_verify_t *self, const char *origin, uint64_t *seq, uint8_t hash[FB_SHA256_LEN]);

/* Checks the n items of one frame (items[0..n), in the frame's order)
 * against seal (NULL: the frame had none), as the header says; refuses
 * what fails with fb_batch_reject() (details in arena). Items refused
 * before keep their refusal. Returns the proof to store (in arena), or NULL
 * when there is none (no seal, or it was refused). */
const fb_verify_proof_t *fb_verify_group(fb_verify_t *self, fb_arena_t *arena, fb_batch_item_t *items, size_t n,
                                         const fb_seal_t *seal, int64_t now_us);

/* The counts so far. */
void fb_verify_get_stats(const fb_verify_t *self, fb_verify_stats_t *out);

#endif
