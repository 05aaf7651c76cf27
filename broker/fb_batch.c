/* fb_batch.c — batches of publishes: classification, look-ups settled, numbering, heads. */
#include "fb_batch.h"

#include "fedbus.pb-c.h"

#include <stdlib.h>
#include <string.h>

#define S_AHEAD 16 /* items between a fingerprint's prefetch and its probe */

fb_batch_t *fb_batch_new(size_t max)
{
    fb_batch_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->items = calloc(max, sizeof(*self->items));
    self->frames = calloc(max, sizeof(*self->frames));
    self->rows = calloc(max, sizeof(*self->rows));
    self->keys = calloc(max, sizeof(*self->keys));
    self->found = calloc(max, sizeof(*self->found));
    self->key_items = calloc(max, sizeof(*self->key_items));
    self->proofs = calloc(max, sizeof(*self->proofs));
    self->heads = fb_map_new(64);
    for (self->id_cap = 16; self->id_cap < 2 * max;) self->id_cap <<= 1;
    self->id_slots = malloc(self->id_cap * sizeof(*self->id_slots));
    /* The origin and topic of each publish (a few dozen bytes each). */
    self->arena = fb_arena_new(64 << 10, 1u << 20);
    if (!self->items || !self->frames || !self->rows || !self->keys || !self->found || !self->key_items ||
        !self->proofs || !self->heads || !self->id_slots || !self->arena)
        fb_batch_destroy(&self);
    return self;
}

void fb_batch_destroy(fb_batch_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_batch_t *self = *self_p;
    if (self->items && self->frames) fb_batch_release(self);
    free(self->items);
    free(self->frames);
    free(self->rows);
    free(self->keys);
    free(self->found);
    free(self->key_items);
    free(self->proofs);
    fb_map_destroy(&self->heads);
    free(self->id_slots);
    fb_arena_destroy(&self->arena);
    free(self);
    *self_p = NULL;
}

fb_batch_item_t *fb_batch_open(fb_batch_t *self)
{
    fb_batch_item_t *it = &self->items[self->nitems];
    fb_batch_frame_t *f = &self->frames[self->nitems];
    zmq_msg_init(&f->ident);
    zmq_msg_init(&f->body);
    it->origin = it->topic = NULL;
    it->origin_seq = 0;
    it->created_at_us = 0;
    it->has_id = 0;
    it->link_read = 0;
    it->resent = 0;
    it->in_group = 0;
    it->group_n = 0;
    return it;
}

static void s_close(fb_batch_frame_t *f)
{
    zmq_msg_close(&f->ident);
    zmq_msg_close(&f->body);
}

void fb_batch_drop(fb_batch_t *self, fb_batch_item_t *it)
{
    s_close(&self->frames[it - self->items]);
}

void fb_batch_release(fb_batch_t *self)
{
    for (size_t i = 0; i < self->nitems; i++) s_close(&self->frames[i]);
    self->nitems = 0;
    self->nproofs = 0;
    self->extra_sql = NULL;
    self->bytes = 0;
    fb_arena_reset(self->arena);
}

void fb_batch_reject(fb_batch_item_t *it, int reason, const char *detail)
{
    it->state = FB_BATCH_REJECTED;
    it->reason = reason;
    it->detail = detail;
}

/* ------------------------------------------------------ classification -- */

/* The highest origin_seq stored for origin: this batch's new rows first,
 * then the store's heads. */
static uint64_t s_stored_head(const fb_batch_t *self, const fb_map_t *stored_heads, const char *origin)
{
    uint64_t v = 0;
    size_t len = strlen(origin);
    if (fb_map_get(self->heads, origin, len, &v)) return v;
    if (fb_map_get(stored_heads, origin, len, &v)) return v;
    return 0;
}

/* Whether it is a second copy of an earlier item; then it refers to it, or
 * is refused when the content differs. */
