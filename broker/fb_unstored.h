/* fb_unstored.h — fedbus_unstored: envelopes linked into their origin's chain but not stored, kept with why.
 *
 * An envelope above its origin's chain head becomes the head once its seal
 * verifies (fb_verify.h), even when the store then takes no row for it: a
 * DUPLICATE of a stored message_id under a new origin_seq (a re-publish),
 * or one refused STALE_SEQUENCE or ID_REUSED. Its link is in fedbus_seals;
 * this table keeps its envelope bytes (as the origin sent them), the
 * reason and, for a DUPLICATE, the stored original's global_seq, so that
 * `fedbus verify` can tell it from a stored row that was deleted. Rows are
 * written in the batch's transaction; they are rare (resends, re-publishes). */
#ifndef FB_UNSTORED_H
#define FB_UNSTORED_H

#include "fb_batch.h"

/* The schema migration that makes the table (for broker/fb_migrate.c). */
extern const char fb_unstored_schema_sql[];

/* Returns "INSERT INTO fedbus_unstored ... ON CONFLICT DO NOTHING; " for
 * the items of b (classified, resolved and numbered) that one of its proofs
 * linked into the chain and that are not stored, "" when there are none, or
 * NULL when out of memory. The caller frees it. */
char *fb_unstored_sql(const fb_batch_t *b);

#endif
