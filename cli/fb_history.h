/* fb_history.h — checks stored history offline: seals against the member directory, links, coverage.
 *
 * What `fedbus verify` checks, apart from where the history comes from
 * (PostgreSQL or an archive, cli/fb_archive.h). The caller hands it the
 * member directory (the JSON of `fedbus member export-directory`), the
 * seals (rows of fedbus_seals) and the stored envelopes (the bytes of
 * fedbus_messages.envelope), then asks for the verdict. Per origin:
 *
 *   - every seal is well-formed, its root is the RFC 6962 root of its
 *     entry hashes, its key is the origin's in the directory, signed_at_us
 *     lies inside that key's window, and the Ed25519 signature verifies;
 *   - the links of the chain are the entries of valid seals at or below the
 *     chain head the broker recorded with each (entries above it were
 *     refused BROKEN_CHAIN and sent again later); two valid seals that put
 *     different entry hashes at one origin_seq are a fork;
 *   - every stored envelope ends with the broker's stamp, and its entry hash
 *     is the link at its origin_seq (sealed), or there is no link there and
 *     no seal that failed covers it (unsealed: allowed while the broker's
 *     signatures setting is optional, reported apart);
 *   - every sealed envelope's prev_hash is the link before it (the first
 *     one checked has no link before it in range: its seal alone vouches);
 *   - every link between the origin's lowest and highest sealed envelope is
 *     stored (else it was deleted or dropped), or kept as linked but not
 *     stored (fb_history_add_unstored()) with a reason its stored rows bear
 *     out.
 *
 * Pure: no PostgreSQL, no file. Not thread-safe. */
#ifndef FB_HISTORY_H
#define FB_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "fb_seal.h"

/* One stored seal: the seal as signed, its n entry hashes and origin_seqs
 * in the frame's order, and the broker's chain head after it. */
typedef struct {
    fb_seal_t seal;
    size_t n;
    const uint8_t (*entries)[FB_SHA256_LEN];
    const uint64_t *seqs;
    uint64_t head_seq;
} fb_history_seal_t;

/* What a report line is about. */
typedef enum {
    FB_HISTORY_FAIL = 0,     /* something does not verify */
    FB_HISTORY_UNSEALED = 1, /* a stored envelope no seal covers */
} fb_history_kind_t;

/* Called once per problem with a line "ORIGIN seq N message_id ID: why"
 * (ID "-" when unknown; for a seal "ORIGIN seq FIRST-LAST seal ...: why"). */
typedef void (*fb_history_report_fn)(void *arg, fb_history_kind_t kind, const char *line);

typedef struct {
    size_t origins, seals, envelopes;
    size_t failed, unsealed; /* lines reported of each kind */
    /* envelopes linked into their chain but not stored, accepted, by reason */
    size_t unstored, unstored_duplicate, unstored_stale, unstored_reused;
} fb_history_counts_t;

/* An envelope the broker linked into its origin's chain but stored no row
 * for (a row of fedbus_unstored): its bytes as the origin sent them, why
 * ("DUPLICATE", "STALE_SEQUENCE", "ID_REUSED") and, for a DUPLICATE, the
 * stored original's global_seq. */
typedef struct {
    const uint8_t *env;
    size_t len;
    const char *reason;
    uint64_t original_seq;
} fb_history_unstored_t;

typedef struct fb_history fb_history_t;

/* Returns an empty checker; `missing` is the word a missing link is
 * reported with (e.g. "not stored", "not in the archive"; borrowed, must
 * outlive it). NULL when out of memory. */
fb_history_t *fb_history_new(const char *missing);

/* Accepts NULL and *self_p == NULL; nulls *self_p. */
void fb_history_destroy(fb_history_t **self_p);

/* Takes the member directory (export-directory's JSON, borrowed) as the
 * signing keys to check against. Returns 0, or -1 with the reason in err
 * (not a directory: no "members" array, a key that is not valid). */
int fb_history_directory(fb_history_t *self, const json_t *dir, char *err, size_t err_size);

/* Adds a seal (copied). Returns 0, or -1 when out of memory. */
int fb_history_add_seal(fb_history_t *self, const fb_history_seal_t *s);

/* Adds a stored envelope, len bytes (copied). An envelope that is not
 * well-formed or carries no origin is reported when checked. Returns 0, or
 * -1 when out of memory. */
int fb_history_add_envelope(fb_history_t *self, const uint8_t *env, size_t len);

/* Adds an envelope linked but not stored (copied). It accounts for the
 * missing link at its origin_seq only when its entry hash is the link's
 * and, for a DUPLICATE, a stored envelope of its origin has its message_id
 * and content hash (for an ID_REUSED, its message_id with other content);
 * else it is reported. Returns 0, or -1 when out of memory. */
int fb_history_add_unstored(fb_history_t *self, const fb_history_unstored_t *u);

/* Ids dated before ms (Unix milliseconds of a UUIDv7 message_id) were
 * dropped by retention with their partitions (fedbus_retention.ids_from;
 * 0: none): a kept DUPLICATE of such an id is accepted without its
 * original, which retention removed. */
void fb_history_set_ids_from(fb_history_t *self, int64_t ms);

/* Checks everything added, reporting each problem through fn(arg, ...) in
 * origin order, and fills *out. Returns the number of FAIL lines. */
size_t fb_history_check(fb_history_t *self, fb_history_report_fn fn, void *arg, fb_history_counts_t *out);

#endif
