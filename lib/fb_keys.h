/* fb_keys.h — a member's (or the broker's) key files: a CURVE pair for the
 * link, an Ed25519 pair for signing.
 *
 * A key file is INI text. The secret file NAME.key (mode 0600) holds:
 *
 *   member       = kr-seoul
 *   curve-public = 40 Z85 characters (ZeroMQ's form of a CURVE key)
 *   curve-secret = 40 Z85 characters
 *   sign-public  = 44 base64 characters (an Ed25519 public key)
 *   sign-secret  = 44 base64 characters (its 32-byte seed, RFC 8032)
 *   sign-key-id  = 16 hex digits: the first 8 bytes of SHA-256(sign-public)
 *   created      = 2026-12-02T10:00:00Z
 *
 * The public file NAME.pub holds the same without the two secrets; it is
 * what a member sends to the federation's admin, and fits an e-mail. */
#ifndef FB_KEYS_H
#define FB_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb_crypto.h"

#define FB_CURVE_RAW_LEN 32
#define FB_CURVE_Z85_LEN 40
#define FB_KEY_ID_LEN 8
#define FB_KEY_ID_HEX_LEN 16
#define FB_ED25519_B64_LEN 44
#define FB_KEYS_MEMBER_MAX 32

typedef struct {
    char member[FB_KEYS_MEMBER_MAX + 1];
    uint8_t curve_public[FB_CURVE_RAW_LEN];
    uint8_t curve_secret[FB_CURVE_RAW_LEN];
    uint8_t sign_public[FB_ED25519_KEY_LEN];
    uint8_t sign_secret[FB_ED25519_KEY_LEN];
    uint8_t sign_key_id[FB_KEY_ID_LEN];
    int64_t created_us;
    bool has_secret; /* read from a secret file: both secrets are set and checked */
} fb_keys_t;

/* Makes fresh CURVE and Ed25519 pairs for member (1-32 of [a-z0-9-]);
 * returns 0, or -1 with the reason in err. */
int fb_keys_generate(const char *member, fb_keys_t *out, char *err, size_t err_size);

/* Writes the secret file (created 0600, never over an existing file unless
 * overwrite) and, when public_path is not NULL, the public file (0644).
 * Returns 0, or -1 with the reason in err (nothing is left half-written). */
int fb_keys_write(const fb_keys_t *k, const char *secret_path, const char *public_path, bool overwrite,
                  char *err, size_t err_size);

/* Reads a secret or a public key file into out. A secret file must not be
 * readable by group or others, and its public keys must be the ones its
 * secrets make. Returns 0, or -1 with "PATH: reason" in err. */
int fb_keys_read(const char *path, fb_keys_t *out, char *err, size_t err_size);

/* Writes the public file's text (member, both public keys, key id, created)
 * into buf; returns its length, or -1 when buf is too small. */
int fb_keys_format_public(const fb_keys_t *k, char *buf, size_t size);

/* The id of an Ed25519 public key: the first 8 bytes of its SHA-256. */
void fb_keys_id(const uint8_t pub[FB_ED25519_KEY_LEN], uint8_t id[FB_KEY_ID_LEN]);

/* Text forms. Each encoder writes a NUL-terminated string into out (sized
 * for the text plus NUL); each decoder returns 0, or -1 when the text is not
 * exactly one key of that form. */
void fb_keys_z85(const uint8_t key[FB_CURVE_RAW_LEN], char out[FB_CURVE_Z85_LEN + 1]);
int fb_keys_z85_parse(const char *text, uint8_t key[FB_CURVE_RAW_LEN]);
void fb_keys_b64(const uint8_t key[FB_ED25519_KEY_LEN], char out[FB_ED25519_B64_LEN + 1]);
int fb_keys_b64_parse(const char *text, uint8_t key[FB_ED25519_KEY_LEN]);
void fb_keys_id_hex(const uint8_t id[FB_KEY_ID_LEN], char out[FB_KEY_ID_HEX_LEN + 1]);
int fb_keys_id_parse(const char *text, uint8_t id[FB_KEY_ID_LEN]);

#endif
