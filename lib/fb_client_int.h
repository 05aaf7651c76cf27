/* fb_client_int.h — what the client's files share behind fedbus/fb_client.h.
 *
 * The client is five files: fb_publisher.c, fb_subscriber.c, fb_replay.c,
 * fb_message.c and fb_endpoint.c. A delivered message is filled the same
 * way from a feed frame and from a replay chunk (fb_message_fill), the
 * subscriber catches up through the replay's scan (fb_replay_scan), and
 * every client socket is made from the public endpoint options
 * (fb_endpoint_open). */
#ifndef FB_CLIENT_INT_H
#define FB_CLIENT_INT_H

#include "fb_arena.h"
#include "fb_wire.h"
#include "fedbus/fedbus.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------- fb_message.c -- */

/* Fills msg from the envelope's top-level fields, read in place; the
 * payload is decoded (into arena) only when fb_message_json(), _title() or
 * _kind() asks for it. Returns 0, or -1 when raw is not protobuf or arena
 * is out of memory. raw (not copied) and arena back msg until the arena is
 * reset. */
int fb_message_fill(fb_arena_t *arena, fb_message_t *msg, const void *raw, size_t len);

/* Records how msg fared in verification (FB_MSG_*), with why (copied into
 * msg's arena; NULL or "": none). */
void fb_message_set_verified(fb_message_t *msg, int status, const char *why);

/* The top-level fields of msg's envelope as fb_message_fill() scanned them
 * (fb_wire_envelope_scan() of msg->raw), or NULL for a message it did not
 * fill. Valid as long as msg. */
const fb_envelope_head_t *fb_message_head(const fb_message_t *msg);

/* Returns 1 when msg's topic matches one of the patterns (none: every
 * topic matches), else 0. */
int fb_message_match(const fb_message_t *msg, const char *const *patterns, int npatterns);

/* ------------------------------------------------------ fb_endpoint.c -- */

/* Makes a ZeroMQ socket of type (ZMQ_DEALER, ZMQ_SUB) connected as e says,
 * with hwm and linger_ms where e leaves them 0 (hwm 0: ZeroMQ's). Returns
 * the socket (the caller closes it), or NULL with errno set: EINVAL when e
 * or its endpoint is NULL or a CURVE key is refused. */
void *fb_endpoint_open(const fb_endpoint_opts_t *e, int type, int hwm, int linger_ms);

/* Returns 0 when e has an endpoint and its CURVE keys are all NULL or all
 * FB_CURVE_KEY_LEN characters of Z85, else -1 with errno EINVAL: the check
 * fb_endpoint_open() makes, for options kept to be used later. */
int fb_endpoint_check(const fb_endpoint_opts_t *e);

/* Returns a copy of e and its strings in one block (the caller frees it
 * with free()), or NULL when out of memory. */
fb_endpoint_opts_t *fb_endpoint_dup(const fb_endpoint_opts_t *e);

/* ------------------------------------------------------ fb_subverify.c -- */

struct Fedbus__SealProof;
typedef struct fb_subverify fb_subverify_t;

/* Returns a verifier that fetches what it lacks from replay (borrowed: it
 * must outlive it; NULL: nothing is fetched), or NULL when out of memory. */
fb_subverify_t *fb_subverify_new(const fb_endpoint_opts_t *replay);

/* Accepts NULL and *self_p == NULL; nulls *self_p. */
void fb_subverify_destroy(fb_subverify_t **self_p);

/* Fetches from replay (borrowed, as with fb_subverify_new()) from now on. */
void fb_subverify_set_replay(fb_subverify_t *self, const fb_endpoint_opts_t *replay);

/* Pins the n keys (copied): the broker's directory is never fetched.
 * Returns FB_OK, FB_EINVAL (a member id not 1-32 characters) or FB_ENOMEM. */
int fb_subverify_pin(fb_subverify_t *self, const fb_signing_key_t *keys, size_t n);

/* Checks and keeps the n proofs of a chunk (the directory is fetched when
 * they name a key not held). Returns FB_OK or FB_ENOMEM. */
int fb_subverify_proofs(fb_subverify_t *self, struct Fedbus__SealProof *const *proofs, size_t n);

/* Takes one feed frame that may be a seal frame (fb_feedseal_add()):
 * returns 1 (kept), 0 (not a seal frame), -1 (ignored: counted bad, or
 * out of memory). */
