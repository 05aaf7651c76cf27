/* fb_broker.c — the broker: its modules made and wired together, the poll loop, the statistics.
 *
 * Two threads, two batches (see fb_writer.h). The main thread owns every
 * socket and the replay connection: it reads and decodes publishes into the
 * filling batch (fb_ingest), and answers — acks, fanout (fb_feed) — each
 * batch the writer hands back. The writer thread owns the writing PostgreSQL
 * connection: it classifies a batch against the stored heads (fb_batch),
 * COPYs it and COMMITs (fb_store). While one batch commits, the next one is
 * read and decoded, so neither PostgreSQL nor the decoding waits for the
 * other. Batches form by themselves: whatever arrived while the previous
 * COMMIT ran is the next batch (up to batch-max), so batches are small when
 * the load is light (low latency) and large under load (high throughput).
 * Replay requests are served a page per turn of the loop (fb_replay_srv). */
#include "fb_broker.h"

#include "fb_verify.h"

#include "fb_batch.h"
#include "fb_bhttp.h"
#include "fb_envelope.h"
#include "fb_health.h"
#include "fb_migrate.h"
#include "fb_pgwatch.h"
#include "fb_feed.h"
#include "fb_identity.h"
#include "fb_ingest.h"
#include "fb_curve.h"
#include "fb_log.h"
#include "fb_members.h"
#include "fb_map.h"
#include "fb_replay_srv.h"
#include "fb_retention.h"
#include "fb_store.h"
#include "fb_time.h"
#include "fb_writer.h"
#include "fb_zap.h"
#include "fb_zmq.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_HWM 100000 /* frames queued per peer on ingest */
#define S_TRIM_US (10 * 1000000) /* how often freed memory goes back to the system */

