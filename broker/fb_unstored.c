/* fb_unstored.c — the rows of fedbus_unstored for a batch: linked envelopes the store took no row for. */
#include "fb_unstored.h"

#include "fb_seal.h"
#include "fb_verify.h"
#include "fedbus/fedbus.h"
#include "fedbus.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char fb_unstored_schema_sql[] =
    "CREATE TABLE fedbus_unstored ("
    "  origin        text COLLATE \"C\" NOT NULL,"
    "  origin_seq    bigint NOT NULL,"
    "  reason        text NOT NULL CHECK (reason IN ('DUPLICATE', 'STALE_SEQUENCE', 'ID_REUSED')),"
    "  original_seq  bigint," /* DUPLICATE: the stored original's global_seq */
    "  envelope      bytea NOT NULL," /* as the origin sent it: its entry hash is the sealed one */
    "  stored_at     timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (origin, origin_seq));";

/* The reason an unstored item of b is kept with, or NULL when it is stored
 * (or a resend of a stored origin_seq); *original is a DUPLICATE's
 * original's global_seq. */
static const char *s_reason(const fb_batch_t *b, const fb_batch_item_t *it, uint64_t *original)
{
    *original = 0;
    switch (it->state) {
    case FB_BATCH_DUPLICATE:
        if (it->dup_origin_seq == it->origin_seq) return NULL; /* a resend of the stored one */
        *original = it->global_seq;
        return "DUPLICATE";
    case FB_BATCH_DUP_REF: {
        const fb_batch_item_t *r = &b->items[it->ref];
        if (r->state != FB_BATCH_NEW && r->state != FB_BATCH_COMMITTED && r->state != FB_BATCH_DUPLICATE) return NULL;
        *original = r->global_seq;
        return "DUPLICATE";
    }
    case FB_BATCH_REJECTED:
        if (it->reason == FEDBUS__REJECT_REASON__REJECT_STALE_SEQUENCE) return "STALE_SEQUENCE";
        if (it->reason == FEDBUS__REJECT_REASON__REJECT_ID_REUSED) return "ID_REUSED";
        return NULL;
    default:
        return NULL;
    }
}

/* Whether a proof of b linked it into its origin's chain: a seal holds its
 * origin_seq at or below the head it recorded, with its entry hash. */
static int s_linked(const fb_batch_t *b, const fb_batch_item_t *it)
{
    uint8_t entry[FB_SHA256_LEN];
    int hashed = 0;
    for (size_t i = 0; i < b->nproofs; i++) {
        const fb_verify_proof_t *p = b->proofs[i];
        if (strcmp(p->seal.origin, it->origin) != 0 || it->origin_seq > p->head_seq) continue;
        for (size_t k = 0; k < p->n; k++) {
            if (p->seqs[k] != it->origin_seq) continue;
            if (!hashed) fb_seal_entry_hash(it->env_data, it->env_len, entry), hashed = 1;
            if (memcmp(p->entries[k], entry, FB_SHA256_LEN) == 0) return 1;
        }
    }
    return 0;
}

char *fb_unstored_sql(const fb_batch_t *b)
{
    size_t cap = 1, n = 0;
    uint64_t original;
    for (size_t i = 0; b->nproofs && i < b->nitems; i++) {
        const fb_batch_item_t *it = &b->items[i];
        if (it->origin && s_reason(b, it, &original) && s_linked(b, it)) cap += 160 + 2 * it->env_len, n++;
    }
    char *sql = malloc(cap + 128);
    if (!sql) return NULL;
    sql[0] = '\0';
    if (n == 0) return sql;
    size_t len = (size_t)snprintf(sql, cap + 128,
                                  "INSERT INTO fedbus_unstored (origin, origin_seq, reason, original_seq, envelope) VALUES ");
    static const char d[] = "0123456789abcdef";
    n = 0;
    for (size_t i = 0; i < b->nitems; i++) {
        const fb_batch_item_t *it = &b->items[i];
        const char *why = it->origin ? s_reason(b, it, &original) : NULL;
        if (!why || !s_linked(b, it)) continue;
        /* origin was checked against its seal's: [a-z0-9-] only. */
        len += (size_t)snprintf(sql + len, cap + 128 - len, "%s('%s', %" PRIu64 ", '%s', ", n++ ? "," : "",
                                it->origin, it->origin_seq, why);
        if (original) len += (size_t)snprintf(sql + len, cap + 128 - len, "%" PRIu64 ", '\\x", original);
        else len += (size_t)snprintf(sql + len, cap + 128 - len, "NULL, '\\x");
        for (size_t k = 0; k < it->env_len; k++) sql[len++] = d[it->env_data[k] >> 4], sql[len++] = d[it->env_data[k] & 15];
        sql[len++] = '\'', sql[len++] = ')';
    }
    snprintf(sql + len, cap + 128 - len, " ON CONFLICT DO NOTHING; ");
    return sql;
}
