/* fb_wire.h — the wire format: every frame fedbus reads or writes without protobuf-c.
 *
 * The one module that knows protobuf field numbers of the envelope and of
 * the control messages (proto/fedbus.proto). Hot paths read and write frames
 * in place with it — a publish frame around envelope bytes, the items of a
 * PublishBatch, AckBatch or FeedBatch, the fields a node or the broker
 * stamps onto an envelope, an Ack — so that nothing else needs to know which
 * number a field has. The generic primitives at the end serve this module's
 * own functions, the decoder's wire walk and the tests of the format. */
#ifndef FB_WIRE_H
#define FB_WIRE_H

#include "fb_seal.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ envelope -- */

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
    const uint8_t *prev_hash; /* the last occurrence */
    size_t prev_hash_len;
    unsigned prev_hash_count; /* how many times the field occurs */
} fb_envelope_head_t;

/* Scans buf's top-level fields into *h; returns 0, or -1 when buf is not
 * well-formed protobuf. Nested messages are not looked into. */
int fb_wire_envelope_scan(const uint8_t *buf, size_t len, fb_envelope_head_t *h);

/* An envelope with an Event payload read in one pass, without decoding:
 * its head and what of the event fb_envelope checks. */
typedef struct {
    fb_envelope_head_t head;
    uint64_t kind;   /* Event.kind */
    int title_set;   /* Event.title present with ko or en not empty */
    int has_starts, has_ends;
    int64_t starts_us, ends_us;  /* Event.starts_at / ends_at .unix_us */
    int32_t starts_off, ends_off; /* ... .utc_offset_min */
    const uint8_t *hashed[2]; /* the bytes fb_wire_content_hash() hashes */
    size_t hashed_len[2];
    size_t nhashed;
} fb_envelope_event_view_t;

/* Reads buf as an envelope with an Event payload, the common case, in one
 * pass: every field of Envelope, Event, Text, Timestamp and Venue known to
 * this build with its own wire type, each non-repeated field at most once,
 * every key and length written in its shortest form, every 32-bit number
 * within 32 bits, every string UTF-8 without NUL, and every Event.fields
 * item a topic segment. Returns 1 with *v filled when buf is all of that,
 * else 0: such a buf (malformed, unknown fields, another payload, ...) is
 * for the full decoder to judge. 1 never means more than that the protobuf
 * decoder would read the same values; fb_envelope_view_ok() checks them. */
int fb_wire_envelope_event_view(const uint8_t *buf, size_t len, fb_envelope_event_view_t *v);

/* fb_wire_content_hash() of the envelope *v was read from, without reading
 * it again. Returns 0, or -1. */
int fb_wire_envelope_event_view_hash(const fb_envelope_event_view_t *v, uint8_t out[32]);

/* Most bytes fb_wire_stamp_stored() writes. */
#define FB_STAMP_MAX 24

/* Writes the broker's fields (global_seq, stored_at_us) as protobuf fields
 * into out (>= FB_STAMP_MAX bytes); returns how many bytes. Appending them to
 * the publisher's bytes yields the stored envelope: protobuf merges them. */
size_t fb_wire_stamp_stored(uint64_t global_seq, int64_t stored_at_us, uint8_t *out);

/* What a node stamps onto an envelope it sequences; a field left 0 / NULL
 * is not written (the publisher's own value stands). */
typedef struct {
    const char *origin;         /* written when not NULL */
    size_t origin_len;
    const uint8_t *message_id;  /* 16 bytes (a UUID), written when not NULL */
    int64_t created_at_us;      /* written when not 0 */
    uint32_t schema_version;    /* written when not 0 */
    const uint8_t *prev_hash;   /* FB_SHA256_LEN bytes, written when not NULL */
    uint64_t origin_seq;        /* written when not 0, always last */
} fb_wire_origin_stamp_t;

/* Most bytes fb_wire_stamp_origin() writes besides the origin's own. */
#define FB_ORIGIN_STAMP_MAX (2 + 18 + 11 + 6 + 34 + 11 + 11)

/* Writes the fields of *s into out (FB_ORIGIN_STAMP_MAX + s->origin_len
 * bytes); returns how many bytes. Appended to an envelope they override
 * its own (protobuf merges: the last occurrence of a field wins). */
size_t fb_wire_stamp_origin(const fb_wire_origin_stamp_t *s, uint8_t *out);

