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
#include "fb_chain.h"
#include "fb_outbox.h"
#include "fb_session.h"
#include "fb_submit.h"
#include "fb_time.h"
#include "fb_zmq.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    {"outbox", FB_CFG_STR, S_FIELD(outbox), "disk", 0, 0,
     "disk: unconfirmed publishes are journaled in state-dir (sent meanwhile), synced before they are answered, and "
     "resent after a restart; memory: held in memory only, lost when the node stops"},
    {"state-dir", FB_CFG_STR, S_FIELD(state_dir), "", 0, 0,
     "this member's directory for the outbox journal, one node per directory (empty: ./" FB_NODE_STATE_DIR
     "/MEMBER)"},
    {"outbox-max", FB_CFG_INT, S_INT(outbox_max), "100000", 16, 10000000, "most unconfirmed publishes held"},
    {"outbox-max-bytes", FB_CFG_INT, S_INT(outbox_max_bytes), "1073741824", 1024, 1LL << 40,
     "most bytes of unconfirmed publishes held (at least max-frame)"},
    {"inflight-frames", FB_CFG_INT, S_INT(inflight_frames), "2", 1, FB_NODE_FRAMES_MAX,
     "publish frames sent and not yet answered (up to twice as many while they hold fewer publishes than this many full frames of 1024); what comes meanwhile waits to go as one batch"},
    {"max-frame", FB_CFG_INT, S_INT(max_frame), "1048576", 1024, 64LL << 20, "largest publish, bytes"},
    {"keys", FB_CFG_STR, S_FIELD(keys), "", 0, 0,
     "this member's secret key file (`fedbus keygen`): the broker, feed and replay are reached with CURVE "
     "(with broker-key), and every publish is linked and every frame sealed with its Ed25519 key"},
    {"broker-key", FB_CFG_STR, S_FIELD(broker_key), "", 0, 0,
     "the broker's public key: its .pub file, or its 40 characters of Z85 (with keys)"},
    {"http-token-file", FB_CFG_STR, S_FIELD(http_token_file), "", 0, 0,
     "a file (mode 0600) holding the token POST /v1/publish asks for as 'Authorization: Bearer TOKEN' (empty: none)"},
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
    fb_chain_t *chain;   /* NULL: the node does not sign */
    int sync_failing;      /* the journal could not be written: logged once */
    int64_t sync_retry_at; /* then, when to try again */
    /* The state fb_node_snapshot() reads: written by the loop, read by any
     * thread (atomics); what the journal found at start is fixed. */
    int snap_connected, snap_sync_errno;
    long long snap_depth, snap_bytes, snap_oldest;
    fb_outbox_journal_t journal_at_start;
};

/* Publishes the loop's state for fb_node_snapshot(). */
static void s_publish_state(fb_node_t *self)
{
    __atomic_store_n(&self->snap_connected, fb_session_welcomed(self->session), __ATOMIC_RELAXED);
    __atomic_store_n(&self->snap_depth, (long long)fb_outbox_depth(self->outbox), __ATOMIC_RELAXED);
    __atomic_store_n(&self->snap_bytes, (long long)fb_outbox_bytes(self->outbox), __ATOMIC_RELAXED);
    __atomic_store_n(&self->snap_oldest, (long long)fb_outbox_oldest_created_us(self->outbox), __ATOMIC_RELAXED);
}

void fb_node_snapshot(const fb_node_t *self, fb_node_snapshot_t *snap)
{
    const fb_outbox_journal_t *j = &self->journal_at_start;
    snap->connected = __atomic_load_n(&self->snap_connected, __ATOMIC_RELAXED);
    snap->outbox_depth = __atomic_load_n(&self->snap_depth, __ATOMIC_RELAXED);
    snap->outbox_bytes = __atomic_load_n(&self->snap_bytes, __ATOMIC_RELAXED);
    snap->oldest_unconfirmed_us = __atomic_load_n(&self->snap_oldest, __ATOMIC_RELAXED);
    snap->sync_errno = __atomic_load_n(&self->snap_sync_errno, __ATOMIC_RELAXED);
    snap->on_disk = j->on_disk;
    snap->replayed = (long long)j->replayed;
    snap->corrupt_tails = (long long)j->corrupt_tails;
    snap->dropped_bytes = (long long)j->dropped_bytes;
    snap->outbox_max = self->cfg.outbox_max;
    snap->outbox_max_bytes = self->cfg.outbox_max_bytes;
}

