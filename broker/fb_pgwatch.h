/* fb_pgwatch.h — a thread that asks PostgreSQL every second whether it answers and whether the schema is current.
 *
 * The broker's writer only notices PostgreSQL when it has something to
 * store; health must know at any moment (/readyz, fedbus status). The
 * watch has a connection of its own and runs one small query a second
 * (the schema's version); what it found is read with fb_pgwatch_get()
 * from any thread, without waiting. */
#ifndef FB_PGWATCH_H
#define FB_PGWATCH_H

#include <stdint.h>

typedef struct fb_pgwatch fb_pgwatch_t;

/* What the last probe found. */
typedef struct {
    int up;               /* PostgreSQL answered */
    int64_t since_us;     /* wall clock (unix us) since when up has been what it is */
    int schema;           /* the schema version found; -1 when unknown */
    char reason[160];     /* why not up ("" when up): the connection's error, one line */
} fb_pgwatch_info_t;

/* Starts the watch on conninfo (copied). Until the first probe ends the
 * watch says up (the broker just reached PostgreSQL to start). Returns
 * NULL when out of memory or the thread cannot start. */
fb_pgwatch_t *fb_pgwatch_new(const char *conninfo);

/* Stops the thread (within a connection attempt's timeout, 2 s) and frees
 * *self_p; accepts NULL, nulls *self_p. */
void fb_pgwatch_destroy(fb_pgwatch_t **self_p);

/* Copies the last probe's findings into *out. Any thread. */
void fb_pgwatch_get(fb_pgwatch_t *self, fb_pgwatch_info_t *out);

#endif
