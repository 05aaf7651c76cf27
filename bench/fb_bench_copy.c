/* fb_bench_copy.c — fedbus-bench-copy: the baseline, PostgreSQL's own ingest rate for fedbus rows.
 *
 * Generates the rows the broker would store for a run (same columns, same
 * envelope bytes and stamps, same content hashes, origins rotating over N
 * members with rising origin_seq, UUIDv7 ids), then appends them through the
 * broker's own store (fb_store_append: binary COPY, the origin heads, COMMIT)
 * in large transactions, and reports rows per second. Generation is done
 * before the clock starts. */
#include "fb_bench.h"

#include "fb_config.h"
#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_map.h"
#include "fb_retention.h"
#include "fb_store.h"
#include "fb_time.h"
#include "fedbus/fedbus.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char pg[1024];
    long long rows;
    long long payload;
    long long txn;
    long long nodes;
    char member_prefix[32];
    char json[512];
} s_config_t;

#define S_FIELD(f) offsetof(s_config_t, f), sizeof(((s_config_t *)0)->f)
#define S_INT(f) offsetof(s_config_t, f), 0

static const fb_cfg_key_t s_keys[] = {
    {"pg", FB_CFG_STR, S_FIELD(pg), "", 0, 0,
     "PostgreSQL connection string of a fresh database (empty = PG* environment)"},
    {"rows", FB_CFG_INT, S_INT(rows), "50000", 1, 100000000, "rows to COPY"},
    {"payload", FB_CFG_INT, S_INT(payload), "256", 64, 1 << 20,
     "envelope size in bytes, as the broker stores it"},
    {"txn", FB_CFG_INT, S_INT(txn), "10000", 1, 1000000, "rows per transaction"},
    {"nodes", FB_CFG_INT, S_INT(nodes), "4", 1, 999, "origins the rows rotate over"},
    {"member-prefix", FB_CFG_STR, S_FIELD(member_prefix), "bench-", 0, 0,
     "origins are PREFIX01, PREFIX02, ..."},
    {"json", FB_CFG_STR, S_FIELD(json), "-", 0, 0, "file that receives the JSON result (- = stdout)"},
    FB_CFG_END,
};

static void s_on_head(const char *origin, uint64_t last, void *arg)
{
    fb_map_put(arg, origin, strlen(origin), last);
}

