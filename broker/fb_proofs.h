/* fb_proofs.h — the seals the broker verified, stored with the envelopes they cover.
 *
 * Table fedbus_seals holds, per verified frame, the seal as signed, the
 * entry hashes and origin_seqs of all its envelopes (stored or not: a
 * duplicate or a refused one is still a link of its origin's chain), and the
 * origin's chain head after it. It is written in the same transaction as the
 * frame's envelopes, so that a stored envelope always has its proof. The
 * chain heads are read back from it at start. */
#ifndef FB_PROOFS_H
#define FB_PROOFS_H

#include "fb_verify.h"

#include <libpq-fe.h>
#include <stddef.h>

/* The schema migration that makes the table (for broker/fb_migrate.c). */
extern const char fb_proofs_schema_sql[];

/* Returns "INSERT INTO fedbus_seals ... ON CONFLICT DO NOTHING; " for the n
 * proofs (malloc'd; the caller frees it), "" for n == 0, or NULL when out of
 * memory. Bytes go as hex literals: one statement, sent with the batch's
 * COMMIT, costs no round trip of its own. */
char *fb_proofs_sql(const struct fb_verify_proof *const *proofs, size_t n);

/* Calls fn(arg, origin, head_seq, head_hash) for the latest chain head of
 * every origin stored. Returns 0, or -1 with the reason in err. */
int fb_proofs_load_heads(PGconn *conn, int (*fn)(void *arg, const char *origin, uint64_t seq, const uint8_t *hash),
                         void *arg, char *err, size_t err_size);

/* One stored seal with the entry hashes it covers (pointing into a result
 * that lives for the call of fn only). */
typedef struct fb_proofs_seal {
    fb_seal_t seal;
    size_t n;
    const uint8_t *entries; /* n * FB_SHA256_LEN bytes, in the frame's order */
} fb_proofs_seal_t;

/* For the n envelopes (origins[i], seqs[i]), calls fn(arg, seal) once for
 * each seal that linked one of them into its origin's chain: the earliest
 * stored seal that holds the origin_seq at or below the chain head it
 * recorded. An envelope no seal covers has none. Returns 0, or -1 with the
 * reason in err. */
int fb_proofs_covering(PGconn *conn, const char *const *origins, const uint64_t *seqs, size_t n,
                       void (*fn)(void *arg, const fb_proofs_seal_t *seal), void *arg, char *err, size_t err_size);

#endif
