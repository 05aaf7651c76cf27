/* fb_map.c — linear-probing hash map with inline keys and backward-shift deletion.
 *
 * A slot is in use when its hash is set and its generation is the map's:
 * clearing only moves the map to the next generation, so clearing a large
 * map (the broker clears its batch maps for every batch) costs nothing. */
#include "fb_map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash; /* 0 = empty slot */
    uint64_t value;
    uint32_t len;
    uint32_t gen;  /* the generation it was filled in */
    uint8_t key[FB_MAP_KEY_MAX];
} s_slot_t;

struct fb_map {
    s_slot_t *slots;
    size_t cap; /* power of two */
    size_t size;
    uint32_t gen; /* never 0: calloc'd slots are of generation 0, so empty */
};

static int s_used(const fb_map_t *self, const s_slot_t *s)
{
    return s->hash != 0 && s->gen == self->gen;
}

/* Eight bytes at a time, then a full 64-bit finaliser (MurmurHash3's
 * fmix64): the index is taken from the low bits, and the keys here differ
 * mostly in a few bytes (message ids sharing a time prefix, origins sharing
 * "kr-"), which a byte-wise hash left clustered in them. */
static uint64_t s_hash(const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (len * 0xC2B2AE3D27D4EB4FULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x100000001B3ULL;
        h ^= h >> 31;
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h = (h ^ w) * 0x100000001B3ULL;
    }
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 33;
    return h ? h : 1;
}

fb_map_t *fb_map_new(size_t hint)
{
    fb_map_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->cap = 16;
    self->gen = 1;
    while (self->cap < hint * 2) self->cap <<= 1;
    self->slots = calloc(self->cap, sizeof(s_slot_t));
    if (!self->slots) {
        free(self);
        return NULL;
    }
    return self;
}

void fb_map_destroy(fb_map_t **self_p)
{
    if (!self_p || !*self_p) return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static s_slot_t *s_find(const fb_map_t *self, const void *key, size_t len, uint64_t h)
{
    size_t mask = self->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        s_slot_t *s = &self->slots[i];
        if (!s_used(self, s)) return s;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s;
    }
}

static int s_grow(fb_map_t *self)
{
    size_t old_cap = self->cap;
    s_slot_t *old = self->slots;
    s_slot_t *slots = calloc(old_cap * 2, sizeof(s_slot_t));
    if (!slots) return -1;
    self->slots = slots;
    self->cap = old_cap * 2;
    uint32_t gen = self->gen;
    self->gen = 1; /* the new slots are all of generation 0 */
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].hash && old[i].gen == gen) {
            s_slot_t *s = s_find(self, old[i].key, old[i].len, old[i].hash);
            *s = old[i];
            s->gen = 1;
        }
    free(old);
    return 0;
}

int fb_map_put(fb_map_t *self, const void *key, size_t len, uint64_t value)
{
    if (len > FB_MAP_KEY_MAX) return -1;
    if ((self->size + 1) * 10 > self->cap * 7 && s_grow(self) != 0) return -1;
    uint64_t h = s_hash(key, len);
    s_slot_t *s = s_find(self, key, len, h);
    if (!s_used(self, s)) {
        s->hash = h;
        s->gen = self->gen;
        s->len = (uint32_t)len;
        memcpy(s->key, key, len);
        self->size++;
    }
    s->value = value;
    return 0;
}

int fb_map_add(fb_map_t *self, const void *key, size_t len, uint64_t value, uint64_t *have)
{
    if (len > FB_MAP_KEY_MAX) return -1;
    if ((self->size + 1) * 10 > self->cap * 7 && s_grow(self) != 0) return -1;
    uint64_t h = s_hash(key, len);
    s_slot_t *s = s_find(self, key, len, h);
    if (s_used(self, s)) {
        if (have) *have = s->value;
        return 1;
    }
    s->hash = h;
    s->gen = self->gen;
    s->len = (uint32_t)len;
    memcpy(s->key, key, len);
    s->value = value;
    self->size++;
    return 0;
}

int fb_map_get(const fb_map_t *self, const void *key, size_t len, uint64_t *value)
{
    if (len > FB_MAP_KEY_MAX) return 0;
    s_slot_t *s = s_find(self, key, len, s_hash(key, len));
    if (!s_used(self, s)) return 0;
    if (value) *value = s->value;
    return 1;
}

int fb_map_del(fb_map_t *self, const void *key, size_t len)
{
    if (len > FB_MAP_KEY_MAX) return 0;
    s_slot_t *s = s_find(self, key, len, s_hash(key, len));
    if (!s_used(self, s)) return 0;
    size_t mask = self->cap - 1, i = (size_t)(s - self->slots);
    /* Backward-shift: pull later entries of the probe run into the hole. */
    for (size_t j = (i + 1) & mask; s_used(self, &self->slots[j]); j = (j + 1) & mask) {
        size_t home = self->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            self->slots[i] = self->slots[j];
            i = j;
        }
    }
    self->slots[i].hash = 0;
    self->size--;
    return 1;
}

size_t fb_map_size(const fb_map_t *self)
{
    return self->size;
}

void fb_map_clear(fb_map_t *self)
{
    if (self->size == 0) return;
    if (++self->gen == 0) {
        /* After 2^32 - 1 clears: really empty the slots once. */
        for (size_t i = 0; i < self->cap; i++) self->slots[i].hash = 0;
        self->gen = 1;
    }
    self->size = 0;
}

void fb_map_each(const fb_map_t *self,
                 int (*fn)(const void *key, size_t len, uint64_t value, void *arg), void *arg)
{
    for (size_t i = 0; i < self->cap; i++)
        if (s_used(self, &self->slots[i]) &&
            fn(self->slots[i].key, self->slots[i].len, self->slots[i].value, arg))
            return;
}
