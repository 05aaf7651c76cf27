/* fb_outbox_read.c — the node's outbox read back from its journal at start: the publishes not yet answered, renumbered as the journal says. */
#include "fb_outbox_read.h"

#include "fb_wire.h"

#include <stdlib.h>
#include <string.h>

void fb_outbox_reread_free(fb_outbox_reread_t *rp)
{
    for (size_t i = rp->start; i < rp->n; i++) free(rp->v[i].frame);
    free(rp->v);
}

/* Lets go of the publishes now known to be answered (those in front). */
static void s_confirm(fb_outbox_reread_t *rp, uint64_t below)
{
    if (below <= rp->confirmed) return;
    rp->confirmed = below;
    while (rp->start < rp->n && rp->v[rp->start].seq < below) free(rp->v[rp->start++].frame);
    if (rp->start == rp->n) rp->start = rp->n = 0;
}

static int s_publish(fb_outbox_reread_t *rp, const fb_journal_rec_t *r)
{
    if (r->origin_seq < rp->confirmed) return 0;
    if (rp->n == rp->cap) {
        if (rp->start > rp->cap / 2) { /* room in front, from answers */
            memmove(rp->v, rp->v + rp->start, (rp->n - rp->start) * sizeof(*rp->v));
            rp->n -= rp->start;
            rp->start = 0;
        } else {
            size_t cap = rp->cap ? rp->cap * 2 : 1024;
            fb_outbox_held_t *v = realloc(rp->v, cap * sizeof(*v));
            if (!v) return -1;
            rp->v = v;
            rp->cap = cap;
        }
    }
    fb_outbox_held_t *h = &rp->v[rp->n];
    if (!(h->frame = malloc(r->frame_len))) return -1;
    memcpy(h->frame, r->frame, r->frame_len);
    h->len = r->frame_len;
    h->seq = r->origin_seq;
    h->created_at_us = r->created_at_us;
    memcpy(h->id, r->id, FB_UUID_LEN);
    rp->n++;
    return 0;
}

int fb_outbox_reread_record(const fb_journal_rec_t *r, void *arg)
{
    fb_outbox_reread_t *rp = arg;
    switch (r->type) {
    case FB_JOURNAL_PUBLISH:
        return s_publish(rp, r);
    case FB_JOURNAL_STATE:
    case FB_JOURNAL_CONFIRM:
        s_confirm(rp, r->confirmed_below);
        return 0;
    case FB_JOURNAL_SEQ:
        for (size_t i = rp->start; r->renumber_from && i < rp->n; i++) {
            fb_outbox_held_t *h = &rp->v[i];
            if (h->seq < r->renumber_from) continue;
            uint64_t seq = h->seq + (r->renumber_to - r->renumber_from);
            if (fb_outbox_restamp(&h->frame, &h->len, h->seq, seq) != 0) return -1;
            h->seq = seq;
        }
        return 0;
    }
    return 0;
}

int fb_outbox_restamp(uint8_t **frame, size_t *len, uint64_t old_seq, uint64_t new_seq)
{
    const uint8_t *env;
    size_t env_len, flen;
    if (fb_wire_publish_view(*frame, *len, &env, &env_len) != 0) return -1;
    uint8_t was[FB_ORIGIN_STAMP_MAX], now[FB_ORIGIN_STAMP_MAX];
    size_t was_len = fb_wire_stamp_origin(&(fb_wire_origin_stamp_t){.origin_seq = old_seq}, was);
    size_t now_len = fb_wire_stamp_origin(&(fb_wire_origin_stamp_t){.origin_seq = new_seq}, now);
    if (env_len >= was_len && memcmp(env + env_len - was_len, was, was_len) == 0) env_len -= was_len;
    uint8_t *f = fb_wire_publish_wrap(env, env_len, now, now_len, &flen);
    if (!f) return -1;
    free(*frame);
    *frame = f;
    *len = flen;
    return 0;
}
