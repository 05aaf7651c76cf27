/* fb_config.c — defaults, INI file (inih), environment and flags, from one table. */
#include "fb_config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const fb_cfg_key_t *s_find(const fb_cfg_key_t *keys, const char *name, size_t len)
{
    for (const fb_cfg_key_t *k = keys; k->name; k++)
        if (strlen(k->name) == len && strncmp(k->name, name, len) == 0) return k;
    return NULL;
}

int fb_config_duration(const char *text, long long *ms)
{
    static const struct {
        const char *unit;
        long long ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    char *end;
    if (!isdigit((unsigned char)text[0])) return -1;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno) return -1;
    if (*end == '\0') {
        if (v != 0) return -1; /* a number alone says nothing of its unit */
        *ms = 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].unit) == 0) {
            if (v > LLONG_MAX / units[i].ms) return -1;
            *ms = v * units[i].ms;
            return 0;
        }
    return -1;
}

/* Writes ms as the largest unit that divides it ("366d", "1500ms"). */
static void s_duration_text(long long ms, char *out, size_t size)
{
    static const struct {
        const char *unit;
        long long ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    for (size_t i = 0; ms && i < sizeof(units) / sizeof(units[0]); i++)
        if (ms % units[i].ms == 0) {
            snprintf(out, size, "%lld%s", ms / units[i].ms, units[i].unit);
            return;
        }
    snprintf(out, size, ms ? "%lldms" : "%lld", ms);
}

static int s_set(const fb_cfg_key_t *k, void *target, const char *value, char *err, size_t err_size)
{
    char *field = (char *)target + k->offset;
    if (!value) value = "";
    switch (k->type) {
    case FB_CFG_STR:
        if (strlen(value) >= k->size) {
            snprintf(err, err_size, "%s: value longer than %zu bytes", k->name, k->size - 1);
            return -1;
        }
        strcpy(field, value);
        return 0;
    case FB_CFG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0') {
            snprintf(err, err_size, "%s: '%s' is not an integer", k->name, value);
            return -1;
        }
        if (v < k->min || v > k->max) {
            snprintf(err, err_size, "%s: %lld is outside %lld..%lld", k->name, v, k->min, k->max);
            return -1;
        }
        *(long long *)field = v;
        return 0;
    }
    case FB_CFG_DURATION: {
        long long ms;
        if (fb_config_duration(value, &ms) != 0) {
            snprintf(err, err_size, "%s: '%s' is not a duration such as 30d, 12h, 90m, 45s or 0", k->name, value);
            return -1;
        }
        if (ms < k->min || ms > k->max) {
            char lo[32], hi[32];
            s_duration_text(k->min, lo, sizeof(lo));
            s_duration_text(k->max, hi, sizeof(hi));
            snprintf(err, err_size, "%s: %s is outside %s..%s", k->name, value, lo, hi);
            return -1;
        }
        *(long long *)field = ms;
        return 0;
    }
    case FB_CFG_BOOL:
        if (!strcmp(value, "1") || !strcasecmp(value, "true") || !strcasecmp(value, "yes") ||
            !strcasecmp(value, "on")) {
            *(int *)field = 1;
        } else if (!strcmp(value, "0") || !strcasecmp(value, "false") || !strcasecmp(value, "no") ||
                   !strcasecmp(value, "off")) {
            *(int *)field = 0;
        } else {
            snprintf(err, err_size, "%s: '%s' is not a boolean (true/false)", k->name, value);
            return -1;
        }
        return 0;
    }
    return -1;
}

int fb_config_set(const fb_cfg_key_t *keys, void *target, const char *name, const char *value,
                  char *err, size_t err_size)
{
    const fb_cfg_key_t *k = s_find(keys, name, strlen(name));
    if (!k) {
        snprintf(err, err_size, "unknown key '%s' (see --help)", name);
        return -1;
    }
    return s_set(k, target, value, err, err_size);
}

typedef struct {
    const fb_cfg_key_t *keys;
    void *target;
    char *err;
    size_t err_size;
    int failed;
} s_ini_ctx_t;

static int s_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    s_ini_ctx_t *c = user;
    (void)section;
    if (c->failed) return 0;
    if (fb_config_set(c->keys, c->target, name, value, c->err, c->err_size) != 0) {
        c->failed = 1;
        return 0;
    }
    return 1;
}

void fb_config_help(const fb_cfg_key_t *keys, FILE *out)
{
    for (const fb_cfg_key_t *k = keys; k->name; k++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s=%s", k->name,
                 k->type == FB_CFG_INT        ? "N"
                 : k->type == FB_CFG_BOOL     ? "BOOL"
                 : k->type == FB_CFG_DURATION ? "TIME"
                                              : "TEXT");
        fprintf(out, "  %-26s %s", flag, k->help);
        if (k->def && *k->def) fprintf(out, " (default: %s)", k->def);
        fputc('\n', out);
    }
    fprintf(out, "  %-26s %s\n", "--config=FILE", "read keys from an INI file first");
    fprintf(out, "  %-26s %s\n", "--help", "print this help");
    fprintf(out, "Every key can also be set as environment variable FEDBUS_<KEY> "
                 "(upper case, '-' as '_').\n");
}

