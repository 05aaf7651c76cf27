/* fb_wire_fields.h — the field numbers of the wire format, for fb_wire.c and fb_wire_event.c only. */
#ifndef FB_WIRE_FIELDS_H
#define FB_WIRE_FIELDS_H

#include <stddef.h>
#include <stdint.h>

/* Field numbers of proto/fedbus.proto; this header is the only place
 * that spells them (fb_wire.c and fb_wire_event.c read it). Never
 * renumbered: they are the protocol. */
enum {
    S_ENV_MESSAGE_ID = 1,
    S_ENV_ORIGIN = 2,
    S_ENV_TOPIC = 3,
    S_ENV_CREATED_AT_US = 4,
    S_ENV_SCHEMA_VERSION = 5,
    S_ENV_ORIGIN_SEQ = 6,
    S_ENV_GLOBAL_SEQ = 7,
    S_ENV_STORED_AT_US = 9,
    S_ENV_PREV_HASH = 10,
    S_ENV_PAYLOAD_FIRST = 16, /* the payload oneof: every kind has a tag from here up */
    S_ENV_PAYLOAD_UNKNOWN = 20, /* the first kind this build does not know (19: MemberState) */
    S_PUBLISH_ENVELOPE = 1,
    S_BATCH_ITEM = 1, /* PublishBatch.envelopes, AckBatch.acks, FeedBatch.envelopes */
    S_NODE_PUBLISH = 1,
    S_NODE_PUBLISH_BATCH = 4,
    S_BROKER_ACK = 1,
    S_BROKER_ACK_BATCH = 3,
    S_ACK_MESSAGE_ID = 1,
    S_ACK_STATUS = 2,
    S_ACK_GLOBAL_SEQ = 3,
    S_ACK_ORIGIN_SEQ = 4,
    S_ACK_REASON = 5,
    S_ACK_DETAIL = 6,
    S_UNKNOWN_FIELD = 15, /* reserved in Envelope, unused in every message read as a frame */
    S_BATCH_SEAL = 2,     /* PublishBatch.seal */
    S_SEAL_ORIGIN = 1,
    S_SEAL_FIRST_SEQ = 2,
    S_SEAL_LAST_SEQ = 3,
    S_SEAL_ROOT = 4,
    S_SEAL_KEY_ID = 5,
    S_SEAL_SIGNED_AT_US = 6,
    S_SEAL_SIGNATURE = 7,
    S_PROOF_SEAL = 1,    /* SealProof.seal, the body of a seal frame */
    S_PROOF_ENTRIES = 2, /* SealProof.entries */
};

#define S_VARINT 0
#define S_FIXED64 1
#define S_BYTES 2
#define S_FIXED32 5
#define S_FIELD_MAX 536870911u /* 2^29-1 */
#define S_KEY(tag, type) ((uint64_t)(tag) << 3 | (type))

/* Where len bytes at buf end: buf itself when there are none. protobuf-c
 * gives an empty bytes field as NULL, and NULL + 0 is undefined in C. */
static inline const uint8_t *fb_wire_end(const uint8_t *buf, size_t len)
{
    return len ? buf + len : buf;
}

#endif
