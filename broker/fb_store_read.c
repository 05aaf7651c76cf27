/* fb_store_read.c — the store's reads: duplicate look-ups and replay pages, checked against the retention horizon. */
#include "fb_store.h"

#include "fb_store_int.h"
#include "fb_proofs.h"
#include "fb_time.h"
#include "fedbus/fedbus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SEQMAP_EVERY_US 10000000 /* the partition map is read again after 10 s... */
#define S_SEQMAP_AHEAD_US 1000000   /* ...or after 1 s when a page reaches past it */

/* ---------------------------------------------------------- lookups ----- */

static void s_uuid_text(const uint8_t *id, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 15];
    }
    out[32] = '\0';
}

int fb_store_lookup(fb_store_t *self, const fb_store_key_t *keys, size_t n, fb_store_found_t *found)
{
    fb_store_settle(self);
    if (n == 0) return FB_OK;
    size_t olen = 3, ilen = 3;
    for (size_t i = 0; i < n; i++) olen += strlen(keys[i].origin) + 1, ilen += 33;
    char *origins = malloc(olen), *ids = malloc(ilen);
    if (!origins || !ids) {
        free(origins);
        free(ids);
        return FB_ENOMEM;
    }
    char *o = origins, *d = ids;
    *o++ = '{';
    *d++ = '{';
    for (size_t i = 0; i < n; i++) {
        o += sprintf(o, "%s%s", i ? "," : "", keys[i].origin);
        if (i) *d++ = ',';
        s_uuid_text(keys[i].message_id, d);
        d += 32;
        found[i].found = 0;
    }
    strcpy(o, "}");
    strcpy(d, "}");
    const char *params[2] = {origins, ids};
    PGresult *r = PQexecParams(self->conn,
                               "SELECT k.i, m.global_seq, m.origin_seq, m.content_hash, m.stored_at "
                               "FROM unnest($1::text[], $2::uuid[]) WITH ORDINALITY AS k(origin, id, i) "
                               "JOIN fedbus_messages m ON m.origin = k.origin AND m.message_id = k.id",
                               2, NULL, params, NULL, NULL, 1);
    free(origins);
    free(ids);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fb_store_fail(self, "looking up duplicates", r);
        PQclear(r);
        return FB_ESTORE;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        uint64_t idx = fb_store_be64(PQgetvalue(r, row, 0));
        if (idx < 1 || idx > n || PQgetlength(r, row, 3) != 32) continue;
        fb_store_found_t *f = &found[idx - 1];
        f->found = 1;
        f->global_seq = fb_store_be64(PQgetvalue(r, row, 1));
        f->origin_seq = fb_store_be64(PQgetvalue(r, row, 2));
        f->stored_at_us = (int64_t)fb_store_be64(PQgetvalue(r, row, 4)) + FB_COPY_PG_EPOCH_US;
        memcpy(f->hash, PQgetvalue(r, row, 3), 32);
    }
    PQclear(r);
    return FB_OK;
}

/* ------------------------------------------------------ partition map --- */

/* Reads the partitions of fedbus_messages and their bounds (rows with
 * oid::regclass, bound, oid), then in one statement, so in one snapshot,
 * their lowest and highest global_seq and the list of partitions again:
 * a partition made or dropped in between leaves the map empty until the
 * next read. Returns 0 with self->seqmap filled, or -1 with it empty. */
