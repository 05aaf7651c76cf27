/* fb_zap.c — ZAP requests (RFC 27) answered from the member directory: CURVE keys of active members in, all else out. */
#include "fb_zap.h"

#include "fb_keys.h"
#include "fb_log.h"
#include "fb_pace.h"
#include "fb_peers.h"
#include "fb_zmq.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ENDPOINT "inproc://zeromq.zap.01"
#define S_FRAMES 7       /* version, request id, domain, address, identity, mechanism, credentials */
#define S_POLL_MS 200    /* how soon the thread sees a stop */
#define S_FRAME_MAX 256  /* what of a request frame is kept */

/* Why a request is refused: the kinds of paced lines, and counters. */
enum { S_UNKNOWN, S_SUSPENDED, S_REVOKED, S_OTHER };

struct fb_zap {
    fb_members_t *members;
    void *rep;
    pthread_t thread;
    int running;
    int stop;              /* atomic */
    fb_zap_stats_t stats;  /* atomics, written by the thread */
    fb_pace_t *pace;       /* the thread's */
    uint64_t conns;        /* connections admitted: each one's name */
};

/* One request, its frames copied (cut at S_FRAME_MAX; lengths kept). */
typedef struct {
    uint8_t frame[S_FRAMES][S_FRAME_MAX];
    size_t len[S_FRAMES];
    int n;      /* frames received */
    int extra;  /* more than S_FRAMES came */
} s_req_t;

/* Receives one request whole. Returns 0, or -1 when nothing could be read. */
static int s_recv(void *rep, s_req_t *r)
{
    memset(r->len, 0, sizeof(r->len));
    r->n = r->extra = 0;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, rep, r->n ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return r->n ? 0 : -1;
        }
        more = zmq_msg_more(&m);
        if (r->n < S_FRAMES) {
            size_t len = zmq_msg_size(&m);
            r->len[r->n] = len;
            memcpy(r->frame[r->n], zmq_msg_data(&m), len < S_FRAME_MAX ? len : S_FRAME_MAX);
            r->n++;
        } else {
            r->extra = 1;
        }
        zmq_msg_close(&m);
    }
    return 0;
}

/* Whether frame i is exactly the text s. */
static int s_is(const s_req_t *r, int i, const char *s)
{
    return r->len[i] == strlen(s) && memcmp(r->frame[i], s, r->len[i]) == 0;
}

/* Sends the reply: status ("200", "400", "500"), its text, the user id and
 * the metadata (len bytes, ZMTP property encoding). */
static void s_reply(fb_zap_t *self, const s_req_t *r, const char *status, const char *text, const char *user,
                    const uint8_t *meta, size_t meta_len)
{
    size_t idlen = r->n > 1 && r->len[1] <= S_FRAME_MAX ? r->len[1] : 0;
    if (zmq_send(self->rep, "1.0", 3, ZMQ_SNDMORE) < 0 || zmq_send(self->rep, r->frame[1], idlen, ZMQ_SNDMORE) < 0 ||
        zmq_send(self->rep, status, 3, ZMQ_SNDMORE) < 0 || zmq_send(self->rep, text, strlen(text), ZMQ_SNDMORE) < 0 ||
        zmq_send(self->rep, user, strlen(user), ZMQ_SNDMORE) < 0 || zmq_send(self->rep, meta, meta_len, 0) < 0)
        fb_warn("zap: reply not sent: %s", zmq_strerror(errno));
}

/* Counts and logs (paced per key or address) a refusal. */
static void s_refused(fb_zap_t *self, const s_req_t *r, int why, const char *text)
{
    static const char *const labels[] = {"zap refused unknown key", "zap refused suspended member",
                                         "zap refused revoked member", "zap refused request"};
    uint64_t *counter[] = {&self->stats.unknown, &self->stats.suspended, &self->stats.revoked, &self->stats.other};
    __atomic_add_fetch(counter[why], 1, __ATOMIC_RELAXED);
    /* The peer is its key when there is one, else its address. */
    int has_key = r->n == S_FRAMES && r->len[6] == FB_MEMBER_CURVE_LEN;
    const uint8_t *peer = has_key ? r->frame[6] : r->n > 3 ? r->frame[3] : (const uint8_t *)"";
    size_t plen = has_key ? FB_MEMBER_CURVE_LEN : r->n > 3 && r->len[3] <= S_FRAME_MAX ? r->len[3] : 0;
    if (FB_LOG_INFO > fb_log_level_current || !fb_pace_may(self->pace, peer, plen, why, labels[why], 1, 1.0 / 60))
        return;
    char key[FB_MEMBER_Z85_LEN + 1] = "-", domain[80] = "", address[80] = "";
    if (has_key) fb_keys_z85(r->frame[6], key);
    if (r->n > 2) fb_peers_escape(domain, sizeof(domain), (const char *)r->frame[2], r->len[2] < S_FRAME_MAX ? r->len[2] : S_FRAME_MAX);
    if (r->n > 3) fb_peers_escape(address, sizeof(address), (const char *)r->frame[3], r->len[3] < S_FRAME_MAX ? r->len[3] : S_FRAME_MAX);
    fb_info("zap: refused key %s on %s from %s: %s (logged once a minute per key)", key, domain, address, text);
}

/* Writes one ZMTP property (name length, name, 4-byte value length,
 * value) at meta + o; returns the offset after it. */
