/* fb_replay_srv.c — replay requests checked and served, one ReplayChunk of up to 256 rows per turn. */
#include "fb_replay_srv.h"

#include "fb_envelope.h"
#include "fb_log.h"
#include "fb_reply.h"
#include "fb_zmq.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_PAGE 256
#define S_MAX_ACTIVE 64
#define S_MAX_PREFIXES 256

typedef struct {
    zmq_msg_t ident;
    uint64_t request_id;
    uint64_t next_seq;
    int64_t since_us;
    char **prefixes;
    size_t nprefixes;
    uint64_t remaining; /* 0 = to the head */
} s_replay_t;

struct fb_replay_srv {
    void *router;
    fb_store_t *reader;
    fb_broker_stats_t *stats;
    uint64_t head; /* as the caller last gave it */
    s_replay_t replays[S_MAX_ACTIVE];
    int nreplays;
};

fb_replay_srv_t *fb_replay_srv_new(void *router, fb_store_t *reader, fb_broker_stats_t *stats)
{
    fb_replay_srv_t *self = calloc(1, sizeof(*self));
    if (!self) {
        zmq_close(router);
        fb_store_destroy(&reader);
        return NULL;
    }
    self->router = router;
    self->reader = reader;
    self->stats = stats;
    return self;
}

static void s_replay_free(s_replay_t *r)
{
    for (size_t i = 0; i < r->nprefixes; i++) free(r->prefixes[i]);
    free(r->prefixes);
    zmq_msg_close(&r->ident);
}

void fb_replay_srv_destroy(fb_replay_srv_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_replay_srv_t *self = *self_p;
    for (int i = 0; i < self->nreplays; i++) s_replay_free(&self->replays[i]);
    zmq_close(self->router);
    fb_store_destroy(&self->reader);
    free(self);
    *self_p = NULL;
}

void *fb_replay_srv_socket(fb_replay_srv_t *self)
{
    return self->router;
}

int fb_replay_srv_active(const fb_replay_srv_t *self)
{
    return self->nreplays > 0;
}

/* Packs ch and sends it to ident; returns 0, or -1 with errno (the chunk
 * is dropped). */
static int s_send_chunk(fb_replay_srv_t *self, const zmq_msg_t *ident, const Fedbus__ReplayChunk *ch)
{
    zmq_msg_t body;
    if (zmq_msg_init_size(&body, fedbus__replay_chunk__get_packed_size(ch)) != 0) return -1;
    fedbus__replay_chunk__pack(ch, zmq_msg_data(&body));
    return fb_reply_send(self->router, ident, &body);
}

static void s_replay_error(fb_replay_srv_t *self, const zmq_msg_t *ident, uint64_t request_id, int reason,
                           const char *detail)
{
    Fedbus__ReplayChunk ch = FEDBUS__REPLAY_CHUNK__INIT;
    ch.request_id = request_id;
    ch.done = 1;
    ch.error = reason;
    ch.detail = (char *)detail;
    ch.head_seq = self->head;
    s_send_chunk(self, ident, &ch);
}

static int s_prefix_ok(const char *p)
{
    size_t len = strlen(p);
    if (len == 0 || len > FB_TOPIC_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' ||
              p[i] == '.'))
            return 0;
    return 1;
}

/* Starts the replay req asks for, or answers why not. */
static void s_start(fb_replay_srv_t *self, const zmq_msg_t *ident, const Fedbus__ReplayRequest *req)
{
    int ok = req->n_prefixes <= S_MAX_PREFIXES;
    for (size_t i = 0; ok && i < req->n_prefixes; i++) ok = s_prefix_ok(req->prefixes[i]);
    if (!ok) {
        s_replay_error(self, ident, req->request_id, FEDBUS__REJECT_REASON__REJECT_BAD_TOPIC,
                       "prefixes: at most 256, each 1-255 of [a-z0-9.-]");
        return;
    }
    if (self->nreplays == S_MAX_ACTIVE) {
        s_replay_error(self, ident, req->request_id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                       "too many replays in progress: retry");
        return;
    }
    s_replay_t *r = &self->replays[self->nreplays];
    memset(r, 0, sizeof(*r));
    r->request_id = req->request_id;
    r->next_seq = req->from_seq ? req->from_seq : 1;
    r->since_us = req->since_us;
    r->remaining = req->limit;
    r->prefixes = calloc(req->n_prefixes ? req->n_prefixes : 1, sizeof(char *));
    for (size_t i = 0; r->prefixes && i < req->n_prefixes; i++) {
        if (!(r->prefixes[r->nprefixes] = strdup(req->prefixes[i]))) break;
        r->nprefixes++;
    }
    zmq_msg_init(&r->ident);
    if (!r->prefixes || r->nprefixes != req->n_prefixes) {
        s_replay_free(r);
        s_replay_error(self, ident, req->request_id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                       "out of memory");
        return;
    }
    zmq_msg_copy(&r->ident, (zmq_msg_t *)ident);
    self->nreplays++;
    self->stats->replays++;
}

