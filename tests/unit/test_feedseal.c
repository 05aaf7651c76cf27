/* test_feedseal.c — seal frames from the feed: they decode as the broker writes them, bad ones (truncated, a
 * field of the wrong size, too many entries, no seal, more entries than origin_seqs) are refused and counted, the
 * cache keeps at most its count and bytes, a message is verified from a seal frame without any look-up, and a
 * forged or altered seal frame neither verifies a forged message nor fails a good one. */
#include "fb_arena.h"
#include "fb_client_int.h"
#include "fb_crypto.h"
#include "fb_feedseal.h"
#include "fb_keys.h"
#include "fb_seal.h"
#include "fb_wire.h"
#include "fedbus.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define S_N 4
#define S_T0 1760000000000000LL

static uint8_t s_pub[32], s_sec[32], s_kid[8], s_pub2[32], s_sec2[32], s_kid2[8];
static uint8_t s_env[S_N][256];
static size_t s_len[S_N];
static uint8_t s_entries[S_N][32];

/* Envelope i of kr-seoul at origin_seq 10 + i, stamped as global_seq 100 + i; title is its payload text. */
static void s_make(int i, const char *title)
{
    Fedbus__Envelope e = FEDBUS__ENVELOPE__INIT;
    uint8_t id[16] = {1, 2, 3, (uint8_t)i};
    e.message_id = (ProtobufCBinaryData){16, id};
    e.origin = "kr-seoul";
    e.topic = "event.kr-seoul.forum";
    e.origin_seq = 10 + (uint64_t)i;
    e.schema_version = (uint32_t)strlen(title); /* a field the edit changes */
    size_t n = fedbus__envelope__pack(&e, s_env[i]);
    fb_seal_entry_hash(s_env[i], n, s_entries[i]);
    n += fb_wire_stamp_stored(100 + (uint64_t)i, S_T0 + i, s_env[i] + n);
    s_len[i] = n;
}

static void s_seal(fb_seal_t *s, const uint8_t *kid, const uint8_t *sec)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->origin, sizeof(s->origin), "kr-seoul");
    s->first_seq = 10;
    s->last_seq = 10 + S_N - 1;
    fb_seal_root((const uint8_t(*)[32])s_entries, S_N, s->root);
    memcpy(s->key_id, kid, 8);
    s->signed_at_us = S_T0;
    assert_int_equal(fb_seal_sign(s, sec), 0);
}

/* The seal frame of s over the S_N entries (caller frees). */
static uint8_t *s_frame(const fb_seal_t *s, size_t *len)
{
    *len = fb_wire_feed_seal_size(s, S_N);
    uint8_t *f = malloc(*len);
    assert_non_null(f);
    assert_int_equal(fb_wire_put_feed_seal(s, (const uint8_t(*)[32])s_entries, S_N, f), *len);
    return f;
}

static int s_setup(void **state)
{
    (void)state;
    fb_ed25519_keypair(s_pub, s_sec);
    fb_keys_id(s_pub, s_kid);
    fb_ed25519_keypair(s_pub2, s_sec2);
    fb_keys_id(s_pub2, s_kid2);
    for (int i = 0; i < S_N; i++) s_make(i, "forum");
    return 0;
}

typedef struct {
    int calls;
    fb_seal_t seal;
    uint8_t entries[S_N][32];
    size_t n;
} s_got_t;

static void s_got(void *arg, const fb_seal_t *seal, const uint8_t (*entries)[FB_SHA256_LEN], size_t n)
{
    s_got_t *g = arg;
    g->calls++;
    g->seal = *seal;
    g->n = n;
    if (n <= S_N) memcpy(g->entries, entries, n * 32);
}