static int s_in_batch_copy(fb_batch_t *self, fb_batch_item_t *it, size_t i, size_t mask)
{
    size_t first;
    for (size_t j = it->key & mask;; j = (j + 1) & mask) {
        uint32_t *slot = &self->id_slots[j];
        if (*slot == UINT32_MAX) {
            *slot = (uint32_t)i;
            return 0;
        }
        const fb_batch_item_t *o = &self->items[*slot];
        if (o->key == it->key && memcmp(o->id, it->id, FB_UUID_LEN) == 0 && strcmp(o->origin, it->origin) == 0) {
            first = *slot;
            break;
        }
    }
    if (memcmp(self->items[first].hash, it->hash, FB_SHA256_LEN) == 0) {
        it->state = FB_BATCH_DUP_REF;
        it->ref = first;
    } else {
        fb_batch_reject(it, FEDBUS__REJECT_REASON__REJECT_ID_REUSED,
                        "message_id is used twice with different content");
    }
    return 1;
}

void fb_batch_classify(fb_batch_t *self, const fb_map_t *stored_heads, const fb_recent_t *recent)
{
    fb_map_clear(self->heads);
    size_t mask = 16;
    while (mask < 2 * self->nitems) mask <<= 1;
    memset(self->id_slots, 0xff, mask * sizeof(*self->id_slots)); /* UINT32_MAX: empty */
    mask--;
    /* Every fingerprint first; the loop below asks for the slots of the one
     * S_AHEAD items on, so that it finds them in the cache instead of
     * waiting for each. */
    for (size_t i = 0; i < self->nitems; i++) {
        fb_batch_item_t *it = &self->items[i];
        if (it->state != FB_BATCH_REJECTED) it->key = fb_recent_key(it->origin, it->id);
    }
    for (size_t i = 0; recent && i < S_AHEAD && i < self->nitems; i++)
        fb_recent_prefetch(recent, self->items[i].key);
    /* Publishes come in runs of one origin (a node's frame): its head is
     * looked up once per run, and written back when the run ends. */
    const char *run = NULL;
    uint64_t run_head = 0;
    int run_new = 0;
    for (size_t i = 0; i < self->nitems; i++) {
        fb_batch_item_t *it = &self->items[i];
        if (recent && i + S_AHEAD < self->nitems) fb_recent_prefetch(recent, self->items[i + S_AHEAD].key);
        if (it->state == FB_BATCH_REJECTED) continue; /* refused while reading its batch */
        it->resent = 0;
        if (s_in_batch_copy(self, it, i, mask)) continue;
        if (!run || strcmp(run, it->origin) != 0) {
            if (run_new) fb_map_put(self->heads, run, strlen(run), run_head);
            run = it->origin;
            run_head = s_stored_head(self, stored_heads, run);
            run_new = 0;
        }
        if (it->origin_seq > run_head) {
            it->state = recent && fb_recent_has(recent, it->key) ? FB_BATCH_SEEN : FB_BATCH_NEW;
            run_head = it->origin_seq;
            run_new = 1;
        } else {
            it->state = FB_BATCH_CHECK;
        }
    }
    if (run_new) fb_map_put(self->heads, run, strlen(run), run_head);
}

/* ------------------------------------------------------------ look-ups -- */

size_t fb_batch_keys(fb_batch_t *self, int conflict)
{
    size_t n = 0;
    for (size_t i = 0; i < self->nitems; i++) {
        fb_batch_state_t st = self->items[i].state;
        if (conflict ? st != FB_BATCH_NEW : st != FB_BATCH_CHECK && st != FB_BATCH_SEEN) continue;
        self->keys[n].origin = self->items[i].origin;
        self->keys[n].message_id = self->items[i].id;
        self->key_items[n++] = i;
    }
    return n;
}

