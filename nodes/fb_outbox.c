/* fb_outbox.c — the node's outbox: a ring in memory, indexed by message_id, written through to a journal on disk.
 *
 * Entries sit in a ring of cap slots at absolute positions [head, tail);
 * position p is slot p % cap. The send cursor is a position in
 * [head, tail]; so are synced, the end of what is durable, send_end, where
 * the unsent walk stops (the first entry at or above send_below, the
 * journal's bound on what may be sent), and released, how far held answers
 * were given back. Positions never leave this file: callers hold entries
 * and origin_seqs. With a journal (fb_journal), an append puts a PUBLISH
 * record; fb_outbox_sync_start() hands what was put to the journal's
 * writer at position w_tail, and once that write is collected synced
 * moves to w_tail and send_below to the durable next_seq plus
 * FB_JOURNAL_AHEAD; in memory synced and send_end are always the tail. */
#include "fb_outbox.h"

#include "fb_idindex.h"
#include "fb_journal.h"
#include "fb_outbox_read.h"
#include "fb_time.h"
#include "fb_wire.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fb_outbox {
    fb_outbox_entry_t *ring;
    size_t cap;          /* slots: grows up to max_entries (or what the journal held, when more) */
    uint64_t head, tail; /* absolute positions: [head, tail) is held */
    uint64_t cursor;     /* [head, cursor) sent since the last rewind */
    uint64_t synced;     /* [head, synced) durable: what may be answered */
    uint64_t send_end;   /* [cursor, send_end) may be sent */
    uint64_t send_below; /* origin_seqs below it may be sent (the journal's bound) */
    uint64_t released;   /* held answers in [head, released) were given back */
    uint64_t answered;   /* [head, answered) answered (the first unanswered, lazily) */
    uint64_t w_tail;     /* the tail when the journal's write in flight was handed off */
    uint64_t next_seq;
    fb_idindex_t *by_id; /* message_id -> position, unanswered entries only */
    size_t max_entries, max_bytes, bytes;
    int anchored;          /* a Welcome has set the sequence (ever, on disk) */
    int renumbered;        /* entries were renumbered, and the journal does not hold it durably yet */
    fb_journal_t *journal; /* NULL: in memory */
    uint64_t confirmed;    /* the answered watermark last put in the journal */
    int64_t confirm_due;   /* when answers alone go to the journal next (monotonic) */
    int broken;            /* a sequence change could not be journaled */
    int sync_errno;        /* the journal's last write failed, and why */
    uint64_t replayed;
    uint64_t held;         /* answers held for a sync, ever */
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

/* The ring starts with this many slots (or max_entries, when fewer) and
 * doubles as entries come, up to max_entries: a ring made whole at once
 * (100,000 slots of 168 bytes by default) is touched for the first time one
 * entry after the other, a page fault every 24 publishes, and is spread
 * over more memory than the caches hold. */
#define S_RING_MIN 1024

static void s_clear(fb_outbox_entry_t *e)
{
    free(e->frame);
    free(e->who_heap);
    free(e->held);
    memset(e, 0, sizeof(*e));
}

/* Finds where e's envelope sits in its frame, for fb_outbox_envelope(). */
static void s_locate(fb_outbox_entry_t *e)
{
    const uint8_t *env;
    size_t len;
    e->env_off = e->env_len = 0;
    if (fb_wire_publish_view(e->frame, e->frame_len, &env, &len) == 0 && (size_t)(env - e->frame) <= UINT32_MAX &&
        len <= UINT32_MAX) {
        e->env_off = (uint32_t)(env - e->frame);
        e->env_len = (uint32_t)len;
    }
}

const uint8_t *fb_outbox_envelope(const fb_outbox_entry_t *e, size_t *len)
{
    *len = e->env_len;
    return e->env_off ? e->frame + e->env_off : NULL;
}

/* Takes the journal's bound on what may be sent (what is durable, and once
 * a Welcome is durable up to FB_JOURNAL_AHEAD above it; after a
 * renumbering nothing until it is durable, which the journal's anchoring
 * says: only the first Welcome renumbers) and moves send_end up to it. */
