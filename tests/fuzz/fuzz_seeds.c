/* fuzz_seeds.c — writes the seed corpus of every fuzz target from the demo's messages and the library's own writers.
 *
 *   build/tests/fuzz/fuzz_seeds tests/fuzz/corpus
 *
 * run from the repository's top (it reads seeds/messages and ops/examples).
 * Every seed is made the way fedbus makes the real thing (fb_json for
 * messages, fb_wire and protobuf-c for frames, the outbox for journal
 * segments, fb_keys for key files) with fixed ids, times and keys, so that
 * running it again writes the same bytes. Files it does not write (inputs
 * that once crashed a target, seeds added by hand) are left alone. */
#include "fuzz.h"

#include "fb_crc32c.h"
#include "fb_envelope.h"
#include "fb_json.h"
#include "fb_outbox.h"
#include "fb_seal.h"
#include "fb_wire.h"
#include "fedbus/fedbus.h"
/* fedbus.h's FB_CURVE_KEY_LEN (Z85 characters) is not fb_keys.h's (bytes);
 * this file uses neither by name. */
#undef FB_CURVE_KEY_LEN
#include "fb_keys.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <zmq.h>

static const char *s_root;

/* ---------------------------------------------------------------- buffers -- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} s_buf_t;

static void s_add(s_buf_t *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        FZ_CHECK(b->p != NULL, "out of memory");
    }
    if (len) memcpy(b->p + b->len, data, len);
    b->len += len;
}

/* Adds a frame, with FZ_SPLIT before it unless it is the first. */
static void s_frame(s_buf_t *b, const void *data, size_t len)
{
    if (b->len) s_add(b, FZ_SPLIT, FZ_SPLIT_LEN);
    s_add(b, data, len);
}

static void s_frame_ch(s_buf_t *b, char channel, const void *data, size_t len)
{
    if (b->len) s_add(b, FZ_SPLIT, FZ_SPLIT_LEN);
    s_add(b, &channel, 1);
    s_add(b, data, len);
}

static void s_write(const char *target, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", s_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) FZ_CHECK(0, "cannot make a corpus directory");
    snprintf(path, sizeof(path), "%s/%s/%s", s_root, target, name);
    FILE *f = fopen(path, "wb");
    FZ_CHECK(f && fwrite(data, 1, len, f) == len && fclose(f) == 0, "cannot write a seed");
    printf("%s/%s %zu bytes\n", target, name, len);
}

static void s_write_buf(const char *target, const char *name, s_buf_t *b)
{
    s_write(target, name, b->p, b->len);
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static char *s_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    FZ_CHECK(f != NULL, "cannot read a demo file (run from the repository's top)");
    s_buf_t b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) s_add(&b, chunk, n);
    fclose(f);
    s_add(&b, "", 1);
    *len = b.len - 1;
    return (char *)b.p;
}

/* -------------------------------------------------------------- envelopes -- */

/* The demo messages the seeds are made of: each kind, several members. */
static const struct {
    const char *member, *file;
} s_msgs[] = {
    {"kr-seoul", "seeds/messages/kr-seoul/01-new-year-gathering-2026.json"},
    {"kr-incheon", "seeds/messages/kr-incheon/02-science-leader-call-2026.json"},
    {"kr-busan", "seeds/messages/kr-busan/05-achievement-award-2026-05.json"},
    {"intl-example-sciencepark", "seeds/messages/intl-example-sciencepark/01-korea-europe-cluster-seminar.json"},
    {"kr-daejeon", "seeds/messages/kr-daejeon/01-semiconductor-testbed-call.json"},
};
#define S_NMSGS (sizeof(s_msgs) / sizeof(s_msgs[0]))

#define S_CREATED_US 1767225600000000LL /* 2026-01-01T00:00:00Z */