int main(int argc, char **argv)
{
    s_config_t cfg;
    char err[512];
    int rc = 1;
    fb_store_t *store = NULL;
    fb_store_row_t *rows = NULL;
    uint8_t *ids = NULL, *hashes = NULL, *stamps = NULL, *bodies = NULL;
    fb_bench_msg_t *msgs = NULL;
    fb_map_t *heads = NULL;
    uint64_t *next_seq = NULL;
    memset(&cfg, 0, sizeof(cfg));
    int arc = fb_bench_args(s_keys, &cfg, argc, argv, "fedbus-bench-copy", "[--key=value ...]",
                            "Measures how fast PostgreSQL ingests fedbus rows through the broker's own\n"
                            "store path (binary COPY + origin heads + COMMIT), in large transactions,\n"
                            "and prints one JSON object. Use a fresh database.\n");
    if (arc >= 0) return arc;
    size_t n = (size_t)cfg.rows, nn = (size_t)cfg.nodes;

    store = fb_store_open(cfg.pg, FB_STORE_WRITER, err, sizeof(err));
    if (!store) {
        fprintf(stderr, "fedbus-bench-copy: store: %s\n", err);
        return 1;
    }
    /* The partitions the broker's manager would have made by now: the rows
     * go where the broker's would, not into the default partition. */
    fb_retention_t *parts = fb_retention_new(cfg.pg, &(fb_retention_opts_t){0, 86400000LL, 3600000LL});
    if (!parts) goto done;
    fb_retention_destroy(&parts);
    /* As the broker's writer does. */
    fb_store_set_ahead(store, 1);
    uint64_t head = 0;
    heads = fb_map_new(nn);
    if (!heads || fb_store_head(store, &head) != FB_OK ||
        fb_store_origin_heads(store, s_on_head, heads) != FB_OK) {
        fprintf(stderr, "fedbus-bench-copy: store: %s\n", fb_store_error(store));
        goto done;
    }

    /* ---- generate everything first: the clock measures the store only ---- */
    msgs = calloc(nn, sizeof(*msgs));
    next_seq = calloc(nn, sizeof(*next_seq));
    rows = calloc(n, sizeof(*rows));
    ids = malloc(n * FB_UUID_LEN);
    hashes = malloc(n * FB_SHA256_LEN);
    stamps = malloc(n * FB_STAMP_MAX);
    if (!msgs || !next_seq || !rows || !ids || !hashes || !stamps) goto oom;
    for (size_t o = 0; o < nn; o++) {
        char origin[64];
        snprintf(origin, sizeof(origin), "%s%02zu", cfg.member_prefix, o + 1);
        if (fb_bench_msg_init(&msgs[o], origin, (size_t)cfg.payload) != 0) {
            fprintf(stderr, "fedbus-bench-copy: '%s' is not a member id\n", origin);
            goto done;
        }
        uint64_t last = 0;
        fb_map_get(heads, origin, strlen(origin), &last);
        next_seq[o] = last + 1;
    }
    size_t body_max = msgs[0].size + 16, body_total = 0;
    bodies = malloc(n * body_max);
    if (!bodies) goto oom;
    int64_t created = fb_time_now_us();
    for (size_t i = 0; i < n; i++) {
        fb_bench_msg_t *m = &msgs[i % nn];
        uint64_t oseq = next_seq[i % nn]++;
        uint8_t *id = ids + i * FB_UUID_LEN, *body = bodies + i * body_max;
        fb_store_row_t *r = &rows[i];
        int64_t at = created + (int64_t)i;
        if (fb_uuid_v7(at, id) != 0) goto oom;
        r->body_len = fb_bench_msg_pack(m, id, at, oseq, body);
        body_total += r->body_len;
        r->global_seq = head + i + 1;
        r->origin = m->origin;
        r->origin_seq = oseq;
        r->message_id = id;
        r->topic = m->topic;
        r->created_at_us = at;
        r->stored_at_us = at + 1000;
        r->hash = hashes + i * FB_SHA256_LEN;
        if (fb_wire_content_hash(body, r->body_len, hashes + i * FB_SHA256_LEN) != 0) {
            fprintf(stderr, "fedbus-bench-copy: hashing failed\n");
            goto done;
        }
        r->body = body;
        r->stamp = stamps + i * FB_STAMP_MAX;
        r->stamp_len = fb_wire_stamp_stored(r->global_seq, r->stored_at_us, stamps + i * FB_STAMP_MAX);
    }

    /* ---- the timed part ---- */
    size_t txns = 0;
    int64_t t0 = fb_time_mono_us();
    for (size_t off = 0; off < n; off += (size_t)cfg.txn) {
        size_t k = n - off < (size_t)cfg.txn ? n - off : (size_t)cfg.txn;
        int src = fb_store_append(store, rows + off, k);
        if (src != FB_OK) {
            fprintf(stderr, "fedbus-bench-copy: append at row %zu: %s\n", off,
                    fb_store_error(store));
            goto done;
        }
        txns++;
    }
    int64_t t1 = fb_time_mono_us();
    /* Close the COPY sent ahead for a next batch that will not come: closing the
     * connection in the middle of it makes the server log a protocol error
     * ("unexpected message type 0x58 during COPY"), which reads like a failure. */
    fb_store_set_ahead(store, 0);

    double secs = (double)(t1 - t0) / 1e6;
    double rps = secs > 0 ? (double)n / secs : 0;
    json_t *j = json_pack("{s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:f, s:f, s:f}", "tool",
                          "fedbus-bench-copy", "rows", (json_int_t)n, "payload",
                          (json_int_t)cfg.payload, "envelope_bytes", (double)body_total / (double)n,
                          "txn_rows", (json_int_t)cfg.txn, "transactions", (json_int_t)txns,
                          "origins", (json_int_t)nn, "elapsed_s", secs, "rows_per_s", rps,
                          "mib_per_s", (double)body_total / secs / (1 << 20));
    if (!j) goto oom;
    FILE *out = strcmp(cfg.json, "-") ? fopen(cfg.json, "w") : stdout;
    if (!out) {
        fprintf(stderr, "fedbus-bench-copy: cannot write %s\n", cfg.json);
        json_decref(j);
        goto done;
    }
    json_dumpf(j, out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    fputc('\n', out);
    if (out != stdout) fclose(out);
    json_decref(j);
    fprintf(stderr, "fedbus-bench-copy: %zu rows of %zu bytes in %zu transactions: %.3f s, %.0f rows/s\n",
            n, (size_t)(body_total / n), txns, secs, rps);
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "fedbus-bench-copy: out of memory\n");
done:
    if (msgs)
        for (size_t o = 0; o < nn; o++) fb_bench_msg_fini(&msgs[o]);
    free(msgs);
    free(next_seq);
    free(rows);
    free(ids);
    free(hashes);
    free(stamps);
    free(bodies);
    fb_map_destroy(&heads);
    fb_store_destroy(&store);
    return rc;
}
