/* fb_log.c — levelled one-line logging to stderr. */
#include "fb_log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

int fb_log_level_current = FB_LOG_INFO;
static char s_component[32] = "fedbus";
static FILE *s_out; /* NULL: stderr */
static const char *const s_names[] = {"ERR", "WARN", "INFO", "DEBUG"};

void fb_log_init(const char *component, fb_log_level_t level)
{
    if (component) {
        strncpy(s_component, component, sizeof(s_component) - 1);
        s_component[sizeof(s_component) - 1] = '\0';
    }
    fb_log_level_current = (int)level;
}

void fb_log_set_stream(FILE *out)
{
    s_out = out;
}

int fb_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, s_names[i]) == 0) return i;
    if (strcasecmp(name, "error") == 0) return FB_LOG_ERR;
    if (strcasecmp(name, "warning") == 0) return FB_LOG_WARN;
    return -1;
}

void fb_log_write(fb_log_level_t level, const char *fmt, ...)
{
    char line[1024];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)(tv.tv_usec / 1000), s_names[level], s_component);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line)) vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per line keeps lines whole when several threads log. */
    size_t len = strnlen(line, sizeof(line) - 2);
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n') line[i] = ' ';
    line[len] = '\n';
    fwrite(line, 1, len + 1, s_out ? s_out : stderr);
}
