/* fb_bench_copy_sealed.c — fedbus-bench-copy-sealed: PostgreSQL's ingest rate for the rows a trust-on broker stores.
 *
 * The same-rows baseline. fedbus-bench-copy COPYs the envelopes a broker
 * stores with trust off; a broker with trust on stores more for the same
 * load: every envelope carries the node's prev_hash link (34 bytes), and
 * every node frame adds a fedbus_seals row (its entry hashes, origin_seqs,
 * root, key id and signature), written in the transaction of the frame's
 * rows. This tool makes those rows with fedbus's own code: each origin gets
 * Ed25519 keys made in the run, its publishes are stamped and linked as a
 * node does (nodes/fb_chain.c over an outbox in memory), grouped into frames
 * of --frame envelopes that are sealed as the node seals them, and checked
 * as the broker checks them (fb_verify_group), whose proofs become the
 * broker's seal statement (fb_proofs_sql). Frames go round-robin over the
 * origins into batches that end at the frame boundary nearest each
 * multiple of --batch rows (a broker never splits a frame), and each batch
 * is stored through the broker's store as its writer stores one: the seal
 * statement set with fb_store_set_extra(), then fb_store_append() (COPY,
 * the statement, the origin heads, COMMIT in one transaction). Everything
 * is generated before the clock starts. */
#include "fb_bench.h"

#include "fb_arena.h"
#include "fb_batch.h"
#include "fb_chain.h"
#include "fb_config.h"
#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_keys.h"
#include "fb_map.h"
#include "fb_outbox.h"
#include "fb_proofs.h"
#include "fb_retention.h"
#include "fb_store.h"
#include "fb_time.h"
#include "fb_verify.h"
#include "fb_wire.h"
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
    long long frame;
    long long batch;
    long long nodes;
    char json[512];
} s_config_t;

#define S_FIELD(f) offsetof(s_config_t, f), sizeof(((s_config_t *)0)->f)
#define S_INT(f) offsetof(s_config_t, f), 0

static const fb_cfg_key_t s_keys[] = {
    {"pg", FB_CFG_STR, S_FIELD(pg), "", 0, 0,
     "PostgreSQL connection string of a fresh database (empty = PG* environment)"},
    {"rows", FB_CFG_INT, S_INT(rows), "50000", 1, 100000000, "rows to COPY"},
    {"payload", FB_CFG_INT, S_INT(payload), "256", 64, 1 << 20,
     "envelope size in bytes as the load driver sends it (the node's link adds 34)"},
    {"frame", FB_CFG_INT, S_INT(frame), "950", 1, FB_BATCH_MAX,
     "envelopes per sealed node frame (a trust-on closed loop of bench/ab: ~950)"},
    {"batch", FB_CFG_INT, S_INT(batch), "3200", 1, 1000000,
     "rows per transaction, on average (a trust-on closed loop of bench/ab: ~3,200)"},
    {"nodes", FB_CFG_INT, S_INT(nodes), "4", 1, 999, "origins the frames rotate over"},
    {"json", FB_CFG_STR, S_FIELD(json), "-", 0, 0, "file that receives the JSON result (- = stdout)"},
    FB_CFG_END,
};

/* One origin: a node's keys, outbox and chain, and its publishes. */
typedef struct {
    fb_keys_t keys;
    fb_outbox_t *outbox;
    fb_chain_t *chain;
    fb_bench_msg_t msg;
    fb_outbox_entry_t **entries; /* in origin_seq order */
    size_t n, next;              /* publishes made; the first not yet in a frame */
} s_origin_t;

/* The generated run: rows in global order and, per batch, its first row
 * and its seal statement. */
typedef struct {
    s_origin_t *origins;
    size_t norigins;
    fb_store_row_t *rows;
    uint8_t *hashes, *stamps;
    size_t nrows;
    size_t *batch_at; /* nbatches + 1 offsets into rows */
    char **batch_sql;
    size_t nbatches, nseals, sql_bytes;
} s_run_t;

