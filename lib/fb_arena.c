/* fb_arena.c — bump allocation in chunks, released all at once. */
#include "fb_arena.h"

#include <stdint.h>
#include <stdlib.h>

#define S_ALIGN 16

typedef struct s_chunk {
    struct s_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
} s_chunk_t;

/* The header is padded so that chunk data starts aligned. */
#define S_HEADER ((sizeof(s_chunk_t) + S_ALIGN - 1) & ~(size_t)(S_ALIGN - 1))

struct fb_arena {
    s_chunk_t *chunks; /* in use, the current chunk first */
    s_chunk_t *spare;  /* kept by the last reset, empty */
    size_t chunk, keep;
    size_t used, held;
    size_t last_used; /* used in the cycle before the last reset */
};

fb_arena_t *fb_arena_new(size_t chunk, size_t keep)
{
    fb_arena_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->chunk = chunk < 4096 ? 4096 : chunk;
    self->keep = keep;
    return self;
}

void fb_arena_destroy(fb_arena_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_arena_t *self = *self_p;
    for (s_chunk_t *c = self->chunks, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    for (s_chunk_t *c = self->spare, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(self);
    *self_p = NULL;
}

static s_chunk_t *s_chunk_new(size_t size)
{
    s_chunk_t *c = malloc(S_HEADER + size);
    if (!c) return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void *fb_arena_alloc(fb_arena_t *self, size_t size)
{
    if (size == 0 || size > SIZE_MAX - S_HEADER - S_ALIGN) return NULL;
    size = (size + S_ALIGN - 1) & ~(size_t)(S_ALIGN - 1);
    s_chunk_t *c = self->chunks;
    if (!c || c->size - c->used < size) {
        s_chunk_t **sp = &self->spare;
        while (*sp && (*sp)->size < size) sp = &(*sp)->next;
        if (*sp) {
            c = *sp;
            *sp = c->next;
        } else {
            if (!(c = s_chunk_new(size > self->chunk ? size : self->chunk))) return NULL;
            self->held += c->size;
        }
        c->next = self->chunks;
        self->chunks = c;
    }
    void *p = (uint8_t *)c + S_HEADER + c->used;
    c->used += size;
    self->used += size;
    return p;
}

void fb_arena_reset(fb_arena_t *self)
{
    /* Keep what the last two cycles needed (one chunk at least), up to
     * keep: a burst's chunks go back after two quiet cycles. */
    size_t budget = self->used > self->last_used ? self->used : self->last_used;
    if (budget < self->chunk) budget = self->chunk;
    if (budget > self->keep) budget = self->keep;
    size_t kept = 0;
    s_chunk_t *spare = NULL, *all[2] = {self->chunks, self->spare};
    for (int l = 0; l < 2; l++)
        for (s_chunk_t *c = all[l], *n; c; c = n) {
            n = c->next;
            if (kept + c->size <= budget) {
                c->used = 0;
                c->next = spare;
                spare = c;
                kept += c->size;
            } else {
                free(c);
            }
        }
    self->chunks = NULL;
    self->spare = spare;
    self->held = kept;
    self->last_used = self->used;
    self->used = 0;
}

size_t fb_arena_used(const fb_arena_t *self)
{
    return self->used;
}

size_t fb_arena_held(const fb_arena_t *self)
{
    return self->held;
}
