/* fb_verifier.c — seals checked once against the members' keys and kept, envelopes checked against them by hash. */
#include "fb_verifier.h"

#include "fb_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SEALS 512 /* seals kept (a frame each: up to 1024 envelopes) */

typedef struct {
    char member[FB_SEAL_ORIGIN_MAX + 1];
    uint8_t key_id[FB_SEAL_KEY_ID_LEN];
    uint8_t pub[FB_ED25519_KEY_LEN];
    int64_t from_us, until_us;
} s_key_t;

typedef struct {
    char origin[FB_SEAL_ORIGIN_MAX + 1];
    uint64_t first_seq, last_seq;
    uint8_t root[FB_SHA256_LEN];
    uint8_t signature[FB_ED25519_SIG_LEN];
    uint8_t (*entries)[FB_SHA256_LEN];
    size_t n;
    int valid;
    char why[120]; /* when not valid */
} s_seal_t;

struct fb_verifier {
    s_key_t *keys;
    size_t nkeys, kcap;
    s_seal_t seals[S_SEALS];
    size_t next; /* the slot the next seal takes (round robin) */
    size_t hit;  /* the slot that answered last: consecutive envelopes share a seal */
};

fb_verifier_t *fb_verifier_new(void)
{
    return calloc(1, sizeof(fb_verifier_t));
}

void fb_verifier_destroy(fb_verifier_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_verifier_t *self = *self_p;
    for (size_t i = 0; i < S_SEALS; i++) free(self->seals[i].entries);
    free(self->keys);
    free(self);
    *self_p = NULL;
}

void fb_verifier_clear_keys(fb_verifier_t *self)
{
    self->nkeys = 0;
}

size_t fb_verifier_nkeys(const fb_verifier_t *self)
{
    return self->nkeys;
}

int fb_verifier_add_key(fb_verifier_t *self, const char *member, const uint8_t *key_id, const uint8_t *pub,
                        int64_t from_us, int64_t until_us)
{
    size_t len = member ? strlen(member) : 0;
    if (len == 0 || len > FB_SEAL_ORIGIN_MAX) return -1;
    if (self->nkeys == self->kcap) {
        size_t cap = self->kcap ? self->kcap * 2 : 16;
        s_key_t *k = realloc(self->keys, cap * sizeof(*k));
        if (!k) return -1;
        self->keys = k;
        self->kcap = cap;
    }
    s_key_t *k = &self->keys[self->nkeys++];
    memcpy(k->member, member, len + 1);
    memcpy(k->key_id, key_id, FB_SEAL_KEY_ID_LEN);
    memcpy(k->pub, pub, FB_ED25519_KEY_LEN);
    k->from_us = from_us;
    k->until_us = until_us;
    return 0;
}

/* The key seal names, or NULL; *member_only set when some key has its
 * key_id but belongs to another member. */
static const s_key_t *s_key(const fb_verifier_t *self, const fb_seal_t *seal, int *other)
{
    *other = 0;
    for (size_t i = 0; i < self->nkeys; i++) {
        const s_key_t *k = &self->keys[i];
        if (memcmp(k->key_id, seal->key_id, FB_SEAL_KEY_ID_LEN) != 0) continue;
        if (strcmp(k->member, seal->origin) == 0) return k;
        *other = 1;
    }
    return NULL;
}

/* 1 when the seal verifies, 0 (why), or FB_VERIFIER_UNKNOWN_KEY. */
static int s_check_seal(const fb_verifier_t *self, const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN],
                        size_t n, char *why, size_t size)
{
    uint8_t root[FB_SHA256_LEN];
    if (n == 0 || fb_seal_root(entries, n, root) != 0 || memcmp(root, seal->root, FB_SHA256_LEN) != 0) {
        snprintf(why, size, "the seal's root is not the root of its entries");
        return 0;
    }
    int other;
    const s_key_t *k = s_key(self, seal, &other);
    if (!k && other) {
        snprintf(why, size, "the seal's key is not a key of %s", seal->origin);
        return 0;
    }
    if (!k) return FB_VERIFIER_UNKNOWN_KEY;
    if (seal->signed_at_us < k->from_us || (k->until_us && seal->signed_at_us >= k->until_us)) {
        snprintf(why, size, "signed at %lld, outside its key's validity window", (long long)seal->signed_at_us);
        return 0;
    }
    if (fb_seal_verify(seal, k->pub) != 1) {
        snprintf(why, size, "the seal's signature does not verify");
        return 0;
    }
    return 1;
}