/* The node's sequencing tail of an envelope it stamped: origin_seq as the
 * last field, and prev_hash right before it when present. Returns the
 * tail's length (0 when env does not end with origin_seq), and points
 * *prev_hash at the 32 bytes of a prev_hash in it (else NULL). Cutting the
 * tail and stamping anew renumbers or re-links an envelope. */
size_t fb_wire_sequencing_tail(const uint8_t *env, size_t len, uint64_t origin_seq, const uint8_t **prev_hash);

/* Writes the content hash of a serialised envelope into out: SHA-256 over
 * the wire bytes of its topic and payload fields, in order. Sequencing,
 * time and provenance fields are left out, so a resend of the same message
 * under a new origin_seq has the same content hash. Returns 0, or -1 when
 * buf is not well-formed protobuf. */
int fb_wire_content_hash(const uint8_t *buf, size_t len, uint8_t out[32]);

/* Returns 1 when tag is a field of the envelope's payload oneof (a kind of
 * message this build may not know), else 0. */
int fb_wire_is_payload_tag(uint32_t tag);

/* ------------------------------------------------------------- publish -- */

/* Returns a new publish frame, NodeMessage{publish{envelope}}, of env_len
 * envelope bytes followed by tail_len bytes of tail (may be 0): protobuf
 * merges fields appended to a message. The caller frees it; its length is
 * in *len. NULL when out of memory. */
uint8_t *fb_wire_publish_wrap(const uint8_t *env, size_t env_len, const uint8_t *tail,
                              size_t tail_len, size_t *len);

/* Allocates a publish frame with room for env_len envelope bytes, writes
 * its headers, and returns where the envelope goes in *body (caller frees
 * the frame; NULL when out of memory). */
uint8_t *fb_wire_publish_alloc(size_t env_len, size_t *len, uint8_t **body);

/* Finds the envelope bytes inside a frame that holds exactly
 * NodeMessage{publish{envelope}} and nothing else, without copying: sets
 * *env (pointing into frame) and *env_len and returns 0; returns -1 for any
 * other frame, which the caller decodes the ordinary way. */
int fb_wire_publish_view(const uint8_t *frame, size_t len, const uint8_t **env, size_t *env_len);

/* ------------------------------------------------- frames of many items -- */

/* PublishBatch.envelopes, AckBatch.acks and FeedBatch.envelopes are each a
 * list of length-delimited items. These write and read one item. */
size_t fb_wire_item_size(size_t len);
size_t fb_wire_put_item_header(size_t len, uint8_t *out); /* at most 11 bytes */
size_t fb_wire_put_item(const void *data, size_t len, uint8_t *out);

/* Reads on from *p to the next item, skipping any other well-formed field;
 * sets *data, *len (pointing into the buffer) and advances *p. Returns 1
 * when one was found, 0 at end, -1 when the bytes are not well-formed. */
int fb_wire_next_item(const uint8_t **p, const uint8_t *end, const uint8_t **data, size_t *len);

/* The feed's head frame (docs/protocol.md, "Feed"): FB_WIRE_FEED_HEAD_MARK,
 * a NUL, then FeedHead{head_seq}. A subscription to the mark alone selects
 * it; no topic starts with the mark. */
#define FB_WIRE_FEED_HEAD_MARK 0x02
#define FB_WIRE_FEED_HEAD_MAX 13 /* the whole frame at most */

/* Writes the head frame for head_seq to out (FB_WIRE_FEED_HEAD_MAX bytes of
 * room); returns its size. */
size_t fb_wire_put_feed_head(uint64_t head_seq, uint8_t *out);

/* When frame (len bytes) is a head frame, sets *head_seq and returns 1; 0
 * when it is not one (it does not start with the mark and a NUL); -1 when it
 * does but FeedHead is not well-formed. */
int fb_wire_feed_head_view(const uint8_t *frame, size_t len, uint64_t *head_seq);

/* The feed's count frame (docs/protocol.md, "Feed", count frames):
 * FB_WIRE_FEED_COUNT_MARK, a subscription prefix (topic bytes, no NUL), a
 * NUL, then FeedCount{head_seq, count}: sent right after the head frame for
 * head_seq, one per prefix subscribed to, count is how many messages with
 * a topic that starts with the prefix the broker has sent since it began
 * counting that prefix, up to head_seq. A subscription to the mark and a
 * prefix selects the prefix's frame (and those of longer prefixes). */
#define FB_WIRE_FEED_COUNT_MARK 0x04
#define FB_WIRE_FEED_COUNT_MAX(prefix_len) ((prefix_len) + 24) /* the whole frame at most */