static void test_a_seal_frame_decodes_as_the_broker_writes_it(void **state)
{
    (void)state;
    fb_seal_t s;
    s_seal(&s, s_kid, s_sec);
    size_t len;
    uint8_t *f = s_frame(&s, &len);
    assert_int_equal(f[0], FB_WIRE_FEED_SEAL_MARK);
    assert_int_equal(f[1], 0);
    /* The body is a SealProof, as replay's proofs are. */
    Fedbus__SealProof *p = fedbus__seal_proof__unpack(NULL, len - 2, f + 2);
    assert_non_null(p);
    assert_int_equal(p->n_entries, S_N);
    assert_string_equal(p->seal->origin, "kr-seoul");
    assert_memory_equal(p->entries[2].data, s_entries[2], 32);
    fedbus__seal_proof__free_unpacked(p, NULL);
    fb_feedseal_t *fs = fb_feedseal_new();
    assert_int_equal(fb_feedseal_add(fs, f, len), 1);
    s_got_t g = {0};
    assert_int_equal(fb_feedseal_take(fs, "kr-seoul", 8, 9, s_got, &g), 0);  /* below its range */
    assert_int_equal(fb_feedseal_take(fs, "kr-busan", 8, 11, s_got, &g), 0); /* another origin */
    assert_int_equal(fb_feedseal_take(fs, "kr-seoul", 8, 11, s_got, &g), 1);
    assert_int_equal(g.n, S_N);
    assert_memory_equal(&g.seal, &s, sizeof(s));
    assert_memory_equal(g.entries, s_entries, sizeof(s_entries));
    assert_int_equal(fb_feedseal_take(fs, "kr-seoul", 8, 11, s_got, &g), 0); /* handed over once */
    assert_int_equal(fb_feedseal_count(fs, NULL), 0);
    /* Not a seal frame: a head frame, a topic. */
    uint8_t head[FB_WIRE_FEED_HEAD_MAX];
    assert_int_equal(fb_feedseal_add(fs, head, fb_wire_put_feed_head(7, head)), 0);
    assert_int_equal(fb_feedseal_add(fs, (const uint8_t *)"event.x\0", 8), 0);
    fb_feedseal_destroy(&fs);
    fb_feedseal_destroy(&fs);
    free(f);
}

/* Adds frame to a fresh cache: its answer, with bad counted when -1. */
static int s_add_one(const uint8_t *f, size_t len)
{
    fb_feedseal_t *fs = fb_feedseal_new();
    int rc = fb_feedseal_add(fs, f, len);
    fb_feedseal_stats_t st;
    fb_feedseal_get_stats(fs, &st);
    assert_int_equal(st.bad, rc < 0 ? 1 : 0);
    assert_int_equal(fb_feedseal_count(fs, NULL), rc == 1 ? 1 : 0);
    fb_feedseal_destroy(&fs);
    return rc;
}