void fb_batch_resolve(fb_batch_t *self, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        fb_batch_item_t *it = &self->items[self->key_items[k]];
        const fb_store_found_t *f = &self->found[k];
        int same = f->found && memcmp(f->hash, it->hash, FB_SHA256_LEN) == 0;
        if (same && f->global_seq > self->base) {
            /* Committed by this very batch in an attempt whose reply was
             * lost: it was never acked nor fanned out. */
            it->state = FB_BATCH_COMMITTED;
            it->global_seq = f->global_seq;
            it->stamp_len = fb_wire_stamp_stored(f->global_seq, f->stored_at_us, it->stamp);
        } else if (same) {
            /* Sent again: under its old origin_seq, or a new one. */
            it->resent = it->state != FB_BATCH_CHECK;
            it->state = FB_BATCH_DUPLICATE;
            it->global_seq = f->global_seq;
            it->dup_origin_seq = f->origin_seq;
        } else if (f->found) {
            fb_batch_reject(it, FEDBUS__REJECT_REASON__REJECT_ID_REUSED,
                            "message_id is already stored with other content");
        } else if (it->state == FB_BATCH_CHECK) {
            fb_batch_reject(it, FEDBUS__REJECT_REASON__REJECT_STALE_SEQUENCE,
                            "origin_seq is not above the last stored one for this origin");
        } else {
            it->state = FB_BATCH_NEW;
        }
    }
}

/* ----------------------------------------------------------- numbering -- */

size_t fb_batch_assign(fb_batch_t *self, uint64_t store_head, int64_t now_us)
{
    size_t n = 0;
    const fb_batch_item_t *run = NULL; /* the last NEW item, while its origin's run lasts */
    fb_map_clear(self->heads);
    for (size_t i = 0; i < self->nitems; i++) {
        fb_batch_item_t *it = &self->items[i];
        if (it->state != FB_BATCH_NEW) continue;
        it->global_seq = store_head + n + 1;
        it->stamp_len = fb_wire_stamp_stored(it->global_seq, now_us, it->stamp);
        fb_store_row_t *r = &self->rows[n++];
        r->global_seq = it->global_seq;
        r->origin = it->origin;
        r->origin_seq = it->origin_seq;
        r->message_id = it->id;
        r->topic = it->topic;
        r->created_at_us = it->created_at_us;
        r->stored_at_us = now_us;
        r->hash = it->hash;
        r->body = it->env_data;
        r->body_len = it->env_len;
        r->stamp = it->stamp;
        r->stamp_len = it->stamp_len;
        /* Each origin's last new origin_seq is its highest: classification
         * keeps them rising. */
        if (run && strcmp(run->origin, it->origin) != 0)
            fb_map_put(self->heads, run->origin, strlen(run->origin), run->origin_seq);
        run = it;
    }
    if (run) fb_map_put(self->heads, run->origin, strlen(run->origin), run->origin_seq);
    return n;
}

static int s_merge_head(const void *key, size_t len, uint64_t value, void *arg)
{
    uint64_t have = 0;
    if (!fb_map_get(arg, key, len, &have) || value > have) fb_map_put(arg, key, len, value);
    return 0;
}

void fb_batch_merge_heads(const fb_map_t *from, fb_map_t *into)
{
    fb_map_each(from, s_merge_head, into);
}

void fb_batch_settle(const fb_batch_t *self, fb_batch_item_t *it)
{
    if (it->state != FB_BATCH_DUP_REF) return;
    const fb_batch_item_t *ref = &self->items[it->ref];
    if (ref->state == FB_BATCH_REJECTED) {
        fb_batch_reject(it, ref->reason, ref->detail);
    } else {
        it->state = FB_BATCH_DUPLICATE;
        it->global_seq = ref->global_seq;
    }
}

size_t fb_batch_count_origin(const fb_batch_t *self, const char *origin, uint64_t *max_seq)
{
    size_t n = 0;
    for (size_t i = 0; i < self->nitems; i++) {
        const fb_batch_item_t *it = &self->items[i];
        if (!it->origin || !it->origin_seq || strcmp(it->origin, origin) != 0) continue;
        n++;
        if (it->origin_seq > *max_seq) *max_seq = it->origin_seq;
    }
    return n;
}