static void s_id(uint8_t k, uint8_t id[FB_UUID_LEN])
{
    static const uint8_t base[FB_UUID_LEN] = {0x01, 0x9b, 0x76, 0x2a, 0x10, 0x00, 0x70, 0x00,
                                              0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    memcpy(id, base, FB_UUID_LEN);
    id[FB_UUID_LEN - 1] = k;
}

/* Demo message i as the publisher's JSON text (caller frees). */
static char *s_json(size_t i, size_t *len)
{
    return s_read(s_msgs[i].file, len);
}

/* Demo message i as an envelope, as a node stamps it (message_id k,
 * origin_seq seq); stamped 0: as its publisher packed it, nothing added. */
static uint8_t *s_envelope(size_t i, uint8_t k, uint64_t seq, int stamped, size_t *len)
{
    size_t tlen;
    char *text = s_json(i, &tlen);
    json_t *root = json_loadb(text, tlen, JSON_REJECT_DUPLICATES, NULL);
    ProtobufCMessage *pm = NULL;
    char err[256];
    FZ_CHECK(root && fb_json_to_message(root, &fedbus__envelope__descriptor, &pm, err, sizeof(err)) == 0,
             "a demo message does not read");
    Fedbus__Envelope *env = (Fedbus__Envelope *)pm;
    uint8_t id[FB_UUID_LEN];
    s_id(k, id);
    if (stamped) {
        env->message_id.data = malloc(FB_UUID_LEN);
        memcpy(env->message_id.data, id, FB_UUID_LEN);
        env->message_id.len = FB_UUID_LEN;
        env->origin = strdup(s_msgs[i].member);
        env->schema_version = FEDBUS_SCHEMA_VERSION;
        env->created_at_us = S_CREATED_US + k;
        env->origin_seq = seq;
    }
    *len = fedbus__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len);
    fedbus__envelope__pack(env, buf);
    protobuf_c_message_free_unpacked(pm, NULL);
    json_decref(root);
    free(text);
    return buf;
}

/* The same as the broker stores it: its fields appended. */
static uint8_t *s_stored(size_t i, uint8_t k, uint64_t seq, uint64_t global_seq, size_t *len)
{
    uint8_t *env = s_envelope(i, k, seq, 1, len);
    uint8_t stamp[FB_STAMP_MAX];
    size_t n = fb_wire_stamp_stored(global_seq, S_CREATED_US + 1000000, stamp);
    env = realloc(env, *len + n);
    memcpy(env + *len, stamp, n);
    *len += n;
    return env;
}

static const char *s_topic(size_t i)
{
    size_t len;
    uint8_t *env = s_envelope(i, 1, 1, 1, &len);
    fb_envelope_head_t h;
    FZ_CHECK(fb_wire_envelope_scan(env, len, &h) == 0, "bad envelope");
    static char topic[S_NMSGS][FB_TOPIC_MAX + 1];
    snprintf(topic[i], sizeof(topic[i]), "%.*s", (int)h.topic_len, (const char *)h.topic);
    free(env);
    return topic[i];
}

/* --------------------------------------------------------------- frames -- */

static uint8_t *s_pack_node(const Fedbus__NodeMessage *nm, size_t *len)
{
    *len = fedbus__node_message__get_packed_size(nm);
    uint8_t *b = malloc(*len ? *len : 1);
    fedbus__node_message__pack(nm, b);
    return b;
}

static uint8_t *s_hello(const char *origin, size_t *len)
{
    Fedbus__Hello h = FEDBUS__HELLO__INIT;
    h.origin = (char *)origin;
    h.version = "0.1.0";
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HELLO;
    nm.hello = &h;
    return s_pack_node(&nm, len);
}

static uint8_t *s_heartbeat(const char *origin, size_t *len)
{
    Fedbus__Heartbeat hb = FEDBUS__HEARTBEAT__INIT;
    hb.origin = (char *)origin;
    hb.sent_at_us = S_CREATED_US;
    hb.outbox_depth = 2;
    hb.oldest_unconfirmed_us = S_CREATED_US - 5000000;
    hb.last_origin_seq = 7;
    hb.last_global_seq_seen = 40;
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HEARTBEAT;
    nm.heartbeat = &hb;
    return s_pack_node(&nm, len);
}

