/* fb_signed_dir.c — the member directory wrapped and signed with the broker's key, and opened again. */
#include "fb_signed_dir.h"

#include "fb_archive.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The signed bytes for text; returns a new buffer of *len bytes, or NULL. */
static uint8_t *s_signed_bytes(const char *text, const uint8_t key_id[FB_KEY_ID_LEN], int64_t at_us, size_t *len)
{
    size_t tlen = strlen(text), n = sizeof(FB_SIGNED_DIR_DOMAIN) + FB_KEY_ID_LEN + 8 + tlen;
    uint8_t *b = malloc(n), *p = b;
    if (!b) return NULL;
    memcpy(p, FB_SIGNED_DIR_DOMAIN, sizeof(FB_SIGNED_DIR_DOMAIN)); /* with its NUL */
    p += sizeof(FB_SIGNED_DIR_DOMAIN);
    memcpy(p, key_id, FB_KEY_ID_LEN);
    p += FB_KEY_ID_LEN;
    for (int i = 0; i < 8; i++) *p++ = (uint8_t)((uint64_t)at_us >> (56 - 8 * i));
    memcpy(p, text, tlen);
    *len = n;
    return b;
}

json_t *fb_signed_dir_sign(const json_t *dir, const fb_keys_t *k, int64_t at_us, char *err, size_t err_size)
{
    char *text = json_dumps(dir, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    size_t len;
    uint8_t *msg = text ? s_signed_bytes(text, k->sign_key_id, at_us, &len) : NULL, sig[FB_ED25519_SIG_LEN];
    json_t *doc = NULL;
    if (!msg || !k->has_secret || fb_ed25519_sign(k->sign_secret, msg, len, sig) != 0) {
        snprintf(err, err_size, !k->has_secret ? "a secret key file is needed to sign" : "signing failed");
    } else {
        char kid[FB_KEY_ID_HEX_LEN + 1], pub[FB_ED25519_B64_LEN + 1], s64[90];
        fb_keys_id_hex(k->sign_key_id, kid);
        fb_keys_b64(k->sign_public, pub);
        fb_archive_b64(sig, sizeof(sig), s64);
        doc = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s}", "fedbus_signed_directory", 1, "directory", text, "key_id",
                        kid, "public_key", pub, "signed_at_us", (json_int_t)at_us, "signature", s64);
        if (!doc) snprintf(err, err_size, "out of memory");
    }
    free(text);
    free(msg);
    return doc;
}

/* Checks doc's signature with broker_pub; returns 0 or -1 with err. */
static int s_check(const json_t *doc, const char *text, const uint8_t *broker_pub, char *err, size_t err_size)
{
    const char *kid = json_string_value(json_object_get(doc, "key_id"));
    const char *s64 = json_string_value(json_object_get(doc, "signature"));
    const json_t *at = json_object_get(doc, "signed_at_us");
    uint8_t id[FB_KEY_ID_LEN], want[FB_KEY_ID_LEN], sig[FB_ED25519_SIG_LEN + 3];
    if (!kid || !s64 || !json_is_integer(at) || fb_keys_id_parse(kid, id) != 0 || strlen(s64) != 88 ||
        fb_archive_unb64(s64, sig) != FB_ED25519_SIG_LEN) {
        snprintf(err, err_size, "a signed directory without a valid key_id, signed_at_us or signature");
        return -1;
    }
    fb_keys_id(broker_pub, want);
    if (memcmp(id, want, FB_KEY_ID_LEN) != 0) {
        snprintf(err, err_size, "signed by key %s, not by the broker's key given", kid);
        return -1;
    }
    size_t len;
    uint8_t *msg = s_signed_bytes(text, id, (int64_t)json_integer_value(at), &len);
    int ok = msg && fb_ed25519_verify(broker_pub, msg, len, sig) == 1;
    free(msg);
    if (!ok) snprintf(err, err_size, "the directory's signature does not verify with the broker's key");
    return ok ? 0 : -1;
}

json_t *fb_signed_dir_open(const json_t *doc, const uint8_t *broker_pub, int *checked, char *err, size_t err_size)
{
    *checked = 0;
    if (json_is_array(json_object_get(doc, "members"))) return json_incref((json_t *)doc);
    const char *text = json_string_value(json_object_get(doc, "directory"));
    if (!json_is_integer(json_object_get(doc, "fedbus_signed_directory")) || !text) {
        snprintf(err, err_size, "neither a member directory nor a signed one");
        return NULL;
    }
    if (broker_pub && s_check(doc, text, broker_pub, err, err_size) != 0) return NULL;
    *checked = broker_pub != NULL;
    json_error_t je;
    json_t *dir = json_loads(text, 0, &je);
    if (!dir) snprintf(err, err_size, "the signed directory's text is not JSON: %s", je.text);
    return dir;
}
