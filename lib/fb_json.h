/* fb_json.h — JSON <-> protobuf for any fedbus message, driven by protobuf-c descriptors.
 *
 * Mapping (docs/protocol.md, "JSON form"): object keys are proto field names;
 * enums are lowercase names without the enum's prefix ("forum" for
 * EVENT_KIND_FORUM; the full name is accepted too); fedbus.Timestamp is an
 * RFC 3339 string with its offset; 16-byte `message_id` is a UUID string;
 * other bytes are lowercase hex; 64-bit integers are JSON numbers; fields at
 * their zero value are left out. Unknown keys are an error, so a typo never
 * vanishes silently. */
#ifndef FB_JSON_H
#define FB_JSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Returns a new JSON object for msg (caller owns it: json_decref), or NULL on
 * out-of-memory. */
json_t *fb_json_from_message(const ProtobufCMessage *msg);

/* Builds a new message of type desc from obj. Returns 0 and *out (caller owns
 * it: protobuf_c_message_free_unpacked(*out, NULL)), or -1 with a one-line
 * reason naming the offending field in err. */
int fb_json_to_message(const json_t *obj, const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage **out, char *err, size_t err_size);

#endif
