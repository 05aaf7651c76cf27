/* fb_replay_srv.c — replay requests checked and served, one ReplayChunk of up to 256 rows per turn.
 *
 * Every bound here keeps a replay from costing the broker's main thread or
 * memory more than a little: a page reads a window of S_SCAN global_seqs of
 * history (a prefix through the topic index; the window widens up to
 * S_SCAN_MAX while it is read in well under a millisecond), the reader's statement
 * timeout cuts a query that still runs long, one turn serves replays for at
 * most S_TURN_US (round robin), a chunk holds at most S_CHUNK_BYTES (or one
 * envelope), and a chunk that the client's queue
 * (replay-queue) does not take is kept, alone, until it does — or, after
 * replay-stall, the replay is dropped and counted. A replay's last answer
 * (an error chunk) is never dropped silently either: a refusal waits with
 * fb_answers, an error of a replay under way as its held chunk. */
#include "fb_replay_srv.h"

#include "fb_answers.h"
#include "fb_envelope.h"
#include "fb_log.h"
#include "fb_pace.h"
#include "fb_readperm.h"
#include "fb_replay_lookup.h"
#include "fb_replay_proofs.h"
#include "fb_reply.h"
#include "fb_time.h"
#include "fb_wire.h"
#include "fb_zmq.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PAGE 256
#define S_MAX_PREFIXES 256
#define S_MAX_NARROWED 1024  /* prefixes a request may have once narrowed to read permissions */
#define S_SCAN 16384         /* global_seqs one page reads at first... */
#define S_SCAN_MAX (1u << 20) /* ...and at most, while windows come back short in under S_FAST_US */
#define S_FAST_US 1000
#define S_TURN_US 2000       /* replay work per loop turn */
#define S_RETRY_US 5000      /* a chunk the client's queue refused is offered again after */
#define S_CHUNK_BYTES (4u << 20) /* envelope bytes in one chunk (but always one envelope) */
#define S_SINCE_MAX 253402300799999999LL /* 9999-12-31T23:59:59.999999Z, in µs */

typedef struct {
    zmq_msg_t ident;
    uint64_t request_id;
    uint64_t next_seq;
    int64_t since_us;
    char **prefixes;
    size_t nprefixes;
    uint64_t remaining; /* 0 = to the head */
    int from_start;     /* from_seq 0: from the oldest kept, wherever the horizon moves before the first chunk */
    int sent;           /* a chunk went out */
    /* A chunk the client's queue refused, with what follows once it is sent. */
    zmq_msg_t held;
    int holding, held_done;
    uint64_t held_next, held_remaining;
    int64_t blocked_us; /* monotonic: when the chunk was first refused */
    int64_t tried_us;   /* ... and last offered */
    int finished;       /* to be removed at the end of the turn */
    uint32_t scan;      /* global_seqs the next page reads */
    int stopped;        /* its member was cut off: the chunk held says so, and is the last */
    int checked;        /* who asked is checked: every row is read through its read permission */
    int proofs;         /* each chunk carries the seals of its envelopes (fb_replay_proofs.h) */
    char member[FB_MEMBER_ID_MAX + 1]; /* who asked (empty when nobody is checked) */
    char key[FB_MEMBER_Z85_LEN + 1];    /* ... with which CURVE key */
} s_replay_t;

struct fb_replay_srv {
    void *router;
    fb_store_t *reader;
    fb_broker_stats_t *stats;
    fb_replay_limits_t limits;
    uint64_t head; /* as the caller last gave it */
    s_replay_t *replays; /* limits.max_active of them */
    int nreplays;
    int turn;            /* where the next turn starts */
    uint64_t dropped;    /* replays dropped for a client that did not read */
    const fb_retention_t *retention; /* the horizon; NULL: nothing is ever dropped */
    fb_identity_t *identity;
    fb_pace_t *pace;     /* refusals are logged once a minute per client */
    fb_answers_t *answers; /* refusals a client's full queue did not take yet */
};

