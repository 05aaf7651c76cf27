/* fb_ingest.h — the ingest socket: publishes read into batches, Hellos, heartbeats, and every answer.
 *
 * Owns the ingest ROUTER. Reads frames in place into the filling batch:
 * Publish and PublishBatch frames without a copy of their envelopes, each
 * envelope decoded into a scratch arena, checked, and reduced to the few
 * fields the batch needs. What is refused before it reaches a batch is
 * answered at once (REJECTED); Hellos get a Welcome once nothing of their
 * origin is in flight (fb_peers).
 * Once a batch is stored, fb_ingest_answer() acks each publish — alone, or in
 * its frame's AckBatch — and sends the new ones out on the feed. Main thread
 * only. */
#ifndef FB_INGEST_H
#define FB_INGEST_H

#include "fb_batch.h"
#include "fb_broker.h"
#include "fb_broker_stats.h"
#include "fb_feed.h"
#include "fb_identity.h"
#include "fb_map.h"
#include "fb_retention.h"
#include "fb_writer.h"

typedef struct fb_ingest fb_ingest_t;

/* Returns ingest on router (taken over: fb_ingest_destroy() closes it). cfg,
 * heads (origin -> highest origin_seq committed) and stats (counted into;
 * its head is the highest global_seq committed) are borrowed from the
 * broker, which keeps them current and alive; so are writer, asked what its
 * batches hold before a Hello is answered, and identity, which says who
 * sent each frame: a Hello, a publish or a heartbeat of a member that may
 * not go on (suspended, revoked), or naming another member than the
 * connection's, is refused NOT_AUTHORIZED (a heartbeat: ignored and
 * counted), and a topic outside the member's publish patterns NAMESPACE.
 * NULL when out of memory (router is then closed too). */
fb_ingest_t *fb_ingest_new(void *router, const fb_broker_config_t *cfg, const fb_map_t *heads,
                           fb_broker_stats_t *stats, fb_writer_t *writer, fb_identity_t *identity);

/* Frees *self_p and closes its socket (accepts NULL; sets *self_p to NULL). */
void fb_ingest_destroy(fb_ingest_t **self_p);

/* Checks the date of every publish's message_id with retention's rules
 * (borrowed; it outlives the ingest) from now on. */
void fb_ingest_set_retention(fb_ingest_t *self, const fb_retention_t *retention);

/* The ROUTER socket, to poll. */
void *fb_ingest_socket(fb_ingest_t *self);

/* Reads one frame without waiting: its publishes join batch b (a
 * PublishBatch's all at once, up to FB_BATCH_MAX beyond what b held), or it
 * is answered at once. Returns 0, or -1 when nothing was queued. */
int fb_ingest_read(fb_ingest_t *self, fb_batch_t *b);

/* Answers the stored batch b: each publish gets its ack or reject, alone or
 * in its frame's AckBatch, in the order read; each new one is sent on feed
 * as it is acked. b is left as it was (the caller releases it). */
void fb_ingest_answer(fb_ingest_t *self, fb_batch_t *b, fb_feed_t *feed);

/* Answers the Hellos held until their origin's publishes were settled, and
 * logs the count of reject lines left out; every turn of the loop. */
void fb_ingest_tick(fb_ingest_t *self);

/* Checks every publish against verify (borrowed; NULL: nothing is
 * checked), and gives Welcomes their chain heads from it. */
typedef struct fb_verify fb_verify_t;
void fb_ingest_set_verify(fb_ingest_t *self, fb_verify_t *verify);

#endif
