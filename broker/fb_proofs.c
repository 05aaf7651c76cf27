/* fb_proofs.c — fedbus_seals: verified seals written with their frames, chain heads read back. */
#include "fb_proofs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char fb_proofs_schema_sql[] =
    "CREATE TABLE fedbus_seals ("
    "  origin       text COLLATE \"C\" NOT NULL,"
    "  first_seq    bigint NOT NULL,"
    "  last_seq     bigint NOT NULL,"
    "  root         bytea NOT NULL,"
    "  key_id       bytea NOT NULL,"
    "  signed_at_us bigint NOT NULL,"
    "  signature    bytea NOT NULL,"
    "  entries      bytea NOT NULL," /* 32 bytes per envelope, in the frame's order */
    "  seqs         bigint[] NOT NULL,"
    "  head_seq     bigint NOT NULL,"
    "  head_hash    bytea NOT NULL,"
    "  stored_at    timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (origin, last_seq, signed_at_us));"
    "CREATE INDEX fedbus_seals_head ON fedbus_seals (origin, head_seq);";

static size_t s_hex(char *out, const uint8_t *b, size_t n)
{
    static const char d[] = "0123456789abcdef";
    size_t o = 0;
    out[o++] = '\'', out[o++] = '\\', out[o++] = 'x';
    for (size_t i = 0; i < n; i++) out[o++] = d[b[i] >> 4], out[o++] = d[b[i] & 15];
    out[o++] = '\'';
    return o;
}

char *fb_proofs_sql(const struct fb_verify_proof *const *proofs, size_t n)
{
    size_t cap = 256;
    for (size_t i = 0; i < n; i++) cap += 512 + proofs[i]->n * (2 * FB_SHA256_LEN + 24);
    char *sql = malloc(cap);
    if (!sql) return NULL;
    size_t len = 0;
    sql[0] = '\0';
    if (n == 0) return sql;
    len += (size_t)snprintf(sql, cap,
                            "INSERT INTO fedbus_seals (origin, first_seq, last_seq, root, key_id, signed_at_us, "
                            "signature, entries, seqs, head_seq, head_hash) VALUES ");
    for (size_t i = 0; i < n; i++) {
        const fb_verify_proof_t *p = proofs[i];
        const fb_seal_t *s = &p->seal;
        /* origin was checked against every envelope's: [a-z0-9-] only. */
        len += (size_t)snprintf(sql + len, cap - len, "%s('%s', %" PRIu64 ", %" PRIu64 ", ", i ? "," : "", s->origin,
                                s->first_seq, s->last_seq);
        len += s_hex(sql + len, s->root, FB_SHA256_LEN);
        sql[len++] = ',';
        len += s_hex(sql + len, s->key_id, FB_SEAL_KEY_ID_LEN);
        len += (size_t)snprintf(sql + len, cap - len, ", %" PRId64 ", ", s->signed_at_us);
        len += s_hex(sql + len, s->signature, FB_ED25519_SIG_LEN);
        sql[len++] = ',';
        len += s_hex(sql + len, (const uint8_t *)p->entries, p->n * FB_SHA256_LEN);
        len += (size_t)snprintf(sql + len, cap - len, ", '{");
        for (size_t k = 0; k < p->n; k++)
            len += (size_t)snprintf(sql + len, cap - len, "%s%" PRIu64, k ? "," : "", p->seqs[k]);
        len += (size_t)snprintf(sql + len, cap - len, "}', %" PRIu64 ", ", p->head_seq);
        len += s_hex(sql + len, p->head_hash, FB_SHA256_LEN);
        sql[len++] = ')';
    }
    snprintf(sql + len, cap - len, " ON CONFLICT DO NOTHING; ");
    return sql;
}