/* What became of the journal's last step (rc of fb_outbox_sync_*()):
 * logged when writing starts to fail and when it works again. Returns 0,
 * or -1 when the node must stop (a sequence change could not be
 * journaled: it restarts from its journal). */
static int s_sync_rc(fb_node_t *self, int rc)
{
    int e = rc == FB_OK ? 0 : errno;
    if (rc == FB_ENOMEM) {
        fb_err("outbox: out of memory recording the broker's sequence in the journal: stopping");
        return -1;
    }
    if (rc == FB_OK) return 0;
    __atomic_store_n(&self->snap_sync_errno, e, __ATOMIC_RELAXED);
    self->sync_retry_at = fb_time_mono_us() + 100000; /* not in a tight loop */
    if (!self->sync_failing++)
        fb_err("journal %s: cannot write: %s; nothing new is taken, nor answered, until it can be",
               self->cfg.state_dir, strerror(e));
    return 0;
}

/* The group sync, around a turn: collects the journal's write when it is
 * done (the answers held for it go to their submitters), and hands it what
 * this turn took, unless a write is in flight. Publishes are sent while
 * their write runs (within the journal's bound); no submitter is answered
 * before it is done. Returns 0, or -1 when the node must stop. */
static int s_sync(fb_node_t *self, int start)
{
    fb_outbox_journal_t j;
    if (s_sync_rc(self, fb_outbox_sync_collect(self->outbox)) != 0) return -1;
    fb_session_release(self->session); /* the acks that came before their sync */
    if (self->sync_failing) {
        fb_outbox_journal(self->outbox, &j);
        if (!j.sync_errno) {
            fb_info("journal %s: written again after %d failed attempts", self->cfg.state_dir, self->sync_failing);
            self->sync_failing = 0;
            __atomic_store_n(&self->snap_sync_errno, 0, __ATOMIC_RELAXED);
        }
    }
    if (!start || (self->sync_failing && fb_time_mono_us() < self->sync_retry_at)) return 0;
    return s_sync_rc(self, fb_outbox_sync_start(self->outbox));
}

/* One turn of the loop: waits for the sockets and the journal's writer (at
 * most 200 ms, 10 ms while a Hello is due), handles what came, then what is
 * due. Returns 0, or -1 when polling failed or the node must stop. */
