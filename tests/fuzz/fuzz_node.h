/* fuzz_node.h — a node's submit socket and outbox for the targets that feed it, and the broker's look at what it queued.
 *
 * fz_node() makes them once per process: the submit ROUTER on
 * FZ_NODE_SUBMIT and FB_NODE_INPROC (as fedbus-node binds them), an outbox
 * in memory. fz_node_settle() takes every frame waiting on the submit
 * socket, checks each publish the node queued as the broker does, and
 * empties the outbox, so that each input starts from the same state. */
#ifndef FUZZ_NODE_H
#define FUZZ_NODE_H

#include "fuzz.h"

#include "fb_envelope.h"
#include "fb_node.h"
#include "fb_outbox.h"
#include "fb_submit.h"
#include "fb_wire.h"

#define FZ_NODE_SUBMIT "inproc://fuzz-node-submit"
#define FZ_NODE_MEMBER "kr-seoul"
#define FZ_NODE_MAX_FRAME (1 << 20)

typedef struct {
    fb_node_config_t cfg;
    fb_node_stats_t stats;
    fb_outbox_t *outbox;
    fb_submit_t *submit;
} fz_node_t;

static inline fz_node_t *fz_node(void)
{
    static fz_node_t n;
    if (n.submit) return &n;
    snprintf(n.cfg.member, sizeof(n.cfg.member), "%s", FZ_NODE_MEMBER);
    snprintf(n.cfg.submit, sizeof(n.cfg.submit), "%s", FZ_NODE_SUBMIT);
    snprintf(n.cfg.outbox, sizeof(n.cfg.outbox), "memory");
    n.cfg.max_frame = FZ_NODE_MAX_FRAME;
    n.cfg.outbox_max = 4096;
    n.outbox = fb_outbox_new((size_t)n.cfg.outbox_max);
    FZ_CHECK(n.outbox != NULL, "out of memory");
    n.submit = fb_submit_new(&n.cfg, n.outbox, &n.stats);
    FZ_CHECK(n.submit != NULL, "cannot make the submit socket");
    return &n;
}

/* Checks the publish frame the node queued (stamped with its origin and
 * origin_seq) as the broker will; returns 1 when the broker would take it. */
static inline int fz_node_check_entry(const fb_outbox_entry_t *e)
{
    const uint8_t *env;
    size_t len;
    FZ_CHECK(fb_wire_publish_view(e->frame, e->frame_len, &env, &len) == 0, "the node queued a frame that is not a publish");
    fb_envelope_head_t h;
    FZ_CHECK(fb_wire_envelope_scan(env, len, &h) == 0, "the node queued an envelope that does not scan");
    FZ_CHECK(h.origin_len == strlen(FZ_NODE_MEMBER) && memcmp(h.origin, FZ_NODE_MEMBER, h.origin_len) == 0,
             "the node queued an envelope of another origin");
    FZ_CHECK(h.origin_seq == e->origin_seq, "the node queued an envelope under another origin_seq");
    FZ_CHECK(h.message_id_len == FB_UUID_LEN && memcmp(h.message_id, e->id, FB_UUID_LEN) == 0,
             "the node queued an envelope under another message_id");
    fb_verdict_t v;
    Fedbus__Envelope *d = fb_envelope_decode(env, len, &v, NULL);
    if (d) fedbus__envelope__free_unpacked(d, NULL);
    return d != NULL;
}

/* Takes every frame queued on the submit socket, checks what the node
 * queued, and empties the outbox; returns how many the broker would take. */
static inline int fz_node_settle(fz_node_t *n)
{
    int good = 0;
    fb_submit_take_many(n->submit, n->cfg.max_frame, 10000); /* as the node loop takes them: one ahead */
    fb_outbox_sync(n->outbox);
    fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
    fb_outbox_entry_t *e;
    while ((e = fb_outbox_next(n->outbox, FB_OUTBOX_ALL, &it))) {
        good += fz_node_check_entry(e);
        fb_outbox_answer_seq(n->outbox, e->origin_seq);
    }
    fb_outbox_trim(n->outbox);
    FZ_CHECK(fb_outbox_depth(n->outbox) == 0, "the outbox did not empty");
    return good;
}

#endif