const fb_cfg_key_t fb_broker_keys[] = {
    {"pg", FB_CFG_STR, offsetof(fb_broker_config_t, pg), sizeof(((fb_broker_config_t *)0)->pg), "",
     0, 0, "PostgreSQL connection string (libpq conninfo or URI)"},
    {"ingest", FB_CFG_STR, offsetof(fb_broker_config_t, ingest),
     sizeof(((fb_broker_config_t *)0)->ingest), FB_DEFAULT_INGEST, 0, 0,
     "ROUTER endpoint nodes publish to"},
    {"feed", FB_CFG_STR, offsetof(fb_broker_config_t, feed), sizeof(((fb_broker_config_t *)0)->feed),
     FB_DEFAULT_FEED, 0, 0, "XPUB endpoint subscribers read from"},
    {"replay", FB_CFG_STR, offsetof(fb_broker_config_t, replay),
     sizeof(((fb_broker_config_t *)0)->replay), FB_DEFAULT_REPLAY, 0, 0,
     "ROUTER endpoint serving history"},
    {"max-frame", FB_CFG_INT, offsetof(fb_broker_config_t, max_frame), 0, "1048576", 1024,
     64LL << 20, "largest publish frame accepted, bytes"},
    {"batch-max", FB_CFG_INT, offsetof(fb_broker_config_t, batch_max), 0, "4096", 1, 65536,
     "most publishes committed in one transaction"},
    {"batch-bytes", FB_CFG_INT, offsetof(fb_broker_config_t, batch_bytes), 0, "16777216", 65536,
     1LL << 31, "most publish bytes committed in one transaction"},
    {"heads-interval", FB_CFG_INT, offsetof(fb_broker_config_t, heads_interval), 0, "1000", 0, 3600000,
     "milliseconds between writes of the origin heads table (0 = with every batch); at start the broker reads what came after from the messages"},
    {"commit-linger", FB_CFG_INT, offsetof(fb_broker_config_t, commit_linger), 0, "0", 0, 10000,
     "milliseconds a small batch (below commit-min publishes and a quarter of batch-bytes) may wait for more before it is committed (0 = never waits)"},
    {"commit-interval", FB_CFG_INT, offsetof(fb_broker_config_t, commit_interval), 0, "0", 0, 1000000,
     "microseconds from one batch's hand-off to the writer before the next may follow, while it holds fewer than commit-min publishes and a quarter of batch-bytes (0 = at once)"},
    {"commit-min", FB_CFG_INT, offsetof(fb_broker_config_t, commit_min), 0, "256", 1, 65536,
     "publishes that make a batch worth committing at once, without commit-linger"},
    {"feed-queue", FB_CFG_INT, offsetof(fb_broker_config_t, feed_queue), 0, "10000", 100, 10000000,
     "feed frames queued for a subscriber before the feed drops frames for it (a batched frame holds up to 32 messages and 8 KiB)"},
    {"signatures", FB_CFG_STR, offsetof(fb_broker_config_t, signatures),
     sizeof(((fb_broker_config_t *)0)->signatures), "optional", 0, 0,
     "optional: sealed frames are verified (a bad seal or link is refused), unsealed ones taken as before; "
     "required: every publish must come in a sealed PublishBatch from a member with a registered signing key"},
    {"replay-max", FB_CFG_INT, offsetof(fb_broker_config_t, replay_max), 0, "64", 1, 4096,
     "replays in progress on the broker; one more is answered STORE_UNAVAILABLE (retry)"},
    {"replay-per-peer", FB_CFG_INT, offsetof(fb_broker_config_t, replay_per_peer), 0, "8", 1, 4096,
     "replays in progress for one client connection; one more is answered STORE_UNAVAILABLE (retry)"},
    {"replay-queue", FB_CFG_INT, offsetof(fb_broker_config_t, replay_queue), 0, "4", 1, 10000,
     "replay chunks (of up to 256 messages) queued for one client; the next waits in the broker until the client reads"},
    {"replay-stall", FB_CFG_INT, offsetof(fb_broker_config_t, replay_stall), 0, "10000", 100, 3600000,
     "milliseconds a replay waits for its client to take a chunk before it is dropped (and counted)"},
    {"replay-timeout", FB_CFG_INT, offsetof(fb_broker_config_t, replay_timeout), 0, "1000", 0, 600000,
     "milliseconds one replay page's query may run (statement_timeout; 0 = none); a page cut short answers STORE_UNAVAILABLE"},
    {"keys", FB_CFG_STR, offsetof(fb_broker_config_t, keys), sizeof(((fb_broker_config_t *)0)->keys), "", 0, 0,
     "the broker's secret key file (made by `fedbus keygen`): ingest, feed and replay take CURVE clients only, "
     "each admitted by the member registry"},
    {"insecure-plaintext", FB_CFG_BOOL, offsetof(fb_broker_config_t, insecure_plaintext), 0, "false", 0, 0,
     "development only: no encryption and no member check; anyone who reaches the sockets publishes as any "
     "member and reads everything (without it, keys is required)"},
    {"retention", FB_CFG_DURATION, offsetof(fb_broker_config_t, retention), 0, "0", 0, 36600LL * 86400000,
     "keep messages this long (e.g. 30d, 12h, 90m, 45s; 0 = forever): older partitions are dropped"},
    {"retention-period", FB_CFG_DURATION, offsetof(fb_broker_config_t, retention_period), 0, "0", 0,
     366LL * 86400000,
     "the time range of ids one partition of the messages table holds, 1s to 366d (0 = auto: about a sixteenth of retention, 30d without)"},
    {"id-max-future", FB_CFG_DURATION, offsetof(fb_broker_config_t, id_max_future), 0, "1h", 1000,
     7LL * 86400000, "how far after the broker's clock a message_id (UUIDv7) may be dated (1s to 7d)"},
    {"http-port", FB_CFG_INT, offsetof(fb_broker_config_t, http_port), 0, "0", 0, 65535,
     "port of the HTTP endpoint: /metrics, /healthz, /readyz, /api/status and the dashboard (0 = none)"},
    {"http-bind", FB_CFG_STR, offsetof(fb_broker_config_t, http_bind), sizeof(((fb_broker_config_t *)0)->http_bind),
     "127.0.0.1", 0, 0, "IPv4 address the HTTP endpoint listens on"},
    {"http-token-file", FB_CFG_STR, offsetof(fb_broker_config_t, http_token_file),
     sizeof(((fb_broker_config_t *)0)->http_token_file), "", 0, 0,
     "file holding the bearer token /api/* and the dashboard ask for (mode 600; unset = none)"},
    {"health-topic", FB_CFG_BOOL, offsetof(fb_broker_config_t, health_topic), 0, "true", 0, 0,
     "store each member state change in fedbus_member_states and publish it on _fedbus.health (stored, so it "
     "takes a global_seq); false: states are still judged and served over HTTP, but not recorded"},
    {"stale-after", FB_CFG_INT, offsetof(fb_broker_config_t, stale_after), 0, "15000", 100, 86400000,
     "milliseconds without a heartbeat or message after which a member is stale (3 node heartbeats)"},
    {"down-after", FB_CFG_INT, offsetof(fb_broker_config_t, down_after), 0, "60000", 100, 604800000,
     "milliseconds without a heartbeat or message after which a member is down (12 node heartbeats)"},
    {"stats-interval", FB_CFG_INT, offsetof(fb_broker_config_t, stats_interval), 0, "30", 0, 86400,
     "seconds between statistics log lines (0 = never)"},
    {"log-level", FB_CFG_STR, offsetof(fb_broker_config_t, log_level),
     sizeof(((fb_broker_config_t *)0)->log_level), "info", 0, 0, "err, warn, info or debug"},
    FB_CFG_END,
};

