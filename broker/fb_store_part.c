/* fb_store_part.c — the partitions of fedbus_messages: listed, made, dropped, with the retention horizon they leave.
 *
 * Part of the store (libpq appears only in its files); the policy of which
 * partitions to make and drop, and when, is fb_retention's. Each change is
 * one transaction under the connection's lock_timeout, so that a change that
 * would wait on other sessions' locks gives up soon and is tried again by
 * the caller instead of holding everyone behind it. */
#include "fb_store.h"

#include "fb_crypto.h"
#include "fb_store_int.h"
#include "fb_time.h"
#include "fedbus/fedbus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "FROM ('u')" / "(MINVALUE)": the Unix milliseconds of a bound in
 * pg_get_expr()'s text at p (which points at the opening parenthesis), for
 * a lower bound (lower = 1: ids at or after) or an upper one (ids before:
 * a bound with bits after its milliseconds also covers ids of that
 * millisecond). Returns 0, or -1 when the text is not a bound. */
static int s_bound_ms(const char *p, int lower, int64_t *ms)
{
    if (strncmp(p, "(MINVALUE)", 10) == 0) return *ms = INT64_MIN, 0;
    if (strncmp(p, "(MAXVALUE)", 10) == 0) return *ms = INT64_MAX, 0;
    if (strncmp(p, "('", 2) != 0) return -1;
    uint8_t id[16];
    char text[37];
    snprintf(text, sizeof(text), "%.36s", p + 2);
    if (fb_uuid_parse(text, id) != 0) return -1;
    int rest = 0;
    for (int i = 6; i < 16; i++) rest |= id[i];
    *ms = fb_uuid_v7_ms(id) + (!lower && rest ? 1 : 0);
    return 0;
}

/* Fills *part from a partition's name and pg_get_expr(relpartbound);
 * returns 0, or -1 for a bound it cannot read. */
static int s_part(const char *name, const char *bound, fb_store_part_t *part)
{
    memset(part, 0, sizeof(*part));
    snprintf(part->name, sizeof(part->name), "%s", name);
    if (strcmp(bound, "DEFAULT") == 0) {
        part->is_default = 1;
        return 0;
    }
    const char *from = strstr(bound, "FROM ("), *to = strstr(bound, " TO (");
    if (!from || !to || s_bound_ms(from + 5, 1, &part->lo_ms) || s_bound_ms(to + 4, 0, &part->hi_ms)) return -1;
    return 0;
}

int fb_store_parts(fb_store_t *self, fb_store_part_t **parts, size_t *n)
{
    fb_store_settle(self);
    *parts = NULL;
    *n = 0;
    PGresult *r = PQexec(self->conn,
                         "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
                         " JOIN pg_class c ON c.oid = i.inhrelid"
                         " WHERE i.inhparent = 'fedbus_messages'::regclass ORDER BY c.relname");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fb_store_fail(self, "listing partitions", r);
        PQclear(r);
        return FB_ESTORE;
    }
    int rows = PQntuples(r);
    *parts = calloc(rows ? (size_t)rows : 1, sizeof(**parts));
    if (!*parts) {
        PQclear(r);
        snprintf(self->error, sizeof(self->error), "out of memory");
        return FB_ENOMEM;
    }
    for (int i = 0; i < rows; i++)
        if (s_part(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), &(*parts)[*n]) == 0) (*n)++;
    PQclear(r);
    return FB_OK;
}

int fb_store_set_lock_timeout(fb_store_t *self, int ms)
{
    char sql[64];
    self->lock_timeout_ms = ms;
    snprintf(sql, sizeof(sql), "SET lock_timeout = %d", ms);
    return fb_store_exec(self, sql, PGRES_COMMAND_OK);
}

/* The UUID text of the first id of millisecond ms (ms << 80, the rest 0). */
static void s_bound_text(int64_t ms, char out[37])
{
    uint8_t id[16];
    fb_uuid_of_ms(ms, id);
    fb_uuid_format(id, out);
}

/* Runs sql (no result rows); on failure ends the transaction. Returns 0 or -1. */
static int s_step(fb_store_t *self, const char *sql)
{
    if (fb_store_exec(self, sql, PGRES_COMMAND_OK) == 0) return 0;
    if (PQstatus(self->conn) == CONNECTION_OK) PQclear(PQexec(self->conn, "ROLLBACK"));
    return -1;
}

