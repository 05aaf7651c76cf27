/* fb_members.c — the registry read from PostgreSQL into directories, on LISTEN and every 2 s, by a thread of its own.
 *
 * Every wait of the thread (connecting, a query, the next read) is a
 * poll() on the connection's socket and on a pipe that fb_members_destroy()
 * writes to, each bounded by S_TIMEOUT_MS: an unreachable or hanging
 * PostgreSQL never keeps the broker from stopping, and never blocks a
 * lookup (readers only take the directory's pointer under the lock). */
#include "fb_members.h"

#include "fb_log.h"
#include "fb_time.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_TIMEOUT_MS 10000 /* one connection attempt, or one read of the registry */
#define S_NRESULTS 4       /* BEGIN, two SELECTs, COMMIT */

/* The registry in one snapshot: both tables as of one moment. */
static const char s_read_sql[] =
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
    "SELECT member, kind, curve_public, status, publish::text, read::text, name_en, name_ko FROM fedbus_members;"
    "SELECT member, encode(key_id, 'hex'), encode(public_key, 'hex'),"
    " (extract(epoch FROM valid_from) * 1000000)::bigint::text,"
    " (extract(epoch FROM valid_until) * 1000000)::bigint::text"
    " FROM fedbus_member_keys ORDER BY member, valid_from, key_id;"
    "COMMIT";

struct fb_members {
    char *conninfo;
    pthread_mutex_t lock;
    fb_memberdir_t *dir; /* under lock */
    uint64_t version, generation, reads, failures; /* atomics */
    int stale;                                     /* atomic */
    /* The thread's. */
    PGconn *conn;
    int wake[2]; /* a byte written to wake[1] stops the thread */
    pthread_t thread;
    int running;
    int64_t loaded_us; /* wall clock of the last read that succeeded */
};

/* ------------------------------------------------------------ waiting --- */

/* Waits until the connection's socket (when there is one) is ready for
 * events (POLLIN, POLLOUT), the stop pipe is written, or deadline
 * (monotonic us) passes. Returns 1 ready, 0 timed out, -1 asked to stop. */
static int s_wait(fb_members_t *self, short events, int64_t deadline)
{
    struct pollfd p[2] = {{self->wake[0], POLLIN, 0}, {self->conn ? PQsocket(self->conn) : -1, events, 0}};
    int64_t left = deadline - fb_time_mono_us();
    if (left < 0) left = 0;
    int n = poll(p, 2, (int)((left + 999) / 1000));
    if (n > 0 && p[0].revents) return -1;
    return n > 0 ? 1 : 0;
}

