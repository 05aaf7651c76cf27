/* fb_batch.h — a batch of publishes and what becomes of each: classification, numbering, heads.
 *
 * A batch is filled by the main thread (fb_ingest), classified, numbered and
 * stored by the writer (fb_writer), then answered by the main thread again; it
 * belongs to one thread at a time and is handed over as a pointer. Its struct
 * is open: the modules around it walk its items in their hot loops.
 *
 * The functions here are pure: no socket, no PostgreSQL. What the store knows
 * comes in as data (the stored heads, the recently stored ids, the rows found
 * by a look-up the caller made with fb_batch_keys()'s keys). */
#ifndef FB_BATCH_H
#define FB_BATCH_H

#include "fb_arena.h"
#include "fb_crypto.h"
#include "fb_map.h"
#include "fb_recent.h"
#include "fb_store.h"
#include "fb_wire.h"

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

/* What is known of a publish (docs/protocol.md, "Duplicates and sequence"). */
typedef enum {
    FB_BATCH_PENDING,   /* read and checked, not yet classified */
    FB_BATCH_NEW,       /* to be stored with the next global_seq */
    FB_BATCH_CHECK,     /* origin_seq not above its origin's head: look it up */
    FB_BATCH_SEEN,      /* origin_seq above the head, but its id was stored lately: look it up */
    FB_BATCH_DUP_REF,   /* the same message earlier in this batch (ref) */
    FB_BATCH_DUPLICATE, /* stored before: acked with its global_seq */
    FB_BATCH_COMMITTED, /* stored by an earlier attempt of this batch whose COMMIT reply was lost */
    FB_BATCH_REJECTED,
} fb_batch_state_t;

/* One publish. The envelope bytes point into its frame (or the batch's
 * arena); origin, topic and a refused envelope's detail live in the arena. */
typedef struct {
    const uint8_t *env_data; /* the publisher's envelope bytes */
    size_t env_len;
    const char *origin, *topic; /* NUL-terminated */
    uint64_t origin_seq;
    int64_t created_at_us;
    uint8_t hash[FB_SHA256_LEN];
    /* The chain link as read with the envelope, when link_read: its
     * prev_hash fields (0 or 1) and the last one's bytes; else the
     * verifier scans the envelope for it. */
    int link_read;
    unsigned prev_hash_count;
    const uint8_t *prev_hash;
    size_t prev_hash_len;
    uint8_t id[FB_UUID_LEN]; /* message_id; also of an envelope refused while read, when it decoded */
    int has_id;
    fb_batch_state_t state;
    uint64_t global_seq;
    size_t ref;          /* FB_BATCH_DUP_REF: the index of the first copy */
    int resent;          /* a duplicate that came under an origin_seq above the head */
    uint64_t dup_origin_seq; /* FB_BATCH_DUPLICATE: the stored copy's origin_seq */
    uint64_t key;        /* fb_recent_key() of (origin, id), once classified */
    int reason;          /* FB_BATCH_REJECTED: a Fedbus__RejectReason */
    const char *detail;  /* ... and its text (static, or in the arena) */
    uint8_t stamp[FB_STAMP_MAX]; /* the broker's fields, appended to the stored envelope */
    size_t stamp_len;
    size_t group_n;      /* first item of a PublishBatch frame: how many items it holds */
    int in_group;        /* answered in its frame's AckBatch, not alone */
} fb_batch_item_t;

/* The frame an item came in: the sender's identity and the bytes, which
 * env_data points into. Only the first item of a PublishBatch holds one. */
typedef struct {
    zmq_msg_t ident;
    zmq_msg_t body;
} fb_batch_frame_t;

