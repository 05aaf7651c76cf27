/* fb_store.h — the broker's PostgreSQL store: with fb_migrate.c, the only files that use libpq.
 *
 * One writer connection appends batches with binary COPY inside one
 * transaction (group commit); a reader connection serves replay; a third
 * manages the partitions (fb_store_part.c, for fb_retention). The schema
 * is versioned and migrated at open (fb_migrate.c; docs/operations.md lists
 * versions); the rows are encoded by fb_copy.c; look-ups and replay pages
 * are in fb_store_read.c. */
#ifndef FB_STORE_H
#define FB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "fedbus/fb_topic.h"

typedef struct fb_store fb_store_t;

typedef enum { FB_STORE_WRITER, FB_STORE_READER } fb_store_role_t;

/* One stored message. The stored envelope is body followed by stamp. */
typedef struct {
    uint64_t global_seq;
    const char *origin;
    uint64_t origin_seq;
    const uint8_t *message_id; /* 16 bytes */
    const char *topic;
    int64_t created_at_us;
    int64_t stored_at_us;
    const uint8_t *hash; /* 32 bytes: content hash (fb_wire_content_hash) */
    const uint8_t *body;
    size_t body_len;
    const uint8_t *stamp;
    size_t stamp_len;
} fb_store_row_t;

/* What is stored under (origin, message_id), for duplicate checks. */
typedef struct {
    int found;
    uint64_t global_seq;
    uint64_t origin_seq;
    int64_t stored_at_us;
    uint8_t hash[32];
} fb_store_found_t;

typedef struct {
    const char *origin;
    const uint8_t *message_id;
} fb_store_key_t;

/* Connects with conninfo. A writer migrates the schema and takes the
 * single-writer lock (a second broker on the same database fails here).
 * Returns the store, or NULL with a one-line reason in err. */
fb_store_t *fb_store_open(const char *conninfo, fb_store_role_t role, char *err, size_t err_size);
void fb_store_destroy(fb_store_t **self_p);

/* The last error message of the store (static to the store; never NULL,
 * also for a NULL store). */
const char *fb_store_error(const fb_store_t *self);

/* Re-establishes a broken connection; returns 0 when usable again, -1
 * when not (and for a NULL store). */
int fb_store_check(fb_store_t *self);

/* Highest global_seq stored (0 when empty). Returns FB_OK or FB_ESTORE. */
int fb_store_head(fb_store_t *self, uint64_t *global_seq);

/* Calls fn for every origin with the highest origin_seq stored for it
 * (fedbus_origins as last written, plus what was stored since). */
int fb_store_origin_heads(fb_store_t *self,
                          void (*fn)(const char *origin, uint64_t last_origin_seq, void *arg),
                          void *arg);

/* Calls fn with the origin and message_id (16 bytes) of each of the last max
 * messages stored, newest first (valid during the call only). Returns FB_OK
 * or FB_ESTORE. */
int fb_store_recent(fb_store_t *self, size_t max,
                    void (*fn)(const char *origin, const uint8_t *message_id, void *arg), void *arg);

/* Appends n rows in one transaction; once per heads interval the same
 * transaction also writes the origins' heads (fedbus_origins) for what was
 * committed since the last time. Returns FB_OK once COMMIT succeeded;
 * FB_ECONFLICT when a (origin, message_id) already exists (nothing stored);
 * FB_ESTORE otherwise (nothing stored). */
int fb_store_append(fb_store_t *self, const fb_store_row_t *rows, size_t n);

/* Calls fn(arg, origin, seq, hash) with every origin's signed chain head
 * as the stored proofs hold it (fb_proofs). Returns FB_OK, or FB_ESTORE. */
int fb_store_chain_heads(fb_store_t *self, int (*fn)(void *arg, const char *origin, uint64_t seq, const uint8_t *hash),
                         void *arg);

/* The seals that cover the n envelopes (origins[i], seqs[i]), each once, to
 * fn (fb_proofs_covering()). Returns FB_OK or FB_ESTORE (fb_store_error()). */
struct fb_proofs_seal;
int fb_store_seal_proofs(fb_store_t *self, const char *const *origins, const uint64_t *seqs, size_t n,
                         void (*fn)(void *arg, const struct fb_proofs_seal *seal), void *arg);

/* Calls fn(arg, topic) with the topic of each stored envelope of origin
 * with origin_seq (one, unless a message was sent again under a sequence
 * already used) until fn returns non-zero; global_seq (0: unknown) narrows
 * the look-up to that row (one index probe, where origin and origin_seq
 * alone read every row of the origin). Returns 1 when fn did, 0 when it
 * never did (or nothing is stored), -1 on a store error (fb_store_error()). */
