/* fb_jrecord.h — the node journal's record format: writing a record, reading one back, checked.
 *
 * A record is a 16-byte header — "FBJ", the format version, the type, three
 * zero bytes, the body's length (u32) and a CRC-32C over the header's first
 * twelve bytes and the body (u32), all little-endian — then the body; the
 * bodies are described at each type below and in fb_journal.h. */
#ifndef FB_JRECORD_H
#define FB_JRECORD_H

#include <stddef.h>
#include <stdint.h>

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
    int closed; /* SEQ: written as a journal was closed, after everything was synced */
    /* STATE, CONFIRM */
    uint64_t confirmed_below;
    /* SEQ: 0 when nothing was renumbered */
    uint64_t renumber_from, renumber_to;
} fb_journal_rec_t;

/* Bytes of a record's header, and of the fixed bodies. */
#define FB_JRECORD_HEAD 16
#define FB_JRECORD_STATE_LEN 24
#define FB_JRECORD_PUBLISH_FIXED 32 /* before the frame */
#define FB_JRECORD_CONFIRM_LEN 8
#define FB_JRECORD_SEQ_LEN 32

/* Writes the record r (its type and that type's fields) to out, which has
 * fb_jrecord_size(r) bytes; returns how many it wrote. */
size_t fb_jrecord_size(const fb_journal_rec_t *r);
size_t fb_jrecord_encode(const fb_journal_rec_t *r, uint8_t *out);

/* Reads the record at p (avail bytes to the end of the file) into *r
 * (pointers into p) and sets *used. first: it is a segment's first record,
 * which must be STATE (and no other may be). Returns 1; 0 when it is
 * damaged, *why saying how (torn, bad magic, length or checksum, a body
 * that does not fit its type); -1 when it is whole, its checksum good,
 * and of another format version (*version set). */
int fb_jrecord_decode(const uint8_t *p, size_t avail, int first, fb_journal_rec_t *r, size_t *used,
                      const char **why, unsigned *version);

#endif
