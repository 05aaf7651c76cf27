/* test_wire_seal.c — the signing layer on the wire: prev_hash stamped and found, the sequencing tail, the batch's seal. */
#include "fb_wire.h"

#include "fb_envelope.h"
#include "fedbus/fedbus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static fb_seal_t s_seal(void)
{
    fb_seal_t s = {.origin = "intl-wta", .first_seq = 7, .last_seq = 300, .signed_at_us = 1764669600123456};
    for (int i = 0; i < 32; i++) s.root[i] = (uint8_t)(0x10 + i);
    for (int i = 0; i < 8; i++) s.key_id[i] = (uint8_t)(0xC0 + i);
    for (int i = 0; i < 64; i++) s.signature[i] = (uint8_t)(0x80 ^ i);
    return s;
}

static void test_seal_field_is_what_protobuf_c_packs(void **state)
{
    (void)state;
    fb_seal_t s = s_seal();
    Fedbus__Seal pb = FEDBUS__SEAL__INIT;
    pb.origin = s.origin;
    pb.first_seq = s.first_seq;
    pb.last_seq = s.last_seq;
    pb.root = (ProtobufCBinaryData){32, s.root};
    pb.key_id = (ProtobufCBinaryData){8, s.key_id};
    pb.signed_at_us = s.signed_at_us;
    pb.signature = (ProtobufCBinaryData){64, s.signature};
    Fedbus__PublishBatch b = FEDBUS__PUBLISH_BATCH__INIT;
    b.seal = &pb;
    size_t want_len = fedbus__publish_batch__get_packed_size(&b);
    uint8_t want[256], got[256];
    fedbus__publish_batch__pack(&b, want);
    size_t n = fb_wire_put_seal_field(&s, got);
    assert_int_equal(n, fb_wire_seal_field_size(&s));
    assert_int_equal(n, want_len);
    assert_memory_equal(got, want, n);
}

static void test_batch_seal_reads_back_what_was_written_after_the_items(void **state)
{
    (void)state;
    fb_seal_t s = s_seal(), back;
    uint8_t buf[512];
    size_t n = fb_wire_put_item("one", 3, buf);
    n += fb_wire_put_item("two", 3, buf + n);
    n += fb_wire_put_seal_field(&s, buf + n);
    assert_int_equal(fb_wire_batch_seal(buf, n, &back), 1);
    assert_string_equal(back.origin, s.origin);
    assert_int_equal(back.first_seq, 7);
    assert_int_equal(back.last_seq, 300);
    assert_int_equal(back.signed_at_us, s.signed_at_us);
    assert_memory_equal(back.root, s.root, 32);
    assert_memory_equal(back.key_id, s.key_id, 8);
    assert_memory_equal(back.signature, s.signature, 64);
    /* the items are still read as before, the seal skipped */
    const uint8_t *p = buf, *d;
    size_t len, count = 0;
    while (fb_wire_next_item(&p, buf + n, &d, &len) == 1) count++;
    assert_int_equal(count, 2);
    /* no seal */
    assert_int_equal(fb_wire_batch_seal(buf, fb_wire_item_size(3) * 2, &back), 0);
}

static void test_batch_seal_refuses_two_seals_and_wrong_sizes(void **state)
{
    (void)state;
    fb_seal_t s = s_seal(), back;
    uint8_t buf[512];
    size_t one = fb_wire_put_seal_field(&s, buf);
    size_t two = one + fb_wire_put_seal_field(&s, buf + one);
    assert_int_equal(fb_wire_batch_seal(buf, two, &back), -1);
    /* a root of 31 bytes, a key id of 9, a signature of 63, an origin of 33 or none */
    Fedbus__Seal pb = FEDBUS__SEAL__INIT;
    uint8_t root[33] = {0}, kid[9] = {0}, sig[64] = {0};
    char longo[34];
    memset(longo, 'a', 33);
    longo[33] = 0;
    struct { const char *origin; size_t root, kid, sig; } bad[] = {
        {"kr-seoul", 31, 8, 64}, {"kr-seoul", 32, 9, 64}, {"kr-seoul", 32, 8, 63},
        {longo, 32, 8, 64}, {"", 32, 8, 64}, {"kr-seoul", 0, 8, 64},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pb.origin = (char *)bad[i].origin;
        pb.root = (ProtobufCBinaryData){bad[i].root, root};
        pb.key_id = (ProtobufCBinaryData){bad[i].kid, kid};
        pb.signature = (ProtobufCBinaryData){bad[i].sig, sig};
        Fedbus__PublishBatch b = FEDBUS__PUBLISH_BATCH__INIT;
        b.seal = &pb;
        size_t n = fedbus__publish_batch__pack(&b, buf);
        if (fb_wire_batch_seal(buf, n, &back) != -1) fail_msg("bad seal %zu was read", i);
    }
    /* a truncated seal */
    one = fb_wire_put_seal_field(&s, buf);
    assert_int_equal(fb_wire_batch_seal(buf, one - 1, &back), -1);
}

static void test_prev_hash_is_stamped_before_origin_seq_and_scanned(void **state)
{
    (void)state;
    uint8_t prev[32], out[FB_ORIGIN_STAMP_MAX];
    for (int i = 0; i < 32; i++) prev[i] = (uint8_t)(0xE0 ^ i);
    size_t n = fb_wire_stamp_origin(&(fb_wire_origin_stamp_t){.prev_hash = prev, .origin_seq = 300}, out);
    fb_envelope_head_t h;
    assert_int_equal(fb_wire_envelope_scan(out, n, &h), 0);
    assert_int_equal(h.origin_seq, 300);
    assert_int_equal(h.prev_hash_len, 32);
    assert_int_equal(h.prev_hash_count, 1);
    assert_memory_equal(h.prev_hash, prev, 32);
    Fedbus__Envelope *e = fedbus__envelope__unpack(NULL, n, out);
    assert_non_null(e);
    assert_int_equal(e->prev_hash.len, 32);
    assert_memory_equal(e->prev_hash.data, prev, 32);
    fedbus__envelope__free_unpacked(e, NULL);
    const uint8_t *found;
    assert_int_equal(fb_wire_sequencing_tail(out, n, 300, &found), n);
    assert_ptr_equal(found, out + 2);
}

static void test_sequencing_tail_without_prev_hash_or_with_another_seq(void **state)
{
    (void)state;
    uint8_t env[64] = {0x1a, 0x03, 'a', '.', 'b'}, *p = env + 5;
    size_t n = fb_wire_stamp_origin(&(fb_wire_origin_stamp_t){.origin_seq = 5}, p);
    const uint8_t *found = (const uint8_t *)1;
    assert_int_equal(fb_wire_sequencing_tail(env, 5 + n, 5, &found), n);
    assert_null(found);
    assert_int_equal(fb_wire_sequencing_tail(env, 5 + n, 6, &found), 0);
    assert_int_equal(fb_wire_sequencing_tail(env, 1, 5, &found), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_field_is_what_protobuf_c_packs),
        cmocka_unit_test(test_batch_seal_reads_back_what_was_written_after_the_items),
        cmocka_unit_test(test_batch_seal_refuses_two_seals_and_wrong_sizes),
        cmocka_unit_test(test_prev_hash_is_stamped_before_origin_seq_and_scanned),
        cmocka_unit_test(test_sequencing_tail_without_prev_hash_or_with_another_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
