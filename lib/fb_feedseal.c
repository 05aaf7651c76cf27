/* fb_feedseal.c — seal frames from the feed, decoded and kept (bounded, oldest out) until a message needs one. */
#include "fb_feedseal.h"

#include "fb_wire.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    fb_seal_t seal;
    uint8_t (*entries)[FB_SHA256_LEN]; /* NULL: the slot is free */
    size_t n;
    uint64_t age; /* the cache's clock when kept: the smallest goes first */
} s_slot_t;

struct fb_feedseal {
    s_slot_t slots[FB_FEEDSEAL_MAX];
    size_t count, bytes;
    uint64_t clock;
    fb_feedseal_stats_t stats;
};

fb_feedseal_t *fb_feedseal_new(void)
{
    return calloc(1, sizeof(fb_feedseal_t));
}

/* Empties slot s, freeing its entries unless they were handed over. */
static void s_forget(fb_feedseal_t *self, s_slot_t *s, int handed)
{
    self->count--;
    self->bytes -= s->n * FB_SHA256_LEN;
    if (!handed) free(s->entries);
    s->entries = NULL;
}

static void s_free(fb_feedseal_t *self, s_slot_t *s)
{
    s_forget(self, s, 0);
}

void fb_feedseal_destroy(fb_feedseal_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_feedseal_t *self = *self_p;
    for (size_t i = 0; i < FB_FEEDSEAL_MAX; i++) free(self->slots[i].entries);
    free(self);
    *self_p = NULL;
}

/* Drops the oldest seal kept. */
static void s_evict(fb_feedseal_t *self)
{
    s_slot_t *old = NULL;
    for (size_t i = 0; i < FB_FEEDSEAL_MAX; i++)
        if (self->slots[i].entries && (!old || self->slots[i].age < old->age)) old = &self->slots[i];
    if (!old) return;
    s_free(self, old);
    self->stats.evicted++;
}

int fb_feedseal_add(fb_feedseal_t *self, const uint8_t *frame, size_t len)
{
    if (len < 2 || frame[0] != FB_WIRE_FEED_SEAL_MARK || frame[1] != 0) return 0;
    /* The entries are decoded straight into the block kept (and later
     * handed to the verifier, which keeps it in turn), sized by the frame:
     * each entry takes 34 bytes of it at least (its key, its length, 32
     * bytes), so no frame that fits FB_WIRE_FEED_SEAL_ENTRIES_MAX is cut. */
    size_t max = (len - 2) / (FB_SHA256_LEN + 2);
    if (max > FB_WIRE_FEED_SEAL_ENTRIES_MAX) max = FB_WIRE_FEED_SEAL_ENTRIES_MAX;
    uint8_t(*entries)[FB_SHA256_LEN] = malloc(max ? max * FB_SHA256_LEN : 1);
    if (!entries) return -1;
    fb_seal_t seal;
    size_t n;
    int rc = fb_wire_feed_seal_view(frame, len, &seal, entries, max, &n);
    /* A run's entries are one per origin_seq of first_seq..last_seq at most. */
    if (rc < 0 || seal.first_seq == 0 || seal.first_seq > seal.last_seq || n - 1 > seal.last_seq - seal.first_seq) {
        free(entries);
        self->stats.bad++;
        return -1;
    }
    if (n < max) {
        uint8_t(*fit)[FB_SHA256_LEN] = realloc(entries, n * FB_SHA256_LEN); /* shrinks in place */
        if (fit) entries = fit;
    }
    size_t bytes = n * FB_SHA256_LEN;
    while (self->count && (self->count == FB_FEEDSEAL_MAX || self->bytes + bytes > FB_FEEDSEAL_BYTES)) s_evict(self);
    s_slot_t *s = NULL;
    for (size_t i = 0; i < FB_FEEDSEAL_MAX && !s; i++)
        if (!self->slots[i].entries) s = &self->slots[i];
    if (!s) {
        free(entries);
        return -1;
    }
    s->entries = entries;
    s->seal = seal;
    s->n = n;
    s->age = ++self->clock;
    self->count++;
    self->bytes += bytes;
    self->stats.taken++;
    return 1;
}

size_t fb_feedseal_take_own(fb_feedseal_t *self, const char *origin, size_t olen, uint64_t seq,
                            fb_feedseal_own_fn fn, void *arg)
{
    size_t taken = 0;
    while (self->count) {
        s_slot_t *best = NULL;
        for (size_t i = 0; i < FB_FEEDSEAL_MAX; i++) {
            s_slot_t *s = &self->slots[i];
            if (s->entries && seq >= s->seal.first_seq && seq <= s->seal.last_seq &&
                strlen(s->seal.origin) == olen && memcmp(s->seal.origin, origin, olen) == 0 &&
                (!best || s->age < best->age))
                best = s;
        }
        if (!best) break;
        int handed = fn(arg, &best->seal, best->entries, best->n);
        s_forget(self, best, handed);
        self->stats.used++;
        taken++;
    }
    return taken;
}

typedef struct {
    fb_feedseal_fn fn;
    void *arg;
} s_lend_t;

/* fb_feedseal_own_fn of fb_feedseal_take(): lends the entries for the call. */
static int s_lend(void *arg, const fb_seal_t *seal, uint8_t (*entries)[FB_SHA256_LEN], size_t n)
{
    s_lend_t *l = arg;
    l->fn(l->arg, seal, (const uint8_t(*)[FB_SHA256_LEN])entries, n);
    return 0;
}

size_t fb_feedseal_take(fb_feedseal_t *self, const char *origin, size_t olen, uint64_t seq, fb_feedseal_fn fn,
                        void *arg)
{
    s_lend_t l = {fn, arg};
    return fb_feedseal_take_own(self, origin, olen, seq, s_lend, &l);
}

size_t fb_feedseal_count(const fb_feedseal_t *self, size_t *bytes)
{
    if (bytes) *bytes = self->bytes;
    return self->count;
}

void fb_feedseal_get_stats(const fb_feedseal_t *self, fb_feedseal_stats_t *out)
{
    *out = self->stats;
}
