/* fb_history.c — the offline verdict on stored history: seals, keys, links and coverage, per origin. */
#include "fb_history.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb_keys.h"
#include "fb_time.h"
#include "fb_wire.h"

typedef struct {
    char member[FB_SEAL_ORIGIN_MAX + 1];
    uint8_t key_id[FB_KEY_ID_LEN];
    uint8_t pub[FB_ED25519_KEY_LEN];
    int64_t from_us, until_us; /* until 0: no end */
} s_key_t;

typedef struct {
    fb_history_seal_t s; /* entries and seqs owned */
    int valid;
} s_seal_t;

/* What a stored envelope is reduced to when added. */
typedef struct {
    char origin[FB_SEAL_ORIGIN_MAX + 1];
    uint64_t seq, global_seq;
    char id[37];
    uint8_t hash[FB_SHA256_LEN];
    uint8_t prev[FB_SHA256_LEN];
    int has_prev;
    uint8_t content[FB_SHA256_LEN]; /* content hash (docs/protocol.md, "Duplicates and sequence") */
    const char *bad; /* static text: why it cannot be checked */
} s_env_t;

/* An envelope linked but not stored, reduced; used once a missing link
 * consulted it. */
typedef struct {
    s_env_t e;
    char reason[16];
    uint64_t original;
    int used;
} s_unst_t;

typedef struct {
    uint64_t seq;
    const uint8_t *hash;
    size_t seal;
} s_link_t;

struct fb_history {
    const char *missing;
    s_key_t *keys;
    size_t nkeys;
    s_seal_t *seals;
    size_t nseals, cap_seals;
    s_env_t *envs;
    size_t nenvs, cap_envs;
    s_unst_t *unst;
    size_t nunst, cap_unst;
    int64_t ids_from_ms;
    fb_history_report_fn fn;
    void *arg;
    fb_history_counts_t counts;
};

fb_history_t *fb_history_new(const char *missing)
{
    fb_history_t *self = calloc(1, sizeof(*self));
    if (self) self->missing = missing;
    return self;
}

void fb_history_destroy(fb_history_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_history_t *self = *self_p;
    for (size_t i = 0; i < self->nseals; i++) {
        free((void *)self->seals[i].s.entries);
        free((void *)self->seals[i].s.seqs);
    }
    free(self->seals);
    free(self->envs);
    free(self->unst);
    free(self->keys);
    free(self);
    *self_p = NULL;
}

/* A time of the directory: RFC 3339 text, or null for "none" (0). */
static int s_dir_time(const json_t *v, int64_t *us)
{
    int off;
    if (json_is_null(v) || !v) return *us = 0, 0;
    return json_is_string(v) ? fb_time_parse(json_string_value(v), us, &off) : -1;
}

int fb_history_directory(fb_history_t *self, const json_t *dir, char *err, size_t err_size)
{
    const json_t *members = json_object_get(dir, "members");
    if (!json_is_array(members)) {
        snprintf(err, err_size, "the member directory has no \"members\" array");
        return -1;
    }
    size_t i, k;
    const json_t *m, *key;
    json_array_foreach(members, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "id"));
        if (!id || strlen(id) > FB_SEAL_ORIGIN_MAX) {
            snprintf(err, err_size, "member %zu of the directory has no valid \"id\"", i + 1);
            return -1;
        }
        json_array_foreach(json_object_get(m, "keys"), k, key)
        {
            s_key_t *nk = realloc(self->keys, (self->nkeys + 1) * sizeof(*nk));
            if (!nk) return snprintf(err, err_size, "out of memory"), -1;
            self->keys = nk;
            s_key_t *t = &nk[self->nkeys];
            memset(t, 0, sizeof(*t));
            snprintf(t->member, sizeof(t->member), "%s", id);
            const char *kid = json_string_value(json_object_get(key, "key_id"));
            const char *pub = json_string_value(json_object_get(key, "public_key"));
            uint8_t derived[FB_KEY_ID_LEN];
            if (!kid || !pub || fb_keys_id_parse(kid, t->key_id) != 0 || fb_keys_b64_parse(pub, t->pub) != 0 ||
                s_dir_time(json_object_get(key, "valid_from"), &t->from_us) != 0 ||
                s_dir_time(json_object_get(key, "valid_until"), &t->until_us) != 0) {
                snprintf(err, err_size, "member %s: key %zu of the directory is not valid", id, k + 1);
                return -1;
            }
            fb_keys_id(t->pub, derived);
            if (memcmp(derived, t->key_id, FB_KEY_ID_LEN) != 0) {
                snprintf(err, err_size, "member %s: key_id %s is not the id of its public key", id, kid);
                return -1;
            }
            self->nkeys++;
        }
    }
    return 0;
}

