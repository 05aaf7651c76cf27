/* fb_subcount.c — the feed's count frames against what a subscriber received: a feed that lost nothing needs no replay. */
#include "fb_client_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *prefix;
    size_t len;
    uint64_t recv;       /* messages received under it, ever */
    uint64_t base_count; /* the broker's count at the last head settled ... */
    uint64_t base_recv;  /* ... and recv then */
    int have_base;
    int got;        /* its count frame for the awaited head came */
    uint64_t count; /* what it said */
} s_prefix_t;

struct fb_subcount {
    s_prefix_t *v;
    size_t n;
    int on;       /* a count frame came */
    int pending;  /* count frames for head are awaited */
    uint64_t head;
    uint64_t last_head; /* the last head frame's, awaited or not */
    size_t waiting;     /* prefixes whose frame is still to come */
};

fb_subcount_t *fb_subcount_new(void)
{
    return calloc(1, sizeof(fb_subcount_t));
}

void fb_subcount_destroy(fb_subcount_t **self_p)
{
    if (!self_p || !*self_p) return;
    for (size_t i = 0; i < (*self_p)->n; i++) free((*self_p)->v[i].prefix);
    free((*self_p)->v);
    free(*self_p);
    *self_p = NULL;
}

static s_prefix_t *s_find(fb_subcount_t *self, const void *prefix, size_t len)
{
    for (size_t i = 0; i < self->n; i++)
        if (self->v[i].len == len && (len == 0 || memcmp(self->v[i].prefix, prefix, len) == 0)) return &self->v[i];
    return NULL;
}

int fb_subcount_add(fb_subcount_t *self, const char *prefix)
{
    size_t len = strlen(prefix);
    if (s_find(self, prefix, len)) return 0;
    s_prefix_t *v = realloc(self->v, (self->n + 1) * sizeof(*v));
    if (!v) return -1;
    self->v = v;
    memset(&v[self->n], 0, sizeof(v[0]));
    if (!(v[self->n].prefix = strdup(prefix))) return -1;
    v[self->n++].len = len;
    /* A wait under way cannot be met by a prefix that joined during it. */
    if (self->pending) self->waiting++;
    return 0;
}

void fb_subcount_recv(fb_subcount_t *self, const char *topic, size_t tlen)
{
    for (size_t i = 0; i < self->n; i++)
        if (self->v[i].len <= tlen && memcmp(self->v[i].prefix, topic, self->v[i].len) == 0) self->v[i].recv++;
}

int fb_subcount_on(const fb_subcount_t *self)
{
    return self->on;
}

int fb_subcount_head(fb_subcount_t *self, uint64_t head)
{
    self->last_head = head;
    if (!self->on || !self->n) return 0;
    self->pending = 1;
    self->head = head;
    self->waiting = self->n;
    for (size_t i = 0; i < self->n; i++) self->v[i].got = 0;
    return 1;
}

int fb_subcount_pending(const fb_subcount_t *self, uint64_t *head)
{
    *head = self->head;
    return self->pending;
}

int fb_subcount_frame(fb_subcount_t *self, const uint8_t *prefix, size_t len, uint64_t head, uint64_t count)
{
    s_prefix_t *p = s_find(self, prefix, len);
    if (!p) return 0; /* a longer prefix's, another subscriber's */
    self->on = 1;
    if (!self->pending || head != self->head) {
        /* Outside a wait (the first ones): where the comparison starts. */
        if (!self->pending && head == self->last_head) {
            p->base_count = count;
            p->base_recv = p->recv;
            p->have_base = 1;
        }
        return 0;
    }
    if (p->got) return 0;
    p->got = 1;
    p->count = count;
    return --self->waiting == 0;
}

int fb_subcount_settle(fb_subcount_t *self)
{
    int ok = self->pending && self->waiting == 0;
    for (size_t i = 0; i < self->n; i++) {
        s_prefix_t *p = &self->v[i];
        if (!p->got || !p->have_base || p->count - p->base_count != p->recv - p->base_recv) ok = 0;
        p->have_base = p->got;
        if (p->got) {
            p->base_count = p->count;
            p->base_recv = p->recv;
        }
        p->got = 0;
    }
    self->pending = 0;
    return ok;
}
