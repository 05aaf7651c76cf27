/* fb_archive_pg.c — seals and envelopes streamed out of PostgreSQL, row by row. */
#include "fb_archive_pg.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The selected envelopes: $1 origin, $2 since, $3 until (each NULL: any). */
#define S_SELECTED                                                                                                 \
    " FROM fedbus_messages m WHERE ($1::text IS NULL OR m.origin = $1) AND ($2::timestamptz IS NULL OR"            \
    " m.stored_at >= $2) AND ($3::timestamptz IS NULL OR m.stored_at < $3)"

static const char s_seals_sql[] =
    "WITH r AS (SELECT m.origin, min(m.origin_seq) AS lo, max(m.origin_seq) AS hi" S_SELECTED " GROUP BY m.origin)"
    " SELECT s.origin, s.first_seq, s.last_seq, encode(s.root, 'hex'), encode(s.key_id, 'hex'), s.signed_at_us,"
    " encode(s.signature, 'hex'), encode(s.entries, 'hex'), array_to_string(s.seqs, ','), s.head_seq"
    " FROM fedbus_seals s JOIN r ON s.origin = r.origin AND s.last_seq >= r.lo AND s.first_seq <= r.hi"
    " ORDER BY s.origin, s.first_seq, s.signed_at_us";

static const char s_envelopes_sql[] = "SELECT m.global_seq, encode(m.envelope, 'hex')" S_SELECTED
                                      " ORDER BY m.global_seq";

static const char s_unstored_sql[] =
    "WITH r AS (SELECT m.origin, min(m.origin_seq) AS lo, max(m.origin_seq) AS hi" S_SELECTED " GROUP BY m.origin)"
    " SELECT u.reason, coalesce(u.original_seq, 0), encode(u.envelope, 'hex') FROM fedbus_unstored u"
    " JOIN r ON u.origin = r.origin AND u.origin_seq BETWEEN r.lo AND r.hi ORDER BY u.origin, u.origin_seq";

