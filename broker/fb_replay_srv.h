/* fb_replay_srv.h — the broker's replay service: requests taken, history served page by page.
 *
 * Owns the replay ROUTER socket and the reader connection to the store (the
 * client library's fb_replay() is the other end). Each active replay gets one
 * page per turn of the broker's loop, so that replays and ingest take turns.
 * Main thread only. */
#ifndef FB_REPLAY_SRV_H
#define FB_REPLAY_SRV_H

#include "fb_broker_stats.h"
#include "fb_retention.h"
#include "fb_identity.h"
#include "fb_store.h"

#include <stdint.h>

typedef struct fb_replay_srv fb_replay_srv_t;

/* What one service lets its clients take (docs/operations.md, "Limits"). */
typedef struct {
    int max_active;   /* replays in progress on the broker (replay-max) */
    int max_per_peer; /* ... for one client connection (replay-per-peer) */
    int stall_ms;     /* a replay whose client takes no chunk this long is dropped (replay-stall) */
    int timeout_ms;   /* the reader's statement timeout, 0 = none (replay-timeout) */
} fb_replay_limits_t;

/* Returns the service answering on router with the history of reader (both
 * taken over: fb_replay_srv_destroy() closes them), counting requests into
 * stats (borrowed: the broker's), within *limits (copied; max_active >= 1),
 * to the peers identity (borrowed) lets go on: a request of a member that
 * may not is answered NOT_AUTHORIZED. NULL when out of memory (both are
 * then closed too). */
fb_replay_srv_t *fb_replay_srv_new(void *router, fb_store_t *reader, fb_broker_stats_t *stats,
                                   const fb_replay_limits_t *limits, fb_identity_t *identity);

/* Looks again at the member of every replay in progress (after someone was
 * cut off, fb_identity_refresh()): the replays of a member that may no
 * longer go on end with a NOT_AUTHORIZED chunk. Returns how many ended. */
int fb_replay_srv_recheck(fb_replay_srv_t *self);

/* Frees *self_p, its replays, socket and connection (accepts NULL; sets
 * *self_p to NULL). */
void fb_replay_srv_destroy(fb_replay_srv_t **self_p);

/* Refuses replays of history retention dropped (BEYOND_RETENTION), and
 * starts from_seq 0 at the oldest message kept, by the horizon of retention
 * (borrowed; it outlives the service) from now on. */
void fb_replay_srv_set_retention(fb_replay_srv_t *self, const fb_retention_t *retention);

/* The ROUTER socket, to poll. */
void *fb_replay_srv_socket(fb_replay_srv_t *self);

/* Reads one request; starts its replay, or answers it with an error chunk
 * (MALFORMED, BAD_TOPIC, INVALID_FIELD, BEYOND_RETENTION, STORE_UNAVAILABLE). head is the highest global_seq
 * committed, which every chunk reports. */
void fb_replay_srv_read(fb_replay_srv_t *self, uint64_t head);

/* Whether a replay can take a step now (the loop then does not sleep). */
int fb_replay_srv_active(const fb_replay_srv_t *self);

/* How long the loop may sleep for the replays' sake: 0 when one can take a
 * step now, the milliseconds until a chunk a client's queue refused is
 * offered again, or idle_ms when neither (or when that is sooner). */
int fb_replay_srv_wait_ms(const fb_replay_srv_t *self, int idle_ms);

/* Replays dropped so far because their client took no chunk for stall_ms. */
uint64_t fb_replay_srv_dropped(const fb_replay_srv_t *self);

/* Serves a step (one page, or a held chunk offered again) of the replays in
 * progress, round robin, for at most a few milliseconds; finished ones end. */
void fb_replay_srv_serve(fb_replay_srv_t *self, uint64_t head);

#endif