static void test_bad_seal_frames_are_refused_and_counted(void **state)
{
    (void)state;
    fb_seal_t s;
    s_seal(&s, s_kid, s_sec);
    size_t len;
    uint8_t *f = s_frame(&s, &len);
    /* Every truncation is refused, but one that ends between whole entries (1 to 3 of the 4: still well formed). */
    for (size_t cut = 2; cut < len; cut++) {
        int rc = s_add_one(f, cut);
        if ((len - cut) % 34 == 0 && len - cut < S_N * 34) assert_int_equal(rc, 1);
        else assert_int_equal(rc, -1);
    }
    assert_int_equal(s_add_one(f, 1), 0);
    /* An entry of 31 bytes: the last entry's length byte. */
    uint8_t *g = malloc(len);
    memcpy(g, f, len);
    g[len - 33] = 31;
    assert_int_equal(s_add_one(g, len - 1), -1);
    /* A root of 31 bytes. */
    fb_seal_t bad = s;
    Fedbus__Seal ps = FEDBUS__SEAL__INIT;
    ps.origin = bad.origin;
    ps.first_seq = 10, ps.last_seq = 13;
    ps.root = (ProtobufCBinaryData){31, bad.root};
    ps.key_id = (ProtobufCBinaryData){8, bad.key_id};
    ps.signature = (ProtobufCBinaryData){64, bad.signature};
    ProtobufCBinaryData ents[S_N];
    for (int i = 0; i < S_N; i++) ents[i] = (ProtobufCBinaryData){32, s_entries[i]};
    Fedbus__SealProof pp = FEDBUS__SEAL_PROOF__INIT;
    pp.seal = &ps;
    pp.n_entries = S_N;
    pp.entries = ents;
    uint8_t buf[4096] = {FB_WIRE_FEED_SEAL_MARK, 0};
    size_t n = fedbus__seal_proof__pack(&pp, buf + 2);
    assert_int_equal(s_add_one(buf, n + 2), -1);
    ps.root.len = 32;
    n = fedbus__seal_proof__pack(&pp, buf + 2);
    assert_int_equal(s_add_one(buf, n + 2), 1); /* the same, well formed */
    /* More entries than origin_seqs, first_seq 0, first above last. */
    ps.last_seq = 12;
    n = fedbus__seal_proof__pack(&pp, buf + 2);
    assert_int_equal(s_add_one(buf, n + 2), -1);
    ps.first_seq = 0, ps.last_seq = 13;
    n = fedbus__seal_proof__pack(&pp, buf + 2);
    assert_int_equal(s_add_one(buf, n + 2), -1);
    ps.first_seq = 14;
    n = fedbus__seal_proof__pack(&pp, buf + 2);
    assert_int_equal(s_add_one(buf, n + 2), -1);
    /* No seal; no entries. */
    ps.first_seq = 10;
    pp.seal = NULL;
    n = fedbus__seal_proof__pack(&pp, buf + 2);
    assert_int_equal(s_add_one(buf, n + 2), -1);
    pp.seal = &ps;
    pp.n_entries = 0;
    n = fedbus__seal_proof__pack(&pp, buf + 2);
    assert_int_equal(s_add_one(buf, n + 2), -1);
    /* A huge count: more entries than a frame may hold, and a length past the frame's end. */
    size_t many = FB_WIRE_FEED_SEAL_ENTRIES_MAX + 1;
    uint8_t *big = malloc(2 + 200 + many * 34);
    memcpy(big, f, len - S_N * 34);
    size_t k = len - S_N * 34;
    for (size_t i = 0; i < many; i++) k += fb_wire_put_bytes(2, s_entries[0], 32, big + k);
    assert_int_equal(s_add_one(big, k), -1);
    memcpy(g, f, len);
    g[len - 33] = 0x7f; /* an entry's length beyond the frame */
    assert_int_equal(s_add_one(g, len), -1);
    free(big);
    free(g);
    free(f);
}

static void test_the_cache_keeps_at_most_its_count_and_bytes(void **state)
{
    (void)state;
    fb_feedseal_t *fs = fb_feedseal_new();
    fb_seal_t s;
    s_seal(&s, s_kid, s_sec);
    /* Small seals: the count bounds. */
    for (int i = 0; i < FB_FEEDSEAL_MAX + 10; i++) {
        s.first_seq = 1000 + (uint64_t)i * S_N;
        s.last_seq = s.first_seq + S_N - 1;
        size_t len;
        uint8_t *f = s_frame(&s, &len);
        assert_int_equal(fb_feedseal_add(fs, f, len), 1);
        free(f);
    }
    size_t bytes;
    assert_int_equal(fb_feedseal_count(fs, &bytes), FB_FEEDSEAL_MAX);
    assert_int_equal(bytes, FB_FEEDSEAL_MAX * S_N * 32);
    fb_feedseal_stats_t st;
    fb_feedseal_get_stats(fs, &st);
    assert_int_equal(st.evicted, 10);
    /* The oldest went: the first ten ranges are gone, the eleventh is kept. */
    s_got_t g = {0};
    assert_int_equal(fb_feedseal_take(fs, "kr-seoul", 8, 1000, s_got, &g), 0);
    assert_int_equal(fb_feedseal_take(fs, "kr-seoul", 8, 1000 + 10 * S_N, s_got, &g), 1);
    /* Large seals (1024 entries, 32 KiB each): the bytes bound. */
    size_t n = FB_WIRE_FEED_SEAL_ENTRIES_MAX;
    uint8_t(*e)[32] = calloc(n, 32);
    for (int i = 0; i < 300; i++) {
        s.first_seq = 100000 + (uint64_t)i * n;
        s.last_seq = s.first_seq + n - 1;
        size_t len = fb_wire_feed_seal_size(&s, n);
        uint8_t *f = malloc(len);
        fb_wire_put_feed_seal(&s, (const uint8_t(*)[32])e, n, f);
        assert_int_equal(fb_feedseal_add(fs, f, len), 1);
        free(f);
        fb_feedseal_count(fs, &bytes);
        assert_true(bytes <= FB_FEEDSEAL_BYTES);
    }
    assert_int_equal(fb_feedseal_count(fs, &bytes), FB_FEEDSEAL_BYTES / (n * 32));
    free(e);
    fb_feedseal_destroy(&fs);
}