static int s_turn(fb_node_t *self)
{
    fb_session_t *s = self->session;
    zmq_pollitem_t items[4] = {
        {fb_session_broker_socket(s), 0, ZMQ_POLLIN, 0},
        {fb_session_monitor_socket(s), 0, ZMQ_POLLIN, 0},
    };
    int nitems = 2, sync_fd = fb_outbox_sync_fd(self->outbox);
    if (sync_fd >= 0) items[nitems++] = (zmq_pollitem_t){NULL, sync_fd, ZMQ_POLLIN, 0};
    /* With the outbox in memory, the submit socket is not read until the
     * broker says where this origin's sequence stands: publishes wait in its
     * queue. On disk they are taken and journaled meanwhile (see
     * fb_outbox_raise_seq()). Nor is it read while every frame slot is
     * taken: what is submitted meanwhile could not leave before an answer
     * anyway, and read in one go after it, it costs one wake-up and leaves
     * as one batch (its journal sync then runs beside its round trip). */
    int take = fb_session_can_take(s), submit = nitems;
    if (take) items[nitems++] = (zmq_pollitem_t){fb_submit_socket(self->submit), 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(items, nitems, fb_session_hello_due(s) ? 10 : 200);
    if (n < 0 && errno != EINTR) {
        fb_err("poll: %s", zmq_strerror(errno));
        return -1;
    }
    if (s_sync(self, 0) != 0) return -1;
/* Drain without a poll per message: receive until none is waiting. */
    if (n > 0 && (items[0].revents & ZMQ_POLLIN))
        for (int k = 0; k < 10000 && fb_session_on_broker(s) == 0; k++)
            ;
    if (n > 0 && (items[1].revents & ZMQ_POLLIN)) fb_session_on_monitor(s);
    s_publish_state(self);
    /* Neither the Welcome nor the broker's max-frame changes while the
     * submit socket is drained. */
    if (n > 0 && take && (items[submit].revents & ZMQ_POLLIN)) {
        long long max_frame = fb_session_max_frame(s);
        fb_submit_take_many(self->submit, max_frame, FB_BATCH_MAX);
    }
    if (s_sync(self, 1) != 0) return -1;
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
    /* Acks held for a sync in flight still reach their submitters. */
    if (fb_outbox_sync(self->outbox) == FB_OK) fb_session_release(self->session);
    size_t depth = fb_outbox_depth(self->outbox);
    if (depth && self->journal_at_start.on_disk)
        fb_info("stopping with %llu publishes unconfirmed, kept in journal %s: sent at the next start",
                (unsigned long long)depth, self->cfg.state_dir);
    else if (depth)
        fb_warn("stopping with %llu publishes unconfirmed: lost (outbox = memory)", (unsigned long long)depth);
    fb_outbox_journal_t j;
    fb_outbox_journal(self->outbox, &j);
    if (j.syncs)
        fb_info("journal: %llu publishes made durable in %llu syncs, %.1f ms each on average; %llu acks came "
                "before their sync and waited for it",
                (unsigned long long)j.synced, (unsigned long long)j.syncs, (double)j.sync_us / 1000.0 / (double)j.syncs,
                (unsigned long long)j.held);
    fb_info("stopped: submitted=%llu confirmed=%llu rejected=%llu client_acks_dropped=%llu",
            (unsigned long long)self->stats.submitted, (unsigned long long)self->stats.confirmed,
            (unsigned long long)self->stats.rejected, (unsigned long long)self->stats.client_acks_dropped);
    return 0;
}

/* Opens the outbox as cfg says (filling in the default state-dir) and
 * says what it holds. Returns NULL after logging the reason. */
static fb_outbox_t *s_open_outbox(fb_node_config_t *cfg)
{
    int disk = strcmp(cfg->outbox, "memory") != 0;
    if (disk && !cfg->state_dir[0])
        snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s/%s", FB_NODE_STATE_DIR, cfg->member);
    char err[512];
    fb_outbox_t *ob = fb_outbox_open(&(fb_outbox_opts_t){.max_entries = (size_t)cfg->outbox_max,
                                                         .max_bytes = (size_t)cfg->outbox_max_bytes,
                                                         .dir = disk ? cfg->state_dir : NULL},
                                     err, sizeof(err));
    if (!ob) {
        fb_err("outbox: %s", err);
        return NULL;
    }
    if (!disk) {
        fb_info("outbox in memory: publishes not yet confirmed are lost if the node stops");
        return ob;
    }
    fb_outbox_journal_t j;
    fb_outbox_journal(ob, &j);
    if (j.replayed)
        fb_info("outbox: journal %s holds %llu unconfirmed publishes (origin_seq %llu to %llu): resent once "
                "the broker welcomes this node; next origin_seq %llu", cfg->state_dir,
                (unsigned long long)j.replayed, (unsigned long long)fb_outbox_first_seq(ob),
                (unsigned long long)fb_outbox_next_seq(ob) - 1, (unsigned long long)fb_outbox_next_seq(ob));
    else
        fb_info("outbox: journal %s, nothing unconfirmed; next origin_seq %llu", cfg->state_dir,
                (unsigned long long)fb_outbox_next_seq(ob));
    if (j.corrupt_tails)
        fb_warn("outbox: journal %s had %llu damaged tails (%llu bytes dropped): the publishes in them are lost",
                cfg->state_dir, (unsigned long long)j.corrupt_tails, (unsigned long long)j.dropped_bytes);
    return ob;
}

/* Reads the member's key file and makes the chain that links and seals
 * its publishes. Returns 0, or -1 after logging why. */
static int s_open_chain(fb_node_t *self)
{
    fb_keys_t keys;
    char err[512];
    if (fb_keys_read(self->cfg.keys, &keys, err, sizeof(err)) != 0) {
        fb_err("keys: %s", err);
        return -1;
    }
    if (!keys.has_secret || strcmp(keys.member, self->cfg.member) != 0) {
        fb_err("keys: %s: %s", self->cfg.keys,
               keys.has_secret ? "the key file is another member's" : "a public key file: the node signs with the secret one");
        explicit_bzero(&keys, sizeof(keys));
        return -1;
    }
    self->chain = fb_chain_new(&keys, self->outbox);
    char id[FB_KEY_ID_HEX_LEN + 1];
    fb_keys_id_hex(keys.sign_key_id, id);
    explicit_bzero(&keys, sizeof(keys));
    if (!self->chain) {
        fb_err("out of memory");
        return -1;
    }
    fb_submit_set_chain(self->submit, self->chain);
    fb_session_set_chain(self->session, self->chain);
    fb_info("signing as %s with Ed25519 key %s", self->cfg.member, id);
    return 0;
}

/* Reads the keys into cfg->curve (the key file must be this member's).
 * Returns 0, or -1 after logging why. */
static int s_keys(fb_node_config_t *cfg)
{
    char err[600];
    if (fb_curve_client(&cfg->curve, cfg->keys, cfg->broker_key, err, sizeof(err)) != 0) {
        fb_err("keys: %s", err);
        return -1;
    }
    if (!cfg->curve.on) {
        fb_warn("no keys set: the broker is reached in plaintext (only a broker run with insecure-plaintext "
                "takes it)");
        return 0;
    }
    if (strcmp(cfg->curve.member, cfg->member) != 0) {
        fb_err("keys: %s holds the keys of member %s, and this node is %s", cfg->keys, cfg->curve.member,
               cfg->member);
        return -1;
    }
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
    if (s_keys(&self->cfg) != 0) goto error;
    cfg = &self->cfg;
    if (!(self->outbox = s_open_outbox(&self->cfg))) goto error;
    fb_outbox_journal(self->outbox, &self->journal_at_start);
    if (cfg->subscribe[0] && !(self->feed = fb_nodefeed_new(cfg))) {
        fb_err("out of memory");
        goto error;
    }
    if (!(self->submit = fb_submit_new(cfg, self->outbox, &self->stats))) goto error;
    self->session = fb_session_new(cfg, self->outbox, self->submit, self->feed, &self->stats);
    if (!self->session) goto error;
    if (cfg->keys[0] && s_open_chain(self) != 0) goto error;
    if (cfg->http_port > 0) {
        self->http = fb_http_start(&(fb_http_opts_t){.bind_addr = cfg->http_bind, .port = (int)cfg->http_port,
                                                     .member = cfg->member, .max_body = cfg->max_frame,
                                                     .submit = FB_NODE_INPROC, .node = self,
                                                     .token_file = cfg->http_token_file,
                                                     .replay = cfg->replay, .curve = &cfg->curve});
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
    fb_chain_destroy(&self->chain);
    fb_outbox_destroy(&self->outbox);
    fb_curve_clear(&self->cfg.curve);
    free(self);
    *self_p = NULL;
}
