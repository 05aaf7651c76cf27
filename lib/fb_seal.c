/* fb_seal.c — entry hashes, RFC 6962 Merkle roots and Ed25519 seals over runs of envelopes. */
#include "fb_seal.h"

#include <string.h>

#include "fb_wire.h"
#include "fedbus/fb_topic.h"

int fb_seal_entry_hash(const void *origin_bytes, size_t len, uint8_t out[FB_SHA256_LEN])
{
    return fb_sha256(origin_bytes, len, out);
}

long fb_seal_origin_len(const uint8_t *envelope, size_t len, uint64_t global_seq, int64_t stored_at_us)
{
    uint8_t stamp[FB_STAMP_MAX];
    size_t n = fb_wire_stamp_stored(global_seq, stored_at_us, stamp);
    if (n > len || memcmp(envelope + len - n, stamp, n) != 0) return -1;
    return (long)(len - n);
}

/* MTH of RFC 6962: for n > 1, split at k, the largest power of two below n. */
static int s_mth(const uint8_t (*e)[FB_SHA256_LEN], size_t n, uint8_t out[FB_SHA256_LEN])
{
    if (n == 1) {
        static const uint8_t zero = 0x00;
        const void *parts[] = {&zero, e[0]};
        const size_t lens[] = {1, FB_SHA256_LEN};
        return fb_sha256_parts(parts, lens, 2, out);
    }
    size_t k = 1;
    while (k << 1 < n) k <<= 1;
    uint8_t left[FB_SHA256_LEN], right[FB_SHA256_LEN];
    if (s_mth(e, k, left) != 0 || s_mth(e + k, n - k, right) != 0) return -1;
    static const uint8_t one = 0x01;
    const void *parts[] = {&one, left, right};
    const size_t lens[] = {1, FB_SHA256_LEN, FB_SHA256_LEN};
    return fb_sha256_parts(parts, lens, 3, out);
}

int fb_seal_root(const uint8_t (*entries)[FB_SHA256_LEN], size_t n, uint8_t root[FB_SHA256_LEN])
{
    return n == 0 ? -1 : s_mth(entries, n, root);
}

static uint8_t *s_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
    return p + 8;
}

size_t fb_seal_signed_bytes(const fb_seal_t *s, uint8_t out[FB_SEAL_SIGNED_MAX])
{
    size_t olen = strnlen(s->origin, sizeof(s->origin));
    if (olen == 0 || olen > FB_SEAL_ORIGIN_MAX || !fb_segment_valid(s->origin, olen) || s->first_seq == 0 ||
        s->last_seq < s->first_seq || s->last_seq > (uint64_t)INT64_MAX)
        return 0;
    uint8_t *p = out;
    memcpy(p, FB_SEAL_DOMAIN, sizeof(FB_SEAL_DOMAIN)); /* with its NUL */
    p += sizeof(FB_SEAL_DOMAIN);
    *p++ = (uint8_t)olen;
    memcpy(p, s->origin, olen);
    p += olen;
    p = s_be64(p, s->first_seq);
    p = s_be64(p, s->last_seq);
    memcpy(p, s->root, FB_SHA256_LEN);
    p += FB_SHA256_LEN;
    memcpy(p, s->key_id, FB_SEAL_KEY_ID_LEN);
    p += FB_SEAL_KEY_ID_LEN;
    p = s_be64(p, (uint64_t)s->signed_at_us);
    return (size_t)(p - out);
}

int fb_seal_sign(fb_seal_t *s, const uint8_t secret[FB_ED25519_KEY_LEN])
{
    uint8_t msg[FB_SEAL_SIGNED_MAX];
    size_t n = fb_seal_signed_bytes(s, msg);
    return n ? fb_ed25519_sign(secret, msg, n, s->signature) : -1;
}

int fb_seal_sign_with(fb_seal_t *s, fb_ed25519_signer_t *signer)
{
    uint8_t msg[FB_SEAL_SIGNED_MAX];
    size_t n = fb_seal_signed_bytes(s, msg);
    return n ? fb_ed25519_signer_sign(signer, msg, n, s->signature) : -1;
}

int fb_seal_verify(const fb_seal_t *s, const uint8_t pub[FB_ED25519_KEY_LEN])
{
    uint8_t msg[FB_SEAL_SIGNED_MAX];
    size_t n = fb_seal_signed_bytes(s, msg);
    return n ? fb_ed25519_verify(pub, msg, n, s->signature) : 0;
}
