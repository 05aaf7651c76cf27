/* fb_pace.c — token buckets for the log lines peers cause, and the count of what was left out. */
#include "fb_pace.h"

#include "fb_log.h"
#include "fb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SLOTS 512 /* (peer, kind) pairs paced at once; a newcomer takes its slot over */

/* The pace of one kind of line about one peer. */
typedef struct {
    uint64_t key;        /* s_key(); 0: free */
    const char *label;
    char peer[24];       /* the peer's first bytes, in hex */
    double tokens;
    int64_t at_us;       /* when tokens were last topped up */
    uint64_t suppressed; /* lines left out since the last count logged */
} s_slot_t;

struct fb_pace {
    s_slot_t slots[S_SLOTS];
    double all_burst, all_rate;
    double all_tokens; /* every peer's lines together */
    int64_t all_at_us;
    uint64_t suppressed; /* lines left out since the last summary */
    int64_t summary_at_us;
    const s_slot_t *last; /* the slot of the last line allowed */
};

fb_pace_t *fb_pace_new(double all_burst, double all_rate)
{
    fb_pace_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->all_burst = self->all_tokens = all_burst;
    self->all_rate = all_rate;
    self->all_at_us = fb_time_mono_us();
    self->last = &self->slots[0];
    return self;
}

void fb_pace_destroy(fb_pace_t **self_p)
{
    if (!self_p || !*self_p) return;
    free(*self_p);
    *self_p = NULL;
}

static uint64_t s_key(const void *peer, size_t len, int kind)
{
    /* FNV-1a over the peer, then the kind. */
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *p = peer;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    h = (h ^ (uint64_t)(kind + 1)) * 1099511628211ULL;
    return h ? h : 1;
}

/* Logs how many lines of slot s were left out, and forgets them. */
static void s_log_suppressed(s_slot_t *s)
{
    if (!s->suppressed) return;
    fb_info("%s (peer %s): %llu more lines like it not logged", s->label, s->peer, (unsigned long long)s->suppressed);
    s->suppressed = 0;
}

/* Tops up a token bucket of burst tokens, rate a second; takes one.
 * Returns 1 when there was one. */
static int s_take(double *tokens, int64_t *at_us, int64_t now, double burst, double rate)
{
    *tokens += (double)(now - *at_us) / 1e6 * rate;
    if (*tokens > burst) *tokens = burst;
    *at_us = now;
    if (*tokens < 1.0) return 0;
    *tokens -= 1.0;
    return 1;
}

int fb_pace_may(fb_pace_t *self, const void *peer, size_t len, int kind, const char *label, double burst,
                double rate)
{
    int64_t now = fb_time_mono_us();
    uint64_t key = s_key(peer, len, kind);
    s_slot_t *s = &self->slots[key % S_SLOTS];
    if (s->key != key) {
        s_log_suppressed(s);
        memset(s, 0, sizeof(*s));
        s->key = key;
        s->label = label;
        s->tokens = burst;
        s->at_us = now;
        const unsigned char *id = peer;
        for (size_t i = 0; i < len && i < (sizeof(s->peer) - 1) / 2; i++) sprintf(s->peer + 2 * i, "%02x", id[i]);
    }
    if (!s_take(&s->tokens, &s->at_us, now, burst, rate) ||
        !s_take(&self->all_tokens, &self->all_at_us, now, self->all_burst, self->all_rate)) {
        s->suppressed++;
        self->suppressed++;
        return 0;
    }
    self->last = s;
    return 1;
}

const char *fb_pace_peer(const fb_pace_t *self)
{
    return self->last->peer;
}

void fb_pace_tick(fb_pace_t *self)
{
    if (!self->suppressed) return;
    int64_t now = fb_time_mono_us();
    if (now - self->summary_at_us < 1000000) return;
    self->summary_at_us = now;
    self->suppressed = 0;
    for (size_t i = 0; i < S_SLOTS; i++) s_log_suppressed(&self->slots[i]);
}
