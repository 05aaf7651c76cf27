/* fb_envelope.h — the codec of the envelope: decode, validate, stamp.
 *
 * The only module besides fb_json that knows protobuf-c types; the broker and
 * the node use it so that both refuse exactly the same things. */
#ifndef FB_ENVELOPE_H
#define FB_ENVELOPE_H

#include "fb_arena.h"
#include "fedbus.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* A validation verdict: reason is a FEDBUS__REJECT_REASON__* code
 * (REJECT_NONE when the envelope is good) and detail a one-line sentence. */
typedef struct {
    int reason;
    char detail[192];
} fb_verdict_t;

/* Largest bytes fb_envelope_stamp() appends. */
#define FB_STAMP_MAX 24

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

/* Writes the broker's fields (global_seq, stored_at_us) as protobuf fields
 * into out (>= FB_STAMP_MAX bytes); returns how many bytes. Appending them to
 * the publisher's bytes yields the stored envelope: protobuf merges them. */
size_t fb_envelope_stamp(uint64_t global_seq, int64_t stored_at_us, uint8_t *out);

/* Writes the content hash of a serialised envelope into out: SHA-256 over
 * the wire bytes of its topic and payload fields (tags 3 and >= 16), in
 * order. Sequencing, time and provenance fields are left out, so a resend of
 * the same message under a new origin_seq has the same content hash.
 * Returns 0, or -1 when buf is not well-formed protobuf. */
int fb_envelope_content_hash(const uint8_t *buf, size_t len, uint8_t out[32]);

/* Returns a new publish frame, NodeMessage{publish{envelope}}, holding env
 * packed (caller frees), with its length in *len; NULL when out of memory.
 * One allocation and one pack: the frame's two headers are written around
 * the envelope directly. */
uint8_t *fb_envelope_publish_frame(const Fedbus__Envelope *env, size_t *len);

/* The same for envelope bytes already packed, followed by tail (tail_len
 * bytes, may be 0): protobuf merges fields appended to a message. */
uint8_t *fb_envelope_publish_wrap(const uint8_t *env, size_t env_len, const uint8_t *tail,
                                  size_t tail_len, size_t *len);

/* The top-level fields of a serialised envelope that publishers and the
 * broker fill in, read without decoding (the last occurrence wins, as in
 * decoding); absent fields are 0 / NULL. */
typedef struct {
    const uint8_t *message_id;
    size_t message_id_len;
    const uint8_t *origin;
    size_t origin_len;
    const uint8_t *topic;
    size_t topic_len;
    int64_t created_at_us;
    uint64_t schema_version;
    uint64_t origin_seq;
    uint64_t global_seq;
    int64_t stored_at_us;
} fb_envelope_head_t;

/* Scans buf's top-level fields into *h; returns 0, or -1 when buf is not
 * well-formed protobuf. Nested messages are not looked into. */
int fb_envelope_scan(const uint8_t *buf, size_t len, fb_envelope_head_t *h);

/* An Ack (BrokerMessage.ack, or one of an AckBatch) read in place, without
 * decoding or allocating: absent fields are 0 / NULL; detail is not
 * NUL-terminated. */
typedef struct {
    const uint8_t *message_id;
    size_t message_id_len;
    int status;  /* Fedbus__AckStatus */
    uint64_t global_seq;
    uint64_t origin_seq;
    int reason;  /* Fedbus__RejectReason */
    const char *detail;
    size_t detail_len;
} fb_ack_view_t;

/* Reads the Ack in buf into *a (the last occurrence of a field wins, as in
 * decoding; unknown fields are skipped); returns 0, or -1 when buf is not
 * well-formed protobuf or a field of Ack has the wrong wire type. */
int fb_ack_scan(const uint8_t *buf, size_t len, fb_ack_view_t *a);

/* Append field `tag` as a varint / as length-delimited bytes to out (which
 * must hold 11 + tag bytes / 11 + len bytes); return the bytes written. */
size_t fb_envelope_put_varint(uint32_t tag, uint64_t value, uint8_t *out);
size_t fb_envelope_put_bytes(uint32_t tag, const void *data, size_t len, uint8_t *out);

/* Finds the envelope bytes inside a frame that holds exactly
 * NodeMessage{publish{envelope}} and nothing else, without copying: sets
 * *env (pointing into frame) and *env_len and returns 0; returns -1 for any
 * other frame, which the caller decodes the ordinary way. */
int fb_envelope_publish_view(const uint8_t *frame, size_t len, const uint8_t **env, size_t *env_len);

/* Frames that hold several messages (PublishBatch, AckBatch) are read in
 * place with these, without decoding or copying. */

/* Most envelopes in one PublishBatch (docs/protocol.md). */
#define FB_BATCH_MAX 1024

/* Batched feed frames (docs/protocol.md, "Feed"): FB_FEED_MARK, a topic, a
 * NUL, then FeedBatch.envelopes: up to FB_FEED_BATCH_MAX stored envelopes
 * of that topic, together within FB_FEED_BATCH_BYTES (or one larger
 * envelope alone). A subscription to FB_FEED_MARK + prefix selects them. */
#define FB_FEED_MARK 0x01
#define FB_FEED_BATCH_MAX 32
#define FB_FEED_BATCH_BYTES 8192

/* When frame is exactly one length-delimited field `tag` filling it (as
 * NodeMessage{publish_batch} is tag 4, BrokerMessage{ack_batch} tag 3), sets
 * *body and *body_len to its contents (pointing into frame) and returns 0;
 * returns -1 for any other frame. */
int fb_envelope_sole_field(const uint8_t *frame, size_t len, uint32_t tag, const uint8_t **body,
                           size_t *body_len);

/* Reads on from *p to the next length-delimited field `tag`, skipping any
 * other well-formed field; sets *data, *len (pointing into the buffer) and
 * advances *p. Returns 1 when one was found, 0 at end, -1 when the bytes are
 * not well-formed protobuf. */
int fb_envelope_next_bytes(const uint8_t **p, const uint8_t *end, uint32_t tag, const uint8_t **data,
                           size_t *len);

/* Writes the key and length of length-delimited field `tag` (at most 15
 * bytes) to out; returns the bytes written. fb_envelope_field_size() is the
 * size of such a field with len bytes of contents, key and length included. */
size_t fb_envelope_put_header(uint32_t tag, size_t len, uint8_t *out);
size_t fb_envelope_field_size(uint32_t tag, size_t len);

/* Returns the short name of a reject reason ("MALFORMED", ...). */
const char *fb_reject_name(int reason);

#endif