int fb_history_add_seal(fb_history_t *self, const fb_history_seal_t *s)
{
    if (self->nseals == self->cap_seals) {
        size_t cap = self->cap_seals ? self->cap_seals * 2 : 64;
        s_seal_t *n = realloc(self->seals, cap * sizeof(*n));
        if (!n) return -1;
        self->seals = n, self->cap_seals = cap;
    }
    uint8_t(*entries)[FB_SHA256_LEN] = malloc(s->n ? s->n * FB_SHA256_LEN : 1);
    uint64_t *seqs = malloc(s->n ? s->n * sizeof(uint64_t) : 1);
    if (!entries || !seqs) {
        free(entries);
        free(seqs);
        return -1;
    }
    if (s->n) {
        memcpy(entries, s->entries, s->n * FB_SHA256_LEN);
        memcpy(seqs, s->seqs, s->n * sizeof(uint64_t));
    }
    s_seal_t *t = &self->seals[self->nseals++];
    t->s = *s;
    t->s.entries = (const uint8_t(*)[FB_SHA256_LEN])entries;
    t->s.seqs = seqs;
    t->valid = 0;
    return 0;
}

/* Reduces env to what the checks need; a malformed one keeps why in e->bad.
 * A stored one (stamped) ends with the broker's stamp, which its entry hash
 * leaves out; one not stored is hashed whole. */
static void s_reduce(const uint8_t *env, size_t len, int stamped, s_env_t *e)
{
    fb_envelope_head_t h;
    memset(e, 0, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "-");
    if (fb_wire_envelope_scan(env, len, &h) != 0) {
        e->bad = "not a well-formed envelope";
        return;
    }
    if (h.origin_len && h.origin_len <= FB_SEAL_ORIGIN_MAX) memcpy(e->origin, h.origin, h.origin_len);
    e->seq = h.origin_seq, e->global_seq = h.global_seq;
    if (h.message_id_len == FB_UUID_LEN) fb_uuid_format(h.message_id, e->id);
    if (!e->origin[0] || !e->seq) {
        e->bad = "no origin or origin_seq";
        return;
    }
    if (fb_wire_content_hash(env, len, e->content) != 0) {
        e->bad = "not a well-formed envelope";
        return;
    }
    long olen = stamped ? fb_seal_origin_len(env, len, h.global_seq, h.stored_at_us) : (long)len;
    if (olen < 0) {
        e->bad = "does not end with the broker's stamp of its global_seq and stored_at_us";
        return;
    }
    fb_seal_entry_hash(env, (size_t)olen, e->hash);
    if (h.prev_hash_count == 1 && h.prev_hash_len == FB_SHA256_LEN) {
        memcpy(e->prev, h.prev_hash, FB_SHA256_LEN);
        e->has_prev = 1;
    }
}

int fb_history_add_envelope(fb_history_t *self, const uint8_t *env, size_t len)
{
    if (self->nenvs == self->cap_envs) {
        size_t cap = self->cap_envs ? self->cap_envs * 2 : 256;
        s_env_t *n = realloc(self->envs, cap * sizeof(*n));
        if (!n) return -1;
        self->envs = n, self->cap_envs = cap;
    }
    s_reduce(env, len, 1, &self->envs[self->nenvs++]);
    return 0;
}

void fb_history_set_ids_from(fb_history_t *self, int64_t ms)
{
    self->ids_from_ms = ms;
}

