/* fb_replay_lookup.h — replay requests answered in one chunk besides a scan: one envelope's seal (seal_origin) and the members' signing keys (directory).
 *
 * A subscriber that verifies what it is delivered asks these: the seal of
 * a frame it received live (seal_origin, seal_origin_seq), and the keys to
 * check seals with (directory). Both are answered at once, from the
 * reader's connection and the directory in force, in one ReplayChunk with
 * done set (docs/protocol.md, "Proofs in replay" and "Member keys"). */
#ifndef FB_REPLAY_LOOKUP_H
#define FB_REPLAY_LOOKUP_H

#include "fb_identity.h"
#include "fb_replay_proofs.h"
#include "fb_store.h"
#include "fedbus.pb-c.h"

/* What one answer holds besides the chunk: zero-initialise, fill, pack the
 * chunk, then clear. */
typedef struct {
    fb_replay_proofs_t proofs;
    Fedbus__MemberKey **keys; /* nkeys, each pointing into the directory in force: pack before the
                                 next call to the identity */
    Fedbus__MemberKey *key_items;
    size_t nkeys;
} fb_replay_lookup_t;

/* Whether req asks for a look-up rather than a scan. */
int fb_replay_lookup_wanted(const Fedbus__ReplayRequest *req);

/* Fills ch (request_id, head_seq and first_seq are the caller's) with the
 * answer to req from peer: the seal proofs of the envelope of
 * req->seal_origin and seal_origin_seq, or none when no such envelope is
 * stored or peer may not read it (the two look alike: nothing leaks); or
 * every member's signing keys. Returns 0; a reject reason with *detail
 * (static) for a bad request; or -1 for a store error (fb_store_error())
 * or no memory. */
int fb_replay_lookup_fill(fb_replay_lookup_t *l, fb_store_t *reader, fb_identity_t *identity,
                          const fb_peer_id_t *peer, const Fedbus__ReplayRequest *req, Fedbus__ReplayChunk *ch,
                          const char **detail);

/* Frees what fill made; l is empty again. */
void fb_replay_lookup_clear(fb_replay_lookup_t *l);

#endif
