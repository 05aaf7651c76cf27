/* fb_retention.c — the partition manager's passes and thread, the horizon it publishes, and the date rules of a message_id. */
#include "fb_retention.h"

#include "fb_crypto.h"
#include "fb_log.h"
#include "fb_time.h"
#include "fedbus.pb-c.h"
#include "fedbus/fedbus.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MAX_NEW 64           /* partitions made in one pass at most (the rest: the next) */
#define S_MAX_DROP 64          /* ... and dropped */
#define S_GAP_PIECES 64        /* a gap of more periods gets one partition for its older part */
#define S_AHEAD_PERIODS 48     /* partitions are made at most this many periods ahead of now */
#define S_INTERVAL_MIN_US 250000LL
#define S_INTERVAL_MAX_US 60000000LL
#define S_WAKE_US 1000000LL    /* the clock is compared at least this often */
#define S_JUMP_US 2000000LL    /* wall and monotonic clocks parting by more is a jump */
#define S_FAIL_LOG_US 60000000LL /* failures of a kind are logged at most once a minute (with a count) */
#define S_FAIL_KINDS 8

struct fb_retention {
    fb_retention_opts_t opts;
    fb_store_t *store; /* the thread's (and fb_retention_new()'s first pass) */
    pthread_t thread;
    int running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int quit;
    /* Published by the passes, read by any thread (__atomic). */
    uint64_t horizon_seq;
    int64_t horizon_us;
    int64_t ids_from_ms;
    fb_retention_counts_t counts;
    /* The thread's: per kind of failure, when one was last logged and how
     * many were not since. */
    struct {
        const char *what;
        int64_t logged_us;
        uint64_t quiet;
    } fails[S_FAIL_KINDS];
};

/* -------------------------------------------------------- arithmetic --- */

int64_t fb_retention_floor(int64_t ms, int64_t period_ms)
{
    int64_t q = ms / period_ms;
    if (ms % period_ms < 0) q--; /* before 1970: still down */
    return q * period_ms;
}

