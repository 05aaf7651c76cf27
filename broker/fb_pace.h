/* fb_pace.h — the pace of the log lines peers can cause: token buckets per peer and kind of line, and one for all.
 *
 * Whatever a peer can make the broker log (rejects, Hellos, refused keys)
 * goes through fb_pace_may() first: each (peer, kind) pair has a bucket of
 * its own (a burst, then a rate), all peers together one more, and a line
 * left out is counted, so that fb_pace_tick() can say about once a second
 * how many lines of each pair were not written. A peer is whatever bytes
 * name it (a routing id, a CURVE key). One pace per thread: not
 * thread-safe. */
#ifndef FB_PACE_H
#define FB_PACE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fb_pace fb_pace_t;

/* Returns a pace whose lines from all peers together come at most in a
 * burst of all_burst, then all_rate a second; NULL when out of memory. */
fb_pace_t *fb_pace_new(double all_burst, double all_rate);

/* Frees *self_p (accepts NULL; sets *self_p to NULL). */
void fb_pace_destroy(fb_pace_t **self_p);

/* Returns 1 when a line of kind about peer (len bytes) may be written now:
 * that pair's bucket (burst, then rate a second) and the shared one each
 * had a token. Else counts the line as left out and returns 0. label names
 * the kind in the summary line ("reject BAD_TOPIC", "hello"); it must be
 * static. */
int fb_pace_may(fb_pace_t *self, const void *peer, size_t len, int kind, const char *label, double burst,
                double rate);

/* The peer of the last fb_pace_may() that returned 1, as text for a log
 * line (its first bytes in hex); valid until the next call. */
const char *fb_pace_peer(const fb_pace_t *self);

/* About once a second, logs one line per (peer, kind) with lines left out:
 * "LABEL (peer P): N more lines like it not logged". Cheap when nothing was
 * left out: call it every turn of a loop. */
void fb_pace_tick(fb_pace_t *self);

#endif
