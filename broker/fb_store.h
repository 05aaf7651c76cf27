/* fb_store.h — the broker's PostgreSQL store: with fb_migrate.c, the only files that use libpq.
 *
 * One writer connection appends batches with binary COPY inside one
 * transaction (group commit); a reader connection serves replay. The schema
 * is versioned and migrated at open (fb_migrate.c; docs/operations.md lists
 * versions); the rows are encoded by fb_copy.c. */
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

/* The last error message of the store (static to the store; never NULL). */
const char *fb_store_error(const fb_store_t *self);

/* Re-establishes a broken connection; returns 0 when usable again. */
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
 * more. Returns the count (>= 0) or -1 (fb_store_error() says why; also
 * when the statement timeout cut the query). */
#define FB_STORE_PAGE_MAX 1024
int fb_store_page(fb_store_t *self, uint64_t from_seq, uint64_t to_seq, int64_t since_us,
                  const char *const *prefixes, size_t nprefixes, unsigned max,
                  void (*fn)(const fb_store_page_t *page, void *arg), void *arg);

/* Writes into out (NUL-terminated, cut at out_size) PostgreSQL's plan of
 * the query fb_store_page() sends for these arguments (for tests). Returns
 * 0 or -1. */
int fb_store_page_plan(fb_store_t *self, uint64_t from_seq, uint64_t to_seq, int64_t since_us,
                       const char *const *prefixes, size_t nprefixes, char *out, size_t out_size);

/* Sets the connection's statement_timeout (ms; 0 = none), now and after
 * every reconnection: a query that runs longer fails. Returns 0 or -1. */
int fb_store_set_timeout(fb_store_t *self, int ms);

/* Number of stored messages (for the demo and tests). */
int fb_store_count(fb_store_t *self, int64_t *count);

#endif
