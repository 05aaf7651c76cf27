/* test_verify.c — the broker's checks of a sealed frame: root, key and its window, signature, links; each refusal. */
#include "fb_verify.h"

#include "fb_arena.h"
#include "fb_batch.h"
#include "fb_envelope.h"
#include "fb_keys.h"
#include "fb_wire.h"
#include "fedbus/fedbus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define S_NOW 1764669600000000LL
#define S_N 8

typedef struct {
    fb_keys_t keys;
    int64_t from, until; /* the key's window */
    fb_verify_t *v;
    fb_arena_t *arena;
    uint8_t env[S_N][128];
    fb_batch_item_t items[S_N];
    uint8_t head[32]; /* the node's view of the chain */
    uint64_t seq;
} s_t;

static int s_key(void *ctx, const char *member, const uint8_t id[FB_KEY_ID_LEN], fb_verify_key_t *out)
{
    s_t *t = ctx;
    if (strcmp(member, t->keys.member) != 0 || memcmp(id, t->keys.sign_key_id, FB_KEY_ID_LEN) != 0) return 0;
    memcpy(out->pub, t->keys.sign_public, 32);
    out->valid_from_us = t->from;
    out->valid_until_us = t->until;
    return 1;
}

static s_t *s_new(int required)
{
    s_t *t = calloc(1, sizeof(*t));
    char err[128];
    assert_non_null(t);
    assert_int_equal(fb_keys_generate("kr-seoul", &t->keys, err, sizeof(err)), 0);
    t->from = S_NOW - 3600000000LL;
    t->v = fb_verify_new(&(fb_verify_opts_t){.required = required, .max_ahead_us = 300000000, .key = s_key, .key_ctx = t});
    t->arena = fb_arena_new(4096, 4096);
    assert_non_null(t->v);
    assert_non_null(t->arena);
    return t;
}

static void s_free(s_t *t)
{
    fb_verify_destroy(&t->v);
    fb_arena_destroy(&t->arena);
    free(t);
}

/* Fills items[0..n) with the node's next n publishes, linked. */
static void s_frame(s_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = t->env[i];
        size_t len = fb_wire_put_bytes(3, "event.kr-seoul.forum", 20, e);
        uint64_t seq = ++t->seq;
        len += fb_wire_stamp_origin(&(fb_wire_origin_stamp_t){.prev_hash = t->head, .origin_seq = seq}, e + len);
        fb_seal_entry_hash(e, len, t->head);
        t->items[i] = (fb_batch_item_t){.env_data = e, .env_len = len, .origin = "kr-seoul", .origin_seq = seq,
                                        .state = FB_BATCH_PENDING};
    }
}

static fb_seal_t s_seal(s_t *t, size_t n, int64_t at)
{
    fb_seal_t s = {.first_seq = t->items[0].origin_seq, .last_seq = t->items[n - 1].origin_seq, .signed_at_us = at};
    strcpy(s.origin, "kr-seoul");
    uint8_t h[S_N][32];
    for (size_t i = 0; i < n; i++) fb_seal_entry_hash(t->items[i].env_data, t->items[i].env_len, h[i]);
    fb_seal_root((const uint8_t(*)[32])h, n, s.root);
    memcpy(s.key_id, t->keys.sign_key_id, 8);
    assert_int_equal(fb_seal_sign(&s, t->keys.sign_secret), 0);
    return s;
}

static void s_assert_all(const s_t *t, size_t from, size_t n, int reason)
{
    for (size_t i = from; i < n; i++) {
        if (reason == 0) assert_int_equal(t->items[i].state, FB_BATCH_PENDING);
        else {
            assert_int_equal(t->items[i].state, FB_BATCH_REJECTED);
            assert_int_equal(t->items[i].reason, reason);
        }
    }
}

