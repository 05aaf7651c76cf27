/* fb_health.c — members' states, their traffic, state changes as messages and rows, snapshots for the HTTP thread. */
#include "fb_health.h"

#include "fb_crypto.h"
#include "fb_log.h"
#include "fb_time.h"
#include "fb_wire.h"
#include "fedbus/fb_topic.h"
#include "fedbus/fedbus.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TICK_US 200000     /* how often states are judged */
#define S_SNAP_US 1000000    /* how often a snapshot is published at least */
#define S_LAT_RING 256       /* commit latencies kept for the percentiles */
#define S_MINUTE_US 60000000LL

const double fb_health_buckets[FB_HEALTH_NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,    0.25,  0.5,    1.0,   2.5,  5.0,  10.0};

/* One member as the main thread keeps it. */
typedef struct {
    fb_health_member_t m; /* series is a ring here: minute k in series[k % FB_HEALTH_SERIES] */
    int64_t minute;       /* the newest minute counted in the ring */
    int64_t seen_mono;    /* monotonic: last heard from; 0 never */
    int registered;
} s_member_t;

struct fb_health {
    int64_t stale_us, down_us;
    size_t batch_room;
    int quiet;         /* health-topic=false: changes are neither stored nor published */
    uint64_t next_seq; /* the broker's own origin_seq for its next message */
    s_member_t *members;
    size_t n;
    fb_map_t *index; /* id -> index in members */
    int64_t started_mono, next_tick, next_snap;
    uint64_t changes;
    int changed; /* something a snapshot shows changed since the last one */
    fb_health_hist_t ack, commit;
    double lat[S_LAT_RING];
    size_t nlat, lat_at;
    uint64_t head; /* the last global_seq known, for lags */
    /* Under lock: the snapshot other threads take. */
    pthread_mutex_t lock;
    fb_health_snap_t *snap;
};

static const char *const s_state_names[FB_HEALTH_NSTATES] = {"never", "up", "stale", "down"};

const char *fb_health_state_name(int state)
{
    return state >= 0 && state < FB_HEALTH_NSTATES ? s_state_names[state] : "never";
}

/* ------------------------------------------------------------- members -- */

/* The member with id, made (state never) when absent and there is room;
 * NULL for an id that is not a member id, or when full. */
static s_member_t *s_member(fb_health_t *self, const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (!fb_segment_valid(id ? id : "", len) || len > FB_MEMBER_ID_MAX) return NULL;
    uint64_t i;
    if (fb_map_get(self->index, id, len, &i)) return &self->members[i];
    if (self->n >= FB_HEALTH_MEMBERS_MAX || fb_map_put(self->index, id, len, self->n) != 0) return NULL;
    s_member_t *s = &self->members[self->n++];
    memset(s, 0, sizeof(*s));
    memcpy(s->m.id, id, len + 1);
    s->m.role = "unregistered";
    self->changed = 1;
    return s;
}

/* Moves member s's ring on to the minute of now_us (wall), zeroing the
 * minutes that passed without messages. */
static void s_roll(s_member_t *s, int64_t now_us)
{
    int64_t minute = now_us / S_MINUTE_US;
    if (minute <= s->minute) return;
    for (int64_t k = s->minute + 1; k <= minute && k <= s->minute + FB_HEALTH_SERIES; k++)
        s->m.series[k % FB_HEALTH_SERIES] = 0;
    if (minute - s->minute > FB_HEALTH_SERIES)
        memset(s->m.series, 0, sizeof(s->m.series));
    s->minute = minute;
}

static void s_heard(fb_health_t *self, s_member_t *s)
{
    s->seen_mono = fb_time_mono_us();
    s->m.last_seen_us = fb_time_now_us();
    (void)self;
}

void fb_health_directory(fb_health_t *self, const fb_memberdir_t *dir)
{
    static const char *const roles[] = {"hub", "partner", "observer"};
    for (size_t i = 0; dir && i < fb_memberdir_size(dir); i++) {
        const fb_member_t *m = fb_memberdir_at(dir, i);
        s_member_t *s = s_member(self, m->id);
        if (!s) continue;
        s->registered = 1;
        s->m.role = m->kind <= FB_MEMBER_OBSERVER ? roles[m->kind] : "observer";
        memcpy(s->m.name_en, m->name_en, sizeof(s->m.name_en));
        memcpy(s->m.name_ko, m->name_ko, sizeof(s->m.name_ko));
    }
    self->changed = 1;
}

