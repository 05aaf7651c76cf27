/* fb_node.c — the node: its configuration keys, its parts put together, and the loop that drives them.
 *
 * submit (fb_submit) -> stamp -> outbox (fb_outbox) -> broker (fb_session),
 * acks back to submitters, resends and heartbeats (fb_session); the feed
 * thread (fb_nodefeed) and HTTP (fb_http) run beside the loop. The loop's
 * thread alone touches the sockets and the outbox; other threads learn the
 * node's state from fb_node_snapshot(). */
#include "fb_node.h"

#include "fb_envelope.h"
#include "fb_http.h"
#include "fb_log.h"
#include "fb_nodefeed.h"
#include "fb_outbox.h"
#include "fb_session.h"
#include "fb_submit.h"
#include "fb_zmq.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#define S_FIELD(f) offsetof(fb_node_config_t, f), sizeof(((fb_node_config_t *)0)->f)
#define S_INT(f) offsetof(fb_node_config_t, f), 0

const fb_cfg_key_t fb_node_keys[] = {
    {"member", FB_CFG_STR, S_FIELD(member), "", 0, 0, "this hub's member id, e.g. kr-incheon (required)"},
    {"broker", FB_CFG_STR, S_FIELD(broker), FB_DEFAULT_INGEST, 0, 0, "broker ingest endpoint"},
    {"feed", FB_CFG_STR, S_FIELD(feed), FB_DEFAULT_FEED, 0, 0, "broker feed endpoint"},
    {"replay", FB_CFG_STR, S_FIELD(replay), FB_DEFAULT_REPLAY, 0, 0, "broker replay endpoint"},
    {"submit", FB_CFG_STR, S_FIELD(submit), "tcp://127.0.0.1:7711", 0, 0,
     "local endpoint where `fedbus publish` submits"},
    {"http-bind", FB_CFG_STR, S_FIELD(http_bind), "127.0.0.1", 0, 0, "address of the HTTP endpoint"},
    {"http-port", FB_CFG_INT, S_INT(http_port), "0", 0, 65535, "HTTP port for POST /v1/publish (0 = off)"},
    {"subscribe", FB_CFG_STR, S_FIELD(subscribe), "", 0, 0,
     "comma-separated patterns to deliver, e.g. \"cfp,*.kr-busan\""},
    {"output", FB_CFG_STR, S_FIELD(output), "-", 0, 0, "file that receives delivered JSON lines (- = stdout)"},
    {"from-seq", FB_CFG_INT, S_INT(from_seq), "0", 0, INT64_MAX,
     "deliver stored history from this global_seq first (0 = live only)"},
    {"resend-ms", FB_CFG_INT, S_INT(resend_ms), "3000", 50, 3600000, "resend unconfirmed publishes after"},
    {"heartbeat-ms", FB_CFG_INT, S_INT(heartbeat_ms), "5000", 100, 3600000, "heartbeat period"},
    {"outbox-max", FB_CFG_INT, S_INT(outbox_max), "100000", 16, 10000000, "most unconfirmed publishes held"},
    {"inflight-frames", FB_CFG_INT, S_INT(inflight_frames), "2", 1, FB_NODE_FRAMES_MAX,
     "publish frames sent and not yet answered (up to twice as many while they hold fewer publishes than this many full frames of 1024); what comes meanwhile waits to go as one batch"},
    {"max-frame", FB_CFG_INT, S_INT(max_frame), "1048576", 1024, 64LL << 20, "largest publish, bytes"},
    {"log-level", FB_CFG_STR, S_FIELD(log_level), "info", 0, 0, "err, warn, info or debug"},
    FB_CFG_END,
};

struct fb_node {
    fb_node_config_t cfg;
    fb_node_stats_t stats;
    fb_outbox_t *outbox;
    fb_submit_t *submit;
    fb_session_t *session;
    fb_nodefeed_t *feed; /* NULL: nothing subscribed */
    fb_http_t *http;     /* NULL: HTTP off */
    /* The state fb_node_snapshot() reads: written by the loop, read by any
     * thread (atomics). */
    int snap_connected;
    long long snap_depth;
};

/* Publishes the loop's state for fb_node_snapshot(). */
static void s_publish_state(fb_node_t *self)
{
    __atomic_store_n(&self->snap_connected, fb_session_welcomed(self->session), __ATOMIC_RELAXED);
    __atomic_store_n(&self->snap_depth, (long long)fb_outbox_depth(self->outbox), __ATOMIC_RELAXED);
}