/* The Unix milliseconds of a UUIDv7 in text ("-" or another version: -1). */
static int64_t s_id_ms(const char *id)
{
    if (strlen(id) != 36 || id[14] != '7') return -1;
    int64_t ms = 0;
    for (int i = 0; i < 13; i++) {
        if (i == 8) continue;
        char c = id[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        ms = ms << 4 | d;
    }
    return ms;
}

int fb_history_add_unstored(fb_history_t *self, const fb_history_unstored_t *u)
{
    if (self->nunst == self->cap_unst) {
        size_t cap = self->cap_unst ? self->cap_unst * 2 : 16;
        s_unst_t *n = realloc(self->unst, cap * sizeof(*n));
        if (!n) return -1;
        self->unst = n, self->cap_unst = cap;
    }
    s_unst_t *t = &self->unst[self->nunst++];
    memset(t, 0, sizeof(*t));
    s_reduce(u->env, u->len, 0, &t->e);
    snprintf(t->reason, sizeof(t->reason), "%s", u->reason ? u->reason : "");
    t->original = u->original_seq;
    return 0;
}

static void s_report(fb_history_t *self, fb_history_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_report(fb_history_t *self, fb_history_kind_t kind, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (kind == FB_HISTORY_FAIL) self->counts.failed++;
    else self->counts.unsealed++;
    if (self->fn) self->fn(self->arg, kind, line);
}

/* Why seal s does not verify against the directory, or NULL when it does. */
static const char *s_seal_problem(const fb_history_t *self, const fb_history_seal_t *s, char *why, size_t size)
{
    uint8_t msg[FB_SEAL_SIGNED_MAX], root[FB_SHA256_LEN];
    if (s->n == 0 || fb_seal_signed_bytes(&s->seal, msg) == 0 || s->seqs[0] != s->seal.first_seq ||
        s->seqs[s->n - 1] != s->seal.last_seq)
        return "not well-formed (no entries, or its entries' origin_seqs are not its first_seq..last_seq)";
    if (fb_seal_root(s->entries, s->n, root) != 0 || memcmp(root, s->seal.root, FB_SHA256_LEN) != 0)
        return "its root is not the Merkle root of its entry hashes";
    char kid[FB_KEY_ID_HEX_LEN + 1];
    fb_keys_id_hex(s->seal.key_id, kid);
    const s_key_t *key = NULL;
    for (size_t i = 0; i < self->nkeys && !key; i++)
        if (!strcmp(self->keys[i].member, s->seal.origin) && !memcmp(self->keys[i].key_id, s->seal.key_id, 8))
            key = &self->keys[i];
    if (!key) {
        snprintf(why, size, "key %s is not a key of %s in the member directory", kid, s->seal.origin);
        return why;
    }
    if (s->seal.signed_at_us < key->from_us || (key->until_us && s->seal.signed_at_us >= key->until_us)) {
        snprintf(why, size, "signed outside the validity window of key %s", kid);
        return why;
    }
    if (fb_seal_verify(&s->seal, key->pub) != 1) {
        snprintf(why, size, "its signature does not verify with key %s", kid);
        return why;
    }
    return NULL;
}

static int s_link_cmp(const void *a, const void *b)
{
    const s_link_t *x = a, *y = b;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return memcmp(x->hash, y->hash, FB_SHA256_LEN);
}

static int s_env_cmp(const void *a, const void *b)
{
    const s_env_t *x = *(const s_env_t *const *)a, *y = *(const s_env_t *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The link at seq in links[0..n) (sorted, forks removed), or NULL. */
static const s_link_t *s_find(const s_link_t *links, size_t n, uint64_t seq)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (links[mid].seq < seq) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && links[lo].seq == seq ? &links[lo] : NULL;
}

/* The seals of origin: checks each, and collects the links of the valid
 * ones into *out (sorted by seq, one per seq). Returns their count, or
 * (size_t)-1 when out of memory. */
static size_t s_links(fb_history_t *self, const char *origin, s_link_t **out)
{
    size_t total = 0;
    char why[160];
    for (size_t i = 0; i < self->nseals; i++) {
        s_seal_t *s = &self->seals[i];
        if (strcmp(s->s.seal.origin, origin) != 0) continue;
        self->counts.seals++;
        const char *p = s_seal_problem(self, &s->s, why, sizeof(why));
        s->valid = p == NULL;
        if (p)
            s_report(self, FB_HISTORY_FAIL, "%s seq %" PRIu64 "-%" PRIu64 " seal signed_at_us %" PRId64 ": %s", origin,
                     s->s.seal.first_seq, s->s.seal.last_seq, s->s.seal.signed_at_us, p);
        else total += s->s.n;
    }
    s_link_t *links = malloc((total ? total : 1) * sizeof(*links));
    if (!links) return (size_t)-1;
    size_t n = 0;
    for (size_t i = 0; i < self->nseals; i++) {
        const s_seal_t *s = &self->seals[i];
        if (!s->valid || strcmp(s->s.seal.origin, origin) != 0) continue;
        for (size_t k = 0; k < s->s.n; k++)
            if (s->s.seqs[k] <= s->s.head_seq) links[n++] = (s_link_t){s->s.seqs[k], s->s.entries[k], i};
    }
    qsort(links, n, sizeof(*links), s_link_cmp);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w && links[w - 1].seq == links[i].seq) {
            if (memcmp(links[w - 1].hash, links[i].hash, FB_SHA256_LEN) != 0) {
                const fb_seal_t *a = &self->seals[links[w - 1].seal].s.seal, *b = &self->seals[links[i].seal].s.seal;
                s_report(self, FB_HISTORY_FAIL,
                         "%s seq %" PRIu64 " message_id -: a fork: seals %" PRIu64 "-%" PRIu64 " and %" PRIu64
                         "-%" PRIu64 " sign different envelopes at this origin_seq",
                         origin, links[i].seq, a->first_seq, a->last_seq, b->first_seq, b->last_seq);
            }
            continue;
        }
        links[w++] = links[i];
    }
    *out = links;
    return w;
}

/* Whether a seal of origin that failed covers an origin_seq in [lo, hi]. */
static int s_failed_cover(const fb_history_t *self, const char *origin, uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; i < self->nseals; i++) {
        const s_seal_t *s = &self->seals[i];
        if (!s->valid && !strcmp(s->s.seal.origin, origin) && hi >= s->s.seal.first_seq && lo <= s->s.seal.last_seq)
            return 1;
    }
    return 0;
}