void fb_retention_name(int64_t lo_ms, char *out, size_t size)
{
    time_t secs = (time_t)fb_retention_floor(lo_ms, 1000) / 1000;
    struct tm tm;
    gmtime_r(&secs, &tm);
    int n = snprintf(out, size, "fedbus_messages_%04d%02d%02d_%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (lo_ms % 1000 && n > 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, "_%03d", (int)(lo_ms - fb_retention_floor(lo_ms, 1000)));
}

int64_t fb_retention_auto_period(int64_t retention_ms)
{
    /* Round widths, each at most about three times the one before, so
     * that the window holds 16 to about 50 partitions. */
    static const int64_t ladder[] = {1000,     3000,     10000,          30000,          60000,
                                     180000,   600000,   1800000,        3600000,        3 * 3600000LL,
                                     21600000, 43200000, 86400000,       3 * 86400000LL, 7 * 86400000LL,
                                     14 * 86400000LL, 30 * 86400000LL, 90 * 86400000LL, 180 * 86400000LL};
    if (!retention_ms) return 30 * 86400000LL;
    int64_t p = ladder[0];
    for (size_t i = 0; i < sizeof(ladder) / sizeof(ladder[0]); i++)
        if (ladder[i] <= retention_ms / 16) p = ladder[i];
    return p;
}

void fb_retention_text(int64_t ms, char *out, size_t size)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    for (size_t i = 0; ms && i < sizeof(units) / sizeof(units[0]); i++)
        if (ms % units[i].ms == 0) {
            snprintf(out, size, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    snprintf(out, size, "%lldms", (long long)ms);
}

/* Appends the pieces of gap [a, b) to out (up to max in all, *k so far). */
static void s_pieces(int64_t a, int64_t b, int64_t period, fb_retention_range_t *out, size_t max, size_t *k)
{
    int64_t first = fb_retention_floor(a, period), last = fb_retention_floor(b - 1, period);
    int64_t count = (last - first) / period + 1;
    if (count > S_GAP_PIECES && *k < max) {
        /* One partition for the older part of a long gap: ids there come
         * from long held messages, few, and a partition each would be
         * thousands of tables. */
        int64_t c = first + (count - S_GAP_PIECES + 1) * period;
        out[(*k)++] = (fb_retention_range_t){a, c};
        a = c;
    }
    while (a < b && *k < max) {
        int64_t end = fb_retention_floor(a, period) + period;
        if (end > b) end = b;
        out[(*k)++] = (fb_retention_range_t){a, end};
        a = end;
    }
}

static int s_by_lo(const void *x, const void *y)
{
    const fb_store_part_t *a = x, *b = y;
    return a->lo_ms < b->lo_ms ? -1 : a->lo_ms > b->lo_ms;
}

size_t fb_retention_gaps(const fb_store_part_t *parts, size_t n, int64_t lo_ms, int64_t hi_ms, int64_t period_ms,
                         fb_retention_range_t *out, size_t max)
{
    fb_store_part_t *sorted = malloc((n ? n : 1) * sizeof(*sorted));
    size_t m = 0, k = 0;
    if (!sorted) return 0;
    for (size_t i = 0; i < n; i++)
        if (!parts[i].is_default && parts[i].hi_ms > parts[i].lo_ms) sorted[m++] = parts[i];
    qsort(sorted, m, sizeof(*sorted), s_by_lo);
    int64_t at = lo_ms;
    for (size_t i = 0; i < m && at < hi_ms && k < max; i++) {
        if (sorted[i].hi_ms <= at) continue;
        if (sorted[i].lo_ms > at) s_pieces(at, sorted[i].lo_ms < hi_ms ? sorted[i].lo_ms : hi_ms, period_ms, out, max, &k);
        at = sorted[i].hi_ms;
    }
    if (at < hi_ms) s_pieces(at, hi_ms, period_ms, out, max, &k);
    free(sorted);
    return k;
}

/* ----------------------------------------------------------- published --- */

static void s_add(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static void s_publish(fb_retention_t *self, const fb_store_horizon_t *h)
{
    __atomic_store_n(&self->ids_from_ms, h->ids_from_ms, __ATOMIC_RELEASE);
    __atomic_store_n(&self->horizon_us, h->horizon_us, __ATOMIC_RELEASE);
    __atomic_store_n(&self->horizon_seq, h->horizon_seq, __ATOMIC_RELEASE);
}

void fb_retention_horizon(const fb_retention_t *self, uint64_t *seq, int64_t *us)
{
    *seq = __atomic_load_n(&self->horizon_seq, __ATOMIC_ACQUIRE);
    *us = __atomic_load_n(&self->horizon_us, __ATOMIC_ACQUIRE);
}

void fb_retention_counts(const fb_retention_t *self, fb_retention_counts_t *out)
{
    const uint64_t *from = (const uint64_t *)&self->counts;
    uint64_t *to = (uint64_t *)out;
    for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++) to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

int fb_retention_check_id(const fb_retention_t *self, const uint8_t id[16], int64_t now_us, char *detail,
                          size_t size)
{
    int64_t ms = fb_uuid_v7_ms(id), now_ms = now_us / 1000;
    int64_t floor_ms = __atomic_load_n(&self->ids_from_ms, __ATOMIC_ACQUIRE);
    if (self->opts.retention_ms && now_ms - self->opts.retention_ms > floor_ms)
        floor_ms = now_ms - self->opts.retention_ms;
    char at[48], edge[48];
    if (ms < floor_ms) {
        fb_time_format(ms * 1000, 0, at, sizeof(at));
        fb_time_format(floor_ms * 1000, 0, edge, sizeof(edge));
        snprintf(detail, size, "message_id is dated %s, before the retention horizon %s", at, edge);
        return FEDBUS__REJECT_REASON__REJECT_BEYOND_RETENTION;
    }
    if (ms > now_ms + self->opts.future_ms) {
        fb_time_format(ms * 1000, 0, at, sizeof(at));
        snprintf(detail, size, "message_id is dated %s, more than id-max-future (%llds) after the broker's clock", at,
                 (long long)self->opts.future_ms / 1000);
        return FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD;
    }
    return 0;
}

/* -------------------------------------------------------------- passes --- */

/* Counts a change that failed, logging it at most once a minute for each
 * kind (what, a constant string). */
static void s_failed(fb_retention_t *self, const char *what)
{
    s_add(&self->counts.failures, 1);
    int64_t now = fb_time_mono_us();
    size_t k = 0;
    while (k < S_FAIL_KINDS - 1 && self->fails[k].what && self->fails[k].what != what) k++;
    self->fails[k].what = what;
    if (self->fails[k].logged_us && now - self->fails[k].logged_us < S_FAIL_LOG_US) {
        self->fails[k].quiet++;
        return;
    }
    fb_warn("retention: %s failed, tried again at the next pass: %s (%llu more like it not logged)", what,
            fb_store_error(self->store), (unsigned long long)self->fails[k].quiet);
    self->fails[k].logged_us = now;
    self->fails[k].quiet = 0;
}

/* Where partitions must begin: the horizon with retention; without, the
 * end of the oldest range partition (or now, when there is none). */
static int64_t s_first_ms(const fb_retention_t *self, const fb_store_part_t *parts, size_t n, int64_t now_ms,
                          int64_t ids_from_ms)
{
    int64_t p = self->opts.period_ms, lo;
    if (self->opts.retention_ms) {
        lo = fb_retention_floor(now_ms - self->opts.retention_ms, p);
    } else {
        lo = fb_retention_floor(now_ms, p);
        for (size_t i = 0; i < n; i++)
            if (!parts[i].is_default && parts[i].hi_ms != INT64_MAX && parts[i].hi_ms < lo) lo = parts[i].hi_ms;
    }
    return lo > ids_from_ms ? lo : ids_from_ms;
}

/* Makes the partitions missing between the horizon and now +
 * id-max-future + two periods (at most S_AHEAD_PERIODS). */
static void s_create(fb_retention_t *self, const fb_store_part_t *parts, size_t n, int64_t now_ms,
                     int64_t ids_from_ms)
{
    fb_retention_range_t want[S_MAX_NEW];
    int64_t p = self->opts.period_ms;
    int64_t lo = s_first_ms(self, parts, n, now_ms, ids_from_ms);
    /* Ids dated further ahead (a clock ahead of the broker's, within
     * id-max-future, with short periods) wait in the default partition
     * until theirs is made, and move in then. */
    int64_t ahead = self->opts.future_ms + 2 * p < S_AHEAD_PERIODS * p ? self->opts.future_ms + 2 * p : S_AHEAD_PERIODS * p;
    int64_t hi = fb_retention_floor(now_ms + ahead, p) + p;
    size_t k = fb_retention_gaps(parts, n, lo, hi, p, want, S_MAX_NEW), made = 0;
    int64_t moved = 0;
    char first[64] = "", name[64], last[64] = "";
    for (size_t i = 0; i < k; i++) {
        int64_t m;
        fb_retention_name(want[i].lo_ms, name, sizeof(name));
        if (fb_store_part_create(self->store, name, want[i].lo_ms, want[i].hi_ms, &m) != FB_OK) {
            s_failed(self, "making a partition");
            break;
        }
        if (!made++) snprintf(first, sizeof(first), "%s", name);
        snprintf(last, sizeof(last), "%s", name);
        moved += m;
    }
    if (!made) return;
    s_add(&self->counts.created, made);
    s_add(&self->counts.moved, (uint64_t)moved);
    fb_info("retention: made %zu partition%s (%s%s%s), %lld rows moved in from the default partition", made,
            made == 1 ? "" : "s", first, made > 1 ? " .. " : "", made > 1 ? last : "", (long long)moved);
}

/* Drops the partitions whose whole range is older than cut_us and whose
 * newest row was stored before it. */
static void s_drop(fb_retention_t *self, const fb_store_part_t *parts, size_t n, int64_t cut_us)
{
    fb_store_part_t *go = malloc(S_MAX_DROP * sizeof(*go));
    fb_store_part_info_t *infos = malloc(S_MAX_DROP * sizeof(*infos));
    size_t k = 0;
    if (!go || !infos) goto done;
    for (size_t i = 0; i < n && k < S_MAX_DROP; i++) {
        if (parts[i].is_default || parts[i].hi_ms == INT64_MAX || parts[i].hi_ms > cut_us / 1000) continue;
        if (fb_store_part_info(self->store, &parts[i], 0, &infos[k]) != FB_OK) {
            s_failed(self, "reading a partition");
            goto done;
        }
        /* A message stored lately with an old id (held by its node through
         * an outage) is inside the window by its store time: its partition
         * waits for it. */
        if (infos[k].max_seq && infos[k].newest_stored_us >= cut_us) continue;
        if (fb_store_part_info(self->store, &parts[i], 1, &infos[k]) != FB_OK) {
            s_failed(self, "counting a partition");
            goto done;
        }
        go[k++] = parts[i];
    }
    fb_store_drop_t out;
    if (!k) goto done;
    if (fb_store_part_drop(self->store, go, infos, k, cut_us, &out) != FB_OK) {
        s_failed(self, "dropping partitions");
        goto done;
    }
    if (out.partitions) {
        s_add(&self->counts.dropped, out.partitions);
        s_add(&self->counts.rows_dropped, (uint64_t)out.rows);
        char upto[48] = "";
        if (out.max_seq) snprintf(upto, sizeof(upto), ", global_seq up to %llu", (unsigned long long)out.max_seq);
        fb_info("retention: dropped %zu partition%s (%s%s), %lld rows%s; lock had in %.1f ms, held %.1f ms",
                out.partitions, out.partitions == 1 ? "" : "s", go[0].name, k > 1 ? " ..." : "", (long long)out.rows,
                upto, out.lock_wait_us / 1000.0, out.held_us / 1000.0);
    }
done:
    free(go);
    free(infos);
}

/* One pass: the horizon read, partitions made, dropped, expired. */
static void s_pass(fb_retention_t *self)
{
    int64_t now_us = fb_time_now_us();
    fb_store_part_t *parts = NULL;
    size_t n = 0;
    fb_store_horizon_t h;
    if (fb_store_check(self->store) != 0 || fb_store_set_lock_timeout(self->store, FB_RETENTION_LOCK_TIMEOUT_MS) ||
        fb_store_horizon(self->store, &h) != FB_OK) {
        s_failed(self, "reading the horizon");
        return;
    }
    s_publish(self, &h);
    if (fb_store_parts(self->store, &parts, &n) != FB_OK) {
        s_failed(self, "listing partitions");
        return;
    }
    size_t leftover;
    if (fb_store_drop_detached(self->store, &leftover) != FB_OK) s_failed(self, "dropping detached partitions");
    s_create(self, parts, n, now_us / 1000, h.ids_from_ms);
    if (self->opts.retention_ms) {
        int64_t cut_us = now_us - self->opts.retention_ms * 1000, expired = 0;
        s_drop(self, parts, n, cut_us);
        if (fb_store_expire_default(self->store, cut_us, &expired) != FB_OK) s_failed(self, "expiring the default partition");
        else if (expired) {
            s_add(&self->counts.rows_expired, (uint64_t)expired);
            fb_info("retention: deleted %lld rows of the default partition stored before the horizon",
                    (long long)expired);
        }
        if (fb_store_horizon(self->store, &h) == FB_OK) s_publish(self, &h);
    }
    free(parts);
}

/* ------------------------------------------------------------- thread --- */

static int64_t s_interval_us(const fb_retention_t *self)
{
    int64_t us = self->opts.period_ms * 1000 / 2;
    return us < S_INTERVAL_MIN_US ? S_INTERVAL_MIN_US : us > S_INTERVAL_MAX_US ? S_INTERVAL_MAX_US : us;
}

static void *s_main(void *arg)
{
    fb_retention_t *self = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    int64_t interval = s_interval_us(self);
    int64_t next = fb_time_mono_us() + interval, last_wall = fb_time_now_us(), last_mono = fb_time_mono_us();
    pthread_mutex_lock(&self->lock);
    while (!self->quit) {
        /* Until the next pass is due, and at least once a second to see
         * whether the wall clock jumped. */
        int64_t wake = next - fb_time_mono_us();
        if (wake > S_WAKE_US) wake = S_WAKE_US;
        if (wake < 1000) wake = 1000;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t ns = until.tv_nsec + wake * 1000;
        until.tv_sec += ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&self->wake, &self->lock, &until);
        if (self->quit) break;
        pthread_mutex_unlock(&self->lock);
        int64_t wall = fb_time_now_us(), mono = fb_time_mono_us();
        int64_t drift = (wall - last_wall) - (mono - last_mono);
        int jumped = drift > S_JUMP_US || drift < -S_JUMP_US;
        last_wall = wall, last_mono = mono;
        if (jumped) fb_info("retention: the wall clock jumped by %+lld ms: a pass now", (long long)drift / 1000);
        if (jumped || mono >= next) {
            s_pass(self);
            next = mono + interval;
        }
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

/* ------------------------------------------------------------ lifetime --- */

fb_retention_t *fb_retention_new(const char *pg, const fb_retention_opts_t *opts)
{
    char err[512];
    fb_retention_t *self = calloc(1, sizeof(*self));
    if (!self) {
        fb_err("out of memory");
        return NULL;
    }
    self->opts = *opts;
    if (self->opts.period_ms < 1000) self->opts.period_ms = fb_retention_auto_period(opts->retention_ms);
    self->horizon_seq = 1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&self->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&self->lock, NULL);
    if (!(self->store = fb_store_open(pg, FB_STORE_READER, err, sizeof(err)))) {
        fb_err("store (retention): %s", err);
        fb_retention_destroy(&self);
        return NULL;
    }
    char keep[32], width[32];
    fb_retention_text(self->opts.retention_ms, keep, sizeof(keep));
    fb_retention_text(self->opts.period_ms, width, sizeof(width));
    fb_info("retention: keeping %s, partitions of %s%s", self->opts.retention_ms ? keep : "everything", width,
            opts->period_ms ? "" : " (chosen from retention)");
    s_pass(self);
    return self;
}

int fb_retention_start(fb_retention_t *self)
{
    if (pthread_create(&self->thread, NULL, s_main, self) != 0) {
        fb_err("cannot start the retention thread");
        return -1;
    }
    self->running = 1;
    return 0;
}

void fb_retention_destroy(fb_retention_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_retention_t *self = *self_p;
    if (self->running) {
        pthread_mutex_lock(&self->lock);
        self->quit = 1;
        pthread_cond_signal(&self->wake);
        pthread_mutex_unlock(&self->lock);
        pthread_join(self->thread, NULL);
    }
    fb_store_destroy(&self->store);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}
