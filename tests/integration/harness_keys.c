/* harness_keys.c — the harness's key files, through lib/fb_keys (see harness_keys.h for why apart). */
#include "harness_keys.h"

#include "fb_keys.h"

#include <stdio.h>
#include <string.h>

int th_keys_generate(const char *id, const char *secret_path, const char *pub_path, char *curve_public,
                     char *curve_secret, char *sign_public_hex, char *sign_key_id_hex, char *err, size_t err_size)
{
    fb_keys_t k;
    if (fb_keys_generate(id, &k, err, err_size) != 0 || fb_keys_write(&k, secret_path, pub_path, true, err, err_size) != 0)
        return -1;
    fb_keys_z85(k.curve_public, curve_public);
    fb_keys_z85(k.curve_secret, curve_secret);
    for (int i = 0; i < FB_ED25519_KEY_LEN; i++) snprintf(sign_public_hex + 2 * i, 3, "%02x", k.sign_public[i]);
    fb_keys_id_hex(k.sign_key_id, sign_key_id_hex);
    memset(&k, 0, sizeof(k));
    return 0;
}
