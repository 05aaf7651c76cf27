/* fb_store.c — PostgreSQL persistence: connections, batches COPYed in one transaction, heads. */
#include "fb_store.h"

#include "fb_proofs.h"

#include "fb_copy.h"
#include "fb_store_int.h"
#include "fb_migrate.h"
#include "fb_map.h"
#include "fb_time.h"
#include "fedbus/fedbus.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_AHEAD_COPY 1
#define S_AHEAD_BEGIN 2

static void s_set_error(fb_store_t *self, const char *what, const PGresult *res)
{
    fb_migrate_error(self->conn, what, res, self->error, sizeof(self->error));
}

const char *fb_store_error(const fb_store_t *self)
{
    if (!self) return "no store";
    return self->error;
}

/* Runs sql with no parameters; returns 0 when it yields want. */
static int s_exec(fb_store_t *self, const char *sql, ExecStatusType want)
{
    return fb_migrate_exec(self->conn, sql, want, self->error, sizeof(self->error));
}

void fb_store_fail(fb_store_t *self, const char *what, const PGresult *res)
{
    s_set_error(self, what, res);
}

int fb_store_exec(fb_store_t *self, const char *sql, ExecStatusType want)
{
    return s_exec(self, sql, want);
}

static int s_take_lock(fb_store_t *self)
{
    PGresult *r = PQexec(self->conn, "SELECT pg_try_advisory_lock(" FB_MIGRATE_LOCK_KEY ")");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    if (PQresultStatus(r) != PGRES_TUPLES_OK) s_set_error(self, "taking the writer lock", r);
    else if (!ok)
        snprintf(self->error, sizeof(self->error),
                 "another broker is already writing to this database");
    PQclear(r);
    return ok ? 0 : -1;
}

static int s_set_timeout(fb_store_t *self)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "SET statement_timeout = %d", self->timeout_ms);
    return s_exec(self, sql, PGRES_COMMAND_OK);
}

static int s_connect(fb_store_t *self)
{
    if (self->conn) PQfinish(self->conn);
    self->ahead = 0;
    self->conn = PQconnectdb(self->conninfo);
    if (PQstatus(self->conn) != CONNECTION_OK) {
        s_set_error(self, "connecting to PostgreSQL", NULL);
        return -1;
    }
    if (s_exec(self, "SET client_min_messages = warning", PGRES_COMMAND_OK)) return -1;
    if (self->timeout_ms && s_set_timeout(self)) return -1;
    self->page_prepared = 0;
    if (self->lock_timeout_ms) {
        char sql[64];
        snprintf(sql, sizeof(sql), "SET lock_timeout = %d", self->lock_timeout_ms);
        if (s_exec(self, sql, PGRES_COMMAND_OK)) return -1;
    }
    if (self->role == FB_STORE_WRITER) {
        if (fb_migrate_run(self->conn, self->error, sizeof(self->error)) || s_take_lock(self)) return -1;
        /* The ack follows COMMIT: it must be durable, whatever the server default. */
        if (s_exec(self, "SET synchronous_commit = on", PGRES_COMMAND_OK)) return -1;
    }
    return 0;
}

fb_store_t *fb_store_open(const char *conninfo, fb_store_role_t role, char *err, size_t err_size)
{
    fb_store_t *self = calloc(1, sizeof(*self));
    if (!self || !(self->conninfo = strdup(conninfo ? conninfo : ""))) {
        snprintf(err, err_size, "out of memory");
        free(self);
        return NULL;
    }
    self->role = role;
    self->heads_interval_us = FB_STORE_HEADS_INTERVAL_MS * 1000LL;
    if (!(self->pending_at = fb_map_new(64)) || !(self->batch_at = fb_map_new(64))) {
        snprintf(err, err_size, "out of memory");
        fb_store_destroy(&self);
        return NULL;
    }
    if (s_connect(self) != 0) {
        snprintf(err, err_size, "%s", self->error);
        fb_store_destroy(&self);
        return NULL;
    }
    return self;
}