/* How far ahead of the broker's clock a seal may be signed. */
#define S_SEAL_AHEAD_US (300 * 1000000LL)

struct fb_broker {
    fb_broker_config_t cfg;
    /* Trust (all NULL with insecure-plaintext): the registry, the ZAP
     * handler, who each peer is; the secret key, Z85. */
    fb_members_t *members;
    fb_zap_t *zap;
    fb_identity_t *identity;
    char curve_secret[FB_CURVE_TEXT];
    int64_t feed_retry_us; /* the feed could not be bound again: when to try next */
    fb_writer_t *writer;
    fb_ingest_t *ingest;
    fb_feed_t *feed;
    fb_replay_srv_t *replay;
    fb_retention_t *retention; /* the partition manager */
    fb_map_t *heads;   /* origin -> highest origin_seq committed and answered (Welcomes) */
    fb_verify_t *verify; /* seals and links of what is read */
    /* Health: members' states (main thread), PostgreSQL's (its thread),
     * the HTTP endpoint (its threads, reading snapshots); the directory
     * version health last took. */
    fb_health_t *health;
    fb_pgwatch_t *pgwatch;
    fb_bhttp_t *http;
    uint64_t health_dir_version;
    /* The counters, the main thread's own; as of the last stats line; and
     * a copy for other threads, renewed every turn of the loop. */
    fb_broker_stats_t stats, last_stats;
    int64_t store_us_max; /* the slowest batch since the last stats line */
    pthread_mutex_t shared_lock;
    fb_broker_stats_t shared;
    int64_t next_stats_us;
    int64_t next_trim_us;
};

/* ------------------------------------------------------------ answers --- */

/* Answers a batch the writer hands back: every publish gets its ack or
 * reject (alone, or in its frame's AckBatch), every new one goes out on the
 * feed, in global_seq order. (fb_writer_answer_fn) */
static void s_answer(void *arg, fb_batch_t *b)
{
    fb_broker_t *self = arg;
    self->stats.store_errors += b->store_errors;
    self->stats.store_conflicts += b->store_conflicts;
    if (b->dropped) {
        fb_warn("stopping with %zu publishes unacknowledged; publishers will resend", b->nitems);
        fb_batch_release(b);
        return;
    }
    self->stats.head = b->head;
    fb_batch_merge_heads(b->heads, self->heads);
    self->stats.origins = fb_map_size(self->heads);
    self->stats.batches++;
    self->stats.store_us_sum += (uint64_t)b->store_us;
    if (b->store_us > self->store_us_max) self->store_us_max = b->store_us;
    /* The frames' seals first: a subscriber has each message's seal before it. */
    fb_feed_seals(self->feed, b->proofs, b->nproofs);
    fb_ingest_answer(self->ingest, b, self->feed);
    if (self->health) fb_health_answered(self->health, b);
    fb_feed_flush(self->feed);
    fb_feed_head(self->feed, self->stats.head);
    fb_batch_release(b);
}

/* ---------------------------------------------------------- statistics --- */

/* Takes into the counters those the feed and replay modules keep. */
static void s_gather(fb_broker_t *self)
{
    self->stats.feed_ignored = fb_feed_ignored(self->feed);
    self->stats.replays_dropped = fb_replay_srv_dropped(self->replay);
}

