/* fb_nodefeed.h — the node's feed thread: delivers the broker's feed, filtered by `subscribe`, as JSON lines.
 *
 * A thread of its own with its own subscriber (fb_subscriber_t), so that a
 * slow output never holds up the node loop. The loop reads only the
 * last global_seq delivered (for its heartbeats). */
#ifndef FB_NODEFEED_H
#define FB_NODEFEED_H

#include "fb_node.h"

#include <stdint.h>

typedef struct fb_nodefeed fb_nodefeed_t;

/* Returns a feed for cfg's feed, replay, subscribe, from-seq and output
 * keys, not yet started; NULL when out of memory. */
fb_nodefeed_t *fb_nodefeed_new(const fb_node_config_t *cfg);

/* Starts the thread, which delivers until the feed is destroyed. Returns
 * 0, or -1 after logging that it could not. */
int fb_nodefeed_start(fb_nodefeed_t *self);

/* Asks the thread to stop and returns at once (it stops within half a
 * second); accepts NULL. */
void fb_nodefeed_stop(fb_nodefeed_t *self);

/* The global_seq of the last message delivered (0: none yet, or self is
 * NULL); safe from any thread. */
uint64_t fb_nodefeed_last_seen(const fb_nodefeed_t *self);

/* Stops the thread, waits for it, and frees the feed; accepts NULL, nulls
 * *self_p. */
void fb_nodefeed_destroy(fb_nodefeed_t **self_p);

#endif