static int s_key(void *ctx, const char *member, const uint8_t key_id[FB_KEY_ID_LEN], fb_verify_key_t *out)
{
    const s_run_t *run = ctx;
    for (size_t i = 0; i < run->norigins; i++) {
        const fb_keys_t *k = &run->origins[i].keys;
        if (strcmp(member, k->member) != 0 || memcmp(key_id, k->sign_key_id, FB_KEY_ID_LEN) != 0) continue;
        memcpy(out->pub, k->sign_public, FB_ED25519_KEY_LEN);
        out->valid_from_us = 0;
        out->valid_until_us = 0;
        return 1;
    }
    return 0;
}

static void s_on_head(const char *origin, uint64_t last, void *arg)
{
    fb_map_put(arg, origin, strlen(origin), last);
}

/* Makes origin o's keys, outbox and chain, and appends count publishes to
 * it as a signing node does: stamped with origin_seq (after `last`, what
 * the store holds) and prev_hash, then linked. Returns 0 or -1 (err). */
static int s_origin_fill(s_origin_t *o, size_t index, size_t count, uint64_t last, size_t payload, char *err,
                         size_t err_size)
{
    char member[32];
    snprintf(member, sizeof(member), "bench-%02zu", index + 1);
    if (fb_keys_generate(member, &o->keys, err, err_size) != 0) return -1;
    uint8_t *env = NULL;
    /* An origin may get no row (fewer rows than origins): room for one all the same. */
    size_t cap = count ? count : 1;
    if (fb_bench_msg_init(&o->msg, member, payload) != 0 || !(o->outbox = fb_outbox_new(cap)) ||
        !(o->chain = fb_chain_new(&o->keys, o->outbox)) || !(o->entries = calloc(cap, sizeof(*o->entries))) ||
        !(env = malloc(o->msg.size + 64)))
        goto oom;
    fb_outbox_raise_seq(o->outbox, last + 1);
    for (; o->n < count; o->n++) {
        uint8_t id[FB_UUID_LEN], tail[FB_ORIGIN_STAMP_MAX];
        int64_t at = fb_time_now_us();
        uint64_t seq = fb_outbox_next_seq(o->outbox);
        if (fb_uuid_v7(at, id) != 0) goto oom;
        size_t env_len = fb_bench_msg_pack(&o->msg, id, at, 0, env), flen;
        fb_wire_origin_stamp_t stamp = {.origin_seq = seq};
        fb_chain_stamp(o->chain, &stamp);
        size_t tail_len = fb_wire_stamp_origin(&stamp, tail);
        uint8_t *frame = fb_wire_publish_wrap(env, env_len, tail, tail_len, &flen);
        fb_outbox_add_t add = {.id = id, .origin_seq = seq, .created_at_us = at, .frame = frame, .frame_len = flen};
        if (!frame || fb_outbox_append(o->outbox, &add) != FB_OK) {
            free(frame);
            goto oom;
        }
        fb_outbox_entry_t *e = fb_outbox_find_seq(o->outbox, seq);
        if (!e || fb_chain_appended(o->chain, e) != 0) goto oom;
    }
    /* Taken once every publish is in: an entry may move while the outbox
     * grows (a pointer to it holds until the next append). */
    for (size_t i = 0; i < o->n; i++)
        if (!(o->entries[i] = fb_outbox_find_seq(o->outbox, last + 1 + i))) goto oom;
    free(env);
    return 0;
oom:
    free(env);
    snprintf(err, err_size, "cannot make %s's publishes (out of memory?)", member);
    return -1;
}

/* The row of entry e of origin o, numbered global_seq, into r (its hash
 * and stamp in the run's arrays at index i). Returns 0 or -1. */
static int s_row(s_run_t *run, const s_origin_t *o, const fb_outbox_entry_t *e, size_t i, uint64_t global_seq,
                 fb_batch_item_t *it)
{
    fb_store_row_t *r = &run->rows[i];
    if (fb_wire_publish_view(e->frame, e->frame_len, &it->env_data, &it->env_len) != 0) return -1;
    it->origin = o->keys.member;
    it->origin_seq = e->origin_seq;
    it->state = FB_BATCH_PENDING;
    r->global_seq = global_seq;
    r->origin = o->keys.member;
    r->origin_seq = e->origin_seq;
    r->message_id = e->id;
    r->topic = o->msg.topic;
    r->created_at_us = e->created_at_us;
    r->stored_at_us = e->created_at_us + 1000;
    uint8_t *hash = run->hashes + i * FB_SHA256_LEN;
    if (fb_wire_content_hash(it->env_data, it->env_len, hash) != 0) return -1;
    r->hash = hash;
    r->body = it->env_data;
    r->body_len = it->env_len;
    r->stamp = run->stamps + i * FB_STAMP_MAX;
    r->stamp_len = fb_wire_stamp_stored(global_seq, r->stored_at_us, run->stamps + i * FB_STAMP_MAX);
    return 0;
}

