/* fb_subscriber_int.h — the subscriber's state, shared by fb_subscriber.c and fb_subscriber_verify.c only. */
#ifndef FB_SUBSCRIBER_INT_H
#define FB_SUBSCRIBER_INT_H

#include "fb_arena.h"
#include "fb_client_int.h"

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

/* A message waiting in the queue (replayed, or held live and vouched for). */
typedef struct {
    uint8_t *data;
    size_t len;
    int verified; /* FB_MSG_*, as checked when it was queued (with its chunk's proofs) */
    char *why;    /* owned; NULL: none */
} fb_sub_blob_t;

struct fb_subscriber {
    void *sock;
    fb_endpoint_opts_t *replay; /* owned copy; NULL: no catch-up, no repair */
    char **patterns;
    int npatterns;
    int catchup;          /* history from from_seq still to be fetched */
    int repairing;        /* the catch-up is a repair: count what it brings */
    uint64_t from_seq;
    uint64_t last_seq;    /* highest global_seq delivered */
    uint64_t covered;     /* every matching message up to it is delivered or queued */
    int based;            /* covered is known: a from_seq was given, or a head frame came */
    int repair_due;       /* a head frame (or a live message) came above covered */
    int oom;              /* s_enqueue() ran out of memory */
    int drained;          /* live messages read while a due repair waits for the queue to empty */
    int64_t next_repair_us;
    int64_t retry_us;     /* after a failed replay: not again before then */
    uint64_t repaired;    /* messages repair delivered that the feed had lost */
    int from_start;       /* the catch-up asks for everything kept (from_seq 0) */
    uint64_t lost_first, lost_last, lost_total; /* global_seqs retention took from under this subscriber */
    uint64_t *seen;       /* live global_seqs above covered since the last repair, ascending */
    size_t nseen;
    fb_sub_blob_t *queue;      /* replayed history waiting for delivery */
    size_t qlen, qcap, qhead;
    uint8_t *held;        /* replayed blob behind the last delivered message */
    fb_arena_t *arena;    /* the last delivered message's fields and decode; reset for each */
    zmq_msg_t frame;
    int frame_live;
    /* Batched feed frames (docs/protocol.md, "Feed"): until the first one
     * comes, the plain prefixes are subscribed too, for a broker that
     * sends no batches; after it, they are unsubscribed (the SUB socket
     * then drops the plain frames still queued, as matching nothing). While
     * bp < bend, frame is a batch not yet delivered whole. */
    int batched;
    char **plain;
    int nplain;
    const uint8_t *bp, *bend;
    /* A feed that says nothing is connected again (with replay, whose head
     * frames come every 200 ms): ZeroMQ never retries a connection whose
     * handshake the broker refused (this member suspended, its key not yet
     * registered), nor notices a broker that stopped sending. */
    char *feed_endpoint;
    int64_t heard_us;   /* monotonic: the last frame, or the last connection */
    int64_t silence_us; /* how long a silence is borne before connecting again */
    /* Verification (fb_subverify.c): on unless set off. */
    fb_subverify_t *sv;
    fb_endpoint_opts_t *verify_replay; /* owned: fb_subscriber_verify_via() */
    int verify_off;
    int pinned;      /* keys were pinned: seals can be checked without replay */
    int seals_sub;   /* subscribed to the feed's seal frames */
    uint64_t failed; /* messages delivered with FB_EVERIFY */
    /* Count frames (with replay only): the counts, and the live messages
     * above covered held until the next head's count frames settle. */
    fb_subcount_t *sc;
    fb_sub_blob_t *hold;
    size_t nhold, caphold, hold_bytes;
    const char *btopic; /* the batched frame's topic (in frame), btlen bytes */
    size_t btlen;
};

/* Subscribes to the feed's seal frames while they are of use, or
 * unsubscribes (fb_subscriber_verify.c). Returns FB_OK or FB_EIO. */
int fb_subscriber_seals_subscribe(fb_subscriber_t *self);

#endif