/* Writes the count frame of prefix (len bytes) to out
 * (FB_WIRE_FEED_COUNT_MAX(len) bytes of room); returns its size. */
size_t fb_wire_put_feed_count(const uint8_t *prefix, size_t len, uint64_t head_seq, uint64_t count, uint8_t *out);

/* When frame (len bytes) is a count frame, sets *prefix (into frame),
 * *prefix_len, *head_seq and *count and returns 1; 0 when it is not one
 * (no mark, or no NUL after the prefix); -1 when FeedCount is not
 * well-formed. */
int fb_wire_feed_count_view(const uint8_t *frame, size_t len, const uint8_t **prefix, size_t *prefix_len,
                            uint64_t *head_seq, uint64_t *count);

/* The feed's seal frame (docs/protocol.md, "Feed", seal frames):
 * FB_WIRE_FEED_SEAL_MARK, a NUL, then SealProof{seal, entries}: one
 * origin's verified seal and the entry hashes of every envelope of the
 * frame it covers, in the frame's order. A subscription to the mark alone
 * selects it; no topic starts with the mark. */
#define FB_WIRE_FEED_SEAL_MARK 0x03
/* Most entries a seal frame may hold: a PublishBatch's most envelopes. */
#define FB_WIRE_FEED_SEAL_ENTRIES_MAX 1024

/* The size of the seal frame of seal over n entry hashes. */
size_t fb_wire_feed_seal_size(const fb_seal_t *seal, size_t n);

/* Writes that frame to out (fb_wire_feed_seal_size() bytes of room);
 * returns its size. */
size_t fb_wire_put_feed_seal(const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN], size_t n, uint8_t *out);

/* When frame (len bytes) is a seal frame, fills *seal, copies its entry
 * hashes into entries (room for max) with their number in *n, and returns
 * 1; 0 when it is not one (it does not start with the mark and a NUL); -1
 * when it does but is not a well-formed SealProof: truncated, no seal or a
 * seal field of the wrong size, no entry, an entry not 32 bytes, or more
 * than max entries. Fields a later version adds are skipped. */
int fb_wire_feed_seal_view(const uint8_t *frame, size_t len, fb_seal_t *seal, uint8_t (*entries)[FB_SHA256_LEN],
                           size_t max, size_t *n);

/* NodeMessage{publish_batch{items}}: the frame's size for items_len bytes of
 * items, and its header (at most 11 bytes) before them. */
size_t fb_wire_publish_batch_size(size_t items_len);
size_t fb_wire_put_publish_batch_header(size_t items_len, uint8_t *out);

/* When frame is exactly NodeMessage{publish_batch} and nothing else, sets
 * *items, *items_len to its items (pointing into frame) and returns 0;
 * returns -1 for any other frame. */
int fb_wire_publish_batch_view(const uint8_t *frame, size_t len, const uint8_t **items,
                               size_t *items_len);

/* Returns 1 when frame holds a publish_batch field anywhere (so that a batch
 * with something beside it can be refused rather than half decoded), 0 when
 * it does not, -1 when it is not well-formed protobuf. */
int fb_wire_has_publish_batch(const uint8_t *frame, size_t len);

/* PublishBatch.seal: its size as a field, and the field itself, written
 * after the items (a frame's items_len then counts it too). */
size_t fb_wire_seal_field_size(const fb_seal_t *s);
size_t fb_wire_put_seal_field(const fb_seal_t *s, uint8_t *out);

/* Finds the seal among a PublishBatch's fields (items, items_len as
 * fb_wire_publish_batch_view() gives them). Returns 1 and fills *out, 0 when
 * there is none, -1 when there are two or it is not a well-formed Seal. */
int fb_wire_batch_seal(const uint8_t *items, size_t len, fb_seal_t *out);

/* BrokerMessage{ack_batch{items}}: the same three for acks. */
size_t fb_wire_ack_batch_size(size_t items_len);
size_t fb_wire_put_ack_batch_header(size_t items_len, uint8_t *out);
int fb_wire_ack_batch_view(const uint8_t *frame, size_t len, const uint8_t **items, size_t *items_len);

/* ----------------------------------------------------------------- acks -- */

/* An Ack, read in place or about to be written: absent fields are 0 / NULL;
 * detail is not NUL-terminated. */
