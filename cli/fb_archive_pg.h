/* fb_archive_pg.h — reads stored history (fedbus_seals, fedbus_messages) from PostgreSQL for verify and export. */
#ifndef FB_ARCHIVE_PG_H
#define FB_ARCHIVE_PG_H

#include <stddef.h>
#include <stdint.h>

#include "fb_history.h"

/* Which history: NULL fields select everything. since and until are
 * PostgreSQL timestamptz text (e.g. RFC 3339) over stored_at: since <= it < until. */
typedef struct {
    const char *origin, *since, *until;
} fb_archive_range_t;

/* Where the rows go. Each callback returns 0, or -1 to stop (an output error). */
typedef struct {
    int (*seal)(void *arg, const fb_history_seal_t *s);
    int (*envelope)(void *arg, const uint8_t *env, size_t len, uint64_t global_seq);
    /* a row of fedbus_unstored (linked but not stored); NULL: not read */
    int (*unstored)(void *arg, const fb_history_unstored_t *u);
    /* fedbus_retention.ids_from in Unix ms (0: none), before any row; NULL: not read */
    int (*ids_from)(void *arg, int64_t ms);
    void *arg;
} fb_archive_sink_t;

/* Streams from conninfo: first every seal that covers an origin_seq within
 * the lowest and highest of the origin's selected envelopes (by origin,
 * first_seq), then the selected envelopes (by global_seq), each as stored,
 * then (when sink->unstored is set and the database has the table) the
 * envelopes linked but not stored in that range. Counts them into *nseals,
 * *nenvelopes, *nunstored. Returns 0, or -1 with a one-line
 * reason in err (PostgreSQL unreachable, an SQL error, a callback's stop). */
int fb_archive_pg_read(const char *conninfo, const fb_archive_range_t *range, const fb_archive_sink_t *sink,
                       size_t *nseals, size_t *nenvelopes, size_t *nunstored, char *err, size_t err_size);

#endif