static void test_linked_frames_verify_and_move_the_head(void **state)
{
    (void)state;
    s_t *t = s_new(1);
    s_frame(t, 4);
    fb_seal_t s = s_seal(t, 4, S_NOW);
    const fb_verify_proof_t *p = fb_verify_group(t->v, t->arena, t->items, 4, &s, S_NOW);
    assert_non_null(p);
    s_assert_all(t, 0, 4, 0);
    assert_int_equal(p->n, 4);
    assert_true(p->advanced);
    assert_int_equal(p->head_seq, 4);
    assert_memory_equal(p->head_hash, t->head, 32);
    assert_int_equal(p->seqs[3], 4);
    uint64_t seq;
    uint8_t hash[32];
    assert_int_equal(fb_verify_head(t->v, "kr-seoul", &seq, hash), 1);
    assert_int_equal(seq, 4);
    s_frame(t, 3);
    s = s_seal(t, 3, S_NOW);
    assert_non_null(fb_verify_group(t->v, t->arena, t->items, 3, &s, S_NOW));
    s_assert_all(t, 0, 3, 0);
    assert_int_equal(fb_verify_head(t->v, "kr-seoul", &seq, hash), 1);
    assert_int_equal(seq, 7);
    s_free(t);
}

static void test_a_broken_link_refuses_it_and_what_follows(void **state)
{
    (void)state;
    s_t *t = s_new(1);
    s_frame(t, 2);
    fb_seal_t s = s_seal(t, 2, S_NOW);
    assert_non_null(fb_verify_group(t->v, t->arena, t->items, 2, &s, S_NOW));
    /* The next frame of 4 (origin_seq 3-6) links its third publish to
     * something the broker never took; the node signed it so. */
    s_frame(t, 4);
    const uint8_t *prev;
    assert_true(fb_wire_sequencing_tail(t->env[2], t->items[2].env_len, t->items[2].origin_seq, &prev) > 0);
    assert_non_null(prev);
    memset((uint8_t *)prev, 0x55, 32);
    s = s_seal(t, 4, S_NOW);
    const fb_verify_proof_t *p = fb_verify_group(t->v, t->arena, t->items, 4, &s, S_NOW);
    assert_non_null(p);
    s_assert_all(t, 0, 2, 0);
    s_assert_all(t, 2, 4, FEDBUS__REJECT_REASON__REJECT_BROKEN_CHAIN);
    assert_non_null(strstr(t->items[2].detail, "does not link"));
    uint64_t seq;
    uint8_t hash[32];
    assert_int_equal(fb_verify_head(t->v, "kr-seoul", &seq, hash), 1);
    assert_int_equal(seq, 4);
    assert_int_equal(p->head_seq, 4);
    s_free(t);
}

static void test_an_edited_envelope_breaks_the_root(void **state)
{
    (void)state;
    s_t *t = s_new(1);
    s_frame(t, 5);
    fb_seal_t s = s_seal(t, 5, S_NOW);
    t->env[3][5] ^= 1; /* a byte of the topic, after signing */
    assert_null(fb_verify_group(t->v, t->arena, t->items, 5, &s, S_NOW));
    s_assert_all(t, 0, 5, FEDBUS__REJECT_REASON__REJECT_BAD_SIGNATURE);
    uint64_t seq;
    uint8_t hash[32];
    assert_int_equal(fb_verify_head(t->v, "kr-seoul", &seq, hash), 0);
    s_free(t);
}

static void test_a_forged_signature_is_refused(void **state)
{
    (void)state;
    s_t *t = s_new(1);
    s_frame(t, 3);
    fb_seal_t s = s_seal(t, 3, S_NOW);
    fb_keys_t other;
    char err[128];
    assert_int_equal(fb_keys_generate("kr-seoul", &other, err, sizeof(err)), 0);
    assert_int_equal(fb_seal_sign(&s, other.sign_secret), 0); /* signed by someone else, same key id */
    assert_null(fb_verify_group(t->v, t->arena, t->items, 3, &s, S_NOW));
    s_assert_all(t, 0, 3, FEDBUS__REJECT_REASON__REJECT_BAD_SIGNATURE);
    s_free(t);
}

