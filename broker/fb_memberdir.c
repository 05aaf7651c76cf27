/* fb_memberdir.c — a snapshot of the member registry: its rows parsed the safe way, searched by id and by CURVE key. */
#include "fb_memberdir.h"

#include "fb_keys.h"
#include "fedbus/fb_topic.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(FB_MEMBER_CURVE_LEN == FB_CURVE_RAW_LEN && FB_MEMBER_Z85_LEN == FB_CURVE_Z85_LEN &&
                   FB_MEMBER_KEY_ID_LEN == FB_KEY_ID_LEN && FB_MEMBER_SIGN_KEY_LEN == FB_ED25519_KEY_LEN,
               "the directory's key sizes are fb_keys'");

/* An entry of the CURVE index: a key and the member that has it. */
typedef struct {
    uint8_t key[FB_MEMBER_CURVE_LEN];
    size_t member;
} s_curve_t;

struct fb_memberdir {
    int refs;
    int sealed;
    fb_member_t *members; /* by id, once sealed */
    size_t n, cap;
    s_curve_t *curves;    /* by key */
    size_t ncurves;
};

const char *fb_memberdir_admit_name(fb_admit_t a)
{
    switch (a) {
    case FB_ADMIT_OK: return "ok";
    case FB_ADMIT_UNKNOWN: return "unknown key";
    case FB_ADMIT_SUSPENDED: return "suspended";
    case FB_ADMIT_REVOKED: return "revoked";
    case FB_ADMIT_KEY_CHANGED: return "key changed";
    }
    return "?";
}

const char *fb_memberdir_status_name(fb_member_status_t s)
{
    return s == FB_MEMBER_ACTIVE ? "active" : s == FB_MEMBER_SUSPENDED ? "suspended" : "revoked";
}

/* ------------------------------------------------------------- parsing --- */

static void s_free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Appends the len bytes at s to *v (n of cap); returns 0 or -1. */
static int s_push(char ***v, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        char **nv = realloc(*v, c * sizeof(*nv));
        if (!nv) return -1;
        *v = nv;
        *cap = c;
    }
    char *e = malloc(len + 1);
    if (!e) return -1;
    memcpy(e, s, len);
    e[len] = '\0';
    (*v)[(*n)++] = e;
    return 0;
}

/* Reads one element at *p into buf (cap bytes, a quoted one unescaped);
 * leaves *p after it. Returns its length, or -1 when malformed or too long. */
static long s_element(const char **p, char *buf, size_t cap)
{
    const char *q = *p;
    size_t len = 0;
    if (*q == '"') {
        for (q++; *q != '"'; q++) {
            if (*q == '\\') q++;
            if (!*q || len + 1 >= cap) return -1;
            buf[len++] = *q;
        }
        q++;
    } else {
        for (; *q && *q != ',' && *q != '}'; q++) {
            if (*q == '"' || *q == '{' || *q == '\\' || len + 1 >= cap) return -1;
            buf[len++] = *q;
        }
        /* PostgreSQL quotes elements with leading or trailing blanks: unquoted ones are trimmed. */
        while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\t')) len--;
    }
    *p = q;
    return (long)len;
}

int fb_memberdir_array_parse(const char *text, char ***out, size_t *n)
{
    char **v = NULL, buf[512];
    size_t count = 0, cap = 0;
    const char *p = text;
    *out = NULL;
    *n = 0;
    errno = EINVAL;
    if (!p || *p++ != '{') return -1;
    if (*p == '}' && p[1] == '\0') return 0;
    for (;;) {
        while (*p == ' ') p++;
        long len = s_element(&p, buf, sizeof(buf));
        if (len < 0 || (len == 0 && p[-1] != '"')) goto error;
        if (s_push(&v, &count, &cap, buf, (size_t)len) != 0) {
            errno = ENOMEM;
            goto error;
        }
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '}' && p[1] == '\0') break;
        goto error;
    }
    *out = v;
    *n = count;
    return 0;
error:
    s_free_strings(v, count);
    return -1;
}