/* The next frame of origin o (up to `frame` of its publishes): sealed as the
 * node seals it, its rows numbered from run->nrows, checked as the broker
 * checks it. Returns the proof (in arena), or NULL on failure (err). */
static const fb_verify_proof_t *s_frame(s_run_t *run, s_origin_t *o, size_t frame, uint64_t head, fb_verify_t *verify,
                                        fb_arena_t *arena, fb_batch_item_t *items, char *err, size_t err_size)
{
    size_t k = o->n - o->next < frame ? o->n - o->next : frame;
    fb_seal_t seal;
    if (fb_chain_seal(o->chain, o->entries + o->next, k, &seal) != 0) {
        snprintf(err, err_size, "sealing a frame of %s failed", o->keys.member);
        return NULL;
    }
    for (size_t i = 0; i < k; i++) {
        size_t at = run->nrows + i;
        if (s_row(run, o, o->entries[o->next + i], at, head + at + 1, &items[i]) != 0) {
            snprintf(err, err_size, "hashing an envelope of %s failed", o->keys.member);
            return NULL;
        }
    }
    const fb_verify_proof_t *p = fb_verify_group(verify, arena, items, k, &seal, fb_time_now_us());
    if (!p || items[k - 1].state == FB_BATCH_REJECTED) {
        snprintf(err, err_size, "the broker's check refused a frame of %s: %s", o->keys.member,
                 items[k - 1].detail ? items[k - 1].detail : "no proof");
        return NULL;
    }
    o->next += k;
    run->nrows += k;
    run->nseals++;
    return p;
}

/* Closes the batch being planned at row `at` with the seal statement of
 * its n proofs, and lets the arena go. Returns 0 or -1 (out of memory). */
static int s_flush(s_run_t *run, const fb_verify_proof_t **proofs, size_t *n, size_t at, fb_arena_t *arena)
{
    char *sql = fb_proofs_sql(proofs, *n);
    if (!sql) return -1;
    run->sql_bytes += strlen(sql);
    run->batch_sql[run->nbatches++] = sql;
    run->batch_at[run->nbatches] = at;
    *n = 0;
    fb_arena_reset(arena);
    return 0;
}

/* Cuts the publishes into frames, round-robin over the origins, and the
 * frames into batches with their seal statements: a batch ends at the frame
 * boundary nearest the next multiple of --batch, so that batches hold
 * --batch rows on average. Returns 0 or -1 (err). */
static int s_plan(s_run_t *run, const s_config_t *cfg, uint64_t head, fb_verify_t *verify, char *err,
                  size_t err_size)
{
    size_t frame = (size_t)cfg->frame, target = (size_t)cfg->batch, total = 0, nproofs = 0, turn = 0;
    for (size_t i = 0; i < run->norigins; i++) total += run->origins[i].n;
    fb_arena_t *arena = fb_arena_new(1 << 20, 1 << 24);
    fb_batch_item_t *items = calloc(frame, sizeof(*items));
    const fb_verify_proof_t **proofs = calloc(total + 1, sizeof(*proofs));
    run->batch_at = calloc(total + 2, sizeof(*run->batch_at));
    run->batch_sql = calloc(total + 1, sizeof(*run->batch_sql));
    int rc = -1;
    if (!arena || !items || !proofs || !run->batch_at || !run->batch_sql) goto oom;
    while (run->nrows < total) {
        s_origin_t *o = &run->origins[turn++ % run->norigins];
        if (o->next == o->n) continue;
        size_t before = run->nrows, k = o->n - o->next < frame ? o->n - o->next : frame, after = before + k;
        size_t mark = (run->nbatches + 1) * target;
        /* The boundary before this frame is the nearer one: close there. */
        if (nproofs && after > mark && mark - before < after - mark &&
            s_flush(run, proofs, &nproofs, before, arena) != 0)
            goto oom;
        const fb_verify_proof_t *p = s_frame(run, o, frame, head, verify, arena, items, err, err_size);
        if (!p) goto done;
        proofs[nproofs++] = p;
        mark = (run->nbatches + 1) * target;
        if ((after >= mark || after == total) && s_flush(run, proofs, &nproofs, after, arena) != 0) goto oom;
    }
    rc = 0;
    goto done;
oom:
    snprintf(err, err_size, "out of memory");
done:
    fb_arena_destroy(&arena);
    free(items);
    free(proofs);
    return rc;
}