int fb_store_topics_of(fb_store_t *self, const char *origin, uint64_t origin_seq, uint64_t global_seq,
                       int (*fn)(void *arg, const char *topic), void *arg);

/* sql (borrowed until the next append returns; NULL or "": none) runs in
 * the next fb_store_append()'s transaction, after the rows and before
 * COMMIT, and fails it when it fails: what must be stored with the rows or
 * not at all (the frames' proofs). It ends in "; ". */
void fb_store_set_extra(fb_store_t *self, const char *sql);

/* With on, every fb_store_append() that commits sends the next batch's
 * COPY command at once, without waiting for its answer: the next append
 * then only takes the answer, one round trip less on its way. A COPY sent
 * ahead holds a transaction (and its snapshot) open on the server until
 * the next append, fb_store_idle(), or any other call of this store, which
 * close it first, storing nothing. Off by default. */
void fb_store_set_ahead(fb_store_t *self, int on);

/* fn(arg) is called by fb_store_append() once the batch's rows are all
 * sent, before it waits for the COMMIT (again on a retry). */
void fb_store_set_on_sent(fb_store_t *self, void (*fn)(void *arg), void *arg);

/* Whether a COPY sent ahead is open. */
int fb_store_ahead(const fb_store_t *self);

/* Closes the COPY sent ahead, if any (call it when no batch is coming
 * soon); returns 1 when there was one. */
int fb_store_idle(fb_store_t *self);

/* Writes the heads committed since the last write now (the broker does at
 * stop). Returns FB_OK or FB_ESTORE. */
int fb_store_write_heads(fb_store_t *self);

/* Heads are written at most every ms milliseconds (0 = with every batch). */
#define FB_STORE_HEADS_INTERVAL_MS 1000
void fb_store_set_heads_interval(fb_store_t *self, int64_t ms);

/* Looks up n keys; fills found[i] for each. Returns FB_OK or FB_ESTORE. */
int fb_store_lookup(fb_store_t *self, const fb_store_key_t *keys, size_t n, fb_store_found_t *found);

/* One page of history: n stored envelopes in global_seq order. The pointers
 * are valid only during the callback. */
typedef struct {
    const uint8_t **envs;
    size_t *lens;
    const uint64_t *seqs; /* each envelope's global_seq */
    size_t n;
    uint64_t last_seq;
} fb_store_page_t;

/* Reads up to max (<= FB_STORE_PAGE_MAX) stored envelopes with from_seq <=
 * global_seq < to_seq (0 = no upper bound), stored at or after since_us
 * (0 = any time), whose topic starts with one of the prefixes (none = all;
 * each 1-255 bytes of [a-z0-9.-]), in global_seq order, and hands them to
 * fn as one page. A prefix is read through the (topic, global_seq) index.
 * A connection the server dropped is reopened and the page asked once
 * more. Returns the count (>= 0); FB_STORE_PAGE_BEYOND when retention
 * dropped history the page would cover (from_seq below the horizon's
 * global_seq, or since_us before its time: fb_store_page_horizon() says
 * where it is; fn is not called); or -1 (fb_store_error() says why; also
 * when the statement timeout cut the query). */
#define FB_STORE_PAGE_MAX 1024
#define FB_STORE_PAGE_BEYOND (-2)
int fb_store_page(fb_store_t *self, uint64_t from_seq, uint64_t to_seq, int64_t since_us,
                  const char *const *prefixes, size_t nprefixes, unsigned max,
                  void (*fn)(const fb_store_page_t *page, void *arg), void *arg);

/* The retention horizon as the last fb_store_page() read it: every message
 * with global_seq >= *horizon_seq is kept (1 when nothing was dropped), and
 * every message stored at or after *horizon_us (0: nothing dropped). */
void fb_store_page_horizon(const fb_store_t *self, uint64_t *horizon_seq, int64_t *horizon_us);

/* Writes into out (NUL-terminated, cut at out_size) PostgreSQL's plan of
 * the query fb_store_page() sends for these arguments (for tests). Returns
 * 0 or -1. */
int fb_store_page_plan(fb_store_t *self, uint64_t from_seq, uint64_t to_seq, int64_t since_us,
                       const char *const *prefixes, size_t nprefixes, char *out, size_t out_size);

/* Sets the connection's statement_timeout (ms; 0 = none), now and after
 * every reconnection: a query that runs longer fails. Returns 0 or -1. */
