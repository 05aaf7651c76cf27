/* fb_feedsub.c — per connection: the subscriptions asked, what each was narrowed to, a count per prefix subscribed. */
#include "fb_feedsub.h"

#include <stdlib.h>
#include <string.h>

#define S_CONN_NAME_MAX 32

/* One subscription a client asked for, and what it became. */
typedef struct {
    uint8_t *sub;
    size_t len;
    fb_readperm_prefix_t *narrowed;
    int n;
} s_asked_t;

/* One prefix the connection is subscribed to, and by how many of its requests. */
typedef struct {
    fb_readperm_prefix_t p;
    uint32_t count;
} s_held_t;

typedef struct {
    char name[S_CONN_NAME_MAX + 1];
    uint64_t used; /* the table's clock when last touched */
    s_asked_t *asked;
    size_t nasked, capasked;
    s_held_t *held;
    size_t nheld, capheld;
} s_conn_t;

struct fb_feedsub {
    s_conn_t *conns;
    size_t n, cap;
    uint64_t clock;
};

fb_feedsub_t *fb_feedsub_new(void)
{
    return calloc(1, sizeof(fb_feedsub_t));
}

static void s_conn_free(s_conn_t *c)
{
    for (size_t i = 0; i < c->nasked; i++) {
        free(c->asked[i].sub);
        free(c->asked[i].narrowed);
    }
    free(c->asked);
    free(c->held);
    memset(c, 0, sizeof(*c));
}

void fb_feedsub_clear(fb_feedsub_t *self)
{
    for (size_t i = 0; i < self->n; i++) s_conn_free(&self->conns[i]);
    self->n = 0;
}

void fb_feedsub_destroy(fb_feedsub_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_feedsub_clear(*self_p);
    free((*self_p)->conns);
    free(*self_p);
    *self_p = NULL;
}

size_t fb_feedsub_conns(const fb_feedsub_t *self)
{
    return self->n;
}

/* The connection named conn; made when create (forgetting the one idle
 * longest when the table is full). NULL when there is none, or no memory. */
static s_conn_t *s_conn(fb_feedsub_t *self, const char *conn, int create)
{
    self->clock++;
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->conns[i].name, conn) == 0) {
            self->conns[i].used = self->clock;
            return &self->conns[i];
        }
    if (!create || strlen(conn) > S_CONN_NAME_MAX) return NULL;
    if (self->n == FB_FEEDSUB_CONNS_MAX) {
        size_t oldest = 0;
        for (size_t i = 1; i < self->n; i++)
            if (self->conns[i].used < self->conns[oldest].used) oldest = i;
        s_conn_free(&self->conns[oldest]);
        self->conns[oldest] = self->conns[--self->n];
    }
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        s_conn_t *v = realloc(self->conns, cap * sizeof(*v));
        if (!v) return NULL;
        self->conns = v, self->cap = cap;
    }
    s_conn_t *c = &self->conns[self->n++];
    memset(c, 0, sizeof(*c));
    strcpy(c->name, conn);
    c->used = self->clock;
    return c;
}

static s_asked_t *s_find_asked(s_conn_t *c, const uint8_t *sub, size_t len)
{
    for (size_t i = 0; i < c->nasked; i++)
        if (c->asked[i].len == len && memcmp(c->asked[i].sub, sub, len) == 0) return &c->asked[i];
    return NULL;
}

static s_held_t *s_find_held(s_conn_t *c, const fb_readperm_prefix_t *p)
{
    for (size_t i = 0; i < c->nheld; i++)
        if (c->held[i].p.len == p->len && memcmp(c->held[i].p.b, p->b, p->len) == 0) return &c->held[i];
    return NULL;
}

/* Makes room for n more held prefixes and one more asked; returns 0 or -1. */
static int s_reserve(s_conn_t *c, int n)
{
    if (c->nasked == c->capasked) {
        size_t cap = c->capasked ? c->capasked * 2 : 8;
        s_asked_t *v = realloc(c->asked, cap * sizeof(*v));
        if (!v) return -1;
        c->asked = v, c->capasked = cap;
    }
    if (c->nheld + (size_t)n > c->capheld) {
        size_t cap = c->capheld ? c->capheld : 8;
        while (cap < c->nheld + (size_t)n) cap *= 2;
        s_held_t *v = realloc(c->held, cap * sizeof(*v));
        if (!v) return -1;
        c->held = v, c->capheld = cap;
    }
    return 0;
}

int fb_feedsub_add(fb_feedsub_t *self, const char *conn, const uint8_t *sub, size_t len,
                   const fb_readperm_prefix_t *narrowed, int n, fb_feedsub_fn *fn, void *arg)
{
    s_conn_t *c = s_conn(self, conn, 1);
    if (!c) return -1;
    if (s_find_asked(c, sub, len)) return 0;
    if (c->nasked >= FB_FEEDSUB_PER_CONN_MAX || s_reserve(c, n) != 0) return -1;
    s_asked_t a = {malloc(len ? len : 1), len, malloc((n ? (size_t)n : 1) * sizeof(*narrowed)), n};
    if (!a.sub || !a.narrowed) {
        free(a.sub);
        free(a.narrowed);
        return -1;
    }
    memcpy(a.sub, sub, len);
    if (n) memcpy(a.narrowed, narrowed, (size_t)n * sizeof(*narrowed));
    c->asked[c->nasked++] = a;
    for (int i = 0; i < n; i++) {
        s_held_t *h = s_find_held(c, &narrowed[i]);
        if (h) {
            h->count++;
            continue;
        }
        c->held[c->nheld].p = narrowed[i];
        c->held[c->nheld++].count = 1;
        fn(arg, 1, narrowed[i].b, narrowed[i].len);
    }
    return 1;
}

int fb_feedsub_remove(fb_feedsub_t *self, const char *conn, const uint8_t *sub, size_t len, fb_feedsub_fn *fn,
                      void *arg)
{
    s_conn_t *c = s_conn(self, conn, 0);
    s_asked_t *a = c ? s_find_asked(c, sub, len) : NULL;
    if (!a) return 0;
    for (int i = 0; i < a->n; i++) {
        s_held_t *h = s_find_held(c, &a->narrowed[i]);
        if (!h || --h->count > 0) continue;
        fn(arg, 0, h->p.b, h->p.len);
        *h = c->held[--c->nheld];
    }
    free(a->sub);
    free(a->narrowed);
    *a = c->asked[--c->nasked];
    return 1;
}
