/* fb_subverify.c — delivered messages verified for the subscriber and the replay: proofs taken from chunks or fetched per seal, keys from the broker's directory.
 *
 * A catch-up or replay asks its chunks with proofs, and each chunk's
 * SealProofs are checked here before its envelopes are. A live message
 * whose frame's seal is not kept yet costs one look-up on the replay socket
 * (seal_origin, seal_origin_seq): the seal of its frame, checked once and
 * kept for the frame's other messages — unless the feed brought that seal
 * before the message (fb_feedseal.c): it is then checked from there, and
 * the replay is asked only when no seal from the feed covers the message
 * (joined mid-frame, the seal frame dropped, an older broker) or when it
 * fails against one (the feed is not trusted: a forged seal frame is
 * ignored, never kept). The member keys come from the broker
 * (ReplayRequest.directory) over the same CURVE-authenticated link, at the
 * first seal, and again when a seal names a key not held (a rotation),
 * at most once per S_DIR_AGAIN_US. */
#include "fb_client_int.h"
#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_feedseal.h"
#include "fb_time.h"
#include "fb_verifier.h"
#include "fb_zmq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TIMEOUT_MS 5000          /* a look-up not answered by then fails */
#define S_DIR_AGAIN_US 1000000     /* the directory is fetched again at most this often */
#define S_BROKER_ORIGIN "_fedbus"  /* the broker's own messages (docs/protocol.md, "Health") */

struct fb_subverify {
    const fb_endpoint_opts_t *replay; /* borrowed; NULL: nothing can be fetched */
    void *sock;                       /* DEALER to replay, made at the first look-up */
    fb_verifier_t *v;
    int have_dir;
    int pinned;        /* the keys were given: never fetched */
    int64_t dir_at_us; /* monotonic: when the directory was last fetched */
    char error[120];   /* why the last look-up failed */
    fb_feedseal_t *fs; /* seal frames from the feed; NULL until the first */
    uint64_t lookups;  /* seal look-ups asked of replay */
    uint64_t forged;   /* seals from the feed that did not verify */
};

fb_subverify_t *fb_subverify_new(const fb_endpoint_opts_t *replay)
{
    fb_subverify_t *self = calloc(1, sizeof(*self));
    if (!self || !(self->v = fb_verifier_new())) {
        free(self);
        return NULL;
    }
    self->replay = replay;
    return self;
}

void fb_subverify_destroy(fb_subverify_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_subverify_t *self = *self_p;
    if (self->sock) zmq_close(self->sock);
    fb_verifier_destroy(&self->v);
    fb_feedseal_destroy(&self->fs);
    free(self);
    *self_p = NULL;
}

/* Sends req and waits for its done chunk; returns it (the caller frees it
 * with fedbus__replay_chunk__free_unpacked) or NULL with self->error. */
static Fedbus__ReplayChunk *s_ask(fb_subverify_t *self, Fedbus__ReplayRequest *req)
{
    if (!self->replay) {
        snprintf(self->error, sizeof(self->error), "no replay endpoint to fetch proofs from");
        return NULL;
    }
    if (!self->sock && !(self->sock = fb_endpoint_open(self->replay, ZMQ_DEALER, 0, 0))) {
        snprintf(self->error, sizeof(self->error), "cannot connect to replay: %s", zmq_strerror(errno));
        return NULL;
    }
    fb_random(&req->request_id, sizeof(req->request_id));
    size_t len = fedbus__replay_request__get_packed_size(req);
    uint8_t buf[512];
    if (len > sizeof(buf)) return NULL;
    fedbus__replay_request__pack(req, buf);
    if (zmq_send(self->sock, buf, len, 0) < 0) {
        snprintf(self->error, sizeof(self->error), "cannot ask replay: %s", zmq_strerror(errno));
        return NULL;
    }
    int64_t deadline = fb_time_mono_us() + S_TIMEOUT_MS * 1000LL;
    for (;;) {
        long wait = (long)((deadline - fb_time_mono_us()) / 1000);
        zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
        if (wait <= 0 || zmq_poll(&item, 1, wait) <= 0) break;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, self->sock, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        Fedbus__ReplayChunk *ch = fedbus__replay_chunk__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (ch && ch->request_id == req->request_id) {
            if (!ch->error) return ch;
            snprintf(self->error, sizeof(self->error), "replay refused the look-up: %s",
                     ch->detail && *ch->detail ? ch->detail : "no reason given");
            fedbus__replay_chunk__free_unpacked(ch, NULL);
            return NULL;
        }
        if (ch) fedbus__replay_chunk__free_unpacked(ch, NULL);
    }
    /* A socket that got no answer may hold a late one: a fresh one next time. */
    zmq_close(self->sock);
    self->sock = NULL;
    snprintf(self->error, sizeof(self->error), "replay did not answer a look-up within %d ms", S_TIMEOUT_MS);
    return NULL;
}

