/* fb_time.h — clocks and RFC 3339 timestamps with their UTC offset. */
#ifndef FB_TIME_H
#define FB_TIME_H
#include <stddef.h>
#include <stdint.h>

/* Wall clock, microseconds since the Unix epoch (UTC). */
int64_t fb_time_now_us(void);

/* Monotonic clock in microseconds, for timeouts and latencies. */
int64_t fb_time_mono_us(void);

/* Parses "YYYY-MM-DDTHH:MM[:SS[.ffffff]](Z|+HH:MM|-HH:MM)" or "YYYY-MM-DD"
 * (midnight UTC), years 1970 to 9999. Returns 0 and fills *unix_us and
 * *offset_min, or -1 (also for an instant after 9999-12-31T23:59:59.999999Z,
 * which fb_time_format() could not write in UTC). */
int fb_time_parse(const char *s, int64_t *unix_us, int *offset_min);

/* Formats unix_us at offset_min as RFC 3339 into out (>= 40 bytes); returns
 * the length, or -1 (also when the local date is outside years 1 to 9999,
 * or offset_min beyond a day). Microseconds are written only when not zero. */
int fb_time_format(int64_t unix_us, int offset_min, char *out, size_t out_size);

#endif
