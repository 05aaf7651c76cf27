/* fb_crc32c.c — CRC-32C: the SSE4.2 instruction where the CPU has it, else slicing by eight in software.
 *
 * Eight tables of 256 words, built once (pthread_once); each software step
 * folds eight input bytes. On x86-64 the CPU is asked once whether it has
 * SSE4.2, whose crc32 instruction computes this very polynomial eight bytes
 * at a time; the choice is made at run time, so the binary runs on any
 * x86-64 and anywhere else the software version does. */
#include "fb_crc32c.h"

#include <pthread.h>
#include <string.h>

#define S_POLY 0x82F63B78u

static uint32_t s_table[8][256];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static uint32_t s_crc_sw(uint32_t crc, const uint8_t *p, size_t len);
static uint32_t (*s_impl)(uint32_t crc, const uint8_t *p, size_t len) = s_crc_sw;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define S_HW 1
/* crc is the running value, already inverted. */
__attribute__((target("sse4.2"))) static uint32_t s_crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    while (len && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* x86 is little-endian: the bytes in order */
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        len -= 8;
    }
    while (len--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

static void s_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ S_POLY : c >> 1;
        s_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) s_table[t][i] = (s_table[t - 1][i] >> 8) ^ s_table[0][s_table[t - 1][i] & 0xFF];
#ifdef S_HW
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) s_impl = s_crc_hw;
#endif
}

/* crc is the running value, already inverted. */
static uint32_t s_crc_sw(uint32_t crc, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        /* Little-endian order of the eight bytes, whatever the host's. */
        uint32_t lo = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        lo ^= crc;
        crc = s_table[7][lo & 0xFF] ^ s_table[6][(lo >> 8) & 0xFF] ^ s_table[5][(lo >> 16) & 0xFF] ^
              s_table[4][lo >> 24] ^ s_table[3][hi & 0xFF] ^ s_table[2][(hi >> 8) & 0xFF] ^
              s_table[1][(hi >> 16) & 0xFF] ^ s_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--) crc = (crc >> 8) ^ s_table[0][(crc ^ *p++) & 0xFF];
    return crc;
}

uint32_t fb_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&s_once, s_init);
    return ~s_impl(~crc, data, len);
}

uint32_t fb_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&s_once, s_init);
    return ~s_crc_sw(~crc, data, len);
}

const char *fb_crc32c_impl(void)
{
    pthread_once(&s_once, s_init);
    return s_impl == s_crc_sw ? "software" : "sse4.2";
}
