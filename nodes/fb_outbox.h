/* fb_outbox.h — the node's outbox: its publishes, held in origin_seq order until the broker answers them.
 *
 * Entries are appended at the tail, each with the next origin_seq, and leave
 * only from the head, once answered (fb_outbox_answer_*, then
 * fb_outbox_trim()). A send cursor splits the unanswered entries into those
 * sent since the last fb_outbox_rewind() and those still to send; the
 * session walks either part in order with fb_outbox_next(). Nothing outside
 * this module sees how entries are stored: today a ring in memory, later a
 * crash-safe log on disk (append-only, checksummed, fsync'd) behind the same
 * calls — which is why append can fail, why answers are released in bulk by
 * fb_outbox_trim(), and why entries are addressed by origin_seq and
 * message_id, never by a slot.
 *
 * Not thread-safe: the node loop's thread alone calls it. */
#ifndef FB_OUTBOX_H
#define FB_OUTBOX_H

#include "fb_crypto.h"

#include <stddef.h>
#include <stdint.h>

/* Identities up to this many bytes are kept in the entry itself (ZeroMQ's
 * own are 5); longer ones, up to 255, are allocated. */
#define FB_OUTBOX_WHO_INLINE 31

/* One publish in the outbox. The outbox owns it; a pointer to it stays valid
 * until the next fb_outbox_trim() or fb_outbox_destroy(). */
typedef struct {
    uint8_t id[FB_UUID_LEN]; /* message_id */
    uint64_t origin_seq;
    int64_t created_at_us;   /* the envelope's created_at_us (wall clock) */
    uint8_t *frame;          /* the NodeMessage{publish} the broker is sent; owned by the outbox */
    size_t frame_len;
    /* The session's own bookkeeping, which it reads and writes; kept in
     * memory only (a restart resends everything anyway). */
    int64_t sent_at_us; /* monotonic; 0 = never sent */
    int64_t wait_us;    /* before the next resend; 0 = the default */
    int answered;       /* set by fb_outbox_answer_*(); read-only outside */
    int batched;        /* its submitter sent it in a PublishBatch */
    /* Its submitter's identity: fb_outbox_submitter(). */
    uint8_t who_len;
    uint8_t who_inline[FB_OUTBOX_WHO_INLINE];
    uint8_t *who_heap;
} fb_outbox_entry_t;

/* What fb_outbox_append() takes. */
typedef struct {
    const uint8_t *id;      /* FB_UUID_LEN bytes, copied */
    uint64_t origin_seq;    /* must be fb_outbox_next_seq() */
    int64_t created_at_us;
    uint8_t *frame;         /* malloc'd; the outbox takes it when append succeeds */
    size_t frame_len;
    const uint8_t *who;     /* the submitter's identity (copied); NULL: none to answer */
    size_t who_len;         /* at most 255 */
    int batched;
} fb_outbox_add_t;

/* Which unanswered entries fb_outbox_next() walks. */
typedef enum {
    FB_OUTBOX_ALL,    /* every one */
    FB_OUTBOX_SENT,   /* those sent since the last fb_outbox_rewind() */
    FB_OUTBOX_UNSENT, /* those not (yet, or again) sent: what to send next */
} fb_outbox_range_t;

/* A position in a walk; start each walk at FB_OUTBOX_ITER_INIT. */
typedef struct {
    uint64_t pos;
    int started;
} fb_outbox_iter_t;
#define FB_OUTBOX_ITER_INIT {0, 0}

typedef struct fb_outbox fb_outbox_t;

/* Returns an empty outbox that holds at most cap entries (cap >= 1), whose
 * first origin_seq is 1; NULL when out of memory. */
fb_outbox_t *fb_outbox_new(size_t cap);

/* Frees the outbox and every entry still in it; accepts NULL, nulls *self_p. */
void fb_outbox_destroy(fb_outbox_t **self_p);

/* The origin_seq the next appended entry must carry. */
uint64_t fb_outbox_next_seq(const fb_outbox_t *self);

/* Makes next at least fb_outbox_next_seq() (the broker's Welcome says it
 * stored this origin's publishes up to next - 1); never lowers it. */
void fb_outbox_raise_seq(fb_outbox_t *self, uint64_t next);

/* Appends in as the newest entry, unanswered and unsent. Returns FB_OK (the
 * outbox now owns in->frame), FB_ENOMEM when the outbox is full
 * (fb_outbox_full()) or memory ran out, FB_EINVAL when in->origin_seq is
 * not fb_outbox_next_seq() or in->who_len is over 255; on failure the
 * caller keeps in->frame. */
int fb_outbox_append(fb_outbox_t *self, const fb_outbox_add_t *in);

/* Returns 1 when the outbox holds as many entries as it may, else 0. */
int fb_outbox_full(const fb_outbox_t *self);

/* Returns the unanswered entry with message_id id (FB_UUID_LEN bytes), or NULL. */
fb_outbox_entry_t *fb_outbox_find(fb_outbox_t *self, const uint8_t *id);

/* Returns the entry held with this origin_seq, answered or not, or NULL. */
fb_outbox_entry_t *fb_outbox_find_seq(fb_outbox_t *self, uint64_t origin_seq);

/* Replaces e's submitter (who, who_len bytes, copied; NULL: none) and its
 * batch flag: a client asking again is the one to answer. Returns 0, or -1
 * (e unchanged) when out of memory or who_len is over 255. */
int fb_outbox_set_submitter(fb_outbox_entry_t *e, const uint8_t *who, size_t who_len, int batched);

/* Returns e's submitter's identity and sets *len, or NULL when it has none. */
const uint8_t *fb_outbox_submitter(const fb_outbox_entry_t *e, size_t *len);

/* Returns the next unanswered entry of range after *it, in origin_seq
 * order, and moves *it on; NULL at the end. Appends during a walk are
 * seen; answers too (an entry answered meanwhile is skipped). */
fb_outbox_entry_t *fb_outbox_next(fb_outbox_t *self, fb_outbox_range_t range, fb_outbox_iter_t *it);

/* Moves the send cursor past e (an entry of FB_OUTBOX_UNSENT): e and every
 * entry before it count as sent. */
void fb_outbox_mark_sent(fb_outbox_t *self, const fb_outbox_entry_t *e);

/* Moves the send cursor back to the oldest entry: after a reconnection
 * everything unanswered is to be sent again, in order. */
void fb_outbox_rewind(fb_outbox_t *self);

/* Marks the unanswered entry with message_id id (FB_UUID_LEN bytes) / with
 * origin_seq answered and returns it, still readable (its submitter to be
 * told) until fb_outbox_trim(); NULL when no unanswered entry has it. */
fb_outbox_entry_t *fb_outbox_answer_id(fb_outbox_t *self, const uint8_t *id);
fb_outbox_entry_t *fb_outbox_answer_seq(fb_outbox_t *self, uint64_t origin_seq);

/* Lets go of the answered entries at the head (an answered entry behind an
 * unanswered one stays until that one is answered too). */
void fb_outbox_trim(fb_outbox_t *self);

/* Entries held: from the oldest not yet trimmed to the newest. */
size_t fb_outbox_depth(const fb_outbox_t *self);

/* The origin_seq of the oldest entry held, fb_outbox_next_seq() when none:
 * every origin_seq below it has left the outbox. */
uint64_t fb_outbox_first_seq(const fb_outbox_t *self);

/* created_at_us of the oldest unanswered entry, or 0 when there is none. */
int64_t fb_outbox_oldest_created_us(const fb_outbox_t *self);

#endif
