/* fb_utf8.c — strict UTF-8 validation, following RFC 3629's table of well-formed sequences. */
#include "fb_utf8.h"

#include <stdint.h>
#include <string.h>

#define S_ONES 0x0101010101010101ULL
#define S_HIGHS 0x8080808080808080ULL

int fb_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* Eight ASCII bytes, none of them NUL, at a time: most text of an
         * envelope (ids, topics, URLs, English) is ASCII. */
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (((w | ((w - S_ONES) & ~w)) & S_HIGHS) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c == 0) return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c == 0xE0) n = 2, lo = 0xA0;
        else if (c >= 0xE1 && c <= 0xEC) n = 2;
        else if (c == 0xED) n = 2, hi = 0x9F; /* no UTF-16 surrogates */
        else if (c >= 0xEE && c <= 0xEF) n = 2;
        else if (c == 0xF0) n = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) n = 3;
        else if (c == 0xF4) n = 3, hi = 0x8F; /* <= U+10FFFF */
        else return 0;
        if (len - i - 1 < n) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
        i += n + 1;
    }
    return 1;
}