/* A PublishBatch frame of n envelopes. */
static uint8_t *s_batch(uint8_t *const *envs, const size_t *lens, size_t n, size_t *len)
{
    size_t items = 0;
    for (size_t i = 0; i < n; i++) items += fb_wire_item_size(lens[i]);
    *len = fb_wire_publish_batch_size(items);
    uint8_t *f = malloc(*len), *p = f;
    p += fb_wire_put_publish_batch_header(items, p);
    for (size_t i = 0; i < n; i++) p += fb_wire_put_item(envs[i], lens[i], p);
    return f;
}

static uint8_t *s_ack(uint8_t k, int status, int reason, const char *detail, uint64_t global_seq, size_t *len)
{
    uint8_t id[FB_UUID_LEN];
    s_id(k, id);
    fb_ack_view_t a = {.message_id = k ? id : NULL, .message_id_len = k ? FB_UUID_LEN : 0, .status = status,
                       .global_seq = global_seq, .origin_seq = k, .reason = reason, .detail = detail,
                       .detail_len = detail ? strlen(detail) : 0};
    return fb_wire_ack_frame(&a, len);
}

/* An AckBatch frame accepting ids first..first+n-1 (global_seq from 10). */
static uint8_t *s_ack_batch(uint8_t first, size_t n, size_t *len)
{
    s_buf_t items = {0};
    for (size_t i = 0; i < n; i++) {
        uint8_t id[FB_UUID_LEN], ack[128];
        s_id((uint8_t)(first + i), id);
        fb_ack_view_t a = {.message_id = id, .message_id_len = FB_UUID_LEN,
                           .status = i == 1 ? FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE : FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED,
                           .global_seq = 10 + i, .origin_seq = first + i};
        size_t al = fb_wire_put_ack(&a, ack);
        uint8_t head[16];
        s_add(&items, head, fb_wire_put_item_header(al, head));
        s_add(&items, ack, al);
    }
    *len = fb_wire_ack_batch_size(items.len);
    uint8_t *f = malloc(*len);
    size_t h = fb_wire_put_ack_batch_header(items.len, f);
    memcpy(f + h, items.p, items.len);
    free(items.p);
    return f;
}

static uint8_t *s_welcome(const char *origin, uint64_t last, size_t *len)
{
    Fedbus__Welcome w = FEDBUS__WELCOME__INIT;
    w.origin = (char *)origin;
    w.last_origin_seq = last;
    w.head_global_seq = 40;
    w.max_frame = 1 << 20;
    Fedbus__BrokerMessage bm = FEDBUS__BROKER_MESSAGE__INIT;
    bm.body_case = FEDBUS__BROKER_MESSAGE__BODY_WELCOME;
    bm.welcome = &w;
    *len = fedbus__broker_message__get_packed_size(&bm);
    uint8_t *b = malloc(*len);
    fedbus__broker_message__pack(&bm, b);
    return b;
}

/* ---------------------------------------------------------------- targets -- */

static void s_envelope_seeds(void)
{
    for (size_t i = 0; i < S_NMSGS; i++) {
        char name[64];
        size_t len;
        uint8_t *env = s_envelope(i, (uint8_t)(i + 1), i + 1, 1, &len);
        snprintf(name, sizeof(name), "published-%zu", i + 1);
        s_write("envelope", name, env, len);
        free(env);
    }
    size_t len;
    uint8_t *env = s_stored(1, 2, 2, 17, &len);
    s_write("envelope", "stored-cfp", env, len);
    free(env);
    /* A payload kind this build does not know, beside nothing else. */
    env = s_envelope(0, 9, 9, 1, &len);
    const uint8_t *d;
    uint64_t key, v;
    const uint8_t *p = env, *end = env + len, *start = env;
    while (fb_wire_next_field(&p, end, &key, &v, &d) == 1) /* drop the payload */
        if (!fb_wire_is_payload_tag((uint32_t)(key >> 3))) start = p;
    uint8_t extra[64];
    size_t n = fb_wire_put_unknown_payload("\x0a\x02hi", 4, extra);
    s_buf_t b = {0};
    s_add(&b, env, (size_t)(start - env));
    s_add(&b, extra, n);
    s_write_buf("envelope", "unknown-kind", &b);
    free(env);
}

