/* fb_nodefeed.c — the node's feed thread: subscribes to the broker's feed and writes each message as a JSON line. */
#include "fb_nodefeed.h"

#include "fb_log.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fb_nodefeed {
    char feed[sizeof(((fb_node_config_t *)0)->feed)];
    char replay[sizeof(((fb_node_config_t *)0)->replay)];
    char subscribe[sizeof(((fb_node_config_t *)0)->subscribe)];
    char output[sizeof(((fb_node_config_t *)0)->output)];
    long long from_seq;
    int quit; /* atomic: set by fb_nodefeed_stop() */
    uint64_t last_seen; /* atomic: written by the thread, read by the loop */
    pthread_t thread;
    int running;
};

static void *s_main(void *arg)
{
    fb_nodefeed_t *self = arg;
    FILE *out = stdout;
    fb_subscriber_t *sub = fb_subscriber_new(self->feed, self->replay);
    if (!sub) {
        fb_err("feed: cannot connect to %s", self->feed);
        return NULL;
    }
    if (strcmp(self->output, "-") != 0 && !(out = fopen(self->output, "a"))) {
        fb_err("feed: cannot open %s: %s", self->output, strerror(errno));
        fb_subscriber_destroy(&sub);
        return NULL;
    }
    char buf[sizeof(self->subscribe)];
    snprintf(buf, sizeof(buf), "%s", self->subscribe);
    char *save = NULL;
    for (char *p = strtok_r(buf, ", ", &save); p; p = strtok_r(NULL, ", ", &save)) fb_subscriber_add(sub, p);
    if (self->from_seq > 0) fb_subscriber_from(sub, (uint64_t)self->from_seq);
    fb_info("feed: delivering '%s' to %s", self->subscribe, self->output);
    while (!__atomic_load_n(&self->quit, __ATOMIC_RELAXED)) {
        fb_message_t msg;
        int rc = fb_subscriber_recv(sub, &msg, 500);
        if (rc == FB_ETIMEOUT || rc == FB_EINTR) continue;
        if (rc != FB_OK) {
            fb_warn("feed: %s", fb_strerror(rc));
            continue;
        }
        char *line = fb_message_json(&msg);
        if (line) {
            fprintf(out, "%s\n", line);
            fflush(out);
            free(line);
        }
        __atomic_store_n(&self->last_seen, msg.global_seq, __ATOMIC_RELAXED);
    }
    if (out != stdout) fclose(out);
    fb_subscriber_destroy(&sub);
    return NULL;
}

fb_nodefeed_t *fb_nodefeed_new(const fb_node_config_t *cfg)
{
    fb_nodefeed_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    snprintf(self->feed, sizeof(self->feed), "%s", cfg->feed);
    snprintf(self->replay, sizeof(self->replay), "%s", cfg->replay);
    snprintf(self->subscribe, sizeof(self->subscribe), "%s", cfg->subscribe);
    snprintf(self->output, sizeof(self->output), "%s", cfg->output);
    self->from_seq = cfg->from_seq;
    return self;
}

int fb_nodefeed_start(fb_nodefeed_t *self)
{
    if (pthread_create(&self->thread, NULL, s_main, self) != 0) {
        fb_err("feed: cannot start thread");
        return -1;
    }
    self->running = 1;
    return 0;
}

void fb_nodefeed_stop(fb_nodefeed_t *self)
{
    if (self) __atomic_store_n(&self->quit, 1, __ATOMIC_RELAXED);
}

uint64_t fb_nodefeed_last_seen(const fb_nodefeed_t *self)
{
    return self ? __atomic_load_n(&self->last_seen, __ATOMIC_RELAXED) : 0;
}

void fb_nodefeed_destroy(fb_nodefeed_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_nodefeed_t *self = *self_p;
    if (self->running) {
        fb_nodefeed_stop(self);
        pthread_join(self->thread, NULL);
    }
    free(self);
    *self_p = NULL;
}
