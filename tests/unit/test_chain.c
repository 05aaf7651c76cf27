/* test_chain.c — the node's chain: each publish linked to the one before, re-linked past the broker's head, sealed. */
#include "fb_chain.h"

#include "fb_keys.h"
#include "fb_outbox.h"
#include "fb_seal.h"
#include "fb_wire.h"
#include "fedbus/fedbus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef struct {
    fb_outbox_t *ob;
    fb_chain_t *chain;
    fb_keys_t keys;
} s_t;

static int s_setup(void **state)
{
    s_t *t = calloc(1, sizeof(*t));
    char err[128];
    if (!t || fb_keys_generate("kr-busan", &t->keys, err, sizeof(err)) != 0) return -1;
    t->ob = fb_outbox_new(64);
    t->chain = fb_chain_new(&t->keys, t->ob);
    *state = t;
    return t->ob && t->chain ? 0 : -1;
}

static int s_teardown(void **state)
{
    s_t *t = *state;
    fb_chain_destroy(&t->chain);
    fb_outbox_destroy(&t->ob);
    free(t);
    return 0;
}

/* Appends publish k as the node does: the envelope's own bytes (a topic),
 * then the node's stamp with prev_hash and the next origin_seq. */
static fb_outbox_entry_t *s_publish(s_t *t, int k)
{
    uint8_t env[64], tail[FB_ORIGIN_STAMP_MAX], id[FB_UUID_LEN];
    size_t n = fb_wire_put_bytes(3, "event.kr-busan.forum", 20, env); /* topic */
    env[n++] = 0x20, env[n++] = (uint8_t)k;                            /* created_at_us = k */
    uint64_t seq = fb_outbox_next_seq(t->ob);
    fb_wire_origin_stamp_t st = {.origin_seq = seq};
    fb_chain_stamp(t->chain, &st);
    size_t tl = fb_wire_stamp_origin(&st, tail), flen;
    uint8_t *frame = fb_wire_publish_wrap(env, n, tail, tl, &flen);
    memset(id, 0, sizeof(id));
    id[0] = (uint8_t)k, id[1] = (uint8_t)(k >> 8);
    fb_outbox_add_t add = {.id = id, .origin_seq = seq, .created_at_us = k, .frame = frame, .frame_len = flen};
    assert_int_equal(fb_outbox_append(t->ob, &add), FB_OK);
    fb_outbox_entry_t *e = fb_outbox_find_seq(t->ob, seq);
    assert_non_null(e);
    assert_int_equal(fb_chain_appended(t->chain, e), 0);
    return e;
}

/* The prev_hash stamped in e, and e's entry hash recomputed from its bytes. */
static void s_link(const fb_outbox_entry_t *e, const uint8_t **prev, uint8_t hash[32])
{
    const uint8_t *env;
    size_t len;
    assert_int_equal(fb_wire_publish_view(e->frame, e->frame_len, &env, &len), 0);
    assert_true(fb_wire_sequencing_tail(env, len, e->origin_seq, prev) > 0);
    assert_non_null(*prev);
    assert_int_equal(fb_seal_entry_hash(env, len, hash), 0);
}

static void test_each_publish_links_to_the_one_before_and_the_first_to_zeros(void **state)
{
    s_t *t = *state;
    fb_outbox_entry_t *e[4];
    for (int k = 0; k < 4; k++) e[k] = s_publish(t, k + 1);
    static const uint8_t zero[32];
    uint8_t h[32], before[32];
    const uint8_t *prev;
    s_link(e[0], &prev, before);
    assert_memory_equal(prev, zero, 32);
    assert_memory_equal(e[0]->hash, before, 32);
    for (int k = 1; k < 4; k++) {
        s_link(e[k], &prev, h);
        assert_memory_equal(prev, before, 32);
        assert_memory_equal(e[k]->hash, h, 32);
        memcpy(before, h, 32);
    }
}

static void test_relink_rewrites_only_what_the_broker_has_not_read(void **state)
{
    s_t *t = *state;
    fb_outbox_entry_t *e[5];
    for (int k = 0; k < 5; k++) e[k] = s_publish(t, k + 1);
    uint8_t old2[32], broker_head[32], h[32];
    memcpy(old2, e[1]->hash, 32);
    memset(broker_head, 0x77, 32);
    /* The broker read up to origin_seq 2, and its head there is another hash
     * (the node's journal lost what the broker had: say). */
    assert_int_equal(fb_chain_relink(t->chain, 2, broker_head), 3);
    assert_memory_equal(e[1]->hash, old2, 32); /* read by the broker: untouched */
    const uint8_t *prev;
    s_link(e[2], &prev, h);
    assert_memory_equal(prev, broker_head, 32);
    assert_memory_equal(e[2]->hash, h, 32);
    for (int k = 3; k < 5; k++) {
        s_link(e[k], &prev, h);
        assert_memory_equal(prev, e[k - 1]->hash, 32);
    }
    /* A publish appended next links to the new last one. */
    fb_outbox_entry_t *n = s_publish(t, 9);
    s_link(n, &prev, h);
    assert_memory_equal(prev, e[4]->hash, 32);
    /* Relinking again from the same head changes nothing. */
    assert_int_equal(fb_chain_relink(t->chain, 2, broker_head), 0);
}