/* Whether the very seal (same range, root and signature, valid) is kept:
 * each chunk of a catch-up brings its frames' proofs again. */
static int s_kept(const fb_verifier_t *self, const fb_seal_t *seal, size_t n)
{
    for (size_t i = 0; i < S_SEALS; i++) {
        const s_seal_t *s = &self->seals[i];
        if (s->entries && s->valid && s->n == n && s->first_seq == seal->first_seq &&
            s->last_seq == seal->last_seq && memcmp(s->root, seal->root, FB_SHA256_LEN) == 0 &&
            memcmp(s->signature, seal->signature, FB_ED25519_SIG_LEN) == 0 && strcmp(s->origin, seal->origin) == 0)
            return 1;
    }
    return 0;
}

/* Keeps seal in the next slot, valid or not (why), with a copy of its
 * entries, or with *own itself (then set to NULL) when own is not NULL.
 * Returns 0 or -1. */
static int s_keep(fb_verifier_t *self, const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN], size_t n,
                  int valid, const char *why, uint8_t (**own)[FB_SHA256_LEN])
{
    s_seal_t *s = &self->seals[self->next];
    uint8_t(*copy)[FB_SHA256_LEN] = own ? *own : malloc(n ? n * FB_SHA256_LEN : 1);
    if (!copy) return -1;
    free(s->entries);
    if (own) *own = NULL;
    else if (n) memcpy(copy, entries, n * FB_SHA256_LEN);
    snprintf(s->origin, sizeof(s->origin), "%s", seal->origin);
    s->first_seq = seal->first_seq;
    s->last_seq = seal->last_seq;
    memcpy(s->root, seal->root, FB_SHA256_LEN);
    memcpy(s->signature, seal->signature, FB_ED25519_SIG_LEN);
    s->entries = copy;
    s->n = n;
    s->valid = valid;
    snprintf(s->why, sizeof(s->why), "%s", valid ? "" : why);
    self->next = (self->next + 1) % S_SEALS;
    return 0;
}

int fb_verifier_add_failed(fb_verifier_t *self, const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN],
                           size_t n, const char *why)
{
    return s_keep(self, seal, entries, n, 0, why, NULL);
}

/* fb_verifier_add_proof() and fb_verifier_try_proof(): keep_bad says
 * whether a seal that fails is kept, failing what it covers; own, when
 * not NULL, holds entries to keep instead of a copy. */
static int s_add_proof(fb_verifier_t *self, const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN], size_t n,
                       int keys_final, int keep_bad, uint8_t (**own)[FB_SHA256_LEN], char *why, size_t why_size)
{
    char buf[120];
    if (s_kept(self, seal, n)) {
        /* The root was checked against the same entries' root before. */
        uint8_t root[FB_SHA256_LEN];
        if (n && fb_seal_root(entries, n, root) == 0 && memcmp(root, seal->root, FB_SHA256_LEN) == 0) return 1;
    }
    int ok = s_check_seal(self, seal, entries, n, buf, sizeof(buf));
    if (ok == FB_VERIFIER_UNKNOWN_KEY && !keys_final) {
        snprintf(why, why_size, "signed with a key the member directory does not hold");
        return ok;
    }
    if (ok == FB_VERIFIER_UNKNOWN_KEY) {
        snprintf(buf, sizeof(buf), "signed with a key of %s the member directory does not hold", seal->origin);
        ok = 0;
    }
    if ((ok || keep_bad) && s_keep(self, seal, entries, n, ok, buf, own) != 0) return -1;
    if (!ok) snprintf(why, why_size, "%s", buf);
    return ok;
}