/* Runs sql returning one row of bigints (NULL as 0) into out[0..n); 0 or
 * -1 (then a transaction the caller is in, in_tx, is ended). */
static int s_row(fb_store_t *self, int in_tx, const char *sql, const char *what, int64_t *out, int n)
{
    PGresult *r = PQexec(self->conn, sql);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) >= n;
    for (int i = 0; ok && i < n; i++) out[i] = PQgetisnull(r, 0, i) ? 0 : strtoll(PQgetvalue(r, 0, i), NULL, 10);
    if (!ok) {
        fb_store_fail(self, what, r);
        if (in_tx && PQstatus(self->conn) == CONNECTION_OK) PQclear(PQexec(self->conn, "ROLLBACK"));
    }
    PQclear(r);
    return ok ? 0 : -1;
}

int fb_store_part_create(fb_store_t *self, const char *name, int64_t lo_ms, int64_t hi_ms, int64_t *moved)
{
    char lo[37], hi[37], sql[1024];
    fb_store_settle(self);
    *moved = 0;
    char *id = PQescapeIdentifier(self->conn, name, strlen(name));
    if (!id) {
        fb_store_fail(self, "naming a partition", NULL);
        return FB_ESTORE;
    }
    s_bound_text(lo_ms, lo);
    s_bound_text(hi_ms, hi);
    /* Made apart and then attached: ATTACH takes only a SHARE UPDATE
     * EXCLUSIVE lock on fedbus_messages, which COPY and SELECT do not
     * wait for (CREATE TABLE ... PARTITION OF would take ACCESS EXCLUSIVE);
     * it locks and reads the default partition, to see that none of its
     * rows belongs here: those that do move first. */
    int rc = FB_ESTORE;
    snprintf(sql, sizeof(sql),
             "BEGIN; CREATE TABLE %s (LIKE fedbus_messages INCLUDING DEFAULTS INCLUDING STORAGE"
             " INCLUDING COMPRESSION INCLUDING CONSTRAINTS)",
             id);
    if (s_step(self, sql) != 0) goto done;
    snprintf(sql, sizeof(sql),
             "WITH moved AS (DELETE FROM fedbus_messages_default WHERE message_id >= '%s' AND message_id < '%s'"
             " RETURNING *), ins AS (INSERT INTO %s SELECT * FROM moved RETURNING 1) SELECT count(*) FROM ins",
             lo, hi, id);
    if (s_row(self, 1, sql, "moving rows from the default partition", moved, 1) != 0) goto done;
    snprintf(sql, sizeof(sql), "ALTER TABLE fedbus_messages ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')",
             id, lo, hi);
    if (s_step(self, sql) != 0 || s_step(self, "COMMIT") != 0) goto done;
    rc = FB_OK;
done:
    PQfreemem(id);
    return rc;
}

int fb_store_part_info(fb_store_t *self, const fb_store_part_t *part, int count, fb_store_part_info_t *info)
{
    char sql[512];
    int64_t v[3];
    fb_store_settle(self);
    char *id = PQescapeIdentifier(self->conn, part->name, strlen(part->name));
    if (!id) {
        fb_store_fail(self, "naming a partition", NULL);
        return FB_ESTORE;
    }
    /* The newest row by global_seq is the last stored (stored_at grows
     * with it): an index probe, not a scan. Counting is one. */
    snprintf(sql, sizeof(sql),
             "SELECT m.global_seq, (extract(epoch FROM m.stored_at) * 1000000)::bigint, %s%s%s"
             " FROM (SELECT 1) one LEFT JOIN (SELECT global_seq, stored_at FROM %s ORDER BY global_seq DESC LIMIT 1) m"
             " ON true",
             count ? "(SELECT count(*) FROM " : "-1", count ? id : "", count ? ")" : "", id);
    PQfreemem(id);
    if (s_row(self, 0, sql, "reading a partition", v, 3) != 0) return FB_ESTORE;
    info->max_seq = (uint64_t)v[0];
    info->newest_stored_us = v[1];
    info->rows = v[2];
    return FB_OK;
}

