/* fb_copy.h — fedbus_messages rows as PostgreSQL binary COPY data, handed on chunk by chunk.
 *
 * Part of the store: the COPY command and the encoding of its rows, which
 * must agree column for column, live here together. The encoder itself
 * knows nothing of the connection: each chunk goes to a sink (fb_store's
 * PQputCopyData). */
#ifndef FB_COPY_H
#define FB_COPY_H

#include "fb_store.h"

#include <stddef.h>
#include <stdint.h>

/* The command the rows are encoded for. */
#define FB_COPY_SQL                                                                                \
    "COPY fedbus_messages (global_seq, origin, origin_seq, message_id, topic, created_at, "      \
    "stored_at, content_hash, envelope) FROM STDIN (FORMAT binary)"

/* PostgreSQL's epoch, 2000-01-01, in Unix microseconds: timestamps on the
 * wire count from it. */
#define FB_COPY_PG_EPOCH_US 946684800000000LL

/* Takes len bytes of COPY data (valid during the call only); returns 0, or
 * -1 to stop the encoding. */
typedef int(fb_copy_sink_fn)(void *arg, const uint8_t *data, size_t len);

typedef struct fb_copy fb_copy_t;

/* Returns an encoder that hands its chunks to sink(arg), or NULL when out
 * of memory. */
fb_copy_t *fb_copy_new(fb_copy_sink_fn *sink, void *arg);

/* Frees *self_p (accepts NULL; sets *self_p to NULL). */
void fb_copy_destroy(fb_copy_t **self_p);

/* Encodes the n rows as one complete binary COPY stream (header, rows,
 * trailer) and hands it on, chunk by chunk while it is encoded; an envelope
 * larger than a chunk goes to the sink by itself, uncopied. Returns 0, or -1
 * when the sink refused a chunk. */
int fb_copy_rows(fb_copy_t *self, const fb_store_row_t *rows, size_t n);

#endif