static void s_json_seeds(void)
{
    for (size_t i = 0; i < S_NMSGS; i++) {
        char name[64];
        size_t len;
        char *text = s_json(i, &len);
        snprintf(name, sizeof(name), "message-%zu.json", i + 1);
        s_write("json", name, text, len);
        free(text);
    }
    static const char full[] =
        "{\"message_id\":\"019b762a-1000-7000-8000-000000000007\",\"origin\":\"kr-seoul\",\"topic\":\"researcher.kr-seoul.award\","
        "\"created_at_us\":1767225600000000,\"schema_version\":1,\"origin_seq\":7,"
        "\"provenance\":{\"prev_hash\":\"00ff\",\"key_id\":\"a1b2c3d4e5f60718\"},"
        "\"researcher\":{\"researcher_id\":\"0000-0002-1825-0097\",\"name\":{\"ko\":\"김\",\"en\":\"Kim\"},"
        "\"kind\":\"award\",\"fields\":[\"bio\",\"ai\"],\"occurred_at\":\"2026-05-01T09:30:00.250+09:00\"}}";
    s_write("json", "every-envelope-field.json", full, sizeof(full) - 1);
}

static void s_http_seeds(void)
{
    size_t len;
    char *text = s_json(0, &len);
    s_write("http_body", "one-object.json", text, len);
    free(text);
    s_buf_t b = {0};
    s_add(&b, "[", 1);
    for (size_t i = 1; i < 4; i++) {
        text = s_json(i, &len);
        if (i > 1) s_add(&b, ",", 1);
        s_add(&b, text, len);
        free(text);
    }
    s_add(&b, "]", 1);
    s_write_buf("http_body", "array-of-three.json", &b);
    static const char bad[] = "[{\"topic\":\"event.kr-seoul.x\"},42,\"text\",{\"message_id\":\"not-a-uuid\"}]";
    s_write("http_body", "array-of-refused.json", bad, sizeof(bad) - 1);
}

/* Publishes of message i as a node sends them: NodeMessage{publish{envelope}}. */
static uint8_t *s_publish(size_t i, uint8_t k, uint64_t seq, size_t *len)
{
    size_t el;
    uint8_t *env = s_envelope(i, k, seq, 1, &el);
    uint8_t *f = fb_wire_publish_wrap(env, el, NULL, 0, len);
    free(env);
    return f;
}

static void s_ingest_seeds(void)
{
    s_buf_t b = {0};
    size_t len;
    uint8_t *f = s_hello("kr-seoul", &len);
    s_write("ingest", "hello", f, len);
    s_frame(&b, f, len);
    free(f);
    f = s_heartbeat("kr-seoul", &len);
    s_write("ingest", "heartbeat", f, len);
    free(f);
    f = s_publish(0, 1, 1, &len);
    s_write("ingest", "publish", f, len);
    s_frame(&b, f, len);
    s_frame(&b, f, len); /* the same again: a duplicate */
    free(f);
    uint8_t *envs[3];
    size_t lens[3];
    for (size_t i = 0; i < 3; i++) envs[i] = s_envelope(i == 1 ? 0 : i, (uint8_t)(i + 2), i + 2, 1, &lens[i]);
    f = s_batch(envs, lens, 3, &len);
    s_write("ingest", "publish-batch", f, len);
    s_frame(&b, f, len);
    free(f);
    for (size_t i = 0; i < 3; i++) free(envs[i]);
    f = s_heartbeat("kr-seoul", &len);
    s_frame(&b, f, len);
    free(f);
    s_write_buf("ingest", "session", &b);
    /* A resend under a new origin_seq, and an older origin_seq. */
    f = s_publish(0, 1, 1, &len);
    s_frame(&b, f, len);
    free(f);
    f = s_publish(0, 1, 5, &len);
    s_frame(&b, f, len);
    free(f);
    f = s_publish(2, 3, 3, &len);
    s_frame(&b, f, len);
    free(f);
    f = s_hello("kr-seoul", &len);
    s_frame(&b, f, len);
    free(f);
    s_write_buf("ingest", "resend-and-stale", &b);
}