/* One stored envelope against the links; returns 1 when it is sealed. */
static int s_check_env(fb_history_t *self, const s_env_t *e, const s_link_t *links, size_t nl)
{
    const s_link_t *l = s_find(links, nl, e->seq);
    if (!l) {
        if (s_failed_cover(self, e->origin, e->seq, e->seq))
            s_report(self, FB_HISTORY_FAIL, "%s seq %" PRIu64 " message_id %s: covered only by a seal that fails",
                     e->origin, e->seq, e->id);
        else
            s_report(self, FB_HISTORY_UNSEALED, "%s seq %" PRIu64 " message_id %s: no seal covers it", e->origin,
                     e->seq, e->id);
        return 0;
    }
    const fb_seal_t *s = &self->seals[l->seal].s.seal;
    if (memcmp(l->hash, e->hash, FB_SHA256_LEN) != 0) {
        s_report(self, FB_HISTORY_FAIL,
                 "%s seq %" PRIu64 " message_id %s: its bytes are not the envelope seal %" PRIu64 "-%" PRIu64
                 " signed (entry hash differs)",
                 e->origin, e->seq, e->id, s->first_seq, s->last_seq);
        return 0;
    }
    if (!e->has_prev) {
        s_report(self, FB_HISTORY_FAIL, "%s seq %" PRIu64 " message_id %s: sealed, but carries no prev_hash",
                 e->origin, e->seq, e->id);
        return 1;
    }
    /* the link before it in range (the first one's seal alone vouches for
     * it), unless a seal that failed (reported) may hold the one between */
    if (l > links) {
        const s_link_t *p = l - 1;
        if (memcmp(p->hash, e->prev, FB_SHA256_LEN) != 0 && !s_failed_cover(self, e->origin, p->seq + 1, e->seq - 1))
            s_report(self, FB_HISTORY_FAIL,
                     "%s seq %" PRIu64 " message_id %s: prev_hash does not link to origin_seq %" PRIu64
                     " (a broken chain)",
                     e->origin, e->seq, e->id, p->seq);
    }
    return 1;
}

