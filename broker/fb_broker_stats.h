/* fb_broker_stats.h — the broker's counters and gauges, as one struct other modules read.
 *
 * The main thread counts into its own copy, module by module (each gets a
 * pointer to it); fb_broker_stats() hands a consistent copy to any thread.
 * Counters only grow, from the broker's start; what the stats line shows per
 * interval (store_ms_max, store_ms_avg) is worked out from them. */
#ifndef FB_BROKER_STATS_H
#define FB_BROKER_STATS_H

#include "fb_retention.h"

#include <stdint.h>

/* Room for every reject reason (Fedbus__RejectReason, 0-19 today). */
#define FB_BROKER_NREASONS 24

typedef struct {
    /* ingest */
    uint64_t frames;       /* frames read on ingest, of every kind */
    uint64_t batch_frames; /* ... of them PublishBatch frames */
    uint64_t hellos, heartbeats;
    uint64_t heartbeats_refused; /* heartbeats for another member, or of one that may not go on: ignored */
    /* outcomes, one per publish */
    uint64_t accepted;
    uint64_t duplicates;
    uint64_t resends;      /* duplicates that came under an origin_seq above their origin's head */
    uint64_t rejected;
    uint64_t by_reason[FB_BROKER_NREASONS];
    uint64_t replies_dropped; /* acks the peer's full queue (or its absence) refused */
    /* the store */
    uint64_t batches;         /* batches stored and answered */
    uint64_t store_errors;    /* attempts to store a batch that failed (and were retried) */
    uint64_t store_conflicts; /* COPYs refused for an id stored before, then resolved and redone */
    uint64_t store_us_sum;    /* the writer's time on the batches answered, retries included */
    uint64_t handed_ahead;    /* batches handed to the writer while it committed the one before */
    /* the feed and replay */
    uint64_t feed_frames;  /* plain feed frames sent: one message each */
    uint64_t feed_batches; /* batched feed frames sent: several messages each */
    uint64_t feed_seals;   /* seal frames sent: one verified seal each */
    uint64_t feed_ignored; /* feed subscriptions not kept: too long, or past FB_FEED_PREFIXES_MAX */
    uint64_t replays;      /* replay requests taken */
    uint64_t replays_dropped; /* replays dropped after replay-stall: their client took nothing */
    uint64_t replays_refused; /* replay requests of peers that may not go on (NOT_AUTHORIZED) */
    uint64_t replays_stopped; /* replays in progress stopped when their member was cut off */
    uint64_t feed_cuts;       /* times the feed was closed and bound again to cut off a member */
    /* read permissions (docs/protocol.md, "Read permissions") */
    uint64_t feed_narrowed;    /* feed subscriptions narrowed to what the member may read */
    uint64_t feed_denied;      /* ... of which it may read nothing: nothing subscribed */
    uint64_t replays_narrowed; /* replay requests narrowed to what the member may read */
    uint64_t replays_denied;   /* ... of which it may read nothing: NOT_AUTHORIZED */
    /* trust (CURVE and ZAP; all 0 with insecure-plaintext) */
    uint64_t zap_admitted;    /* connections ZAP admitted */
    uint64_t zap_unknown, zap_suspended, zap_revoked, zap_other; /* ... and refused, by reason */
    uint64_t members, members_active; /* in the directory in force */
    uint64_t members_failures; /* reads of the registry that failed */
    /* gauges */
    uint64_t head;    /* highest global_seq committed and answered */
    uint64_t origins; /* origins with a committed head */
    /* the partition manager's counters, copied every turn of the loop */
    fb_retention_counts_t retention;
} fb_broker_stats_t;

#endif