/* A subverify with kr-seoul's key pinned (no replay: nothing is fetched). */
static fb_subverify_t *s_subverify(void)
{
    fb_subverify_t *sv = fb_subverify_new(NULL);
    assert_non_null(sv);
    fb_signing_key_t k = {.member = "kr-seoul", .valid_from_us = 0, .valid_until_us = 0};
    memcpy(k.key_id, s_kid, 8);
    memcpy(k.public_key, s_pub, 32);
    assert_int_equal(fb_subverify_pin(sv, &k, 1), FB_OK);
    return sv;
}

/* The verdict on envelope bytes env as a delivered message. */
static int s_verdict(fb_subverify_t *sv, const uint8_t *env, size_t len)
{
    fb_arena_t *a = fb_arena_new(4096, 4096);
    fb_message_t m;
    assert_int_equal(fb_message_fill(a, &m, env, len), 0);
    int v = fb_subverify_check(sv, &m, 0);
    fb_arena_destroy(&a);
    return v;
}

static void test_a_message_verifies_from_its_seal_frame_without_a_look_up(void **state)
{
    (void)state;
    fb_subverify_t *sv = s_subverify();
    assert_int_equal(s_verdict(sv, s_env[1], s_len[1]), FB_MSG_UNSIGNED); /* no seal yet */
    fb_seal_t s;
    s_seal(&s, s_kid, s_sec);
    size_t len;
    uint8_t *f = s_frame(&s, &len);
    assert_int_equal(fb_subverify_feed_seal(sv, f, len), 1);
    for (int i = 0; i < S_N; i++) assert_int_equal(s_verdict(sv, s_env[i], s_len[i]), FB_MSG_VERIFIED);
    fb_subverify_stats_t st;
    fb_subverify_get_stats(sv, &st);
    assert_int_equal(st.lookups, 0);
    assert_int_equal(st.feed_seals, 1);
    assert_int_equal(st.feed_bad, 0);
    free(f);
    fb_subverify_destroy(&sv);
}

static void test_a_forged_seal_frame_neither_verifies_a_forged_message_nor_fails_a_good_one(void **state)
{
    (void)state;
    fb_subverify_t *sv = s_subverify();
    /* A forged message: envelope 2 edited, and a seal over its new hash signed with a key not kr-seoul's. */
    uint8_t good_entry[32];
    memcpy(good_entry, s_entries[2], 32);
    s_make(2, "forged title");
    fb_seal_t forged;
    s_seal(&forged, s_kid2, s_sec2);
    size_t len;
    uint8_t *f = s_frame(&forged, &len);
    assert_int_equal(fb_subverify_feed_seal(sv, f, len), 1);
    assert_int_not_equal(s_verdict(sv, s_env[2], s_len[2]), FB_MSG_VERIFIED);
    free(f);
    /* The same seal claiming kr-seoul's key: the signature does not verify. */
    memcpy(forged.key_id, s_kid, 8);
    f = s_frame(&forged, &len);
    assert_int_equal(fb_subverify_feed_seal(sv, f, len), 1);
    assert_int_not_equal(s_verdict(sv, s_env[2], s_len[2]), FB_MSG_VERIFIED);
    free(f);
    /* A good seal with one entry altered: its root no longer matches. */
    s_make(2, "forum");
    assert_memory_equal(s_entries[2], good_entry, 32);
    fb_seal_t good;
    s_seal(&good, s_kid, s_sec);
    s_entries[3][0] ^= 1;
    f = s_frame(&good, &len);
    s_entries[3][0] ^= 1;
    assert_int_equal(fb_subverify_feed_seal(sv, f, len), 1);
    assert_int_not_equal(s_verdict(sv, s_env[3], s_len[3]), FB_MSG_VERIFIED);
    free(f);
    fb_subverify_stats_t st;
    fb_subverify_get_stats(sv, &st);
    assert_int_equal(st.feed_bad, 3); /* each counted, none kept */
    /* None of them was kept failing: the good seal, when it comes, verifies the good messages. */
    f = s_frame(&good, &len);
    assert_int_equal(fb_subverify_feed_seal(sv, f, len), 1);
    for (int i = 0; i < S_N; i++) assert_int_equal(s_verdict(sv, s_env[i], s_len[i]), FB_MSG_VERIFIED);
    /* And a forged message under a good seal fails. */
    s_make(1, "edited");
    assert_int_equal(s_verdict(sv, s_env[1], s_len[1]), FB_MSG_FAILED);
    s_make(1, "forum");
    /* A frame that does not decode is counted and ignored. */
    assert_int_equal(fb_subverify_feed_seal(sv, f, len - 5), -1);
    fb_subverify_get_stats(sv, &st);
    assert_int_equal(st.feed_bad, 4);
    assert_int_equal(st.feed_seals, 4);
    free(f);
    fb_subverify_destroy(&sv);
}

