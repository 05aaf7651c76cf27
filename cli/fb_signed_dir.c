/* fb_signed_dir.c — the member directory wrapped and signed with the broker's key, opened again, and its signing keys read for a subscriber to pin. */
#include "fb_signed_dir.h"

#include "fb_archive.h"
#include "fb_time.h"

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

/* A directory key's time (null or absent: 0); returns 0 or -1. */
static int s_time(const json_t *v, int64_t *us)
{
    int off;
    if (!v || json_is_null(v)) return *us = 0, 0;
    return json_is_string(v) ? fb_time_parse(json_string_value(v), us, &off) : -1;
}

/* The signing keys of dir's members into *out (n of them); returns 0 or -1 with err. */
static int s_keys(const json_t *dir, fb_signing_key_t **out, size_t *n, char *err, size_t err_size)
{
    const json_t *members = json_object_get(dir, "members"), *m, *key;
    size_t i, k;
    if (!json_is_array(members)) return snprintf(err, err_size, "the member directory has no \"members\" array"), -1;
    json_array_foreach(members, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "id"));
        if (!id || !*id || strlen(id) >= sizeof((*out)->member))
            return snprintf(err, err_size, "member %zu of the directory has no valid \"id\"", i + 1), -1;
        json_array_foreach(json_object_get(m, "keys"), k, key)
        {
            fb_signing_key_t *nk = realloc(*out, (*n + 1) * sizeof(*nk));
            if (!nk) return snprintf(err, err_size, "out of memory"), -1;
            *out = nk;
            fb_signing_key_t *t = &nk[*n];
            memset(t, 0, sizeof(*t));
            snprintf(t->member, sizeof(t->member), "%s", id);
            const char *kid = json_string_value(json_object_get(key, "key_id"));
            const char *pub = json_string_value(json_object_get(key, "public_key"));
            uint8_t derived[FB_KEY_ID_LEN];
            if (!kid || !pub || fb_keys_id_parse(kid, t->key_id) != 0 || fb_keys_b64_parse(pub, t->public_key) != 0 ||
                s_time(json_object_get(key, "valid_from"), &t->valid_from_us) != 0 ||
                s_time(json_object_get(key, "valid_until"), &t->valid_until_us) != 0)
                return snprintf(err, err_size, "member %s: key %zu of the directory is not valid", id, k + 1), -1;
            fb_keys_id(t->public_key, derived);
            if (memcmp(derived, t->key_id, FB_KEY_ID_LEN) != 0)
                return snprintf(err, err_size, "member %s: key_id %s is not the id of its public key", id, kid), -1;
            (*n)++;
        }
    }
    return 0;
}

int fb_signed_dir_load_keys(const char *path, const char *broker_key, fb_signing_key_t **keys, size_t *n, char *err,
                            size_t err_size)
{
    fb_keys_t bk;
    json_error_t je;
    int checked = 0, rc = -1;
    char why[400];
    *keys = NULL;
    *n = 0;
    if (broker_key && broker_key[0] && fb_keys_read(broker_key, &bk, why, sizeof(why)) != 0) {
        snprintf(err, err_size, "--directory-key: %s", why);
        return -1;
    }
    json_t *doc = json_load_file(path, 0, &je), *dir = NULL;
    if (!doc) snprintf(err, err_size, "--directory=%s: %s", path, je.text);
    else if (!(dir = fb_signed_dir_open(doc, broker_key && broker_key[0] ? bk.sign_public : NULL, &checked, why,
                                        sizeof(why))))
        snprintf(err, err_size, "--directory=%s: %s", path, why);
    else if (broker_key && broker_key[0] && !checked)
        snprintf(err, err_size, "--directory=%s: not signed, and --directory-key asks for a signed one", path);
    else if (s_keys(dir, keys, n, why, sizeof(why)) != 0)
        snprintf(err, err_size, "--directory=%s: %s", path, why);
    else
        rc = 0;
    json_decref(doc);
    json_decref(dir);
    if (rc != 0) {
        free(*keys);
        *keys = NULL;
        *n = 0;
    }
    return rc;
}
