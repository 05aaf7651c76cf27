/* fb_journal.h — the node's outbox on disk: append-only segment files of checksummed records, synced in groups.
 *
 * A directory of its own (the member's state-dir) holds a lock file and
 * segment files, seg-<16 hex digits>.journal, numbered in the order they
 * were made. Records (fb_jrecord.h) are only ever appended, to the newest
 * segment (the active one), through a buffer: fb_journal_put_*() copy a
 * record into it; fb_journal_sync_start() hands the buffer to a thread of
 * the journal's own (fb_syncer), which writes it and makes it durable with
 * one fdatasync() — a group: every record put since the last hand-off —
 * while the caller goes on; fb_journal_sync_collect() learns that it is
 * done. Records put meanwhile wait for the next hand-off. This is what lets
 * the node promise nothing before the sync and still keep its rate, and
 * its loop never waits for the disk. A segment grows to about
 * segment_bytes, then a new one is started; a segment is deleted once every
 * publish in it is answered (fb_journal_release()). The directory is
 * fsync'd after every file made or deleted.
 *
 * The bodies of the records:
 *
 *   STATE   (first record of every segment) next_seq u64, confirmed_below
 *           u64, flags u32 (bit 0: anchored), zero u32
 *   PUBLISH origin_seq u64, created_at_us i64, message_id (16 bytes), then
 *           the publish frame as the broker is sent it
 *   CONFIRM confirmed_below u64: every origin_seq below it is answered
 *   SEQ     next_seq u64, renumber_from u64, renumber_to u64, flags u32,
 *           zero u32: the sequence was raised (a Welcome); with
 *           renumber_from, the publishes held from renumber_from on were
 *           given origin_seqs from renumber_to on. Flags bit 1 (closed):
 *           written last by fb_journal_close() once everything was synced
 *
 * Sent ahead of the journal. The outbox may send publishes to the broker
 * before their records are durable, but none with an origin_seq at or
 * above the durable next_seq (fb_journal_durable()) plus
 * FB_JOURNAL_AHEAD, and none before the journal durably records a Welcome
 * (anchored). A journal whose last record is not the closed SEQ record
 * (the node did not stop cleanly) may thus have had origin_seqs sent that
 * it does not hold: when it is anchored, opening it raises next_seq by
 * FB_JOURNAL_AHEAD, so that the node never numbers a new publish with an
 * origin_seq a frame of its previous run may still carry to the broker.
 *
 * Opening the journal reads every segment in order and hands each record to
 * a callback. Reading stops in a segment at the first record that is short
 * (a write torn by a crash), has a bad magic, length or checksum, or breaks
 * the order (a publish whose origin_seq does not rise): the segment is cut
 * there (or removed when nothing in it is good), the cut is logged once
 * with the byte offset and the bytes dropped and counted, and the next
 * segment is read. No content of any file makes reading fail, save a record
 * with a good checksum and another format version, which another node
 * wrote and this one must not cut: that refuses to open.
 *
 * Not thread-safe: one thread (the node loop's) calls it. */
#ifndef FB_JOURNAL_H
#define FB_JOURNAL_H

#include "fb_jrecord.h"

#include <stddef.h>
#include <stdint.h>

/* A segment's size before the next one is started. */
#define FB_JOURNAL_SEGMENT_BYTES (16u << 20)

/* How far above the durable next_seq publishes may be sent (see above):
 * eight full PublishBatch frames. */
#define FB_JOURNAL_AHEAD 8192u

/* Takes one record read back; returns 0, or -1 to stop opening (out of memory). */
typedef int (*fb_journal_fn)(const fb_journal_rec_t *r, void *arg);

typedef struct {
    uint64_t corrupt;       /* damaged tails cut at open */
    uint64_t dropped_bytes; /* bytes cut with them */
    uint64_t records;       /* good records read at open */
    size_t segments;        /* segment files now */
    uint64_t bytes;         /* bytes written to them, and not yet deleted */
    int sync_errno;         /* why the last write failed; 0 when the last one succeeded */
    uint64_t syncs;         /* fdatasync() calls since it was opened */
    uint64_t sync_us;       /* time spent in them, microseconds */
    uint64_t synced_publishes; /* publishes they made durable */
    uint64_t skipped;       /* origin_seqs skipped at open: FB_JOURNAL_AHEAD after an unclean stop, else 0 */
} fb_journal_stats_t;