/* Whether a stored envelope of es[0..ne) at or above seq is no link of the
 * chain (links[0..nl)): only such an unsealed one can have raised the
 * origin's head above the chain's head, which a linked envelope refused
 * STALE_SEQUENCE needs. Where every stored envelope is linked, a chain
 * head and the origin's head move together, and a linked envelope cannot
 * be stale. */
static int s_stale_possible(const s_link_t *links, size_t nl, uint64_t seq, const s_env_t *const *es, size_t ne)
{
    for (size_t i = 0; i < ne; i++) {
        if (es[i]->seq < seq) continue;
        const s_link_t *l = s_find(links, nl, es[i]->seq);
        if (!l || memcmp(l->hash, es[i]->hash, FB_SHA256_LEN) != 0) return 1;
    }
    return 0;
}

/* Why kept envelope u (not stored) does not account for its link among
 * links[0..nl), or NULL when it does: a valid seal links its entry hash
 * and the origin's stored envelopes es[0..ne) bear its reason out. */
static const char *s_unstored_problem(const fb_history_t *self, const s_unst_t *u, const s_link_t *links, size_t nl,
                                      const s_env_t *const *es, size_t ne)
{
    const s_link_t *l = s_find(links, nl, u->e.seq);
    if (u->e.bad) return u->e.bad;
    if (!l) return "kept as linked but not stored, but no valid seal links it";
    if (memcmp(l->hash, u->e.hash, FB_SHA256_LEN) != 0)
        return "kept as linked but not stored, but its bytes are not the envelope sealed (entry hash differs)";
    int dup = !strcmp(u->reason, "DUPLICATE"), reused = !strcmp(u->reason, "ID_REUSED");
    if (!dup && !reused) {
        if (strcmp(u->reason, "STALE_SEQUENCE") != 0) return "kept with an unknown reason";
        return s_stale_possible(links, nl, u->e.seq, es, ne)
                   ? NULL
                   : "kept as STALE_SEQUENCE, but every stored envelope of its origin from its origin_seq on is "
                     "linked, so none can have made it stale";
    }
    for (size_t i = 0; i < ne; i++) {
        if (strcmp(es[i]->id, u->e.id) != 0 || es[i]->seq == u->e.seq) continue;
        int same = !memcmp(es[i]->content, u->e.content, FB_SHA256_LEN);
        if (dup ? same && es[i]->global_seq == u->original : !same) return NULL;
    }
    /* its id, the original's, lies where retention dropped the partitions */
    int64_t ms = s_id_ms(u->e.id);
    if (dup && ms >= 0 && ms < self->ids_from_ms) return NULL;
    return dup ? "kept as a DUPLICATE, but no stored envelope of its origin is its original (message_id, content)"
               : "kept as ID_REUSED, but no stored envelope of its origin has its message_id";
}

/* Checks the kept envelope of origin at seq (the first unused one when
 * seq is 0), marks it used and counts it. Returns 1 when there was one
 * (accepted or reported), else 0. */
static int s_check_unstored(fb_history_t *self, const char *origin, uint64_t seq, const s_link_t *links, size_t nl,
                            const s_env_t *const *es, size_t ne)
{
    s_unst_t *u = NULL;
    for (size_t i = 0; i < self->nunst && !u; i++)
        if (!self->unst[i].used && !strcmp(self->unst[i].e.origin, origin) && (!seq || self->unst[i].e.seq == seq))
            u = &self->unst[i];
    if (!u) return 0;
    u->used = 1;
    const char *p = s_unstored_problem(self, u, links, nl, es, ne);
    if (p) {
        s_report(self, FB_HISTORY_FAIL, "%s seq %" PRIu64 " message_id %s: %s (%s)", origin, u->e.seq, u->e.id, p,
                 u->reason);
        return 1;
    }
    self->counts.unstored++;
    if (!strcmp(u->reason, "DUPLICATE")) self->counts.unstored_duplicate++;
    else if (!strcmp(u->reason, "ID_REUSED")) self->counts.unstored_reused++;
    else self->counts.unstored_stale++;
    return 1;
}