/* Appends to warn (size bytes) a note. */
__attribute__((format(printf, 3, 4))) static void s_note(char *warn, size_t size, const char *fmt, ...)
{
    if (!warn || !size) return;
    size_t o = strlen(warn);
    if (o + 3 >= size) return;
    if (o) {
        memcpy(warn + o, "; ", 2);
        o += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(warn + o, size - o, fmt, ap);
    va_end(ap);
}

/* Parses an array of patterns into *v, *n, keeping only those within the
 * grammar (the rest are named in warn); returns 0, or -1 out of memory. */
static int s_patterns(const char *text, const char *col, char ***v, size_t *n, char *warn, size_t size)
{
    if (!text) return 0; /* NULL: none */
    if (fb_memberdir_array_parse(text, v, n) != 0) {
        if (errno == ENOMEM) return -1;
        s_note(warn, size, "%s: not an array of text, taken as none", col);
        return 0;
    }
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        if (fb_pattern_valid((*v)[i], NULL)) {
            (*v)[kept++] = (*v)[i];
            continue;
        }
        s_note(warn, size, "%s: pattern '%.200s' is not a topic pattern, left out", col, (*v)[i]);
        free((*v)[i]);
    }
    *n = kept;
    return 0;
}

int fb_memberdir_row_parse(const fb_memberdir_row_t *row, fb_member_t *out, char *warn, size_t warn_size)
{
    memset(out, 0, sizeof(*out));
    if (warn && warn_size) warn[0] = '\0';
    const char *id = row->member ? row->member : "";
    if (!fb_segment_valid(id, strlen(id))) {
        s_note(warn, warn_size, "member '%.64s' is not a member id: row left out", id);
        return -1;
    }
    memcpy(out->id, id, strlen(id) + 1);
    const char *st = row->status ? row->status : "";
    if (strcmp(st, "active") == 0) out->status = FB_MEMBER_ACTIVE;
    else if (strcmp(st, "suspended") == 0) out->status = FB_MEMBER_SUSPENDED;
    else out->status = FB_MEMBER_REVOKED;
    if (strcmp(st, "active") && strcmp(st, "suspended") && strcmp(st, "revoked"))
        s_note(warn, warn_size, "status '%.32s' unknown: taken as revoked", st);
    const char *k = row->kind ? row->kind : "";
    out->kind = strcmp(k, "hub") == 0 ? FB_MEMBER_HUB : strcmp(k, "partner") == 0 ? FB_MEMBER_PARTNER : FB_MEMBER_OBSERVER;
    if (strcmp(k, "hub") && strcmp(k, "partner") && strcmp(k, "observer"))
        s_note(warn, warn_size, "kind '%.32s' unknown: taken as observer", k);
    if (row->curve_public && fb_keys_z85_parse(row->curve_public, out->curve_public) == 0) {
        out->has_curve = 1;
        fb_keys_z85(out->curve_public, out->curve_z85);
    } else if (row->curve_public) {
        s_note(warn, warn_size, "%s", "curve_public is not 40 characters of Z85: the member cannot connect");
    }
    if (s_patterns(row->publish, "publish", &out->publish, &out->npublish, warn, warn_size) != 0 ||
        s_patterns(row->read, "read", &out->read, &out->nread, warn, warn_size) != 0) {
        fb_member_clear(out);
        s_note(warn, warn_size, "%s", "out of memory");
        return -1;
    }
    return 0;
}

