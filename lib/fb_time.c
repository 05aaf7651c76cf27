/* fb_time.c — clocks and RFC 3339 timestamps (with offsets, without a tz database). */
#include "fb_time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t fb_time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t fb_time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t s_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void s_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int s_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int s_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return days[m - 1];
}

/* The instants RFC 3339 can write (four-digit years): 0001-01-01T00:00:00
 * to 9999-12-31T23:59:59.999999, in microseconds since the epoch. */
#define S_FIRST_US (-62135596800000000LL)
#define S_LAST_US 253402300799999999LL

int fb_time_parse(const char *s, int64_t *unix_us, int *offset_min)
{
    int y, mo, d, h = 0, mi = 0, se = 0, off = 0;
    int64_t frac = 0;
    size_t len = strlen(s);
    if (len < 10 || s_digits(s, 4, &y) || s[4] != '-' || s_digits(s + 5, 2, &mo) ||
        s[7] != '-' || s_digits(s + 8, 2, &d))
        return -1;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > s_days_in_month(y, mo))
        return -1;
    const char *p = s + 10;
    if (*p != '\0') {
        if ((*p != 'T' && *p != 't' && *p != ' ') || s_digits(p + 1, 2, &h) || p[3] != ':' ||
            s_digits(p + 4, 2, &mi))
            return -1;
        p += 6;
        if (*p == ':') {
            if (s_digits(p + 1, 2, &se)) return -1;
            p += 3;
            if (*p == '.') {
                int n = 0;
                p++;
                while (*p >= '0' && *p <= '9') {
                    if (n < 6) frac = frac * 10 + (*p - '0'), n++;
                    p++;
                }
                if (n == 0) return -1;
                while (n++ < 6) frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || se > 60) return -1;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (s_digits(p + 1, 2, &oh) || p[3] != ':' || s_digits(p + 4, 2, &om)) return -1;
            if (oh > 23 || om > 59) return -1;
            off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
            p += 6;
        } else {
            return -1; /* an offset is required: local time is ambiguous */
        }
        if (*p != '\0') return -1;
    }
    int64_t secs = s_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    secs -= (int64_t)off * 60;
    /* West of UTC, the last hours of 9999 are in year 10000 there, which
     * fb_time_format() cannot write: refused, so what is read can be. */
    if (secs * 1000000 + frac > S_LAST_US) return -1;
    *unix_us = secs * 1000000 + frac;
    *offset_min = off;
    return 0;
}

int fb_time_format(int64_t unix_us, int offset_min, char *out, size_t out_size)
{
    if (offset_min < -24 * 60 || offset_min > 24 * 60) return -1;
    /* Any int64 may come (a publisher's Timestamp): bounded first, so that
     * adding the offset cannot overflow; then the local date too. */
    if (unix_us < S_FIRST_US || unix_us > S_LAST_US) return -1;
    int64_t local = unix_us + (int64_t)offset_min * 60 * 1000000;
    if (local < S_FIRST_US || local > S_LAST_US) return -1;
    int64_t secs = local >= 0 ? local / 1000000 : -((-local + 999999) / 1000000);
    int64_t us = local - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int y, m, d;
    s_civil_from_days(days, &y, &m, &d);
    char zone[8];
    if (offset_min == 0) snprintf(zone, sizeof(zone), "Z");
    else snprintf(zone, sizeof(zone), "%c%02d:%02d", offset_min < 0 ? '-' : '+',
                  (offset_min < 0 ? -offset_min : offset_min) / 60,
                  (offset_min < 0 ? -offset_min : offset_min) % 60);
    int n;
    if (us)
        n = snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld%s", y, m, d,
                     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (long long)us, zone);
    else
        n = snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d%s", y, m, d,
                     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), zone);
    return (n < 0 || (size_t)n >= out_size) ? -1 : n;
}