void fb_replay_srv_read(fb_replay_srv_t *self, uint64_t head)
{
    zmq_msg_t ident, body;
    self->head = head;
    zmq_msg_init(&ident);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&ident, self->router, ZMQ_DONTWAIT) < 0) goto out;
    if (!zmq_msg_more(&ident) || zmq_msg_recv(&body, self->router, 0) < 0) goto out;
    if (zmq_msg_more(&body)) {
        fb_zmq_drain(self->router);
        s_replay_error(self, &ident, 0, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                       "a replay request is one frame; got several");
        goto out;
    }
    Fedbus__ReplayRequest *req =
        fedbus__replay_request__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
    if (!req) {
        fb_info("replay: undecodable request");
        s_replay_error(self, &ident, 0, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                       "not a decodable ReplayRequest");
        goto out;
    }
    s_start(self, &ident, req);
    fedbus__replay_request__free_unpacked(req, NULL);
out:
    zmq_msg_close(&body);
    zmq_msg_close(&ident);
}

typedef struct {
    fb_replay_srv_t *srv;
    s_replay_t *r;
    int done;
    int sent;  /* the chunk left */
    int gone;  /* the client is gone */
} s_page_ctx_t;

/* Sends one page as one ReplayChunk, while the rows are still alive. A full
 * client queue leaves the page to be read again on a later turn. */
static void s_send_page(const fb_store_page_t *page, void *arg)
{
    s_page_ctx_t *c = arg;
    s_replay_t *r = c->r;
    ProtobufCBinaryData envs[FB_STORE_PAGE_MAX];
    for (size_t i = 0; i < page->n; i++) {
        envs[i].data = (uint8_t *)page->envs[i];
        envs[i].len = page->lens[i];
    }
    Fedbus__ReplayChunk ch = FEDBUS__REPLAY_CHUNK__INIT;
    ch.request_id = r->request_id;
    ch.n_envelopes = page->n;
    ch.envelopes = envs;
    ch.head_seq = c->srv->head;
    ch.done = c->done;
    if (s_send_chunk(c->srv, &r->ident, &ch) != 0) {
        c->gone = errno == EHOSTUNREACH;
        return;
    }
    c->sent = 1;
    if (page->n) r->next_seq = page->last_seq + 1;
    if (r->remaining) r->remaining -= page->n;
}

/* Serves one page of replay r; returns 1 when r is finished. */
static int s_step(fb_replay_srv_t *self, s_replay_t *r)
{
    unsigned want = S_PAGE;
    if (r->remaining && r->remaining < want) want = (unsigned)r->remaining;
    if (fb_store_check(self->reader) != 0) {
        s_replay_error(self, &r->ident, r->request_id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                       "store unavailable: retry");
        return 1;
    }
    /* A page that exhausts the limit, or starts past the head, is the last;
     * a page shorter than asked is followed by an empty done chunk. */
    s_page_ctx_t ctx = {self, r, 0, 0, 0};
    if (r->next_seq > self->head) ctx.done = 1;
    else if (r->remaining && r->remaining <= want) ctx.done = 1;
    int n = fb_store_page(self->reader, r->next_seq, r->since_us, (const char *const *)r->prefixes,
                          r->nprefixes, want, s_send_page, &ctx);
    if (n < 0) {
        fb_warn("replay: %s", fb_store_error(self->reader));
        s_replay_error(self, &r->ident, r->request_id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                       "store error: retry");
        return 1;
    }
    if (ctx.gone) return 1;
    if (!ctx.sent) return 0; /* the client's queue is full: same page next turn */
    if (ctx.done) return 1;
    if ((unsigned)n < want) {
        fb_store_page_t empty = {NULL, NULL, 0, 0};
        ctx.done = 1;
        ctx.sent = 0;
        s_send_page(&empty, &ctx);
        return ctx.sent || ctx.gone;
    }
    return 0;
}

void fb_replay_srv_serve(fb_replay_srv_t *self, uint64_t head)
{
    self->head = head;
    for (int i = 0; i < self->nreplays;) {
        if (s_step(self, &self->replays[i])) {
            s_replay_free(&self->replays[i]);
            self->replays[i] = self->replays[--self->nreplays];
        } else {
            i++;
        }
    }
}
