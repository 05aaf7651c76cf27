/* fb_crypto.c — SHA-256, random bytes and UUIDs through OpenSSL. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init() and co.: see fb_sha256_parts() */
#include "fb_crypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SHA-256 through OpenSSL's SHA256_* functions rather than EVP: OpenSSL
 * 3.0's EVP_DigestInit_ex() frees and allocates its provider's context on
 * every call, even on a context kept for the same digest, which costs as
 * much as hashing a 33-byte Merkle leaf. SHA256_* (deprecated since 3.0,
 * still in every 3.x) run the same implementation (SHA-NI where the CPU
 * has it) on a context on the stack: 83 -> 56 ns for 33 bytes, 122 -> 100
 * for 65, 240 -> 209 for 300 here; no lock, no allocation, any thread. */
int fb_sha256_parts(const void *const *parts, const size_t *lens, size_t n, uint8_t out[FB_SHA256_LEN])
{
    SHA256_CTX c;
    int ok = SHA256_Init(&c) == 1;
    for (size_t i = 0; i < n && ok; i++) ok = SHA256_Update(&c, parts[i], lens[i]) == 1;
    ok = ok && SHA256_Final(out, &c) == 1;
    return ok ? 0 : -1;
}

int fb_sha256(const void *data, size_t len, uint8_t out[FB_SHA256_LEN])
{
    return fb_sha256_parts(&data, &len, 1, out);
}

int fb_random(void *out, size_t len)
{
    return RAND_bytes(out, (int)len) == 1 ? 0 : -1;
}

int fb_uuid_v7(int64_t unix_us, uint8_t out[FB_UUID_LEN])
{
    if (fb_random(out, FB_UUID_LEN) != 0) return -1;
    uint64_t ms = (uint64_t)(unix_us / 1000);
    for (int i = 0; i < 6; i++) out[i] = (uint8_t)(ms >> (40 - 8 * i));
    out[6] = (uint8_t)(0x70 | (out[6] & 0x0F)); /* version 7 */
    out[8] = (uint8_t)(0x80 | (out[8] & 0x3F)); /* RFC 9562 variant */
    return 0;
}

int fb_uuid_is_v7(const uint8_t id[FB_UUID_LEN])
{
    return (id[6] & 0xF0) == 0x70 && (id[8] & 0xC0) == 0x80;
}

int64_t fb_uuid_v7_ms(const uint8_t id[FB_UUID_LEN])
{
    int64_t ms = 0;
    for (int i = 0; i < 6; i++) ms = ms << 8 | id[i];
    return ms;
}

void fb_uuid_of_ms(int64_t ms, uint8_t out[FB_UUID_LEN])
{
    memset(out, 0, FB_UUID_LEN);
    for (int i = 0; i < 6; i++) out[i] = (uint8_t)((uint64_t)ms >> (40 - 8 * i));
}

void fb_uuid_format(const uint8_t id[FB_UUID_LEN], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < FB_UUID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 15];
    }
    out[o] = '\0';
}

static int s_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int fb_uuid_parse(const char *s, uint8_t out[FB_UUID_LEN])
{
    size_t len = strlen(s);
    int dashed = (len == 36);
    if (!dashed && len != 32) return -1;
    int b = 0;
    for (size_t i = 0; i < len;) {
        if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-') return -1;
            i++;
            continue;
        }
        int hi = s_hexval(s[i]), lo = s_hexval(s[i + 1]);
        if (hi < 0 || lo < 0 || b >= FB_UUID_LEN) return -1;
        out[b++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return b == FB_UUID_LEN ? 0 : -1;
}

int fb_ed25519_keypair(uint8_t pub[FB_ED25519_KEY_LEN], uint8_t secret[FB_ED25519_KEY_LEN])
{
    if (fb_random(secret, FB_ED25519_KEY_LEN) != 0) return -1;
    return fb_ed25519_public(secret, pub);
}

int fb_ed25519_public(const uint8_t secret[FB_ED25519_KEY_LEN], uint8_t pub[FB_ED25519_KEY_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, secret, FB_ED25519_KEY_LEN);
    size_t len = FB_ED25519_KEY_LEN;
    int ok = k && EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == FB_ED25519_KEY_LEN;
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

int fb_ed25519_sign(const uint8_t secret[FB_ED25519_KEY_LEN], const void *msg, size_t len,
                    uint8_t sig[FB_ED25519_SIG_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, secret, FB_ED25519_KEY_LEN);
    EVP_MD_CTX *ctx = k ? EVP_MD_CTX_new() : NULL;
    size_t slen = FB_ED25519_SIG_LEN;
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
             EVP_DigestSign(ctx, sig, &slen, msg, len) == 1 && slen == FB_ED25519_SIG_LEN;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

int fb_ed25519_verify(const uint8_t pub[FB_ED25519_KEY_LEN], const void *msg, size_t len,
                      const uint8_t sig[FB_ED25519_SIG_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, FB_ED25519_KEY_LEN);
    EVP_MD_CTX *ctx = k ? EVP_MD_CTX_new() : NULL;
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
             EVP_DigestVerify(ctx, sig, FB_ED25519_SIG_LEN, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    return ok ? 1 : 0;
}

struct fb_ed25519_signer {
    EVP_PKEY *key;
    EVP_MD_CTX *ctx;
};

fb_ed25519_signer_t *fb_ed25519_signer_new(const uint8_t secret[FB_ED25519_KEY_LEN])
{
    fb_ed25519_signer_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, secret, FB_ED25519_KEY_LEN);
    self->ctx = EVP_MD_CTX_new();
    if (!self->key || !self->ctx) fb_ed25519_signer_destroy(&self);
    return self;
}

void fb_ed25519_signer_destroy(fb_ed25519_signer_t **self_p)
{
    if (!self_p || !*self_p) return;
    EVP_MD_CTX_free((*self_p)->ctx);
    EVP_PKEY_free((*self_p)->key); /* OpenSSL clears the secret it held */
    free(*self_p);
    *self_p = NULL;
}

int fb_ed25519_signer_sign(fb_ed25519_signer_t *self, const void *msg, size_t len, uint8_t sig[FB_ED25519_SIG_LEN])
{
    size_t slen = FB_ED25519_SIG_LEN;
    int ok = EVP_MD_CTX_reset(self->ctx) == 1 && EVP_DigestSignInit(self->ctx, NULL, NULL, NULL, self->key) == 1 &&
             EVP_DigestSign(self->ctx, sig, &slen, msg, len) == 1 && slen == FB_ED25519_SIG_LEN;
    return ok ? 0 : -1;
}
