/* fuzz_json.c — JSON text to an envelope (fb_json), checked as the broker checks it, and back.
 *
 * The CLI, the node's HTTP API and fb_publisher_send_json() turn a JSON
 * message into an envelope with fb_json_to_message(); a subscriber writes a
 * delivered envelope back as JSON with fb_json_from_message(). An envelope
 * the broker accepts is written as JSON that reads back to the same bytes,
 * so what a member received it can publish again unchanged. */
#include "fuzz.h"

#include "fb_envelope.h"
#include "fb_json.h"

/* What fb_publisher fills in when a message has none (fixed here, so that
 * a run is repeatable). */
static const uint8_t s_id[16] = {0x01, 0x8f, 0x3a, 0x10, 0x00, 0x00, 0x70, 0x00,
                                 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};

static uint8_t *s_pack(const Fedbus__Envelope *env, size_t *len)
{
    *len = fedbus__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len ? *len : 1);
    FZ_CHECK(buf != NULL, "out of memory");
    fedbus__envelope__pack(env, buf);
    return buf;
}

/* The accepted envelope env (packed: buf, len) as JSON, read back. */
static void s_round_trip(const Fedbus__Envelope *env, const uint8_t *buf, size_t len)
{
    json_t *j = fb_json_from_message(&env->base);
    FZ_CHECK(j != NULL, "accepted envelope has no JSON form");
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    FZ_CHECK(text != NULL, "out of memory");
    json_t *again = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    FZ_CHECK(again != NULL, "the JSON written for an envelope is not JSON");
    ProtobufCMessage *pm = NULL;
    char err[256];
    if (fb_json_to_message(again, &fedbus__envelope__descriptor, &pm, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz: %s\nfuzz: reading it back: %s\n", text, err);
        FZ_CHECK(0, "the JSON written for an accepted envelope does not read back");
    }
    size_t len2;
    uint8_t *buf2 = s_pack((const Fedbus__Envelope *)pm, &len2);
    FZ_CHECK(len2 == len && memcmp(buf, buf2, len) == 0, "the JSON written for an envelope reads back as another");
    free(buf2);
    protobuf_c_message_free_unpacked(pm, NULL);
    json_decref(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) fz_quiet(), ready = 1;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!root) return 0;
    ProtobufCMessage *pm = NULL;
    char err[256];
    if (fb_json_to_message(root, &fedbus__envelope__descriptor, &pm, err, sizeof(err)) != 0) {
        FZ_CHECK(pm == NULL && err[0], "refused without a reason, or with a message");
        json_decref(root);
        return 0;
    }
    Fedbus__Envelope *env = (Fedbus__Envelope *)pm;
    if (env->message_id.len == 0) {
        env->message_id.data = malloc(sizeof(s_id));
        FZ_CHECK(env->message_id.data != NULL, "out of memory");
        memcpy(env->message_id.data, s_id, sizeof(s_id));
        env->message_id.len = sizeof(s_id);
    }
    if (env->schema_version == 0) env->schema_version = 1;
    if (env->created_at_us == 0) env->created_at_us = 1767225600000000; /* 2026-01-01 */
    if (!env->origin || !*env->origin) {
        /* The node's stamp. */
        if (env->origin != protobuf_c_empty_string) free(env->origin);
        env->origin = strdup("kr-seoul");
        FZ_CHECK(env->origin != NULL, "out of memory");
    }
    if (env->origin_seq == 0) env->origin_seq = 1;
    size_t len;
    uint8_t *buf = s_pack(env, &len);
    fb_verdict_t v;
    Fedbus__Envelope *dec = fb_envelope_decode(buf, len, &v, NULL);
    if (dec) {
        s_round_trip(dec, buf, len);
        fedbus__envelope__free_unpacked(dec, NULL);
    }
    free(buf);
    protobuf_c_message_free_unpacked(pm, NULL);
    json_decref(root);
    return 0;
}