/* Fetches the members' keys again; returns 0 or -1 (self->error). */
static int s_directory(fb_subverify_t *self)
{
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    req.directory = 1;
    self->dir_at_us = fb_time_mono_us();
    Fedbus__ReplayChunk *ch = s_ask(self, &req);
    if (!ch) return -1;
    fb_verifier_clear_keys(self->v);
    for (size_t i = 0; i < ch->n_keys; i++) {
        const Fedbus__MemberKey *k = ch->keys[i];
        if (!k->member || k->key_id.len != FB_SEAL_KEY_ID_LEN || k->public_key.len != FB_ED25519_KEY_LEN) continue;
        fb_verifier_add_key(self->v, k->member, k->key_id.data, k->public_key.data, k->valid_from_us,
                            k->valid_until_us);
    }
    fedbus__replay_chunk__free_unpacked(ch, NULL);
    self->have_dir = 1;
    return 0;
}

void fb_subverify_set_replay(fb_subverify_t *self, const fb_endpoint_opts_t *replay)
{
    if (self->sock) zmq_close(self->sock);
    self->sock = NULL;
    self->replay = replay;
}

int fb_subverify_pin(fb_subverify_t *self, const fb_signing_key_t *keys, size_t n)
{
    fb_verifier_clear_keys(self->v);
    for (size_t i = 0; i < n; i++) {
        if (strnlen(keys[i].member, sizeof(keys[i].member)) == sizeof(keys[i].member)) return FB_EINVAL;
        if (fb_verifier_add_key(self->v, keys[i].member, keys[i].key_id, keys[i].public_key, keys[i].valid_from_us,
                                keys[i].valid_until_us) != 0)
            return keys[i].member[0] ? FB_ENOMEM : FB_EINVAL;
    }
    self->have_dir = self->pinned = 1;
    return FB_OK;
}

/* Reads p's seal; returns 0, or -1 when it is not one. */
static int s_seal(const Fedbus__SealProof *p, fb_seal_t *out)
{
    const Fedbus__Seal *s = p->seal;
    memset(out, 0, sizeof(*out));
    if (!s || !s->origin || strlen(s->origin) > FB_SEAL_ORIGIN_MAX || s->root.len != FB_SHA256_LEN ||
        s->key_id.len != FB_SEAL_KEY_ID_LEN || s->signature.len != FB_ED25519_SIG_LEN || p->n_entries == 0)
        return -1;
    for (size_t i = 0; i < p->n_entries; i++)
        if (p->entries[i].len != FB_SHA256_LEN) return -1;
    snprintf(out->origin, sizeof(out->origin), "%s", s->origin);
    out->first_seq = s->first_seq;
    out->last_seq = s->last_seq;
    memcpy(out->root, s->root.data, FB_SHA256_LEN);
    memcpy(out->key_id, s->key_id.data, FB_SEAL_KEY_ID_LEN);
    out->signed_at_us = s->signed_at_us;
    memcpy(out->signature, s->signature.data, FB_ED25519_SIG_LEN);
    return 0;
}

