/* fb_replay.c — stored history from the broker's replay socket, chunk by chunk, in order.
 *
 * One ReplayRequest names the patterns' prefixes (the broker selects by
 * prefix), the first global_seq, the time and the limit; ReplayChunks come
 * back until one says done. Each stored envelope is handed to the caller's
 * function as an fb_message_t after the patterns' exact check. */
#include "fb_client_int.h"
#include "fb_arena.h"
#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_zmq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_PATTERNS 64

/* Packs the ReplayRequest for the patterns' prefixes into a new buffer
 * (*buf, *len; the caller frees it). Returns FB_OK, FB_EINVAL for a bad
 * pattern, or FB_ENOMEM. */
static int s_request(const char *const *patterns, int npatterns, uint64_t request_id, uint64_t from_seq,
                     int64_t since_us, uint32_t limit, int proofs, uint8_t **buf, size_t *len)
{
    size_t room = (size_t)(npatterns ? npatterns : 1) * FB_PATTERN_MAX_PREFIXES;
    char(*prefixes)[FB_TOPIC_MAX + 1] = calloc(room, sizeof(*prefixes));
    char **prefix_ptrs = calloc(room, sizeof(char *));
    int nprefix = 0, rc = FB_ENOMEM;
    *buf = NULL;
    if (!prefixes || !prefix_ptrs) goto done;
    rc = FB_EINVAL;
    for (int i = 0; i < npatterns; i++) {
        int n = fb_pattern_prefixes(patterns[i], prefixes + nprefix, FB_PATTERN_MAX_PREFIXES);
        if (n < 0) goto done;
        nprefix += n;
    }
    for (int i = 0; i < nprefix; i++) prefix_ptrs[i] = prefixes[i];
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    req.request_id = request_id;
    req.from_seq = from_seq;
    req.since_us = since_us;
    req.limit = limit;
    req.proofs = proofs;
    req.n_prefixes = (size_t)nprefix;
    req.prefixes = prefix_ptrs;
    *len = fedbus__replay_request__get_packed_size(&req);
    rc = FB_ENOMEM;
    if (!(*buf = malloc(*len ? *len : 1))) goto done;
    fedbus__replay_request__pack(&req, *buf);
    rc = FB_OK;
done:
    free(prefix_ptrs);
    free(prefixes);
    return rc;
}

/* One scan's state: the caller's function and what the broker sent. */
typedef struct {
    const char *const *patterns;
    int npatterns;
    fb_replay_fn fn;
    void *arg;
    fb_arena_t *arena; /* the message being handed to fn */
    fb_replay_tally_t *tally;
    fb_subverify_t *sv; /* NULL: nothing verified */
} s_scan_t;

/* Hands the envelopes of one chunk to fn. Returns FB_OK and sets *finished
 * when the scan is over (the chunk was the last, or fn said stop), or an
 * error. */
static int s_chunk(s_scan_t *s, const Fedbus__ReplayChunk *ch, int *finished)
{
    s->tally->head_seq = ch->head_seq;
    s->tally->first_seq = ch->first_seq;
    if (ch->error == FEDBUS__REJECT_REASON__REJECT_BEYOND_RETENTION) return FB_ELOST;
    if (ch->error)
        return ch->error == FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE ? FB_ESTORE
               : ch->error == FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED  ? FB_EREJECTED
                                                                            : FB_EINVAL;
    if (s->sv && fb_subverify_proofs(s->sv, ch->proofs, ch->n_proofs) != FB_OK) {
        *finished = 1;
        return FB_ENOMEM;
    }
    for (size_t i = 0; i < ch->n_envelopes; i++) {
        fb_message_t msg;
        fb_arena_reset(s->arena);
        if (fb_message_fill(s->arena, &msg, ch->envelopes[i].data, ch->envelopes[i].len) != 0) {
            *finished = 1;
            return FB_EPROTO;
        }
        s->tally->scanned++;
        s->tally->scanned_last = msg.global_seq;
        if (!fb_message_match(&msg, s->patterns, s->npatterns)) continue;
        /* The chunk brought the proofs of its envelopes: none is fetched. */
        if (s->sv && fb_subverify_check(s->sv, &msg, 0) == FB_MSG_FAILED) s->tally->failed++;
        if (s->fn(&msg, s->arg) != 0) {
            *finished = 1;
            return FB_OK;
        }
    }
    if (ch->done) *finished = 1;
    return FB_OK;
}

