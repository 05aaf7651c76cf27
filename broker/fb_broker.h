/* fb_broker.h — the broker: ingest, group commit, fanout, replay, health. */
#ifndef FB_BROKER_H
#define FB_BROKER_H

#include "fb_broker_stats.h"
#include "fb_config.h"

#include <signal.h>

typedef struct {
    char pg[1024];
    char ingest[256];
    char feed[256];
    char replay[256];
    long long max_frame;
    long long batch_max;
    long long batch_bytes;
    long long heads_interval;
    long long commit_linger;
    long long commit_interval;
    long long commit_min;
    long long stats_interval;
    long long feed_queue;
    long long replay_max, replay_per_peer, replay_queue, replay_stall, replay_timeout;
    long long retention, retention_period, id_max_future; /* milliseconds */
    char keys[512];         /* the broker's secret key file (fb_keys): CURVE on every socket */
    int insecure_plaintext; /* no CURVE, no member check: development only */
    char log_level[16];
    char signatures[16]; /* "optional" or "required" */
    long long http_port;      /* 0: no HTTP endpoint */
    char http_bind[64];
    char http_token_file[512];
    long long stale_after, down_after; /* milliseconds of silence that make a member stale, down */
    int health_topic;                  /* state changes stored and published on _fedbus.health */
} fb_broker_config_t;

/* The broker's keys, for fb_config_load() and --help. */
extern const fb_cfg_key_t fb_broker_keys[];

typedef struct fb_broker fb_broker_t;

/* Opens the store (migrating it), binds the sockets. Returns NULL after
 * logging the reason. */
fb_broker_t *fb_broker_new(const fb_broker_config_t *cfg);
void fb_broker_destroy(fb_broker_t **self_p);

/* Serves until *stop becomes non-zero; commits and acks what it holds before
 * returning. Returns 0, or -1 when the store could not be reached again. */
int fb_broker_run(fb_broker_t *self, volatile sig_atomic_t *stop);

/* Copies into *out the broker's statistics as they stood at the end of the
 * loop's last turn: all of one moment. Safe from any thread while the
 * broker lives. */
void fb_broker_stats(fb_broker_t *self, fb_broker_stats_t *out);

#endif