/* Decodes exactly len bytes of hex text into out; returns 0 or -1. */
static int s_hex(const char *text, uint8_t *out, size_t len)
{
    if (!text || strlen(text) != 2 * len) return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        if (sscanf(text + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", text[2 * i]) ||
            !strchr("0123456789abcdefABCDEF", text[2 * i + 1]))
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* Reads a decimal int64 that is the whole of text; returns 0 or -1. */
static int s_int64(const char *text, int64_t *out)
{
    char *end;
    if (!text || !*text) return -1;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int fb_memberdir_key_parse(const fb_memberdir_key_row_t *row, fb_member_key_t *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    const char *why = NULL;
    if (s_hex(row->key_id, out->key_id, FB_MEMBER_KEY_ID_LEN) != 0) why = "key_id is not 8 bytes";
    else if (s_hex(row->public_key, out->public_key, FB_MEMBER_SIGN_KEY_LEN) != 0) why = "public_key is not 32 bytes";
    else if (s_int64(row->valid_from_us, &out->valid_from_us) != 0) why = "valid_from is not a time";
    else if (row->valid_until_us && s_int64(row->valid_until_us, &out->valid_until_us) != 0)
        why = "valid_until is not a time";
    else if (row->valid_until_us && out->valid_until_us <= out->valid_from_us) why = "valid_until is not after valid_from";
    if (why) snprintf(err, err_size, "%s", why);
    return why ? -1 : 0;
}

void fb_member_clear(fb_member_t *m)
{
    s_free_strings(m->publish, m->npublish);
    s_free_strings(m->read, m->nread);
    free(m->keys);
    memset(m, 0, sizeof(*m));
}

int fb_member_may_publish(const fb_member_t *m, const char *topic, size_t len)
{
    for (size_t i = 0; i < m->npublish; i++)
        if (fb_pattern_match(m->publish[i], topic, len)) return 1;
    return 0;
}

/* ----------------------------------------------------------- directory --- */

fb_memberdir_t *fb_memberdir_new(void)
{
    fb_memberdir_t *self = calloc(1, sizeof(*self));
    if (self) self->refs = 1;
    return self;
}

int fb_memberdir_add(fb_memberdir_t *self, fb_member_t *m)
{
    if (self->sealed) goto error;
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        fb_member_t *v = realloc(self->members, cap * sizeof(*v));
        if (!v) goto error;
        self->members = v;
        self->cap = cap;
    }
    self->members[self->n++] = *m;
    memset(m, 0, sizeof(*m));
    return 0;
error:
    fb_member_clear(m);
    return -1;
}

static int s_by_id(const void *a, const void *b)
{
    return strcmp(((const fb_member_t *)a)->id, ((const fb_member_t *)b)->id);
}

static int s_by_key(const void *a, const void *b)
{
    return memcmp(((const s_curve_t *)a)->key, ((const s_curve_t *)b)->key, FB_MEMBER_CURVE_LEN);
}

void fb_memberdir_seal(fb_memberdir_t *self)
{
    if (self->sealed) return;
    self->sealed = 1;
    if (self->n) qsort(self->members, self->n, sizeof(*self->members), s_by_id);
    self->curves = calloc(self->n ? self->n : 1, sizeof(*self->curves));
    if (!self->curves) return; /* no index: nobody is found by key, which refuses all */
    for (size_t i = 0; i < self->n; i++)
        if (self->members[i].has_curve) {
            memcpy(self->curves[self->ncurves].key, self->members[i].curve_public, FB_MEMBER_CURVE_LEN);
            self->curves[self->ncurves++].member = i;
        }
    if (self->ncurves) qsort(self->curves, self->ncurves, sizeof(*self->curves), s_by_key);
    /* A key twice: neither member is admitted with it. */
    size_t kept = 0;
    for (size_t i = 0; i < self->ncurves;) {
        size_t j = i + 1;
        while (j < self->ncurves && s_by_key(&self->curves[i], &self->curves[j]) == 0) j++;
        if (j == i + 1) self->curves[kept++] = self->curves[i];
        else
            for (size_t k = i; k < j; k++) self->members[self->curves[k].member].has_curve = 0;
        i = j;
    }
    self->ncurves = kept;
}

static fb_member_t *s_find(const fb_memberdir_t *self, const char *id)
{
    if (!self->sealed || !self->n) return NULL;
    fb_member_t probe;
    if (strlen(id) > FB_MEMBER_ID_MAX) return NULL;
    memcpy(probe.id, id, strlen(id) + 1);
    return bsearch(&probe, self->members, self->n, sizeof(*self->members), s_by_id);
}

int fb_memberdir_add_key(fb_memberdir_t *self, const char *member, const fb_member_key_t *k)
{
    fb_member_t *m = s_find(self, member);
    if (!m) return -1;
    fb_member_key_t *v = realloc(m->keys, (m->nkeys + 1) * sizeof(*v));
    if (!v) return -1;
    m->keys = v;
    m->keys[m->nkeys++] = *k;
    return 0;
}

const fb_member_t *fb_memberdir_find(const fb_memberdir_t *self, const char *id)
{
    return s_find(self, id);
}

const fb_member_t *fb_memberdir_by_curve(const fb_memberdir_t *self, const uint8_t key[FB_MEMBER_CURVE_LEN])
{
    if (!self->ncurves) return NULL;
    s_curve_t probe;
    memcpy(probe.key, key, FB_MEMBER_CURVE_LEN);
    const s_curve_t *c = bsearch(&probe, self->curves, self->ncurves, sizeof(*self->curves), s_by_key);
    return c ? &self->members[c->member] : NULL;
}

fb_admit_t fb_memberdir_admit(const fb_memberdir_t *self, const char *id, const char *key_z85, const fb_member_t **m)
{
    const fb_member_t *mem = s_find(self, id ? id : "");
    if (m) *m = mem;
    if (!mem) return FB_ADMIT_UNKNOWN;
    if (mem->status == FB_MEMBER_SUSPENDED) return FB_ADMIT_SUSPENDED;
    if (mem->status != FB_MEMBER_ACTIVE) return FB_ADMIT_REVOKED;
    if (!mem->has_curve || !key_z85 || strcmp(mem->curve_z85, key_z85) != 0) return FB_ADMIT_KEY_CHANGED;
    return FB_ADMIT_OK;
}

size_t fb_memberdir_size(const fb_memberdir_t *self)
{
    return self->n;
}

const fb_member_t *fb_memberdir_at(const fb_memberdir_t *self, size_t i)
{
    return &self->members[i];
}

static int s_strings_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0) return 0;
    return 1;
}