static int s_nibble(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Hex text into out (strlen/2 bytes); returns the byte count, or -1. */
static long s_unhex(const char *t, size_t tlen, uint8_t *out)
{
    if (tlen % 2) return -1;
    for (size_t i = 0; i < tlen; i += 2) {
        int a = s_nibble(t[i]), b = s_nibble(t[i + 1]);
        if (a < 0 || b < 0) return -1;
        out[i / 2] = (uint8_t)(a << 4 | b);
    }
    return (long)(tlen / 2);
}

/* Hex column c of row 0 into exactly want bytes (want 0: any length, into a
 * new buffer in *alloc). Returns the length, or -1. */
static long s_col(const PGresult *r, int c, uint8_t *out, size_t want, uint8_t **alloc)
{
    size_t tlen = (size_t)PQgetlength(r, 0, c);
    if (alloc && !(out = *alloc = malloc(tlen / 2 + 1))) return -1;
    if (!alloc && tlen != 2 * want) return -1;
    return s_unhex(PQgetvalue(r, 0, c), tlen, out);
}

/* One seal row into the sink. Returns 0, 1 for a row this fedbus cannot read (skipped), -1 to stop. */
static int s_seal_row(const PGresult *r, const fb_archive_sink_t *sink)
{
    fb_history_seal_t s;
    memset(&s, 0, sizeof(s));
    uint8_t *entries = NULL;
    uint64_t *seqs = NULL;
    int rc = 1;
    snprintf(s.seal.origin, sizeof(s.seal.origin), "%s", PQgetvalue(r, 0, 0));
    s.seal.first_seq = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
    s.seal.last_seq = strtoull(PQgetvalue(r, 0, 2), NULL, 10);
    s.seal.signed_at_us = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
    s.head_seq = strtoull(PQgetvalue(r, 0, 9), NULL, 10);
    long elen = s_col(r, 7, NULL, 0, &entries);
    if (s_col(r, 3, s.seal.root, FB_SHA256_LEN, NULL) < 0 || s_col(r, 4, s.seal.key_id, 8, NULL) < 0 ||
        s_col(r, 6, s.seal.signature, FB_ED25519_SIG_LEN, NULL) < 0 || elen < 0 || elen % FB_SHA256_LEN)
        goto done;
    s.n = (size_t)elen / FB_SHA256_LEN;
    if (!(seqs = malloc((s.n + 1) * sizeof(*seqs)))) goto done;
    const char *p = PQgetvalue(r, 0, 8);
    size_t k = 0;
    while (*p && k < s.n) {
        char *end;
        seqs[k++] = strtoull(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
    }
    if (k != s.n || *p) goto done;
    s.entries = (const uint8_t(*)[FB_SHA256_LEN])entries, s.seqs = seqs;
    rc = sink->seal(sink->arg, &s) == 0 ? 0 : -1;
done:
    free(entries);
    free(seqs);
    return rc;
}

static int s_envelope_row(const PGresult *r, const fb_archive_sink_t *sink)
{
    uint8_t *env = NULL;
    long len = s_col(r, 1, NULL, 0, &env);
    int rc = len < 0 ? 1 : sink->envelope(sink->arg, env, (size_t)len, strtoull(PQgetvalue(r, 0, 0), NULL, 10)) == 0 ? 0 : -1;
    free(env);
    return rc;
}

static int s_unstored_row(const PGresult *r, const fb_archive_sink_t *sink)
{
    uint8_t *env = NULL;
    long len = s_col(r, 2, NULL, 0, &env);
    fb_history_unstored_t u = {env, len < 0 ? 0 : (size_t)len, PQgetvalue(r, 0, 0),
                               strtoull(PQgetvalue(r, 0, 1), NULL, 10)};
    int rc = len < 0 ? 1 : sink->unstored(sink->arg, &u) == 0 ? 0 : -1;
    free(env);
    return rc;
}

/* Whether the database has fedbus_unstored (schema 9 on): 1, 0, or -1. */
static int s_has_unstored(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT to_regclass('fedbus_unstored') IS NOT NULL");
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? PQgetvalue(r, 0, 0)[0] == 't' : -1;
    PQclear(r);
    return rc;
}

/* fedbus_retention.ids_from into the sink (0 when there is none). Returns 0 or -1. */
static int s_ids_from(PGconn *c, const fb_archive_sink_t *sink)
{
    PGresult *r = PQexec(c, "SELECT CASE WHEN to_regclass('fedbus_retention') IS NULL THEN 0 ELSE (SELECT"
                            " coalesce((extract(epoch FROM max(ids_from)) * 1000)::bigint, 0) FROM fedbus_retention) END");
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? 0 : -1;
    if (rc == 0) rc = sink->ids_from(sink->arg, strtoll(PQgetvalue(r, 0, 0), NULL, 10));
    PQclear(r);
    return rc;
}

/* Runs sql row by row into row(); returns 0 or -1 with err. */
static int s_stream(PGconn *c, const char *sql, const char *const *params, const fb_archive_sink_t *sink,
                    int (*row)(const PGresult *, const fb_archive_sink_t *), size_t *count, const char *what,
                    char *err, size_t err_size)
{
    if (!PQsendQueryParams(c, sql, 3, NULL, params, NULL, NULL, 0) || !PQsetSingleRowMode(c)) {
        snprintf(err, err_size, "reading %s: %s", what, PQerrorMessage(c));
        return -1;
    }
    int rc = 0;
    PGresult *r;
    while ((r = PQgetResult(c))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && rc == 0) {
            int x = row(r, sink);
            if (x < 0) rc = -1, snprintf(err, err_size, "writing %s: stopped", what);
            else if (x > 0) rc = -1, snprintf(err, err_size, "reading %s: a row this fedbus cannot read", what);
            else if (x == 0) (*count)++;
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == 0) {
            rc = -1;
            snprintf(err, err_size, "reading %s: %s", what, PQresultErrorMessage(r));
            char *nl = strchr(err, '\n');
            if (nl) *nl = '\0';
        }
        PQclear(r);
    }
    return rc;
}

int fb_archive_pg_read(const char *conninfo, const fb_archive_range_t *range, const fb_archive_sink_t *sink,
                       size_t *nseals, size_t *nenvelopes, size_t *nunstored, char *err, size_t err_size)
{
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *values[] = {conninfo ? conninfo : "", "fedbus-verify", NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);
    *nseals = *nenvelopes = *nunstored = 0;
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, err_size, "PostgreSQL: %s", PQerrorMessage(c));
        char *nl = strchr(err, '\n');
        if (nl) *nl = '\0';
        PQfinish(c);
        return -1;
    }
    const char *params[] = {range->origin, range->since, range->until};
    /* one snapshot for both reads: the seals then cover the envelopes read */
    PGresult *b = PQexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    int rc = PQresultStatus(b) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(b);
    if (rc != 0) snprintf(err, err_size, "PostgreSQL: %s", PQerrorMessage(c));
    if (rc == 0 && sink->ids_from && s_ids_from(c, sink) != 0)
        rc = -1, snprintf(err, err_size, "reading fedbus_retention: %s", PQerrorMessage(c));
    if (rc == 0)
        rc = s_stream(c, s_seals_sql, params, sink, s_seal_row, nseals, "fedbus_seals", err, err_size);
    if (rc == 0)
        rc = s_stream(c, s_envelopes_sql, params, sink, s_envelope_row, nenvelopes, "fedbus_messages", err, err_size);
    int has = rc == 0 && sink->unstored ? s_has_unstored(c) : 0;
    if (has < 0) rc = -1, snprintf(err, err_size, "PostgreSQL: %s", PQerrorMessage(c));
    if (rc == 0 && has > 0)
        rc = s_stream(c, s_unstored_sql, params, sink, s_unstored_row, nunstored, "fedbus_unstored", err, err_size);
    PQfinish(c);
    return rc;
}