fb_replay_srv_t *fb_replay_srv_new(void *router, fb_store_t *reader, fb_broker_stats_t *stats,
                                   const fb_replay_limits_t *limits, fb_identity_t *identity)
{
    fb_replay_srv_t *self = calloc(1, sizeof(*self));
    if (self) {
        self->replays = calloc((size_t)limits->max_active, sizeof(s_replay_t));
        self->pace = fb_pace_new(20, 5);
        if (self->pace) self->answers = fb_answers_new(router, limits->stall_ms, self->pace);
    }
    if (!self || !self->replays || !self->answers) {
        if (self) fb_pace_destroy(&self->pace);
        if (self) free(self->replays);
        free(self);
        zmq_close(router);
        fb_store_destroy(&reader);
        return NULL;
    }
    self->router = router;
    self->reader = reader;
    self->stats = stats;
    self->limits = *limits;
    self->identity = identity;
    if (limits->timeout_ms && fb_store_set_timeout(reader, limits->timeout_ms) != 0)
        fb_warn("replay: %s", fb_store_error(reader)); /* set again at the next connect */
    return self;
}

static void s_replay_free(s_replay_t *r)
{
    for (size_t i = 0; i < r->nprefixes; i++) free(r->prefixes[i]);
    free(r->prefixes);
    zmq_msg_close(&r->ident);
    if (r->holding) zmq_msg_close(&r->held);
}

void fb_replay_srv_destroy(fb_replay_srv_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_replay_srv_t *self = *self_p;
    for (int i = 0; i < self->nreplays; i++) s_replay_free(&self->replays[i]);
    free(self->replays);
    fb_answers_destroy(&self->answers);
    fb_pace_destroy(&self->pace);
    zmq_close(self->router);
    fb_store_destroy(&self->reader);
    free(self);
    *self_p = NULL;
}

void fb_replay_srv_set_retention(fb_replay_srv_t *self, const fb_retention_t *retention)
{
    self->retention = retention;
}

/* The horizon as the manager last published it. */
static void s_horizon(const fb_replay_srv_t *self, uint64_t *seq, int64_t *us)
{
    *seq = 1;
    *us = 0;
    if (self->retention) fb_retention_horizon(self->retention, seq, us);
    if (*seq < 1) *seq = 1;
}

void *fb_replay_srv_socket(fb_replay_srv_t *self)
{
    return self->router;
}

uint64_t fb_replay_srv_dropped(const fb_replay_srv_t *self)
{
    return self->dropped + fb_answers_dropped(self->answers);
}

int fb_replay_srv_wait_ms(const fb_replay_srv_t *self, int idle_ms)
{
    int64_t now = fb_time_mono_us(), wait = fb_answers_wait_us(self->answers, now);
    if (wait == 0) return 0;
    for (int i = 0; i < self->nreplays; i++) {
        const s_replay_t *r = &self->replays[i];
        int64_t w = r->holding ? r->tried_us + S_RETRY_US - now : 0;
        if (w <= 0) return 0;
        if (wait < 0 || w < wait) wait = w;
    }
    if (wait < 0) return idle_ms;
    return (int)((wait + 999) / 1000) < idle_ms ? (int)((wait + 999) / 1000) : idle_ms;
}

int fb_replay_srv_active(const fb_replay_srv_t *self)
{
    return fb_replay_srv_wait_ms(self, 1) == 0;
}

/* Packs ch into *msg; returns 0, or -1 when out of memory. */
static int s_pack(const Fedbus__ReplayChunk *ch, zmq_msg_t *msg)
{
    if (zmq_msg_init_size(msg, fedbus__replay_chunk__get_packed_size(ch)) != 0) return -1;
    fedbus__replay_chunk__pack(ch, zmq_msg_data(msg));
    return 0;
}

/* Packs the last chunk of request_id, which says why it ends (reason,
 * detail) and names first_seq (0: the horizon's) as the first kept, into
 * *body; returns 0, or -1 when out of memory. */
static int s_error_chunk(const fb_replay_srv_t *self, uint64_t request_id, int reason, const char *detail,
                         uint64_t first_seq, zmq_msg_t *body)
{
    Fedbus__ReplayChunk ch = FEDBUS__REPLAY_CHUNK__INIT;
    int64_t us;
    ch.request_id = request_id;
    ch.done = 1;
    ch.error = reason;
    ch.detail = (char *)detail;
    ch.head_seq = self->head;
    if (first_seq) ch.first_seq = first_seq;
    else s_horizon(self, &ch.first_seq, &us);
    return s_pack(&ch, body);
}

/* Answers a request that does not start (or no longer goes on) with an
 * error chunk: sent, or kept until the client's queue takes it. */
