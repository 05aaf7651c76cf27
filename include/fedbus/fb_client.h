/* fb_client.h — the fedbus client API: publish, subscribe, replay.
 *
 * Speaks fedbus types only; the wire (ZeroMQ frames carrying protobuf, see
 * docs/protocol.md) stays inside the library. Objects are not thread-safe:
 * use each from one thread. Constructors return NULL on failure; destructors
 * take the address of the pointer, accept NULL and set it to NULL. */
#ifndef FB_CLIENT_H
#define FB_CLIENT_H

#include "fedbus/fb_export.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default endpoints of a local federation (docs/protocol.md, "Sockets"). */
#define FB_DEFAULT_INGEST "tcp://127.0.0.1:7701"
#define FB_DEFAULT_FEED "tcp://127.0.0.1:7702"
#define FB_DEFAULT_REPLAY "tcp://127.0.0.1:7703"

typedef enum {
    FB_ACK_NONE = 0,
    FB_ACK_ACCEPTED = 1,  /* committed now */
    FB_ACK_DUPLICATE = 2, /* committed before, global_seq is the original */
    FB_ACK_REJECTED = 3,  /* not stored: reason and detail say why */
} fb_ack_status_t;

typedef struct {
    fb_ack_status_t status;
    uint64_t global_seq;
    uint64_t origin_seq;
    int reason;             /* RejectReason code, 0 when accepted */
    char reason_name[32];   /* e.g. "BAD_TOPIC" */
    char detail[192];
    char message_id[37];    /* UUID text, empty if the frame was undecodable */
} fb_ack_t;

/* One delivered message. Pointers stay valid until the next receive on the
 * same object. The fields below are read in place from the envelope's
 * header; the payload is decoded only when fb_message_json(),
 * fb_message_title() or fb_message_kind() first asks for it (a payload that
 * does not decode then gives NULL or ""). */
typedef struct {
    const char *topic;
    const char *origin;
    char message_id[37];
    uint64_t global_seq;
    uint64_t origin_seq;
    int64_t created_at_us;
    int64_t stored_at_us;
    const void *raw;     /* the stored envelope, as serialised protobuf */
    size_t raw_len;
    void *priv_;         /* library use */
} fb_message_t;

/* ---- endpoints ---- */

/* Length of a CURVE key in its Z85 text form, without the NUL. */
#define FB_CURVE_KEY_LEN 40

/* How a client socket reaches a node or a broker. Zero-initialise it and set
 * what you need; a number left 0 takes the default that each constructor
 * below names:
 *   fb_endpoint_opts_t o = {.endpoint = "tcp://127.0.0.1:7711", .hwm = 10000}; */
typedef struct {
    const char *endpoint;  /* required, e.g. "tcp://127.0.0.1:7711" */
    int hwm;               /* > 0: messages queued each way before sending blocks
                              or, on a feed, drops; 0: the default */
    int linger_ms;         /* > 0: how long destroy lets unsent messages still go
                              out; 0: the default; < 0: not at all */
    /* CURVE encryption: the server's public key and this client's key pair,
     * each FB_CURVE_KEY_LEN characters of Z85 (as zmq_curve_keypair() or
     * `curve_keygen` print them). All three NULL: plaintext. Any other mix,
     * or a key that is not 40 characters of Z85, is refused. */
    const char *curve_serverkey;
    const char *curve_publickey;
    const char *curve_secretkey;
} fb_endpoint_opts_t;

/* ---- publishing (to a node's submit socket, or a broker's ingest) ---- */

typedef struct fb_publisher fb_publisher_t;

/* Connects a publisher as opts says; the defaults are ZeroMQ's high-water
 * mark (1000 messages) and a linger of 1000 ms. opts and its strings are
 * only read during the call. Returns a new publisher, which the caller owns and frees
 * with fb_publisher_destroy(); NULL when opts or its endpoint is NULL, a
 * CURVE key is refused (errno EINVAL) or the socket cannot be made. */
FB_EXPORT fb_publisher_t *fb_publisher_open(const fb_endpoint_opts_t *opts);

/* fb_publisher_open() with the endpoint alone (e.g. "tcp://127.0.0.1:7711")
 * and every default. */
FB_EXPORT fb_publisher_t *fb_publisher_new(const char *endpoint);

/* Closes the publisher and frees it; accepts NULL and sets *self_p to NULL. */
FB_EXPORT void fb_publisher_destroy(fb_publisher_t **self_p);

/* Publishes one message given in fedbus JSON form (docs/protocol.md) and
 * waits up to timeout_ms for its ack. Returns FB_OK when the ack says
 * accepted or duplicate, FB_EREJECTED with *ack filled when rejected,
 * FB_EINVAL with ack->detail naming the field when the JSON is bad (nothing
 * sent), FB_ETIMEOUT when no ack came (the publish may still be stored:
 * sending the same message_id again is safe). */
