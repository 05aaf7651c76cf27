/* fb_daemon.h — the start-up every fedbus daemon shares: flags and config, log level, signals.
 *
 * A daemon's main() describes itself in an fb_daemon_t, calls
 * fb_daemon_start(), and then only makes, runs and destroys its object:
 *
 *   int rc = fb_daemon_start(&s_daemon, argc, argv, &cfg, &stop);
 *   if (rc != FB_DAEMON_RUN) return rc;
 *   ... new(&cfg), run(..., stop), destroy ... */
#ifndef FB_DAEMON_H
#define FB_DAEMON_H

#include "fb_config.h"

#include <signal.h>
#include <stddef.h>

/* What fb_daemon_start() returns when the daemon should go on and run. */
#define FB_DAEMON_RUN (-1)

typedef struct {
    const char *program;       /* "fedbus-broker": begins every message */
    const char *usage;         /* --help: the text before the table of keys */
    const char *usage_tail;    /* --help: the text after it; NULL: none */
    const fb_cfg_key_t *keys;  /* the daemon's configuration table */
    size_t log_level_offset;   /* offsetof(its config struct, its log-level string) */
    const char *component;     /* the component name on every log line */
    /* Checks what the table cannot (NULL: nothing to check). Returns 0, and
     * may write another component name (up to component_size bytes) for
     * the log; or -1 with a one-line reason in err. */
    int (*check)(const void *cfg, char *component, size_t component_size, char *err, size_t err_size);
} fb_daemon_t;

/* Loads the configuration into cfg (which the caller has zeroed) from
 * defaults, --config FILE, the environment and the flags of argv, as
 * d->keys say; prints the usage and the keys for --help; checks the log
 * level and d->check; starts the log; and makes SIGINT and SIGTERM set the
 * flag it points *stop to (SIGPIPE is ignored: a closed peer is an error
 * to handle, not a death). Returns FB_DAEMON_RUN when the daemon should
 * run, else what main() returns: 0 after --help, 2 after a bad flag, value
 * or check (the reason printed on stderr, after "program: "). */
int fb_daemon_start(const fb_daemon_t *d, int argc, char **argv, void *cfg, volatile sig_atomic_t **stop);

#endif