void fb_health_seen(fb_health_t *self, const char *origin)
{
    s_member_t *s = s_member(self, origin);
    if (s) s_heard(self, s);
}

void fb_health_heartbeat(fb_health_t *self, const Fedbus__Heartbeat *hb)
{
    s_member_t *s = s_member(self, hb->origin);
    if (!s) return;
    s_heard(self, s);
    fb_health_member_t *m = &s->m;
    m->has_heartbeat = 1;
    m->outbox_depth = hb->outbox_depth;
    int64_t age = hb->oldest_unconfirmed_us && hb->sent_at_us > hb->oldest_unconfirmed_us
                      ? hb->sent_at_us - hb->oldest_unconfirmed_us : 0;
    m->outbox_age_s = hb->outbox_depth ? (double)age / 1e6 : 0.0;
    m->has_feed = hb->last_global_seq_seen != 0;
    m->last_delivered = hb->last_global_seq_seen;
    snprintf(m->version, sizeof(m->version), "%s", hb->version ? hb->version : "");
    /* What a peer wrote goes out as JSON: keep it printable ASCII. */
    for (char *p = m->version; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') *p = '?';
    m->has_uptime = hb->uptime_us > 0;
    m->uptime_s = (double)hb->uptime_us / 1e6;
    self->changed = 1;
}

/* ----------------------------------------------------------- latencies -- */

static void s_observe(fb_health_hist_t *h, double v, uint64_t n)
{
    int i = 0;
    while (i < FB_HEALTH_NBUCKETS && v > fb_health_buckets[i]) i++;
    h->counts[i] += n;
    h->count += n;
    h->sum += v * (double)n;
}

void fb_health_answered(fb_health_t *self, const fb_batch_t *b)
{
    int64_t now_mono = fb_time_mono_us(), now = fb_time_now_us();
    if (b->nitems) s_observe(&self->ack, (double)(now_mono - b->first_us) / 1e6, b->nitems);
    double commit = (double)b->store_us / 1e6;
    s_observe(&self->commit, commit, 1);
    self->lat[self->lat_at] = commit;
    self->lat_at = (self->lat_at + 1) % S_LAT_RING;
    if (self->nlat < S_LAT_RING) self->nlat++;
    self->head = b->head;
    /* A batch holds runs of one origin (a node's frames): one look-up a run. */
    s_member_t *s = NULL;
    const char *last = NULL;
    for (size_t i = 0; i < b->nitems; i++) {
        const fb_batch_item_t *it = &b->items[i];
        if (!it->origin) continue;
        if (!last || strcmp(last, it->origin) != 0) {
            last = it->origin;
            s = s_member(self, it->origin);
            if (s) {
                s_heard(self, s);
                s_roll(s, now);
            }
        }
        if (!s) continue;
        if (it->state == FB_BATCH_NEW || it->state == FB_BATCH_COMMITTED) {
            s->m.messages++;
            s->m.series[s->minute % FB_HEALTH_SERIES]++;
            s->m.last_message_us = now;
            snprintf(s->m.last_topic, sizeof(s->m.last_topic), "%s", it->topic ? it->topic : "");
        } else if (it->state == FB_BATCH_REJECTED && it->reason > 0 && it->reason < FB_BROKER_NREASONS) {
            s->m.rejects[it->reason]++;
        }
    }
    self->changed = 1;
}

/* ------------------------------------------------------- state changes -- */

/* Puts member s's change from -> to into batch b: the broker's own message
 * on the health topic, and its row. Returns 0, or -1 when the batch has no
 * room or memory ran out (the change is then tried again next tick). */
static int s_announce(fb_health_t *self, fb_batch_t *b, const s_member_t *s, int from, int to, int64_t at_us)
{
    if (self->quiet) return 0;
    if (b->nitems >= self->batch_room) return -1;
    Fedbus__MemberState ms = FEDBUS__MEMBER_STATE__INIT;
    ms.member = (char *)s->m.id;
    ms.from_state = (char *)fb_health_state_name(from);
    ms.to_state = (char *)fb_health_state_name(to);
    ms.at_us = at_us;
    uint8_t id[FB_UUID_LEN];
    if (fb_uuid_v7(at_us, id) != 0) return -1;
    Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
    env.message_id.data = id;
    env.message_id.len = sizeof(id);
    env.origin = FB_ORIGIN_BROKER;
    env.topic = FB_TOPIC_HEALTH;
    env.created_at_us = at_us;
    env.schema_version = FEDBUS_SCHEMA_VERSION;
    env.origin_seq = self->next_seq;
    env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_MEMBER_STATE;
    env.member_state = &ms;
    size_t len = fedbus__envelope__get_packed_size(&env);
    char row[256];
    int rl = snprintf(row, sizeof(row),
                      "INSERT INTO fedbus_member_states (member, from_state, to_state, at) VALUES "
                      "('%s', '%s', '%s', to_timestamp(%" PRId64 " / 1000000.0)); ",
                      s->m.id, ms.from_state, ms.to_state, at_us);
    size_t had = b->extra_sql ? strlen(b->extra_sql) : 0;
    uint8_t *data = fb_arena_alloc(b->arena, len);
    char *sql = fb_arena_alloc(b->arena, had + (size_t)rl + 1);
    if (!data || !sql) return -1;
    fedbus__envelope__pack(&env, data);
    if (had) memcpy(sql, b->extra_sql, had);
    memcpy(sql + had, row, (size_t)rl + 1);
    fb_batch_item_t *it = fb_batch_open(b);
    it->env_data = data;
    it->env_len = len;
    it->origin = FB_ORIGIN_BROKER;
    it->topic = FB_TOPIC_HEALTH;
    it->origin_seq = self->next_seq;
    it->created_at_us = at_us;
    memcpy(it->id, id, sizeof(id));
    it->has_id = 1;
    if (fb_wire_content_hash(data, len, it->hash) != 0) {
        fb_batch_drop(b, it);
        return -1;
    }
    if (b->nitems == 0) b->first_us = fb_time_mono_us();
    b->nitems++;
    b->bytes += (long long)len;
    b->extra_sql = sql;
    self->next_seq++;
    return 0;
}

/* The state member s is in at now (monotonic). */
static int s_judge(const fb_health_t *self, const s_member_t *s, int64_t now)
{
    if (!s->seen_mono) return FB_HEALTH_NEVER;
    int64_t quiet = now - s->seen_mono;
    return quiet < self->stale_us ? FB_HEALTH_UP : quiet < self->down_us ? FB_HEALTH_STALE : FB_HEALTH_DOWN;
}

int fb_health_due(const fb_health_t *self)
{
    return fb_time_mono_us() >= self->next_tick;
}

uint64_t fb_health_changes(const fb_health_t *self)
{
    return self->changes;
}

/* ------------------------------------------------------------ snapshots -- */

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int s_cmp_member(const void *a, const void *b)
{
    return strcmp(((const fb_health_member_t *)a)->id, ((const fb_health_member_t *)b)->id);
}

/* Member s as a snapshot shows it at now (wall): its ring turned oldest first. */
static void s_copy_member(const fb_health_t *self, s_member_t *s, fb_health_member_t *out, int64_t now)
{
    s_roll(s, now);
    *out = s->m;
    for (int k = 0; k < FB_HEALTH_SERIES; k++)
        out->series[k] = s->m.series[(s->minute - (FB_HEALTH_SERIES - 1) + k) % FB_HEALTH_SERIES];
    /* The last 60 s: this minute, and the part of the last one still in them. */
    double into = (double)(now % S_MINUTE_US) / (double)S_MINUTE_US;
    out->msgs_per_min = out->series[FB_HEALTH_SERIES - 1] + out->series[FB_HEALTH_SERIES - 2] * (1.0 - into);
    out->lag = out->has_feed && self->head > out->last_delivered ? self->head - out->last_delivered : 0;
}

/* Builds and publishes a snapshot; keeps the last one when out of memory. */
static void s_publish(fb_health_t *self, const fb_health_broker_t *broker)
{
    fb_health_snap_t *snap = calloc(1, sizeof(*snap));
    fb_health_member_t *members = calloc(self->n ? self->n : 1, sizeof(*members));
    if (!snap || !members) {
        free(snap);
        free(members);
        return;
    }
    int64_t now = fb_time_now_us();
    snap->generated_us = now;
    snap->uptime_s = (double)(fb_time_mono_us() - self->started_mono) / 1e6;
    snap->broker = *broker;
    if (broker->global_seq > self->head) self->head = broker->global_seq;
    snap->stale_s = (double)self->stale_us / 1e6;
    snap->down_s = (double)self->down_us / 1e6;
    snap->ack = self->ack;
    snap->commit = self->commit;
    if (self->nlat) {
        double sorted[S_LAT_RING];
        memcpy(sorted, self->lat, self->nlat * sizeof(double));
        qsort(sorted, self->nlat, sizeof(double), s_cmp_double);
        snap->commit_p50 = sorted[(self->nlat - 1) / 2];
        snap->commit_p99 = sorted[(self->nlat - 1) * 99 / 100];
    }
    for (size_t i = 0; i < self->n; i++) {
        s_copy_member(self, &self->members[i], &members[i], now);
        if (members[i].state == FB_HEALTH_UP) snap->connections++;
    }
    qsort(members, self->n, sizeof(*members), s_cmp_member);
    snap->members = members;
    snap->nmembers = self->n;
    snap->refs = 1;
    pthread_mutex_lock(&self->lock);
    fb_health_snap_t *old = self->snap;
    self->snap = snap;
    pthread_mutex_unlock(&self->lock);
    fb_health_snap_release(&old);
    self->changed = 0;
}

fb_health_snap_t *fb_health_snap_get(fb_health_t *self)
{
    pthread_mutex_lock(&self->lock);
    fb_health_snap_t *s = self->snap;
    if (s) __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&self->lock);
    return s;
}

