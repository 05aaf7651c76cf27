/* fb_node.h — a regional hub's node: the single sequencer of its origin.
 *
 * Takes publishes from the agency (the submit socket, which the `fedbus` CLI
 * and the HTTP endpoint both use), stamps them with the origin and the next
 * origin_seq, forwards them to the broker in order, and resends whatever the
 * broker has not confirmed. Delivers the feeds it subscribes to as JSON
 * lines. Sends heartbeats.
 *
 * Its parts: fb_submit (the submit socket), fb_outbox (publishes until
 * answered; on disk through fb_journal, whose fb_syncer thread writes and
 * syncs each group while the loop goes on), fb_session (the broker: sends,
 * acks, heartbeats), fb_nodefeed (the feed thread), fb_http (the HTTP
 * front); fb_node.c puts them together and runs the loop. */
#ifndef FB_NODE_H
#define FB_NODE_H

#include "fb_config.h"
#include "fb_curve.h"

#include <signal.h>
#include <stdint.h>

typedef struct {
    char member[64];
    char broker[256];
    char feed[256];
    char replay[256];
    char submit[256];
    char http_bind[64];
    long long http_port;
    char subscribe[1024];
    char output[512];
    long long from_seq;
    long long resend_ms;
    long long heartbeat_ms;
    long long outbox_max;
    long long outbox_max_bytes;
    char outbox[16];     /* "disk" or "memory" */
    char state_dir[512]; /* "": FB_NODE_STATE_DIR/<member> */
    long long inflight_frames;
    long long max_frame;
    char keys[512];            /* this member's secret key file: CURVE to the broker, and the Ed25519 key the node signs with */
    char broker_key[512];      /* the broker's public key: a .pub file or Z85 */
    char http_token_file[512]; /* the bearer token POST /v1/publish asks for; "": none */
    char log_level[16];
    /* Not keys: worked out by fb_node_new() for the parts it makes. */
    fb_curve_t curve; /* from keys and broker-key; curve.on 0: plaintext */
} fb_node_config_t;

extern const fb_cfg_key_t fb_node_keys[];

/* Where a node keeps its journal when state-dir is not set: this
 * directory, relative to the working directory, then the member id. */
#define FB_NODE_STATE_DIR "fedbus-state"

/* The beginning of the detail of the reject a full outbox answers with
 * (REJECT_OUTBOX_FULL); then the name of the key whose bound was reached.
 * fb_http answers it 503 OUTBOX_FULL with Retry-After and that key as
 * "limit". */
#define FB_NODE_FULL_DETAIL "node outbox is full: "

/* The most inflight-frames may be. */
#define FB_NODE_FRAMES_MAX 64

/* Endpoint inside the process that the HTTP handlers publish through. */
#define FB_NODE_INPROC "inproc://fedbus-node-submit"

/* Counters the node logs when it stops; the loop's thread alone writes them. */
typedef struct {
    uint64_t submitted, confirmed, rejected, client_acks_dropped;
} fb_node_stats_t;

/* What other threads (HTTP) may know of the node's state. */
typedef struct {
    int connected;                   /* the broker welcomed this node */
    long long outbox_depth;          /* publishes not yet let go of */
    long long outbox_bytes;          /* their frames' bytes */
    long long oldest_unconfirmed_us; /* created_at_us of the oldest unconfirmed; 0: none */
    int on_disk;                     /* outbox = disk */
    int sync_errno;                  /* the journal's last write failed, and why; 0: it did not */
    long long replayed;              /* unconfirmed publishes read back from the journal at start */
    long long corrupt_tails;         /* damaged journal tails cut at start */
    long long dropped_bytes;         /* bytes cut with them */
    long long outbox_max, outbox_max_bytes;
} fb_node_snapshot_t;

typedef struct fb_node fb_node_t;

/* Validates cfg, binds the submit socket and HTTP, connects to the broker.
 * Returns NULL after logging the reason. */
fb_node_t *fb_node_new(const fb_node_config_t *cfg);
void fb_node_destroy(fb_node_t **self_p);

/* Serves until *stop becomes non-zero. Returns 0. */
int fb_node_run(fb_node_t *self, volatile sig_atomic_t *stop);

/* Fills *snap with the node's state as its loop last published it; safe
 * from any thread while the node exists. */
void fb_node_snapshot(const fb_node_t *self, fb_node_snapshot_t *snap);

#endif