/* Receives the chunks answering request_id on sock, each within timeout_ms,
 * until the scan is over. */
static int s_receive(s_scan_t *s, void *sock, uint64_t request_id, int timeout_ms)
{
    int rc = FB_OK;
    for (int finished = 0; !finished && rc == FB_OK;) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, timeout_ms);
        if (n < 0) return errno == EINTR ? FB_EINTR : FB_EIO;
        if (n == 0) return FB_ETIMEOUT;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            return FB_EIO;
        }
        Fedbus__ReplayChunk *ch = fedbus__replay_chunk__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (!ch) return FB_EPROTO;
        if (ch->request_id == request_id) rc = s_chunk(s, ch, &finished);
        fedbus__replay_chunk__free_unpacked(ch, NULL);
    }
    return rc;
}

int fb_replay_scan(const fb_endpoint_opts_t *replay, const char *const *patterns, int npatterns,
                   uint64_t from_seq, int64_t since_us, uint32_t limit, fb_replay_fn fn, void *arg,
                   int timeout_ms, fb_replay_tally_t *tally, fb_subverify_t *sv)
{
    s_scan_t s = {patterns, npatterns, fn, arg, NULL, tally, sv};
    memset(tally, 0, sizeof(*tally));
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t request_id;
    void *sock = NULL;
    if (npatterns < 0 || npatterns > S_MAX_PATTERNS) return FB_EINVAL;
    if (!(s.arena = fb_arena_new(16 << 10, 16 << 10))) return FB_ENOMEM;
    fb_random(&request_id, sizeof(request_id));
    int rc = s_request(patterns, npatterns, request_id, from_seq, since_us, limit, sv != NULL, &buf, &len);
    if (rc == FB_OK) {
        sock = fb_endpoint_open(replay, ZMQ_DEALER, 0, 0);
        if (!sock || zmq_send(sock, buf, len, 0) < 0) rc = FB_EIO;
        else rc = s_receive(&s, sock, request_id, timeout_ms);
    }
    if (sock) zmq_close(sock);
    free(buf);
    fb_arena_destroy(&s.arena);
    return rc;
}

int fb_replay_verify(const fb_endpoint_opts_t *replay, const fb_verify_options_t *verify, const char *const *patterns,
                     int npatterns, uint64_t from_seq, int64_t since_us, uint32_t limit, fb_replay_fn fn, void *arg,
                     int timeout_ms)
{
    fb_replay_tally_t tally;
    fb_subverify_t *sv = NULL;
    fb_verify_options_t v = verify ? *verify : (fb_verify_options_t){0};
    if (!replay || fb_endpoint_check(replay) != 0 || (v.mode != FB_VERIFY_ON && v.mode != FB_VERIFY_OFF) ||
        (!v.keys && v.nkeys))
        return FB_EINVAL;
    if (v.mode == FB_VERIFY_ON && !(sv = fb_subverify_new(replay))) return FB_ENOMEM;
    if (sv && v.keys && fb_subverify_pin(sv, v.keys, v.nkeys) != FB_OK) {
        fb_subverify_destroy(&sv);
        return FB_EINVAL;
    }
    int rc = fb_replay_scan(replay, patterns, npatterns, from_seq, since_us, limit, fn, arg, timeout_ms, &tally, sv);
    fb_subverify_destroy(&sv);
    return rc == FB_OK && tally.failed ? FB_EVERIFY : rc;
}

int fb_replay_opts(const fb_endpoint_opts_t *replay, const char *const *patterns, int npatterns,
                   uint64_t from_seq, int64_t since_us, uint32_t limit, fb_replay_fn fn, void *arg,
                   int timeout_ms)
{
    return fb_replay_verify(replay, NULL, patterns, npatterns, from_seq, since_us, limit, fn, arg, timeout_ms);
}

int fb_replay(const char *replay_endpoint, const char *const *patterns, int npatterns,
              uint64_t from_seq, int64_t since_us, uint32_t limit, fb_replay_fn fn, void *arg,
              int timeout_ms)
{
    fb_endpoint_opts_t o = {.endpoint = replay_endpoint};
    return fb_replay_verify(&o, NULL, patterns, npatterns, from_seq, since_us, limit, fn, arg, timeout_ms);
}