static void s_replay_error(fb_replay_srv_t *self, const zmq_msg_t *ident, uint64_t request_id, int reason,
                           const char *detail, uint64_t first_seq)
{
    zmq_msg_t body;
    if (s_error_chunk(self, request_id, reason, detail, first_seq, &body) == 0)
        fb_answers_send(self->answers, ident, &body, request_id);
}

/* 0 when p is a valid prefix; else the reason to refuse it. */
static int s_prefix_check(const char *p)
{
    size_t len = strlen(p);
    if (len > FB_TOPIC_MAX) return FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD;
    if (len == 0) return FEDBUS__REJECT_REASON__REJECT_BAD_TOPIC;
    if (strcmp(p, FB_TOPIC_HEALTH) == 0) return 0; /* the broker's own topic, outside the grammar */
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' ||
              p[i] == '.'))
            return FEDBUS__REJECT_REASON__REJECT_BAD_TOPIC;
    return 0;
}

/* Whether history from from_seq (0: from the oldest kept) stored since
 * since_us (0: any time) lies beyond a horizon at horizon_seq and
 * horizon_us; if so writes why into buf (size bytes), naming the first
 * global_seq kept. */
static int s_beyond_at(uint64_t from_seq, int64_t since_us, uint64_t horizon_seq, int64_t horizon_us, char *buf,
                       size_t size)
{
    char at[48];
    if (from_seq && from_seq < horizon_seq) {
        snprintf(buf, size, "from_seq %llu is beyond retention: the first global_seq kept is %llu",
                 (unsigned long long)from_seq, (unsigned long long)horizon_seq);
        return 1;
    }
    if (since_us && since_us < horizon_us) {
        fb_time_format(horizon_us, 0, at, sizeof(at));
        snprintf(buf, size, "since_us is before the retention horizon %s: the first global_seq kept is %llu", at,
                 (unsigned long long)horizon_seq);
        return 1;
    }
    return 0;
}

/* s_beyond_at() with the horizon the manager published. */
static int s_beyond(const fb_replay_srv_t *self, uint64_t from_seq, int64_t since_us, char *buf, size_t size)
{
    uint64_t seq;
    int64_t us;
    s_horizon(self, &seq, &us);
    return s_beyond_at(from_seq, since_us, seq, us, buf, size);
}

/* 0 when req may start; else the reason to refuse it, with *detail (which
 * may point into buf, of size bytes). */
static int s_check(const fb_replay_srv_t *self, const zmq_msg_t *ident, const Fedbus__ReplayRequest *req,
                   const char **detail, char *buf, size_t size)
{
    *detail = "prefixes: at most 256, each 1-255 of [a-z0-9.-] or _fedbus.health";
    if (req->n_prefixes > S_MAX_PREFIXES) return FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD;
    for (size_t i = 0; i < req->n_prefixes; i++) {
        int why = s_prefix_check(req->prefixes[i]);
        if (why) return why;
    }
    *detail = "from_seq: at most 2^63-1; since_us: 0 to 253402300799999999 (year 9999)";
    if (req->from_seq > INT64_MAX || req->since_us < 0 || req->since_us > S_SINCE_MAX)
        return FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD;
    if (s_beyond(self, req->from_seq, req->since_us, buf, size)) {
        *detail = buf;
        return FEDBUS__REJECT_REASON__REJECT_BEYOND_RETENTION;
    }
    *detail = "too many replays in progress: retry";
    if (self->nreplays >= self->limits.max_active) return FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE;
    int mine = 0;
    size_t len = zmq_msg_size((zmq_msg_t *)ident);
    for (int i = 0; i < self->nreplays; i++) {
        zmq_msg_t *other = (zmq_msg_t *)&self->replays[i].ident;
        mine += zmq_msg_size(other) == len && memcmp(zmq_msg_data(other), zmq_msg_data((zmq_msg_t *)ident), len) == 0;
    }
    *detail = "too many replays in progress for this client: retry";
    if (mine >= self->limits.max_per_peer) return FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE;
    return 0;
}

