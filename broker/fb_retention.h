/* fb_retention.h — the partition manager: partitions made ahead of time, old ones dropped, the horizon kept; and the date rules of a message_id.
 *
 * fedbus_messages is partitioned by range of message_id, a UUIDv7, so by
 * the time its id was made (docs/operations.md, "Retention"). A thread of
 * its own, with a PostgreSQL connection of its own, runs a pass at start,
 * then every min(retention-period / 2, 60 s) and at once after the wall
 * clock jumps: it makes the partitions missing from the retention horizon
 * (or, keeping everything, from the oldest partition) to now +
 * id-max-future + two periods (at most 48 periods ahead); with retention set, it drops the partitions
 * whose whole range is older than now - retention and whose newest row was
 * stored before then too, and deletes the default partition's rows stored
 * before then, raising the horizon in fedbus_retention first, in the same
 * transaction. Every change runs under a short lock_timeout and is tried
 * again at the next pass when it would wait longer. The main thread reads
 * what the passes leave (the horizon, the ids it accepts) without locks. */
#ifndef FB_RETENTION_H
#define FB_RETENTION_H

#include "fb_store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    long long retention_ms; /* 0: keep everything */
    long long period_ms;    /* the width of a partition (below 1 s: fb_retention_auto_period()) */
    long long future_ms;    /* how far ahead of the clock an id may be dated */
} fb_retention_opts_t;

/* How long DDL may wait for a lock before it gives up until the next pass. */
#define FB_RETENTION_LOCK_TIMEOUT_MS 200

typedef struct fb_retention fb_retention_t;

/* Connects to pg (whose schema the writer has migrated), reads the horizon
 * and runs a first pass (whose failure is logged, not fatal: the thread
 * tries again). opts is copied. Returns the manager, or NULL after logging
 * why (no connection, out of memory). */
fb_retention_t *fb_retention_new(const char *pg, const fb_retention_opts_t *opts);

/* Starts the thread of the passes. Returns 0, or -1 after logging why. */
int fb_retention_start(fb_retention_t *self);

/* Stops the thread, closes the connection, frees *self_p (accepts NULL;
 * sets *self_p to NULL). */
void fb_retention_destroy(fb_retention_t **self_p);

/* The date rules of a message_id (a UUIDv7) at now_us, for the broker's
 * ingest: 0 when id may be stored; REJECT_BEYOND_RETENTION when it is dated
 * before the retention horizon (now - retention, or the end of a range
 * already dropped); REJECT_INVALID_FIELD when it is dated more than
 * id-max-future after now. detail (size bytes) then says which, with the
 * dates. Any thread. */
int fb_retention_check_id(const fb_retention_t *self, const uint8_t id[16], int64_t now_us, char *detail,
                          size_t size);

/* The horizon as the last pass left it: every message with global_seq >=
 * *seq is kept (1 when nothing was dropped), and every message stored at or
 * after *us (0 when nothing was dropped). Any thread. */
void fb_retention_horizon(const fb_retention_t *self, uint64_t *seq, int64_t *us);

/* What the passes did since the start (counters only grow). */
typedef struct {
    uint64_t failures;     /* changes that failed (a lock not had in time, an error), tried again later */
    uint64_t created;      /* partitions made */
    uint64_t moved;        /* rows moved out of the default partition into one made */
    uint64_t dropped;      /* partitions dropped */
    uint64_t rows_dropped; /* rows they held */
    uint64_t rows_expired; /* rows deleted from the default partition */
} fb_retention_counts_t;

/* Copies the counters into *out. Any thread. */
void fb_retention_counts(const fb_retention_t *self, fb_retention_counts_t *out);

/* ------------------------------------------- the arithmetic, pure --- */

/* The partition width retention-period 0 stands for: the widest of 1s,
 * 3s, 10s, 30s, 1m, 3m, 10m, 30m, 1h, 3h, 6h, 12h, 1d, 3d, 7d, 14d, 30d,
 * 90d, 180d that is at most a sixteenth of retention_ms (so that 16 to
 * about 50 partitions hold the window: every replay page reads each one's
 * index), or 30d when nothing is dropped. */
int64_t fb_retention_auto_period(int64_t retention_ms);

/* ms as the largest unit that divides it ("30d", "90m", "250ms"). */
void fb_retention_text(int64_t ms, char *out, size_t size);

/* ms rounded down to a multiple of period_ms (periods start at the Unix
 * epoch: with 1d, at 00:00 UTC). */
int64_t fb_retention_floor(int64_t ms, int64_t period_ms);

/* The name of the partition whose range starts at lo_ms:
 * fedbus_messages_YYYYMMDD_HHMMSS (UTC), with _mmm when lo_ms is not a
 * whole second. out holds at least 48 bytes. */
void fb_retention_name(int64_t lo_ms, char *out, size_t size);

/* A range of id times, [lo_ms, hi_ms). */
typedef struct {
    int64_t lo_ms, hi_ms;
} fb_retention_range_t;

/* The partitions to make so that every id dated in [lo_ms, hi_ms) has one:
 * the gaps the range partitions among parts[0..n) leave, cut at multiples
 * of period_ms; a gap of more than 64 periods (a broker stopped for long)
 * gets one partition for all but its last 63. Writes at most max ranges
 * into out, oldest first, and returns how many. */
size_t fb_retention_gaps(const fb_store_part_t *parts, size_t n, int64_t lo_ms, int64_t hi_ms, int64_t period_ms,
                         fb_retention_range_t *out, size_t max);

#endif
