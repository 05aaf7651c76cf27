/* fb_crypto.h — the one place fedbus calls OpenSSL: hashes, randomness and Ed25519. */
#ifndef FB_CRYPTO_H
#define FB_CRYPTO_H
#include <stddef.h>
#include <stdint.h>

#define FB_SHA256_LEN 32
#define FB_UUID_LEN 16
#define FB_ED25519_KEY_LEN 32 /* a public key, or a secret key's 32-byte seed */
#define FB_ED25519_SIG_LEN 64

/* Writes SHA-256 of data into out; returns 0, or -1 when OpenSSL fails. */
int fb_sha256(const void *data, size_t len, uint8_t out[FB_SHA256_LEN]);

/* Writes SHA-256 of the concatenation of n byte ranges into out; returns 0 or -1. */
int fb_sha256_parts(const void *const *parts, const size_t *lens, size_t n, uint8_t out[FB_SHA256_LEN]);

/* Fills out with len cryptographically random bytes; returns 0 or -1. */
int fb_random(void *out, size_t len);

/* Writes a UUIDv7 (48-bit Unix milliseconds, then random) into out, so that
 * message ids sort by creation time; returns 0 or -1. */
int fb_uuid_v7(int64_t unix_us, uint8_t out[FB_UUID_LEN]);

/* Whether id is a UUIDv7: version nibble 7 and the RFC 9562 variant (10xx).
 * fedbus message ids must be (the store is partitioned by their time). */
int fb_uuid_is_v7(const uint8_t id[FB_UUID_LEN]);

/* The Unix milliseconds in the first 48 bits of a UUIDv7. */
int64_t fb_uuid_v7_ms(const uint8_t id[FB_UUID_LEN]);

/* The smallest UUID of millisecond ms: ms in the first 48 bits, the other
 * 80 bits zero. Every UUIDv7 made at ms or later sorts at or above it (a
 * partition bound of the store). */
void fb_uuid_of_ms(int64_t ms, uint8_t out[FB_UUID_LEN]);

/* Formats a 16-byte id as 8-4-4-4-12 lowercase hex into out (>= 37 bytes). */
void fb_uuid_format(const uint8_t id[FB_UUID_LEN], char out[37]);

/* Parses 8-4-4-4-12 hex (either case) or 32 bare hex digits; returns 0 or -1. */
int fb_uuid_parse(const char *s, uint8_t out[FB_UUID_LEN]);

/* Makes a new Ed25519 key pair: the public key and the secret seed (RFC 8032);
 * returns 0 or -1. */
int fb_ed25519_keypair(uint8_t pub[FB_ED25519_KEY_LEN], uint8_t secret[FB_ED25519_KEY_LEN]);

/* Derives the public key of a secret seed; returns 0 or -1. */
int fb_ed25519_public(const uint8_t secret[FB_ED25519_KEY_LEN], uint8_t pub[FB_ED25519_KEY_LEN]);

/* Signs msg with the secret seed (pure Ed25519, no pre-hash); returns 0 or -1. */
int fb_ed25519_sign(const uint8_t secret[FB_ED25519_KEY_LEN], const void *msg, size_t len,
                    uint8_t sig[FB_ED25519_SIG_LEN]);

/* A secret seed made ready for signing once: fb_ed25519_sign() derives the
 * public key from the seed on every call, which costs as much as the
 * signature itself; a signer derives it when it is made. */
typedef struct fb_ed25519_signer fb_ed25519_signer_t;

/* Returns a signer of the secret seed (copied), or NULL when OpenSSL fails
 * or memory runs out. */
fb_ed25519_signer_t *fb_ed25519_signer_new(const uint8_t secret[FB_ED25519_KEY_LEN]);

/* Frees the signer and its copy of the seed; accepts NULL and *self_p == NULL. */
void fb_ed25519_signer_destroy(fb_ed25519_signer_t **self_p);

/* Signs msg as fb_ed25519_sign() does with the signer's seed (the same
 * signature: Ed25519 is deterministic); returns 0 or -1. */
int fb_ed25519_signer_sign(fb_ed25519_signer_t *self, const void *msg, size_t len, uint8_t sig[FB_ED25519_SIG_LEN]);

/* Returns 1 when sig is pub's signature of msg, 0 when it is not (or on any
 * failure: a caller never mistakes an error for a good signature). */
int fb_ed25519_verify(const uint8_t pub[FB_ED25519_KEY_LEN], const void *msg, size_t len,
                      const uint8_t sig[FB_ED25519_SIG_LEN]);

#endif