static size_t s_property(uint8_t *meta, size_t o, const char *name, const char *value, size_t vlen)
{
    size_t nlen = strlen(name);
    meta[o++] = (uint8_t)nlen;
    memcpy(meta + o, name, nlen);
    o += nlen;
    meta[o++] = 0, meta[o++] = 0, meta[o++] = (uint8_t)(vlen >> 8), meta[o++] = (uint8_t)vlen;
    memcpy(meta + o, value, vlen);
    return o + vlen;
}

/* Answers one request. */
static void s_answer(fb_zap_t *self, const s_req_t *r)
{
    if (r->n != S_FRAMES || r->extra || !s_is(r, 0, "1.0") || !s_is(r, 5, "CURVE") || r->len[6] != FB_MEMBER_CURVE_LEN) {
        const char *text = r->n > 5 && !s_is(r, 5, "CURVE") ? "CURVE only" : "not a ZAP 1.0 request";
        s_refused(self, r, S_OTHER, text);
        s_reply(self, r, "400", text, "", NULL, 0);
        return;
    }
    fb_memberdir_t *d = fb_members_get(self->members);
    const fb_member_t *m = fb_memberdir_by_curve(d, r->frame[6]);
    if (!m || m->status != FB_MEMBER_ACTIVE) {
        int why = !m ? S_UNKNOWN : m->status == FB_MEMBER_SUSPENDED ? S_SUSPENDED : S_REVOKED;
        char text[80];
        snprintf(text, sizeof(text), "%s%s%s", m ? "member " : "", m ? m->id : "unknown key",
                 !m ? "" : why == S_SUSPENDED ? " is suspended" : " is revoked");
        fb_memberdir_release(&d);
        s_refused(self, r, why, text);
        s_reply(self, r, "400", text, "", NULL, 0);
        return;
    }
    /* Metadata (ZMTP properties): name length, name, 4-byte value length, value. */
    uint8_t meta[2 * (1 + 16 + 4) + FB_MEMBER_Z85_LEN + 24];
    char conn[24];
    size_t o = s_property(meta, 0, FB_ZAP_KEY_PROPERTY, m->curve_z85, FB_MEMBER_Z85_LEN);
    int clen = snprintf(conn, sizeof(conn), "%llu",
                        (unsigned long long)__atomic_add_fetch(&self->conns, 1, __ATOMIC_RELAXED));
    o = s_property(meta, o, FB_ZAP_CONN_PROPERTY, conn, (size_t)clen);
    char user[FB_MEMBER_ID_MAX + 1];
    snprintf(user, sizeof(user), "%s", m->id);
    fb_memberdir_release(&d);
    __atomic_add_fetch(&self->stats.admitted, 1, __ATOMIC_RELAXED);
    fb_debug("zap: admitted %s on %.*s", user, (int)(r->len[2] < 64 ? r->len[2] : 64), (const char *)r->frame[2]);
    s_reply(self, r, "200", "OK", user, meta, o);
}

static void *s_main(void *arg)
{
    fb_zap_t *self = arg;
    s_req_t *r = malloc(sizeof(*r));
    while (r && !__atomic_load_n(&self->stop, __ATOMIC_RELAXED)) {
        zmq_pollitem_t it = {self->rep, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, S_POLL_MS) <= 0) continue;
        while (s_recv(self->rep, r) == 0) s_answer(self, r);
        fb_pace_tick(self->pace);
    }
    if (!r) fb_err("zap: out of memory: no client can connect");
    free(r);
    return NULL;
}

fb_zap_t *fb_zap_new(fb_members_t *members)
{
    fb_zap_t *self = calloc(1, sizeof(*self));
    if (!self || !(self->pace = fb_pace_new(20, 5))) {
        fb_err("out of memory");
        goto error;
    }
    self->members = members;
    self->rep = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_REP, .endpoint = S_ENDPOINT, .bind = 1});
    if (!self->rep) {
        fb_err("zap: cannot bind %s: %s", S_ENDPOINT, zmq_strerror(errno));
        goto error;
    }
    if (pthread_create(&self->thread, NULL, s_main, self) != 0) {
        fb_err("zap: cannot start its thread");
        goto error;
    }
    self->running = 1;
    return self;
error:
    fb_zap_destroy(&self);
    return NULL;
}

void fb_zap_destroy(fb_zap_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_zap_t *self = *self_p;
    if (self->running) {
        __atomic_store_n(&self->stop, 1, __ATOMIC_RELAXED);
        pthread_join(self->thread, NULL);
    }
    if (self->rep) zmq_close(self->rep);
    fb_pace_destroy(&self->pace);
    free(self);
    *self_p = NULL;
}

void fb_zap_stats(const fb_zap_t *self, fb_zap_stats_t *out)
{
    out->admitted = __atomic_load_n(&self->stats.admitted, __ATOMIC_RELAXED);
    out->unknown = __atomic_load_n(&self->stats.unknown, __ATOMIC_RELAXED);
    out->suspended = __atomic_load_n(&self->stats.suspended, __ATOMIC_RELAXED);
    out->revoked = __atomic_load_n(&self->stats.revoked, __ATOMIC_RELAXED);
    out->other = __atomic_load_n(&self->stats.other, __ATOMIC_RELAXED);
}