static void s_replay_request_seeds(void)
{
    const char *prefixes[] = {"event.kr-seoul", "cfp."};
    Fedbus__ReplayRequest r = FEDBUS__REPLAY_REQUEST__INIT;
    r.request_id = 77;
    r.from_seq = 1;
    r.since_us = S_CREATED_US;
    r.limit = 100;
    r.n_prefixes = 2;
    r.prefixes = (char **)prefixes;
    size_t len = fedbus__replay_request__get_packed_size(&r);
    uint8_t *a = malloc(len);
    fedbus__replay_request__pack(&r, a);
    s_write("replay_request", "prefixes", a, len);
    Fedbus__ReplayRequest all = FEDBUS__REPLAY_REQUEST__INIT;
    all.request_id = 78;
    size_t alen = fedbus__replay_request__get_packed_size(&all);
    uint8_t *b = malloc(alen ? alen : 1);
    fedbus__replay_request__pack(&all, b);
    s_buf_t many = {0};
    for (int i = 0; i < 6; i++) s_frame(&many, i % 2 ? a : b, i % 2 ? len : alen);
    s_write_buf("replay_request", "six-at-once", &many);
    free(a);
    free(b);
    /* A subscriber's look-ups: one seal by origin_seq (with its global_seq
     * hint), and the member directory. */
    Fedbus__ReplayRequest seal = FEDBUS__REPLAY_REQUEST__INIT;
    seal.request_id = 79;
    seal.seal_origin = "kr-seoul";
    seal.seal_origin_seq = 12;
    seal.seal_global_seq = 340;
    size_t slen = fedbus__replay_request__get_packed_size(&seal);
    uint8_t *c = malloc(slen);
    fedbus__replay_request__pack(&seal, c);
    s_write("replay_request", "seal-look-up", c, slen);
    Fedbus__ReplayRequest dir = FEDBUS__REPLAY_REQUEST__INIT;
    dir.request_id = 80;
    dir.directory = 1;
    size_t dlen = fedbus__replay_request__get_packed_size(&dir);
    uint8_t *d = malloc(dlen);
    fedbus__replay_request__pack(&dir, d);
    s_write("replay_request", "directory", d, dlen);
    free(c);
    free(d);
}

