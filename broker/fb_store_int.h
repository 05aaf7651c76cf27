/* fb_store_int.h — the store's insides, shared by its files (fb_store.c, fb_store_read.c, fb_store_part.c) and no one else.
 *
 * libpq types appear here because only the store's files include it. */
#ifndef FB_STORE_INT_H
#define FB_STORE_INT_H

#include "fb_copy.h"
#include "fb_map.h"
#include "fb_seqmap.h"
#include "fb_store.h"

#include <libpq-fe.h>

typedef struct {
    char origin[FB_SEGMENT_MAX + 1];
    uint64_t origin_seq, global_seq;
    int64_t stored_at_us;
} fb_store_head_t;

struct fb_store {
    PGconn *conn;
    fb_store_role_t role;
    char *conninfo;
    char error[256];
    fb_copy_t *copy; /* the COPY data's encoder, made by the first append */
    /* Heads are written to fedbus_origins once per heads-interval, not with
     * every batch: `pending` holds, per origin, the head of what was
     * committed since the last time; `batch` the heads of the batch being
     * written. Reading the heads adds what was stored after them. */
    fb_store_head_t *pending;
    size_t npending, cap_pending;
    fb_map_t *pending_at; /* origin -> index in pending */
    fb_store_head_t *batch;
    size_t nbatch, cap_batch;
    fb_map_t *batch_at;
    int64_t heads_interval_us;
    int64_t heads_written_us; /* monotonic; 0 = never */
    /* The COPY of the next batch, sent ahead (fb_store_append, after a
     * commit): 0 = none, S_AHEAD_COPY, or S_AHEAD_BEGIN when it opened a
     * transaction for the heads too. */
    int ahead;
    int send_ahead; /* whether to (fb_store_set_ahead) */
    void (*on_sent)(void *arg); /* fb_store_set_on_sent */
    void *on_sent_arg;
    int timeout_ms; /* statement_timeout, set at every connect (0 = the server's) */
    int lock_timeout_ms; /* lock_timeout, likewise */
    const char *extra; /* fb_store_set_extra(): SQL for the next append's transaction */
    int extra_last;    /* the last append had some: the next COPY sent ahead opens a transaction */
    /* The retention horizon as the last replay page read it. */
    uint64_t page_horizon_seq;
    int64_t page_horizon_us;
    int page_prepared; /* the page query without prefixes is prepared on this connection */
    fb_seqmap_t seqmap;       /* partitions by global_seq, for pages with prefixes (fb_store_read.c) */
    int64_t seqmap_tried_us;  /* monotonic: when it was last read, or tried */
};

/* Sets the store's error to "what: <res's error>" (conn's when res is NULL). */
void fb_store_fail(fb_store_t *self, const char *what, const PGresult *res);

/* Runs sql without parameters; 0 when its result has status want, else -1
 * with the error set. */
int fb_store_exec(fb_store_t *self, const char *sql, ExecStatusType want);

/* Closes a COPY sent ahead, if any: every other statement of the store
 * runs after it (fb_store_idle() is the public name). */
#define fb_store_settle(self) ((void)fb_store_idle(self))

/* Connects again (after the server dropped the connection); 0 or -1. */
int fb_store_reconnect(fb_store_t *self);

/* A bigint or timestamptz of a binary result: 8 bytes, big-endian. */
static inline uint64_t fb_store_be64(const char *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v = v << 8 | (uint8_t)p[k];
    return v;
}

#endif