typedef struct {
    const uint8_t *message_id;
    size_t message_id_len;
    int status; /* Fedbus__AckStatus */
    uint64_t global_seq;
    uint64_t origin_seq;
    int reason; /* Fedbus__RejectReason */
    const char *detail;
    size_t detail_len;
} fb_ack_view_t;

/* Reads the Ack in buf into *a (the last occurrence of a field wins, as in
 * decoding; unknown fields are skipped); returns 0, or -1 when buf is not
 * well-formed protobuf or a field of Ack has the wrong wire type. */
int fb_wire_ack_scan(const uint8_t *buf, size_t len, fb_ack_view_t *a);

/* The one Ack writer of the broker and the node: the bytes of Ack *a
 * (exactly what protobuf-c packs for it), their size, and written to out
 * (fb_wire_ack_size(a) bytes). */
size_t fb_wire_ack_size(const fb_ack_view_t *a);
size_t fb_wire_put_ack(const fb_ack_view_t *a, uint8_t *out);

/* BrokerMessage{ack}: the frame's size around ack_len bytes of an Ack, its
 * header (at most 11 bytes), and reading it: when frame is exactly
 * BrokerMessage{ack}, sets *ack, *ack_len and returns 0, else -1. */
size_t fb_wire_ack_frame_size(size_t ack_len);
size_t fb_wire_put_ack_frame_header(size_t ack_len, uint8_t *out);
int fb_wire_ack_frame_view(const uint8_t *frame, size_t len, const uint8_t **ack, size_t *ack_len);

/* Returns a new BrokerMessage{ack{*a}} frame (caller frees), its length in
 * *len; NULL when out of memory. */
uint8_t *fb_wire_ack_frame(const fb_ack_view_t *a, size_t *len);

/* ------------------------------------------------ fields from the future -- */

/* What a newer peer's fields look like to this build, for the tests and
 * tools that show how a reader meets them; no daemon writes these. */

/* Writes an envelope payload field of a kind this build does not know (the
 * tag after the last kind in proto/fedbus.proto) holding len bytes of data,
 * as a newer publisher would send one; returns the bytes written (at most
 * 13 + len). */
size_t fb_wire_put_unknown_payload(const void *data, size_t len, uint8_t *out);

/* Writes `value` as a varint field whose number no message fedbus reads
 * has (reserved in Envelope, unused in NodeMessage, BrokerMessage,
 * Publish, PublishBatch, Ack and AckBatch); returns the bytes written (at
 * most 11). */
size_t fb_wire_put_unknown_field(uint64_t value, uint8_t *out);

/* ----------------------------------------------------------- primitives -- */

/* Reads a varint at *p (< end); returns 0 and advances *p, or -1. */
int fb_wire_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* Writes x as a varint to out (at most 10 bytes); returns the bytes written. */
size_t fb_wire_put_varint(uint64_t x, uint8_t *out);
size_t fb_wire_varint_size(uint64_t x);

/* Reads the field at *p: its key, and for wire type 0 its value in *v, for
 * type 2 its bytes (*data, *v long); fixed fields are stepped over (*data at
 * their bytes). Returns 1 and advances *p, 0 at end, -1 when the bytes are
 * not well-formed protobuf (truncated, a length past the end, a wire type
 * protobuf 3 does not use). */
int fb_wire_next_field(const uint8_t **p, const uint8_t *end, uint64_t *key, uint64_t *v,
                       const uint8_t **data);

/* Field `tag` as a varint / as length-delimited bytes / the key and length
 * of length-delimited field `tag` alone, written to out; each returns the
 * bytes written. fb_wire_field_size() is the whole size of a length-
 * delimited field with len bytes of contents. */
size_t fb_wire_put_uint(uint32_t tag, uint64_t value, uint8_t *out);
size_t fb_wire_put_bytes(uint32_t tag, const void *data, size_t len, uint8_t *out);
size_t fb_wire_put_header(uint32_t tag, size_t len, uint8_t *out);
size_t fb_wire_field_size(uint32_t tag, size_t len);

/* When frame is exactly one length-delimited field `tag` filling it, sets
 * *body and *body_len to its contents and returns 0; else -1. */
int fb_wire_sole_field(const uint8_t *frame, size_t len, uint32_t tag, const uint8_t **body,
                       size_t *body_len);

/* Reads on from *p to the next length-delimited field `tag`, skipping any
 * other well-formed field (as fb_wire_next_item). */
int fb_wire_next_bytes(const uint8_t **p, const uint8_t *end, uint32_t tag, const uint8_t **data,
                       size_t *len);

#endif
