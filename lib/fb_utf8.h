/* fb_utf8.h — strict UTF-8 validation (no overlongs, no surrogates, <= U+10FFFF). */
#ifndef FB_UTF8_H
#define FB_UTF8_H
#include <stddef.h>

/* Returns 1 when s[0..len) is well-formed UTF-8 without NUL bytes, else 0. */
int fb_utf8_valid(const char *s, size_t len);

#endif
