/* fb_outbox.h — the node's outbox: its publishes, held in origin_seq order until the broker answers them.
 *
 * Entries are appended at the tail, each with the next origin_seq, and leave
 * only from the head, once answered (fb_outbox_answer_*, then
 * fb_outbox_trim()). A send cursor splits the unanswered entries into those
 * sent since the last fb_outbox_rewind() and those still to send; the
 * session walks either part in order with fb_outbox_next(). Nothing outside
 * this module sees how entries are stored, which is why entries are
 * addressed by origin_seq and message_id, never by a slot.
 *
 * Two kinds, one interface. In memory (fb_outbox_new(), or
 * fb_outbox_open() without a dir) the entries live in a ring and die with
 * the process. On disk (fb_outbox_open() with a dir) the same ring is the
 * index and the send queue, and every change also goes to a journal
 * (fb_journal: append-only, checksummed segment files): an append is a
 * PUBLISH record, answers are released in bulk as a CONFIRM record. An
 * entry appended is durable only once a group sync covering it is done
 * (fb_outbox_sync_start() and _collect(), or fb_outbox_sync()), one
 * fdatasync for everything appended since the last.
 *
 * Sending does not wait for that sync; answering does. fb_outbox_next()
 * offers an entry to be sent as soon as it is appended, so that the
 * broker's round trip and the sync run at once — within the journal's
 * bound: never before the journal durably records a Welcome, nor with an
 * origin_seq FB_JOURNAL_AHEAD or more above what it has made durable (see
 * fb_journal.h: a restart after a crash numbers above all it may have
 * sent). The broker's answer to an entry not yet durable is held in the
 * entry (fb_outbox_hold_answer()) until the sync covering it is done, and
 * then taken with fb_outbox_next_released(): no submitter is answered
 * before its publish is on disk, whichever of the ack and the sync came
 * first. An answered entry leaves the outbox only once durable and its
 * answer taken. Opening reads the journal back: the unanswered entries are held
 * again, in origin_seq order, and the sequence goes on above the highest
 * origin_seq the journal ever gave.
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
 * until the next fb_outbox_append() (the ring may grow), fb_outbox_trim()
 * or fb_outbox_destroy(). */
typedef struct {
    uint8_t id[FB_UUID_LEN]; /* message_id */
    uint64_t origin_seq;
    int64_t created_at_us;   /* the envelope's created_at_us (wall clock) */
    uint8_t *frame;          /* the NodeMessage{publish} the broker is sent; owned by the outbox */
    size_t frame_len;
    /* Where the envelope sits in frame, found once when the frame is set
     * (fb_outbox_envelope()); env_off 0: frame is not a publish. */
    uint32_t env_off, env_len;
    /* The session's own bookkeeping, which it reads and writes; kept in
     * memory only (a restart resends everything anyway). */
    int64_t sent_at_us; /* monotonic; 0 = never sent */
    int64_t wait_us;    /* before the next resend; 0 = the default */
    int answered;       /* set by fb_outbox_answer_*(); read-only outside */
    int batched;        /* its submitter sent it in a PublishBatch */
    /* The broker's answer (an Ack's bytes) held for the submitter until
     * the entry is durable: fb_outbox_hold_answer(); NULL: none held. */
    uint8_t *held;
    size_t held_len;
    uint8_t hash[FB_SHA256_LEN]; /* its entry hash, when the node signs (fb_chain) */
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
    FB_OUTBOX_UNSENT, /* those not (yet, or again) sent, within the journal's bound: what to send next */
} fb_outbox_range_t;

/* A position in a walk; start each walk at FB_OUTBOX_ITER_INIT. */
typedef struct {
    uint64_t pos;
    int started;
} fb_outbox_iter_t;
#define FB_OUTBOX_ITER_INIT {0, 0}

typedef struct fb_outbox fb_outbox_t;

/* How fb_outbox_open() makes an outbox. */
typedef struct {
    size_t max_entries;   /* most entries held (>= 1); more are refused */
    size_t max_bytes;     /* most bytes of frames held; 0: no bound */
    const char *dir;      /* the journal's directory (the member's state-dir); NULL: in memory */
    size_t segment_bytes; /* a journal segment's size; 0: FB_JOURNAL_SEGMENT_BYTES */
} fb_outbox_opts_t;