FB_EXPORT int fb_publisher_send_json(fb_publisher_t *self, const char *json, size_t len, fb_ack_t *ack,
                                     int timeout_ms);

/* Publishes n messages given in fedbus JSON form, in order, as PublishBatch
 * frames of up to 1024 (one round trip for many, where
 * fb_publisher_send_json() takes one each), and waits up to timeout_ms in
 * all for their acks. For each i, rcs[i] and acks[i] (both caller-provided
 * arrays of n) say what became of message i, as fb_publisher_send_json()
 * would: FB_OK (accepted or duplicate), FB_EREJECTED, FB_EINVAL (bad JSON,
 * not sent), FB_ETIMEOUT (sent, no ack yet: sending the same message_id
 * again is safe), FB_ENOMEM or FB_EIO. Returns FB_OK when every message is
 * FB_OK, else the first other code. For a node's submit socket, which
 * answers batches in AckBatch frames. */
FB_EXPORT int fb_publisher_send_json_many(fb_publisher_t *self, const char *const *jsons,
                                          const size_t *lens, size_t n, fb_ack_t *acks, int *rcs,
                                          int timeout_ms);

/* Sends an already serialised NodeMessage frame as is and waits for the reply
 * frame's ack (for tests and foreign-protocol tooling). */
FB_EXPORT int fb_publisher_send_raw(fb_publisher_t *self, const void *frame, size_t len, fb_ack_t *ack,
                                    int timeout_ms);

/* ---- subscribing ---- */

typedef struct fb_subscriber fb_subscriber_t;

/* Connects a subscriber to the broker's feed as feed says (defaults: a
 * high-water mark of 100000 messages, no linger) and keeps replay for
 * fb_subscriber_from() and for repairing what the feed drops: each catch-up
 * or repair step connects with it (defaults: ZeroMQ's high-water mark, no
 * linger). With replay NULL the feed is delivered as it comes and a loss
 * goes unnoticed (docs/protocol.md, "Feed"). feed,
 * replay and their strings are only read during the call: the subscriber
 * keeps copies. Returns a new subscriber, which the caller owns and frees
 * with fb_subscriber_destroy(); NULL when feed or an endpoint is NULL, a
 * CURVE key of either is refused (errno EINVAL; replay's are checked now,
 * not at the first catch-up) or memory or the socket cannot be had. */
FB_EXPORT fb_subscriber_t *fb_subscriber_open(const fb_endpoint_opts_t *feed, const fb_endpoint_opts_t *replay);

/* fb_subscriber_open() with the endpoints alone (replay_endpoint may be NULL
 * when no catch-up is wanted) and every default. */
FB_EXPORT fb_subscriber_t *fb_subscriber_new(const char *feed_endpoint, const char *replay_endpoint);

/* Closes the subscriber and frees it, with the message last received;
 * accepts NULL and sets *self_p to NULL. */
FB_EXPORT void fb_subscriber_destroy(fb_subscriber_t **self_p);

/* Adds a pattern ("cfp", "*.kr-incheon", "cfp.kr-daejeon.bio"); returns
 * FB_OK or FB_EINVAL. */
FB_EXPORT int fb_subscriber_add(fb_subscriber_t *self, const char *pattern);

/* Asks for history first: messages with global_seq >= from_seq are replayed
 * before live ones, without duplicates or holes between the two. from_seq 0
 * asks for everything the broker keeps (from the oldest message its
 * retention left). */
FB_EXPORT int fb_subscriber_from(fb_subscriber_t *self, uint64_t from_seq);

/* Waits up to timeout_ms (-1 = forever) for the next matching message.
 * With a replay endpoint every matching message stored after the start
 * (from_seq, or the first head frame of the feed) is delivered exactly once
 * and in global_seq order: what the feed dropped is fetched from replay
 * first (docs/protocol.md, "Feed"). Returns FB_OK, FB_ETIMEOUT (nothing
 * within timeout_ms), FB_EINTR, FB_EPROTO, or, when history cannot be had,
 * FB_ESTORE (replay answered an error or nothing within 10 s), FB_EIO or
 * FB_ENOMEM: nothing is then lost, the next call tries again. FB_ELOST:
 * messages this subscriber should have had (history asked for, or a gap
 * in the feed to repair) are older than the broker keeps; they are lost,
 * and fb_subscriber_lost() says which global_seqs. The next call goes on
 * from the oldest message kept. FB_EVERIFY: msg is filled but failed
 * verification (fb_message_verified() is FB_MSG_FAILED,
 * fb_message_verify_detail() says why): handed on flagged, never as good;
 * the next call goes on after it. */
FB_EXPORT int fb_subscriber_recv(fb_subscriber_t *self, fb_message_t *msg, int timeout_ms);

