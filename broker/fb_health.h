/* fb_health.h — members' states as the broker sees them (up, stale, down, never), their traffic, and immutable snapshots for other threads.
 *
 * The main thread tells the module what it hears: Hellos and heartbeats
 * (fb_health_seen(), fb_health_heartbeat()) and every batch it answers
 * (fb_health_answered(): messages per member, rejects, ack and commit
 * latencies). fb_health_tick() judges every member against stale-after and
 * down-after; a change of state is put into the filling batch as a message
 * of the broker's own (origin FB_ORIGIN_BROKER, topic FB_TOPIC_HEALTH,
 * payload MemberState) and as a row of fedbus_member_states written in the
 * same transaction — so the feed, replay and the table tell the same story
 * in the same order. About once a second the tick publishes a snapshot: an
 * immutable copy of everything /api/status and /metrics show, which the
 * HTTP thread takes by reference (fb_health_snap_get()) and never changes.
 * All but the snapshot functions: main thread only. */
#ifndef FB_HEALTH_H
#define FB_HEALTH_H

#include "fb_batch.h"
#include "fb_broker_stats.h"
#include "fb_map.h"
#include "fb_memberdir.h"
#include "fedbus.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* A member's state; the names are fb_health_state_name()'s. */
enum { FB_HEALTH_NEVER = 0, FB_HEALTH_UP, FB_HEALTH_STALE, FB_HEALTH_DOWN, FB_HEALTH_NSTATES };

/* Minutes of per-minute message counts kept per member. */
#define FB_HEALTH_SERIES 30
/* Members (registered or heard from) followed at most; more are not tracked. */
#define FB_HEALTH_MEMBERS_MAX 1024
/* Upper bounds (seconds) of the latency histograms' buckets, +Inf beyond. */
#define FB_HEALTH_NBUCKETS 14
extern const double fb_health_buckets[FB_HEALTH_NBUCKETS];

/* A histogram: counts[i] observations in bucket i (not cumulative);
 * counts[FB_HEALTH_NBUCKETS] above the last bound. */
typedef struct {
    uint64_t counts[FB_HEALTH_NBUCKETS + 1];
    uint64_t count;
    double sum;
} fb_health_hist_t;

/* One member as a snapshot shows it. Times are wall clock, unix us; 0: none. */
typedef struct {
    char id[FB_MEMBER_ID_MAX + 1];
    char name_en[128], name_ko[128];
    const char *role; /* "hub", "partner", "observer"; "unregistered": heard from, not in the registry */
    int state;
    int64_t state_since_us, last_seen_us;
    char last_topic[256];
    int64_t last_message_us;
    uint32_t series[FB_HEALTH_SERIES]; /* oldest first, the current minute last */
    double msgs_per_min;               /* over the last 60 s */
    uint64_t messages;                 /* stored since the broker started */
    uint64_t rejects[FB_BROKER_NREASONS];
    int has_heartbeat;       /* the fields below come from its last heartbeat */
    uint64_t outbox_depth;
    double outbox_age_s;     /* age of its oldest unconfirmed publish when it sent the heartbeat */
    int has_feed;            /* it reported a feed position */
    uint64_t last_delivered; /* the global_seq its feed last delivered */
    uint64_t lag;            /* the broker's head - that */
    char version[32];        /* "" when it sent none */
    int has_uptime;
    double uptime_s;
} fb_health_member_t;

/* What the broker knows of itself, handed to each tick. */
typedef struct {
    uint64_t global_seq;
    uint64_t batches_in_flight; /* with the writer, and filling */
    int pg_up;                  /* the last probe reached PostgreSQL */
    int64_t pg_since_us;        /* ... since (wall clock, us) */
    int schema_ok;              /* the schema is the version this broker migrates to */
    char pg_reason[160];        /* why not ready; "" when ready */
} fb_health_broker_t;

/* Everything /api/status and /metrics show, of one moment; immutable. */
typedef struct {
    int64_t generated_us;
    double uptime_s;
    fb_health_broker_t broker;
    double commit_p50, commit_p99; /* seconds, over the last 256 commits; 0 when none */
    uint64_t connections;          /* members up: heard from within stale-after */
    double stale_s, down_s;
    fb_health_hist_t ack, commit;
    size_t nmembers; /* sorted by id */
    fb_health_member_t *members;
    int refs; /* atomic */
} fb_health_snap_t;

typedef struct fb_health fb_health_t;

/* Returns the module: members silent for stale_ms are stale, for down_ms
 * down; heads (origin -> last origin_seq stored, borrowed, main thread's)
 * gives where the broker's own origin goes on; batch_room is how many items
 * a batch holds. NULL when out of memory. */
fb_health_t *fb_health_new(long long stale_ms, long long down_ms, const fb_map_t *heads, size_t batch_room);

/* quiet 1: state changes are judged and shown (snapshot, /api/status,
 * /metrics) but neither stored in fedbus_member_states nor published on
 * FB_TOPIC_HEALTH (the broker's health-topic=false). */
void fb_health_set_quiet(fb_health_t *self, int quiet);

/* Frees *self_p (accepts NULL; sets *self_p to NULL); snapshots taken stay
 * valid until released. */
void fb_health_destroy(fb_health_t **self_p);

/* The registry's members (borrowed for the call): every one is shown, its
 * names and role taken; call when the directory changed. */
void fb_health_directory(fb_health_t *self, const fb_memberdir_t *dir);

/* Origin was heard from (a Hello, a publish). */
void fb_health_seen(fb_health_t *self, const char *origin);

/* Origin's heartbeat: heard from, and what it reports. */
void fb_health_heartbeat(fb_health_t *self, const Fedbus__Heartbeat *hb);

/* Batch b was answered (its items settled): messages and rejects per
 * member, the ack latency of its publishes, its commit latency. */
void fb_health_answered(fb_health_t *self, const fb_batch_t *b);

/* Judges the members' states; a change goes into filling (the batch being
 * filled) as a message and a row. About once a second, or after a change,
 * publishes a new snapshot with *broker. Cheap when nothing is due. */
void fb_health_tick(fb_health_t *self, fb_batch_t *filling, const fb_health_broker_t *broker);

/* Returns 1 when fb_health_tick() has something to do (it judges every
 * 200 ms), so that the caller gathers *broker only then. */
int fb_health_due(const fb_health_t *self);

/* State changes seen since the start (for the statistics line). */
uint64_t fb_health_changes(const fb_health_t *self);

/* The newest snapshot, one reference taken (release it); never NULL once
 * a tick ran, NULL before. Any thread. */
fb_health_snap_t *fb_health_snap_get(fb_health_t *self);

/* Lets go of one reference; the last frees it. Accepts NULL; nulls *snap_p. */
void fb_health_snap_release(fb_health_snap_t **snap_p);

/* "never", "up", "stale", "down". */
const char *fb_health_state_name(int state);

#endif