int fb_verifier_add_proof(fb_verifier_t *self, const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN],
                          size_t n, int keys_final, char *why, size_t why_size)
{
    return s_add_proof(self, seal, entries, n, keys_final, 1, NULL, why, why_size);
}

int fb_verifier_try_proof(fb_verifier_t *self, const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN],
                          size_t n, int keys_final, char *why, size_t why_size)
{
    return s_add_proof(self, seal, entries, n, keys_final, 0, NULL, why, why_size);
}

int fb_verifier_try_proof_own(fb_verifier_t *self, const fb_seal_t *seal, uint8_t (**entries)[FB_SHA256_LEN],
                              size_t n, int keys_final, char *why, size_t why_size)
{
    const uint8_t(*e)[FB_SHA256_LEN] = (const uint8_t(*)[FB_SHA256_LEN])*entries;
    return s_add_proof(self, seal, e, n, keys_final, 0, entries, why, why_size);
}

/* Whether seal s holds hash at seq: at its place when the frame holds one
 * entry per origin_seq, else anywhere. */
static int s_holds(const s_seal_t *s, uint64_t seq, const uint8_t *hash)
{
    if (s->n == s->last_seq - s->first_seq + 1) return memcmp(s->entries[seq - s->first_seq], hash, FB_SHA256_LEN) == 0;
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(s->entries[i], hash, FB_SHA256_LEN) == 0) return 1;
    return 0;
}

static int s_covers(const s_seal_t *s, const char *origin, size_t olen, uint64_t seq)
{
    return s->entries && seq >= s->first_seq && seq <= s->last_seq && strlen(s->origin) == olen &&
           memcmp(s->origin, origin, olen) == 0;
}

int fb_verifier_check_scanned(fb_verifier_t *self, const uint8_t *env, size_t len, const fb_envelope_head_t *h,
                              uint8_t hash[FB_SHA256_LEN], int *hashed, char *why, size_t why_size)
{
    if (!h->origin_len || !h->origin_seq) return 0; /* nothing a seal can cover */
    /* The seal that answered last first, then every one: a good seal
     * holding the hash verifies it; a seal that covers the origin_seq
     * without holding it, or a bad one, says why it fails. The hash is
     * made only once a seal covers the envelope, and once per envelope. */
    const char *fail = NULL;
    for (size_t k = 0; k <= S_SEALS; k++) {
        size_t i = k == 0 ? self->hit : k - 1;
        if (k > 0 && i == self->hit) continue; /* asked first already */
        const s_seal_t *s = &self->seals[i];
        if (!s_covers(s, (const char *)h->origin, h->origin_len, h->origin_seq)) continue;
        if (!*hashed) {
            long olen = fb_seal_origin_len(env, len, h->global_seq, h->stored_at_us);
            if (olen < 0 || fb_seal_entry_hash(env, (size_t)olen, hash) != 0) {
                snprintf(why, why_size, "the broker's stamp is not the envelope's end");
                return -1;
            }
            *hashed = 1;
        }
        if (s->valid && s_holds(s, h->origin_seq, hash)) {
            self->hit = i;
            return 1;
        }
        if (!fail) fail = s->valid ? "its entry hash is not the one its origin signed (edited after signing)" : s->why;
    }
    if (!fail) return 0;
    snprintf(why, why_size, "%s", fail);
    return -1;
}

int fb_verifier_check(fb_verifier_t *self, const uint8_t *env, size_t len, char *why, size_t why_size)
{
    fb_envelope_head_t h;
    uint8_t hash[FB_SHA256_LEN];
    int hashed = 0;
    if (fb_wire_envelope_scan(env, len, &h) != 0) {
        snprintf(why, why_size, "not a well-formed envelope");
        return -1;
    }
    return fb_verifier_check_scanned(self, env, len, &h, hash, &hashed, why, why_size);
}