/* Adds seal to the verifier: kept failing when it fails (keep_bad:
 * replay's answer) or dropped (from the feed); own, when not NULL, holds
 * the feed's malloc'd entries, kept as they are when the seal is. */
static int s_add(fb_subverify_t *self, const fb_seal_t *seal, const uint8_t (*e)[FB_SHA256_LEN], size_t n,
                 int keys_final, int keep_bad, uint8_t (**own)[FB_SHA256_LEN], char *why, size_t why_size)
{
    if (keep_bad) return fb_verifier_add_proof(self->v, seal, e, n, keys_final, why, why_size);
    if (own) return fb_verifier_try_proof_own(self->v, seal, own, n, keys_final, why, why_size);
    return fb_verifier_try_proof(self->v, seal, e, n, keys_final, why, why_size);
}

/* Checks seal over its n entries and keeps it, fetching the directory
 * when its key is not held. A seal that fails is kept failing (keep_bad:
 * replay's answer) or dropped (from the feed). Returns the verifier's
 * answer: 1, 0, or -1 when out of memory. */
static int s_check_seal(fb_subverify_t *self, const fb_seal_t *seal, const uint8_t (*e)[FB_SHA256_LEN], size_t n,
                        int keep_bad, uint8_t (**own)[FB_SHA256_LEN])
{
    char why[200];
    int rc = FB_VERIFIER_UNKNOWN_KEY;
    if (self->have_dir) rc = s_add(self, seal, e, n, self->pinned, keep_bad, own, why, sizeof(why));
    if (rc == FB_VERIFIER_UNKNOWN_KEY) {
        /* The first seal, or a key rotated in since: the directory again
         * (not in a loop: a key it still lacks then fails the seal). A
         * directory that cannot be had fails the seal for that reason; a
         * good copy of it brought later (the next chunk) still verifies. */
        if ((!self->have_dir || fb_time_mono_us() - self->dir_at_us >= S_DIR_AGAIN_US) && s_directory(self) != 0) {
            snprintf(why, sizeof(why), "the member directory could not be fetched: %s", self->error);
            rc = keep_bad ? fb_verifier_add_failed(self->v, seal, e, n, why) : 0;
        } else {
            rc = s_add(self, seal, e, n, 1, keep_bad, own, why, sizeof(why));
        }
    }
    return rc;
}

/* Checks and keeps one proof of replay's. Returns 0, or FB_ENOMEM. */
static int s_proof(fb_subverify_t *self, const Fedbus__SealProof *p)
{
    fb_seal_t seal;
    if (s_seal(p, &seal) != 0) return FB_OK; /* covers nothing: its envelopes stay unproven */
    uint8_t(*entries)[FB_SHA256_LEN] = malloc(p->n_entries * FB_SHA256_LEN);
    if (!entries) return FB_ENOMEM;
    for (size_t i = 0; i < p->n_entries; i++) memcpy(entries[i], p->entries[i].data, FB_SHA256_LEN);
    int rc = s_check_seal(self, &seal, (const uint8_t(*)[FB_SHA256_LEN])entries, p->n_entries, 1, NULL);
    free(entries);
    return rc < 0 ? FB_ENOMEM : FB_OK;
}

/* fb_feedseal_own_fn: a seal from the feed a message needs, checked now;
 * its entries are kept as they are when it verifies (returns 1). */
static int s_feed_one(void *arg, const fb_seal_t *seal, uint8_t (*entries)[FB_SHA256_LEN], size_t n)
{
    fb_subverify_t *self = arg;
    uint8_t(*own)[FB_SHA256_LEN] = entries;
    if (s_check_seal(self, seal, (const uint8_t(*)[FB_SHA256_LEN])entries, n, 0, &own) == 0) self->forged++;
    return own == NULL;
}

int fb_subverify_feed_seal(fb_subverify_t *self, const uint8_t *frame, size_t len)
{
    if (!self->fs && !(self->fs = fb_feedseal_new())) return -1;
    return fb_feedseal_add(self->fs, frame, len);
}

