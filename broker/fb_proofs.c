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