void fb_store_destroy(fb_store_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_store_t *self = *self_p;
    if (self->conn) PQfinish(self->conn);
    free(self->conninfo);
    fb_copy_destroy(&self->copy);
    free(self->pending);
    free(self->batch);
    fb_seqmap_clear(&self->seqmap);
    fb_map_destroy(&self->pending_at);
    fb_map_destroy(&self->batch_at);
    free(self);
    *self_p = NULL;
}

/* Whether the heads are due with the batch about to be written. */
static int s_heads_due(const fb_store_t *self)
{
    return !self->heads_written_us || self->heads_interval_us == 0 ||
           fb_time_mono_us() - self->heads_written_us >= self->heads_interval_us;
}

/* Sends the next batch's COPY command without waiting for its answer, so
 * that the round trip and the server's setup of the COPY overlap what the
 * caller does until the batch comes. */
static void s_send_ahead(fb_store_t *self)
{
    int begin = s_heads_due(self) || self->extra_last;
    if (PQsendQuery(self->conn, begin ? "BEGIN; " FB_COPY_SQL : FB_COPY_SQL) == 1)
        self->ahead = begin ? S_AHEAD_BEGIN : S_AHEAD_COPY;
}

/* Waits for the server's answers to a COPY command sent with PQsendQuery
 * (BEGIN's first, if any); returns 0 once it takes COPY data, or -1 with
 * the error set and the connection idle. */