void fb_subverify_get_stats(const fb_subverify_t *self, fb_subverify_stats_t *out)
{
    fb_feedseal_stats_t fs = {0};
    if (self->fs) fb_feedseal_get_stats(self->fs, &fs);
    out->lookups = self->lookups;
    out->feed_seals = fs.taken;
    out->feed_bad = fs.bad + self->forged;
}

int fb_subverify_proofs(fb_subverify_t *self, Fedbus__SealProof *const *proofs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = s_proof(self, proofs[i]);
        if (rc != FB_OK) return rc;
    }
    return FB_OK;
}

/* Fetches the seal of msg's frame (seal_origin). Returns 0, or -1 with
 * self->error. */
static int s_fetch_seal(fb_subverify_t *self, const fb_message_t *msg)
{
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    self->lookups++;
    req.seal_origin = (char *)msg->origin;
    req.seal_origin_seq = msg->origin_seq;
    req.seal_global_seq = msg->global_seq;
    Fedbus__ReplayChunk *ch = s_ask(self, &req);
    if (!ch) return -1;
    int rc = fb_subverify_proofs(self, ch->proofs, ch->n_proofs);
    fedbus__replay_chunk__free_unpacked(ch, NULL);
    if (rc != FB_OK) snprintf(self->error, sizeof(self->error), "out of memory");
    return rc == FB_OK ? 0 : -1;
}

/* fb_verifier_check() of msg, through the fields fb_message_fill() read
 * (scanned once) and with its entry hash made at most once for the calls
 * of one fb_subverify_check(). */
typedef struct {
    const fb_envelope_head_t *head; /* NULL: msg was not filled by fb_message_fill() */
    uint8_t hash[FB_SHA256_LEN];
    int hashed;
} s_env_t;

static int s_verify(fb_subverify_t *self, const fb_message_t *msg, s_env_t *e, char *why, size_t why_size)
{
    if (!e->head) return fb_verifier_check(self->v, msg->raw, msg->raw_len, why, why_size);
    return fb_verifier_check_scanned(self->v, msg->raw, msg->raw_len, e->head, e->hash, &e->hashed, why, why_size);
}

int fb_subverify_check(fb_subverify_t *self, fb_message_t *msg, int fetch)
{
    char why[160];
    int status;
    if (strcmp(msg->origin, S_BROKER_ORIGIN) == 0) {
        fb_message_set_verified(msg, FB_MSG_BROKER, "the broker's own message: no origin seals it");
        return FB_MSG_BROKER;
    }
    why[0] = '\0';
    s_env_t e = {.head = fb_message_head(msg)};
    int rc = s_verify(self, msg, &e, why, sizeof(why));
    if (rc != 1 && self->fs &&
        fb_feedseal_take_own(self->fs, msg->origin, strlen(msg->origin), msg->origin_seq, s_feed_one, self))
        rc = s_verify(self, msg, &e, why, sizeof(why));
    /* A message that fails against a seal from the feed is asked of replay
     * too: the feed may have brought the seal of an earlier send of that
     * origin_seq that was never stored (a chain relinked). */
    if (rc != 1 && fetch && (rc == 0 || self->fs)) {
        if (s_fetch_seal(self, msg) != 0) {
            /* A failure found already keeps its own reason. */
            if (rc == 0) snprintf(why, sizeof(why), "its proof could not be fetched: %s", self->error);
            rc = -1;
        } else {
            rc = s_verify(self, msg, &e, why, sizeof(why));
        }
    }
    if (rc == 1) {
        fb_message_set_verified(msg, FB_MSG_VERIFIED, NULL);
        return FB_MSG_VERIFIED;
    }
    status = rc < 0 ? FB_MSG_FAILED : FB_MSG_UNSIGNED;
    if (status == FB_MSG_UNSIGNED) snprintf(why, sizeof(why), "no seal covers it: published unsigned");
    fb_message_set_verified(msg, status, why);
    return status;
}