static void s_send_limit(fb_outbox_t *self)
{
    if (self->journal) {
        fb_journal_state_t d;
        fb_journal_durable(self->journal, &d);
        if (d.anchored) self->renumbered = 0;
        self->send_below = self->renumbered ? 0 : d.next_seq + (d.anchored ? FB_JOURNAL_AHEAD : 0);
    } else {
        self->send_below = UINT64_MAX;
    }
    if (self->send_end < self->head) self->send_end = self->head;
    while (self->send_end < self->tail && s_at(self, self->send_end)->origin_seq < self->send_below)
        self->send_end++;
}

/* ------------------------------------------------------------- reading -- */

/* Holds the publishes read back (taking their frames), in order, in a ring
 * large enough for them. Returns 0, or -1 when out of memory. */
static int s_hold_replayed(fb_outbox_t *self, fb_outbox_reread_t *rp)
{
    size_t n = rp->n - rp->start;
    if (n > self->cap) self->cap = n;
    if (!(self->ring = calloc(self->cap, sizeof(*self->ring)))) return -1;
    for (size_t i = 0; i < n; i++) {
        fb_outbox_held_t *h = &rp->v[rp->start + i];
        fb_outbox_entry_t *e = &self->ring[i];
        uint64_t older;
        /* The same message_id twice: a client asked again after the first
         * was answered. The newer entry carries its fate. */
        if (fb_idindex_get(self->by_id, h->id, &older)) self->ring[older].answered = 1;
        if (fb_idindex_put(self->by_id, h->id, i) != 0) return -1;
        memcpy(e->id, h->id, FB_UUID_LEN);
        e->origin_seq = h->seq;
        e->created_at_us = h->created_at_us;
        e->frame = h->frame;
        e->frame_len = h->len;
        s_locate(e);
        h->frame = NULL;
        self->bytes += h->len;
        self->tail++;
    }
    self->synced = self->tail;
    self->replayed = n;
    return 0;
}

/* ------------------------------------------------------------ lifetime -- */

/* Answers alone are journaled at most this often, in microseconds; else
 * with the next publishes. */
#define S_CONFIRM_EVERY_US 100000

/* Puts the answered watermark in the journal when it moved and a write is
 * to go anyway (publishes wait), or force. Returns 1 when it is time for
 * answers to go alone. */
static int s_put_confirm(fb_outbox_t *self, int force)
{
    int64_t now = fb_time_mono_us();
    int lazy = force || now >= self->confirm_due;
    uint64_t first = fb_outbox_first_seq(self);
    if (first > self->confirmed && (lazy || fb_journal_urgent(self->journal)) &&
        fb_journal_put_confirm(self->journal, first) == 0) {
        self->confirmed = first;
        self->confirm_due = now + S_CONFIRM_EVERY_US;
    }
    return lazy;
}


fb_outbox_t *fb_outbox_open(const fb_outbox_opts_t *o, char *err, size_t err_size)
{
    fb_outbox_t *self = calloc(1, sizeof(*self));
    fb_outbox_reread_t rp = {0};
    if (!self || o->max_entries == 0) {
        snprintf(err, err_size, self ? "an outbox holds at least one publish" : "out of memory");
        goto error;
    }
    self->max_entries = o->max_entries;
    self->cap = o->max_entries < S_RING_MIN ? o->max_entries : S_RING_MIN;
    self->max_bytes = o->max_bytes;
    self->next_seq = 1;
    if (!(self->by_id = fb_idindex_new(1024))) {
        snprintf(err, err_size, "out of memory");
        goto error;
    }
    if (!o->dir) {
        if (!(self->ring = calloc(self->cap, sizeof(*self->ring)))) {
            snprintf(err, err_size, "out of memory");
            goto error;
        }
        s_send_limit(self);
        return self;
    }
    if (!(self->journal = fb_journal_open(o->dir, o->segment_bytes, fb_outbox_reread_record, &rp, err, err_size))) goto error;
    if (s_hold_replayed(self, &rp) != 0) {
        snprintf(err, err_size, "out of memory");
        goto error;
    }
    fb_journal_state_t st;
    fb_journal_state(self->journal, &st);
    self->next_seq = st.next_seq;
    self->anchored = st.anchored;
    self->confirmed = st.confirmed_below ? st.confirmed_below : 1; /* origin_seqs start at 1 */
    s_send_limit(self);
    fb_outbox_reread_free(&rp);
    return self;
error:
    fb_outbox_reread_free(&rp);
    fb_outbox_destroy(&self);
    return NULL;
}

