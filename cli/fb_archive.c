/* fb_archive.c — the archive's JSON lines: the header with the member directory, seals, envelopes, the end line. */
#include "fb_archive.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fb_keys.h"
#include "fb_time.h"
#include "fb_wire.h"

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void fb_archive_b64(const uint8_t *d, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < len ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < len ? d[i + 2] : 0);
        out[o++] = s_b64[v >> 18 & 63];
        out[o++] = s_b64[v >> 12 & 63];
        out[o++] = i + 1 < len ? s_b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? s_b64[v & 63] : '=';
    }
    out[o] = '\0';
}

long fb_archive_unb64(const char *text, uint8_t *out)
{
    size_t len = strlen(text), o = 0;
    if (len % 4) return -1;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            const char c = text[i + k];
            const char *p = c ? strchr(s_b64, c) : NULL;
            if (c == '=' && i + 4 == len && k >= 2 && (k == 3 || text[i + 3] == '=')) pad++, v <<= 6;
            else if (p && !pad) v = v << 6 | (uint32_t)(p - s_b64);
            else return -1;
        }
        out[o++] = (uint8_t)(v >> 16);
        if (pad < 2) out[o++] = (uint8_t)(v >> 8);
        if (pad < 1) out[o++] = (uint8_t)v;
    }
    return (long)o;
}

/* A JSON string of len bytes in base64 (new reference), or NULL. */
static json_t *s_b64_json(const uint8_t *d, size_t len)
{
    char *t = malloc(4 * (len / 3 + 1) + 1);
    if (!t) return NULL;
    fb_archive_b64(d, len, t);
    json_t *j = json_string(t);
    free(t);
    return j;
}

/* Writes doc (whose reference it takes) as one line. */
static int s_line(FILE *out, json_t *doc)
{
    if (!doc) return -1;
    int rc = json_dumpf(doc, out, JSON_COMPACT | JSON_ENSURE_ASCII) == 0 && fputc('\n', out) != EOF ? 0 : -1;
    json_decref(doc);
    return rc;
}

int fb_archive_put_header(FILE *out, const json_t *directory, const char *origin, const char *since,
                          const char *until)
{
    char now[48];
    fb_time_format(fb_time_now_us(), 0, now, sizeof(now));
    json_t *range = json_pack("{s:o, s:o, s:o}", "origin", origin ? json_string(origin) : json_null(), "since",
                              since ? json_string(since) : json_null(), "until", until ? json_string(until) : json_null());
    return s_line(out, json_pack("{s:i, s:s, s:o, s:O}", "fedbus_archive", FB_ARCHIVE_VERSION, "generated_at", now,
                                 "range", range, "directory", directory));
}

int fb_archive_put_seal(FILE *out, const fb_history_seal_t *s)
{
    char kid[FB_KEY_ID_HEX_LEN + 1];
    fb_keys_id_hex(s->seal.key_id, kid);
    json_t *seqs = json_array();
    for (size_t i = 0; seqs && i < s->n; i++) json_array_append_new(seqs, json_integer((json_int_t)s->seqs[i]));
    json_t *seal = json_pack("{s:s, s:I, s:I, s:o, s:s, s:I, s:o, s:o, s:o, s:I}", "origin", s->seal.origin,
                             "first_seq", (json_int_t)s->seal.first_seq, "last_seq", (json_int_t)s->seal.last_seq,
                             "root", s_b64_json(s->seal.root, FB_SHA256_LEN), "key_id", kid, "signed_at_us",
                             (json_int_t)s->seal.signed_at_us, "signature",
                             s_b64_json(s->seal.signature, FB_ED25519_SIG_LEN), "entries",
                             s_b64_json((const uint8_t *)s->entries, s->n * FB_SHA256_LEN), "seqs", seqs, "head_seq",
                             (json_int_t)s->head_seq);
    return s_line(out, seal ? json_pack("{s:o}", "seal", seal) : NULL);
}

int fb_archive_put_envelope(FILE *out, const uint8_t *env, size_t len, uint64_t global_seq)
{
    return s_line(out, json_pack("{s:o, s:I}", "envelope", s_b64_json(env, len), "global_seq", (json_int_t)global_seq));
}

int fb_archive_put_unstored(FILE *out, const fb_history_unstored_t *u)
{
    json_t *o = json_pack("{s:o, s:s, s:I}", "envelope", s_b64_json(u->env, u->len), "reason", u->reason,
                          "original_global_seq", (json_int_t)u->original_seq);
    return s_line(out, o ? json_pack("{s:o}", "unstored", o) : NULL);
}