static void s_subscriber_seeds(void)
{
    s_buf_t b = {0};
    /* Plain frames: topic, NUL, stored envelope. */
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        uint8_t *env = s_stored(i, (uint8_t)(i + 1), 1, 10 + i, &len);
        const char *topic = s_topic(i);
        s_buf_t fr = {0};
        s_add(&fr, topic, strlen(topic) + 1);
        s_add(&fr, env, len);
        s_frame_ch(&b, 'F', fr.p, fr.len);
        free(fr.p);
        free(env);
    }
    s_write_buf("subscriber", "plain-frames", &b);
    /* A batched frame of one topic; a head frame above it: a gap, repaired
     * from replay. */
    s_buf_t fr = {0};
    const char mark = FB_FEED_MARK;
    const char *topic = s_topic(0);
    s_add(&fr, &mark, 1);
    s_add(&fr, topic, strlen(topic) + 1);
    for (int k = 0; k < 2; k++) {
        size_t len;
        uint8_t *env = s_stored(0, (uint8_t)(20 + k), 20 + k, 20 + k, &len), head[16];
        s_add(&fr, head, fb_wire_put_item_header(len, head));
        s_add(&fr, env, len);
        free(env);
    }
    s_frame_ch(&b, 'S', "event", 5);
    s_frame_ch(&b, 'F', fr.p, fr.len);
    free(fr.p);
    uint8_t head[FB_WIRE_FEED_HEAD_MAX];
    s_frame_ch(&b, 'F', head, fb_wire_put_feed_head(30, head));
    size_t len;
    uint8_t *env = s_stored(0, 25, 25, 25, &len);
    ProtobufCBinaryData bin = {len, env};
    Fedbus__ReplayChunk ch = FEDBUS__REPLAY_CHUNK__INIT;
    ch.n_envelopes = 1;
    ch.envelopes = &bin;
    ch.head_seq = 30;
    size_t clen = fedbus__replay_chunk__get_packed_size(&ch);
    uint8_t *c = malloc(clen);
    fedbus__replay_chunk__pack(&ch, c);
    s_frame_ch(&b, 'R', c, clen);
    s_write_buf("subscriber", "batched-head-repair", &b);
    /* A catch-up from 1 out of replay, then live. */
    s_frame_ch(&b, 'C', "1", 1);
    s_frame_ch(&b, 'S', "*.kr-seoul", 10);
    s_frame_ch(&b, 'R', c, clen);
    s_frame_ch(&b, 'F', head, fb_wire_put_feed_head(25, head));
    s_write_buf("subscriber", "catch-up", &b);
    free(c);
    free(env);
    /* A live subscriber verifying through replay: a seal frame over three
     * envelopes of one origin (its signature made up: it fails, and each
     * message is looked up on replay), then their plain frames. */
    fb_seal_t seal = {.first_seq = 40, .last_seq = 42, .signed_at_us = S_CREATED_US};
    uint8_t entries[3][FB_SHA256_LEN];
    for (size_t k = 0; k < 3; k++) {
        size_t elen;
        uint8_t *e = s_envelope(0, (uint8_t)(40 + k), 40 + k, 1, &elen);
        fb_seal_entry_hash(e, elen, entries[k]);
        free(e);
    }
    snprintf(seal.origin, sizeof(seal.origin), "%s", s_msgs[0].member);
    fb_seal_root((const uint8_t(*)[FB_SHA256_LEN])entries, 3, seal.root);
    size_t slen = fb_wire_feed_seal_size(&seal, 3);
    uint8_t *sf = malloc(slen);
    fb_wire_put_feed_seal(&seal, (const uint8_t(*)[FB_SHA256_LEN])entries, 3, sf);
    s_frame_ch(&b, 'V', "", 0);
    s_frame_ch(&b, 'F', sf, slen);
    for (size_t k = 0; k < 3; k++) {
        uint8_t *e = s_stored(0, (uint8_t)(40 + k), 40 + k, 140 + k, &len);
        s_buf_t pf = {0};
        s_add(&pf, topic, strlen(topic) + 1);
        s_add(&pf, e, len);
        s_frame_ch(&b, 'F', pf.p, pf.len);
        free(pf.p);
        free(e);
    }
    s_write_buf("subscriber", "feed-seals", &b);
    free(sf);
}

static void s_publisher_seeds(void)
{
    s_buf_t b = {0};
    size_t len;
    uint8_t *f = s_ack_batch(1, 2, &len);
    s_frame(&b, f, len);
    free(f);
    f = s_ack(3, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED, 0, NULL, 12, &len);
    s_frame(&b, f, len);
    free(f);
    s_write_buf("publisher", "acks", &b);
    f = s_ack(1, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED, FEDBUS__REJECT_REASON__REJECT_BAD_TOPIC,
              "topic does not start with a known kind (event, cfp, researcher)", 0, &len);
    s_frame(&b, f, len);
    free(f);
    f = s_ack(0, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED, FEDBUS__REJECT_REASON__REJECT_MALFORMED,
              "frame is not a decodable NodeMessage", 0, &len);
    s_frame(&b, f, len);
    free(f);
    f = s_welcome("kr-seoul", 3, &len);
    s_frame(&b, f, len);
    free(f);
    s_write_buf("publisher", "rejects-and-others", &b);
}