/* Refuses req of a peer that may not go on; counted, logged once a minute per client. */
static void s_refuse(fb_replay_srv_t *self, const zmq_msg_t *ident, const fb_peer_id_t *peer, uint64_t request_id)
{
    char why[160];
    fb_identity_why(peer, why, sizeof(why));
    self->stats->replays_refused++;
    s_replay_error(self, ident, request_id, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED, why, 0);
    if (FB_LOG_INFO <= fb_log_level_current &&
        fb_pace_may(self->pace, zmq_msg_data((zmq_msg_t *)ident), zmq_msg_size((zmq_msg_t *)ident),
                    FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED, "replay refused NOT_AUTHORIZED", 1, 1.0 / 60))
        fb_info("replay: refused NOT_AUTHORIZED: %s (peer %s)", why, fb_pace_peer(self->pace));
}

/* Writes the patterns (comma-separated, cut to size) into buf; returns buf. */
static const char *s_patterns(char *const *v, size_t n, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", v[i]);
    return n ? buf : "nothing";
}

/* Narrows req's prefixes to what peer's member may read
 * (fb_readperm_replay()) into *out / *nout (none: everything). Returns 0,
 * or -1 after answering: NOT_AUTHORIZED when it may read none of it,
 * INVALID_FIELD when the narrowed prefixes are too many, STORE_UNAVAILABLE
 * when out of memory. */
static int s_narrow(fb_replay_srv_t *self, const zmq_msg_t *ident, const fb_peer_id_t *peer,
                    const Fedbus__ReplayRequest *req, char ***out, size_t *nout)
{
    const char *const *read = (const char *const *)peer->member->read;
    size_t nread = peer->member->nread;
    char detail[512], pats[384];
    if (fb_readperm_replay(read, nread, (const char *const *)req->prefixes, req->n_prefixes, out, nout) != 0) {
        s_replay_error(self, ident, req->request_id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE, "out of memory",
                       0);
        return -1;
    }
    int all = fb_readperm_all(read, nread);
    if (!all && *nout == 0) {
        snprintf(detail, sizeof(detail), "member %s may read none of the topics asked for (it reads %s)", peer->id,
                 s_patterns(peer->member->read, nread, pats, sizeof(pats)));
        self->stats->replays_denied++;
        s_replay_error(self, ident, req->request_id, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED, detail, 0);
        if (FB_LOG_INFO <= fb_log_level_current &&
            fb_pace_may(self->pace, peer->id, strlen(peer->id), FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED + 100,
                        "replay denied by read permission", 1, 1.0 / 60))
            fb_info("replay: refused NOT_AUTHORIZED: %s", detail);
        return -1;
    }
    if (*nout > S_MAX_NARROWED) {
        fb_readperm_free(*out, *nout);
        s_replay_error(self, ident, req->request_id, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD,
                       "prefixes: more than 1024 once narrowed to the member's read permission", 0);
        return -1;
    }
    if (!all) self->stats->replays_narrowed++;
    return 0;
}

/* Answers a look-up (fb_replay_lookup.h) in one chunk. */
static void s_lookup(fb_replay_srv_t *self, const zmq_msg_t *ident, const fb_peer_id_t *peer,
                     const Fedbus__ReplayRequest *req)
{
    Fedbus__ReplayChunk ch = FEDBUS__REPLAY_CHUNK__INIT;
    fb_replay_lookup_t l = {0};
    const char *detail = "store error: retry";
    zmq_msg_t body;
    int64_t us;
    int why = fb_store_check(self->reader) != 0 ? -1
                                                 : fb_replay_lookup_fill(&l, self->reader, self->identity, peer, req,
                                                                         &ch, &detail);
    if (why < 0) fb_warn("replay: %s", fb_store_error(self->reader));
    if (why) {
        fb_replay_lookup_clear(&l);
        s_replay_error(self, ident, req->request_id,
                       why < 0 ? FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE : why, detail, 0);
        return;
    }
    ch.request_id = req->request_id;
    ch.head_seq = self->head;
    s_horizon(self, &ch.first_seq, &us);
    if (s_pack(&ch, &body) == 0) fb_reply_send(self->router, ident, &body);
    fb_replay_lookup_clear(&l);
    self->stats->replays++;
}

