/* fb_feedsub.h — the feed's subscriptions per connection: what each client asked, and what the broker subscribed it to in its place.
 *
 * With read permissions the feed's XPUB runs in manual mode: a client's
 * (un)subscription reaches the broker, which subscribes that connection to
 * the prefixes its member may read (fb_readperm_narrow()) instead. This
 * table remembers, per connection (the ZAP handler names each one,
 * FB_ZAP_CONN_PROPERTY), which prefixes the client asked for and what each
 * became, with a count per prefix subscribed: two requests narrowed to one
 * prefix keep it until both are withdrawn. It also tells a repeated
 * subscription and an unsubscription of something never asked (which a
 * raw client may send) from real ones, so that neither moves the feed's
 * counts. Pure bookkeeping; main thread only. */
#ifndef FB_FEEDSUB_H
#define FB_FEEDSUB_H

#include "fb_readperm.h"

#include <stddef.h>
#include <stdint.h>

/* Connections remembered; past it the one idle longest is forgotten (its
 * later unsubscriptions are then ignored: it keeps what it had, which it
 * was permitted, until it disconnects). */
#define FB_FEEDSUB_CONNS_MAX 4096
/* Subscriptions remembered per connection; more are not subscribed. */
#define FB_FEEDSUB_PER_CONN_MAX 1024

typedef struct fb_feedsub fb_feedsub_t;

/* Called for each prefix a connection's subscription count takes from 0
 * to 1 (add) or from 1 to 0 (!add): the feed (un)subscribes the connection. */
typedef void (fb_feedsub_fn)(void *arg, int add, const uint8_t *prefix, size_t len);

/* Returns an empty table, or NULL when out of memory. */
fb_feedsub_t *fb_feedsub_new(void);

/* Frees *self_p (accepts NULL; sets *self_p to NULL). */
void fb_feedsub_destroy(fb_feedsub_t **self_p);

/* Forgets every connection (the feed's socket was made anew). */
void fb_feedsub_clear(fb_feedsub_t *self);

/* Connection conn (its ZAP name) subscribes to sub (len bytes) in place of
 * which the broker subscribes it to the n prefixes narrowed (copied).
 * Returns 1 when taken (fn was called for the prefixes new to conn), 0 when
 * conn asked for sub already (nothing done), -1 when out of memory or past
 * FB_FEEDSUB_PER_CONN_MAX (nothing done). */
int fb_feedsub_add(fb_feedsub_t *self, const char *conn, const uint8_t *sub, size_t len,
                   const fb_readperm_prefix_t *narrowed, int n, fb_feedsub_fn *fn, void *arg);

/* Connection conn withdraws sub: fn is called for the prefixes it no
 * longer needs. Returns 1, or 0 when conn had not asked for sub (nothing
 * done). */
int fb_feedsub_remove(fb_feedsub_t *self, const char *conn, const uint8_t *sub, size_t len, fb_feedsub_fn *fn,
                      void *arg);

/* Connections remembered (for tests). */
size_t fb_feedsub_conns(const fb_feedsub_t *self);

#endif