typedef struct {
    fb_batch_item_t *items;
    fb_batch_frame_t *frames; /* parallel to items */
    size_t nitems;
    long long bytes;          /* envelope bytes */
    /* The writer's working space: rows to COPY, keys to look up and what
     * was found (key_items[k] is the item of keys[k]). */
    fb_store_row_t *rows;
    fb_store_key_t *keys;
    fb_store_found_t *found;
    size_t *key_items;
    fb_map_t *heads;     /* origin -> highest origin_seq of this batch's new rows */
    /* In-batch duplicates: an open-addressed table of item indexes by
     * fingerprint (fb_recent_key), the first item of each (message_id,
     * origin); small enough to stay in cache, where a map of inline keys
     * took a cache miss per publish. */
    uint32_t *id_slots;
    size_t id_cap;       /* slots allocated: a power of two, >= 2 x max */
    fb_arena_t *arena;   /* what the batch keeps of its envelopes, released with it */
    /* The seals of its frames that verified (fb_verify), each in the arena,
     * stored with the batch's rows. */
    const struct fb_verify_proof **proofs;
    size_t nproofs;
    /* SQL stored in its transaction besides (fb_health's state changes; in
     * the arena, "" or NULL: none). */
    char *extra_sql;
    uint64_t base;       /* the store's head when the writer took the batch */
    uint64_t head;       /* ... and after it stored the batch */
    uint64_t store_errors;    /* attempts that failed */
    uint64_t store_conflicts; /* COPYs refused for an id stored before */
    int64_t first_us;    /* monotonic: when its first publish was read */
    int64_t store_us;    /* how long the writer took to store it, retries included */
    int dropped;         /* stop requested while the store was away: nothing stored */
    uint64_t serial;     /* the writer's number for it, rising as batches start to fill */
} fb_batch_t;

/* Returns a batch with room for max items, or NULL when out of memory. */
fb_batch_t *fb_batch_new(size_t max);

/* Frees *self_p and its frames (accepts NULL; sets *self_p to NULL). */
void fb_batch_destroy(fb_batch_t **self_p);

/* Returns the next free item, reset, its frame's two messages initialised
 * (empty); it joins the batch only when the caller counts it in nitems, else
 * the caller gives it back with fb_batch_drop(). */
fb_batch_item_t *fb_batch_open(fb_batch_t *self);

/* Closes the frame of the uncounted item it (what it put into the arena
 * stays until the batch is released). */
void fb_batch_drop(fb_batch_t *self, fb_batch_item_t *it);

/* Closes every frame and empties the batch (its memory is kept). */
void fb_batch_release(fb_batch_t *self);

/* Marks it refused with reason and detail (static or in the arena). */
void fb_batch_reject(fb_batch_item_t *it, int reason, const char *detail);

/* Classifies every item not yet refused, in order: a second copy of an
 * (origin, message_id) in the batch refers to the first (other content:
 * ID_REUSED); an origin_seq above its origin's head — this batch's new rows
 * first, then stored_heads — is new, unless recent (may be NULL) holds its
 * id: then it is looked up (FB_BATCH_SEEN); any other is looked up
 * (FB_BATCH_CHECK). Sets each item's key. */
void fb_batch_classify(fb_batch_t *self, const fb_map_t *stored_heads, const fb_recent_t *recent);

/* Fills keys and key_items with the items to look up in the store: those
 * classified CHECK or SEEN, or with conflict the NEW ones (their COPY was
 * refused: one of them is stored already). Returns how many. */
size_t fb_batch_keys(fb_batch_t *self, int conflict);

/* Settles the n items of keys by found[]: stored with the same content hash
 * is a DUPLICATE (COMMITTED when numbered above base: this batch stored it),
 * with other content ID_REUSED; not stored, a CHECK is STALE_SEQUENCE and a
 * SEEN is NEW. */
void fb_batch_resolve(fb_batch_t *self, size_t n);

/* Numbers the NEW items from store_head + 1 on, stamps them stored at
 * now_us, fills rows with them and heads with each origin's last one;
 * returns how many rows. */
size_t fb_batch_assign(fb_batch_t *self, uint64_t store_head, int64_t now_us);

/* Raises each origin's head in into to from's where it is higher. */
void fb_batch_merge_heads(const fb_map_t *from, fb_map_t *into);

/* Returns how many items of the batch name origin (read and checked, not
 * refused as they were read) and raises *max_seq to the highest origin_seq
 * among them. Reads only what the main thread wrote (origin, origin_seq),
 * so it may look at a batch the writer holds. */
size_t fb_batch_count_origin(const fb_batch_t *self, const char *origin, uint64_t *max_seq);

/* Settles a reference to an earlier copy in the batch: the item becomes a
 * DUPLICATE of it, or takes its reject. Items of other states are left. */
void fb_batch_settle(const fb_batch_t *self, fb_batch_item_t *it);

#endif
