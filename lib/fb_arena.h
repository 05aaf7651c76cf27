/* fb_arena.h — a bump allocator whose allocations are all released at once.
 *
 * The broker decodes every publish of a batch into the batch's arena and
 * drops them together when the batch is answered: one reset instead of a
 * free per decoded field (protobuf-c allocates each string, bytes and
 * sub-message of a message separately). */
#ifndef FB_ARENA_H
#define FB_ARENA_H

#include <stddef.h>

typedef struct fb_arena fb_arena_t;

/* Returns an arena that takes memory in chunks of chunk bytes (at least
 * 4 KiB) and keeps up to keep bytes of them across resets; NULL when out of
 * memory. */
fb_arena_t *fb_arena_new(size_t chunk, size_t keep);

/* Frees the arena and everything allocated from it; accepts NULL and sets
 * *self_p to NULL. */
void fb_arena_destroy(fb_arena_t **self_p);

/* Returns size bytes aligned for any type (16 bytes), valid until the next
 * reset; NULL when out of memory or size is 0. A request larger than a chunk
 * gets a chunk of its own. */
void *fb_arena_alloc(fb_arena_t *self, size_t size);

/* Releases every allocation at once; keeps chunks for reuse, as many as the
 * larger of this cycle's and the previous cycle's allocations needed (one
 * chunk at least) and no more than `keep` bytes, and frees the rest: the
 * memory of a burst goes back after two quieter cycles. */
void fb_arena_reset(fb_arena_t *self);

/* Bytes handed out since the last reset, and bytes of chunks held. */
size_t fb_arena_used(const fb_arena_t *self);
size_t fb_arena_held(const fb_arena_t *self);

#endif
