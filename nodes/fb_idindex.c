/* fb_idindex.c — message_id to position: linear probing, the id inline, backward-shift deletion. */
#include "fb_idindex.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t k0, k1; /* the id's two halves, as loaded */
    uint64_t pos1;   /* position + 1; 0: an empty slot */
} s_slot_t;

struct fb_idindex {
    s_slot_t *slots;
    size_t cap; /* a power of two, at least twice size */
    size_t size;
    uint64_t seed; /* so that ids chosen by a client cannot be made to collide at will */
};

static void s_load(const uint8_t *id, uint64_t *k0, uint64_t *k1)
{
    memcpy(k0, id, 8);
    memcpy(k1, id + 8, 8);
}

/* Both halves go through a multiply: a UUIDv7's first half is mostly its
 * time (shared by the ids of one millisecond), the second half random. */
static size_t s_home(const fb_idindex_t *self, uint64_t k0, uint64_t k1)
{
    uint64_t h = k0 ^ self->seed;
    h = (h ^ (h >> 33)) * 0xFF51AFD7ED558CCDULL;
    h ^= k1;
    h = (h ^ (h >> 29)) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 32;
    return (size_t)h & (self->cap - 1);
}

/* The slot holding (k0, k1), or the empty slot where it would go. */
static s_slot_t *s_find(const fb_idindex_t *self, uint64_t k0, uint64_t k1)
{
    size_t mask = self->cap - 1;
    for (size_t i = s_home(self, k0, k1);; i = (i + 1) & mask) {
        s_slot_t *s = &self->slots[i];
        if (!s->pos1 || (s->k0 == k0 && s->k1 == k1)) return s;
    }
}

fb_idindex_t *fb_idindex_new(size_t hint)
{
    fb_idindex_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->cap = 64;
    while (self->cap < hint * 2) self->cap <<= 1;
    if (fb_random(&self->seed, sizeof(self->seed)) != 0) self->seed = (uint64_t)(uintptr_t)self;
    if (!(self->slots = calloc(self->cap, sizeof(s_slot_t)))) {
        free(self);
        return NULL;
    }
    return self;
}

void fb_idindex_destroy(fb_idindex_t **self_p)
{
    if (!self_p || !*self_p) return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static int s_grow(fb_idindex_t *self)
{
    s_slot_t *old = self->slots;
    size_t old_cap = self->cap;
    s_slot_t *slots = calloc(old_cap * 2, sizeof(s_slot_t));
    if (!slots) return -1;
    self->slots = slots;
    self->cap = old_cap * 2;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].pos1) *s_find(self, old[i].k0, old[i].k1) = old[i];
    free(old);
    return 0;
}

int fb_idindex_put(fb_idindex_t *self, const uint8_t *id, uint64_t pos)
{
    if ((self->size + 1) * 2 > self->cap && s_grow(self) != 0) return -1;
    uint64_t k0, k1;
    s_load(id, &k0, &k1);
    s_slot_t *s = s_find(self, k0, k1);
    if (!s->pos1) self->size++;
    *s = (s_slot_t){.k0 = k0, .k1 = k1, .pos1 = pos + 1};
    return 0;
}

int fb_idindex_get(const fb_idindex_t *self, const uint8_t *id, uint64_t *pos)
{
    uint64_t k0, k1;
    s_load(id, &k0, &k1);
    const s_slot_t *s = s_find(self, k0, k1);
    if (!s->pos1) return 0;
    *pos = s->pos1 - 1;
    return 1;
}

int fb_idindex_del(fb_idindex_t *self, const uint8_t *id, uint64_t *pos)
{
    uint64_t k0, k1;
    s_load(id, &k0, &k1);
    s_slot_t *s = s_find(self, k0, k1);
    if (!s->pos1) return 0;
    if (pos) *pos = s->pos1 - 1;
    size_t mask = self->cap - 1, i = (size_t)(s - self->slots);
    /* Backward shift: pull later slots of the probe run into the hole, so
     * that no tombstone lengthens later probes. */
    for (size_t j = (i + 1) & mask; self->slots[j].pos1; j = (j + 1) & mask) {
        size_t home = s_home(self, self->slots[j].k0, self->slots[j].k1);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            self->slots[i] = self->slots[j];
            i = j;
        }
    }
    self->slots[i].pos1 = 0;
    self->size--;
    return 1;
}

void fb_idindex_prefetch(const fb_idindex_t *self, const uint8_t *id)
{
    uint64_t k0, k1;
    s_load(id, &k0, &k1);
    const s_slot_t *s = &self->slots[s_home(self, k0, k1)];
    /* A 24-byte slot may straddle two cache lines. */
    __builtin_prefetch(s);
    __builtin_prefetch((const uint8_t *)s + sizeof(*s) - 1);
}

size_t fb_idindex_size(const fb_idindex_t *self)
{
    return self->size;
}
