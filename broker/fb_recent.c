/* fb_recent.c — fingerprints of the (origin, message_id) pairs stored last, in two generations. */
#include "fb_recent.h"

#include <stdlib.h>
#include <string.h>

/* Both generations in one table: slot i of each side by side, so that the
 * probe of a key's home slot in both costs one cache line, not two. */
struct fb_recent {
    uint64_t (*slots)[2]; /* linear probing per generation; 0 = empty */
    size_t mask;          /* slots - 1 (a power of two, at least 4 * keep) */
    size_t n[2];
    size_t keep;
    int cur;              /* the generation added to */
};

fb_recent_t *fb_recent_new(size_t keep)
{
    fb_recent_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->keep = keep < 16 ? 16 : keep;
    size_t cap = 32;
    while (cap < self->keep * 4) cap <<= 1;
    self->mask = cap - 1;
    if (!(self->slots = calloc(cap, sizeof(*self->slots)))) fb_recent_destroy(&self);
    return self;
}

void fb_recent_destroy(fb_recent_t **self_p)
{
    if (!self_p || !*self_p) return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

/* MurmurHash3's 64-bit finaliser: every input bit moves every output bit. */
static uint64_t s_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t fb_recent_key(const char *origin, const uint8_t *message_id)
{
    uint64_t h = 0xCBF29CE484222325ULL, lo, hi;
    for (const unsigned char *p = (const unsigned char *)origin; *p; p++) h = (h ^ *p) * 0x100000001B3ULL;
    memcpy(&hi, message_id, 8); /* a UUIDv7's time, then its random part */
    memcpy(&lo, message_id + 8, 8);
    h = s_mix(h ^ hi);
    h = s_mix(h ^ lo);
    return h ? h : 1;
}

/* Whether generation g holds key; its probe ends at an empty slot (a
 * generation is never more than a quarter full: a key that is not there,
 * the common answer, is known after 1.4 slots on average). */
static int s_holds(const fb_recent_t *self, int g, uint64_t key)
{
    for (size_t i = key & self->mask;; i = (i + 1) & self->mask) {
        uint64_t v = self->slots[i][g];
        if (v == key) return 1;
        if (v == 0) return 0;
    }
}

int fb_recent_has(const fb_recent_t *self, uint64_t key)
{
    return s_holds(self, self->cur, key) || s_holds(self, !self->cur, key);
}

void fb_recent_prefetch(const fb_recent_t *self, uint64_t key)
{
    __builtin_prefetch(&self->slots[key & self->mask]);
}

void fb_recent_add(fb_recent_t *self, uint64_t key)
{
    int g = self->cur;
    size_t i = key & self->mask;
    for (; self->slots[i][g] != 0; i = (i + 1) & self->mask)
        if (self->slots[i][g] == key) return;
    if (self->n[g] == self->keep) {
        /* The current generation is full: the older one is forgotten and
         * takes its place, empty. */
        g = self->cur = !self->cur;
        for (size_t k = 0; k <= self->mask; k++) self->slots[k][g] = 0;
        self->n[g] = 0;
        i = key & self->mask;
    }
    self->slots[i][g] = key;
    self->n[g]++;
}

size_t fb_recent_size(const fb_recent_t *self)
{
    return self->n[0] + self->n[1];
}
