/* fb_envelope.h — the codec of the envelope: decode, validate, stamp.
 *
 * The only module besides fb_json that knows protobuf-c types; the broker and
 * the node use it so that both refuse exactly the same things. */
#ifndef FB_ENVELOPE_H
#define FB_ENVELOPE_H

#include "fb_arena.h"
#include "fb_wire.h"
#include "fedbus.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* A validation verdict: reason is a FEDBUS__REJECT_REASON__* code
 * (REJECT_NONE when the envelope is good) and detail a one-line sentence. */
typedef struct {
    int reason;
    char detail[192];
} fb_verdict_t;

/* Unpacks len bytes into a new envelope and checks it as the broker does:
 * every string field, on the wire, UTF-8 without NUL; the payload known and
 * complete; the topic in the grammar, in the origin's namespace and of the
 * payload's kind; broker fields unset. Returns the envelope (caller frees:
 * fedbus__envelope__free_unpacked) with v->reason == REJECT_NONE, or NULL
 * with the reason in *v. When the bytes decoded but the envelope is refused
 * and bad is not NULL, *bad receives the decoded envelope (caller frees), so
 * that the reject can name its message_id; otherwise *bad is NULL. */
Fedbus__Envelope *fb_envelope_decode(const uint8_t *buf, size_t len, fb_verdict_t *v,
                                     Fedbus__Envelope **bad);

/* The same, decoding into arena (when not NULL): the envelope, and *bad,
 * then live until the arena is reset and must not be freed. */
Fedbus__Envelope *fb_envelope_decode_in(fb_arena_t *arena, const uint8_t *buf, size_t len,
                                        fb_verdict_t *v, Fedbus__Envelope **bad);

/* Whether the envelope fb_wire_envelope_event_view() read as *w passes
 * every check fb_envelope_decode() makes: 1 when it does (the decoder would
 * return it, with these values), 0 when it does not or it is not sure;
 * the reason of a 0 is fb_envelope_decode()'s to give. The broker's fast
 * path: no decoding, no copy, one pass over the bytes. */
int fb_envelope_view_ok(const fb_envelope_event_view_t *w);

/* Fills *a with an allocator that takes its memory from arena and frees
 * nothing: for unpacking other messages the same way (the arena's reset
 * releases them). */
void fb_envelope_arena_allocator(fb_arena_t *arena, ProtobufCAllocator *a);

/* Unpacks without checking (what a subscriber does with stored envelopes
 * the broker checked), into arena when not NULL; NULL when undecodable. */
Fedbus__Envelope *fb_envelope_unpack_in(fb_arena_t *arena, const uint8_t *buf, size_t len);

/* Checks an envelope already in memory (same rules as fb_envelope_decode,
 * minus decoding). Returns 0 when good, else -1 with the reason in *v. */
int fb_envelope_check(const Fedbus__Envelope *env, fb_verdict_t *v);

/* Returns the topic spelling of the payload kind ("event", "cfp",
 * "researcher"), or NULL when no known payload is set. */
const char *fb_envelope_kind(const Fedbus__Envelope *env);

/* Returns a new publish frame, NodeMessage{publish{envelope}}, holding env
 * packed (caller frees), with its length in *len; NULL when out of memory.
 * One allocation and one pack: the frame's two headers are written around
 * the envelope directly (fb_wire_publish_wrap() does the same for bytes). */
uint8_t *fb_envelope_publish_frame(const Fedbus__Envelope *env, size_t *len);

/* Most envelopes in one PublishBatch (docs/protocol.md). */
#define FB_BATCH_MAX 1024

/* Batched feed frames (docs/protocol.md, "Feed"): FB_FEED_MARK, a topic, a
 * NUL, then FeedBatch.envelopes: up to FB_FEED_BATCH_MAX stored envelopes
 * of that topic, together within FB_FEED_BATCH_BYTES (or one larger
 * envelope alone). A subscription to FB_FEED_MARK + prefix selects them. */
#define FB_FEED_MARK 0x01
#define FB_FEED_BATCH_MAX 32
#define FB_FEED_BATCH_BYTES 8192

/* Returns the short name of a reject reason ("MALFORMED", ...). */
const char *fb_reject_name(int reason);

#endif