static int s_seqmap_read(fb_store_t *self)
{
    fb_seqmap_clear(&self->seqmap);
    PGresult *l = PQexec(self->conn,
                         "SELECT c.oid::regclass::text, pg_get_expr(c.relpartbound, c.oid), c.oid::text"
                         " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                         " WHERE i.inhparent = 'fedbus_messages'::regclass ORDER BY c.oid");
    int n = PQresultStatus(l) == PGRES_TUPLES_OK ? PQntuples(l) : -1;
    size_t size = 512, oids = 1;
    for (int i = 0; i < n; i++) size += 2 * strlen(PQgetvalue(l, i, 0)) + 96, oids += strlen(PQgetvalue(l, i, 2)) + 1;
    char *sql = n > 0 ? malloc(size + oids) : NULL, *list = sql ? sql + size : NULL;
    fb_seqmap_part_t *parts = n > 0 ? calloc((size_t)n, sizeof(*parts)) : NULL;
    PGresult *r = NULL;
    int rc = -1;
    if (!sql || !parts) goto done;
    char *q = sql + sprintf(sql, "SELECT (SELECT string_agg(inhrelid::text, ',' ORDER BY inhrelid) FROM pg_inherits"
                                 " WHERE inhparent = 'fedbus_messages'::regclass),"
                                 " coalesce((SELECT max(global_seq) FROM fedbus_messages), 0)");
    list[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (fb_seqmap_parse_bound(PQgetvalue(l, i, 1), &parts[i]) != 0) goto done;
        q += sprintf(q, ", (SELECT min(global_seq) FROM %s), (SELECT max(global_seq) FROM %s)", PQgetvalue(l, i, 0),
                     PQgetvalue(l, i, 0));
        strcat(strcat(list, i ? "," : ""), PQgetvalue(l, i, 2));
    }
    r = PQexec(self->conn, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), list) != 0)
        goto done;
    for (int i = 0; i < n; i++) {
        parts[i].empty = PQgetisnull(r, 0, 2 + 2 * i);
        parts[i].min_seq = strtoull(PQgetvalue(r, 0, 2 + 2 * i), NULL, 10);
        parts[i].max_seq = strtoull(PQgetvalue(r, 0, 3 + 2 * i), NULL, 10);
    }
    self->seqmap.parts = parts;
    self->seqmap.n = (size_t)n;
    self->seqmap.head = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
    self->seqmap.read_us = fb_time_mono_us();
    parts = NULL;
    rc = 0;
done:
    PQclear(r);
    PQclear(l);
    free(parts);
    free(sql);
    return rc;
}

/* Writes into lo / hi the message_id range of the rows of [from, to)
 * (fb_seqmap_bounds()), reading the map again when it is old or the page
 * reaches past it; returns 1 when bounded. */
static int s_seqmap_bounds(fb_store_t *self, uint64_t from, uint64_t to, char *lo, char *hi)
{
    int64_t now = fb_time_mono_us(), since = now - self->seqmap_tried_us;
    int past = to == 0 || to - 1 > self->seqmap.head;
    if (!self->seqmap_tried_us || since >= S_SEQMAP_EVERY_US || (past && since >= S_SEQMAP_AHEAD_US)) {
        self->seqmap_tried_us = now;
        s_seqmap_read(self);
    }
    return fb_seqmap_bounds(&self->seqmap, from, to, lo, hi);
}

#define S_PAGE_STMT "fedbus_page"

/* Sends the page query (EXPLAIN of it when explain): rows of [from_seq,
 * to_seq) in global_seq order, each prefix as a byte range [p, p with its
 * last byte + 1) that the (topic, global_seq) index serves (topics and
 * prefixes are [a-z0-9.-]: the last byte never overflows). The retention
 * horizon comes in the same statement, so in the same snapshot as the
 * rows: a partition dropped meanwhile is either still read or reported as
 * dropped, never silently missing. Every row carries it; with no message,
 * one row of it alone. fedbus_retention holds one row, so the nested loop
 * yields the inner rows in their order (an outer ORDER BY would sort the
 * envelopes, megabytes of them, for nothing). */
