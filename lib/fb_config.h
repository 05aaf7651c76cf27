/* fb_config.h — declarative configuration: one table of keys per program.
 *
 * Each key has a type, a default, bounds and a help line. Values come from,
 * in rising priority: the default, the INI file named by --config (keys may
 * sit in any section), the environment (FEDBUS_<KEY> upper-cased, '-' as
 * '_'), and the command line (--key=value or --key value). --help prints the
 * table. */
#ifndef FB_CONFIG_H
#define FB_CONFIG_H

#include <stddef.h>
#include <stdio.h>

/* FB_CFG_DURATION: a long long of milliseconds, written as a number and a
 * unit (ms, s, m, h, d: "30d", "12h", "90m", "45s", "250ms") or 0; min and
 * max bound it in milliseconds. */
typedef enum { FB_CFG_STR, FB_CFG_INT, FB_CFG_BOOL, FB_CFG_DURATION } fb_cfg_type_t;

typedef struct {
    const char *name;  /* as in the file and on the command line, e.g. "ingest" */
    fb_cfg_type_t type;
    size_t offset;     /* offsetof(target struct, field) */
    size_t size;       /* FB_CFG_STR: size of the char array */
    const char *def;   /* default, as text; NULL = empty */
    long long min, max; /* FB_CFG_INT bounds; FB_CFG_DURATION's, in ms */
    const char *help;
} fb_cfg_key_t;

#define FB_CFG_END {NULL, FB_CFG_STR, 0, 0, NULL, 0, 0, NULL}

/* Loads target from the sources above. Non-option arguments are moved, in
 * order, to the front of argv[1..]; *nargs receives how many. Returns 0, 1
 * when --help or -h was asked (nothing is printed: the caller prints
 * fb_config_help()), or -1 with a one-line reason in err (for a mistyped
 * option, the nearest key: "unknown option --nod: did you mean --node?
 * (see --help)"). */
int fb_config_load(const fb_cfg_key_t *keys, void *target, int argc, char **argv, int *nargs,
                   char *err, size_t err_size);

/* Names the environment variables that set keys (the FEDBUS_ ones that
 * fb_config_load() reads), comma-separated, into out (the names that fit
 * in size); returns how many are set. A daemon logs them at start: a variable exported for
 * one program (FEDBUS_KEYS for the CLI) also reaches every other one
 * started from that shell. */
size_t fb_config_from_env(const fb_cfg_key_t *keys, char *out, size_t size);

/* Sets one key from text; returns 0 or -1 with the reason in err. */
int fb_config_set(const fb_cfg_key_t *keys, void *target, const char *name, const char *value,
                  char *err, size_t err_size);

/* Parses a duration as FB_CFG_DURATION reads it into *ms; returns 0, or -1
 * for text that is not one (an unknown unit, a number without a unit other
 * than 0, an overflow). */
int fb_config_duration(const char *text, long long *ms);

/* The edit distance between a and the first n bytes of b (strings under
 * 63 bytes; longer ones: 99). */
size_t fb_config_distance(const char *a, const char *b, size_t n);

/* Prints "  --name=VALUE   help (default: x)" for every key. */
void fb_config_help(const fb_cfg_key_t *keys, FILE *out);

#endif