/* The sequence as the journal recorded it. */
typedef struct {
    uint64_t next_seq;        /* 1 for a new journal */
    uint64_t confirmed_below; /* every origin_seq below it answered */
    int anchored;             /* a Welcome was recorded */
} fb_journal_state_t;

typedef struct fb_journal fb_journal_t;

/* Opens the journal in dir (made, with its parents, when missing; mode
 * 0700), locks it against every other process (a second node on the same
 * dir is refused), reads every record back through fn(r, arg) in the order
 * written, cuts damaged tails as described above, raises next_seq by
 * FB_JOURNAL_AHEAD when the journal is anchored and was not closed cleanly,
 * and starts a new active segment whose STATE record says where the
 * sequence stands. segment_bytes
 * 0 means FB_JOURNAL_SEGMENT_BYTES. Returns the journal, or NULL with a
 * one-line reason in err. */
fb_journal_t *fb_journal_open(const char *dir, size_t segment_bytes, fb_journal_fn fn, void *arg, char *err,
                              size_t err_size);

/* Syncs what is buffered (best effort) and, when that succeeded, records
 * that the journal was closed cleanly (a SEQ record with the closed flag,
 * synced); closes the files and frees the journal; accepts NULL, nulls
 * *self_p. */
void fb_journal_close(fb_journal_t **self_p);

/* Put a record in the buffer (frame: frame_len bytes, copied; id: 16 bytes,
 * copied). Nothing is written before fb_journal_sync(). Each returns 0, or
 * -1 when out of memory (nothing was put). */
int fb_journal_put_publish(fb_journal_t *self, uint64_t origin_seq, int64_t created_at_us, const uint8_t *id,
                           const uint8_t *frame, size_t frame_len);
int fb_journal_put_confirm(fb_journal_t *self, uint64_t confirmed_below);
int fb_journal_put_seq(fb_journal_t *self, uint64_t next_seq, uint64_t renumber_from, uint64_t renumber_to);

/* Hands the records put so far to the writer thread, which writes them to
 * the active segment and, when they hold a PUBLISH or a SEQ record,
 * fdatasync()s it. Records that need no sync (CONFIRM) alone are handed
 * only when lazy_too, so that they ride with the next publishes. Returns 1
 * when it handed them; 2 when it handed again, instead, the records of a
 * write that failed (the others wait for the next call); 0 when a write is
 * in flight (collect it first) or nothing is to be handed. */
int fb_journal_sync_start(fb_journal_t *self, int lazy_too);

/* Collects the write in flight once it is done (wait: blocks until it is).
 * Returns 1 when it succeeded: what the last hand-off held is durable (and
 * the next segment is started when the active one has grown to its size);
 * 0 when none is done (or none in flight); -1 with errno set when writing
 * or syncing failed: the segment is cut back to what was durable, and the
 * next fb_journal_sync_start() writes the same records again. */
int fb_journal_sync_collect(fb_journal_t *self, int wait);

/* A descriptor that becomes readable when a write is done, for poll(). */
int fb_journal_sync_fd(const fb_journal_t *self);

/* Waits until every record put so far is durable: the write in flight,
 * then the rest. Returns 0, or -1 with errno set when a write failed (as
 * fb_journal_sync_collect()). */
int fb_journal_sync(fb_journal_t *self);

/* Returns 1 when records put are not durable yet (buffered or in flight), else 0. */
int fb_journal_pending(const fb_journal_t *self);

/* Returns 1 when records put and not yet handed off need a sync (a PUBLISH
 * or SEQ record), else 0. */
int fb_journal_urgent(const fb_journal_t *self);

/* Deletes the oldest segments, up to the active one, whose publishes all
 * have an origin_seq below first_seq (all answered). */
void fb_journal_release(fb_journal_t *self, uint64_t first_seq);

/* The sequence as recorded (what fb_journal_put_*() put included). */
void fb_journal_state(const fb_journal_t *self, fb_journal_state_t *st);

/* The sequence as durable: as of the last write collected (or of the
 * journal read back at open). A restart reads at least this. */
void fb_journal_durable(const fb_journal_t *self, fb_journal_state_t *st);

void fb_journal_stats(const fb_journal_t *self, fb_journal_stats_t *st);

#endif
