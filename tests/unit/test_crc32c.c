/* test_crc32c.c — CRC-32C against published vectors, and the instruction's results against the software's. */
#include "fb_crc32c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* RFC 3720, B.4, and the check value of the CRC catalogue. */
static void test_crc32c_gives_the_published_vectors(void **state)
{
    (void)state;
    uint8_t b[48];
    print_message("fb_crc32c computes in %s\n", fb_crc32c_impl());
    uint32_t (*fn[2])(uint32_t, const void *, size_t) = {fb_crc32c, fb_crc32c_sw};
    for (int f = 0; f < 2; f++) {
        assert_int_equal(fn[f](0, "123456789", 9), 0xE3069283u);
        assert_int_equal(fn[f](0, "", 0), 0);
        memset(b, 0, 32);
        assert_int_equal(fn[f](0, b, 32), 0x8A9136AAu);
        memset(b, 0xFF, 32);
        assert_int_equal(fn[f](0, b, 32), 0x62A8AB43u);
        for (int i = 0; i < 32; i++) b[i] = (uint8_t)i;
        assert_int_equal(fn[f](0, b, 32), 0x46DD794Eu);
        for (int i = 0; i < 32; i++) b[i] = (uint8_t)(31 - i);
        assert_int_equal(fn[f](0, b, 32), 0x113FDB5Cu);
        static const uint8_t pdu[48] = {0x01, 0xC0, [16] = 0x14, [22] = 0x04, [27] = 0x14, [31] = 0x18,
                                         [32] = 0x28, [40] = 0x02}; /* an iSCSI read */
        assert_int_equal(fn[f](0, pdu, sizeof(pdu)), 0xD9963A56u);
    }
}

/* Every length from 0 to 300 at every alignment, whole and split in two at
 * every point: the CPU's instruction (where fb_crc32c() uses it) and the
 * tables agree, and a CRC continued is the CRC of the whole. */
static void test_crc32c_instruction_and_software_agree_at_any_length_and_alignment(void **state)
{
    (void)state;
    static uint8_t buf[320];
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len <= 300; len++) {
            const uint8_t *p = buf + off;
            uint32_t whole = fb_crc32c_sw(0, p, len);
            assert_int_equal(fb_crc32c(0, p, len), whole);
            for (size_t cut = 0; cut <= len; cut += (len < 40 ? 1 : 13)) {
                assert_int_equal(fb_crc32c(fb_crc32c(0, p, cut), p + cut, len - cut), whole);
                assert_int_equal(fb_crc32c_sw(fb_crc32c_sw(0, p, cut), p + cut, len - cut), whole);
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_gives_the_published_vectors),
        cmocka_unit_test(test_crc32c_instruction_and_software_agree_at_any_length_and_alignment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
