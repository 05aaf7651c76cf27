/* fb_verify.c — seals, keys and links checked per frame, chain heads per origin. */
#include "fb_verify.h"

#include "fb_envelope.h"
#include "fb_map.h"
#include "fb_wire.h"
#include "fedbus/fedbus.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t seq;
    uint8_t hash[FB_SHA256_LEN];
} s_head_t;

struct fb_verify {
    fb_verify_opts_t o;
    fb_map_t *heads; /* origin -> s_head_t * */
    fb_verify_stats_t stats;
};

static int s_free_head(const void *key, size_t len, uint64_t value, void *arg)
{
    (void)key, (void)len, (void)arg;
    free((void *)(uintptr_t)value);
    return 0;
}

fb_verify_t *fb_verify_new(const fb_verify_opts_t *o)
{
    fb_verify_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->o = *o;
    if (!(self->heads = fb_map_new(64))) {
        free(self);
        return NULL;
    }
    return self;
}

void fb_verify_destroy(fb_verify_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_verify_t *self = *self_p;
    fb_map_each(self->heads, s_free_head, NULL);
    fb_map_destroy(&self->heads);
    free(self);
    *self_p = NULL;
}

static s_head_t *s_head(const fb_verify_t *self, const char *origin)
{
    uint64_t v;
    return fb_map_get(self->heads, origin, strlen(origin), &v) ? (s_head_t *)(uintptr_t)v : NULL;
}

int fb_verify_set_head(fb_verify_t *self, const char *origin, uint64_t seq, const uint8_t hash[FB_SHA256_LEN])
{
    size_t olen = strlen(origin);
    if (olen > FB_MAP_KEY_MAX) return -1;
    s_head_t *h = s_head(self, origin);
    if (!h) {
        if (!(h = calloc(1, sizeof(*h)))) return -1;
        if (fb_map_put(self->heads, origin, olen, (uint64_t)(uintptr_t)h) != 0) {
            free(h);
            return -1;
        }
    }
    h->seq = seq;
    memcpy(h->hash, hash, FB_SHA256_LEN);
    return 0;
}

int fb_verify_head(const fb_verify_t *self, const char *origin, uint64_t *seq, uint8_t hash[FB_SHA256_LEN])
{
    const s_head_t *h = s_head(self, origin);
    if (!h) return 0;
    *seq = h->seq;
    memcpy(hash, h->hash, FB_SHA256_LEN);
    return 1;
}

void fb_verify_get_stats(const fb_verify_t *self, fb_verify_stats_t *out)
{
    *out = self->stats;
}

/* Refuses items[from..n) not refused yet, with reason and detail (copied
 * into arena). */
static void s_refuse(fb_arena_t *arena, fb_batch_item_t *items, size_t from, size_t n, int reason,
                     const char *detail)
{
    size_t len = strlen(detail) + 1;
    char *kept = fb_arena_alloc(arena, len);
    if (kept) memcpy(kept, detail, len);
    for (size_t i = from; i < n; i++)
        if (items[i].state != FB_BATCH_REJECTED) fb_batch_reject(&items[i], reason, kept ? kept : "refused");
}