int fb_archive_put_end(FILE *out, size_t seals, size_t envelopes, size_t unstored, int64_t ids_from_ms)
{
    return s_line(out, json_pack("{s:{s:I, s:I, s:I, s:I}}", "end", "seals", (json_int_t)seals, "envelopes",
                                 (json_int_t)envelopes, "unstored", (json_int_t)unstored, "ids_from_ms",
                                 (json_int_t)ids_from_ms));
}

/* ------------------------------------------------------------- reading -- */

typedef struct {
    fb_history_t *h;
    fb_history_report_fn fn;
    void *arg;
    size_t *problems;
    size_t lineno, seals, envelopes, unstored;
} s_reader_t;

static void s_problem(s_reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_problem(s_reader_t *r, const char *fmt, ...)
{
    char why[256], line[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(line, sizeof(line), "archive line %zu: %s", r->lineno, why);
    (*r->problems)++;
    if (r->fn) r->fn(r->arg, FB_HISTORY_FAIL, line);
}

/* Decodes base64 field key of o into a new buffer (*len bytes); NULL when absent or not base64. */
static uint8_t *s_bytes(const json_t *o, const char *key, size_t *len)
{
    const char *t = json_string_value(json_object_get(o, key));
    if (!t) return NULL;
    uint8_t *b = malloc(strlen(t) / 4 * 3 + 1);
    long n = b ? fb_archive_unb64(t, b) : -1;
    if (n < 0) return free(b), NULL;
    *len = (size_t)n;
    return b;
}

/* A seal line's object into h; returns 0, -1 when it is not valid, -2 out of memory. */
static int s_read_seal(s_reader_t *r, const json_t *o)
{
    fb_history_seal_t s;
    memset(&s, 0, sizeof(s));
    size_t rlen = 0, slen = 0, elen = 0;
    uint8_t *root = s_bytes(o, "root", &rlen), *sig = s_bytes(o, "signature", &slen), *ent = s_bytes(o, "entries", &elen);
    const char *origin = json_string_value(json_object_get(o, "origin"));
    const char *kid = json_string_value(json_object_get(o, "key_id"));
    const json_t *seqs = json_object_get(o, "seqs");
    json_int_t fs = 0, ls = 0, at = 0, hs = 0;
    int rc = -1;
    if (!root || rlen != FB_SHA256_LEN || !sig || slen != FB_ED25519_SIG_LEN || !ent || elen % FB_SHA256_LEN || !origin ||
        strlen(origin) > FB_SEAL_ORIGIN_MAX || !kid || fb_keys_id_parse(kid, s.seal.key_id) != 0 ||
        !json_is_array(seqs) || json_array_size(seqs) != elen / FB_SHA256_LEN ||
        json_unpack((json_t *)o, "{s:I, s:I, s:I, s:I}", "first_seq", &fs, "last_seq", &ls, "signed_at_us", &at,
                    "head_seq", &hs) != 0)
        goto done;
    uint64_t *sq = malloc((elen / FB_SHA256_LEN + 1) * sizeof(*sq));
    if (!sq) {
        rc = -2;
        goto done;
    }
    size_t i;
    const json_t *v;
    json_array_foreach(seqs, i, v) sq[i] = (uint64_t)json_integer_value(v);
    snprintf(s.seal.origin, sizeof(s.seal.origin), "%s", origin);
    s.seal.first_seq = (uint64_t)fs, s.seal.last_seq = (uint64_t)ls, s.seal.signed_at_us = at;
    memcpy(s.seal.root, root, FB_SHA256_LEN);
    memcpy(s.seal.signature, sig, FB_ED25519_SIG_LEN);
    s.n = elen / FB_SHA256_LEN, s.entries = (const uint8_t(*)[FB_SHA256_LEN])ent, s.seqs = sq, s.head_seq = (uint64_t)hs;
    rc = fb_history_add_seal(r->h, &s) == 0 ? 0 : -2;
    free(sq);
done:
    free(root);
    free(sig);
    free(ent);
    return rc;
}

/* An envelope line into h; returns 0, -1 when it is not valid, -2 out of memory. */
static int s_read_envelope(s_reader_t *r, const json_t *o)
{
    size_t len = 0;
    uint8_t *env = s_bytes(o, "envelope", &len);
    json_int_t gseq = 0;
    fb_envelope_head_t h;
    if (!env || json_unpack((json_t *)o, "{s:I}", "global_seq", &gseq) != 0) return free(env), -1;
    if (fb_wire_envelope_scan(env, len, &h) == 0 && h.global_seq != (uint64_t)gseq)
        s_problem(r, "global_seq %" PRId64 " is not the envelope's own (%" PRIu64 ")", (int64_t)gseq, h.global_seq);
    int rc = fb_history_add_envelope(r->h, env, len) == 0 ? 0 : -2;
    free(env);
    return rc;
}

/* An unstored line's object into h; returns 0, -1 when it is not valid, -2 out of memory. */
static int s_read_unstored(s_reader_t *r, const json_t *o)
{
    size_t len = 0;
    uint8_t *env = s_bytes(o, "envelope", &len);
    const char *reason = json_string_value(json_object_get(o, "reason"));
    json_int_t orig = 0;
    if (!env || !reason || json_unpack((json_t *)o, "{s:I}", "original_global_seq", &orig) != 0 || orig < 0)
        return free(env), -1;
    fb_history_unstored_t u = {env, len, reason, (uint64_t)orig};
    int rc = fb_history_add_unstored(r->h, &u) == 0 ? 0 : -2;
    free(env);
    return rc;
}

/* One line after the header. Returns 0, or -2 when out of memory. */
static int s_read_line(s_reader_t *r, const char *line, int *ended)
{
    json_error_t je;
    json_t *doc = json_loads(line, 0, &je);
    int rc = 0;
    const json_t *v;
    if (!doc) s_problem(r, "not JSON (%s)", je.text);
    else if (*ended) s_problem(r, "a line after the end line");
    else if ((v = json_object_get(doc, "seal"))) {
        r->seals++;
        if ((rc = s_read_seal(r, v)) == -1) s_problem(r, "not a valid seal line"), rc = 0;
    } else if (json_object_get(doc, "envelope")) {
        r->envelopes++;
        if ((rc = s_read_envelope(r, doc)) == -1) s_problem(r, "not a valid envelope line"), rc = 0;
    } else if ((v = json_object_get(doc, "unstored"))) {
        r->unstored++;
        if ((rc = s_read_unstored(r, v)) == -1) s_problem(r, "not a valid unstored line"), rc = 0;
    } else if ((v = json_object_get(doc, "end"))) {
        json_int_t s = -1, e = -1, u = 0, ids = 0;
        *ended = 1;
        json_unpack((json_t *)v, "{s:I, s:I, s?I, s?I}", "seals", &s, "envelopes", &e, "unstored", &u, "ids_from_ms",
                    &ids);
        fb_history_set_ids_from(r->h, ids);
        if (u != (json_int_t)r->unstored)
            s_problem(r, "the end line counts %" PRId64 " unstored envelopes, the archive holds %zu: lines are missing"
                         " or were added", (int64_t)u, r->unstored);
        else if (s != (json_int_t)r->seals || e != (json_int_t)r->envelopes)
            s_problem(r, "the end line counts %" PRId64 " seals and %" PRId64 " envelopes, the archive holds %zu and %zu:"
                         " lines are missing or were added", (int64_t)s, (int64_t)e, r->seals, r->envelopes);
    } else s_problem(r, "neither a seal, an envelope, an unstored envelope nor the end line");
    json_decref(doc);
    return rc;
}

/* The header line: its directory into h. Returns 0 or -1 with err. */
static int s_read_header(fb_history_t *h, const char *line, int own_directory, char *err, size_t err_size)
{
    json_error_t je;
    json_t *doc = json_loads(line, 0, &je);
    const json_t *dir = json_object_get(doc, "directory");
    int rc = -1;
    if (!doc || !json_is_integer(json_object_get(doc, "fedbus_archive")) || !json_is_object(dir))
        snprintf(err, err_size, "not a fedbus archive (its first line is no archive header)");
    else if (json_integer_value(json_object_get(doc, "fedbus_archive")) != FB_ARCHIVE_VERSION)
        snprintf(err, err_size, "archive version %" PRId64 ": this fedbus reads version %d",
                 (int64_t)json_integer_value(json_object_get(doc, "fedbus_archive")), FB_ARCHIVE_VERSION);
    else rc = own_directory ? fb_history_directory(h, dir, err, err_size) : 0;
    json_decref(doc);
    return rc;
}

int fb_archive_read(FILE *in, fb_history_t *h, int own_directory, fb_history_report_fn fn, void *arg, size_t *problems, char *err,
                    size_t err_size)
{
    s_reader_t r = {.h = h, .fn = fn, .arg = arg, .problems = problems};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int ended = 0, rc = 0;
    *problems = 0;
    while (rc == 0 && (n = getline(&line, &cap, in)) >= 0) {
        r.lineno++;
        if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
        if (r.lineno == 1) rc = s_read_header(h, line, own_directory, err, err_size);
        else if (n == 0) s_problem(&r, "an empty line");
        else if (s_read_line(&r, line, &ended) != 0) rc = -1, snprintf(err, err_size, "out of memory");
    }
    if (rc == 0 && ferror(in)) rc = -1, snprintf(err, err_size, "cannot read the archive");
    else if (rc == 0 && r.lineno == 0) rc = -1, snprintf(err, err_size, "the archive is empty");
    else if (rc == 0 && !ended) {
        r.lineno++;
        s_problem(&r, "no end line: the archive is cut short");
    }
    free(line);
    return rc;
}