/* The global_seqs of the last loss FB_ELOST reported, *first to *last
 * (matching ones among them were lost: which did match cannot be known).
 * Returns how many global_seqs all losses so far spanned (0: none; *first
 * and *last are then 0). */
FB_EXPORT uint64_t fb_subscriber_lost(const fb_subscriber_t *self, uint64_t *first, uint64_t *last);

/* The global_seq of the last message delivered (0: none yet, or self is
 * NULL). */
FB_EXPORT uint64_t fb_subscriber_last(const fb_subscriber_t *self);

/* The subscriber's cursor: every matching message up to it has been
 * delivered (at least fb_subscriber_last(), often more). A durable
 * subscriber saves it and starts again with fb_subscriber_from(position +
 * 1): nothing missed, nothing repeated. 0 when self is NULL. */
FB_EXPORT uint64_t fb_subscriber_position(const fb_subscriber_t *self);

/* How many delivered messages the feed had lost and replay brought (gap
 * repairs; history asked for with fb_subscriber_from() does not count). */
FB_EXPORT uint64_t fb_subscriber_repaired(const fb_subscriber_t *self);

/* ---- replay ---- */

typedef int (*fb_replay_fn)(const fb_message_t *msg, void *arg); /* non-zero stops */

/* Streams stored history matching any of patterns (none = all) with
 * global_seq >= from_seq (0: from the oldest kept) and stored at or after
 * since_us, in order, up to limit messages (0 = to the head). Returns FB_OK,
 * FB_ETIMEOUT when the broker does not answer within timeout_ms per chunk
 * (also what a broker that asks for CURVE looks like to a client without
 * keys, or with keys it does not admit), FB_EINVAL, FB_ESTORE, FB_EREJECTED
 * when the broker refused this member (NOT_AUTHORIZED: suspended, revoked,
 * its key changed), or FB_ELOST when retention dropped history from
 * from_seq or since_us on (nothing, or what came before the broker dropped
 * more, was handed on). Verifies as fb_replay_verify() with FB_VERIFY_ON:
 * FB_EVERIFY when a message failed (fn was handed it flagged). */
FB_EXPORT int fb_replay(const char *replay_endpoint, const char *const *patterns, int npatterns,
                        uint64_t from_seq, int64_t since_us, uint32_t limit, fb_replay_fn fn, void *arg,
                        int timeout_ms);

/* fb_replay() over a socket made as replay says (defaults: ZeroMQ's
 * high-water mark, no linger); replay and its strings are only read during
 * the call. Returns what fb_replay() returns, and FB_EINVAL also when
 * replay or its endpoint is NULL or a CURVE key is refused (nothing sent). */
FB_EXPORT int fb_replay_opts(const fb_endpoint_opts_t *replay, const char *const *patterns, int npatterns,
                             uint64_t from_seq, int64_t since_us, uint32_t limit, fb_replay_fn fn, void *arg,
                             int timeout_ms);

/* ---- verification (docs/protocol.md, "Proofs in replay") ----
 *
 * By default the subscriber and the replay verify every message they
 * deliver: its bytes are what its origin signed (a seal of the origin's
 * frame, checked with the origin's Ed25519 key from the member directory,
 * which the broker serves over the replay socket: the CURVE-authenticated
 * link to the broker is what the directory is trusted by). A seal covers
 * a whole frame of its origin (up to 1024 messages): it is fetched (or,
 * for a live subscriber given fb_subscriber_verify_via() or pinned keys,
 * taken from the feed, where the broker sends it before the frame's
 * messages) and checked once, then each message costs one SHA-256. A
 * subscriber without a replay endpoint or pinned keys cannot check seals:
 * its messages are unsigned. */

typedef enum {
    FB_VERIFY_ON = 0,  /* the default: every message checked, fb_message_verified() says how it fared */
    FB_VERIFY_OFF = 1, /* nothing checked: every message is FB_MSG_NOT_CHECKED */
} fb_verify_mode_t;

/* What fb_message_verified() says of a delivered message. */
#define FB_MSG_FAILED (-1)     /* not what its origin signed (edited, forged, a key outside its window):
                                  delivered only with FB_EVERIFY */
#define FB_MSG_NOT_CHECKED 0   /* verification is off */
#define FB_MSG_VERIFIED 1      /* its origin's seal covers exactly these bytes */
#define FB_MSG_UNSIGNED 2      /* no seal covers it: published unsigned (broker `signatures = optional`) */
#define FB_MSG_BROKER 3        /* the broker's own (origin _fedbus, e.g. _fedbus.health): no origin seals it;
                                  trusted as coming over the authenticated link */

/* One signing key of a member, valid in [valid_from_us, valid_until_us)
 * (valid_until_us 0: no end), as a member directory holds it. */
