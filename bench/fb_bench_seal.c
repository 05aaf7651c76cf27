/* fb_bench_seal.c — fedbus-bench-seal: what signing and verifying cost per message and per frame.
 *
 * Runs fedbus's own code for signed provenance on one CPU, without a
 * network or a database: the node's side (the entry hash of each publish as
 * it is appended, then fb_chain_seal over a frame: the Merkle root and one
 * Ed25519 signature) and the broker's side (fb_verify_group over the same
 * frame: entry hashes, root, key, signature and links), for frames of
 * 1, 32, 256 and 1,024 envelopes of the benchmark message (256 bytes).
 * Also the parts: one entry hash, one root, one signature and one
 * verification through fedbus's calls. Every figure is CPU time of this
 * process (not wall time, so that a busy machine's other processes do not
 * count), the median of `reps` measurements of at least `time` each. */
#include "fb_bench.h"

#include "fb_arena.h"
#include "fb_batch.h"
#include "fb_chain.h"
#include "fb_config.h"
#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_keys.h"
#include "fb_outbox.h"
#include "fb_proofs.h"
#include "fb_seal.h"
#include "fb_time.h"
#include "fb_verify.h"
#include "fb_wire.h"
#include "fedbus/fedbus.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MAX_SIZES 8

typedef struct {
    char batches[128];
    long long payload;
    long long time_ms;
    long long reps;
    char json[512];
} s_config_t;

#define S_FIELD(f) offsetof(s_config_t, f), sizeof(((s_config_t *)0)->f)
#define S_INT(f) offsetof(s_config_t, f), 0

static const fb_cfg_key_t s_keys[] = {
    {"batches", FB_CFG_STR, S_FIELD(batches), "1,32,256,1024", 0, 0,
     "envelopes per frame to measure, comma-separated (1 to 1024 each, at most 8 sizes)"},
    {"payload", FB_CFG_INT, S_INT(payload), "256", 64, 65536, "envelope size in bytes, as bench/run's"},
    {"time", FB_CFG_DURATION, S_INT(time_ms), "300ms", 10, 60000, "CPU time per measurement, at least"},
    {"reps", FB_CFG_INT, S_INT(reps), "3", 1, 99, "measurements of each figure (the median is reported)"},
    {"json", FB_CFG_STR, S_FIELD(json), "-", 0, 0, "file that receives the JSON result (- = stdout)"},
    FB_CFG_END,
};

/* What one measured operation works on. */
typedef struct {
    fb_keys_t keys;
    fb_ed25519_signer_t *signer;
    fb_chain_t *chain;
    fb_outbox_entry_t **entries; /* the frame's publishes, as the node holds them */
    fb_batch_item_t *items;      /* the same envelopes, as the broker reads them */
    size_t n;                    /* envelopes in the frame being measured */
    fb_verify_t *verify;
    fb_arena_t *arena;
    fb_seal_t seal;
    const fb_verify_proof_t *proof; /* of the frame being measured, for the SQL that stores it */
    uint8_t (*hashes)[FB_SHA256_LEN]; /* the frame's entry hashes, for the root alone */
    uint8_t msg[FB_SEAL_SIGNED_MAX];
    size_t msg_len;
    int failed;
} s_ctx_t;

static double s_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median over reps of the CPU microseconds one call of op takes. */
static double s_measure(const s_config_t *cfg, s_ctx_t *c, void (*op)(s_ctx_t *))
{
    double v[99];
    for (long long r = 0; r < cfg->reps; r++) {
        long long calls = 0;
        double t0 = s_cpu_us(), t = t0;
        while (t - t0 < (double)cfg->time_ms * 1e3) {
            for (int k = 0; k < 8; k++) op(c);
            calls += 8;
            t = s_cpu_us();
        }
        v[r] = (t - t0) / (double)calls;
    }
    qsort(v, (size_t)cfg->reps, sizeof(double), s_cmp);
    return v[cfg->reps / 2];
}

static void s_op_hash(s_ctx_t *c)
{
    c->failed |= fb_chain_appended(c->chain, c->entries[0]) != 0;
}