/* Everything of one origin. Returns -1 when out of memory. */
static int s_check_origin(fb_history_t *self, const char *origin)
{
    s_link_t *links = NULL;
    size_t nl = s_links(self, origin, &links);
    if (nl == (size_t)-1) return -1;
    const s_env_t **es = malloc((self->nenvs ? self->nenvs : 1) * sizeof(*es));
    if (!es) return free(links), -1;
    size_t ne = 0;
    for (size_t i = 0; i < self->nenvs; i++)
        if (!self->envs[i].bad && !strcmp(self->envs[i].origin, origin)) es[ne++] = &self->envs[i];
    qsort(es, ne, sizeof(*es), s_env_cmp);
    self->counts.envelopes += ne;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < ne; i++) {
        if (i && es[i]->seq == es[i - 1]->seq)
            s_report(self, FB_HISTORY_FAIL, "%s seq %" PRIu64 " message_id %s: a second envelope at this origin_seq",
                     origin, es[i]->seq, es[i]->id);
        else if (s_check_env(self, es[i], links, nl)) {
            if (es[i]->seq < lo) lo = es[i]->seq;
            if (es[i]->seq > hi) hi = es[i]->seq;
        }
    }
    /* links between the lowest and highest sealed envelope that are missing */
    size_t k = 0;
    for (size_t i = 0; i < nl; i++) {
        if (links[i].seq < lo || links[i].seq > hi) continue;
        while (k < ne && es[k]->seq < links[i].seq) k++;
        if (k < ne && es[k]->seq == links[i].seq) continue;
        if (s_check_unstored(self, origin, links[i].seq, links, nl, es, ne)) continue;
        const fb_seal_t *s = &self->seals[links[i].seal].s.seal;
        s_report(self, FB_HISTORY_FAIL,
                 "%s seq %" PRIu64 " message_id -: sealed (seal %" PRIu64 "-%" PRIu64 ") and linked into the chain,"
                 " but %s",
                 origin, links[i].seq, s->first_seq, s->last_seq, self->missing);
    }
    /* kept ones outside that range (after the last stored one, say) */
    while (s_check_unstored(self, origin, 0, links, nl, es, ne))
        ;
    free(es);
    free(links);
    return 0;
}

static int s_str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t fb_history_check(fb_history_t *self, fb_history_report_fn fn, void *arg, fb_history_counts_t *out)
{
    self->fn = fn, self->arg = arg;
    memset(&self->counts, 0, sizeof(self->counts));
    for (size_t i = 0; i < self->nenvs; i++)
        if (self->envs[i].bad) {
            s_report(self, FB_HISTORY_FAIL, "%s seq %" PRIu64 " message_id %s: %s",
                     self->envs[i].origin[0] ? self->envs[i].origin : "-", self->envs[i].seq, self->envs[i].id,
                     self->envs[i].bad);
            self->counts.envelopes++;
        }
    /* the origins, each once, in order */
    const char **names = malloc((self->nseals + self->nenvs + 1) * sizeof(*names));
    if (!names) {
        s_report(self, FB_HISTORY_FAIL, "- seq 0 message_id -: out of memory");
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < self->nseals; i++) names[n++] = self->seals[i].s.seal.origin;
    for (size_t i = 0; i < self->nenvs; i++)
        if (!self->envs[i].bad) names[n++] = self->envs[i].origin;
    qsort(names, n, sizeof(*names), s_str_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i && !strcmp(names[i], names[i - 1])) continue;
        self->counts.origins++;
        if (s_check_origin(self, names[i]) != 0) {
            s_report(self, FB_HISTORY_FAIL, "%s seq 0 message_id -: out of memory", names[i]);
            break;
        }
    }
    free(names);
done:
    if (out) *out = self->counts;
    return self->counts.failed;
}