static int s_await_copy(fb_store_t *self)
{
    PGresult *r;
    while ((r = PQgetResult(self->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN) {
            PQclear(r);
            return 0;
        }
        if (st != PGRES_COMMAND_OK) {
            s_set_error(self, "starting COPY", r);
            PQclear(r);
            while ((r = PQgetResult(self->conn)) != NULL) PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    s_set_error(self, "starting COPY", NULL);
    return -1;
}

/* Closes the COPY sent ahead, if any, without storing anything: it ends
 * empty (no row, no error in the server's log) and its transaction ends. */
static void s_drop_ahead(fb_store_t *self)
{
    if (!self->ahead) return;
    int begin = self->ahead == S_AHEAD_BEGIN;
    self->ahead = 0;
    if (s_await_copy(self) == 0) {
        static const uint8_t empty[] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0,
                                        0,   0,   0,   0,   0,   0,   0,    0,    0xff, 0xff};
        PGresult *r;
        PQputCopyData(self->conn, (const char *)empty, (int)sizeof(empty));
        PQputCopyEnd(self->conn, NULL);
        while ((r = PQgetResult(self->conn)) != NULL) PQclear(r);
    }
    if (begin && PQstatus(self->conn) == CONNECTION_OK) PQclear(PQexec(self->conn, "ROLLBACK"));
}

int fb_store_idle(fb_store_t *self)
{
    int had = self->ahead != 0;
    s_drop_ahead(self);
    return had;
}

int fb_store_ahead(const fb_store_t *self)
{
    return self->ahead != 0;
}

void fb_store_set_on_sent(fb_store_t *self, void (*fn)(void *arg), void *arg)
{
    self->on_sent = fn;
    self->on_sent_arg = arg;
}

void fb_store_set_ahead(fb_store_t *self, int on)
{
    self->send_ahead = on;
    if (!on) s_drop_ahead(self);
}

int fb_store_set_timeout(fb_store_t *self, int ms)
{
    self->timeout_ms = ms;
    return s_set_timeout(self);
}

int fb_store_check(fb_store_t *self)
{
    if (!self) return -1; /* a replay service made without one (its fuzz target) */
    if (PQstatus(self->conn) == CONNECTION_OK) return 0;
    return s_connect(self);
}

int fb_store_reconnect(fb_store_t *self)
{
    return s_connect(self);
}

/* Runs sql, which returns one non-negative bigint, into *out; returns
 * FB_OK or FB_ESTORE (the error says what failed). */
static int s_query_int(fb_store_t *self, const char *sql, const char *what, uint64_t *out)
{
    s_drop_ahead(self);
    PGresult *r = PQexec(self->conn, sql);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (ok) *out = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    else s_set_error(self, what, r);
    PQclear(r);
    return ok ? FB_OK : FB_ESTORE;
}

int fb_store_head(fb_store_t *self, uint64_t *global_seq)
{
    /* Retention may have dropped every message: the head is never below
     * what was dropped, so that numbers are never given twice. */
    return s_query_int(self,
                       "SELECT greatest(coalesce(max(global_seq), 0), (SELECT horizon_seq - 1 FROM fedbus_retention))"
                       " FROM fedbus_messages",
                       "reading the head", global_seq);
}

static int s_head_put(fb_store_head_t **heads, size_t *n, size_t *cap, fb_map_t *at, const char *origin,
                      uint64_t origin_seq, uint64_t global_seq, int64_t stored_at_us, size_t *index);

int fb_store_origin_heads(fb_store_t *self,
                          void (*fn)(const char *origin, uint64_t last_origin_seq, void *arg),
                          void *arg)
{
    s_drop_ahead(self);
    PGresult *r = PQexec(self->conn, "SELECT origin, last_origin_seq FROM fedbus_origins");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) goto error;
    for (int i = 0; i < PQntuples(r); i++)
        fn(PQgetvalue(r, i, 0), strtoull(PQgetvalue(r, i, 1), NULL, 10), arg);
    PQclear(r);
    /* fedbus_origins covers every message up to its highest last_global_seq;
     * what was stored after that (at most a heads interval, or what a
     * broker that stopped abruptly did not write) is read from the table
     * through its primary key: each origin's last message there holds its
     * head. Those heads are written with the next batch. */
    r = PQexec(self->conn,
               "SELECT DISTINCT ON (origin) origin, origin_seq, global_seq,"
               " (extract(epoch FROM stored_at) * 1000000)::bigint FROM fedbus_messages"
               " WHERE global_seq > (SELECT coalesce(max(last_global_seq), 0) FROM fedbus_origins)"
               " ORDER BY origin, global_seq DESC");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) goto error;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *origin = PQgetvalue(r, i, 0);
        uint64_t oseq = strtoull(PQgetvalue(r, i, 1), NULL, 10);
        uint64_t gseq = strtoull(PQgetvalue(r, i, 2), NULL, 10);
        int64_t at = strtoll(PQgetvalue(r, i, 3), NULL, 10);
        fn(origin, oseq, arg);
        if (self->role == FB_STORE_WRITER &&
            s_head_put(&self->pending, &self->npending, &self->cap_pending, self->pending_at, origin,
                       oseq, gseq, at, NULL) == 0)
            self->heads_written_us = 0;
    }
    PQclear(r);
    return FB_OK;
error:
    s_set_error(self, "reading origin heads", r);
    PQclear(r);
    return FB_ESTORE;
}

int fb_store_recent(fb_store_t *self, size_t max,
                    void (*fn)(const char *origin, const uint8_t *message_id, void *arg), void *arg)
{
    s_drop_ahead(self);
    char lim[24];
    snprintf(lim, sizeof(lim), "%zu", max);
    const char *params[1] = {lim};
    /* The primary key, read backwards: as cheap as the rows asked for. */
    PGresult *r = PQexecParams(self->conn,
                               "SELECT origin, message_id FROM fedbus_messages"
                               " ORDER BY global_seq DESC LIMIT $1::bigint",
                               1, NULL, params, NULL, NULL, 1);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    for (int i = 0; ok && i < PQntuples(r); i++)
        if (PQgetlength(r, i, 1) == 16) fn(PQgetvalue(r, i, 0), (const uint8_t *)PQgetvalue(r, i, 1), arg);
    if (!ok) s_set_error(self, "reading recent ids", r);
    PQclear(r);
    return ok ? FB_OK : FB_ESTORE;
}

int fb_store_count(fb_store_t *self, int64_t *count)
{
    uint64_t n = 0;
    int rc = s_query_int(self, "SELECT count(*) FROM fedbus_messages", "counting", &n);
    *count = (int64_t)n;
    return rc;
}