static void s_node_submit_seeds(void)
{
    s_buf_t b = {0};
    size_t len, el;
    /* As `fedbus publish` sends them: no origin, id or sequence yet. */
    uint8_t *env = s_envelope(0, 1, 0, 0, &el);
    uint8_t *f = fb_wire_publish_wrap(env, el, NULL, 0, &len);
    s_write("node_submit", "publish", f, len);
    s_frame(&b, f, len);
    free(f);
    uint8_t *envs[2] = {env, s_envelope(3, 2, 0, 0, &len)};
    size_t lens[2] = {el, len};
    f = s_batch(envs, lens, 2, &len);
    s_frame(&b, f, len);
    free(f);
    free(envs[1]);
    free(env);
    f = s_hello("kr-seoul", &len);
    s_frame(&b, f, len);
    free(f);
    s_write_buf("node_submit", "publish-batch-hello", &b);
    /* The node's own origin and a message_id given: kept. */
    env = s_envelope(0, 4, 0, 1, &el);
    f = fb_wire_publish_wrap(env, el, NULL, 0, &len);
    s_write("node_submit", "with-id", f, len);
    free(f);
    free(env);
}

static void s_node_session_seeds(void)
{
    s_buf_t b = {0};
    size_t len;
    uint8_t *f = s_welcome("kr-seoul", 0, &len);
    s_write("node_session", "welcome", f, len);
    s_frame(&b, f, len);
    free(f);
    f = s_ack(1, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED, 0, NULL, 10, &len);
    s_frame(&b, f, len);
    free(f);
    f = s_ack(2, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED, FEDBUS__REJECT_REASON__REJECT_NAMESPACE,
              "topic is outside the namespace of origin 'kr-seoul'", 0, &len);
    s_frame(&b, f, len);
    free(f);
    f = s_ack_batch(3, 2, &len);
    s_frame(&b, f, len);
    free(f);
    s_write_buf("node_session", "welcome-and-acks", &b);
    f = s_welcome("kr-seoul", 100, &len); /* the broker is ahead: renumbered */
    s_frame(&b, f, len);
    free(f);
    f = s_ack(1, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED, FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE,
              "store unavailable: retry", 0, &len);
    s_frame(&b, f, len);
    free(f);
    s_write_buf("node_session", "welcome-ahead", &b);
}

static void s_config_seeds(void)
{
    size_t len;
    char *text = s_read("ops/examples/broker.ini", &len);
    s_write("config", "broker.ini", text, len);
    free(text);
    text = s_read("ops/examples/node-kr-incheon.ini", &len);
    s_write("config", "node-kr-incheon.ini", text, len);
    free(text);
    static const char small[] = "# both\n[broker]\nmax-frame = 65536\nlog-level = debug\n[node]\nmember = kr-seoul\n"
                                "outbox = memory\nheartbeat-ms = 1000\n";
    s_write("config", "small.ini", small, sizeof(small) - 1);
}

static void s_key_seeds(void)
{
    fb_keys_t k;
    memset(&k, 0, sizeof(k));
    snprintf(k.member, sizeof(k.member), "kr-seoul");
    for (size_t i = 0; i < sizeof(k.curve_secret); i++) k.curve_secret[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof(k.sign_secret); i++) k.sign_secret[i] = (uint8_t)(i * 11 + 3);
    char z_sec[FB_CURVE_Z85_LEN + 1], z_pub[FB_CURVE_Z85_LEN + 1];
    fb_keys_z85(k.curve_secret, z_sec);
    FZ_CHECK(zmq_curve_public(z_pub, z_sec) == 0 && fb_keys_z85_parse(z_pub, k.curve_public) == 0 &&
                 fb_ed25519_public(k.sign_secret, k.sign_public) == 0,
             "cannot make the seed keys");
    fb_keys_id(k.sign_public, k.sign_key_id);
    k.created_us = S_CREATED_US;
    k.has_secret = true;
    char sec[1024], pub[1024], err[256];
    snprintf(sec, sizeof(sec), "%s/kr-seoul.key", fz_scratch());
    snprintf(pub, sizeof(pub), "%s/kr-seoul.pub", fz_scratch());
    FZ_CHECK(fb_keys_write(&k, sec, pub, true, err, sizeof(err)) == 0, "cannot write the seed keys");
    size_t len;
    char *text = s_read(sec, &len);
    s_write("keys", "kr-seoul.key", text, len);
    free(text);
    text = s_read(pub, &len);
    s_write("keys", "kr-seoul.pub", text, len);
    free(text);
}