int fb_proofs_load_heads(PGconn *conn, int (*fn)(void *arg, const char *origin, uint64_t seq, const uint8_t *hash),
                         void *arg, char *err, size_t err_size)
{
    PGresult *r = PQexecParams(conn,
                               "SELECT DISTINCT ON (origin) origin, head_seq, head_hash FROM fedbus_seals"
                               " ORDER BY origin, head_seq DESC",
                               0, NULL, NULL, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, err_size, "reading chain heads: %s", PQerrorMessage(conn));
        PQclear(r);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        char origin[64];
        int olen = PQgetlength(r, i, 0);
        if (olen <= 0 || olen >= (int)sizeof(origin) || PQgetlength(r, i, 1) != 8 ||
            PQgetlength(r, i, 2) != FB_SHA256_LEN)
            continue; /* not a row this broker wrote */
        memcpy(origin, PQgetvalue(r, i, 0), (size_t)olen);
        origin[olen] = '\0';
        const uint8_t *b = (const uint8_t *)PQgetvalue(r, i, 1);
        uint64_t seq = 0;
        for (int k = 0; k < 8; k++) seq = seq << 8 | b[k];
        rc = fn(arg, origin, seq, (const uint8_t *)PQgetvalue(r, i, 2));
    }
    PQclear(r);
    if (rc != 0) snprintf(err, err_size, "out of memory reading chain heads");
    return rc;
}

/* Builds the array literal of n items into a new string: "{a,b,...}". */
static char *s_array(const char *const *strs, const uint64_t *nums, size_t n)
{
    size_t cap = 3 + n * 34, len = 1;
    char *out = malloc(cap);
    if (!out) return NULL;
    out[0] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)(strs ? snprintf(out + len, cap - len, "%s%s", i ? "," : "", strs[i])
                             : snprintf(out + len, cap - len, "%s%" PRIu64, i ? "," : "", nums[i]));
    snprintf(out + len, cap - len, "}");
    return out;
}

static uint64_t s_be(const char *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v = v << 8 | (uint8_t)p[k];
    return v;
}

int fb_proofs_covering(PGconn *conn, const char *const *origins, const uint64_t *seqs, size_t n,
                       void (*fn)(void *arg, const fb_proofs_seal_t *seal), void *arg, char *err, size_t err_size)
{
    if (n == 0) return 0;
    /* origins are [a-z0-9-] (checked when stored): no quoting needed */
    char *o = s_array(origins, NULL, n), *q = s_array(NULL, seqs, n);
    if (!o || !q) {
        free(o);
        free(q);
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    const char *p[] = {o, q};
    PGresult *r = PQexecParams(conn,
                               "SELECT DISTINCT c.origin, c.first_seq, c.last_seq, c.root, c.key_id, c.signed_at_us,"
                               " c.signature, c.entries FROM unnest($1::text[], $2::bigint[]) AS w(origin, seq)"
                               " CROSS JOIN LATERAL (SELECT * FROM fedbus_seals s WHERE s.origin = w.origin"
                               "  AND s.last_seq >= w.seq AND s.head_seq >= w.seq AND w.seq = ANY (s.seqs)"
                               "  ORDER BY s.signed_at_us LIMIT 1) c",
                               2, NULL, p, NULL, NULL, 1);
    free(o);
    free(q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, err_size, "reading seals: %s", PQerrorMessage(conn));
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        fb_proofs_seal_t s;
        memset(&s, 0, sizeof(s));
        int olen = PQgetlength(r, i, 0);
        if (olen <= 0 || olen > FB_SEAL_ORIGIN_MAX || PQgetlength(r, i, 3) != FB_SHA256_LEN ||
            PQgetlength(r, i, 4) != FB_SEAL_KEY_ID_LEN || PQgetlength(r, i, 6) != FB_ED25519_SIG_LEN ||
            PQgetlength(r, i, 7) % FB_SHA256_LEN)
            continue; /* not a row this broker wrote */
        memcpy(s.seal.origin, PQgetvalue(r, i, 0), (size_t)olen);
        s.seal.first_seq = s_be(PQgetvalue(r, i, 1));
        s.seal.last_seq = s_be(PQgetvalue(r, i, 2));
        memcpy(s.seal.root, PQgetvalue(r, i, 3), FB_SHA256_LEN);
        memcpy(s.seal.key_id, PQgetvalue(r, i, 4), FB_SEAL_KEY_ID_LEN);
        s.seal.signed_at_us = (int64_t)s_be(PQgetvalue(r, i, 5));
        memcpy(s.seal.signature, PQgetvalue(r, i, 6), FB_ED25519_SIG_LEN);
        s.n = (size_t)PQgetlength(r, i, 7) / FB_SHA256_LEN;
        s.entries = (const uint8_t *)PQgetvalue(r, i, 7);
        fn(arg, &s);
    }
    PQclear(r);
    return 0;
}
