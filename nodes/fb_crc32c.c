/* fb_crc32c.c — CRC-32C in software, slicing by eight.
 *
 * Eight tables of 256 words, built once (pthread_once); each step folds
 * eight input bytes. */
#include "fb_crc32c.h"

#include <pthread.h>

#define S_POLY 0x82F63B78u

static uint32_t s_table[8][256];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void s_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ S_POLY : c >> 1;
        s_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) s_table[t][i] = (s_table[t - 1][i] >> 8) ^ s_table[0][s_table[t - 1][i] & 0xFF];
}

uint32_t fb_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&s_once, s_init);
    const uint8_t *p = data;
    crc = ~crc;
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
    return ~crc;
}