/* Appends segment file path of the journal's directory to b as one frame. */
static void s_segment(s_buf_t *b, const char *dir, const char *name, int fix_mark, size_t cut)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    size_t len;
    char *text = s_read(path, &len);
    if (cut && cut < len) len -= cut;
    if (fix_mark) s_frame_ch(b, 'X', text, len);
    else s_frame(b, text, len);
    free(text);
}

static void s_journal_seeds(void)
{
    char dir[1024], err[256];
    snprintf(dir, sizeof(dir), "%s/journal", fz_scratch());
    fb_outbox_opts_t o = {.max_entries = 64, .dir = dir};
    fb_outbox_t *ob = fb_outbox_open(&o, err, sizeof(err));
    FZ_CHECK(ob != NULL, err);
    /* Three publishes, numbered again by a first Welcome (a SEQ record),
     * the first answered (a CONFIRM record). */
    for (uint8_t k = 1; k <= 3; k++) {
        size_t len;
        uint8_t id[FB_UUID_LEN];
        s_id(k, id);
        fb_outbox_add_t add = {.id = id, .origin_seq = fb_outbox_next_seq(ob), .created_at_us = S_CREATED_US + k};
        add.frame = s_publish(0, k, add.origin_seq, &len);
        add.frame_len = len;
        FZ_CHECK(fb_outbox_append(ob, &add) == FB_OK, "cannot append");
    }
    FZ_CHECK(fb_outbox_sync(ob) == FB_OK, "cannot sync");
    fb_outbox_raise_seq(ob, 5);
    FZ_CHECK(fb_outbox_sync(ob) == FB_OK, "cannot sync");
    fb_outbox_answer_seq(ob, fb_outbox_first_seq(ob));
    fb_outbox_trim(ob);
    fb_outbox_destroy(&ob);
    /* Reopened: a second segment begins. */
    ob = fb_outbox_open(&o, err, sizeof(err));
    FZ_CHECK(ob != NULL, err);
    fb_outbox_destroy(&ob);
    s_buf_t b = {0};
    s_segment(&b, dir, "seg-0000000000000001.journal", 0, 0);
    s_write_buf("journal", "one-segment", &b);
    s_segment(&b, dir, "seg-0000000000000001.journal", 0, 0);
    s_segment(&b, dir, "seg-0000000000000002.journal", 0, 0);
    s_write_buf("journal", "two-segments", &b);
    s_segment(&b, dir, "seg-0000000000000001.journal", 0, 7);
    s_write_buf("journal", "torn-tail", &b);
    s_segment(&b, dir, "seg-0000000000000001.journal", 1, 0);
    s_write_buf("journal", "checksums-set", &b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS-DIR  (from the repository's top)\n", argv[0]);
        return 2;
    }
    s_root = argv[1];
    fz_quiet();
    s_envelope_seeds();
    s_json_seeds();
    s_http_seeds();
    s_ingest_seeds();
    s_replay_request_seeds();
    s_subscriber_seeds();
    s_publisher_seeds();
    s_node_submit_seeds();
    s_node_session_seeds();
    s_config_seeds();
    s_key_seeds();
    s_journal_seeds();
    return 0;
}
