/* fb_map.h — open-addressing hash map from short byte keys to a 64-bit value.
 *
 * Keys (up to FB_MAP_KEY_MAX bytes) are stored inline, so insert never
 * allocates except when the table grows. Used for per-origin heads, pending
 * publishes and in-batch duplicate detection. */
#ifndef FB_MAP_H
#define FB_MAP_H

#include <stddef.h>
#include <stdint.h>

#define FB_MAP_KEY_MAX 56

typedef struct fb_map fb_map_t;

/* Returns a map sized for about `hint` entries, or NULL. */
fb_map_t *fb_map_new(size_t hint);
void fb_map_destroy(fb_map_t **self_p);

/* Sets key to value; returns 0, or -1 when the key is too long or memory ran out. */
int fb_map_put(fb_map_t *self, const void *key, size_t len, uint64_t value);

/* Adds key with value unless it is present: returns 0 when it was added, 1
 * (and its value in *have, when have is not NULL) when it was there already
 * and nothing changed, -1 when the key is too long or memory ran out. One
 * probe where fb_map_get() then fb_map_put() take two. */
int fb_map_add(fb_map_t *self, const void *key, size_t len, uint64_t value, uint64_t *have);

/* Returns 1 and *value when key is present, else 0. */
int fb_map_get(const fb_map_t *self, const void *key, size_t len, uint64_t *value);

/* Removes key; returns 1 when it was present. */
int fb_map_del(fb_map_t *self, const void *key, size_t len);

size_t fb_map_size(const fb_map_t *self);

/* Removes every entry, keeping the capacity. */
void fb_map_clear(fb_map_t *self);

/* Calls fn for every entry; stops early when fn returns non-zero. */
void fb_map_each(const fb_map_t *self,
                 int (*fn)(const void *key, size_t len, uint64_t value, void *arg), void *arg);

#endif
