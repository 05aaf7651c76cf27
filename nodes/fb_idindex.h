/* fb_idindex.h — the outbox's index from message_id to position: open addressing, 24-byte slots.
 *
 * The outbox looks a message_id up for every publish taken (is it a
 * client's retry?) and for every ack, adds one per publish and removes one
 * per answer. The general map (lib/fb_map) keeps 80-byte slots for keys up
 * to 56 bytes; here a slot is the 16-byte id and the position, the table
 * is kept at most half full, and a look-up of an id not held, the common
 * case, mostly reads one cache line.
 *
 * Not thread-safe. */
#ifndef FB_IDINDEX_H
#define FB_IDINDEX_H

#include "fb_crypto.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fb_idindex fb_idindex_t;

/* An empty index sized for about hint ids; NULL when out of memory. */
fb_idindex_t *fb_idindex_new(size_t hint);

/* Frees it; accepts NULL, nulls *self_p. */
void fb_idindex_destroy(fb_idindex_t **self_p);

/* Sets id (FB_UUID_LEN bytes, copied) to pos, replacing what it had.
 * Returns 0, or -1 when out of memory (nothing changed). */
int fb_idindex_put(fb_idindex_t *self, const uint8_t *id, uint64_t pos);

/* Returns 1 and *pos when id is held, else 0. */
int fb_idindex_get(const fb_idindex_t *self, const uint8_t *id, uint64_t *pos);

/* Removes id; returns 1 and its position in *pos (when pos is not NULL)
 * when it was held, else 0. */
int fb_idindex_del(fb_idindex_t *self, const uint8_t *id, uint64_t *pos);

/* Asks the CPU to bring id's home slot into the cache, changing nothing:
 * called for the next id while the current one is handled, so that its
 * look-up, a cache miss on a busy machine, is not waited for. */
void fb_idindex_prefetch(const fb_idindex_t *self, const uint8_t *id);

/* Ids held. */
size_t fb_idindex_size(const fb_idindex_t *self);

#endif