/* fb_feedseal_own_fn: keeps (frees at once) what it is handed when arg says so. */
static int s_own(void *arg, const fb_seal_t *seal, uint8_t (*entries)[FB_SHA256_LEN], size_t n)
{
    int *keep = arg;
    (void)seal;
    assert_int_equal(n, S_N);
    assert_memory_equal(entries[2], s_entries[2], 32);
    if (*keep) free(entries);
    return *keep;
}

/* A seal handed over with its entries (not a copy) lives on in the verifier after the cache forgot it and reused
 * its room: the frame's other messages still verify, an edited one still fails. */
static void test_a_seal_handed_over_outlives_the_cache(void **state)
{
    (void)state;
    fb_seal_t s;
    s_seal(&s, s_kid, s_sec);
    size_t len;
    uint8_t *f = s_frame(&s, &len);
    /* Handed over and kept, or handed over and left to the cache: either way it is gone from the cache. */
    fb_feedseal_t *fs = fb_feedseal_new();
    assert_non_null(fs);
    for (int keep = 0; keep < 2; keep++) {
        assert_int_equal(fb_feedseal_add(fs, f, len), 1);
        assert_int_equal(fb_feedseal_take_own(fs, "kr-seoul", 8, 11, s_own, &keep), 1);
        assert_int_equal(fb_feedseal_count(fs, NULL), 0);
    }
    fb_feedseal_destroy(&fs);
    fb_subverify_t *sv = s_subverify();
    assert_int_equal(fb_subverify_feed_seal(sv, f, len), 1);
    assert_int_equal(s_verdict(sv, s_env[0], s_len[0]), FB_MSG_VERIFIED);
    /* More frames than the cache holds: it drops and reuses room (copies of the same seal stay unused: the
     * verifier answers from the seal it keeps). */
    for (int i = 0; i < FB_FEEDSEAL_MAX + 10; i++) fb_subverify_feed_seal(sv, f, len);
    for (int i = 1; i < S_N; i++) assert_int_equal(s_verdict(sv, s_env[i], s_len[i]), FB_MSG_VERIFIED);
    s_make(3, "edited");
    assert_int_equal(s_verdict(sv, s_env[3], s_len[3]), FB_MSG_FAILED);
    s_make(3, "forum");
    assert_int_equal(s_verdict(sv, s_env[3], s_len[3]), FB_MSG_VERIFIED);
    free(f);
    fb_subverify_destroy(&sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_seal_frame_decodes_as_the_broker_writes_it),
        cmocka_unit_test(test_bad_seal_frames_are_refused_and_counted),
        cmocka_unit_test(test_the_cache_keeps_at_most_its_count_and_bytes),
        cmocka_unit_test(test_a_message_verifies_from_its_seal_frame_without_a_look_up),
        cmocka_unit_test(test_a_forged_seal_frame_neither_verifies_a_forged_message_nor_fails_a_good_one),
        cmocka_unit_test(test_a_seal_handed_over_outlives_the_cache),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
