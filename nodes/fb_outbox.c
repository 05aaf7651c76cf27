/* fb_outbox.c — the node's outbox as a ring in memory, indexed by message_id.
 *
 * Entries sit in a ring of cap slots at absolute positions [head, tail);
 * position p is slot p % cap. The send cursor is a position in
 * [head, tail]. Positions never leave this file: callers hold entries and
 * origin_seqs, so that the on-disk outbox can replace this one behind the
 * same header. */
#include "fb_outbox.h"

#include "fb_map.h"
#include "fedbus/fedbus.h"

#include <stdlib.h>
#include <string.h>

struct fb_outbox {
    fb_outbox_entry_t *ring;
    size_t cap;
    uint64_t head, tail; /* absolute positions: [head, tail) is held */
    uint64_t cursor;     /* [head, cursor) sent since the last rewind */
    uint64_t next_seq;
    fb_map_t *by_id; /* message_id -> position, unanswered entries only */
};

static fb_outbox_entry_t *s_at(const fb_outbox_t *self, uint64_t pos)
{
    return &self->ring[pos % self->cap];
}

/* The position of e, an entry held. */
static uint64_t s_pos(const fb_outbox_t *self, const fb_outbox_entry_t *e)
{
    size_t slot = (size_t)(e - self->ring), head_slot = (size_t)(self->head % self->cap);
    return self->head + (slot + self->cap - head_slot) % self->cap;
}

static void s_clear(fb_outbox_entry_t *e)
{
    free(e->frame);
    free(e->who_heap);
    memset(e, 0, sizeof(*e));
}

fb_outbox_t *fb_outbox_new(size_t cap)
{
    fb_outbox_t *self = calloc(1, sizeof(*self));
    if (!self || cap == 0) goto error;
    self->cap = cap;
    self->next_seq = 1;
    self->ring = calloc(cap, sizeof(*self->ring));
    self->by_id = fb_map_new(1024);
    if (!self->ring || !self->by_id) goto error;
    return self;
error:
    fb_outbox_destroy(&self);
    return NULL;
}

void fb_outbox_destroy(fb_outbox_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_outbox_t *self = *self_p;
    if (self->ring)
        for (uint64_t p = self->head; p < self->tail; p++) s_clear(s_at(self, p));
    free(self->ring);
    fb_map_destroy(&self->by_id);
    free(self);
    *self_p = NULL;
}

uint64_t fb_outbox_next_seq(const fb_outbox_t *self)
{
    return self->next_seq;
}

void fb_outbox_raise_seq(fb_outbox_t *self, uint64_t next)
{
    if (next > self->next_seq) self->next_seq = next;
}

int fb_outbox_full(const fb_outbox_t *self)
{
    return self->tail - self->head >= self->cap;
}

int fb_outbox_set_submitter(fb_outbox_entry_t *e, const uint8_t *who, size_t who_len, int batched)
{
    if (!who) who_len = 0;
    if (who_len > 255) return -1;
    uint8_t *heap = NULL;
    if (who_len > FB_OUTBOX_WHO_INLINE) {
        if (!(heap = malloc(who_len))) return -1;
        memcpy(heap, who, who_len);
    } else if (who_len) {
        memcpy(e->who_inline, who, who_len);
    }
    free(e->who_heap);
    e->who_heap = heap;
    e->who_len = (uint8_t)who_len;
    e->batched = batched;
    return 0;
}

const uint8_t *fb_outbox_submitter(const fb_outbox_entry_t *e, size_t *len)
{
    *len = e->who_len;
    if (!e->who_len) return NULL;
    return e->who_heap ? e->who_heap : e->who_inline;
}