fb_outbox_t *fb_outbox_new(size_t cap)
{
    char err[64];
    return fb_outbox_open(&(fb_outbox_opts_t){.max_entries = cap}, err, sizeof(err));
}

void fb_outbox_destroy(fb_outbox_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_outbox_t *self = *self_p;
    if (self->journal) {
        s_put_confirm(self, 1);
        fb_journal_close(&self->journal);
    }
    if (self->ring)
        for (uint64_t p = self->head; p < self->tail; p++) s_clear(s_at(self, p));
    free(self->ring);
    fb_idindex_destroy(&self->by_id);
    free(self);
    *self_p = NULL;
}

/* What a write that succeeded covered is durable: up to pos. */
static void s_durable(fb_outbox_t *self, uint64_t pos)
{
    self->sync_errno = 0;
    if (pos > self->synced) self->synced = pos;
    if (self->synced < self->head) self->synced = self->head;
    s_send_limit(self);
    fb_journal_release(self->journal, fb_outbox_first_seq(self));
}

int fb_outbox_sync(fb_outbox_t *self)
{
    if (self->broken) return errno = ENOMEM, FB_ENOMEM;
    if (!self->journal) {
        self->synced = self->tail;
        return FB_OK;
    }
    s_put_confirm(self, 1);
    if (fb_journal_sync(self->journal) != 0) {
        self->sync_errno = errno;
        return FB_EIO;
    }
    s_durable(self, self->tail);
    return FB_OK;
}

int fb_outbox_sync_start(fb_outbox_t *self)
{
    if (self->broken) return errno = ENOMEM, FB_ENOMEM;
    if (!self->journal) {
        self->synced = self->tail;
        return FB_OK;
    }
    int lazy = s_put_confirm(self, 0);
    if (fb_journal_sync_start(self->journal, lazy) == 1) self->w_tail = self->tail;
    return FB_OK;
}

int fb_outbox_sync_collect(fb_outbox_t *self)
{
    if (!self->journal) return FB_OK;
    int rc = fb_journal_sync_collect(self->journal, 0);
    if (rc < 0) {
        self->sync_errno = errno;
        return FB_EIO;
    }
    if (rc > 0) s_durable(self, self->w_tail);
    return FB_OK;
}

int fb_outbox_sync_fd(const fb_outbox_t *self)
{
    return self->journal ? fb_journal_sync_fd(self->journal) : -1;
}

/* ------------------------------------------------------------ sequence -- */

uint64_t fb_outbox_next_seq(const fb_outbox_t *self)
{
    return self->next_seq;
}

/* Numbers every entry held again, from next on (see fb_outbox_raise_seq).
 * Returns 0, or -1 when memory ran out part way. */
static int s_renumber(fb_outbox_t *self, uint64_t next)
{
    uint64_t delta = next - s_at(self, self->head)->origin_seq;
    for (uint64_t p = self->head; p < self->tail; p++) {
        fb_outbox_entry_t *e = s_at(self, p);
        size_t was = e->frame_len;
        if (fb_outbox_restamp(&e->frame, &e->frame_len, e->origin_seq, e->origin_seq + delta) != 0) return -1;
        s_locate(e);
        self->bytes += e->frame_len - was;
        e->origin_seq += delta;
    }
    self->next_seq += delta;
    /* The new numbers are not durable yet, nor will a write in flight make
     * them; none is sent before they are. */
    self->synced = self->w_tail = self->send_end = self->released = self->head;
    self->renumbered = 1;
    self->send_below = 0;
    return 0;
}