/* Connects without blocking past S_TIMEOUT_MS. Returns 0, or -1 with err. */
static int s_connect(fb_members_t *self, char *err, size_t size)
{
    /* connect_timeout first: one in conninfo, coming later, wins. */
    const char *keys[] = {"connect_timeout", "dbname", "application_name", NULL};
    const char *vals[] = {"10", self->conninfo, "fedbus-broker members", NULL};
    self->conn = PQconnectStartParams(keys, vals, 1);
    if (!self->conn) {
        snprintf(err, size, "out of memory");
        return -1;
    }
    int64_t deadline = fb_time_mono_us() + S_TIMEOUT_MS * 1000LL;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (PQstatus(self->conn) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        int w = s_wait(self, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
        if (w <= 0) {
            snprintf(err, size, "%s", w == 0 ? "connection timed out" : "stopped");
            return -1;
        }
        st = PQconnectPoll(self->conn);
    }
    if (st != PGRES_POLLING_OK || PQstatus(self->conn) != CONNECTION_OK) {
        snprintf(err, size, "%s", PQerrorMessage(self->conn));
        return -1;
    }
    return PQsetnonblocking(self->conn, 1) == 0 ? 0 : (snprintf(err, size, "cannot set non-blocking"), -1);
}

/* Sends sql and collects up to S_NRESULTS results into res (the rest are
 * dropped). Returns how many, or -1 with err (the connection is then not
 * to be trusted). */
static int s_query(fb_members_t *self, const char *sql, PGresult **res, char *err, size_t size)
{
    int n = 0;
    int64_t deadline = fb_time_mono_us() + S_TIMEOUT_MS * 1000LL;
    if (!PQsendQuery(self->conn, sql)) goto error;
    for (;;) {
        int flush = PQflush(self->conn);
        if (flush < 0) goto error;
        while (!flush && !PQisBusy(self->conn)) {
            PGresult *r = PQgetResult(self->conn);
            if (!r) return n;
            if (n < S_NRESULTS) res[n++] = r;
            else PQclear(r);
        }
        int w = s_wait(self, flush ? POLLIN | POLLOUT : POLLIN, deadline);
        if (w <= 0) {
            snprintf(err, size, "%s", w == 0 ? "the registry's read timed out" : "stopped");
            goto out;
        }
        if (!PQconsumeInput(self->conn)) goto error;
    }
error:
    snprintf(err, size, "%s", PQerrorMessage(self->conn));
out:
    for (int i = 0; i < n; i++) PQclear(res[i]);
    return -1;
}

/* Says what the directory holds. */
static void s_summary(const fb_memberdir_t *dir, int cuts)
{
    size_t active = 0;
    for (size_t i = 0; i < fb_memberdir_size(dir); i++) active += fb_memberdir_at(dir, i)->status == FB_MEMBER_ACTIVE;
    fb_info("members: %zu in the registry, %zu active%s", fb_memberdir_size(dir), active,
            cuts ? "; someone was cut off: open connections are checked again" : "");
    if (!active) fb_warn("members: no active member in the registry: no client key is admitted and no seal verifies");
}

/* ------------------------------------------------------------- reading --- */

static const char *s_val(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* Builds a directory from the two SELECTs; warnings go into what the
 * caller logs when the directory changed. Returns it, or NULL when out of
 * memory. */
static fb_memberdir_t *s_build(const PGresult *members, const PGresult *keys, char *warns, size_t size)
{
    fb_memberdir_t *d = fb_memberdir_new();
    size_t o = 0;
    char warn[512];
    for (int i = 0; d && i < PQntuples(members); i++) {
        fb_memberdir_row_t row = {s_val(members, i, 0), s_val(members, i, 1), s_val(members, i, 2),
                                  s_val(members, i, 3), s_val(members, i, 4), s_val(members, i, 5)};
        fb_member_t m;
        int rc = fb_memberdir_row_parse(&row, &m, warn, sizeof(warn));
        if (rc == 0) fb_member_set_names(&m, s_val(members, i, 6), s_val(members, i, 7));
        if (warn[0] && o < size)
            o += (size_t)snprintf(warns + o, size - o, "%smember %.40s: %s", o ? " | " : "", row.member ? row.member : "?", warn);
        if (rc == 0 && fb_memberdir_add(d, &m) != 0) fb_memberdir_release(&d);
    }
    if (!d) return NULL;
    fb_memberdir_seal(d);
    for (int i = 0; i < PQntuples(keys); i++) {
        fb_memberdir_key_row_t row = {s_val(keys, i, 0), s_val(keys, i, 1), s_val(keys, i, 2), s_val(keys, i, 3),
                                      s_val(keys, i, 4)};
        fb_member_key_t k;
        if (fb_memberdir_key_parse(&row, &k, warn, sizeof(warn)) != 0 || fb_memberdir_add_key(d, row.member, &k) != 0) {
            if (fb_memberdir_find(d, row.member ? row.member : "")) snprintf(warn, sizeof(warn), "out of memory");
            if (o < size)
                o += (size_t)snprintf(warns + o, size - o, "%ssigning key of %.40s left out: %s", o ? " | " : "",
                                      row.member ? row.member : "?", warn);
        }
    }
    return d;
}

/* Reads the registry and puts the directory in place. Returns 0, or -1
 * with err. */
static int s_read(fb_members_t *self, char *err, size_t size)
{
    PGresult *res[S_NRESULTS] = {0};
    int n = s_query(self, s_read_sql, res, err, size);
    if (n < 0) return -1;
    int rc = -1;
    if (n != S_NRESULTS || PQresultStatus(res[1]) != PGRES_TUPLES_OK || PQresultStatus(res[2]) != PGRES_TUPLES_OK ||
        PQresultStatus(res[3]) != PGRES_COMMAND_OK) {
        const char *msg = "";
        for (int i = 0; i < n && !*msg; i++) msg = PQresultErrorMessage(res[i]);
        snprintf(err, size, "reading the registry: %s", *msg ? msg : "unexpected results");
        goto out;
    }
    char warns[2048] = "";
    fb_memberdir_t *d = s_build(res[1], res[2], warns, sizeof(warns));
    if (!d) {
        snprintf(err, size, "out of memory");
        goto out;
    }
    fb_memberdir_t *old = fb_members_get(self);
    int first = self->loaded_us == 0, same = fb_memberdir_equal(old, d);
    fb_memberdir_release(&old);
    /* Said once, not at every read: what a row holds that cannot be used. */
    if ((first || !same) && warns[0]) fb_warn("members: %s", warns);
    if (first && same) s_summary(d, 0);
    fb_members_set(self, d);
    self->loaded_us = fb_time_now_us();
    __atomic_add_fetch(&self->reads, 1, __ATOMIC_RELAXED);
    rc = 0;
out:
    for (int i = 0; i < n; i++) PQclear(res[i]);
    for (char *p = err; rc && *p; p++)
        if (*p == '\n') *p = ' ';
    return rc;
}

/* Connects, listens and reads. Returns 0, or -1 with err (the connection
 * is closed). */
static int s_open(fb_members_t *self, char *err, size_t size)
{
    PGresult *r = NULL;
    if (s_connect(self, err, size) == 0) {
        int n = s_query(self, "LISTEN fedbus_members", &r, err, size);
        int ok = n == 1 && PQresultStatus(r) == PGRES_COMMAND_OK;
        if (n == 1 && !ok) snprintf(err, size, "LISTEN: %s", PQresultErrorMessage(r));
        if (n == 1) PQclear(r);
        if (ok && s_read(self, err, size) == 0) return 0;
    }
    PQfinish(self->conn);
    self->conn = NULL;
    return -1;
}

/* ------------------------------------------------------------- thread --- */

/* Notes a failure: the first of an outage is logged, with what stays in use. */
static void s_failed(fb_members_t *self, const char *why)
{
    __atomic_add_fetch(&self->failures, 1, __ATOMIC_RELAXED);
    if (__atomic_exchange_n(&self->stale, 1, __ATOMIC_RELAXED)) return;
    fb_memberdir_t *d = fb_members_get(self);
    char at[40];
    fb_time_format(self->loaded_us, 0, at, sizeof(at));
    fb_warn("members: cannot read the registry (%s): keeping the directory read at %s (%zu members) until it can",
            why, at, fb_memberdir_size(d));
    fb_memberdir_release(&d);
}

static void s_recovered(fb_members_t *self)
{
    if (__atomic_exchange_n(&self->stale, 0, __ATOMIC_RELAXED)) fb_info("members: the registry is read again");
}

/* Takes the notifications that came; returns 1 when there was one, -1
 * when the connection broke. */
static int s_notified(fb_members_t *self)
{
    if (!PQconsumeInput(self->conn)) return -1;
    int got = 0;
    PGnotify *n;
    while ((n = PQnotifies(self->conn))) {
        got = 1;
        PQfreemem(n);
    }
    return got;
}

/* Drops the connection after a failure; the next attempt is due in
 * FB_MEMBERS_POLL_MS. */
static void s_drop(fb_members_t *self, const char *why)
{
    s_failed(self, why);
    PQfinish(self->conn);
    self->conn = NULL;
}

static void *s_main(void *arg)
{
    fb_members_t *self = arg;
    char err[512];
    int64_t due = fb_time_mono_us() + FB_MEMBERS_POLL_MS * 1000LL; /* the next read, or connection attempt */
    for (;;) {
        int rc = s_wait(self, POLLIN, due);
        if (rc < 0) break; /* asked to stop */
        if (rc > 0 && self->conn) {
            int got = s_notified(self);
            if (got < 0) {
                snprintf(err, sizeof(err), "%s", PQerrorMessage(self->conn));
                s_drop(self, err);
                due = fb_time_mono_us() + FB_MEMBERS_POLL_MS * 1000LL;
                continue;
            }
            if (!got) continue; /* nothing for us; the read stays due when it was */
        }
        due = fb_time_mono_us() + FB_MEMBERS_POLL_MS * 1000LL;
        if ((self->conn ? s_read(self, err, sizeof(err)) : s_open(self, err, sizeof(err))) != 0) {
            if (self->conn) s_drop(self, err);
            else s_failed(self, err);
        } else {
            s_recovered(self);
        }
    }
    return NULL;
}

/* ----------------------------------------------------------- lifetime --- */

fb_members_t *fb_members_new(const char *conninfo, char *err, size_t err_size)
{
    fb_members_t *self = calloc(1, sizeof(*self));
    if (!self || !(self->dir = fb_memberdir_new())) {
        free(self);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    fb_memberdir_seal(self->dir);
    pthread_mutex_init(&self->lock, NULL);
    self->wake[0] = self->wake[1] = -1;
    if (!conninfo) return self;
    if (!(self->conninfo = strdup(conninfo)) || pipe(self->wake) != 0) {
        snprintf(err, err_size, "%s", self->conninfo ? strerror(errno) : "out of memory");
        goto error;
    }
    fcntl(self->wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(self->wake[1], F_SETFD, FD_CLOEXEC);
    if (s_open(self, err, err_size) != 0) goto error;
    if (pthread_create(&self->thread, NULL, s_main, self) != 0) {
        snprintf(err, err_size, "cannot start the members thread");
        goto error;
    }
    self->running = 1;
    return self;
error:
    fb_members_destroy(&self);
    return NULL;
}

void fb_members_destroy(fb_members_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_members_t *self = *self_p;
    if (self->running) {
        while (write(self->wake[1], "x", 1) < 0 && errno == EINTR)
            ;
        pthread_join(self->thread, NULL);
    }
    if (self->conn) PQfinish(self->conn);
    for (int i = 0; i < 2; i++)
        if (self->wake[i] >= 0) close(self->wake[i]);
    fb_memberdir_release(&self->dir);
    pthread_mutex_destroy(&self->lock);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

fb_memberdir_t *fb_members_get(fb_members_t *self)
{
    pthread_mutex_lock(&self->lock);
    fb_memberdir_t *d = fb_memberdir_ref(self->dir);
    pthread_mutex_unlock(&self->lock);
    return d;
}

void fb_members_set(fb_members_t *self, fb_memberdir_t *dir)
{
    pthread_mutex_lock(&self->lock);
    fb_memberdir_t *old = self->dir;
    int cuts = fb_memberdir_cuts(old, dir), same = fb_memberdir_equal(old, dir);
    self->dir = dir;
    /* Published under the lock: whoever sees the new counter gets the new directory. */
    if (!same) __atomic_add_fetch(&self->version, 1, __ATOMIC_RELEASE);
    if (cuts) __atomic_add_fetch(&self->generation, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&self->lock);
    if (!same) s_summary(dir, cuts);
    fb_memberdir_release(&old);
}

uint64_t fb_members_version(const fb_members_t *self)
{
    return __atomic_load_n(&self->version, __ATOMIC_ACQUIRE);
}

uint64_t fb_members_generation(const fb_members_t *self)
{
    return __atomic_load_n(&self->generation, __ATOMIC_ACQUIRE);
}

void fb_members_info(fb_members_t *self, fb_members_info_t *out)
{
    fb_memberdir_t *d = fb_members_get(self);
    memset(out, 0, sizeof(*out));
    out->members = fb_memberdir_size(d);
    for (size_t i = 0; i < out->members; i++) out->active += fb_memberdir_at(d, i)->status == FB_MEMBER_ACTIVE;
    fb_memberdir_release(&d);
    out->version = fb_members_version(self);
    out->generation = fb_members_generation(self);
    out->reads = __atomic_load_n(&self->reads, __ATOMIC_RELAXED);
    out->failures = __atomic_load_n(&self->failures, __ATOMIC_RELAXED);
    out->stale = __atomic_load_n(&self->stale, __ATOMIC_RELAXED);
}