/* Starts the replay req asks for, or answers why not. */
static void s_start(fb_replay_srv_t *self, const zmq_msg_t *ident, const fb_peer_id_t *peer,
                    const Fedbus__ReplayRequest *req)
{
    const char *detail;
    if (peer->checked && peer->admit != FB_ADMIT_OK) {
        s_refuse(self, ident, peer, req->request_id);
        return;
    }
    if (fb_replay_lookup_wanted(req)) {
        s_lookup(self, ident, peer, req);
        return;
    }
    char buf[192];
    int why = s_check(self, ident, req, &detail, buf, sizeof(buf));
    if (why) {
        s_replay_error(self, ident, req->request_id, why, detail, 0);
        return;
    }
    char **narrowed = NULL;
    size_t nnarrowed = 0;
    if (peer->checked && s_narrow(self, ident, peer, req, &narrowed, &nnarrowed) != 0) return;
    s_replay_t *r = &self->replays[self->nreplays];
    memset(r, 0, sizeof(*r));
    r->request_id = req->request_id;
    /* From the start means from the oldest message kept. */
    int64_t us;
    s_horizon(self, &r->next_seq, &us);
    if (req->from_seq) r->next_seq = req->from_seq;
    r->from_start = req->from_seq == 0;
    r->since_us = req->since_us;
    r->remaining = req->limit;
    r->proofs = req->proofs;
    r->scan = S_SCAN;
    if (peer->checked) {
        /* What its member may read of what it asked; each row is checked too. */
        r->prefixes = narrowed ? narrowed : calloc(1, sizeof(char *));
        r->nprefixes = nnarrowed;
    } else {
        r->prefixes = calloc(req->n_prefixes ? req->n_prefixes : 1, sizeof(char *));
        for (size_t i = 0; r->prefixes && i < req->n_prefixes; i++) {
            if (!(r->prefixes[r->nprefixes] = strdup(req->prefixes[i]))) break;
            r->nprefixes++;
        }
    }
    r->checked = peer->checked;
    zmq_msg_init(&r->ident);
    if (!r->prefixes || (!peer->checked && r->nprefixes != req->n_prefixes)) {
        s_replay_free(r);
        s_replay_error(self, ident, req->request_id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                       "out of memory", 0);
        return;
    }
    zmq_msg_copy(&r->ident, (zmq_msg_t *)ident);
    snprintf(r->member, sizeof(r->member), "%s", peer->id);
    snprintf(r->key, sizeof(r->key), "%s", peer->key);
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
    fb_peer_id_t peer;
    fb_identity_of(self->identity, &body, &peer);
    if (zmq_msg_more(&body)) {
        fb_zmq_drain(self->router);
        s_replay_error(self, &ident, 0, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                       "a replay request is one frame; got several", 0);
        goto out;
    }
    Fedbus__ReplayRequest *req =
        fedbus__replay_request__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
    if (!req && peer.checked && peer.admit != FB_ADMIT_OK) {
        s_refuse(self, &ident, &peer, 0);
        goto out;
    }
    if (!req) {
        fb_info("replay: undecodable request");
        s_replay_error(self, &ident, 0, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
                       "not a decodable ReplayRequest", 0);
        goto out;
    }
    s_start(self, &ident, &peer, req);
    fedbus__replay_request__free_unpacked(req, NULL);
out:
    zmq_msg_close(&body);
    zmq_msg_close(&ident);
}

typedef struct {
    fb_replay_srv_t *srv;
    s_replay_t *r;
    unsigned want;
    uint64_t to; /* the page's window ends before */
    int failed;  /* 1: out of memory; 2: the proofs could not be read */
    /* Rows are checked against these read patterns (filter set): the
     * member's as the directory in force has them, none when it may no
     * longer go on. */
    int filter;
    const char *const *read;
    size_t nread;
} s_page_ctx_t;

/* Whether the stored envelope env (len bytes) may go to the replay's client. */
static int s_may_send(const s_page_ctx_t *c, const uint8_t *env, size_t len)
{
    fb_envelope_head_t h;
    if (!c->filter) return 1;
    if (fb_wire_envelope_scan(env, len, &h) != 0 || !h.topic) return 0;
    return fb_readperm_may_read(c->read, c->nread, (const char *)h.topic, h.topic_len);
}

/* Packs one page as one ReplayChunk into r->held, while the rows are still
 * alive, with where the replay goes next; rows the client may not read are
 * passed over. A window with no match that does not reach the head holds
 * nothing: the replay just moves past it. Past the head, rows may still be
 * committing (in order): the replay goes on from after the last row seen,
 * or the head, and ends with an empty done chunk when nothing more is
 * there. */