static int s_member_equal(const fb_member_t *a, const fb_member_t *b)
{
    return strcmp(a->id, b->id) == 0 && a->kind == b->kind && a->status == b->status && a->has_curve == b->has_curve &&
           (!a->has_curve || memcmp(a->curve_public, b->curve_public, FB_MEMBER_CURVE_LEN) == 0) &&
           s_strings_equal(a->publish, a->npublish, b->publish, b->npublish) &&
           s_strings_equal(a->read, a->nread, b->read, b->nread) && a->nkeys == b->nkeys &&
           (a->nkeys == 0 || memcmp(a->keys, b->keys, a->nkeys * sizeof(*a->keys)) == 0);
}

int fb_memberdir_equal(const fb_memberdir_t *a, const fb_memberdir_t *b)
{
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (!s_member_equal(&a->members[i], &b->members[i])) return 0;
    return 1;
}

int fb_memberdir_cuts(const fb_memberdir_t *old, const fb_memberdir_t *new_dir)
{
    for (size_t i = 0; i < old->n; i++) {
        const fb_member_t *o = &old->members[i];
        if (o->status != FB_MEMBER_ACTIVE || !o->has_curve) continue;
        const fb_member_t *n = s_find(new_dir, o->id);
        if (!n || n->status != FB_MEMBER_ACTIVE || !n->has_curve ||
            memcmp(n->curve_public, o->curve_public, FB_MEMBER_CURVE_LEN) != 0)
            return 1;
    }
    return 0;
}

fb_memberdir_t *fb_memberdir_ref(fb_memberdir_t *self)
{
    __atomic_add_fetch(&self->refs, 1, __ATOMIC_RELAXED);
    return self;
}

void fb_memberdir_release(fb_memberdir_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_memberdir_t *self = *self_p;
    *self_p = NULL;
    if (__atomic_sub_fetch(&self->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    for (size_t i = 0; i < self->n; i++) fb_member_clear(&self->members[i]);
    free(self->members);
    free(self->curves);
    free(self);
}