/* Returns an outbox as *o says, or NULL with a one-line reason in err. In
 * memory: empty, first origin_seq 1. On disk: the directory is made when
 * missing and locked (a second process on it is refused); the journal is
 * read back (damaged tails are cut, logged and counted, see fb_journal.h)
 * and the unanswered publishes it holds are held again, unsent, even when
 * more than max_entries; the next origin_seq is above every one the
 * journal gave or was told. */
fb_outbox_t *fb_outbox_open(const fb_outbox_opts_t *o, char *err, size_t err_size);

/* An empty outbox in memory that holds at most cap entries (cap >= 1),
 * whose first origin_seq is 1; NULL when out of memory. */
fb_outbox_t *fb_outbox_new(size_t cap);

/* Frees the outbox and every entry still in it, after writing what the
 * journal still buffers; accepts NULL, nulls *self_p. */
void fb_outbox_destroy(fb_outbox_t **self_p);

/* The group sync, as the node loop drives it. fb_outbox_sync_start() hands
 * everything appended and every sequence change since the last hand-off,
 * with the answers released meanwhile (recorded, not synced for their own
 * sake: an answer lost in a crash costs a resend, which the broker answers
 * DUPLICATE), to the journal's writer thread, unless a write is in flight
 * (then they wait for the next call). fb_outbox_sync_collect() takes the
 * write once it is done: what it held becomes sendable, and the journal
 * segments that hold nothing unanswered are deleted. fb_outbox_sync_fd()
 * becomes readable when a write is done (-1 in memory). In memory, start
 * makes everything sendable at once.
 *
 * Each returns FB_OK; FB_EIO when a write failed (errno says why; what it
 * held is not durable, so its answers stay held, new appends are refused,
 * and the next start writes it again); FB_ENOMEM when a sequence change
 * could not be recorded (the outbox sends nothing more: the node is to
 * stop). */
int fb_outbox_sync_start(fb_outbox_t *self);
int fb_outbox_sync_collect(fb_outbox_t *self);
int fb_outbox_sync_fd(const fb_outbox_t *self);

/* Start and collect in one, waiting: every entry appended and every
 * sequence change so far is durable when it returns FB_OK. Returns as
 * above. */
int fb_outbox_sync(fb_outbox_t *self);

/* The origin_seq the next appended entry must carry. */
uint64_t fb_outbox_next_seq(const fb_outbox_t *self);

/* The broker's Welcome says it stored this origin's publishes up to
 * next - 1: makes the next origin_seq at least next, never lower. The
 * first time ever (the journal never recorded a Welcome: a new state-dir),
 * entries held were numbered before anyone knew where the origin's
 * sequence stood, and none was sent; when they start at or below next - 1
 * they are numbered again from next on, in order (their frames stamped
 * anew), so that the broker does not refuse them as stale. On disk the
 * change is journaled, and entries above the sequence durable so far (after
 * a renumbering, any entry) are offered to be sent only once a group sync
 * has made it durable. */
void fb_outbox_raise_seq(fb_outbox_t *self, uint64_t next);

/* Appends in as the newest entry, unanswered and unsent (on disk: to be
 * sent once a group sync made it durable). Returns FB_OK (the outbox now
 * owns in->frame), FB_EFULL when the outbox is full (fb_outbox_full() says
 * which bound), FB_ENOMEM when memory ran out, FB_EIO while the journal cannot be written (the last
 * journal write failed), FB_EINVAL when in->origin_seq is not
 * fb_outbox_next_seq() or in->who_len is over 255; on failure the caller
 * keeps in->frame. */
int fb_outbox_append(fb_outbox_t *self, const fb_outbox_add_t *in);

/* What fb_outbox_full() returns. */
#define FB_OUTBOX_FULL_ENTRIES 1 /* max_entries (the node's outbox-max) reached */
#define FB_OUTBOX_FULL_BYTES 2   /* max_bytes (outbox-max-bytes) reached */

/* Returns FB_OUTBOX_FULL_ENTRIES or FB_OUTBOX_FULL_BYTES when the outbox
 * holds as much as it may (the bytes bound may be passed by the one frame
 * that reached it), else 0. */
int fb_outbox_full(const fb_outbox_t *self);

/* The envelope inside e's publish frame, its length in *len; NULL (and
 * *len 0) when the frame is not a publish. The same as
 * fb_wire_publish_view() on e->frame, without reading the frame again. */
