/* fb_outbox_read.h — the node's outbox read back from its journal at start, and publish frames renumbered. */
#ifndef FB_OUTBOX_READ_H
#define FB_OUTBOX_READ_H

#include "fb_crypto.h"
#include "fb_journal.h"

#include <stddef.h>
#include <stdint.h>

/* One publish read back from the journal. */
typedef struct {
    uint64_t seq;
    int64_t created_at_us;
    uint8_t id[FB_UUID_LEN];
    uint8_t *frame;
    size_t len;
} fb_outbox_held_t;

/* The unanswered publishes while the journal is read back: [start, n). */
typedef struct {
    fb_outbox_held_t *v;
    size_t start, n, cap;
    uint64_t confirmed;
} fb_outbox_reread_t;

/* fb_journal_fn: rebuilds the unanswered publishes into arg (an
 * fb_outbox_reread_t, zeroed before the first record), record by record. */
int fb_outbox_reread_record(const fb_journal_rec_t *r, void *arg);

/* Frees what rp still holds. */
void fb_outbox_reread_free(fb_outbox_reread_t *rp);

/* Replaces the origin_seq stamped on the publish frame *frame (*len bytes)
 * with new_seq: the node stamps origin_seq as the envelope's last field, so
 * that field is cut and a new one written in its place (where it is not
 * last, the new one goes after all: the last occurrence wins). Returns 0,
 * or -1 (nothing changed) when the frame is not a publish or memory ran out. */
int fb_outbox_restamp(uint8_t **frame, size_t *len, uint64_t old_seq, uint64_t new_seq);

#endif