/* Hands len bytes of COPY data to libpq (fb_copy's sink); returns 0, or -1
 * with the error set. */
static int s_put_data(void *arg, const uint8_t *data, size_t len)
{
    fb_store_t *self = arg;
    if (PQputCopyData(self->conn, (const char *)data, (int)len) == 1) return 0;
    s_set_error(self, "sending COPY data", NULL);
    return -1;
}

/* Sets the head of row's origin in (heads, at) to row, growing heads, and
 * its place in *index (when not NULL); returns 0 or -1 when out of memory. */
static int s_head_put(fb_store_head_t **heads, size_t *n, size_t *cap, fb_map_t *at, const char *origin,
                      uint64_t origin_seq, uint64_t global_seq, int64_t stored_at_us, size_t *index)
{
    size_t olen = strlen(origin);
    uint64_t i;
    if (olen > FB_SEGMENT_MAX) return -1;
    if (!fb_map_get(at, origin, olen, &i)) {
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 16;
            fb_store_head_t *h = realloc(*heads, c * sizeof(*h));
            if (!h) return -1;
            *heads = h;
            *cap = c;
        }
        i = (*n)++;
        memcpy((*heads)[i].origin, origin, olen + 1);
        (*heads)[i].origin_seq = 0;
        if (fb_map_put(at, origin, olen, i) != 0) return -1;
    }
    fb_store_head_t *h = &(*heads)[i];
    if (origin_seq > h->origin_seq) h->origin_seq = origin_seq;
    h->global_seq = global_seq;
    h->stored_at_us = stored_at_us;
    if (index) *index = (size_t)i;
    return 0;
}

/* Builds "INSERT ... ON CONFLICT ...; COMMIT" for the pending heads merged
 * with this batch's. */
static char *s_heads_sql(fb_store_t *self)
{
    size_t cap = 1024 + (self->npending + self->nbatch) * 128, len = 0;
    char *sql = malloc(cap);
    if (!sql) return NULL;
    len += (size_t)snprintf(sql, cap,
                            "INSERT INTO fedbus_origins AS o (origin, last_origin_seq, "
                            "last_global_seq, last_stored_at) VALUES ");
    int first = 1;
    for (int part = 0; part < 2; part++) {
        const fb_store_head_t *heads = part ? self->batch : self->pending;
        size_t n = part ? self->nbatch : self->npending;
        for (size_t i = 0; i < n; i++) {
            const fb_store_head_t *h = &heads[i];
            /* A pending origin that this batch moves on is written once, newest. */
            if (!part && fb_map_get(self->batch_at, h->origin, strlen(h->origin), NULL)) continue;
            /* origin is a validated segment: [a-z0-9-] only, safe to inline. */
            len += (size_t)snprintf(sql + len, cap - len, "%s('%s', %llu, %llu, to_timestamp(%lld / 1e6))",
                                    first ? "" : ",", h->origin, (unsigned long long)h->origin_seq,
                                    (unsigned long long)h->global_seq, (long long)h->stored_at_us);
            first = 0;
        }
    }
    snprintf(sql + len, cap - len,
             " ON CONFLICT (origin) DO UPDATE SET last_origin_seq = GREATEST(o.last_origin_seq, "
             "excluded.last_origin_seq), last_global_seq = excluded.last_global_seq, "
             "last_stored_at = excluded.last_stored_at; COMMIT");
    return sql;
}

/* Folds the committed batch's heads into the pending ones. */
static int s_heads_commit(fb_store_t *self)
{
    for (size_t i = 0; i < self->nbatch; i++) {
        const fb_store_head_t *h = &self->batch[i];
        if (s_head_put(&self->pending, &self->npending, &self->cap_pending, self->pending_at, h->origin,
                       h->origin_seq, h->global_seq, h->stored_at_us, NULL) != 0)
            return -1;
    }
    return 0;
}