int fb_outbox_append(fb_outbox_t *self, const fb_outbox_add_t *in)
{
    if (in->origin_seq != self->next_seq || (in->who && in->who_len > 255)) return FB_EINVAL;
    if (fb_outbox_full(self)) return FB_ENOMEM;
    uint64_t pos = self->tail;
    fb_outbox_entry_t *e = s_at(self, pos);
    if (fb_outbox_set_submitter(e, in->who, in->who_len, in->batched) != 0) return FB_ENOMEM;
    if (fb_map_put(self->by_id, in->id, FB_UUID_LEN, pos) != 0) {
        s_clear(e);
        return FB_ENOMEM;
    }
    memcpy(e->id, in->id, FB_UUID_LEN);
    e->origin_seq = in->origin_seq;
    e->created_at_us = in->created_at_us;
    e->frame = in->frame;
    e->frame_len = in->frame_len;
    self->tail++;
    self->next_seq++;
    return FB_OK;
}

fb_outbox_entry_t *fb_outbox_find(fb_outbox_t *self, const uint8_t *id)
{
    uint64_t pos;
    if (!fb_map_get(self->by_id, id, FB_UUID_LEN, &pos)) return NULL;
    return s_at(self, pos);
}

/* origin_seq rises from head to tail (a Welcome may leave a gap), so a
 * binary search finds it. */
fb_outbox_entry_t *fb_outbox_find_seq(fb_outbox_t *self, uint64_t origin_seq)
{
    uint64_t lo = self->head, hi = self->tail;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        uint64_t seq = s_at(self, mid)->origin_seq;
        if (seq == origin_seq) return s_at(self, mid);
        if (seq < origin_seq) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

fb_outbox_entry_t *fb_outbox_next(fb_outbox_t *self, fb_outbox_range_t range, fb_outbox_iter_t *it)
{
    uint64_t start = range == FB_OUTBOX_UNSENT ? self->cursor : self->head;
    uint64_t end = range == FB_OUTBOX_SENT ? self->cursor : self->tail;
    uint64_t pos = it->started && it->pos > start ? it->pos : start;
    it->started = 1;
    for (; pos < end; pos++) {
        fb_outbox_entry_t *e = s_at(self, pos);
        if (!e->answered) {
            it->pos = pos + 1;
            return e;
        }
    }
    it->pos = pos;
    return NULL;
}

void fb_outbox_mark_sent(fb_outbox_t *self, const fb_outbox_entry_t *e)
{
    uint64_t pos = s_pos(self, e) + 1;
    if (pos > self->cursor) self->cursor = pos;
}

void fb_outbox_rewind(fb_outbox_t *self)
{
    self->cursor = self->head;
}

static fb_outbox_entry_t *s_answer(fb_outbox_t *self, fb_outbox_entry_t *e)
{
    if (!e || e->answered) return NULL;
    e->answered = 1;
    fb_map_del(self->by_id, e->id, FB_UUID_LEN);
    return e;
}

fb_outbox_entry_t *fb_outbox_answer_id(fb_outbox_t *self, const uint8_t *id)
{
    return s_answer(self, fb_outbox_find(self, id));
}

fb_outbox_entry_t *fb_outbox_answer_seq(fb_outbox_t *self, uint64_t origin_seq)
{
    return s_answer(self, fb_outbox_find_seq(self, origin_seq));
}

void fb_outbox_trim(fb_outbox_t *self)
{
    while (self->head < self->tail && s_at(self, self->head)->answered) {
        s_clear(s_at(self, self->head));
        self->head++;
    }
    if (self->cursor < self->head) self->cursor = self->head;
}

size_t fb_outbox_depth(const fb_outbox_t *self)
{
    return (size_t)(self->tail - self->head);
}

uint64_t fb_outbox_first_seq(const fb_outbox_t *self)
{
    return self->head < self->tail ? s_at(self, self->head)->origin_seq : self->next_seq;
}

int64_t fb_outbox_oldest_created_us(const fb_outbox_t *self)
{
    for (uint64_t p = self->head; p < self->tail; p++)
        if (!s_at(self, p)->answered) return s_at(self, p)->created_at_us;
    return 0;
}