static void s_hold_page(const fb_store_page_t *page, void *arg)
{
    s_page_ctx_t *c = arg;
    s_replay_t *r = c->r;
    ProtobufCBinaryData envs[FB_STORE_PAGE_MAX];
    /* A chunk holds up to S_CHUNK_BYTES of envelopes (at least one): the
     * rest of the page is read again next time. */
    size_t used = 0, n = 0, bytes = 0;
    for (; used < page->n; used++) {
        if (!s_may_send(c, page->envs[used], page->lens[used])) continue;
        if (n && bytes + page->lens[used] > S_CHUNK_BYTES) break;
        bytes += page->lens[used];
        envs[n].data = (uint8_t *)page->envs[used];
        envs[n++].len = page->lens[used];
    }
    int reach = c->to > c->srv->head;
    int done = (r->remaining && n >= r->remaining) || (!page->n && reach);
    uint64_t after = used ? page->seqs[used - 1] + 1 : r->next_seq;
    if (page->n == c->want || used < page->n) r->held_next = after;
    else if (reach) r->held_next = after > c->srv->head + 1 ? after : c->srv->head + 1;
    else r->held_next = c->to;
    r->held_remaining = r->remaining ? r->remaining - n : 0;
    r->held_done = done;
    if (!n && !done) {
        r->next_seq = r->held_next;
        return;
    }
    Fedbus__ReplayChunk ch = FEDBUS__REPLAY_CHUNK__INIT;
    ch.request_id = r->request_id;
    ch.n_envelopes = n;
    ch.envelopes = envs;
    ch.head_seq = c->srv->head;
    ch.done = done;
    int64_t us;
    s_horizon(c->srv, &ch.first_seq, &us);
    fb_replay_proofs_t proofs = {0};
    if (r->proofs && fb_replay_proofs_fill(&proofs, c->srv->reader, envs, n) != 0) {
        c->failed = 2;
        return;
    }
    ch.n_proofs = proofs.n;
    ch.proofs = proofs.proofs;
    if (s_pack(&ch, &r->held) != 0) c->failed = 1;
    else r->holding = 1;
    fb_replay_proofs_clear(&proofs);
}

/* Offers the held chunk to the client; returns 1 when r is finished (sent
 * the last chunk, client gone, or dropped after replay-stall), else 0. */
static int s_offer(fb_replay_srv_t *self, s_replay_t *r, int64_t now)
{
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, &r->held); /* a reference: the held one stays for a retry */
    r->tried_us = now;
    if (fb_reply_send(self->router, &r->ident, &copy) != 0) {
        if (errno == EHOSTUNREACH) return 1;
        if (!r->blocked_us) r->blocked_us = now;
        if (now - r->blocked_us < (int64_t)self->limits.stall_ms * 1000) return 0;
        self->dropped++;
        fb_warn("replay: request %llu dropped: its client took nothing for %d ms (%llu dropped so far)",
                (unsigned long long)r->request_id, self->limits.stall_ms, (unsigned long long)self->dropped);
        return 1;
    }
    zmq_msg_close(&r->held);
    r->holding = 0;
    r->sent = 1;
    r->blocked_us = 0;
    r->next_seq = r->held_next;
    r->remaining = r->held_remaining;
    return r->held_done;
}

/* Retention dropped history under replay r while it ran (the page read a
 * newer horizon than the one it started with): a replay from the start
 * that sent nothing yet starts again from the oldest kept; any other ends
 * with BEYOND_RETENTION, which names the first global_seq kept. Returns 1
 * when r is finished. */
static int s_page_beyond(fb_replay_srv_t *self, s_replay_t *r)
{
    uint64_t seq;
    int64_t us;
    char buf[192];
    fb_store_page_horizon(self->reader, &seq, &us);
    if (r->from_start && !r->sent && !s_beyond_at(0, r->since_us, seq, us, buf, sizeof(buf))) {
        r->next_seq = seq;
        return 0;
    }
    s_beyond_at(r->next_seq, r->since_us, seq, us, buf, sizeof(buf));
    s_replay_error(self, &r->ident, r->request_id, FEDBUS__REJECT_REASON__REJECT_BEYOND_RETENTION, buf, seq);
    return 1;
}

