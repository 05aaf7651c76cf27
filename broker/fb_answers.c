/* fb_answers.c — last answers to ROUTER peers whose queue is full, kept (bounded) and sent once they read. */
#include "fb_answers.h"

#include "fb_log.h"
#include "fb_reply.h"
#include "fb_time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_RETRY_US 5000 /* an answer the peer's queue refused is offered again after */

typedef struct {
    zmq_msg_t ident, body;
    uint64_t request_id;
    int64_t kept_us, tried_us; /* monotonic */
} s_answer_t;

struct fb_answers {
    void *router;
    int stall_ms;
    fb_pace_t *pace;
    s_answer_t kept[FB_ANSWERS_MAX]; /* in the order they were kept */
    int n;
    uint64_t dropped;
};

fb_answers_t *fb_answers_new(void *router, int stall_ms, fb_pace_t *pace)
{
    fb_answers_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->router = router;
    self->stall_ms = stall_ms;
    self->pace = pace;
    return self;
}

void fb_answers_destroy(fb_answers_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_answers_t *self = *self_p;
    for (int i = 0; i < self->n; i++) {
        zmq_msg_close(&self->kept[i].ident);
        zmq_msg_close(&self->kept[i].body);
    }
    free(self);
    *self_p = NULL;
}

static int s_same(const zmq_msg_t *a, const zmq_msg_t *b)
{
    size_t len = zmq_msg_size((zmq_msg_t *)a);
    return len == zmq_msg_size((zmq_msg_t *)b) &&
           memcmp(zmq_msg_data((zmq_msg_t *)a), zmq_msg_data((zmq_msg_t *)b), len) == 0;
}

/* Sends a reference to body to ident; body stays. Returns 0 when sent, else -1 with errno. */
static int s_try(fb_answers_t *self, const zmq_msg_t *ident, zmq_msg_t *body)
{
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, body);
    return fb_reply_send(self->router, ident, &copy);
}

/* Counts an answer dropped and says why, once a minute for each peer and kind. */
static void s_drop(fb_answers_t *self, const zmq_msg_t *ident, uint64_t request_id, int stalled)
{
    self->dropped++;
    if (!fb_pace_may(self->pace, zmq_msg_data((zmq_msg_t *)ident), zmq_msg_size((zmq_msg_t *)ident),
                     stalled ? 1001 : 1000, stalled ? "replay answer dropped" : "replay answer not kept", 1,
                     1.0 / 60))
        return;
    if (stalled)
        fb_warn("replay: the answer to request %llu dropped: its client (peer %s) took nothing for %d ms "
                "(%llu answers dropped so far)",
                (unsigned long long)request_id, fb_pace_peer(self->pace), self->stall_ms,
                (unsigned long long)self->dropped);
    else
        fb_warn("replay: the answer to request %llu dropped: %d answers kept for this client (peer %s) already, "
                "which reads none of them (%llu answers dropped so far)",
                (unsigned long long)request_id, FB_ANSWERS_PER_PEER, fb_pace_peer(self->pace),
                (unsigned long long)self->dropped);
}

int fb_answers_send(fb_answers_t *self, const zmq_msg_t *ident, zmq_msg_t *body, uint64_t request_id)
{
    int mine = 0;
    for (int i = 0; i < self->n; i++) mine += s_same(&self->kept[i].ident, ident);
    /* Behind answers kept for the same peer, this one waits its turn. */
    if (!mine && s_try(self, ident, body) == 0) {
        zmq_msg_close(body);
        return 0;
    }
    if (!mine && errno == EHOSTUNREACH) {
        zmq_msg_close(body);
        return 1;
    }
    if (mine >= FB_ANSWERS_PER_PEER || self->n >= FB_ANSWERS_MAX) {
        zmq_msg_close(body);
        s_drop(self, ident, request_id, 0);
        return -1;
    }
    s_answer_t *a = &self->kept[self->n++];
    zmq_msg_init(&a->ident);
    zmq_msg_copy(&a->ident, (zmq_msg_t *)ident);
    zmq_msg_init(&a->body);
    zmq_msg_move(&a->body, body);
    a->request_id = request_id;
    a->kept_us = a->tried_us = fb_time_mono_us();
    return 0;
}

void fb_answers_flush(fb_answers_t *self, int64_t now)
{
    int out = 0;
    for (int i = 0; i < self->n; i++) {
        s_answer_t *a = &self->kept[i];
        int done = 0, blocked = 0;
        /* An earlier answer of the same peer still kept: this one waits. */
        for (int j = 0; j < out && !blocked; j++) blocked = s_same(&self->kept[j].ident, &a->ident);
        if (!blocked && now - a->tried_us >= S_RETRY_US) {
            a->tried_us = now;
            if (s_try(self, &a->ident, &a->body) == 0 || errno == EHOSTUNREACH) done = 1;
        }
        if (!done && now - a->kept_us >= (int64_t)self->stall_ms * 1000) {
            s_drop(self, &a->ident, a->request_id, 1);
            done = 1;
        }
        if (done) {
            zmq_msg_close(&a->ident);
            zmq_msg_close(&a->body);
        } else {
            if (out != i) {
                s_answer_t *to = &self->kept[out];
                zmq_msg_init(&to->ident);
                zmq_msg_move(&to->ident, &a->ident);
                zmq_msg_init(&to->body);
                zmq_msg_move(&to->body, &a->body);
                zmq_msg_close(&a->ident);
                zmq_msg_close(&a->body);
                to->request_id = a->request_id;
                to->kept_us = a->kept_us;
                to->tried_us = a->tried_us;
            }
            out++;
        }
    }
    self->n = out;
}

int64_t fb_answers_wait_us(const fb_answers_t *self, int64_t now)
{
    int64_t wait = -1;
    for (int i = 0; i < self->n; i++) {
        int64_t w = self->kept[i].tried_us + S_RETRY_US - now;
        if (w < 0) w = 0;
        if (wait < 0 || w < wait) wait = w;
    }
    return wait;
}

uint64_t fb_answers_dropped(const fb_answers_t *self)
{
    return self->dropped;
}