static void s_log_stats(fb_broker_t *self)
{
    s_gather(self);
    const fb_broker_stats_t *s = &self->stats, *l = &self->last_stats;
    if (memcmp(s, l, sizeof(*s)) == 0) return;
    char reasons[512] = "";
    size_t o = 0;
    for (int r = 1; r < FB_BROKER_NREASONS; r++)
        if (s->by_reason[r] && o < sizeof(reasons))
            o += (size_t)snprintf(reasons + o, sizeof(reasons) - o, " %s=%llu", fb_reject_name(r),
                                  (unsigned long long)s->by_reason[r]);
    /* store_ms_*: the batches stored since the last line (a PostgreSQL
     * stall shows here before anywhere else). */
    uint64_t stored = s->batches - l->batches;
    fb_info("stats frames=%llu batch_frames=%llu hellos=%llu heartbeats=%llu accepted=%llu "
            "duplicates=%llu resends=%llu rejected=%llu batches=%llu store_errors=%llu "
            "store_conflicts=%llu replays=%llu replays_dropped=%llu feed_frames=%llu feed_batches=%llu "
            "feed_seals=%llu feed_ignored=%llu handed_ahead=%llu head=%llu origins=%zu store_ms_max=%.1f store_ms_avg=%.1f%s%s",
            (unsigned long long)s->frames, (unsigned long long)s->batch_frames,
            (unsigned long long)s->hellos, (unsigned long long)s->heartbeats, (unsigned long long)s->accepted,
            (unsigned long long)s->duplicates, (unsigned long long)s->resends, (unsigned long long)s->rejected,
            (unsigned long long)s->batches, (unsigned long long)s->store_errors,
            (unsigned long long)s->store_conflicts, (unsigned long long)s->replays,
            (unsigned long long)s->replays_dropped, (unsigned long long)s->feed_frames,
            (unsigned long long)s->feed_batches, (unsigned long long)s->feed_seals,
            (unsigned long long)s->feed_ignored,
            (unsigned long long)s->handed_ahead, (unsigned long long)s->head, (size_t)s->origins,
            (double)self->store_us_max / 1000.0,
            stored ? (double)(s->store_us_sum - l->store_us_sum) / 1000.0 / (double)stored : 0.0,
            o ? " rejects:" : "", reasons);
    const fb_retention_counts_t *r = &s->retention;
    if (memcmp(r, &l->retention, sizeof(*r)) != 0)
        fb_info("stats retention: partitions_made=%llu rows_moved=%llu partitions_dropped=%llu rows_dropped=%llu"
                " rows_expired=%llu failures=%llu",
                (unsigned long long)r->created, (unsigned long long)r->moved, (unsigned long long)r->dropped,
                (unsigned long long)r->rows_dropped, (unsigned long long)r->rows_expired,
                (unsigned long long)r->failures);
    self->store_us_max = 0;
    fb_verify_stats_t v = {0};
    if (self->verify) fb_verify_get_stats(self->verify, &v);
    if (v.sealed || v.bad_signature)
        fb_info("signing: sealed=%llu unsealed=%llu bad_signature=%llu key_not_valid=%llu broken_chain=%llu",
                (unsigned long long)v.sealed, (unsigned long long)v.unsealed, (unsigned long long)v.bad_signature,
                (unsigned long long)v.key_not_valid, (unsigned long long)v.broken_chain);
    if (self->zap)
        fb_info("stats trust zap_admitted=%llu zap_unknown=%llu zap_suspended=%llu zap_revoked=%llu zap_other=%llu "
                "members=%llu members_active=%llu members_failures=%llu heartbeats_refused=%llu replays_refused=%llu "
                "replays_stopped=%llu feed_cuts=%llu feed_narrowed=%llu feed_denied=%llu replays_narrowed=%llu "
                "replays_denied=%llu",
                (unsigned long long)s->zap_admitted, (unsigned long long)s->zap_unknown,
                (unsigned long long)s->zap_suspended, (unsigned long long)s->zap_revoked,
                (unsigned long long)s->zap_other, (unsigned long long)s->members,
                (unsigned long long)s->members_active, (unsigned long long)s->members_failures,
                (unsigned long long)s->heartbeats_refused, (unsigned long long)s->replays_refused,
                (unsigned long long)s->replays_stopped, (unsigned long long)s->feed_cuts,
                (unsigned long long)s->feed_narrowed, (unsigned long long)s->feed_denied,
                (unsigned long long)s->replays_narrowed, (unsigned long long)s->replays_denied);
    if (s->replies_dropped != l->replies_dropped)
        fb_warn("acks dropped (peer queue full or peer gone): %llu in all",
                (unsigned long long)s->replies_dropped);
    self->last_stats = *s;
}

/* Renews the copy other threads read. */
static void s_share_stats(fb_broker_t *self)
{
    s_gather(self);
    pthread_mutex_lock(&self->shared_lock);
    self->shared = self->stats;
    pthread_mutex_unlock(&self->shared_lock);
}

void fb_broker_stats(fb_broker_t *self, fb_broker_stats_t *out)
{
    pthread_mutex_lock(&self->shared_lock);
    *out = self->shared;
    pthread_mutex_unlock(&self->shared_lock);
}

/* ---------------------------------------------------------------- loop --- */

/* Takes what is queued on ingest, up to batch-max publishes (and as many
 * frames of any kind) or batch-bytes. */
static void s_read_ingest(fb_broker_t *self)
{
    fb_batch_t *b = fb_writer_filling(self->writer);
    if (b->nitems == 0) b->first_us = fb_time_mono_us();
    for (long long frames = 0; frames < self->cfg.batch_max && (long long)b->nitems < self->cfg.batch_max &&
                               b->bytes < self->cfg.batch_bytes && fb_ingest_read(self->ingest, b) == 0;
         frames++)
        /* A writer that is back gets what has been read so far at once:
         * under load a frame holds up to 1,024 publishes, and reading the
         * batch full would leave PostgreSQL idle. */
        if (fb_writer_busy(self->writer) && fb_writer_back(self->writer)) break;
    if (fb_writer_busy(self->writer) && fb_writer_back(self->writer)) fb_writer_collect(self->writer, 0);
}