static PGresult *s_page_query(fb_store_t *self, int explain, uint64_t from_seq, uint64_t to_seq,
                              int64_t since_us, const char *const *prefixes, size_t nprefixes, unsigned max)
{
    char num[4][24];
    size_t np = 4 + 2 * nprefixes, blen = 0;
    for (size_t i = 0; i < nprefixes; i++) blen += strlen(prefixes[i]) + 1;
    const char **params = malloc(np * sizeof(*params) + blen + 1200 + nprefixes * 48);
    if (!params) return NULL;
    char *n = (char *)(params + np), *sql = n + blen;
    snprintf(num[0], 24, "%llu", (unsigned long long)from_seq);
    snprintf(num[1], 24, "%llu", (unsigned long long)(to_seq && to_seq <= INT64_MAX ? to_seq : INT64_MAX));
    snprintf(num[2], 24, "%lld", (long long)since_us);
    snprintf(num[3], 24, "%u", max);
    params[0] = num[0], params[1] = num[1], params[2] = num[2], params[3] = num[3];
    char *q = sql + sprintf(sql, "%sSELECT m.envelope, m.global_seq, h.horizon_seq,"
                                 " coalesce((extract(epoch FROM h.horizon_at) * 1000000)::bigint, 0)"
                                 " FROM fedbus_retention h LEFT JOIN LATERAL ("
                                 "SELECT envelope, global_seq FROM fedbus_messages WHERE global_seq >= $1::bigint"
                                 " AND global_seq < $2::bigint"
                                 " AND ($3::bigint = 0 OR stored_at >= to_timestamp($3::bigint / 1e6))",
                            explain ? "EXPLAIN " : "");
    for (size_t i = 0; i < nprefixes; i++) {
        size_t len = strlen(prefixes[i]);
        memcpy(n, prefixes[i], len + 1);
        n[len - 1]++;
        params[4 + 2 * i] = prefixes[i];
        params[5 + 2 * i] = n;
        n += len + 1;
        q += sprintf(q, "%s(topic >= $%zu AND topic < $%zu)", i ? " OR " : " AND (", 5 + 2 * i, 6 + 2 * i);
    }
    if (nprefixes) q += sprintf(q, ")");
    /* Planned for these prefixes anyway: with the range of ids that holds
     * the window (constants), only the partitions that can hold it are
     * planned and read. */
    char lo[FB_SEQMAP_UUID], hi[FB_SEQMAP_UUID];
    if (nprefixes && s_seqmap_bounds(self, from_seq, to_seq, lo, hi)) {
        if (lo[0]) q += sprintf(q, " AND message_id >= '%s'::uuid", lo);
        if (hi[0]) q += sprintf(q, " AND message_id < '%s'::uuid", hi);
    }
    sprintf(q, " ORDER BY global_seq LIMIT $4::int) m ON true");
    PGresult *r;
    if (explain || nprefixes) {
        /* Planned for the prefixes given: how many rows a prefix matches
         * decides between the topic index and the global_seq one. */
        r = PQexecParams(self->conn, sql, (int)np, NULL, params, NULL, NULL, explain ? 0 : 1);
    } else {
        /* Without prefixes the plan never changes, and planning it is most
         * of a page's cost once the table has a few dozen partitions (about
         * 2 ms of 2.5 with 45): planned once per connection. */
        r = NULL;
        if (!self->page_prepared) {
            r = PQprepare(self->conn, S_PAGE_STMT, sql, (int)np, NULL);
            self->page_prepared = PQresultStatus(r) == PGRES_COMMAND_OK;
        }
        if (self->page_prepared) {
            PQclear(r);
            r = PQexecPrepared(self->conn, S_PAGE_STMT, (int)np, params, NULL, NULL, 1);
        }
    }
    free(params);
    return r;
}

