/* fb_syncer.h — a thread that writes a buffer to a file and syncs it, while its caller goes on.
 *
 * The node loop must not wait for the disk: a group sync takes from a
 * fraction of a millisecond to several, during which the loop could have
 * forwarded acks and sent what is already durable. The journal hands one
 * job at a time to the syncer (fb_syncer_start()) and learns that it is
 * done from fb_syncer_poll(); fb_syncer_fd() becomes readable then, for the
 * loop's poll. One job at a time: what is put meanwhile waits for the next.
 *
 * fb_syncer_start(), fb_syncer_poll() and fb_syncer_wait() are called from
 * one thread (the loop's); the syncer's own thread touches only the job.
 *
 * A test hook, compiled in only with FEDBUS_TEST_HOOKS (the tests' own
 * node, fedbus-node-hooks; never the installed fedbus-node): with
 * FEDBUS_TEST_SYNC_DELAY_MS=N in the environment (1 to 60000), every job
 * waits N ms before it writes anything, as a slow disk would, so that tests
 * can see what the node does while a sync runs. It is logged as a warning;
 * nothing else reads it. */
#ifndef FB_SYNCER_H
#define FB_SYNCER_H

#include <stddef.h>
#include <stdint.h>

typedef struct fb_syncer fb_syncer_t;

/* Starts the thread. Returns the syncer, or NULL with errno set. */
fb_syncer_t *fb_syncer_new(void);

/* Waits for a job in flight, stops the thread; accepts NULL, nulls *self_p. */
void fb_syncer_destroy(fb_syncer_t **self_p);

/* A descriptor that is readable once a job is done, until fb_syncer_poll()
 * or fb_syncer_wait() collects it. */
int fb_syncer_fd(const fb_syncer_t *self);

/* Returns 1 while a job is handed off and not yet collected, else 0. */
int fb_syncer_busy(const fb_syncer_t *self);

/* Hands off a job: write len bytes of buf at offset off of fd, then
 * fdatasync(fd) when sync. buf (borrowed) and fd must stay as they are
 * until the job is collected. Only when not busy. */
void fb_syncer_start(fb_syncer_t *self, int fd, const uint8_t *buf, size_t len, uint64_t off, int sync);

/* Collects the job when it is done: returns 1, with *err 0 or the errno of
 * the write or sync that failed (the file may then hold part of it), and
 * *us the time it took; returns 0 while it runs or when none was handed off. */
int fb_syncer_poll(fb_syncer_t *self, int *err, int64_t *us);

/* fb_syncer_poll(), waiting until the job is done; returns 0 when none was handed off. */
int fb_syncer_wait(fb_syncer_t *self, int *err, int64_t *us);

#endif
