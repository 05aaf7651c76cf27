/* fb_peers.h — what ingest keeps about its peers outside the batches: Welcomes held back, heartbeats, the pace of its log.
 *
 * A Hello is answered only once every publish of its origin that the broker
 * read before it has been stored or refused: until then the origin's head is
 * not what it will be, and a restarted node welcomed with it would number
 * its next publishes into the range its predecessor's frames are about to
 * take (docs/protocol.md, "Hello and Welcome"). Such a Hello is held (a few
 * hundred at most) and answered from fb_peers_tick() once the batches that
 * were filling or with the writer when it came are answered, or hold nothing
 * of its origin any more; its Welcome's last_origin_seq is then the higher of
 * the committed head and every origin_seq of that origin still in a batch.
 *
 * The last heartbeat of each origin is kept for at most FB_PEERS_SEEN_MAX
 * origins that never published (the oldest are forgotten first), and the
 * lines peers can cause — rejects, Hellos — are paced per peer and kind,
 * with a line that counts what was left out. Everything a peer wrote is
 * escaped before it is logged. Main thread only. */
#ifndef FB_PEERS_H
#define FB_PEERS_H

#include "fb_broker.h"
#include "fb_broker_stats.h"
#include "fb_map.h"
#include "fb_writer.h"
#include "fedbus.pb-c.h"

#include <stddef.h>
#include <zmq.h>

/* Origins remembered from their heartbeats alone (beyond those with a head). */
#define FB_PEERS_SEEN_MAX 4096
/* Hellos held back at once; more are left unanswered (nodes say Hello again). */
#define FB_PEERS_HELD_MAX 256
/* Log lines of one kind (a reject reason, Hellos) from one peer: a burst of
 * FB_PEERS_LOG_BURST, then FB_PEERS_LOG_RATE a second; all peers together at
 * most FB_PEERS_LOG_ALL_BURST, then FB_PEERS_LOG_ALL_RATE a second. */
#define FB_PEERS_LOG_BURST 10
#define FB_PEERS_LOG_RATE 1
#define FB_PEERS_LOG_ALL_BURST 50
#define FB_PEERS_LOG_ALL_RATE 20

typedef struct fb_peers fb_peers_t;

/* Returns the peers' state of ingest. router (ingest's socket, answered on),
 * cfg, heads (origin -> highest origin_seq committed and answered), stats
 * and writer (asked what its batches hold) are borrowed from the broker and
 * outlive it. NULL when out of memory. */
fb_peers_t *fb_peers_new(void *router, const fb_broker_config_t *cfg, const fb_map_t *heads,
                         fb_broker_stats_t *stats, fb_writer_t *writer);

/* Frees *self_p and the Hellos it holds, unanswered (accepts NULL; sets
 * *self_p to NULL). */
void fb_peers_destroy(fb_peers_t **self_p);

/* Answers Hello h of peer ident with a Welcome, or holds it until the
 * publishes of its origin in flight are settled. */
void fb_peers_hello(fb_peers_t *self, const zmq_msg_t *ident, const Fedbus__Hello *h);

/* Notes heartbeat hb (its origin's last-seen time). */
void fb_peers_heartbeat(fb_peers_t *self, const Fedbus__Heartbeat *hb);

/* Logs "reject REASON: detail (peer P)" for a reject sent to ident, unless
 * this peer's or all peers' pace is exceeded (then it is counted, and
 * fb_peers_tick() logs how many were left out). Counting the reject in the
 * statistics is the caller's. */
void fb_peers_log_reject(fb_peers_t *self, const zmq_msg_t *ident, int reason, const char *detail);

/* The same, naming the sender and the message: "reject REASON: detail
 * (member M, peer P, message_id ID)"; member NULL or "" (plaintext) and id
 * NULL are left out. */
void fb_peers_log_reject_of(fb_peers_t *self, const zmq_msg_t *ident, const char *member, const uint8_t *id,
                            int reason, const char *detail);

/* Answers the held Hellos that are due and, about once a second, logs how
 * many lines were left out. Cheap when there is nothing to do: call it every
 * turn of the loop. */
void fb_peers_tick(fb_peers_t *self);

/* How many Hellos are held. */
size_t fb_peers_held(const fb_peers_t *self);

/* Writes s[0..len) into dst (cap bytes, NUL-terminated) fit to log: well-formed
 * UTF-8 as it is, but for control characters, DEL, backslash and bytes that
 * are not UTF-8, written \xHH (backslash: \\); cut with "..." when it does not
 * fit. Returns dst. */
char *fb_peers_escape(char *dst, size_t cap, const char *s, size_t len);

/* Welcomes name the origin's chain head as verify holds it (borrowed). */
typedef struct fb_verify fb_verify_t;
void fb_peers_set_verify(fb_peers_t *self, const fb_verify_t *verify);

#endif