/* Copies what the ZAP handler and the directory count into the statistics. */
static void s_trust_stats(fb_broker_t *self)
{
    if (!self->members) return;
    fb_zap_stats_t z = {0};
    fb_members_info_t m;
    if (self->zap) fb_zap_stats(self->zap, &z);
    fb_members_info(self->members, &m);
    fb_broker_stats_t *s = &self->stats;
    s->zap_admitted = z.admitted, s->zap_unknown = z.unknown, s->zap_suspended = z.suspended;
    s->zap_revoked = z.revoked, s->zap_other = z.other;
    s->members = m.members, s->members_active = m.active, s->members_failures = m.failures;
}

/* Hands health what the broker knows of itself, and the directory when it
 * changed; health judges the members and publishes its snapshot. */
static void s_health(fb_broker_t *self)
{
    if (!fb_health_due(self->health)) return;
    uint64_t v = fb_members_version(self->members);
    if (v != self->health_dir_version) {
        fb_memberdir_t *dir = fb_members_get(self->members);
        fb_health_directory(self->health, dir);
        fb_memberdir_release(&dir);
        self->health_dir_version = v;
    }
    fb_pgwatch_info_t pg;
    fb_pgwatch_get(self->pgwatch, &pg);
    fb_health_broker_t b = {.global_seq = self->stats.head, .pg_up = pg.up, .pg_since_us = pg.since_us,
                            .schema_ok = pg.schema < 0 || pg.schema == fb_migrate_latest()};
    b.batches_in_flight = (uint64_t)fb_writer_busy(self->writer) + (fb_writer_filling(self->writer)->nitems > 0);
    if (!pg.up) snprintf(b.pg_reason, sizeof(b.pg_reason), "%s", pg.reason);
    else if (!b.schema_ok)
        snprintf(b.pg_reason, sizeof(b.pg_reason), "database schema version %d, this broker's is %d", pg.schema,
                 fb_migrate_latest());
    fb_health_tick(self->health, fb_writer_filling(self->writer), &b);
}

/* Someone was cut off (suspended, revoked, deleted, a new key) or may read
 * other topics now: their replays in progress end (or, for a change of
 * what they read, are filtered by the new permission from their next
 * page), and the feed is bound again, since XPUB cannot drop one
 * subscriber nor take back what it subscribed a connection to: every
 * subscriber reconnects through ZAP, which lets in only who may still
 * come, and subscribes again, narrowed to what its member may read now.
 * Ingest and replay refuse the rest frame by frame (fb_identity). */
static void s_cut(fb_broker_t *self)
{
    int ended = fb_replay_srv_recheck(self->replay);
    self->stats.feed_cuts++;
    fb_info("members: someone was cut off or may read other topics: %d replays stopped; the feed is bound again "
            "(its subscribers reconnect)",
            ended);
    if (fb_feed_reopen(self->feed) != 0) {
        fb_warn("feed: cannot bind %s again yet (%s): trying again", self->cfg.feed, zmq_strerror(errno));
        self->feed_retry_us = fb_time_mono_us() + 100000;
    }
}

/* What the loop does every turn besides its sockets: who may go on,
 * memory, statistics. */
static void s_housekeeping(fb_broker_t *self)
{
    if (fb_identity_refresh(self->identity)) s_cut(self);
    if (!fb_feed_socket(self->feed) && fb_time_mono_us() >= self->feed_retry_us) {
        if (fb_feed_reopen(self->feed) == 0) fb_info("feed: bound again at %s", self->cfg.feed);
        else self->feed_retry_us = fb_time_mono_us() + 100000;
    }
    s_trust_stats(self);
    s_health(self);
    fb_ingest_tick(self->ingest);
    if (!fb_writer_busy(self->writer) && fb_writer_filling(self->writer)->nitems == 0 &&
        fb_time_mono_us() >= self->next_trim_us) {
        /* A burst leaves the heap large: queued frames, big batches,
         * their COPY data. Hand what is free back to the system, so that
         * the resident size follows the load down again (the allocator
         * keeps it otherwise). Between batches, every few seconds. */
        malloc_trim(0);
        self->next_trim_us = fb_time_mono_us() + S_TRIM_US;
    }
    fb_retention_counts(self->retention, &self->stats.retention);
    if (self->cfg.stats_interval > 0 && fb_time_mono_us() >= self->next_stats_us) {
        s_log_stats(self);
        self->next_stats_us = fb_time_mono_us() + self->cfg.stats_interval * 1000000;
    }
    s_share_stats(self);
}

