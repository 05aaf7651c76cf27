/* fb_chain.h — the node's side of signed provenance: links each publish to the
 * previous one of its origin, and seals every frame it sends.
 *
 * A signing node (one with a key file) stamps every publish with prev_hash,
 * the entry hash of the publish before it (docs/protocol.md, "Signed
 * provenance"), and sends every frame as a PublishBatch with a seal over its
 * envelopes. The chain's head is the entry hash of the newest publish held,
 * or, when none is, of the last one the broker has read (Welcome.chain_hash).
 * What the broker has not read is re-linked at each Welcome, so that a
 * restart, a lost journal tail or a renumbering never leaves a link the
 * broker cannot follow: those publishes are the node's own and it signs
 * them again.
 *
 * Re-linking rewrites 32 bytes inside a frame, in place, and is not
 * journaled: after a crash the journal's bytes are re-linked again at the
 * next Welcome, and a publish the broker had read is answered as before (its
 * content hash does not cover prev_hash).
 *
 * Not thread-safe: the node loop's thread alone calls it. */
#ifndef FB_CHAIN_H
#define FB_CHAIN_H

#include "fb_keys.h"
#include "fb_outbox.h"
#include "fb_seal.h"
#include "fb_wire.h"

#include <stdbool.h>

typedef struct fb_chain fb_chain_t;

/* A chain for keys (copied; must hold the secrets) over outbox (not owned):
 * the entries held get their entry hashes, the head is the newest one's.
 * NULL when out of memory or keys hold no secret. */
fb_chain_t *fb_chain_new(const fb_keys_t *keys, fb_outbox_t *outbox);
void fb_chain_destroy(fb_chain_t **self_p);

/* Sets s->prev_hash to the head, for the publish about to be appended. */
void fb_chain_stamp(fb_chain_t *self, fb_wire_origin_stamp_t *s);

/* After e (stamped by fb_chain_stamp()) was appended: fills e->hash and
 * moves the head to it. Returns 0, or -1 when hashing failed. */
int fb_chain_appended(fb_chain_t *self, fb_outbox_entry_t *e);

/* At a Welcome: the broker has read this origin's chain up to seq with
 * entry hash head (NULL: it holds no chain of this origin). Every entry held
 * above seq is linked anew from there, in order; the head follows. Returns
 * how many entries changed, or -1 when a frame is not one this node
 * stamped (left as it was). */
int fb_chain_relink(fb_chain_t *self, uint64_t seq, const uint8_t *head);

/* Fills *s with the seal over entries[0..n) (in origin_seq order) signed
 * now. Returns 0, -1 (out of memory, OpenSSL failed: try again), or
 * FB_CHAIN_UNSEALABLE when an origin_seq is beyond what a seal may name
 * (2^63-1, as the broker stores): such a frame goes unsealed, and the
 * broker refuses its publishes INVALID_FIELD, which reaches the submitter. */
#define FB_CHAIN_UNSEALABLE (-2)
int fb_chain_seal(fb_chain_t *self, fb_outbox_entry_t *const *entries, size_t n, fb_seal_t *s);

/* The member id and the key id this chain signs with. */
const char *fb_chain_member(const fb_chain_t *self);

#endif
