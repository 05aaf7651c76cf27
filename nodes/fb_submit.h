/* fb_submit.h — the node's submit socket: local clients' publishes in, stamped, into the outbox; replies out.
 *
 * A ROUTER bound on the `submit` endpoint and on FB_NODE_INPROC (the HTTP
 * handlers' way in). Every reply to a submitter — a reject written here,
 * an ack the session forwards — leaves through fb_submit_reply(). */
#ifndef FB_SUBMIT_H
#define FB_SUBMIT_H

#include "fb_node.h"
#include "fb_outbox.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fb_submit fb_submit_t;

/* Binds cfg->submit and FB_NODE_INPROC. outbox and stats are borrowed and
 * must outlive the submit socket. Returns NULL after logging the reason. */
fb_submit_t *fb_submit_new(const fb_node_config_t *cfg, fb_outbox_t *outbox, fb_node_stats_t *stats);

/* Stamps every publish with the chain's prev_hash from now on (chain
 * borrowed; NULL: none). */
typedef struct fb_chain fb_chain_t;
void fb_submit_set_chain(fb_submit_t *self, fb_chain_t *chain);

/* Closes the socket; accepts NULL, nulls *self_p. */
void fb_submit_destroy(fb_submit_t **self_p);

/* The ROUTER, to poll (not to read or write). */
void *fb_submit_socket(const fb_submit_t *self);

/* Takes one waiting frame: a publish or a PublishBatch becomes outbox
 * entries with this node's origin and next origin_seqs (frames of at most
 * max_frame bytes, the broker's limit); anything else is answered with a
 * reject. Returns 0, or -1 when no frame was waiting. */
int fb_submit_take(fb_submit_t *self, long long max_frame);

/* Takes up to max waiting frames, one after the other, as
 * fb_submit_take() each; reads each one ahead of taking the one before.
 * Returns how many were taken (0: none was waiting). */
int fb_submit_take_many(fb_submit_t *self, long long max_frame, int max);

/* Sends [who][data] to a submitter without blocking. Returns 0, or -1 when
 * the submitter is gone or not reading (the reply is dropped; a client asks
 * again). */
int fb_submit_reply(fb_submit_t *self, const uint8_t *who, size_t who_len, const void *data, size_t len);

#endif