int fb_broker_run(fb_broker_t *self, volatile sig_atomic_t *stop)
{
    fb_writer_t *w = self->writer;
    if (fb_writer_start(w, stop) != 0 || fb_retention_start(self->retention) != 0) return -1;
    fb_info("serving: ingest %s, feed %s, replay %s, head %llu", self->cfg.ingest, self->cfg.feed,
            self->cfg.replay, (unsigned long long)self->stats.head);
    while (!*stop) {
        /* A full filling batch leaves ingest unread until the writer is
         * back: the publishers wait in ZeroMQ's queues (backpressure). */
        const fb_batch_t *fill = fb_writer_filling(w);
        int room = (long long)fill->nitems < self->cfg.batch_max && fill->bytes < self->cfg.batch_bytes;
        /* The feed has no socket for the moment it is bound again after a cut. */
        void *feed = fb_feed_socket(self->feed);
        zmq_pollitem_t items[] = {
            {fb_writer_socket(w), 0, ZMQ_POLLIN, 0},
            {fb_replay_srv_socket(self->replay), 0, ZMQ_POLLIN, 0},
            {fb_ingest_socket(self->ingest), 0, room ? ZMQ_POLLIN : 0, 0},
            {feed, 0, ZMQ_POLLIN, 0},
        };
        int rc = zmq_poll(items, feed ? 4 : 3,
                          fb_writer_timeout(w, fb_replay_srv_wait_ms(self->replay, FB_FEED_HEAD_US / 1000)));
        if (rc < 0 && errno != EINTR) {
            fb_err("poll: %s", zmq_strerror(errno));
            break;
        }
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) fb_writer_collect(w, 0);
        if (rc > 0 && (items[2].revents & ZMQ_POLLIN)) s_read_ingest(self);
        /* The writer never idles while publishes wait. */
        fb_writer_hand_off(w);
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN)) fb_replay_srv_read(self->replay, self->stats.head);
        if (rc > 0 && feed && (items[3].revents & ZMQ_POLLIN)) fb_feed_drain(self->feed);
        if (fb_replay_srv_active(self->replay)) fb_replay_srv_serve(self->replay, self->stats.head);
        fb_feed_head_tick(self->feed, self->stats.head);
        s_housekeeping(self);
    }
    /* Store and answer what is held: the batches with the writer, then the
     * one being filled. */
    fb_writer_stop(w);
    self->cfg.stats_interval = 1;
    s_log_stats(self);
    s_share_stats(self);
    fb_info("stopped at head %llu", (unsigned long long)self->stats.head);
    return 0;
}

/* ------------------------------------------------------------ lifetime --- */

/* Makes the three sockets and the modules that own them, in the order they
 * always were bound (ingest, feed, replay); reader is taken over. Returns 0,
 * or -1 after logging why. */
static int s_open_sockets(fb_broker_t *self, fb_store_t *reader)
{
    const fb_broker_config_t *cfg = &self->cfg;
    /* With keys every socket is a CURVE server that asks ZAP about each client. */
    int curve = self->members != NULL;
    const char *secret = curve ? self->curve_secret : NULL;
    /* Ingest refuses frames far beyond max-frame at the transport (the
     * peer is dropped); frames just above it get a FRAME_TOO_LARGE reject. */
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_ROUTER, .endpoint = cfg->ingest, .bind = 1,
                                           .max_msg = cfg->max_frame * 4 + 4096, .sndhwm = S_HWM,
                                           .rcvhwm = S_HWM, .curve_server = curve, .curve_secretkey = secret,
                                           .zap_domain = curve ? "fedbus-ingest" : NULL});
    if (!s) {
        fb_err("cannot bind ingest %s: %s", cfg->ingest, zmq_strerror(errno));
        goto error;
    }
    if (!(self->ingest = fb_ingest_new(s, cfg, self->heads, &self->stats, self->writer, self->identity))) goto oom;
    self->feed = fb_feed_new(&(fb_zmq_opts_t){.type = ZMQ_XPUB, .endpoint = cfg->feed, .bind = 1,
                                              .sndhwm = (int)cfg->feed_queue, .rcvhwm = (int)cfg->feed_queue,
                                              .max_msg = curve ? FB_FEED_SUB_MAX_CURVE : FB_FEED_SUB_MAX,
                                              .curve_server = curve,
                                              .curve_secretkey = secret, .zap_domain = curve ? "fedbus-feed" : NULL},
                             &self->stats, curve ? self->identity : NULL);
    if (!self->feed) {
        fb_err("cannot bind feed %s: %s", cfg->feed, zmq_strerror(errno));
        goto error;
    }
    s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_ROUTER, .endpoint = cfg->replay, .bind = 1, .max_msg = 1 << 20,
                                     .sndhwm = (int)cfg->replay_queue, .curve_server = curve,
                                     .curve_secretkey = secret, .zap_domain = curve ? "fedbus-replay" : NULL});
    if (!s) {
        fb_err("cannot bind replay %s: %s", cfg->replay, zmq_strerror(errno));
        goto error;
    }
    fb_replay_limits_t limits = {(int)cfg->replay_max, (int)cfg->replay_per_peer, (int)cfg->replay_stall,
                                 (int)cfg->replay_timeout};
    if (!(self->replay = fb_replay_srv_new(s, reader, &self->stats, &limits, self->identity))) {
        reader = NULL; /* closed with the socket */
        goto oom;
    }
    return 0;