static void s_heads_written(fb_store_t *self)
{
    self->npending = 0;
    fb_map_clear(self->pending_at);
    self->heads_written_us = fb_time_mono_us();
}

/* Runs extra (may be NULL) and then end ("COMMIT", or the heads upsert
 * ending in it) as one message. Returns 0, or -1 with the error set. */
static int s_finish_tx(fb_store_t *self, const char *extra, const char *end)
{
    if (!extra) return s_exec(self, end, PGRES_COMMAND_OK);
    size_t a = strlen(extra), b = strlen(end);
    char *sql = malloc(a + b + 1);
    if (!sql) {
        snprintf(self->error, sizeof(self->error), "out of memory");
        return -1;
    }
    memcpy(sql, extra, a);
    memcpy(sql + a, end, b + 1);
    int rc = s_exec(self, sql, PGRES_COMMAND_OK);
    free(sql);
    return rc;
}

int fb_store_chain_heads(fb_store_t *self, int (*fn)(void *arg, const char *origin, uint64_t seq, const uint8_t *hash),
                         void *arg)
{
    s_drop_ahead(self);
    return fb_proofs_load_heads(self->conn, fn, arg, self->error, sizeof(self->error)) == 0 ? FB_OK : FB_ESTORE;
}

void fb_store_set_extra(fb_store_t *self, const char *sql)
{
    self->extra = sql;
}

/* Writes rows in one COPY: in the COPY sent ahead when there is one (*ahead
 * is set then), else in a new one. Returns as fb_store_append(). */
static int s_append_once(fb_store_t *self, const fb_store_row_t *rows, size_t n, int *ahead)
{
    char *heads = NULL;
    int rc = FB_ESTORE;
    PGresult *r = NULL;
    /* Most batches are one COPY in its own transaction: two round trips,
     * and it commits when the data ends. Once per heads-interval the batch
     * also writes the heads, in one transaction with the rows. Under load
     * the COPY was sent ahead, right after the batch before committed, and
     * only its answer is waited for here. */
    const char *extra = self->extra && *self->extra ? self->extra : NULL;
    self->extra_last = extra != NULL;
    /* Extra statements need a transaction: a COPY sent ahead without one is
     * closed, and the batch opens its own. */
    if (extra && self->ahead == S_AHEAD_COPY) s_drop_ahead(self);
    *ahead = self->ahead != 0;
    int with_heads = self->ahead ? self->ahead == S_AHEAD_BEGIN : s_heads_due(self);
    int with_tx = self->ahead ? self->ahead == S_AHEAD_BEGIN : with_heads || extra;
    if ((!self->copy && !(self->copy = fb_copy_new(s_put_data, self))) ||
        (with_heads && !(heads = s_heads_sql(self)))) {
        snprintf(self->error, sizeof(self->error), "out of memory encoding a batch");
        s_drop_ahead(self);
        return FB_ESTORE;
    }
    if (self->ahead) {
        self->ahead = 0;
        if (s_await_copy(self) != 0) goto error;
    } else {
        r = PQexec(self->conn, with_tx ? "BEGIN; " FB_COPY_SQL : FB_COPY_SQL);
        if (PQresultStatus(r) != PGRES_COPY_IN) {
            s_set_error(self, "starting COPY", r);
            goto error;
        }
        PQclear(r);
        r = NULL;
    }
    if (fb_copy_rows(self->copy, rows, n) != 0) {
        /* Nothing of it is stored: the server fails the COPY (and its
         * transaction). */
        PQputCopyEnd(self->conn, "fedbus: sending the batch failed");
        goto error;
    }
    if (PQputCopyEnd(self->conn, NULL) != 1) {
        s_set_error(self, "ending COPY data", NULL);
        goto error;
    }
    if (self->on_sent) self->on_sent(self->on_sent_arg);
    r = PQgetResult(self->conn);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "23505") == 0) rc = FB_ECONFLICT;
        s_set_error(self, "COPY", r);
        goto error;
    }
    PQclear(r);
    while ((r = PQgetResult(self->conn)) != NULL) PQclear(r);
    /* The extra statements, the heads upsert and COMMIT go as one message;
     * a failure in it aborts the transaction: nothing is stored. */
    if (with_tx && s_finish_tx(self, extra, with_heads ? heads : "COMMIT")) goto error;
    free(heads);
    if (with_heads) s_heads_written(self);
    else if (s_heads_commit(self) != 0) {
        /* Stored, but the heads to write later could not be kept: write
         * them with the next batch, whatever the interval. */
        self->heads_written_us = 0;
    }
    if (self->send_ahead) s_send_ahead(self);
    return FB_OK;