int fb_store_page(fb_store_t *self, uint64_t from_seq, uint64_t to_seq, int64_t since_us,
                  const char *const *prefixes, size_t nprefixes, unsigned max,
                  void (*fn)(const fb_store_page_t *page, void *arg), void *arg)
{
    const uint8_t *envs[FB_STORE_PAGE_MAX];
    size_t lens[FB_STORE_PAGE_MAX];
    uint64_t seqs[FB_STORE_PAGE_MAX];
    if (max > FB_STORE_PAGE_MAX) max = FB_STORE_PAGE_MAX;
    if (from_seq > INT64_MAX) from_seq = INT64_MAX; /* nothing is stored there */
    PGresult *r = s_page_query(self, 0, from_seq, to_seq, since_us, prefixes, nprefixes, max);
    /* A connection the server dropped still reads as OK until a query fails on it: reconnect, ask again. */
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQstatus(self->conn) != CONNECTION_OK && fb_store_reconnect(self) == 0) {
        PQclear(r);
        r = s_page_query(self, 0, from_seq, to_seq, since_us, prefixes, nprefixes, max);
    }
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
        fb_store_fail(self, "replay", r);
        PQclear(r);
        return -1;
    }
    self->page_horizon_seq = fb_store_be64(PQgetvalue(r, 0, 2));
    self->page_horizon_us = (int64_t)fb_store_be64(PQgetvalue(r, 0, 3));
    if (from_seq < self->page_horizon_seq || (since_us && since_us < self->page_horizon_us)) {
        snprintf(self->error, sizeof(self->error), "replay: from_seq %llu is beyond retention",
                 (unsigned long long)from_seq);
        PQclear(r);
        return FB_STORE_PAGE_BEYOND;
    }
    int n = PQgetisnull(r, 0, 0) ? 0 : PQntuples(r);
    for (int i = 0; i < n; i++) {
        envs[i] = (const uint8_t *)PQgetvalue(r, i, 0);
        lens[i] = (size_t)PQgetlength(r, i, 0);
        seqs[i] = fb_store_be64(PQgetvalue(r, i, 1));
    }
    fb_store_page_t page = {envs, lens, seqs, (size_t)n, n ? seqs[n - 1] : 0};
    fn(&page, arg);
    PQclear(r);
    return n;
}

void fb_store_page_horizon(const fb_store_t *self, uint64_t *horizon_seq, int64_t *horizon_us)
{
    *horizon_seq = self->page_horizon_seq;
    *horizon_us = self->page_horizon_us;
}

int fb_store_page_plan(fb_store_t *self, uint64_t from_seq, uint64_t to_seq, int64_t since_us,
                       const char *const *prefixes, size_t nprefixes, char *out, size_t out_size)
{
    PGresult *r = s_page_query(self, 1, from_seq, to_seq, since_us, prefixes, nprefixes, 256);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; ok && i < PQntuples(r) && at < out_size; i++)
        at += (size_t)snprintf(out + at, out_size - at, "%s\n", PQgetvalue(r, i, 0));
    if (!ok) fb_store_fail(self, "replay plan", r);
    PQclear(r);
    return ok ? 0 : -1;
}

int fb_store_seal_proofs(fb_store_t *self, const char *const *origins, const uint64_t *seqs, size_t n,
                         void (*fn)(void *arg, const struct fb_proofs_seal *seal), void *arg)
{
    return fb_proofs_covering(self->conn, origins, seqs, n, fn, arg, self->error, sizeof(self->error)) ? FB_ESTORE : FB_OK;
}

int fb_store_topics_of(fb_store_t *self, const char *origin, uint64_t origin_seq, uint64_t global_seq,
                       int (*fn)(void *arg, const char *topic), void *arg)
{
    char seq[24], gseq[24];
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long)(origin_seq <= INT64_MAX ? origin_seq : INT64_MAX));
    snprintf(gseq, sizeof(gseq), "%llu", (unsigned long long)(global_seq <= INT64_MAX ? global_seq : INT64_MAX));
    const char *p[] = {origin, seq, gseq};
    PGresult *r = PQexecParams(self->conn,
                               global_seq ? "SELECT topic FROM fedbus_messages WHERE global_seq = $3::bigint"
                                            " AND origin = $1 AND origin_seq = $2::bigint"
                                          : "SELECT topic FROM fedbus_messages WHERE origin = $1"
                                            " AND origin_seq = $2::bigint AND $3::bigint = 0",
                               3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fb_store_fail(self, "looking up an envelope by origin_seq", r);
        PQclear(r);
        return -1;
    }
    int found = 0;
    for (int i = 0; i < PQntuples(r) && !found; i++) found = fn(arg, PQgetvalue(r, i, 0)) != 0;
    PQclear(r);
    return found;
}