int fb_subverify_feed_seal(fb_subverify_t *self, const uint8_t *frame, size_t len);

typedef struct {
    uint64_t lookups;    /* seal look-ups asked of replay */
    uint64_t feed_seals; /* seal frames taken from the feed */
    uint64_t feed_bad;   /* ... that did not decode, or whose seal did not verify */
} fb_subverify_stats_t;

void fb_subverify_get_stats(const fb_subverify_t *self, fb_subverify_stats_t *out);

/* Verifies msg against the seals kept (and those the feed brought); with fetch, a message no kept seal
 * covers has its frame's seal fetched from replay first. Records and
 * returns the verdict: FB_MSG_VERIFIED, FB_MSG_FAILED (also when a proof
 * could not be fetched), FB_MSG_UNSIGNED or FB_MSG_BROKER. */
int fb_subverify_check(fb_subverify_t *self, fb_message_t *msg, int fetch);

/* -------------------------------------------------------- fb_replay.c -- */

/* What one replay scan saw besides the messages it handed on. */
typedef struct {
    uint32_t scanned;      /* stored messages the broker sent (before the patterns' exact check) */
    uint64_t scanned_last; /* the last one's global_seq (0: none) */
    uint64_t head_seq;     /* the last chunk's head_seq: the broker's head when it was read */
    uint64_t first_seq;    /* the last chunk's first_seq: the first global_seq kept (after FB_ELOST) */
    uint64_t failed;       /* messages handed on that failed verification */
} fb_replay_tally_t;

/* fb_replay_opts() without the check of replay's keys, also filling *tally
 * (reset first); with sv (NULL: nothing verified), chunks are asked with
 * their proofs and every message handed on is verified by sv first: catch-up and gap repair page through history with it. A
 * scan that returns FB_OK with fewer than limit scanned (limit 0: any) went
 * to the end: every matching message up to tally->head_seq was handed on. */
int fb_replay_scan(const fb_endpoint_opts_t *replay, const char *const *patterns, int npatterns,
                   uint64_t from_seq, int64_t since_us, uint32_t limit, fb_replay_fn fn, void *arg,
                   int timeout_ms, fb_replay_tally_t *tally, fb_subverify_t *sv);

/* -------------------------------------------------------- fb_subcount.c -- */

/* The subscriber's side of count frames (docs/protocol.md, "Feed", count
 * frames): for each prefix it subscribes to, how many messages under it
 * came on the feed, against what the broker says it sent. After a head
 * frame (fb_subcount_head()) the count frame of every prefix is
 * awaited; when they all came and each prefix's count grew by as much as
 * the messages received under it since the head before, the feed lost
 * nothing up to that head (fb_subcount_settle()). */
typedef struct fb_subcount fb_subcount_t;

fb_subcount_t *fb_subcount_new(void);
void fb_subcount_destroy(fb_subcount_t **self_p);

/* Adds a prefix the subscriber subscribes to (once each); 0, or -1 when
 * out of memory. */
int fb_subcount_add(fb_subcount_t *self, const char *prefix);

/* A message of topic (tlen bytes) came on the feed: counted under every
 * prefix it starts with. */
void fb_subcount_recv(fb_subcount_t *self, const char *topic, size_t tlen);

/* Whether count frames have come: the broker sends them. */
int fb_subcount_on(const fb_subcount_t *self);

/* A head frame for head came (no wait may be under way: settle it
 * first). Returns 1 when its count frames are now awaited, 0 when the
 * broker was not seen to send any (the head frame alone then counts). */
int fb_subcount_head(fb_subcount_t *self, uint64_t head);

/* Whether count frames are awaited, and for which head (*head). */
int fb_subcount_pending(const fb_subcount_t *self, uint64_t *head);

/* A count frame came (prefix: len bytes). Returns 1 when it was the last
 * one awaited (settle now), else 0 (one for another prefix or head, or
 * more to come). Outside a wait it sets the prefix's starting point. */
int fb_subcount_frame(fb_subcount_t *self, const uint8_t *prefix, size_t len, uint64_t head, uint64_t count);

/* Ends the wait: returns 1 when every prefix's count frame came and
 * agreed with what was received, else 0 (one missing, a message lost, or
 * no starting point yet). What each count frame said becomes the starting
 * point of the next head's comparison. */
int fb_subcount_settle(fb_subcount_t *self);

#endif
