/* fuzz_envelope.c — envelope bytes as the broker checks them and as a subscriber reads them.
 *
 * The broker decodes and checks every publisher's envelope (fb_envelope_decode,
 * into an arena on its hot path) after the node scanned its top-level fields
 * in place (fb_wire_envelope_scan); a subscriber reads a stored envelope's
 * header in place and decodes its payload on demand (fb_message_fill,
 * fb_message_json). The two views must agree on every envelope the broker
 * accepts: the node routes and stamps by what the scan sees, the broker
 * stores what the decode sees. */
#include "fuzz.h"

#include "fb_arena.h"
#include "fb_client_int.h"
#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_json.h"
#include "fb_wire.h"

/* The decoded envelope and the in-place scan of the same bytes agree. */
static void s_same_view(const Fedbus__Envelope *env, const uint8_t *data, size_t size)
{
    fb_envelope_head_t h;
    FZ_CHECK(fb_wire_envelope_scan(data, size, &h) == 0, "accepted envelope does not scan");
    FZ_CHECK(h.origin_len == strlen(env->origin) && memcmp(h.origin, env->origin, h.origin_len) == 0,
             "scan and decode see different origins");
    FZ_CHECK(h.topic_len == strlen(env->topic) && memcmp(h.topic, env->topic, h.topic_len) == 0,
             "scan and decode see different topics");
    FZ_CHECK(h.message_id_len == env->message_id.len &&
                 memcmp(h.message_id, env->message_id.data, h.message_id_len) == 0,
             "scan and decode see different message_ids");
    FZ_CHECK(h.origin_seq == env->origin_seq && h.created_at_us == env->created_at_us &&
                 h.schema_version == env->schema_version,
             "scan and decode see different numbers");
    /* The hash takes topic and payload fields in at most 16 runs (no
     * allocation on the broker's hot path): an envelope split into more is
     * refused there, MALFORMED, though it decodes. */
    uint8_t hash[FB_SHA256_LEN];
    (void)fb_wire_content_hash(data, size, hash);
}

/* The broker's one-pass reader takes only what the decoder accepts, with
 * the same fields; what it does not take goes to the decoder, so the two
 * together give the decoder's verdict on every input. */
static void s_same_as_reader(const Fedbus__Envelope *env, const uint8_t *data, size_t size)
{
    fb_envelope_event_view_t w;
    if (!fb_wire_envelope_event_view(data, size, &w) || !fb_envelope_view_ok(&w)) return;
    FZ_CHECK(env != NULL, "the one-pass reader takes an envelope the decoder refuses");
    const fb_envelope_head_t *h = &w.head;
    FZ_CHECK(env->payload_case == FEDBUS__ENVELOPE__PAYLOAD_EVENT, "the one-pass reader takes another payload");
    FZ_CHECK(h->message_id_len == env->message_id.len &&
                 memcmp(h->message_id, env->message_id.data, h->message_id_len) == 0,
             "reader and decoder see different message_ids");
    FZ_CHECK(h->origin_len == strlen(env->origin) && memcmp(h->origin, env->origin, h->origin_len) == 0,
             "reader and decoder see different origins");
    FZ_CHECK(h->topic_len == strlen(env->topic) && memcmp(h->topic, env->topic, h->topic_len) == 0,
             "reader and decoder see different topics");
    FZ_CHECK(h->origin_seq == env->origin_seq && h->created_at_us == env->created_at_us,
             "reader and decoder see different numbers");
    uint8_t hash[FB_SHA256_LEN], want[FB_SHA256_LEN];
    FZ_CHECK(fb_wire_envelope_event_view_hash(&w, hash) == 0 && fb_wire_content_hash(data, size, want) == 0 &&
                 memcmp(hash, want, FB_SHA256_LEN) == 0,
             "reader and fb_wire_content_hash give different hashes");
    fb_envelope_head_t scan;
    FZ_CHECK(fb_wire_envelope_scan(data, size, &scan) == 0 && scan.prev_hash_count == h->prev_hash_count &&
                 scan.prev_hash_len == h->prev_hash_len && scan.prev_hash == h->prev_hash,
             "reader and scan see different prev_hashes");
}

/* What a subscriber does with the bytes as a stored envelope. */
static void s_deliver(fb_arena_t *arena, const uint8_t *data, size_t size)
{
    fb_message_t msg;
    if (fb_message_fill(arena, &msg, data, size) == 0) {
        free(fb_message_json(&msg));
        (void)fb_message_title(&msg, "en");
        (void)fb_message_title(&msg, "ko");
        (void)fb_message_kind(&msg);
        const char *all[] = {"*"}, *some[] = {"event.*.forum"};
        (void)fb_message_match(&msg, all, 1);
        (void)fb_message_match(&msg, some, 1);
    }
    fb_arena_reset(arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fb_arena_t *arena;
    if (!arena) {
        fz_quiet();
        arena = fb_arena_new(64 << 10, 64 << 10);
        FZ_CHECK(arena != NULL, "out of memory");
    }
    fb_verdict_t v;
    Fedbus__Envelope *bad = NULL, *env = fb_envelope_decode(data, size, &v, &bad);
    int accepted = env != NULL;
    s_same_as_reader(env, data, size);
    if (env) {
        FZ_CHECK(v.reason == FEDBUS__REJECT_REASON__REJECT_NONE, "accepted with a reason");
        s_same_view(env, data, size);
        FZ_CHECK(fb_envelope_check(env, &v) == 0, "decoded envelope fails its own check");
        json_t *j = fb_json_from_message(&env->base);
        FZ_CHECK(j != NULL, "accepted envelope has no JSON form");
        free(json_dumps(j, JSON_COMPACT));
        json_decref(j);
        fedbus__envelope__free_unpacked(env, NULL);
    } else {
        FZ_CHECK(v.reason != FEDBUS__REJECT_REASON__REJECT_NONE && v.detail[0], "refused without a reason");
        (void)fb_reject_name(v.reason);
    }
    if (bad) fedbus__envelope__free_unpacked(bad, NULL);
    /* The broker's way: into an arena, the refused one too. */
    Fedbus__Envelope *in = fb_envelope_decode_in(arena, data, size, &v, &bad);
    FZ_CHECK((in != NULL) == accepted, "decoding into an arena decides otherwise");
    fb_arena_reset(arena);
    s_deliver(arena, data, size);
    return 0;
}