void fb_node_snapshot(const fb_node_t *self, fb_node_snapshot_t *snap)
{
    snap->connected = __atomic_load_n(&self->snap_connected, __ATOMIC_RELAXED);
    snap->outbox_depth = __atomic_load_n(&self->snap_depth, __ATOMIC_RELAXED);
}

/* One turn of the loop: waits for the sockets (at most 200 ms, 10 ms while
 * a Hello is due), handles what came, then what is due. Returns 0, or -1
 * when polling failed. */
static int s_turn(fb_node_t *self)
{
    fb_session_t *s = self->session;
    zmq_pollitem_t items[] = {
        {fb_session_broker_socket(s), 0, ZMQ_POLLIN, 0},
        {fb_session_monitor_socket(s), 0, ZMQ_POLLIN, 0},
        {fb_submit_socket(self->submit), 0, ZMQ_POLLIN, 0},
    };
    /* Until the broker says where this origin's sequence stands, the submit
     * socket is not read: publishes wait in its queue. Nor while every frame
     * slot is taken: what is submitted meanwhile could not leave before an
     * answer anyway, and read in one go after it, it costs one wake-up and
     * leaves as one batch. */
    int take = fb_session_can_take(s);
    int n = zmq_poll(items, take ? 3 : 2, fb_session_hello_due(s) ? 10 : 200);
    if (n < 0 && errno != EINTR) {
        fb_err("poll: %s", zmq_strerror(errno));
        return -1;
    }
    /* Drain without a poll per message: receive until none is waiting. */
    if (n > 0 && (items[0].revents & ZMQ_POLLIN))
        for (int k = 0; k < 10000 && fb_session_on_broker(s) == 0; k++)
            ;
    if (n > 0 && (items[1].revents & ZMQ_POLLIN)) fb_session_on_monitor(s);
    s_publish_state(self);
    /* Neither the Welcome nor the broker's max-frame changes while the
     * submit socket is drained. */
    if (n > 0 && take && fb_session_welcomed(s) && (items[2].revents & ZMQ_POLLIN)) {
        long long max_frame = fb_session_max_frame(s);
        for (int k = 0; k < FB_BATCH_MAX && fb_submit_take(self->submit, max_frame) == 0; k++)
            ;
    }
    fb_session_on_timer(s);
    s_publish_state(self);
    return 0;
}

int fb_node_run(fb_node_t *self, volatile sig_atomic_t *stop)
{
    if (self->feed) fb_nodefeed_start(self->feed);
    fb_session_start(self->session);
    fb_info("publishing as %s to %s; submit at %s", self->cfg.member, self->cfg.broker, self->cfg.submit);
    while (!*stop && s_turn(self) == 0)
        ;
    fb_nodefeed_stop(self->feed);
    size_t depth = fb_outbox_depth(self->outbox);
    if (depth) fb_warn("stopping with %llu publishes unconfirmed", (unsigned long long)depth);
    fb_info("stopped: submitted=%llu confirmed=%llu rejected=%llu client_acks_dropped=%llu",
            (unsigned long long)self->stats.submitted, (unsigned long long)self->stats.confirmed,
            (unsigned long long)self->stats.rejected, (unsigned long long)self->stats.client_acks_dropped);
    return 0;
}

fb_node_t *fb_node_new(const fb_node_config_t *cfg)
{
    fb_node_t *self = calloc(1, sizeof(*self));
    if (!self) {
        fb_err("out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->outbox = fb_outbox_new((size_t)cfg->outbox_max);
    if (!self->outbox || (cfg->subscribe[0] && !(self->feed = fb_nodefeed_new(cfg)))) {
        fb_err("out of memory");
        goto error;
    }
    if (!(self->submit = fb_submit_new(cfg, self->outbox, &self->stats))) goto error;
    self->session = fb_session_new(cfg, self->outbox, self->submit, self->feed, &self->stats);
    if (!self->session) goto error;
    if (cfg->http_port > 0) {
        self->http = fb_http_start(&(fb_http_opts_t){.bind_addr = cfg->http_bind, .port = (int)cfg->http_port,
                                                     .member = cfg->member, .max_body = cfg->max_frame,
                                                     .submit = FB_NODE_INPROC, .node = self});
        if (!self->http) goto error;
    }
    return self;
error:
    fb_node_destroy(&self);
    return NULL;
}

void fb_node_destroy(fb_node_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_node_t *self = *self_p;
    fb_http_stop(&self->http);
    fb_nodefeed_destroy(&self->feed);
    fb_session_destroy(&self->session);
    fb_submit_destroy(&self->submit);
    fb_outbox_destroy(&self->outbox);
    free(self);
    *self_p = NULL;
}
