/* fb_replay_proofs.h — the SealProofs a replay chunk carries when its request asks (ReplayRequest.proofs).
 *
 * For the envelopes of one chunk: each seal that linked one of them into
 * its origin's chain (fb_proofs_covering()), once, as a SealProof — the
 * seal as signed and the entry hashes of the whole frame it covered — so
 * that a subscriber checks every delivered envelope offline: its entry hash
 * is among a proof's entries, the entries' RFC 6962 root is the seal's, and
 * the seal's signature verifies with the origin's key. A proof holds the
 * hashes of the frame's other envelopes too: they tell nothing of their
 * content, and are served only beside an envelope of that frame the
 * reader was given (see docs/protocol.md, "Proofs in replay"). */
#ifndef FB_REPLAY_PROOFS_H
#define FB_REPLAY_PROOFS_H

#include "fb_store.h"
#include "fedbus.pb-c.h"

#include <stddef.h>

typedef struct s_replay_proof s_replay_proof_t;

/* The proofs of one chunk; zero-initialise, fill, point the chunk at
 * proofs/n, pack it, then clear. */
typedef struct {
    Fedbus__SealProof **proofs;
    size_t n;
    s_replay_proof_t **items; /* owned, one per proof */
} fb_replay_proofs_t;

/* Reads, through reader, the proofs of the n envelopes envs[i] (as stored)
 * into *p. An envelope that no seal covers adds none (the subscriber finds
 * it unproven). Returns 0, or -1 (a store error, in fb_store_error(); or
 * out of memory). */
int fb_replay_proofs_fill(fb_replay_proofs_t *p, fb_store_t *reader, const ProtobufCBinaryData *envs, size_t n);

/* Reads the proof(s) of origin's envelope of origin_seq into *p (none when
 * no seal covers it). The caller checks first that the reader may read
 * that envelope. Returns 0, or -1 as fb_replay_proofs_fill(). */
int fb_replay_proofs_of(fb_replay_proofs_t *p, fb_store_t *reader, const char *origin, uint64_t origin_seq);

/* Frees what fill made; p is empty again. */
void fb_replay_proofs_clear(fb_replay_proofs_t *p);

#endif
