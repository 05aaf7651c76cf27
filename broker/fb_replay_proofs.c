/* fb_replay_proofs.c — the seals covering a replay chunk's envelopes, read from fedbus_seals and laid out as SealProofs. */
#include "fb_replay_proofs.h"

#include "fb_proofs.h"
#include "fb_wire.h"

#include <stdlib.h>
#include <string.h>

struct s_replay_proof {
    Fedbus__SealProof proof;
    Fedbus__Seal seal;
    char origin[FB_SEAL_ORIGIN_MAX + 1];
    uint8_t root[FB_SHA256_LEN], key_id[FB_SEAL_KEY_ID_LEN], signature[FB_ED25519_SIG_LEN];
    ProtobufCBinaryData *entries; /* n, pointing into bytes */
    uint8_t *bytes;
};

typedef struct {
    fb_replay_proofs_t *p;
    size_t cap;
    int failed;
} s_fill_t;

static void s_item_free(s_replay_proof_t *it)
{
    if (!it) return;
    free(it->entries);
    free(it->bytes);
    free(it);
}

/* One seal from the store, copied out of its result. */
static void s_add(void *arg, const fb_proofs_seal_t *s)
{
    s_fill_t *f = arg;
    fb_replay_proofs_t *p = f->p;
    if (f->failed) return;
    if (p->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        Fedbus__SealProof **np = realloc(p->proofs, cap * sizeof(*np));
        if (np) p->proofs = np;
        s_replay_proof_t **ni = np ? realloc(p->items, cap * sizeof(*ni)) : NULL;
        if (ni) p->items = ni;
        if (!np || !ni) {
            f->failed = 1;
            return;
        }
        f->cap = cap;
    }
    s_replay_proof_t *it = calloc(1, sizeof(*it));
    if (it) it->entries = calloc(s->n ? s->n : 1, sizeof(*it->entries));
    if (it && it->entries) it->bytes = malloc(s->n ? s->n * FB_SHA256_LEN : 1);
    if (!it || !it->entries || !it->bytes) {
        s_item_free(it);
        f->failed = 1;
        return;
    }
    memcpy(it->bytes, s->entries, s->n * FB_SHA256_LEN);
    for (size_t i = 0; i < s->n; i++) it->entries[i] = (ProtobufCBinaryData){FB_SHA256_LEN, it->bytes + i * FB_SHA256_LEN};
    snprintf(it->origin, sizeof(it->origin), "%s", s->seal.origin);
    memcpy(it->root, s->seal.root, sizeof(it->root));
    memcpy(it->key_id, s->seal.key_id, sizeof(it->key_id));
    memcpy(it->signature, s->seal.signature, sizeof(it->signature));
    fedbus__seal__init(&it->seal);
    it->seal.origin = it->origin;
    it->seal.first_seq = s->seal.first_seq;
    it->seal.last_seq = s->seal.last_seq;
    it->seal.root = (ProtobufCBinaryData){sizeof(it->root), it->root};
    it->seal.key_id = (ProtobufCBinaryData){sizeof(it->key_id), it->key_id};
    it->seal.signed_at_us = s->seal.signed_at_us;
    it->seal.signature = (ProtobufCBinaryData){sizeof(it->signature), it->signature};
    fedbus__seal_proof__init(&it->proof);
    it->proof.seal = &it->seal;
    it->proof.n_entries = s->n;
    it->proof.entries = it->entries;
    p->items[p->n] = it;
    p->proofs[p->n++] = &it->proof;
}

int fb_replay_proofs_fill(fb_replay_proofs_t *p, fb_store_t *reader, const ProtobufCBinaryData *envs, size_t n)
{
    char(*names)[FB_SEAL_ORIGIN_MAX + 1] = calloc(n ? n : 1, sizeof(*names));
    const char **origins = calloc(n ? n : 1, sizeof(*origins));
    uint64_t *seqs = calloc(n ? n : 1, sizeof(*seqs));
    int rc = -1;
    if (!names || !origins || !seqs) goto out;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        fb_envelope_head_t h;
        if (fb_wire_envelope_scan(envs[i].data, envs[i].len, &h) != 0 || !h.origin_len ||
            h.origin_len > FB_SEAL_ORIGIN_MAX || !h.origin_seq)
            continue; /* nothing a seal could cover */
        memcpy(names[k], h.origin, h.origin_len);
        for (size_t c = 0; c < h.origin_len; c++) /* as stored: [a-z0-9-]; anything else cannot match */
            if (!((names[k][c] >= 'a' && names[k][c] <= 'z') || (names[k][c] >= '0' && names[k][c] <= '9') ||
                  names[k][c] == '-'))
                names[k][c] = '-';
        origins[k] = names[k];
        seqs[k++] = h.origin_seq;
    }
    s_fill_t f = {p, 0, 0};
    rc = fb_store_seal_proofs(reader, origins, seqs, k, s_add, &f) == 0 && !f.failed ? 0 : -1;
out:
    free(names);
    free(origins);
    free(seqs);
    if (rc != 0) fb_replay_proofs_clear(p);
    return rc;
}

int fb_replay_proofs_of(fb_replay_proofs_t *p, fb_store_t *reader, const char *origin, uint64_t origin_seq)
{
    s_fill_t f = {p, 0, 0};
    const char *origins[] = {origin};
    int rc = fb_store_seal_proofs(reader, origins, &origin_seq, 1, s_add, &f) == 0 && !f.failed ? 0 : -1;
    if (rc != 0) fb_replay_proofs_clear(p);
    return rc;
}

void fb_replay_proofs_clear(fb_replay_proofs_t *p)
{
    for (size_t i = 0; i < p->n; i++) s_item_free(p->items[i]);
    free(p->items);
    free(p->proofs);
    memset(p, 0, sizeof(*p));
}
