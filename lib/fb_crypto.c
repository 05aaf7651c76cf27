/* fb_crypto.c — SHA-256, random bytes and UUIDs through OpenSSL. */
#include "fb_crypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

int fb_sha256(const void *data, size_t len, uint8_t out[FB_SHA256_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != FB_SHA256_LEN) return -1;
    return 0;
}

int fb_sha256_parts(const void *const *parts, const size_t *lens, size_t n, uint8_t out[FB_SHA256_LEN])
{
    unsigned int olen = 0;
    int ok = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return -1;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
        ok = 1;
        for (size_t i = 0; i < n && ok; i++) ok = EVP_DigestUpdate(ctx, parts[i], lens[i]) == 1;
        ok = ok && EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == FB_SHA256_LEN;
    }
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
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