error:
    if (r) PQclear(r);
    while ((r = PQgetResult(self->conn)) != NULL) PQclear(r);
    if (with_tx && PQstatus(self->conn) == CONNECTION_OK) PQclear(PQexec(self->conn, "ROLLBACK"));
    free(heads);
    return rc;
}

/* A batch with no row to store but extra statements (the seals of frames
 * that held only duplicates): those alone, in a transaction of their own. */
static int s_extra_only(fb_store_t *self)
{
    s_drop_ahead(self);
    if (s_exec(self, "BEGIN", PGRES_COMMAND_OK) == 0 && s_finish_tx(self, self->extra, "COMMIT") == 0) return FB_OK;
    if (PQstatus(self->conn) == CONNECTION_OK) PQclear(PQexec(self->conn, "ROLLBACK"));
    return FB_ESTORE;
}

int fb_store_append(fb_store_t *self, const fb_store_row_t *rows, size_t n)
{
    if (n == 0) return self->extra && *self->extra ? s_extra_only(self) : FB_OK;
    self->nbatch = 0;
    fb_map_clear(self->batch_at);
    size_t run = 0; /* the head the row before set: rows come in runs of one origin */
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(self->batch[run].origin, rows[i].origin) == 0) {
            fb_store_head_t *h = &self->batch[run];
            if (rows[i].origin_seq > h->origin_seq) h->origin_seq = rows[i].origin_seq;
            h->global_seq = rows[i].global_seq;
            h->stored_at_us = rows[i].stored_at_us;
            continue;
        }
        if (s_head_put(&self->batch, &self->nbatch, &self->cap_batch, self->batch_at, rows[i].origin,
                       rows[i].origin_seq, rows[i].global_seq, rows[i].stored_at_us, &run) != 0) {
            snprintf(self->error, sizeof(self->error), "out of memory encoding a batch");
            s_drop_ahead(self);
            return FB_ESTORE;
        }
    }
    int ahead, rc = s_append_once(self, rows, n, &ahead);
    /* A COPY sent ahead may have gone stale meanwhile (the server ended
     * it): nothing was stored, so the batch goes again, in a COPY of its
     * own. A conflict is the batch's, not the COPY's. */
    if (rc == FB_ESTORE && ahead && PQstatus(self->conn) == CONNECTION_OK)
        rc = s_append_once(self, rows, n, &ahead);
    return rc;
}

int fb_store_write_heads(fb_store_t *self)
{
    s_drop_ahead(self);
    if (self->npending == 0) return FB_OK;
    self->nbatch = 0;
    fb_map_clear(self->batch_at);
    char *heads = s_heads_sql(self);
    if (!heads) {
        snprintf(self->error, sizeof(self->error), "out of memory");
        return FB_ESTORE;
    }
    /* s_heads_sql ends in "; COMMIT": open the transaction it closes. */
    int rc = s_exec(self, "BEGIN", PGRES_COMMAND_OK) || s_exec(self, heads, PGRES_COMMAND_OK);
    free(heads);
    if (rc) {
        if (PQstatus(self->conn) == CONNECTION_OK) PQclear(PQexec(self->conn, "ROLLBACK"));
        return FB_ESTORE;
    }
    s_heads_written(self);
    return FB_OK;
}

void fb_store_set_heads_interval(fb_store_t *self, int64_t ms)
{
    self->heads_interval_us = ms * 1000;
}
