/* fb_replay_lookup.c — one envelope's seal and the members' signing keys, answered to a replay request in one chunk. */
#include "fb_replay_lookup.h"

#include "fb_readperm.h"
#include "fb_seal.h"

#include <stdlib.h>
#include <string.h>

int fb_replay_lookup_wanted(const Fedbus__ReplayRequest *req)
{
    return req->directory || (req->seal_origin && req->seal_origin[0]) || req->seal_origin_seq || req->seal_global_seq;
}

/* Whether s is 1-32 of [a-z0-9-]: an origin a seal can name. */
static int s_origin_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > FB_SEAL_ORIGIN_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) return 0;
    return 1;
}

/* fb_store_topics_of()'s callback: whether the peer may read topic. */
static int s_may_read(void *arg, const char *topic)
{
    const fb_peer_id_t *peer = arg;
    if (!peer->checked) return 1;
    if (peer->admit != FB_ADMIT_OK || !peer->member) return 0;
    return fb_readperm_may_read((const char *const *)peer->member->read, peer->member->nread, topic, strlen(topic));
}

static int s_seal(fb_replay_lookup_t *l, fb_store_t *reader, const fb_peer_id_t *peer,
                  const Fedbus__ReplayRequest *req, Fedbus__ReplayChunk *ch, const char **detail)
{
    *detail = "seal_origin: 1-32 of [a-z0-9-]; seal_origin_seq: 1 to 2^63-1; seal_global_seq: 0 to 2^63-1";
    if (!req->seal_origin || !s_origin_ok(req->seal_origin) || req->seal_origin_seq == 0 ||
        req->seal_origin_seq > INT64_MAX || req->seal_global_seq > INT64_MAX)
        return FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD;
    /* Only beside an envelope the peer may read: one it may not read, or
     * one not stored, gets the same empty answer. */
    int may = fb_store_topics_of(reader, req->seal_origin, req->seal_origin_seq, req->seal_global_seq, s_may_read, (void *)peer);
    if (may < 0) return -1;
    if (may == 0) return 0;
    if (fb_replay_proofs_of(&l->proofs, reader, req->seal_origin, req->seal_origin_seq) != 0) return -1;
    ch->n_proofs = l->proofs.n;
    ch->proofs = l->proofs.proofs;
    return 0;
}

/* Every member's signing keys, whatever its status: a seal made while a
 * member was active stays checkable after it was suspended or revoked
 * (its keys' windows say when they signed validly). */
static int s_keys(fb_replay_lookup_t *l, fb_identity_t *identity, Fedbus__ReplayChunk *ch)
{
    const fb_memberdir_t *dir = fb_identity_directory(identity);
    size_t n = 0;
    for (size_t i = 0; dir && i < fb_memberdir_size(dir); i++) n += fb_memberdir_at(dir, i)->nkeys;
    l->keys = calloc(n ? n : 1, sizeof(*l->keys));
    l->key_items = calloc(n ? n : 1, sizeof(*l->key_items));
    if (!l->keys || !l->key_items) return -1;
    for (size_t i = 0; dir && i < fb_memberdir_size(dir); i++) {
        const fb_member_t *m = fb_memberdir_at(dir, i);
        for (size_t k = 0; k < m->nkeys; k++) {
            Fedbus__MemberKey *mk = &l->key_items[l->nkeys];
            fedbus__member_key__init(mk);
            mk->member = (char *)m->id;
            mk->key_id = (ProtobufCBinaryData){FB_MEMBER_KEY_ID_LEN, (uint8_t *)m->keys[k].key_id};
            mk->public_key = (ProtobufCBinaryData){FB_MEMBER_SIGN_KEY_LEN, (uint8_t *)m->keys[k].public_key};
            mk->valid_from_us = m->keys[k].valid_from_us;
            mk->valid_until_us = m->keys[k].valid_until_us;
            l->keys[l->nkeys++] = mk;
        }
    }
    ch->n_keys = l->nkeys;
    ch->keys = l->keys;
    return 0;
}

int fb_replay_lookup_fill(fb_replay_lookup_t *l, fb_store_t *reader, fb_identity_t *identity,
                          const fb_peer_id_t *peer, const Fedbus__ReplayRequest *req, Fedbus__ReplayChunk *ch,
                          const char **detail)
{
    *detail = "directory and seal_origin: one or the other";
    if (req->directory && ((req->seal_origin && req->seal_origin[0]) || req->seal_origin_seq || req->seal_global_seq))
        return FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD;
    ch->done = 1;
    return req->directory ? s_keys(l, identity, ch) : s_seal(l, reader, peer, req, ch, detail);
}

void fb_replay_lookup_clear(fb_replay_lookup_t *l)
{
    fb_replay_proofs_clear(&l->proofs);
    free(l->keys);
    free(l->key_items);
    memset(l, 0, sizeof(*l));
}