oom:
    fb_err("out of memory");
error:
    fb_store_destroy(&reader);
    return -1;
}

/* fb_verify's key lookup: member's signing key key_id, from the member
 * directory as it stands. */
static int s_signing_key(void *ctx, const char *member, const uint8_t key_id[FB_KEY_ID_LEN], fb_verify_key_t *out)
{
    fb_broker_t *self = ctx;
    fb_memberdir_t *dir = fb_members_get(self->members);
    const fb_member_t *m = fb_memberdir_find(dir, member);
    int found = 0;
    for (size_t i = 0; m && i < m->nkeys && !found; i++)
        if (memcmp(m->keys[i].key_id, key_id, FB_KEY_ID_LEN) == 0) {
            memcpy(out->pub, m->keys[i].public_key, FB_ED25519_KEY_LEN);
            out->valid_from_us = m->keys[i].valid_from_us;
            out->valid_until_us = m->keys[i].valid_until_us;
            found = 1;
        }
    fb_memberdir_release(&dir);
    return found;
}

static int s_chain_head(void *arg, const char *origin, uint64_t seq, const uint8_t *hash)
{
    return fb_verify_set_head(arg, origin, seq, hash);
}

/* Makes the verifier of seals and links, with the chain heads the store
 * holds, and hands it to ingest. Returns 0, or -1 after logging why. */
static int s_open_verify(fb_broker_t *self)
{
    int required = strcmp(self->cfg.signatures, "required") == 0;
    if (!required && strcmp(self->cfg.signatures, "optional") != 0) {
        fb_err("signatures must be optional or required, not '%s'", self->cfg.signatures);
        return -1;
    }
    /* Signing keys come from the member directory; without CURVE there is
     * none yet, and seals still need one. */
    char err[512];
    if (!self->members && !(self->members = fb_members_new(self->cfg.pg, err, sizeof(err)))) {
        fb_err("members: %s", err);
        return -1;
    }
    self->verify = fb_verify_new(&(fb_verify_opts_t){.required = required, .max_ahead_us = S_SEAL_AHEAD_US,
                                                    .key = s_signing_key, .key_ctx = self});
    if (!self->verify) {
        fb_err("out of memory");
        return -1;
    }
    if (fb_writer_chain_heads(self->writer, s_chain_head, self->verify) != 0) return -1;
    fb_ingest_set_verify(self->ingest, self->verify);
    if (!required) fb_info("signatures optional: sealed frames are verified, unsealed ones taken");
    return 0;
}

/* Sets up what the sockets trust: with keys, the broker's CURVE key, the
 * member directory and the ZAP handler (before any socket binds); without,
 * nothing, said with a warning at every start. Returns 0, or -1 after
 * logging why. */
static int s_trust(fb_broker_t *self)
{
    const fb_broker_config_t *cfg = &self->cfg;
    char err[512];
    if (cfg->keys[0] && cfg->insecure_plaintext) {
        fb_err("keys and insecure-plaintext exclude each other: set one of them");
        return -1;
    }
    if (!cfg->keys[0] && !cfg->insecure_plaintext) {
        fb_err("no keys: set keys=FILE, the broker's secret key file (fedbus keygen), so that every socket speaks "
               "CURVE and admits only registered members; or insecure-plaintext=true for a development broker "
               "that encrypts nothing and checks nobody");
        return -1;
    }
    if (!cfg->keys[0]) {
        fb_warn("insecure-plaintext: no encryption and no member check on ingest, feed and replay: anyone who "
                "reaches them can publish as any member and read everything (development only; set keys=FILE)");
        if (!(self->identity = fb_identity_new(NULL))) fb_err("out of memory");
        return self->identity ? 0 : -1;
    }
    fb_curve_t c;
    if (fb_curve_server(&c, cfg->keys, err, sizeof(err)) != 0) {
        fb_err("keys: %s", err);
        return -1;
    }
    snprintf(self->curve_secret, sizeof(self->curve_secret), "%s", c.secret_key);
    fb_curve_clear(&c);
    if (!(self->members = fb_members_new(cfg->pg, err, sizeof(err)))) {
        fb_err("members: %s", err);
        return -1;
    }
    if (!(self->zap = fb_zap_new(self->members))) return -1;
    if (!(self->identity = fb_identity_new(self->members))) {
        fb_err("out of memory");
        return -1;
    }
    fb_info("trust: CURVE on ingest, feed and replay, clients admitted by the member registry; broker key %s", c.public_key);
    return 0;
}

