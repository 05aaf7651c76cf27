/* fb_log.h — one line per event, with a level and the component name.
 *
 * The level is tested before the arguments are formatted, so a DEBUG line
 * costs a compare when debugging is off. Output goes to stderr (a daemon's
 * supervisor keeps it). */
#ifndef FB_LOG_H
#define FB_LOG_H

#include <stdarg.h>
#include <stdio.h>

typedef enum { FB_LOG_ERR = 0, FB_LOG_WARN = 1, FB_LOG_INFO = 2, FB_LOG_DEBUG = 3 } fb_log_level_t;

extern int fb_log_level_current;

/* Sets the component name written on every line (copied; max 31 bytes). */
void fb_log_init(const char *component, fb_log_level_t level);

/* Sends every line to out (borrowed; NULL: stderr again). Tools and the
 * fuzz targets point it at /dev/null to run every formatting path quietly. */
void fb_log_set_stream(FILE *out);

/* Parses "err", "warn", "info", "debug"; returns the level or -1. */
int fb_log_level_parse(const char *name);

void fb_log_write(fb_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define fb_log(level, ...)                                                               \
    do {                                                                                 \
        if ((int)(level) <= fb_log_level_current) fb_log_write((level), __VA_ARGS__);   \
    } while (0)
#define fb_err(...) fb_log(FB_LOG_ERR, __VA_ARGS__)
#define fb_warn(...) fb_log(FB_LOG_WARN, __VA_ARGS__)
#define fb_info(...) fb_log(FB_LOG_INFO, __VA_ARGS__)
#define fb_debug(...) fb_log(FB_LOG_DEBUG, __VA_ARGS__)

#endif
