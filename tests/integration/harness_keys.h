/* harness_keys.h — key files for the integration harness, made with lib/fb_keys.
 *
 * Apart from harness.c, so that the harness's callers need not see the
 * key-file layer. */
#ifndef HARNESS_KEYS_H
#define HARNESS_KEYS_H

#include <stddef.h>

/* Fresh keys for member id (fb_keys_generate), written to secret_path
 * (0600) and pub_path; their public parts as text: the CURVE pair in Z85
 * (41 bytes each with the NUL), the Ed25519 public key and its id in hex
 * (65 and 17 bytes). Returns 0, or -1 with the reason in err. */
int th_keys_generate(const char *id, const char *secret_path, const char *pub_path, char *curve_public,
                     char *curve_secret, char *sign_public_hex, char *sign_key_id_hex, char *err, size_t err_size);

#endif