static void s_op_root(s_ctx_t *c)
{
    uint8_t root[FB_SHA256_LEN];
    c->failed |= fb_seal_root((const uint8_t(*)[FB_SHA256_LEN])c->hashes, c->n, root) != 0;
}

/* From the seed, deriving its public key each time. */
static void s_op_sign_seed(s_ctx_t *c)
{
    c->failed |= fb_ed25519_sign(c->keys.sign_secret, c->msg, c->msg_len, c->seal.signature) != 0;
}

/* With a signer made once, as the node signs. */
static void s_op_sign(s_ctx_t *c)
{
    c->failed |= fb_ed25519_signer_sign(c->signer, c->msg, c->msg_len, c->seal.signature) != 0;
}

static void s_op_verify(s_ctx_t *c)
{
    c->failed |= fb_ed25519_verify(c->keys.sign_public, c->msg, c->msg_len, c->seal.signature) != 1;
}

/* The node: each publish's entry hash as it is appended, then the frame's seal. */
static void s_op_seal(s_ctx_t *c)
{
    for (size_t i = 0; i < c->n; i++) c->failed |= fb_chain_appended(c->chain, c->entries[i]) != 0;
    c->failed |= fb_chain_seal(c->chain, c->entries, c->n, &c->seal) != 0;
}

/* The broker's writer: the statement that stores the frame's proof. */
static void s_op_sql(s_ctx_t *c)
{
    const fb_verify_proof_t *p = c->proof;
    char *sql = fb_proofs_sql(&p, 1);
    c->failed |= sql == NULL;
    free(sql);
}

/* The broker: the frame checked against its seal, from the chain's start. */
static void s_op_check(s_ctx_t *c)
{
    static const uint8_t zero[FB_SHA256_LEN];
    fb_verify_set_head(c->verify, c->keys.member, 0, zero);
    for (size_t i = 0; i < c->n; i++) c->items[i].state = FB_BATCH_PENDING;
    c->failed |= fb_verify_group(c->verify, c->arena, c->items, c->n, &c->seal, fb_time_now_us()) == NULL;
    c->failed |= c->items[c->n - 1].state == FB_BATCH_REJECTED;
    fb_arena_reset(c->arena);
}

static int s_key(void *ctx, const char *member, const uint8_t key_id[FB_KEY_ID_LEN], fb_verify_key_t *out)
{
    const fb_keys_t *k = ctx;
    if (strcmp(member, k->member) != 0 || memcmp(key_id, k->sign_key_id, FB_KEY_ID_LEN) != 0) return 0;
    memcpy(out->pub, k->sign_public, FB_ED25519_KEY_LEN);
    out->valid_from_us = 0;
    out->valid_until_us = 0;
    return 1;
}

/* Parses "1,32,256" into sizes; returns how many, or 0 when malformed. */
static size_t s_sizes(const char *text, size_t sizes[S_MAX_SIZES])
{
    size_t n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > FB_BATCH_MAX || n == S_MAX_SIZES || (*end && *end != ',')) return 0;
        sizes[n++] = (size_t)v;
        p = *end ? end + 1 : end;
    }
    return n;
}

/* Appends `max` publishes of the benchmark message to the outbox as the
 * node does (stamped with origin_seq and prev_hash, linked), and points
 * entries and items at them. Returns 0 or -1. */
