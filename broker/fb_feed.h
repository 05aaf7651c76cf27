/* fb_feed.h — the feed: who subscribes to what, and every stored message sent out to them.
 *
 * Owns the XPUB socket. Its subscriptions are kept as a set of byte prefixes
 * per kind of frame (plain, batched), each with the number of subscriptions
 * to it, as XPUB reports them, so that a kind is built for a topic only
 * while someone may take it (docs/protocol.md, "Feed"). With read
 * permissions each subscriber gets only what its member may read
 * (docs/protocol.md, "Read permissions"). Main thread only. */
#ifndef FB_FEED_H
#define FB_FEED_H

#include "fb_batch.h"
#include "fb_broker_stats.h"
#include "fb_identity.h"
#include "fb_zmq.h"
#include "fedbus/fb_topic.h"

#include <stdint.h>

typedef struct fb_feed fb_feed_t;

/* The longest subscription prefix kept: a topic (FB_TOPIC_MAX) and the NUL
 * that ends it in a frame. A longer one cannot select more than that does. */
#define FB_FEED_PREFIX_MAX (FB_TOPIC_MAX + 1)
/* The largest subscription message the feed's socket takes (the (un)subscribe
 * byte, FB_FEED_MARK, a prefix; room too for the ZMTP 3.1 form, a command
 * named SUBSCRIBE): ZeroMQ keeps every subscription in its own trie, a node
 * per byte, so a longer message drops the connection before it is stored
 * (the socket's ZMQ_MAXMSGSIZE). */
#define FB_FEED_SUB_MAX (FB_FEED_PREFIX_MAX + 16)
/* The same for a CURVE feed: the limit applies to what crosses the wire,
 * so it must let the handshake's largest command through (INITIATE: about
 * 300 bytes with the client's properties) and each subscription with its
 * encryption around it. */
#define FB_FEED_SUB_MAX_CURVE (FB_FEED_SUB_MAX + 1024)
/* Distinct prefixes kept per kind of frame; past it, that kind of frame is
 * built for every topic (ZeroMQ still filters each subscriber's own). */
#define FB_FEED_PREFIXES_MAX 4096

/* Makes the feed's XPUB as *o says (type ZMQ_XPUB, bound; o and its strings
 * are copied, to make it again with fb_feed_reopen()) and returns the feed
 * serving it, counting frames sent into stats (borrowed: the broker's,
 * alive as long as the feed). With identity (borrowed; NULL: nobody is
 * checked and clients subscribe to what they ask) the socket runs in
 * manual mode, and each subscriber is subscribed to what its member may
 * read of what it asks (fb_readperm_narrow(); docs/protocol.md, "Read
 * permissions"). NULL with errno set when the socket cannot be made, or
 * when out of memory. */
fb_feed_t *fb_feed_new(const fb_zmq_opts_t *o, fb_broker_stats_t *stats, fb_identity_t *identity);

/* Frees *self_p and closes its socket (accepts NULL; sets *self_p to NULL). */
void fb_feed_destroy(fb_feed_t **self_p);

/* Closes the XPUB, with every subscriber's connection, and binds a new one
 * in its place: the way to cut off a subscriber, since XPUB cannot drop
 * one connection. Every client reconnects by itself (through ZAP again,
 * which lets in only who may still come) and subscribes again; what the
 * feed carried meanwhile, a subscriber with replay repairs (docs/protocol.md,
 * "Feed"). Returns 0, or -1 with errno when the new socket could not be
 * bound yet (the port not free again): the feed then has no socket, sends
 * nothing, and the caller tries again later. */
int fb_feed_reopen(fb_feed_t *self);

/* The XPUB socket, to poll; NULL while fb_feed_reopen() could not bind. */
void *fb_feed_socket(fb_feed_t *self);

/* Reads every (un)subscription XPUB has queued into the prefix sets (and,
 * with read permissions, subscribes each connection to what it may read of
 * what it asked). A prefix longer than FB_FEED_PREFIX_MAX is ignored, and
 * counted. */
void fb_feed_drain(fb_feed_t *self);

/* Subscriptions ignored so far: too long, or past FB_FEED_PREFIXES_MAX. */
uint64_t fb_feed_ignored(const fb_feed_t *self);

/* Sends the stored message it: to plain subscribers at once, as one frame
 * (topic, NUL, stored envelope); to batched ones in the run being gathered,
 * sent when the topic changes, the run is full, or fb_feed_flush(). it is
 * borrowed and must live until fb_feed_flush(). */
void fb_feed_send(fb_feed_t *self, const fb_batch_item_t *it);

/* Sends the batched frame being gathered, if any. */
void fb_feed_flush(fb_feed_t *self);

struct fb_verify_proof;

/* Sends the seal frame of each of the n proofs (docs/protocol.md, "Feed",
 * seal frames; borrowed) while someone subscribes to seal frames, else
 * nothing. Called before the batch's messages go out (fb_feed_send()), so
 * that a subscriber has a message's seal before the message. */
void fb_feed_seals(fb_feed_t *self, const struct fb_verify_proof *const *proofs, size_t n);

/* Most time between two head frames, microseconds. */
#define FB_FEED_HEAD_US 200000

/* Sends the head frame (docs/protocol.md, "Feed"): every stored message up
 * to head has been sent before it. Called after each fanned-out batch
 * (after fb_feed_flush()), so that a subscriber learns at once of a loss at
 * the end of a burst. */
void fb_feed_head(fb_feed_t *self, uint64_t head);

/* Sends the head frame when none went out for FB_FEED_HEAD_US; called every
 * turn of the loop. */
void fb_feed_head_tick(fb_feed_t *self, uint64_t head);

#endif