typedef struct {
    char member[33];
    uint8_t key_id[8];     /* the first 8 bytes of SHA-256(public_key) */
    uint8_t public_key[32]; /* Ed25519 */
    int64_t valid_from_us, valid_until_us;
} fb_signing_key_t;

/* How fb_replay_verify() verifies. Zero-initialised: on, with the keys the
 * broker serves. */
typedef struct {
    fb_verify_mode_t mode;
    const fb_signing_key_t *keys; /* nkeys pinned keys (e.g. read from a directory the broker's key signed,
                                     `fedbus member export-directory --sign`): checked against them alone,
                                     the broker's are never fetched; NULL: the broker's */
    size_t nkeys;
} fb_verify_options_t;

/* Pins the keys the subscriber checks seals with (copied; nkeys 0 pins
 * none: every seal then fails): the broker's directory is not fetched.
 * Returns FB_OK, FB_EINVAL (keys NULL with nkeys > 0, a member id not 1-32
 * characters) or FB_ENOMEM. */
FB_EXPORT int fb_subscriber_pin_keys(fb_subscriber_t *self, const fb_signing_key_t *keys, size_t nkeys);

/* Sets how the subscriber verifies (FB_VERIFY_ON or FB_VERIFY_OFF), from
 * the next message on. Returns FB_OK, FB_EINVAL for another mode, or FB_EIO
 * when the feed's seal frames could not be (un)subscribed. */
FB_EXPORT int fb_subscriber_set_verify(fb_subscriber_t *self, fb_verify_mode_t mode);

/* Gives a subscriber opened without a replay endpoint (fb_subscriber_open(
 * feed, NULL): no catch-up, no repair) one to verify through. The
 * subscriber then also takes the feed's seal frames (docs/protocol.md,
 * "Feed", seal frames; so does one with pinned keys): a live message is
 * checked against the seal the broker sent before it, and the seal of its
 * frame is fetched from replay, once per frame, only when none came (a
 * frame dropped, an older broker). The member keys are fetched from it.
 * replay and its strings are only read during the call. Returns FB_OK;
 * FB_EINVAL when replay or its endpoint is NULL, a CURVE key is refused, or
 * the subscriber has a replay endpoint already (it verifies through that);
 * FB_ENOMEM. */
FB_EXPORT int fb_subscriber_verify_via(fb_subscriber_t *self, const fb_endpoint_opts_t *replay);

/* How many seal look-ups the subscriber asked of replay so far (0 when
 * self is NULL); *feed_seals (when not NULL) gets how many seal frames it
 * took from the feed, *feed_bad how many of those it ignored (not
 * decodable, or their seal did not verify). */
FB_EXPORT uint64_t fb_subscriber_seal_lookups(const fb_subscriber_t *self, uint64_t *feed_seals, uint64_t *feed_bad);

/* How many messages failed verification so far (0 when self is NULL). */
FB_EXPORT uint64_t fb_subscriber_failed(const fb_subscriber_t *self);

/* fb_replay_opts() with verification as verify says (NULL: on, with the
 * broker's keys). With FB_VERIFY_ON each
 * chunk is asked with its proofs, and fn is handed every message with
 * fb_message_verified() set, those that fail too (so that the caller can
 * name them; fn must look at it); the call then returns FB_EVERIFY when
 * any failed and nothing else went wrong. */
FB_EXPORT int fb_replay_verify(const fb_endpoint_opts_t *replay, const fb_verify_options_t *verify,
                               const char *const *patterns, int npatterns, uint64_t from_seq, int64_t since_us,
                               uint32_t limit, fb_replay_fn fn, void *arg, int timeout_ms);

/* ---- messages ---- */

/* How msg fared: FB_MSG_VERIFIED, FB_MSG_UNSIGNED, FB_MSG_BROKER,
 * FB_MSG_FAILED or FB_MSG_NOT_CHECKED (also for NULL). */
FB_EXPORT int fb_message_verified(const fb_message_t *msg);

/* Why msg failed verification, or was not verified (e.g. "its entry hash
 * is not the one its origin signed"); "" when it verified. Never NULL;
 * valid as long as msg. */
FB_EXPORT const char *fb_message_verify_detail(const fb_message_t *msg);

/* Returns the message as one line of JSON (no newline), or NULL. The caller
 * frees it with free(). */
FB_EXPORT char *fb_message_json(const fb_message_t *msg);

/* Returns the message's headline in lang ("ko" or "en", falling back to the
 * other): an event's or call's title, a researcher's name, a member-state
 * change's "member: from -> to" (topic _fedbus.health). Never NULL; ""
 * when there is none. Valid as long as msg. */
FB_EXPORT const char *fb_message_title(const fb_message_t *msg, const char *lang);

/* Returns the payload kind: "event", "cfp", "researcher", or "" if unknown. */
FB_EXPORT const char *fb_message_kind(const fb_message_t *msg);

#ifdef __cplusplus
}
#endif
#endif