static int s_fill(s_ctx_t *c, fb_outbox_t *outbox, const fb_bench_msg_t *m, size_t max)
{
    uint8_t *env = malloc(m->size + 64);
    if (!env) return -1;
    for (size_t i = 0; i < max; i++) {
        uint8_t id[FB_UUID_LEN], tail[FB_ORIGIN_STAMP_MAX];
        int64_t at = fb_time_now_us();
        uint64_t seq = fb_outbox_next_seq(outbox);
        if (fb_uuid_v7(at, id) != 0) goto error;
        size_t env_len = fb_bench_msg_pack(m, id, at, 0, env), flen;
        fb_wire_origin_stamp_t stamp = {.origin_seq = seq};
        fb_chain_stamp(c->chain, &stamp);
        size_t tail_len = fb_wire_stamp_origin(&stamp, tail);
        uint8_t *frame = fb_wire_publish_wrap(env, env_len, tail, tail_len, &flen);
        fb_outbox_add_t add = {.id = id, .origin_seq = seq, .created_at_us = at, .frame = frame, .frame_len = flen};
        if (!frame || fb_outbox_append(outbox, &add) != FB_OK) {
            free(frame);
            goto error;
        }
        fb_outbox_entry_t *e = fb_outbox_find_seq(outbox, seq);
        if (!e || fb_chain_appended(c->chain, e) != 0) goto error;
        c->entries[i] = e;
        fb_batch_item_t *it = &c->items[i];
        if (fb_wire_publish_view(e->frame, e->frame_len, &it->env_data, &it->env_len) != 0) goto error;
        it->origin = c->keys.member;
        it->origin_seq = seq;
        memcpy(c->hashes[i], e->hash, FB_SHA256_LEN);
    }
    free(env);
    return 0;
error:
    free(env);
    return -1;
}