static void test_keys_unknown_rotated_out_or_ahead_are_not_valid(void **state)
{
    (void)state;
    s_t *t = s_new(1);
    s_frame(t, 2);
    /* a key id nobody registered */
    fb_seal_t s = s_seal(t, 2, S_NOW);
    s.key_id[0] ^= 1;
    assert_int_equal(fb_seal_sign(&s, t->keys.sign_secret), 0);
    assert_null(fb_verify_group(t->v, t->arena, t->items, 2, &s, S_NOW));
    s_assert_all(t, 0, 2, FEDBUS__REJECT_REASON__REJECT_KEY_NOT_VALID);
    /* rotated out: valid until a minute ago */
    t->until = S_NOW - 60000000LL;
    s_frame(t, 2);
    s = s_seal(t, 2, S_NOW);
    assert_null(fb_verify_group(t->v, t->arena, t->items, 2, &s, S_NOW));
    s_assert_all(t, 0, 2, FEDBUS__REJECT_REASON__REJECT_KEY_NOT_VALID);
    /* signed inside the window still counts (a frame held up in an outbox) */
    t->seq = 0;
    memset(t->head, 0, 32);
    s_frame(t, 2);
    s = s_seal(t, 2, S_NOW - 120000000LL);
    assert_non_null(fb_verify_group(t->v, t->arena, t->items, 2, &s, S_NOW));
    s_assert_all(t, 0, 2, 0);
    /* signed an hour ahead of the broker's clock */
    t->until = 0;
    s_frame(t, 1);
    s = s_seal(t, 1, S_NOW + 3600000000LL);
    assert_null(fb_verify_group(t->v, t->arena, t->items, 1, &s, S_NOW));
    s_assert_all(t, 0, 1, FEDBUS__REJECT_REASON__REJECT_KEY_NOT_VALID);
    s_free(t);
}

static void test_a_seal_of_another_origin_or_range_is_refused(void **state)
{
    (void)state;
    s_t *t = s_new(1);
    s_frame(t, 3);
    fb_seal_t s = s_seal(t, 3, S_NOW);
    t->items[1].origin = "kr-busan";
    assert_null(fb_verify_group(t->v, t->arena, t->items, 3, &s, S_NOW));
    s_assert_all(t, 0, 3, FEDBUS__REJECT_REASON__REJECT_BAD_SIGNATURE);
    s_frame(t, 3);
    s = s_seal(t, 3, S_NOW);
    s.last_seq++;
    assert_int_equal(fb_seal_sign(&s, t->keys.sign_secret), 0);
    assert_null(fb_verify_group(t->v, t->arena, t->items, 3, &s, S_NOW));
    s_assert_all(t, 0, 3, FEDBUS__REJECT_REASON__REJECT_BAD_SIGNATURE);
    s_free(t);
}

static void test_unsealed_frames_are_refused_only_when_required(void **state)
{
    (void)state;
    s_t *t = s_new(1);
    s_frame(t, 2);
    assert_null(fb_verify_group(t->v, t->arena, t->items, 2, NULL, S_NOW));
    s_assert_all(t, 0, 2, FEDBUS__REJECT_REASON__REJECT_BAD_SIGNATURE);
    s_free(t);
    t = s_new(0);
    s_frame(t, 2);
    assert_null(fb_verify_group(t->v, t->arena, t->items, 2, NULL, S_NOW));
    s_assert_all(t, 0, 2, 0);
    s_free(t);
}

static void test_resends_at_or_below_the_head_pass_without_moving_it(void **state)
{
    (void)state;
    s_t *t = s_new(1);
    s_frame(t, 3);
    fb_seal_t s = s_seal(t, 3, S_NOW);
    assert_non_null(fb_verify_group(t->v, t->arena, t->items, 3, &s, S_NOW));
    /* the same three again (an ack lost), sealed anew */
    for (int i = 0; i < 3; i++) t->items[i].state = FB_BATCH_PENDING;
    s = s_seal(t, 3, S_NOW + 1000);
    const fb_verify_proof_t *p = fb_verify_group(t->v, t->arena, t->items, 3, &s, S_NOW);
    assert_non_null(p);
    assert_false(p->advanced);
    s_assert_all(t, 0, 3, 0);
    assert_int_equal(p->head_seq, 3);
    s_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linked_frames_verify_and_move_the_head),
        cmocka_unit_test(test_a_broken_link_refuses_it_and_what_follows),
        cmocka_unit_test(test_an_edited_envelope_breaks_the_root),
        cmocka_unit_test(test_a_forged_signature_is_refused),
        cmocka_unit_test(test_keys_unknown_rotated_out_or_ahead_are_not_valid),
        cmocka_unit_test(test_a_seal_of_another_origin_or_range_is_refused),
        cmocka_unit_test(test_unsealed_frames_are_refused_only_when_required),
        cmocka_unit_test(test_resends_at_or_below_the_head_pass_without_moving_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