/* The name a partition takes when it is detached to be dropped:
 * fedbus_dropped_ and what follows fedbus_messages_ in its name. */
static void s_dropped_name(const char *name, char *out, size_t size)
{
    const char *tail = strncmp(name, "fedbus_messages_", 16) == 0 ? name + 16 : name;
    snprintf(out, size, "%s%.*s", FB_STORE_DROPPED_PREFIX, 63 - (int)strlen(FB_STORE_DROPPED_PREFIX), tail);
}

int fb_store_drop_detached(fb_store_t *self, size_t *dropped)
{
    fb_store_settle(self);
    *dropped = 0;
    PGresult *r = PQexec(self->conn, "SELECT relname FROM pg_class WHERE relname LIKE 'fedbus\\_dropped\\_%'"
                                     " AND relkind = 'r' AND NOT relispartition");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fb_store_fail(self, "listing detached partitions", r);
        PQclear(r);
        return FB_ESTORE;
    }
    int rc = FB_OK;
    for (int i = 0; i < PQntuples(r) && rc == FB_OK; i++) {
        char sql[128], *id = PQescapeIdentifier(self->conn, PQgetvalue(r, i, 0), strlen(PQgetvalue(r, i, 0)));
        if (!id) rc = FB_ESTORE;
        else {
            snprintf(sql, sizeof(sql), "DROP TABLE %s", id);
            PQfreemem(id);
            if (fb_store_exec(self, sql, PGRES_COMMAND_OK) == 0) (*dropped)++;
            else rc = FB_ESTORE;
        }
    }
    PQclear(r);
    return rc;
}

/* In the transaction of fb_store_part_drop(): reads part again under the
 * lock and, when its newest row is still older than cut_us, detaches it
 * and renames it for fb_store_drop_detached(). Returns 1 when it did, 0
 * when the partition stays, -1 on failure (the transaction ended). */
static int s_detach(fb_store_t *self, const fb_store_part_t *part, int64_t cut_us, uint64_t *max_seq)
{
    char sql[512], gone[64];
    int64_t v[2];
    char *id = PQescapeIdentifier(self->conn, part->name, strlen(part->name));
    s_dropped_name(part->name, gone, sizeof(gone));
    char *to = PQescapeIdentifier(self->conn, gone, strlen(gone));
    int rc = -1;
    if (!id || !to) {
        fb_store_fail(self, "naming a partition", NULL);
        PQclear(PQexec(self->conn, "ROLLBACK"));
        goto done;
    }
    snprintf(sql, sizeof(sql),
             "SELECT m.global_seq, (extract(epoch FROM m.stored_at) * 1000000)::bigint FROM (SELECT 1) one"
             " LEFT JOIN (SELECT global_seq, stored_at FROM %s ORDER BY global_seq DESC LIMIT 1) m ON true",
             id);
    if (s_row(self, 1, sql, "reading a partition", v, 2) != 0) goto done;
    /* A row stored since the caller looked (within the retention window
     * by its store time) keeps the partition for now. */
    rc = 0;
    if (v[1] >= cut_us) goto done;
    snprintf(sql, sizeof(sql), "ALTER TABLE fedbus_messages DETACH PARTITION %s; ALTER TABLE %s RENAME TO %s", id, id,
             to);
    rc = s_step(self, sql) == 0 ? 1 : -1;
    if ((uint64_t)v[0] > *max_seq) *max_seq = (uint64_t)v[0];
done:
    PQfreemem(id);
    PQfreemem(to);
    return rc;
}