/* Makes the health module, the PostgreSQL watch and, with http-port, the
 * HTTP endpoint. Returns 0, or -1 after logging why. */
static int s_open_health(fb_broker_t *self)
{
    const fb_broker_config_t *cfg = &self->cfg;
    if (cfg->down_after <= cfg->stale_after) {
        fb_err("down-after (%lld ms) must be longer than stale-after (%lld ms)", cfg->down_after, cfg->stale_after);
        return -1;
    }
    self->health = fb_health_new(cfg->stale_after, cfg->down_after, self->heads,
                                 (size_t)cfg->batch_max + FB_BATCH_MAX);
    self->pgwatch = fb_pgwatch_new(cfg->pg);
    if (self->health) fb_health_set_quiet(self->health, !cfg->health_topic);
    if (!self->health || !self->pgwatch) {
        fb_err("out of memory");
        return -1;
    }
    fb_ingest_set_health(self->ingest, self->health);
    self->health_dir_version = (uint64_t)-1;
    s_health(self);
    if (cfg->http_port > 0 &&
        !(self->http = fb_bhttp_start(&(fb_bhttp_opts_t){.bind_addr = cfg->http_bind, .port = (int)cfg->http_port,
                                                          .token_file = cfg->http_token_file,
                                                          .health = self->health})))
        return -1;
    return 0;
}

fb_broker_t *fb_broker_new(const fb_broker_config_t *cfg)
{
    char err[512];
    fb_broker_t *self = calloc(1, sizeof(*self));
    if (!self) {
        fb_err("out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    pthread_mutex_init(&self->shared_lock, NULL);
    if (cfg->retention_period && cfg->retention_period < 1000) {
        fb_err("retention-period: at least 1s (or 0: chosen from retention)");
        goto error;
    }
    if (!(self->heads = fb_map_new(64))) {
        fb_err("out of memory");
        goto error;
    }
    self->writer = fb_writer_new(&self->cfg, s_answer, self, &self->stats);
    if (!self->writer) goto error;
    fb_retention_opts_t ropts = {cfg->retention, cfg->retention_period, cfg->id_max_future};
    if (!(self->retention = fb_retention_new(cfg->pg, &ropts))) goto error;
    fb_store_t *reader = fb_store_open(cfg->pg, FB_STORE_READER, err, sizeof(err));
    if (!reader) {
        fb_err("store (reader): %s", err);
        goto error;
    }
    self->stats.head = fb_writer_head(self->writer);
    fb_batch_merge_heads(fb_writer_heads(self->writer), self->heads);
    self->stats.origins = fb_map_size(self->heads);
    /* After the writer, which migrated the schema the registry lives in. */
    if (s_trust(self) != 0) {
        fb_store_destroy(&reader);
        goto error;
    }
    if (s_open_sockets(self, reader) != 0) goto error;
    s_trust_stats(self);
    if (s_open_verify(self) != 0 || s_open_health(self) != 0) goto error;
    fb_ingest_set_retention(self->ingest, self->retention);
    fb_replay_srv_set_retention(self->replay, self->retention);
    self->last_stats.head = self->stats.head; /* a line is due only once something changed */
    self->last_stats.origins = self->stats.origins;
    s_share_stats(self);
    self->next_stats_us = fb_time_mono_us() + cfg->stats_interval * 1000000;
    return self;
error:
    fb_broker_destroy(&self);
    return NULL;
}

void fb_broker_destroy(fb_broker_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_broker_t *self = *self_p;
    /* No HTTP request reads health from now on. */
    fb_bhttp_stop(&self->http);
    fb_pgwatch_destroy(&self->pgwatch);
    /* The writer first: a batch it still holds is answered through the others. */
    fb_writer_destroy(&self->writer);
    fb_retention_destroy(&self->retention);
    fb_replay_srv_destroy(&self->replay);
    fb_ingest_destroy(&self->ingest);
    fb_verify_destroy(&self->verify);
    fb_feed_destroy(&self->feed);
    /* The sockets that asked it first, then the handler, then what it read. */
    fb_zap_destroy(&self->zap);
    fb_identity_destroy(&self->identity);
    fb_members_destroy(&self->members);
    fb_health_destroy(&self->health);
    fb_map_destroy(&self->heads);
    pthread_mutex_destroy(&self->shared_lock);
    free(self);
    *self_p = NULL;
}
