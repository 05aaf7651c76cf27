/* fb_chain.c — links, re-links and seals the node's publishes. */
#include "fb_chain.h"

#include "fb_log.h"
#include "fb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fb_chain {
    fb_keys_t keys;
    fb_ed25519_signer_t *signer; /* of keys.sign_secret, made once */
    fb_outbox_t *outbox;
    uint8_t head[FB_SHA256_LEN];
};

static int s_hash(fb_outbox_entry_t *e)
{
    size_t len;
    const uint8_t *env = fb_outbox_envelope(e, &len);
    return env ? fb_seal_entry_hash(env, len, e->hash) : -1;
}

fb_chain_t *fb_chain_new(const fb_keys_t *keys, fb_outbox_t *outbox)
{
    if (!keys->has_secret) return NULL;
    fb_chain_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->keys = *keys;
    self->outbox = outbox;
    if (!(self->signer = fb_ed25519_signer_new(keys->sign_secret))) {
        fb_chain_destroy(&self);
        return NULL;
    }
    fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
    for (fb_outbox_entry_t *e; (e = fb_outbox_next(outbox, FB_OUTBOX_ALL, &it));)
        if (s_hash(e) == 0) memcpy(self->head, e->hash, FB_SHA256_LEN);
    return self;
}

void fb_chain_destroy(fb_chain_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_ed25519_signer_destroy(&(*self_p)->signer);
    explicit_bzero(&(*self_p)->keys, sizeof((*self_p)->keys));
    free(*self_p);
    *self_p = NULL;
}

void fb_chain_stamp(fb_chain_t *self, fb_wire_origin_stamp_t *s)
{
    s->prev_hash = self->head;
}

int fb_chain_appended(fb_chain_t *self, fb_outbox_entry_t *e)
{
    if (s_hash(e) != 0) return -1;
    memcpy(self->head, e->hash, FB_SHA256_LEN);
    return 0;
}

int fb_chain_relink(fb_chain_t *self, uint64_t seq, const uint8_t *head)
{
    static const uint8_t zero[FB_SHA256_LEN];
    uint8_t run[FB_SHA256_LEN];
    memcpy(run, head ? head : zero, FB_SHA256_LEN);
    int changed = 0;
    fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
    for (fb_outbox_entry_t *e; (e = fb_outbox_next(self->outbox, FB_OUTBOX_ALL, &it));) {
        if (e->origin_seq <= seq) continue; /* read by the broker: as it was */
        size_t len;
        const uint8_t *env = fb_outbox_envelope(e, &len), *prev;
        if (!env || !fb_wire_sequencing_tail(env, len, e->origin_seq, &prev) || !prev) {
            fb_warn("outbox: origin_seq %llu has no prev_hash stamp: left unlinked",
                    (unsigned long long)e->origin_seq);
            return -1;
        }
        if (memcmp(prev, run, FB_SHA256_LEN) != 0) {
            /* prev points into e->frame, which the outbox owns: 32 bytes
             * rewritten in place, the frame's size unchanged. */
            memcpy((uint8_t *)prev, run, FB_SHA256_LEN);
            changed++;
        }
        if (s_hash(e) != 0) return -1;
        memcpy(run, e->hash, FB_SHA256_LEN);
    }
    memcpy(self->head, run, FB_SHA256_LEN);
    return changed;
}

int fb_chain_seal(fb_chain_t *self, fb_outbox_entry_t *const *entries, size_t n, fb_seal_t *s)
{
    if (n && entries[n - 1]->origin_seq > (uint64_t)INT64_MAX) return FB_CHAIN_UNSEALABLE;
    uint8_t(*hashes)[FB_SHA256_LEN] = malloc(n * FB_SHA256_LEN);
    if (!hashes || n == 0) {
        free(hashes);
        return -1;
    }
    for (size_t i = 0; i < n; i++) memcpy(hashes[i], entries[i]->hash, FB_SHA256_LEN);
    memset(s, 0, sizeof(*s));
    snprintf(s->origin, sizeof(s->origin), "%s", self->keys.member);
    s->first_seq = entries[0]->origin_seq;
    s->last_seq = entries[n - 1]->origin_seq;
    memcpy(s->key_id, self->keys.sign_key_id, FB_SEAL_KEY_ID_LEN);
    s->signed_at_us = fb_time_now_us();
    int rc = fb_seal_root((const uint8_t(*)[FB_SHA256_LEN])hashes, n, s->root);
    free(hashes);
    return rc == 0 ? fb_seal_sign_with(s, self->signer) : -1;
}

const char *fb_chain_member(const fb_chain_t *self)
{
    return self->keys.member;
}