int fb_store_set_timeout(fb_store_t *self, int ms);

/* ------------------------------------------------------- partitions ---
 * fedbus_messages is partitioned by range of message_id (UUIDv7: the first
 * 48 bits are Unix milliseconds), plus one DEFAULT partition
 * (fb_store_part.c). Each call is one transaction; with a lock_timeout set,
 * one that would wait longer for a lock fails (FB_ESTORE) and changes
 * nothing. */

/* One partition: ids dated [lo_ms, hi_ms) in Unix milliseconds (INT64_MIN,
 * INT64_MAX for MINVALUE, MAXVALUE), or the default partition. */
typedef struct {
    char name[64];
    int64_t lo_ms, hi_ms;
    int is_default;
} fb_store_part_t;

/* Lists the partitions into *parts (caller frees) and their number into
 * *n. Returns FB_OK, FB_ENOMEM or FB_ESTORE. */
int fb_store_parts(fb_store_t *self, fb_store_part_t **parts, size_t *n);

/* Sets the connection's lock_timeout (ms) for the calls below. Returns 0 or -1. */
int fb_store_set_lock_timeout(fb_store_t *self, int ms);

/* Makes partition name for ids dated [lo_ms, hi_ms), moving into it the
 * default partition's rows of that range (*moved: how many). Returns FB_OK
 * or FB_ESTORE. */
int fb_store_part_create(fb_store_t *self, const char *name, int64_t lo_ms, int64_t hi_ms, int64_t *moved);

/* What a partition holds: rows (-1: not counted), the highest global_seq
 * (0: none) and when that row was stored (µs; 0: none). */
typedef struct {
    int64_t rows;
    uint64_t max_seq;
    int64_t newest_stored_us;
} fb_store_part_info_t;

/* Reads *info of part, counting its rows when count (a scan; else an index
 * probe). FB_OK or FB_ESTORE. */
int fb_store_part_info(fb_store_t *self, const fb_store_part_t *part, int count, fb_store_part_info_t *info);

/* What fb_store_part_drop() did. */
typedef struct {
    size_t partitions;
    int64_t rows;     /* as counted by fb_store_part_info() before */
    uint64_t max_seq; /* the highest global_seq dropped */
    int64_t lock_wait_us; /* how long the lock took to get... */
    int64_t held_us;      /* ... and how long it was held: what COPY and replay waited */
} fb_store_drop_t;

/* Drops parts[0..n) (infos as read before): in one transaction that takes
 * an ACCESS EXCLUSIVE lock on fedbus_messages, reads each one's newest row
 * again under it (one stored at or after cut_us stays), detaches it,
 * renames it FB_STORE_DROPPED_PREFIX..., and raises the horizon in
 * fedbus_retention: horizon_seq to the highest global_seq dropped + 1,
 * horizon_at to cut_us, ids_from to the highest upper bound dropped; then,
 * with nothing locked, drops the detached tables (fb_store_drop_detached()).
 * Returns FB_OK (out says what went) or FB_ESTORE (nothing did). */
int fb_store_part_drop(fb_store_t *self, const fb_store_part_t *parts, const fb_store_part_info_t *infos,
                       size_t n, int64_t cut_us, fb_store_drop_t *out);

/* Tables detached by fb_store_part_drop() are renamed with this prefix
 * until they are dropped. */
#define FB_STORE_DROPPED_PREFIX "fedbus_dropped_"

/* Drops the tables fb_store_part_drop() detached and could not drop yet
 * (*dropped: how many). FB_OK or FB_ESTORE. */
int fb_store_drop_detached(fb_store_t *self, size_t *dropped);

/* Deletes the default partition's rows stored before cut_us and raises the
 * horizon past them (*rows: how many). FB_OK or FB_ESTORE. */
int fb_store_expire_default(fb_store_t *self, int64_t cut_us, int64_t *rows);

/* The retention horizon as fedbus_retention holds it. */
typedef struct {
    uint64_t horizon_seq;   /* every message with global_seq >= it is kept (1: nothing dropped) */
    int64_t horizon_us;     /* every message stored at or after it is kept (0: nothing dropped) */
    int64_t ids_from_ms;    /* ids dated before it were dropped with their partition (0: none) */
    int64_t dropped_partitions, dropped_rows;
} fb_store_horizon_t;

/* Reads *h. FB_OK or FB_ESTORE. */
int fb_store_horizon(fb_store_t *self, fb_store_horizon_t *h);

/* Number of stored messages (for the demo and tests). */
int fb_store_count(fb_store_t *self, int64_t *count);

#endif
