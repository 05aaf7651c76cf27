/* fb_jrecord.c — the journal's records, written and read back: little-endian fields, a CRC-32C each. */
#include "fb_jrecord.h"

#include "fb_crc32c.h"

#include <string.h>

#define S_ANCHORED 1u /* flags bit of STATE and SEQ */
/* Sequence numbers stop here: the broker stores origin_seqs up to 2^63-1,
 * and a node numbers at most one past the last it was told of. A record
 * with a larger one is damage; below it, the sums a reader makes of them
 * (the next origin_seq, a renumbering) cannot wrap. */
#define S_SEQ_MAX (UINT64_C(1) << 63)
#define S_CLOSED 2u   /* flags bit of SEQ; readers that do not know it ignore it */

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t s_get64(const uint8_t *p)
{
    return (uint64_t)s_get32(p) | (uint64_t)s_get32(p + 4) << 32;
}

/* The body's length for r. */
static size_t s_body_len(const fb_journal_rec_t *r)
{
    switch (r->type) {
    case FB_JOURNAL_STATE: return FB_JRECORD_STATE_LEN;
    case FB_JOURNAL_PUBLISH: return FB_JRECORD_PUBLISH_FIXED + r->frame_len;
    case FB_JOURNAL_CONFIRM: return FB_JRECORD_CONFIRM_LEN;
    case FB_JOURNAL_SEQ: return FB_JRECORD_SEQ_LEN;
    }
    return 0;
}

size_t fb_jrecord_size(const fb_journal_rec_t *r)
{
    return FB_JRECORD_HEAD + s_body_len(r);
}

size_t fb_jrecord_encode(const fb_journal_rec_t *r, uint8_t *out)
{
    size_t len = s_body_len(r);
    uint8_t *b = out + FB_JRECORD_HEAD;
    memcpy(out, "FBJ", 3);
    out[3] = FB_JOURNAL_VERSION;
    out[4] = (uint8_t)r->type;
    out[5] = out[6] = out[7] = 0;
    s_put32(out + 8, (uint32_t)len);
    switch (r->type) {
    case FB_JOURNAL_STATE:
        s_put64(b, r->next_seq);
        s_put64(b + 8, r->confirmed_below);
        s_put32(b + 16, r->anchored ? S_ANCHORED : 0);
        s_put32(b + 20, 0);
        break;
    case FB_JOURNAL_PUBLISH:
        s_put64(b, r->origin_seq);
        s_put64(b + 8, (uint64_t)r->created_at_us);
        memcpy(b + 16, r->id, 16);
        memcpy(b + FB_JRECORD_PUBLISH_FIXED, r->frame, r->frame_len);
        break;
    case FB_JOURNAL_CONFIRM:
        s_put64(b, r->confirmed_below);
        break;
    case FB_JOURNAL_SEQ:
        s_put64(b, r->next_seq);
        s_put64(b + 8, r->renumber_from);
        s_put64(b + 16, r->renumber_to);
        s_put32(b + 24, (r->anchored ? S_ANCHORED : 0) | (r->closed ? S_CLOSED : 0));
        s_put32(b + 28, 0);
        break;
    }
    s_put32(out + 12, fb_crc32c(fb_crc32c(0, out, 12), b, len));
    return FB_JRECORD_HEAD + len;
}

/* Reads the body b (len bytes) of a record of r->type into *r; returns 1,
 * or 0 with *why set when it does not fit the type. */
static int s_body(const uint8_t *b, uint32_t len, fb_journal_rec_t *r, const char **why)
{
    switch (r->type) {
    case FB_JOURNAL_STATE:
        if (len != FB_JRECORD_STATE_LEN) break;
        r->next_seq = s_get64(b);
        r->confirmed_below = s_get64(b + 8);
        r->anchored = (s_get32(b + 16) & S_ANCHORED) != 0;
        return r->next_seq <= S_SEQ_MAX && r->confirmed_below <= S_SEQ_MAX ? 1 : (*why = "sequence number beyond 2^63", 0);
    case FB_JOURNAL_PUBLISH:
        if (len <= FB_JRECORD_PUBLISH_FIXED) break;
        r->origin_seq = s_get64(b);
        r->created_at_us = (int64_t)s_get64(b + 8);
        r->id = b + 16;
        r->frame = b + FB_JRECORD_PUBLISH_FIXED;
        r->frame_len = len - FB_JRECORD_PUBLISH_FIXED;
        if (r->origin_seq > S_SEQ_MAX) return *why = "sequence number beyond 2^63", 0;
        return r->origin_seq ? 1 : (*why = "publish without origin_seq", 0);
    case FB_JOURNAL_CONFIRM:
        if (len != FB_JRECORD_CONFIRM_LEN) break;
        r->confirmed_below = s_get64(b);
        return r->confirmed_below <= S_SEQ_MAX ? 1 : (*why = "sequence number beyond 2^63", 0);
    case FB_JOURNAL_SEQ:
        if (len != FB_JRECORD_SEQ_LEN) break;
        r->next_seq = s_get64(b);
        r->renumber_from = s_get64(b + 8);
        r->renumber_to = s_get64(b + 16);
        r->anchored = (s_get32(b + 24) & S_ANCHORED) != 0;
        if (r->next_seq > S_SEQ_MAX || r->renumber_to > S_SEQ_MAX) return *why = "sequence number beyond 2^63", 0;
        r->closed = (s_get32(b + 24) & S_CLOSED) != 0;
        if (r->renumber_from && r->renumber_to <= r->renumber_from) return *why = "renumbering downwards", 0;
        return 1;
    default:
        return *why = "unknown record type", 0;
    }
    return *why = "record length wrong for its type", 0;
}

int fb_jrecord_decode(const uint8_t *p, size_t avail, int first, fb_journal_rec_t *r, size_t *used,
                      const char **why, unsigned *version)
{
    if (avail < FB_JRECORD_HEAD) return *why = "torn record header", 0;
    if (memcmp(p, "FBJ", 3) != 0) return *why = "bad record magic", 0;
    uint32_t len = s_get32(p + 8);
    if (len > FB_JOURNAL_BODY_MAX) return *why = "impossible record length", 0;
    if (avail - FB_JRECORD_HEAD < len) return *why = "torn record", 0;
    if (fb_crc32c(fb_crc32c(0, p, 12), p + FB_JRECORD_HEAD, len) != s_get32(p + 12))
        return *why = "checksum mismatch", 0;
    if (p[3] != FB_JOURNAL_VERSION) return *version = p[3], -1;
    memset(r, 0, sizeof(*r));
    r->type = (fb_journal_type_t)p[4];
    *used = FB_JRECORD_HEAD + len;
    if ((r->type == FB_JOURNAL_STATE) != !!first)
        return *why = first ? "segment does not begin with its state" : "state record inside a segment", 0;
    return s_body(p + FB_JRECORD_HEAD, len, r, why);
}