int fb_store_part_drop(fb_store_t *self, const fb_store_part_t *parts, const fb_store_part_info_t *infos,
                       size_t n, int64_t cut_us, fb_store_drop_t *out)
{
    memset(out, 0, sizeof(*out));
    fb_store_settle(self);
    /* Every row that reaches a partition before the lock is in it when
     * its highest global_seq is read below; none reaches it after. Under
     * the lock the partitions are only detached, which is quick: dropping
     * them (their files go at COMMIT, some 100 ms for a million rows)
     * comes after, when no one waits for it. */
    int64_t t0 = fb_time_mono_us();
    if (s_step(self, "BEGIN; LOCK TABLE fedbus_messages IN ACCESS EXCLUSIVE MODE") != 0) return FB_ESTORE;
    int64_t t1 = fb_time_mono_us();
    uint64_t max_seq = 0;
    int64_t rows = 0, ids_from_ms = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        int rc = s_detach(self, &parts[i], cut_us, &max_seq);
        if (rc < 0) return FB_ESTORE;
        if (rc == 0) continue;
        out->partitions++;
        rows += infos[i].rows;
        if (parts[i].hi_ms > ids_from_ms) ids_from_ms = parts[i].hi_ms;
    }
    if (!out->partitions) {
        PQclear(PQexec(self->conn, "ROLLBACK"));
        return FB_OK;
    }
    char upd[512];
    snprintf(upd, sizeof(upd),
             "UPDATE fedbus_retention SET horizon_seq = greatest(horizon_seq, %llu),"
             " horizon_at = greatest(coalesce(horizon_at, '-infinity'), to_timestamp(%lld / 1e6)),"
             " ids_from = greatest(coalesce(ids_from, '-infinity'), to_timestamp(%lld / 1e3)),"
             " dropped_partitions = dropped_partitions + %zu, dropped_rows = dropped_rows + %lld,"
             " updated_at = now()",
             (unsigned long long)max_seq + 1, (long long)cut_us, (long long)ids_from_ms, out->partitions,
             (long long)rows);
    if (s_step(self, upd) != 0 || s_step(self, "COMMIT") != 0) return FB_ESTORE;
    out->rows = rows;
    out->max_seq = max_seq;
    out->lock_wait_us = t1 - t0;
    out->held_us = fb_time_mono_us() - t1;
    /* The detached tables hold nothing anyone reads any more: a failure
     * here leaves them for the next pass. */
    size_t gone;
    fb_store_drop_detached(self, &gone);
    return FB_OK;
}

int fb_store_expire_default(fb_store_t *self, int64_t cut_us, int64_t *rows)
{
    char sql[768];
    int64_t v[2];
    fb_store_settle(self);
    *rows = 0;
    /* Only rows older brokers left (ids that are not UUIDv7) or that came
     * while no partition was there live here: a DELETE, which COPY does
     * not wait for. */
    snprintf(sql, sizeof(sql),
             "BEGIN; WITH gone AS (DELETE FROM fedbus_messages_default WHERE stored_at < to_timestamp(%lld / 1e6)"
             " RETURNING global_seq) SELECT count(*), max(global_seq) FROM gone",
             (long long)cut_us);
    if (s_row(self, 1, sql, "expiring the default partition", v, 2) != 0) return FB_ESTORE;
    if (v[0] == 0) return s_step(self, "ROLLBACK") == 0 ? FB_OK : FB_ESTORE;
    snprintf(sql, sizeof(sql),
             "UPDATE fedbus_retention SET horizon_seq = greatest(horizon_seq, %lld),"
             " horizon_at = greatest(coalesce(horizon_at, '-infinity'), to_timestamp(%lld / 1e6)),"
             " dropped_rows = dropped_rows + %lld, updated_at = now(); COMMIT",
             (long long)v[1] + 1, (long long)cut_us, (long long)v[0]);
    if (s_step(self, sql) != 0) return FB_ESTORE;
    *rows = v[0];
    return FB_OK;
}

int fb_store_horizon(fb_store_t *self, fb_store_horizon_t *h)
{
    int64_t v[5];
    fb_store_settle(self);
    if (s_row(self, 0,
              "SELECT horizon_seq, coalesce((extract(epoch FROM horizon_at) * 1000000)::bigint, 0),"
              " coalesce((extract(epoch FROM ids_from) * 1000)::bigint, 0), dropped_partitions, dropped_rows"
              " FROM fedbus_retention",
              "reading the retention horizon", v, 5) != 0)
        return FB_ESTORE;
    h->horizon_seq = (uint64_t)v[0];
    h->horizon_us = v[1];
    h->ids_from_ms = v[2];
    h->dropped_partitions = v[3];
    h->dropped_rows = v[4];
    return FB_OK;
}