/* Stores every batch as the broker's writer does; returns 0 or -1. */
static int s_store_all(fb_store_t *store, const s_run_t *run)
{
    for (size_t b = 0; b < run->nbatches; b++) {
        size_t off = run->batch_at[b], k = run->batch_at[b + 1] - off;
        fb_store_set_extra(store, run->batch_sql[b]);
        int rc = fb_store_append(store, run->rows + off, k);
        fb_store_set_extra(store, NULL);
        if (rc != FB_OK) {
            fprintf(stderr, "fedbus-bench-copy-sealed: batch at row %zu: %s\n", off, fb_store_error(store));
            return -1;
        }
    }
    return 0;
}

static int s_write_json(const s_config_t *cfg, const s_run_t *run, double secs, size_t body_total)
{
    double n = (double)run->nrows, rps = secs > 0 ? n / secs : 0;
    json_t *j = json_pack("{s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:f, s:I, s:f, s:f, s:f}", "tool",
                          "fedbus-bench-copy-sealed", "rows", (json_int_t)run->nrows, "payload",
                          (json_int_t)cfg->payload, "envelope_bytes", (double)body_total / n, "frame_envelopes",
                          (json_int_t)cfg->frame, "batch_rows", (json_int_t)cfg->batch, "seals",
                          (json_int_t)run->nseals, "transactions", (json_int_t)run->nbatches, "seal_sql_bytes",
                          (double)run->sql_bytes / (double)run->nseals, "origins", (json_int_t)run->norigins,
                          "elapsed_s", secs, "rows_per_s", rps, "mib_per_s", (double)body_total / secs / (1 << 20));
    if (!j) return -1;
    FILE *out = strcmp(cfg->json, "-") ? fopen(cfg->json, "w") : stdout;
    if (!out) {
        fprintf(stderr, "fedbus-bench-copy-sealed: cannot write %s\n", cfg->json);
        json_decref(j);
        return -1;
    }
    json_dumpf(j, out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    fputc('\n', out);
    if (out != stdout) fclose(out);
    json_decref(j);
    fprintf(stderr,
            "fedbus-bench-copy-sealed: %zu rows of %.0f bytes, %zu seals in %zu transactions: %.3f s, %.0f rows/s\n",
            run->nrows, (double)body_total / n, run->nseals, run->nbatches, secs, rps);
    return 0;
}

/* Opens the store as the plain baseline does; fills *head and each
 * origin's last origin_seq into heads. NULL on failure (reported). */
static fb_store_t *s_open(const s_config_t *cfg, uint64_t *head, fb_map_t *heads)
{
    char err[512];
    fb_store_t *store = fb_store_open(cfg->pg, FB_STORE_WRITER, err, sizeof(err));
    if (!store) {
        fprintf(stderr, "fedbus-bench-copy-sealed: store: %s\n", err);
        return NULL;
    }
    /* The partitions the broker's manager would have made by now. */
    fb_retention_t *parts = fb_retention_new(cfg->pg, &(fb_retention_opts_t){0, 86400000LL, 3600000LL});
    if (!parts) {
        fprintf(stderr, "fedbus-bench-copy-sealed: cannot make the partitions\n");
        fb_store_destroy(&store);
        return NULL;
    }
    fb_retention_destroy(&parts);
    fb_store_set_ahead(store, 1); /* as the broker's writer does */
    if (fb_store_head(store, head) != FB_OK || fb_store_origin_heads(store, s_on_head, heads) != FB_OK) {
        fprintf(stderr, "fedbus-bench-copy-sealed: store: %s\n", fb_store_error(store));
        fb_store_destroy(&store);
    }
    return store;
}

static void s_run_free(s_run_t *run)
{
    for (size_t i = 0; run->origins && i < run->norigins; i++) {
        s_origin_t *o = &run->origins[i];
        fb_chain_destroy(&o->chain);
        fb_outbox_destroy(&o->outbox);
        fb_bench_msg_fini(&o->msg);
        free(o->entries);
        explicit_bzero(&o->keys, sizeof(o->keys));
    }
    for (size_t b = 0; run->batch_sql && b < run->nbatches; b++) free(run->batch_sql[b]);
    free(run->origins);
    free(run->rows);
    free(run->hashes);
    free(run->stamps);
    free(run->batch_at);
    free(run->batch_sql);
}

/* Makes every origin's publishes and plans the batches; 0 or -1 (reported). */
static int s_generate(s_run_t *run, const s_config_t *cfg, uint64_t head, fb_map_t *heads)
{
    char err[512];
    size_t n = (size_t)cfg->rows, nn = (size_t)cfg->nodes;
    static const uint8_t zero[FB_SHA256_LEN];
    run->norigins = nn;
    run->origins = calloc(nn, sizeof(*run->origins));
    run->rows = calloc(n, sizeof(*run->rows));
    run->hashes = malloc(n * FB_SHA256_LEN);
    run->stamps = malloc(n * FB_STAMP_MAX);
    fb_verify_t *verify = fb_verify_new(&(fb_verify_opts_t){.required = 1, .key = s_key, .key_ctx = run});
    if (!run->origins || !run->rows || !run->hashes || !run->stamps || !verify) {
        fb_verify_destroy(&verify);
        fprintf(stderr, "fedbus-bench-copy-sealed: out of memory\n");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < nn && rc == 0; i++) {
        char member[32];
        uint64_t last = 0;
        snprintf(member, sizeof(member), "bench-%02zu", i + 1);
        fb_map_get(heads, member, strlen(member), &last);
        /* What the store holds of this origin is unsigned: its chain starts here. */
        rc = s_origin_fill(&run->origins[i], i, n / nn + (i < n % nn), last, (size_t)cfg->payload, err,
                           sizeof(err)) != 0 ||
             fb_verify_set_head(verify, member, last, zero) != 0;
        if (rc && !*err) snprintf(err, sizeof(err), "out of memory");
    }
    if (rc == 0) rc = s_plan(run, cfg, head, verify, err, sizeof(err));
    fb_verify_destroy(&verify);
    if (rc) fprintf(stderr, "fedbus-bench-copy-sealed: %s\n", err);
    return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
    s_config_t cfg;
    int rc = 1;
    memset(&cfg, 0, sizeof(cfg));
    int arc = fb_bench_args(s_keys, &cfg, argc, argv, "fedbus-bench-copy-sealed", "[--key=value ...]",
                            "Measures how fast PostgreSQL ingests the rows a broker with trust on stores:\n"
                            "envelopes linked into their origin's chain, and a seal row per node frame\n"
                            "(Ed25519 keys made in the run), stored through the broker's own store path\n"
                            "(binary COPY + seal statement + origin heads + COMMIT) in transactions of\n"
                            "about --batch rows. Prints one JSON object. Use a fresh database.\n");
    if (arc >= 0) return arc;
    s_run_t run = {0};
    uint64_t head = 0;
    fb_map_t *heads = fb_map_new((size_t)cfg.nodes);
    if (!heads) fprintf(stderr, "fedbus-bench-copy-sealed: out of memory\n");
    fb_store_t *store = heads ? s_open(&cfg, &head, heads) : NULL;
    if (!store || s_generate(&run, &cfg, head, heads) != 0) goto done;

    int64_t t0 = fb_time_mono_us();
    int stored = s_store_all(store, &run);
    int64_t t1 = fb_time_mono_us();
    /* Close the COPY sent ahead for a batch that will not come (see fedbus-bench-copy). */
    fb_store_set_ahead(store, 0);
    if (stored != 0) goto done;
    size_t body_total = 0;
    for (size_t i = 0; i < run.nrows; i++) body_total += run.rows[i].body_len;
    if (s_write_json(&cfg, &run, (double)(t1 - t0) / 1e6, body_total) == 0) rc = 0;
done:
    s_run_free(&run);
    fb_map_destroy(&heads);
    fb_store_destroy(&store);
    return rc;
}