/* Step 1: the seal describes these envelopes. Returns 0, or -1 with why. */
static int s_check_cover(const fb_seal_t *seal, fb_batch_item_t *items, size_t n, uint8_t (*entries)[FB_SHA256_LEN],
                         char *why, size_t size)
{
    uint8_t root[FB_SHA256_LEN];
    if (fb_seal_root((const uint8_t(*)[FB_SHA256_LEN])entries, n, root) != 0 ||
        memcmp(root, seal->root, FB_SHA256_LEN) != 0) {
        snprintf(why, size, "the seal's root is not the Merkle root of the frame's %zu envelopes", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (items[i].origin && strcmp(items[i].origin, seal->origin) != 0) {
            snprintf(why, size, "the seal of origin %.32s covers an envelope of origin %.32s", seal->origin,
                     items[i].origin);
            return -1;
        }
    if ((items[0].origin && items[0].origin_seq != seal->first_seq) ||
        (items[n - 1].origin && items[n - 1].origin_seq != seal->last_seq)) {
        snprintf(why, size, "the seal covers origin_seq %" PRIu64 " to %" PRIu64 ", the frame %" PRIu64 " to %" PRIu64,
                 seal->first_seq, seal->last_seq, items[0].origin_seq, items[n - 1].origin_seq);
        return -1;
    }
    return 0;
}

/* Step 2: the key. Returns 0, or -1 with why. */
static int s_check_key(const fb_verify_t *self, const fb_seal_t *seal, int64_t now_us, fb_verify_key_t *key,
                       char *why, size_t size)
{
    char id[FB_KEY_ID_HEX_LEN + 1];
    fb_keys_id_hex(seal->key_id, id);
    if (!self->o.key || !self->o.key(self->o.key_ctx, seal->origin, seal->key_id, key)) {
        snprintf(why, size, "no signing key %s is registered for %.32s", id, seal->origin);
        return -1;
    }
    if (seal->signed_at_us < key->valid_from_us || (key->valid_until_us && seal->signed_at_us >= key->valid_until_us)) {
        snprintf(why, size, "key %s of %.32s is not valid at the seal's time (%" PRId64 " us; valid from %" PRId64
                 " until %" PRId64 ", 0 = no end)", id, seal->origin, seal->signed_at_us, key->valid_from_us,
                 key->valid_until_us);
        return -1;
    }
    if (self->o.max_ahead_us && seal->signed_at_us > now_us + self->o.max_ahead_us) {
        snprintf(why, size, "the seal is signed %" PRId64 " s ahead of the broker's clock: check the node's clock",
                 (seal->signed_at_us - now_us) / 1000000);
        return -1;
    }
    return 0;
}

/* The links: each item above the head must link to it. Returns the index
 * of the first that does not (n when all do), and moves *h along. */
static size_t s_check_links(fb_batch_item_t *items, size_t n, uint8_t (*entries)[FB_SHA256_LEN], s_head_t *h,
                            int *advanced, char *why, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        fb_batch_item_t *it = &items[i];
        if (!it->origin || it->origin_seq <= h->seq) continue; /* undecoded, or a resend */
        fb_envelope_head_t eh = {.prev_hash_count = it->prev_hash_count, .prev_hash = it->prev_hash,
                                 .prev_hash_len = it->prev_hash_len};
        if ((!it->link_read && fb_wire_envelope_scan(it->env_data, it->env_len, &eh) != 0) ||
            eh.prev_hash_count != 1 || eh.prev_hash_len != FB_SHA256_LEN) {
            snprintf(why, size, "origin_seq %" PRIu64 " carries no prev_hash of 32 bytes", it->origin_seq);
            return i;
        }
        if (memcmp(eh.prev_hash, h->hash, FB_SHA256_LEN) != 0) {
            snprintf(why, size, "origin_seq %" PRIu64 ": prev_hash does not link to the chain's head (origin_seq %" PRIu64
                     "); Hello again to learn it", it->origin_seq, h->seq);
            return i;
        }
        h->seq = it->origin_seq;
        memcpy(h->hash, entries[i], FB_SHA256_LEN);
        *advanced = 1;
    }
    return n;
}

const fb_verify_proof_t *fb_verify_group(fb_verify_t *self, fb_arena_t *arena, fb_batch_item_t *items, size_t n,
                                         const fb_seal_t *seal, int64_t now_us)
{
    char why[320];
    if (!seal) {
        self->stats.unsealed++;
        if (self->o.required) {
            self->stats.bad_signature++;
            s_refuse(arena, items, 0, n, FEDBUS__REJECT_REASON__REJECT_BAD_SIGNATURE,
                     "this broker takes signed publishes only: send them in a PublishBatch with a seal");
        }
        return NULL;
    }
    self->stats.sealed++;
    fb_verify_proof_t *p = fb_arena_alloc(arena, sizeof(*p));
    uint8_t(*entries)[FB_SHA256_LEN] = fb_arena_alloc(arena, n * FB_SHA256_LEN);
    uint64_t *seqs = fb_arena_alloc(arena, n * sizeof(uint64_t));
    if (!p || !entries || !seqs) {
        s_refuse(arena, items, 0, n, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        fb_seal_entry_hash(items[i].env_data, items[i].env_len, entries[i]);
        seqs[i] = items[i].origin_seq;
    }
    fb_verify_key_t key;
    int reason = 0;
    if (s_check_cover(seal, items, n, entries, why, sizeof(why)) != 0) {
        reason = FEDBUS__REJECT_REASON__REJECT_BAD_SIGNATURE;
        self->stats.bad_signature++;
    } else if (s_check_key(self, seal, now_us, &key, why, sizeof(why)) != 0) {
        reason = FEDBUS__REJECT_REASON__REJECT_KEY_NOT_VALID;
        self->stats.key_not_valid++;
    } else if (fb_seal_verify(seal, key.pub) != 1) {
        snprintf(why, sizeof(why), "the seal's signature does not verify with %.32s's key", seal->origin);
        reason = FEDBUS__REJECT_REASON__REJECT_BAD_SIGNATURE;
        self->stats.bad_signature++;
    }
    if (reason) {
        s_refuse(arena, items, 0, n, reason, why);
        return NULL;
    }
    s_head_t zero = {0}, *h = s_head(self, seal->origin), run = h ? *h : zero;
    int advanced = 0;
    size_t bad = s_check_links(items, n, entries, &run, &advanced, why, sizeof(why));
    if (bad < n) {
        self->stats.broken_chain++;
        s_refuse(arena, items, bad, n, FEDBUS__REJECT_REASON__REJECT_BROKEN_CHAIN, why);
    }
    if (advanced && fb_verify_set_head(self, seal->origin, run.seq, run.hash) != 0) {
        s_refuse(arena, items, 0, n, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE, "out of memory");
        return NULL;
    }
    *p = (fb_verify_proof_t){.seal = *seal, .n = n, .entries = entries, .seqs = seqs, .head_seq = run.seq,
                             .advanced = advanced};
    memcpy(p->head_hash, run.hash, FB_SHA256_LEN);
    return p;
}
