/* fb_seal.h — signed provenance: entry hashes, per-origin links, and the seal
 * an origin signs over a run of its envelopes.
 *
 * An origin's envelopes form a chain: each carries in prev_hash (field 10) the
 * entry hash of the origin's previous envelope (32 zero bytes for its first),
 * so a gap, a reordering or an edit breaks a link. The entry hash of an
 * envelope is SHA-256 of its origin bytes: the envelope exactly as the origin
 * sent it, i.e. what is stored or delivered without the broker's stamp (the
 * global_seq and stored_at_us fields the broker appends last).
 *
 * A seal covers the envelopes first_seq..last_seq of one origin, every
 * origin_seq in between. Its root is the Merkle tree hash of RFC 6962,
 * section 2.1, over their entry hashes in origin_seq order (leaf =
 * SHA-256(0x00 || entry hash), node = SHA-256(0x01 || left || right)), so one
 * Ed25519 signature covers the run, and a subscriber that received only one
 * envelope of it can check that envelope against the run's entry hashes. The
 * signed bytes are fixed-width apart from the origin (fb_seal_signed_bytes):
 *
 *   "fedbus-seal-v1" 0x00
 *   origin length (1 byte) || origin (ASCII)
 *   first_seq (8 bytes, big-endian) || last_seq (8 bytes, big-endian)
 *   root (32) || key_id (8) || signed_at_us (8 bytes, big-endian two's complement)
 */
#ifndef FB_SEAL_H
#define FB_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "fb_crypto.h"

#define FB_SEAL_DOMAIN "fedbus-seal-v1"
#define FB_SEAL_ORIGIN_MAX 32
#define FB_SEAL_KEY_ID_LEN 8
/* sizeof domain with its NUL + 1 + origin + 2*8 + 32 + 8 + 8 */
#define FB_SEAL_SIGNED_MAX (sizeof(FB_SEAL_DOMAIN) + 1 + FB_SEAL_ORIGIN_MAX + 16 + FB_SHA256_LEN + FB_SEAL_KEY_ID_LEN + 8)

typedef struct {
    char origin[FB_SEAL_ORIGIN_MAX + 1];
    uint64_t first_seq, last_seq;
    uint8_t root[FB_SHA256_LEN];
    uint8_t key_id[FB_SEAL_KEY_ID_LEN];
    int64_t signed_at_us;
    uint8_t signature[FB_ED25519_SIG_LEN];
} fb_seal_t;

/* The entry hash of an envelope's origin bytes; returns 0 or -1. */
int fb_seal_entry_hash(const void *origin_bytes, size_t len, uint8_t out[FB_SHA256_LEN]);

/* The length of a stored or delivered envelope's origin bytes: len minus the
 * broker's stamp for (global_seq, stored_at_us), which must be its exact
 * suffix. Returns -1 when it is not (the envelope was not stamped so, or
 * altered). */
long fb_seal_origin_len(const uint8_t *envelope, size_t len, uint64_t global_seq, int64_t stored_at_us);

/* The RFC 6962 Merkle tree hash of n entry hashes (n >= 1) into root;
 * returns 0, or -1 for n == 0 or a hashing failure. */
int fb_seal_root(const uint8_t (*entries)[FB_SHA256_LEN], size_t n, uint8_t root[FB_SHA256_LEN]);

/* Writes the bytes a seal's signature covers into out (FB_SEAL_SIGNED_MAX
 * bytes) and returns their length, or 0 when the seal is not well-formed
 * (origin not 1-32 of [a-z0-9-], last_seq < first_seq, first_seq 0, a
 * sequence above 2^63-1). */
size_t fb_seal_signed_bytes(const fb_seal_t *s, uint8_t out[FB_SEAL_SIGNED_MAX]);

/* Signs the seal with an Ed25519 secret seed, filling s->signature; returns 0
 * or -1 (also when the seal is not well-formed). */
int fb_seal_sign(fb_seal_t *s, const uint8_t secret[FB_ED25519_KEY_LEN]);

/* Signs the seal as fb_seal_sign() does, with a signer made once for many
 * seals (half the CPU time of fb_seal_sign()); returns 0 or -1. */
int fb_seal_sign_with(fb_seal_t *s, fb_ed25519_signer_t *signer);

/* Returns 1 when s->signature is pub's over the seal, 0 otherwise. */
int fb_seal_verify(const fb_seal_t *s, const uint8_t pub[FB_ED25519_KEY_LEN]);

#endif
