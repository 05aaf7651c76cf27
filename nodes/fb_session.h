/* fb_session.h — the node's session with the broker: Hello/Welcome, sending the outbox in order, acks, heartbeats.
 *
 * Owns the broker DEALER and the monitor of its connection. Sends the
 * outbox strictly in origin_seq order through its send cursor, as single
 * publishes or PublishBatch frames — as soon as the outbox offers them,
 * while their journal sync may still run —, keeps at most inflight-frames
 * frames unanswered, resends what waits too long, settles outbox entries
 * from the broker's Ack and AckBatch frames and hands each ack on to its
 * submitter (through the submit socket) once the publish is durable: an
 * ack that came before the sync is held in the outbox and handed on by
 * fb_session_release() after it. After any reconnection nothing is sent
 * before the broker's Welcome, which restarts the cursor at the oldest
 * entry. Runs on the node loop's thread only. */
#ifndef FB_SESSION_H
#define FB_SESSION_H

#include "fb_node.h"
#include "fb_nodefeed.h"
#include "fb_outbox.h"
#include "fb_submit.h"

typedef struct fb_session fb_session_t;

/* Creates the broker socket and its monitor and connects to cfg->broker.
 * outbox, submit, feed (may be NULL: no feed) and stats are borrowed and
 * must outlive the session. Returns NULL after logging the reason. */
fb_session_t *fb_session_new(const fb_node_config_t *cfg, fb_outbox_t *outbox, fb_submit_t *submit,
                             const fb_nodefeed_t *feed, fb_node_stats_t *stats);

/* Closes the sockets; accepts NULL, nulls *self_p. */
void fb_session_destroy(fb_session_t **self_p);

/* The broker socket and its monitor's socket, to poll (not to read or write). */
void *fb_session_broker_socket(const fb_session_t *self);
void *fb_session_monitor_socket(const fb_session_t *self);

/* Makes the session seal every frame it sends and re-link at each Welcome
 * (chain borrowed; NULL: it does not sign). Call before fb_session_start(). */
typedef struct fb_chain fb_chain_t;
void fb_session_set_chain(fb_session_t *self, fb_chain_t *chain);

/* Says Hello: the session starts waiting for its Welcome. */
void fb_session_start(fb_session_t *self);

/* Handles one frame from the broker; returns 0, or -1 when none was waiting. */
int fb_session_on_broker(fb_session_t *self);

/* Handles one event of the broker socket's monitor (connected, disconnected). */
void fb_session_on_monitor(fb_session_t *self);

/* Hands on the acks held for a sync that is now done (fb_outbox_durable()),
 * in origin_seq order, and lets go of what is settled. Called after every
 * journal write collected. */
void fb_session_release(fb_session_t *self);

/* Does what is due: Hello again, sending what waits in the outbox, resends,
 * heartbeats. Called once every turn of the loop. */
void fb_session_on_timer(fb_session_t *self);

/* Returns 1 while the broker's Welcome holds (since the last disconnection). */
int fb_session_welcomed(const fb_session_t *self);

/* Returns 1 when the loop is to take new publishes: when welcomed, while a
 * frame slot is free (see inflight-frames); before the Welcome, when the
 * outbox is on disk (they are journaled, and sent after it). Otherwise the
 * loop leaves submits queued. */
int fb_session_can_take(fb_session_t *self);

/* Returns 1 when a Hello could not be queued yet and is to be tried soon. */
int fb_session_hello_due(const fb_session_t *self);

/* The largest frame the broker takes: the smaller of max-frame and its Welcome's. */
long long fb_session_max_frame(const fb_session_t *self);

#endif
