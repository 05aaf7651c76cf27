/* fb_signed_dir.h — the member directory signed by the broker's Ed25519 key, so that a verifier can take it from anyone.
 *
 * A signed directory is one JSON object:
 *
 *   {"fedbus_signed_directory": 1, "directory": TEXT, "key_id": HEX16,
 *    "public_key": B64, "signed_at_us": N, "signature": B64}
 *
 * TEXT is the directory's JSON text (export-directory's document) as a
 * string, so that the signed bytes are exactly those characters whatever
 * the reader's JSON library. The signature is Ed25519 (RFC 8032) over
 *
 *   "fedbus-directory-v1" 0x00 || key_id (8) || signed_at_us (8, big-endian) || TEXT (UTF-8)
 *
 * A verifier checks it with the broker's public key it obtained on its own
 * (the broker's .pub file): the public_key field only says which key signed. */
#ifndef FB_SIGNED_DIR_H
#define FB_SIGNED_DIR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "fb_keys.h"
#include "fedbus/fedbus.h"

#define FB_SIGNED_DIR_DOMAIN "fedbus-directory-v1"

/* Signs dir (borrowed) with k's Ed25519 secret at at_us; returns the signed
 * document (new reference), or NULL with the reason in err. */
json_t *fb_signed_dir_sign(const json_t *dir, const fb_keys_t *k, int64_t at_us, char *err, size_t err_size);

/* Opens doc (borrowed): a signed directory is checked against broker_pub
 * (NULL: not checked, *checked = 0) and its directory returned; a plain
 * directory is returned as it is (*checked = 0). Returns a new reference,
 * or NULL with the reason in err (a signature that does not verify, a key
 * that is not broker_pub, a document that is neither). */
json_t *fb_signed_dir_open(const json_t *doc, const uint8_t *broker_pub, int *checked, char *err, size_t err_size);

/* Reads the member directory file at path (plain, or signed; with
 * broker_key, a key file, it must be signed by that key) into *keys (n of
 * them; the caller frees *keys), for a subscriber to pin. Returns 0, or -1
 * with the reason in err (a file that cannot be read, a signature that
 * does not verify, a key that is not valid). */
int fb_signed_dir_load_keys(const char *path, const char *broker_key, fb_signing_key_t **keys, size_t *n, char *err,
                            size_t err_size);

#endif