const uint8_t *fb_outbox_envelope(const fb_outbox_entry_t *e, size_t *len);

/* Returns the entry appended last, if still held, or NULL. */
fb_outbox_entry_t *fb_outbox_newest(fb_outbox_t *self);

/* Returns the unanswered entry with message_id id (FB_UUID_LEN bytes), or NULL. */
fb_outbox_entry_t *fb_outbox_find(fb_outbox_t *self, const uint8_t *id);

/* A hint, changing nothing: id (FB_UUID_LEN bytes) is about to be looked
 * up (fb_outbox_find(), fb_outbox_answer_id()); its index slot is fetched
 * into the cache meanwhile. */
void fb_outbox_prefetch_id(const fb_outbox_t *self, const uint8_t *id);

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
 * told) until fb_outbox_trim(); NULL when no unanswered entry has it. The
 * submitter may be told at once only when fb_outbox_durable(); else the
 * answer is held (fb_outbox_hold_answer()). */
fb_outbox_entry_t *fb_outbox_answer_id(fb_outbox_t *self, const uint8_t *id);
fb_outbox_entry_t *fb_outbox_answer_seq(fb_outbox_t *self, uint64_t origin_seq);

/* Returns 1 when e's record is durable (in memory: always), else 0. */
int fb_outbox_durable(const fb_outbox_t *self, const fb_outbox_entry_t *e);

/* Holds ack (len bytes, copied) in e, an answered entry not yet durable,
 * for its submitter: fb_outbox_next_released() gives it back once e is
 * durable. Returns 0, or -1 when out of memory (nothing held). */
int fb_outbox_hold_answer(fb_outbox_t *self, fb_outbox_entry_t *e, const uint8_t *ack, size_t len);

/* Returns the next entry, in origin_seq order, whose answer was held and
 * which is now durable (e->held, e->held_len: the answer to pass on), or
 * NULL when there is none; the caller passes the answer on, then calls
 * fb_outbox_drop_answer(). */
fb_outbox_entry_t *fb_outbox_next_released(fb_outbox_t *self);

/* Frees e's held answer (after it was passed on). */
void fb_outbox_drop_answer(fb_outbox_entry_t *e);

/* Lets go of the answered entries at the head that are durable and hold no
 * answer still to pass on (an answered entry behind an unanswered one
 * stays until that one is answered too). */
void fb_outbox_trim(fb_outbox_t *self);

/* Entries held: from the oldest not yet trimmed to the newest. */
size_t fb_outbox_depth(const fb_outbox_t *self);

/* The origin_seq of the oldest entry held, fb_outbox_next_seq() when none:
 * every origin_seq below it has left the outbox. */
uint64_t fb_outbox_first_seq(const fb_outbox_t *self);

/* The origin_seq of the oldest entry the broker has not answered,
 * fb_outbox_next_seq() when none: every origin_seq below it is answered
 * (some perhaps still waiting for their sync). */
uint64_t fb_outbox_first_unanswered_seq(fb_outbox_t *self);

/* created_at_us of the oldest unanswered entry, or 0 when there is none. */
int64_t fb_outbox_oldest_created_us(const fb_outbox_t *self);

/* Bytes of the frames held. */
size_t fb_outbox_bytes(const fb_outbox_t *self);

/* What the outbox's journal has to say. */
typedef struct {
    int on_disk;            /* 0: in memory, the rest is 0 */
    uint64_t replayed;      /* unanswered publishes read back when it was opened */
    uint64_t corrupt_tails; /* damaged tails cut when it was opened */
    uint64_t dropped_bytes; /* bytes cut with them */
    size_t segments;        /* segment files */
    uint64_t disk_bytes;    /* bytes in them */
    int sync_errno;         /* why the journal's last write failed; 0 when the last one succeeded */
    uint64_t syncs;         /* group syncs (fdatasync) since it was opened */
    uint64_t sync_us;       /* microseconds spent in them */
    uint64_t synced;        /* publishes they made durable */
    uint64_t held;          /* broker answers that came before their sync, and waited for it */
    uint64_t skipped;       /* origin_seqs skipped at open after an unclean stop */
} fb_outbox_journal_t;

void fb_outbox_journal(const fb_outbox_t *self, fb_outbox_journal_t *out);

#endif