void fb_health_snap_release(fb_health_snap_t **snap_p)
{
    if (!snap_p || !*snap_p) return;
    fb_health_snap_t *s = *snap_p;
    *snap_p = NULL;
    if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    free(s->members);
    free(s);
}

/* ----------------------------------------------------------------- tick -- */

void fb_health_tick(fb_health_t *self, fb_batch_t *filling, const fb_health_broker_t *broker)
{
    int64_t now = fb_time_mono_us();
    if (now < self->next_tick) return;
    self->next_tick = now + S_TICK_US;
    int64_t wall = fb_time_now_us();
    for (size_t i = 0; i < self->n; i++) {
        s_member_t *s = &self->members[i];
        int to = s_judge(self, s, now);
        if (to == s->m.state) continue;
        if (s_announce(self, filling, s, s->m.state, to, wall) != 0) break; /* again next tick */
        fb_info("member %s: %s -> %s", s->m.id, fb_health_state_name(s->m.state), fb_health_state_name(to));
        s->m.state = to;
        s->m.state_since_us = wall;
        self->changes++;
        self->changed = 1;
        self->next_snap = 0;
    }
    if (now >= self->next_snap) {
        s_publish(self, broker);
        self->next_snap = now + S_SNAP_US;
    }
}

/* ------------------------------------------------------------ lifetime -- */

void fb_health_set_quiet(fb_health_t *self, int quiet)
{
    self->quiet = quiet;
}

fb_health_t *fb_health_new(long long stale_ms, long long down_ms, const fb_map_t *heads, size_t batch_room)
{
    fb_health_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->stale_us = stale_ms * 1000;
    self->down_us = down_ms * 1000;
    self->batch_room = batch_room;
    self->started_mono = fb_time_mono_us();
    uint64_t last = 0;
    fb_map_get(heads, FB_ORIGIN_BROKER, strlen(FB_ORIGIN_BROKER), &last);
    self->next_seq = last + 1;
    self->members = calloc(FB_HEALTH_MEMBERS_MAX, sizeof(*self->members));
    self->index = fb_map_new(64);
    if (!self->members || !self->index) fb_health_destroy(&self);
    return self;
}

void fb_health_destroy(fb_health_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_health_t *self = *self_p;
    fb_health_snap_release(&self->snap);
    fb_map_destroy(&self->index);
    free(self->members);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}