void fb_outbox_raise_seq(fb_outbox_t *self, uint64_t next)
{
    uint64_t from = 0, to = 0;
    if (!self->anchored && self->head < self->tail && s_at(self, self->head)->origin_seq < next) {
        from = s_at(self, self->head)->origin_seq;
        to = next;
        if (s_renumber(self, next) != 0) self->broken = 1;
    } else if (next > self->next_seq) {
        self->next_seq = next;
    } else if (self->anchored) {
        return;
    }
    self->anchored = 1;
    if (self->journal && fb_journal_put_seq(self->journal, self->next_seq, from, to) != 0) self->broken = 1;
}

/* ------------------------------------------------------------- entries -- */

int fb_outbox_full(const fb_outbox_t *self)
{
    if (self->tail - self->head >= self->max_entries) return FB_OUTBOX_FULL_ENTRIES;
    if (self->max_bytes && self->bytes >= self->max_bytes) return FB_OUTBOX_FULL_BYTES;
    return 0;
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

/* Doubles the ring, up to max_entries: every entry held moves to its
 * position's slot in the new one. Returns 0, or -1 when out of memory. */
static int s_grow_ring(fb_outbox_t *self)
{
    if (self->cap >= self->max_entries) return -1;
    size_t cap = self->cap * 2 < self->max_entries ? self->cap * 2 : self->max_entries;
    fb_outbox_entry_t *ring = calloc(cap, sizeof(*ring));
    if (!ring) return -1;
    for (uint64_t p = self->head; p < self->tail; p++) ring[p % cap] = *s_at(self, p);
    free(self->ring);
    self->ring = ring;
    self->cap = cap;
    return 0;
}

int fb_outbox_append(fb_outbox_t *self, const fb_outbox_add_t *in)
{
    if (in->origin_seq != self->next_seq || (in->who && in->who_len > 255)) return FB_EINVAL;
    if (self->sync_errno) return FB_EIO; /* it would not become durable */
    if (fb_outbox_full(self)) return FB_EFULL;
    /* The ring can be larger than max_entries (a journal read back held
     * more); when smaller, it grows. */
    if (self->tail - self->head >= self->cap && s_grow_ring(self) != 0) return FB_ENOMEM;
    uint64_t pos = self->tail;
    fb_outbox_entry_t *e = s_at(self, pos);
    if (fb_outbox_set_submitter(e, in->who, in->who_len, in->batched) != 0) return FB_ENOMEM;
    if (fb_idindex_put(self->by_id, in->id, pos) != 0) goto oom;
    if (self->journal && fb_journal_put_publish(self->journal, in->origin_seq, in->created_at_us, in->id,
                                                in->frame, in->frame_len) != 0) {
        fb_idindex_del(self->by_id, in->id, NULL);
        goto oom;
    }
    memcpy(e->id, in->id, FB_UUID_LEN);
    e->origin_seq = in->origin_seq;
    e->created_at_us = in->created_at_us;
    e->frame = in->frame;
    e->frame_len = in->frame_len;
    s_locate(e);
    self->bytes += in->frame_len;
    self->tail++;
    if (!self->journal) self->synced = self->tail;
    if (self->send_end == pos && in->origin_seq < self->send_below) self->send_end = self->tail;
    self->next_seq++;
    return FB_OK;
oom:
    e->frame = NULL; /* the caller keeps it */
    s_clear(e);
    return FB_ENOMEM;
}

fb_outbox_entry_t *fb_outbox_newest(fb_outbox_t *self)
{
    return self->head < self->tail ? s_at(self, self->tail - 1) : NULL;
}

fb_outbox_entry_t *fb_outbox_find(fb_outbox_t *self, const uint8_t *id)
{
    uint64_t pos;
    if (!fb_idindex_get(self->by_id, id, &pos)) return NULL;
    return s_at(self, pos);
}

void fb_outbox_prefetch_id(const fb_outbox_t *self, const uint8_t *id)
{
    fb_idindex_prefetch(self->by_id, id);
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
    uint64_t end = range == FB_OUTBOX_SENT ? self->cursor : range == FB_OUTBOX_UNSENT ? self->send_end : self->tail;
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

/* The index holds unanswered entries only: looking an id up and taking it
 * out is one probe. */
fb_outbox_entry_t *fb_outbox_answer_id(fb_outbox_t *self, const uint8_t *id)
{
    uint64_t pos;
    if (!fb_idindex_del(self->by_id, id, &pos)) return NULL;
    fb_outbox_entry_t *e = s_at(self, pos);
    e->answered = 1;
    return e;
}

fb_outbox_entry_t *fb_outbox_answer_seq(fb_outbox_t *self, uint64_t origin_seq)
{
    fb_outbox_entry_t *e = fb_outbox_find_seq(self, origin_seq);
    uint64_t pos;
    if (!e || e->answered) return NULL;
    e->answered = 1;
    /* (A newer entry of the same id, if any, keeps its place.) */
    if (fb_idindex_get(self->by_id, e->id, &pos) && pos == s_pos(self, e))
        fb_idindex_del(self->by_id, e->id, NULL);
    return e;
}

int fb_outbox_durable(const fb_outbox_t *self, const fb_outbox_entry_t *e)
{
    return s_pos(self, e) < self->synced;
}

int fb_outbox_hold_answer(fb_outbox_t *self, fb_outbox_entry_t *e, const uint8_t *ack, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return -1;
    memcpy(copy, ack, len);
    free(e->held);
    e->held = copy;
    e->held_len = len;
    self->held++;
    return 0;
}

fb_outbox_entry_t *fb_outbox_next_released(fb_outbox_t *self)
{
    if (self->released < self->head) self->released = self->head;
    while (self->released < self->synced) {
        fb_outbox_entry_t *e = s_at(self, self->released++);
        if (e->held) return e;
    }
    return NULL;
}

void fb_outbox_drop_answer(fb_outbox_entry_t *e)
{
    free(e->held);
    e->held = NULL;
    e->held_len = 0;
}

void fb_outbox_trim(fb_outbox_t *self)
{
    /* Never past what is not durable: its answer, held or still to come
     * from a resend, waits for the sync. */
    while (self->head < self->synced && s_at(self, self->head)->answered && !s_at(self, self->head)->held) {
        self->bytes -= s_at(self, self->head)->frame_len;
        s_clear(s_at(self, self->head));
        self->head++;
    }
    if (self->cursor < self->head) self->cursor = self->head;
    if (self->send_end < self->head) self->send_end = self->head;
    if (self->released < self->head) self->released = self->head;
}

size_t fb_outbox_depth(const fb_outbox_t *self)
{
    return (size_t)(self->tail - self->head);
}

uint64_t fb_outbox_first_unanswered_seq(fb_outbox_t *self)
{
    /* Answers never go back, so the position only moves on. */
    if (self->answered < self->head) self->answered = self->head;
    while (self->answered < self->tail && s_at(self, self->answered)->answered) self->answered++;
    return self->answered < self->tail ? s_at(self, self->answered)->origin_seq : self->next_seq;
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

size_t fb_outbox_bytes(const fb_outbox_t *self)
{
    return self->bytes;
}

void fb_outbox_journal(const fb_outbox_t *self, fb_outbox_journal_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!self->journal) return;
    fb_journal_stats_t st;
    fb_journal_stats(self->journal, &st);
    out->on_disk = 1;
    out->replayed = self->replayed;
    out->corrupt_tails = st.corrupt;
    out->dropped_bytes = st.dropped_bytes;
    out->segments = st.segments;
    out->disk_bytes = st.bytes;
    out->sync_errno = st.sync_errno;
    out->syncs = st.syncs;
    out->sync_us = st.sync_us;
    out->synced = st.synced_publishes;
    out->held = self->held;
    out->skipped = st.skipped;
}
