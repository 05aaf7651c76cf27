/* fb_node.h — a regional hub's node: the single sequencer of its origin.
 *
 * Takes publishes from the agency (the submit socket, which the `fedbus` CLI
 * and the HTTP endpoint both use), stamps them with the origin and the next
 * origin_seq, forwards them to the broker in order, and resends whatever the
 * broker has not confirmed. Delivers the feeds it subscribes to as JSON
 * lines. Sends heartbeats. */
#ifndef FB_NODE_H
#define FB_NODE_H

#include "fb_config.h"

#include <signal.h>

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
    long long inflight_frames;
    long long max_frame;
    char log_level[16];
} fb_node_config_t;

extern const fb_cfg_key_t fb_node_keys[];

typedef struct fb_node fb_node_t;

/* Validates cfg, binds the submit socket and HTTP, connects to the broker.
 * Returns NULL after logging the reason. */
fb_node_t *fb_node_new(const fb_node_config_t *cfg);
void fb_node_destroy(fb_node_t **self_p);

/* Serves until *stop becomes non-zero. Returns 0. */
int fb_node_run(fb_node_t *self, volatile sig_atomic_t *stop);

/* Endpoint inside the process that the HTTP handlers publish through. */
#define FB_NODE_INPROC "inproc://fedbus-node-submit"

/* HTTP front: POST /v1/publish and GET /v1/health (fb_http.c). */
typedef struct fb_http fb_http_t;
fb_http_t *fb_http_start(const char *bind_addr, int port, const char *member, long long max_body,
                         const volatile int *welcomed, const volatile long long *outbox_depth);
void fb_http_stop(fb_http_t **self_p);

#endif