/* Serves one step of replay r; returns 1 when r is finished. */
static int s_step(fb_replay_srv_t *self, s_replay_t *r, int64_t now)
{
    if (r->holding) return s_offer(self, r, now);
    if (r->stopped) return 1; /* its last chunk could not even be made */
    if (fb_store_check(self->reader) != 0) {
        s_replay_error(self, &r->ident, r->request_id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                       "store unavailable: retry", 0);
        return 1;
    }
    s_page_ctx_t ctx = {self, r, S_PAGE, r->next_seq + r->scan, 0, 0, NULL, 0};
    if (r->checked) {
        /* The permission in force now: a change narrows a replay under way too. */
        const fb_member_t *m;
        fb_admit_t a = fb_identity_admit(self->identity, r->member, r->key, &m);
        int ok = a == FB_ADMIT_OK && m;
        ctx.read = ok ? (const char *const *)m->read : NULL;
        ctx.nread = ok ? m->nread : 0;
        ctx.filter = !fb_readperm_all(ctx.read, ctx.nread);
    }
    if (r->remaining && r->remaining < ctx.want) ctx.want = (unsigned)r->remaining;
    int n = fb_store_page(self->reader, r->next_seq, ctx.to, r->since_us, (const char *const *)r->prefixes,
                          r->nprefixes, ctx.want, s_hold_page, &ctx);
    if (n == FB_STORE_PAGE_BEYOND) return s_page_beyond(self, r);
    /* A window read quickly and short (an index found little) may widen;
     * one that took long (rows read one by one) narrows again. */
    int64_t took = fb_time_mono_us() - now;
    if (n >= 0 && (unsigned)n < ctx.want && took < S_FAST_US && r->scan < S_SCAN_MAX) r->scan *= 2;
    else if (took > 2 * S_FAST_US && r->scan > S_SCAN) r->scan /= 2;
    if (n < 0 || ctx.failed) {
        int store = n < 0 || ctx.failed == 2;
        fb_warn("replay: %s", store ? fb_store_error(self->reader) : "out of memory");
        s_replay_error(self, &r->ident, r->request_id, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
                       store ? "store error: retry" : "out of memory", 0);
        return 1;
    }
    return r->holding ? s_offer(self, r, now) : 0;
}

void fb_replay_srv_serve(fb_replay_srv_t *self, uint64_t head)
{
    self->head = head;
    int64_t start = fb_time_mono_us(), now = start;
    int n = self->nreplays, served = 0;
    fb_answers_flush(self->answers, now);
    /* Round robin from where the last turn stopped, until the turn's time
     * is spent; finished replays are removed after the walk. */
    for (; served < n && now - start < S_TURN_US; served++) {
        s_replay_t *r = &self->replays[(self->turn + served) % n];
        if (r->holding && now - r->tried_us < S_RETRY_US) continue;
        r->finished = s_step(self, r, now);
        now = fb_time_mono_us();
    }
    self->turn = n ? (self->turn + served) % n : 0;
    for (int i = n - 1; i >= 0; i--) {
        if (!self->replays[i].finished) continue;
        s_replay_free(&self->replays[i]);
        self->replays[i] = self->replays[--self->nreplays];
    }
}

int fb_replay_srv_recheck(fb_replay_srv_t *self)
{
    int ended = 0;
    for (int i = 0; i < self->nreplays; i++) {
        s_replay_t *r = &self->replays[i];
        fb_peer_id_t peer = {.checked = 1, .id = r->member, .key = r->key};
        peer.admit = fb_identity_admit(self->identity, r->member, r->key, &peer.member);
        if (peer.admit == FB_ADMIT_OK || r->stopped) continue;
        /* Its last chunk says why, in place of any page held: offered at
         * once, and again while the client's queue is full, as any chunk. */
        char why[160];
        fb_identity_why(&peer, why, sizeof(why));
        if (r->holding) zmq_msg_close(&r->held);
        r->holding = s_error_chunk(self, r->request_id, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED, why, 0,
                                   &r->held) == 0;
        r->held_done = 1;
        r->tried_us = 0;
        r->stopped = 1;
        fb_info("replay: request %llu stopped: %s", (unsigned long long)r->request_id, why);
        self->stats->replays_stopped++;
        ended++;
    }
    return ended;
}