int main(int argc, char **argv)
{
    s_config_t cfg;
    char err[512];
    int nargs = 0, rc = 1;
    memset(&cfg, 0, sizeof(cfg));
    int lrc = fb_config_load(s_keys, &cfg, argc, argv, &nargs, err, sizeof(err));
    if (lrc == 1) {
        printf("usage: fedbus-bench-seal [--key=value ...]\n"
               "Measures the CPU time fedbus spends signing frames of publishes on a node and\n"
               "verifying them on the broker, per frame and per message, and prints one JSON\n"
               "object (a table on stderr).\n\nKeys:\n");
        fb_config_help(s_keys, stdout);
        return 0;
    }
    size_t sizes[S_MAX_SIZES], nsizes = s_sizes(cfg.batches, sizes), max = 1;
    if (lrc == 0 && nargs == 0 && nsizes == 0) {
        snprintf(err, sizeof(err), "--batches: '%s' is not a list of 1 to %d sizes of 1 to %d", cfg.batches,
                 S_MAX_SIZES, FB_BATCH_MAX);
        lrc = -1;
    }
    if (lrc < 0 || nargs > 0) {
        fprintf(stderr, "fedbus-bench-seal: %s\n", lrc < 0 ? err : "unexpected argument (see --help)");
        return 2;
    }
    for (size_t i = 0; i < nsizes; i++)
        if (sizes[i] > max) max = sizes[i];

    s_ctx_t c = {0};
    fb_bench_msg_t m = {0};
    fb_outbox_t *outbox = NULL;
    json_t *j = NULL, *rows = NULL;
    c.entries = calloc(max, sizeof(*c.entries));
    c.items = calloc(max, sizeof(*c.items));
    c.hashes = calloc(max, FB_SHA256_LEN);
    c.arena = fb_arena_new(1 << 16, 1 << 20);
    if (fb_keys_generate("bench-01", &c.keys, err, sizeof(err)) != 0) {
        fprintf(stderr, "fedbus-bench-seal: %s\n", err);
        goto done;
    }
    c.signer = fb_ed25519_signer_new(c.keys.sign_secret);
    c.verify = fb_verify_new(&(fb_verify_opts_t){.required = 1, .key = s_key, .key_ctx = &c.keys});
    if (!c.entries || !c.items || !c.hashes || !c.arena || !c.signer || !c.verify || !(outbox = fb_outbox_new(max)) ||
        !(c.chain = fb_chain_new(&c.keys, outbox)) || fb_bench_msg_init(&m, c.keys.member, (size_t)cfg.payload) != 0 ||
        s_fill(&c, outbox, &m, max) != 0) {
        fprintf(stderr, "fedbus-bench-seal: cannot set up the frames (out of memory?)\n");
        goto done;
    }
    /* The parts: one entry hash, one signature and one verification of
     * what a seal signs. */
    c.n = 1;
    if (fb_chain_seal(c.chain, c.entries, 1, &c.seal) != 0 || !(c.msg_len = fb_seal_signed_bytes(&c.seal, c.msg))) {
        fprintf(stderr, "fedbus-bench-seal: cannot seal\n");
        goto done;
    }
    double hash_us = s_measure(&cfg, &c, s_op_hash), sign_us = s_measure(&cfg, &c, s_op_sign);
    double seed_us = s_measure(&cfg, &c, s_op_sign_seed), verify_us = s_measure(&cfg, &c, s_op_verify);
    j = json_pack("{s:s, s:I, s:I, s:f, s:f, s:f, s:f}", "tool", "fedbus-bench-seal", "payload",
                  (json_int_t)cfg.payload, "envelope_bytes", (json_int_t)c.items[0].env_len, "entry_hash_us", hash_us,
                  "sign_us", sign_us, "sign_from_seed_us", seed_us, "verify_us", verify_us);
    rows = json_array();
    if (!j || !rows) goto oom;
    fprintf(stderr,
            "fedbus-bench-seal: CPU microseconds, envelopes of %zu bytes; entry hash %.2f, Ed25519 sign %.1f"
            " (from the seed each time %.1f), verify %.1f\n%8s  %10s %10s  %10s %10s  %8s %8s\n",
            c.items[0].env_len, hash_us, sign_us, seed_us, verify_us, "frame", "seal/frame", "seal/msg", "check/frame",
            "check/msg", "root", "SQL");
    for (size_t s = 0; s < nsizes; s++) {
        c.n = sizes[s];
        double root_us = s_measure(&cfg, &c, s_op_root), seal_us = s_measure(&cfg, &c, s_op_seal);
        double check_us = s_measure(&cfg, &c, s_op_check);
        /* One proof kept in the arena while its SQL is measured. */
        s_op_check(&c);
        static const uint8_t zero[FB_SHA256_LEN];
        fb_verify_set_head(c.verify, c.keys.member, 0, zero);
        c.proof = fb_verify_group(c.verify, c.arena, c.items, c.n, &c.seal, fb_time_now_us());
        double sql_us = c.proof ? s_measure(&cfg, &c, s_op_sql) : 0;
        fb_arena_reset(c.arena);
        c.failed |= c.proof == NULL;
        double n = (double)c.n;
        fprintf(stderr, "%8zu  %10.1f %10.2f  %10.1f %10.2f  %8.1f %8.1f\n", c.n, seal_us, seal_us / n, check_us,
                check_us / n, root_us, sql_us);
        json_t *r = json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "envelopes", (json_int_t)c.n, "seal_frame_us",
                              seal_us, "seal_message_us", seal_us / n, "verify_frame_us", check_us,
                              "verify_message_us", check_us / n, "root_us", root_us, "proof_sql_us", sql_us);
        if (!r || json_array_append_new(rows, r) != 0) goto oom;
    }
    if (c.failed) {
        fprintf(stderr, "fedbus-bench-seal: a seal or a check failed: the figures are not of a working path\n");
        goto done;
    }
    json_object_set_new(j, "frames", rows);
    rows = NULL;
    FILE *out = strcmp(cfg.json, "-") ? fopen(cfg.json, "w") : stdout;
    if (!out) {
        fprintf(stderr, "fedbus-bench-seal: cannot write %s\n", cfg.json);
        goto done;
    }
    json_dumpf(j, out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    fputc('\n', out);
    if (out != stdout) fclose(out);
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "fedbus-bench-seal: out of memory\n");
done:
    json_decref(rows);
    json_decref(j);
    fb_chain_destroy(&c.chain);
    fb_outbox_destroy(&outbox);
    fb_verify_destroy(&c.verify);
    fb_ed25519_signer_destroy(&c.signer);
    fb_arena_destroy(&c.arena);
    fb_bench_msg_fini(&m);
    free(c.entries);
    free(c.items);
    free(c.hashes);
    explicit_bzero(&c.keys, sizeof(c.keys));
    return rc;
}
