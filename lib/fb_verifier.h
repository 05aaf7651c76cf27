/* fb_verifier.h — what a subscriber checks delivered envelopes with: the members' signing keys and the seals it verified.
 *
 * A delivered envelope is verified (docs/protocol.md, "Proofs in replay")
 * when its entry hash (SHA-256 of the envelope without the broker's stamp)
 * is the entry at its origin_seq of a seal of its origin whose RFC 6962
 * root is the seal's root and whose Ed25519 signature verifies with the
 * origin's key key_id, valid at signed_at_us. A seal is checked once, when
 * its proof is added, and kept (the last S_SEALS of them, per origin and
 * origin_seq range): one signature covers every envelope of its frame.
 * Pure: no socket. Not thread-safe. */
#ifndef FB_VERIFIER_H
#define FB_VERIFIER_H

#include "fb_seal.h"
#include "fb_wire.h"

#include <stddef.h>
#include <stdint.h>

/* fb_verifier_add_proof()'s answer for a seal signed with a key_id the
 * directory does not hold (yet): fetch the directory again, then retry. */
#define FB_VERIFIER_UNKNOWN_KEY 2

typedef struct fb_verifier fb_verifier_t;

/* Returns an empty verifier (no keys, no seals), or NULL when out of memory. */
fb_verifier_t *fb_verifier_new(void);

/* Accepts NULL and *self_p == NULL; nulls *self_p. */
void fb_verifier_destroy(fb_verifier_t **self_p);

/* Forgets every key (before a directory is loaded again). Seals checked
 * already stay. */
void fb_verifier_clear_keys(fb_verifier_t *self);

/* Adds member's Ed25519 key (32 bytes) of key_id (8 bytes), valid in
 * [from_us, until_us) (until_us 0: no end). Returns 0, or -1 when out of
 * memory or member is not 1-32 characters. */
int fb_verifier_add_key(fb_verifier_t *self, const char *member, const uint8_t *key_id, const uint8_t *pub,
                        int64_t from_us, int64_t until_us);

/* How many keys are held. */
size_t fb_verifier_nkeys(const fb_verifier_t *self);

/* Checks a seal with its n entry hashes: the root, the key (the seal's
 * origin's, of key_id, valid at signed_at_us) and the signature. A seal
 * that passes is kept to verify envelopes with; one that fails is kept
 * too, with why, so that the envelopes it covers are reported failing.
 * Returns 1 (valid), 0 (invalid: why says so), FB_VERIFIER_UNKNOWN_KEY
 * (nothing kept; only while keys_final is 0: with it, an unknown key makes
 * the seal invalid), or -1 when out of memory. */
int fb_verifier_add_proof(fb_verifier_t *self, const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN],
                          size_t n, int keys_final, char *why, size_t why_size);

/* fb_verifier_add_proof() for a seal from an untrusted source (the feed,
 * which anyone in the path could have forged): one that fails is not kept,
 * so that it cannot fail the envelopes a good seal verifies. Returns the
 * same. */
int fb_verifier_try_proof(fb_verifier_t *self, const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN],
                          size_t n, int keys_final, char *why, size_t why_size);

/* fb_verifier_try_proof() of entries the caller malloc'd: when the seal
 * is kept (it verified), the verifier keeps *entries themselves, not a
 * copy, frees them when it drops the seal, and sets *entries to NULL;
 * otherwise *entries stay the caller's. Returns the same. */
int fb_verifier_try_proof_own(fb_verifier_t *self, const fb_seal_t *seal, uint8_t (**entries)[FB_SHA256_LEN],
                              size_t n, int keys_final, char *why, size_t why_size);

/* Keeps seal as failing, with why (the reason it could not be checked), so
 * that the envelopes it covers are reported failing unless a good copy of
 * it is added later. Returns 0, or -1 when out of memory. */
int fb_verifier_add_failed(fb_verifier_t *self, const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN],
                           size_t n, const char *why);

/* Checks one stored or delivered envelope (its origin, origin_seq,
 * global_seq and stored_at_us as read from it) against the seals kept.
 * Returns 1 (verified), -1 (fails: why says so), or 0 when no kept seal
 * covers its origin_seq (a proof is to be fetched; without one it is
 * unsigned). */
int fb_verifier_check(fb_verifier_t *self, const uint8_t *env, size_t len, char *why, size_t why_size);

/* fb_verifier_check() of an envelope whose fields h holds already
 * (fb_wire_envelope_scan() of env, which succeeded): the same answer,
 * without scanning env again. hash and *hashed carry env's entry hash
 * from one call to the next (*hashed 0 before the first): a subscriber
 * that asks again after adding a seal does not hash env twice. */
int fb_verifier_check_scanned(fb_verifier_t *self, const uint8_t *env, size_t len, const fb_envelope_head_t *h,
                              uint8_t hash[FB_SHA256_LEN], int *hashed, char *why, size_t why_size);

#endif