static void test_welcome_renumbers_then_relinks_what_was_taken_before_it(void **state)
{
    s_t *t = *state;
    s_publish(t, 1); /* taken before this origin's first Welcome: origin_seq 1 */
    uint8_t broker_head[32], h[32];
    memset(broker_head, 0x31, 32);
    /* The Welcome: the broker holds this origin up to 40, chain head there.
     * As the session does: the sequence first, then the links. */
    fb_outbox_raise_seq(t->ob, 41);
    fb_outbox_entry_t *e = fb_outbox_find_seq(t->ob, 41);
    assert_non_null(e);
    assert_int_equal(fb_chain_relink(t->chain, 40, broker_head), 1);
    const uint8_t *prev;
    s_link(e, &prev, h);
    assert_memory_equal(prev, broker_head, 32);
    fb_outbox_entry_t *n = s_publish(t, 2);
    assert_int_equal(n->origin_seq, 42);
    s_link(n, &prev, h);
    assert_memory_equal(prev, e->hash, 32);
    /* A broker with no chain of this origin: the first unread links to zeros. */
    static const uint8_t zero[32];
    assert_int_equal(fb_chain_relink(t->chain, 0, NULL), 2);
    s_link(e, &prev, h);
    assert_memory_equal(prev, zero, 32);
    s_link(n, &prev, h);
    assert_memory_equal(prev, e->hash, 32);
}

static void test_relink_past_everything_held_moves_the_head_to_the_brokers(void **state)
{
    s_t *t = *state;
    fb_outbox_raise_seq(t->ob, 1);
    s_publish(t, 1);
    uint8_t broker_head[32], h[32];
    memset(broker_head, 0x31, 32);
    /* The broker read this publish and more (another life of this node). */
    assert_int_equal(fb_chain_relink(t->chain, 40, broker_head), 0);
    fb_outbox_raise_seq(t->ob, 41);
    fb_outbox_entry_t *n = s_publish(t, 2);
    const uint8_t *prev;
    s_link(n, &prev, h);
    assert_memory_equal(prev, broker_head, 32);
}

static void test_seal_covers_the_entries_and_verifies_with_the_members_key(void **state)
{
    s_t *t = *state;
    fb_outbox_entry_t *e[3];
    for (int k = 0; k < 3; k++) e[k] = s_publish(t, k + 1);
    fb_seal_t s;
    assert_int_equal(fb_chain_seal(t->chain, e, 3, &s), 0);
    assert_string_equal(s.origin, "kr-busan");
    assert_int_equal(s.first_seq, e[0]->origin_seq);
    assert_int_equal(s.last_seq, e[2]->origin_seq);
    assert_memory_equal(s.key_id, t->keys.sign_key_id, 8);
    uint8_t hashes[3][32], root[32];
    for (int k = 0; k < 3; k++) memcpy(hashes[k], e[k]->hash, 32);
    assert_int_equal(fb_seal_root((const uint8_t(*)[32])hashes, 3, root), 0);
    assert_memory_equal(s.root, root, 32);
    assert_int_equal(fb_seal_verify(&s, t->keys.sign_public), 1);
    e[1]->hash[0] ^= 1; /* an entry that is not what was sealed */
    fb_seal_t s2;
    assert_int_equal(fb_chain_seal(t->chain, e, 3, &s2), 0);
    assert_memory_not_equal(s2.root, s.root, 32);
}

/* A frame holding origin_seq 2^63 cannot be sealed (the broker stores no
 * such number): the chain says so, distinctly from a failure to retry. */
static void test_a_seq_beyond_int64_max_is_unsealable_not_a_failure(void **state)
{
    s_t *t = *state;
    fb_outbox_raise_seq(t->ob, (uint64_t)INT64_MAX);
    fb_outbox_entry_t *e[2];
    e[0] = s_publish(t, 1);
    e[1] = s_publish(t, 2);
    assert_int_equal(e[0]->origin_seq, (uint64_t)INT64_MAX);
    fb_seal_t s;
    assert_int_equal(fb_chain_seal(t->chain, e, 1, &s), 0);
    assert_int_equal(fb_chain_seal(t->chain, e, 2, &s), FB_CHAIN_UNSEALABLE);
}

static void test_a_chain_needs_secret_keys(void **state)
{
    s_t *t = *state;
    fb_keys_t pub = t->keys;
    pub.has_secret = false;
    assert_null(fb_chain_new(&pub, t->ob));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_publish_links_to_the_one_before_and_the_first_to_zeros, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_relink_rewrites_only_what_the_broker_has_not_read, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_welcome_renumbers_then_relinks_what_was_taken_before_it, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_relink_past_everything_held_moves_the_head_to_the_brokers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_seal_covers_the_entries_and_verifies_with_the_members_key, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_a_seq_beyond_int64_max_is_unsealable_not_a_failure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_a_chain_needs_secret_keys, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
