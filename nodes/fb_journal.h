/* fb_journal.h — the node's outbox on disk: append-only segment files of checksummed records, synced in groups.
 *
 * A directory of its own (the member's state-dir) holds a lock file and
 * segment files, seg-<16 hex digits>.journal, numbered in the order they
 * were made. Records are only ever appended, to the newest segment (the
 * active one), through a buffer: fb_journal_put_*() copy a record into it,
 * fb_journal_sync() writes the buffer and makes it durable with one
 * fdatasync() (a group: every record put since the last sync), which is
 * what lets the node promise nothing before the sync and still keep its
 * rate. A segment grows to about segment_bytes, then a new one is started;
 * a segment is deleted once every publish in it is answered
 * (fb_journal_release()). The directory is fsync'd after every file made or
 * deleted.
 *
 * A record is a 16-byte header — "FBJ", a format version (1), a type, three
 * zero bytes, the body's length (u32) and a CRC-32C over the header's first
 * twelve bytes and the body (u32), all little-endian — then the body:
 *
 *   STATE   (first record of every segment) next_seq u64, confirmed_below
 *           u64, flags u32 (bit 0: anchored), zero u32
 *   PUBLISH origin_seq u64, created_at_us i64, message_id (16 bytes), then
 *           the publish frame as the broker is sent it
 *   CONFIRM confirmed_below u64: every origin_seq below it is answered
 *   SEQ     next_seq u64, renumber_from u64, renumber_to u64, flags u32,
 *           zero u32: the sequence was raised (a Welcome); with
 *           renumber_from, the publishes held from renumber_from on were
 *           given origin_seqs from renumber_to on
 *
 * Opening the journal reads every segment in order and hands each record to
 * a callback. Reading stops in a segment at the first record that is short
 * (a write torn by a crash), has a bad magic, length or checksum, or breaks
 * the order (a publish whose origin_seq does not rise): the segment is cut
 * there (or removed when nothing in it is good), the cut is logged once
 * with the byte offset and the bytes dropped and counted, and the next
 * segment is read. No content of any file makes reading fail, save a record
 * with a good checksum and a newer format version, which a newer node wrote
 * and this one must not cut: that refuses to open.
 *
 * Not thread-safe: the node loop's thread alone calls it. */
#ifndef FB_JOURNAL_H
#define FB_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

/* A segment's size before the next one is started. */
#define FB_JOURNAL_SEGMENT_BYTES (16u << 20)

/* The largest record body read back: a publish of the largest max-frame a
 * node can be given, and its fields. */
#define FB_JOURNAL_BODY_MAX ((64u << 20) + 64)

/* The format version this build writes and reads. */
#define FB_JOURNAL_VERSION 1

typedef enum {
    FB_JOURNAL_STATE = 1,
    FB_JOURNAL_PUBLISH = 2,
    FB_JOURNAL_CONFIRM = 3,
    FB_JOURNAL_SEQ = 4,
} fb_journal_type_t;

/* One record read back; pointers are valid during the callback only. */
typedef struct {
    fb_journal_type_t type;
    /* PUBLISH */
    uint64_t origin_seq;
    int64_t created_at_us;
    const uint8_t *id; /* 16 bytes */
    const uint8_t *frame;
    size_t frame_len;
    /* STATE, SEQ */
    uint64_t next_seq;
    int anchored;
    /* STATE, CONFIRM */
    uint64_t confirmed_below;
    /* SEQ: 0 when nothing was renumbered */
    uint64_t renumber_from, renumber_to;
} fb_journal_rec_t;

/* Takes one record read back; returns 0, or -1 to stop opening (out of memory). */
typedef int (*fb_journal_fn)(const fb_journal_rec_t *r, void *arg);

typedef struct {
    uint64_t corrupt;       /* damaged tails cut at open */
    uint64_t dropped_bytes; /* bytes cut with them */
    uint64_t records;       /* good records read at open */
    size_t segments;        /* segment files now */
    uint64_t bytes;         /* bytes written to them, and not yet deleted */
    int sync_errno;         /* why the last fb_journal_sync() failed; 0 when it did not */
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
 * written, cuts damaged tails as described above, and starts a new active
 * segment whose STATE record says where the sequence stands. segment_bytes
 * 0 means FB_JOURNAL_SEGMENT_BYTES. Returns the journal, or NULL with a
 * one-line reason in err. */
fb_journal_t *fb_journal_open(const char *dir, size_t segment_bytes, fb_journal_fn fn, void *arg, char *err,
                              size_t err_size);

/* Syncs what is buffered (best effort), closes the files and frees the
 * journal; accepts NULL, nulls *self_p. */
void fb_journal_close(fb_journal_t **self_p);

/* Put a record in the buffer (frame: frame_len bytes, copied; id: 16 bytes,
 * copied). Nothing is written before fb_journal_sync(). Each returns 0, or
 * -1 when out of memory (nothing was put). */
int fb_journal_put_publish(fb_journal_t *self, uint64_t origin_seq, int64_t created_at_us, const uint8_t *id,
                           const uint8_t *frame, size_t frame_len);
int fb_journal_put_confirm(fb_journal_t *self, uint64_t confirmed_below);
int fb_journal_put_seq(fb_journal_t *self, uint64_t next_seq, uint64_t renumber_from, uint64_t renumber_to);

/* Writes the buffer to the active segment and, when it holds a PUBLISH or a
 * SEQ record, fdatasync()s it: one sync for every record put since the
 * last. Starts the next segment when this one has grown to its size.
 * Returns 0: every record put so far is durable. Returns -1 with errno set
 * when writing or syncing failed: the segment is cut back to what was
 * durable before, the records stay buffered, and the next call tries
 * again. */
int fb_journal_sync(fb_journal_t *self);

/* Returns 1 when records wait in the buffer, else 0. */
int fb_journal_pending(const fb_journal_t *self);

/* Deletes the oldest segments, up to the active one, whose publishes all
 * have an origin_seq below first_seq (all answered). */
void fb_journal_release(fb_journal_t *self, uint64_t first_seq);

/* The sequence as recorded (what fb_journal_put_*() put included). */
void fb_journal_state(const fb_journal_t *self, fb_journal_state_t *st);

void fb_journal_stats(const fb_journal_t *self, fb_journal_stats_t *st);

#endif