size_t fb_config_distance(const char *a, const char *b, size_t n)
{
    size_t la = strlen(a), row[64];
    if (la >= 63 || n >= 63) return 99;
    for (size_t j = 0; j <= n; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= n; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[n];
}

/* The key nearest to the n bytes typed ("nod" -> "node", a prefix such as
 * "time" -> "timeout-ms"), when near enough to be what was meant; else NULL. */
static const char *s_nearest(const fb_cfg_key_t *keys, const char *typed, size_t n)
{
    size_t best = 99;
    const char *name = NULL;
    for (const fb_cfg_key_t *k = keys; k->name; k++) {
        size_t d = fb_config_distance(k->name, typed, n);
        if (strncmp(k->name, typed, n) == 0 && n >= 2) d = 1;
        if (d < best) {
            best = d;
            name = k->name;
        }
    }
    return best <= (n > 4 ? 2u : 1u) ? name : NULL;
}

#define S_ENV_MAX 96

/* The environment variable that sets k: FEDBUS_ and its name in capitals,
 * '-' as '_' (log-level: FEDBUS_LOG_LEVEL). Returns env. */
static const char *s_env_name(const fb_cfg_key_t *k, char env[S_ENV_MAX])
{
    size_t o = snprintf(env, S_ENV_MAX, "FEDBUS_");
    for (const char *p = k->name; *p && o + 1 < S_ENV_MAX; p++)
        env[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    env[o] = '\0';
    return env;
}

size_t fb_config_from_env(const fb_cfg_key_t *keys, char *out, size_t size)
{
    size_t n = 0, used = 0;
    if (size) out[0] = '\0';
    for (const fb_cfg_key_t *k = keys; k->name; k++) {
        char env[S_ENV_MAX];
        if (!getenv(s_env_name(k, env))) continue;
        if (used < size) {
            int w = snprintf(out + used, size - used, "%s%s", n ? ", " : "", env);
            if (w > 0 && (size_t)w < size - used) used += (size_t)w;
            else out[used] = '\0', used = size; /* whole names only: the rest is counted, not named */
        }
        n++;
    }
    return n;
}

int fb_config_load(const fb_cfg_key_t *keys, void *target, int argc, char **argv, int *nargs,
                   char *err, size_t err_size)
{
    const char *config_file = NULL;
    int npos = 0;

    for (const fb_cfg_key_t *k = keys; k->name; k++)
        if (s_set(k, target, k->def, err, err_size) != 0) return -1;

    /* First pass: --help and --config, and collect positional arguments. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
        if (!strncmp(argv[i], "--config=", 9)) config_file = argv[i] + 9;
        else if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                snprintf(err, err_size, "--config needs a file name");
                return -1;
            }
            config_file = argv[++i];
        }
    }
    if (config_file) {
        s_ini_ctx_t c = {keys, target, err, err_size, 0};
        int rc = ini_parse(config_file, s_ini_handler, &c);
        if (c.failed) return -1;
        if (rc < 0) {
            snprintf(err, err_size, "cannot read config file %s", config_file);
            return -1;
        }
        if (rc > 0) {
            snprintf(err, err_size, "%s:%d: not a 'key = value' line", config_file, rc);
            return -1;
        }
    }
    for (const fb_cfg_key_t *k = keys; k->name; k++) {
        char env[S_ENV_MAX];
        const char *v = getenv(s_env_name(k, env));
        if (v && s_set(k, target, v, err, err_size) != 0) return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            while (++i < argc) argv[1 + npos++] = argv[i];
            break;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            argv[1 + npos++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--config")) {
            i++; /* its file name was read in the first pass */
            continue;
        }
        if (!strncmp(a, "--config=", 9)) continue;
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const fb_cfg_key_t *k = s_find(keys, name, nlen);
        if (!k) {
            const char *near = s_nearest(keys, name, nlen);
            snprintf(err, err_size, "unknown option --%.*s%s%s%s (see --help)", (int)nlen, name,
                     near ? ": did you mean --" : "", near ? near : "", near ? "?" : "");
            return -1;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (k->type == FB_CFG_BOOL) value = "true";
            else if (i + 1 < argc) value = argv[++i];
            else {
                snprintf(err, err_size, "--%s needs a value", k->name);
                return -1;
            }
        }
        if (s_set(k, target, value, err, err_size) != 0) return -1;
    }
    *nargs = npos;
    return 0;
}
